/* Base64 decoding, 16 characters at a time with SSSE3 byte shuffles (32 with AVX2) (the method of Muła and Lemire,
 * "Faster Base64 Encoding and Decoding Using AVX2 Instructions", 2018): classify each character by its
 * two nibbles through two 16-entry tables, turn it into its 6-bit value with a third, then pack four
 * 6-bit values into three bytes with two multiply-adds and a shuffle. FormiCore's Swift decoder does
 * the tail, the padding and the error messages; it is also the only decoder off x86-64. */
#include "formi_kernels.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

__attribute__((target("ssse3")))
static size_t decode_ssse3(const uint8_t *in, size_t n, uint8_t *out) {
    /* A character is invalid when the bit its low nibble selects in `invalid_for_low` is also the class
     * bit of its high nibble in `class_of_high`. Classes: 0x01 high nibble 2 ('+' and '/' only), 0x02
     * high 3 (digits, low 0-9), 0x04 high 4 and 6 (letters, low 1-F), 0x08 high 5 and 7 (letters, low
     * 0-A), 0x10 every other high nibble (never valid). */
    const __m128i invalid_for_low = _mm_setr_epi8(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                                  0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A);
    const __m128i class_of_high = _mm_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08,
                                                0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
    /* What to add to a valid character to get its value, by high nibble; '/' (high 2) is moved to
     * index 1 so that it can differ from '+'. */
    const __m128i offset_by_high = _mm_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m128i nibble = _mm_set1_epi8(0x0F), slash = _mm_set1_epi8('/');
    const __m128i pair_weights = _mm_set1_epi32(0x01400140);  /* a * 64 + b, c * 64 + d */
    const __m128i quad_weights = _mm_set1_epi32(0x00011000);  /* ab * 4096 + cd */
    const __m128i to_bytes = _mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    size_t done = 0;
    while (n - done >= 16) {
        __m128i chars = _mm_loadu_si128((const __m128i *)(const void *)(in + done));
        __m128i high = _mm_and_si128(_mm_srli_epi32(chars, 4), nibble);
        __m128i low = _mm_and_si128(chars, nibble);
        __m128i bad = _mm_and_si128(_mm_shuffle_epi8(invalid_for_low, low), _mm_shuffle_epi8(class_of_high, high));
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(bad, _mm_setzero_si128())) != 0xFFFF) break;
        __m128i offsets = _mm_shuffle_epi8(offset_by_high, _mm_add_epi8(_mm_cmpeq_epi8(chars, slash), high));
        __m128i values = _mm_add_epi8(chars, offsets);
        __m128i packed = _mm_madd_epi16(_mm_maddubs_epi16(values, pair_weights), quad_weights);
        __m128i bytes = _mm_shuffle_epi8(packed, to_bytes);
        uint8_t *target = out + done / 4 * 3;
        _mm_storel_epi64((__m128i *)(void *)target, bytes);
        uint32_t last = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(bytes, 8));
        memcpy(target + 8, &last, 4);
        done += 16;
    }
    return done;
}

/* The same as decode_ssse3, 32 characters at a time; each 128-bit lane packs its 12 bytes, then a lane
 * permute puts the two runs of 12 together. */
__attribute__((target("avx2")))
static size_t decode_avx2(const uint8_t *in, size_t n, uint8_t *out) {
    const __m256i invalid_for_low = _mm256_setr_epi8(
        0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A,
        0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A);
    const __m256i class_of_high = _mm256_setr_epi8(
        0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
        0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
    const __m256i offset_by_high = _mm256_setr_epi8(
        0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i nibble = _mm256_set1_epi8(0x0F), slash = _mm256_set1_epi8('/');
    const __m256i pair_weights = _mm256_set1_epi32(0x01400140), quad_weights = _mm256_set1_epi32(0x00011000);
    const __m256i to_bytes = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
                                              2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    const __m256i join_lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
    size_t done = 0;
    while (n - done >= 32) {
        __m256i chars = _mm256_loadu_si256((const __m256i *)(const void *)(in + done));
        __m256i high = _mm256_and_si256(_mm256_srli_epi32(chars, 4), nibble);
        __m256i low = _mm256_and_si256(chars, nibble);
        __m256i bad = _mm256_and_si256(_mm256_shuffle_epi8(invalid_for_low, low), _mm256_shuffle_epi8(class_of_high, high));
        if (!_mm256_testz_si256(bad, bad)) break;
        __m256i offsets = _mm256_shuffle_epi8(offset_by_high, _mm256_add_epi8(_mm256_cmpeq_epi8(chars, slash), high));
        __m256i values = _mm256_add_epi8(chars, offsets);
        __m256i packed = _mm256_madd_epi16(_mm256_maddubs_epi16(values, pair_weights), quad_weights);
        __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(packed, to_bytes), join_lanes);
        uint8_t *target = out + done / 4 * 3;
        _mm_storeu_si128((__m128i *)(void *)target, _mm256_castsi256_si128(bytes));
        _mm_storel_epi64((__m128i *)(void *)(target + 16), _mm256_extracti128_si256(bytes, 1));
        done += 32;
    }
    /* A last block of 16 (or one the AVX2 loop stopped at, to be diagnosed by the caller). */
    return done + decode_ssse3(in + done, n - done, out + done / 4 * 3);
}

static size_t decode_none(const uint8_t *in, size_t n, uint8_t *out) {
    (void)in; (void)n; (void)out;
    return 0;
}

typedef size_t (*decode_fn)(const uint8_t *, size_t, uint8_t *);

/* Chosen on first use; a race only makes two threads choose the same function. */
static decode_fn chosen;

size_t fk_base64_decode_blocks_with(int kernel, const uint8_t *in, size_t n, uint8_t *out) {
    __builtin_cpu_init();
    switch (kernel) {
    case 1: return __builtin_cpu_supports("ssse3") ? decode_ssse3(in, n, out) : 0;
    case 2: return __builtin_cpu_supports("avx2") ? decode_avx2(in, n, out) : 0;
    default: return fk_base64_decode_blocks(in, n, out);
    }
}

size_t fk_base64_decode_blocks(const uint8_t *in, size_t n, uint8_t *out) {
    decode_fn decode = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
    if (decode == NULL) {
        __builtin_cpu_init();
        decode = __builtin_cpu_supports("avx2") ? decode_avx2 : __builtin_cpu_supports("ssse3") ? decode_ssse3 : decode_none;
        __atomic_store_n(&chosen, decode, __ATOMIC_RELAXED);
    }
    return decode(in, n, out);
}

#else

size_t fk_base64_decode_blocks(const uint8_t *in, size_t n, uint8_t *out) {
    (void)in; (void)n; (void)out;
    return 0;
}

size_t fk_base64_decode_blocks_with(int kernel, const uint8_t *in, size_t n, uint8_t *out) {
    (void)kernel;
    return fk_base64_decode_blocks(in, n, out);
}

#endif
