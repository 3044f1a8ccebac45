/* Byte kernels for FormiCore's hot loops that need SIMD: the JSON reader's string scan and base64
 * decoding. Swift cannot express these well (its SIMD comparisons compile to per-lane loops and it has no
 * byte shuffle), so they live here, small and self-contained. Both are pure functions over the bytes
 * they are given: they never read or write outside [p, p + n) and [out, out + 3 * (n / 4)).
 *
 * Names start with fk_ to stay out of libformi's exports (formi_*). fk_json_plain_run is static inline
 * so that Swift inlines it into the parser; the base64 kernel is chosen once at run time (SSSE3 and AVX2
 * are not part of the x86-64 baseline). */
#ifndef FORMI_KERNELS_H
#define FORMI_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__SSE2__)
/* One bit per byte of `v` that a JSON string cannot hold as it is: '"', '\\', a control character, or a
 * byte of 0x80 and above (compared as signed bytes, those are negative, so "less than 0x20" catches
 * them with the controls). */
static inline unsigned fk_json_special_mask(__m128i v) {
    __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"')), backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    __m128i low = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), low));
}
#endif

/* The length of the leading run of bytes that a JSON string holds as they are: printable ASCII
 * (0x20 to 0x7F) other than '"' and '\\'. The run ends at a quote, a backslash, a control character or
 * the first byte of a multibyte UTF-8 sequence, which the parser then looks at; or at n. */
static inline size_t fk_json_plain_run(const uint8_t *p, size_t n) {
    size_t i = 0;
#if defined(__SSE2__)
    if (n >= 16) {
        for (; i + 16 <= n; i += 16) {
            unsigned mask = fk_json_special_mask(_mm_loadu_si128((const __m128i *)(const void *)(p + i)));
            if (mask != 0) return i + (size_t)__builtin_ctz(mask);
        }
        if (i == n) return n;
        /* The last bytes: a block that overlaps the one before rather than reading past n. */
        unsigned mask = fk_json_special_mask(_mm_loadu_si128((const __m128i *)(const void *)(p + n - 16))) >> (16 - (n - i));
        return mask != 0 ? i + (size_t)__builtin_ctz(mask) : n;
    }
#endif
    while (i < n) {
        uint8_t byte = p[i];
        if (byte < 0x20 || byte >= 0x80 || byte == '"' || byte == '\\') break;
        i++;
    }
    return i;
}

/* Decodes base64 from the start of `in` in blocks of 16 characters while every character of a block is
 * in the standard alphabet (no padding), writing 12 bytes per block to `out`. Returns the number of
 * characters decoded, a multiple of 16; the caller decodes the rest, and diagnoses any bad character,
 * itself. Returns 0 where no SIMD kernel is available. Thread-safe. */
size_t fk_base64_decode_blocks(const uint8_t *in, size_t n, uint8_t *out);

/* One kernel by number, for tests: 0 the one chosen for this CPU, 1 SSSE3, 2 AVX2 (where the CPU lacks
 * it, nothing is decoded: 0). */
size_t fk_base64_decode_blocks_with(int kernel, const uint8_t *in, size_t n, uint8_t *out);

#endif
