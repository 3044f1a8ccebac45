/* The streaming polyphase FIR resampler (see fk_resampler.h). Input is converted to float once, into
 * one history row per channel; each output frame is then one inner product of `taps` floats against
 * its phase's coefficients. Outputs go four at a time so that their four sums reduce together (AVX2:
 * two rounds of horizontal adds; SSE2: a 4x4 transpose), and convert to int16 with rounding and
 * saturation in two instructions. The filters (resampler_filters.c) are generated data. */
#include "fk_resampler.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FK_X86 1
#endif

extern const fk_fir_filter fk_fir_filters[];
extern const int fk_fir_filter_count;

const fk_fir_filter *fk_fir_find(int in_rate, int out_rate) {
    for (int i = 0; i < fk_fir_filter_count; i++)
        if (fk_fir_filters[i].in_rate == in_rate && fk_fir_filters[i].out_rate == out_rate) return &fk_fir_filters[i];
    return NULL;
}

size_t fk_fir_row_floats(const fk_fir_filter *filter) {
    /* taps - 1 kept frames, a block, and 8 more that doubling's last lanes may read (and drop). */
    return ((size_t)filter->taps - 1 + FK_FIR_BLOCK + 8 + 7) / 8 * 8;
}

size_t fk_fir_state_floats(const fk_fir_filter *filter, int channels) {
    size_t spread = filter->up == 2 && filter->down == 1 ? 2 * (size_t)filter->taps * 8 : 0;
    return (size_t)channels * fk_fir_row_floats(filter) + spread;
}

static int kernel_supported(int kernel) {
#if FK_X86
    __builtin_cpu_init();
    if (kernel == 2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (kernel == 1) return __builtin_cpu_supports("sse2");
#endif
    return kernel == 3;
}

int fk_fir_init(fk_fir_state *state, const fk_fir_filter *filter, float *history, int channels, int kernel) {
    if (kernel == 0) kernel = kernel_supported(2) ? 2 : kernel_supported(1) ? 1 : 3;
    if (!kernel_supported(kernel) || channels < 1 || channels > 2 || filter->up > 8) return -1;
    state->filter = filter;
    state->history = history;
    state->stride = fk_fir_row_floats(filter);
    state->channels = channels;
    state->kernel = kernel;
    memset(history, 0, sizeof(float) * fk_fir_state_floats(filter, channels));
    state->spread = NULL;
    if (kernel == 2 && filter->up == 2 && filter->down == 1) {
        state->spread = history + (size_t)channels * state->stride;
        for (size_t i = 0; i < 2 * (size_t)filter->taps; i++)
            for (int lane = 0; lane < 8; lane++) state->spread[i * 8 + (size_t)lane] = filter->coefs[i];
    }
    for (int k = 0; k < filter->up; k++) {
        state->phase[k] = (uint8_t)(k * filter->down % filter->up);
        state->step[k] = (uint8_t)((k + 1) * filter->down / filter->up - k * filter->down / filter->up);
    }
    for (int k = 0; k < filter->up; k++) {
        int at = 0, place = k;
        for (int j = 0; j < 4; j++) {
            state->group_end[k][j] = (uint8_t)at;
            state->group_phase[k][j] = state->phase[place];
            at += state->step[place];
            place = place + 1 == filter->up ? 0 : place + 1;
        }
        state->group_step[k] = (uint8_t)at;
        state->group_cycle[k] = (uint8_t)place;
    }
    fk_fir_reset(state);
    return 0;
}

void fk_fir_reset(fk_fir_state *state) {
    size_t taps = (size_t)state->filter->taps;
    for (int c = 0; c < state->channels; c++) memset(state->history + (size_t)c * state->stride, 0, sizeof(float) * (taps - 1));
    state->held = taps - 1;
    state->next = taps - 1;
    state->cycle = 0;
}

/* ---- inner products: four outputs at once ----
 * Each kernel computes outputs r[j] = sum_t x_j[t] * h_j[t] for the four windows x_j and phases h_j of
 * the next group, reduces the four sums together and converts them with rounding and saturation.
 * Decimation (up == 1) gets its own loop: the four outputs share one phase, so each coefficient vector
 * is loaded once for four products. Doubling (up 2, down 1) with AVX2 goes the other way round (below). */

static inline int16_t to_int16(float v) {
    long r = lrintf(v);
    return (int16_t)(r > 32767 ? 32767 : r < -32768 ? -32768 : r);
}

#define FK_GENERIC 0
#define FK_SHARED_PHASE 1

static inline void dot4_c(const float *x0, const float *x1, const float *x2, const float *x3, const float *h0,
                          const float *h1, const float *h2, const float *h3, size_t taps, int16_t *r) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t t = 0; t < taps; t++) {
        s0 += x0[t] * h0[t];
        s1 += x1[t] * h1[t];
        s2 += x2[t] * h2[t];
        s3 += x3[t] * h3[t];
    }
    r[0] = to_int16(s0), r[1] = to_int16(s1), r[2] = to_int16(s2), r[3] = to_int16(s3);
}

#if FK_X86
static inline __attribute__((always_inline))
void dot4_sse2(const float *x0, const float *x1, const float *x2, const float *x3, const float *h0,
               const float *h1, const float *h2, const float *h3, size_t taps, int16_t *r) {
    __m128 a0 = _mm_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    _Pragma("GCC unroll 8")
    for (size_t t = 0; t < taps; t += 4) {
        a0 = _mm_add_ps(a0, _mm_mul_ps(_mm_loadu_ps(x0 + t), _mm_load_ps(h0 + t)));
        a1 = _mm_add_ps(a1, _mm_mul_ps(_mm_loadu_ps(x1 + t), _mm_load_ps(h1 + t)));
        a2 = _mm_add_ps(a2, _mm_mul_ps(_mm_loadu_ps(x2 + t), _mm_load_ps(h2 + t)));
        a3 = _mm_add_ps(a3, _mm_mul_ps(_mm_loadu_ps(x3 + t), _mm_load_ps(h3 + t)));
    }
    _MM_TRANSPOSE4_PS(a0, a1, a2, a3);
    __m128i v = _mm_cvtps_epi32(_mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)));
    _mm_storel_epi64((__m128i *)(void *)r, _mm_packs_epi32(v, v));
}

static inline __attribute__((always_inline, target("avx2,fma")))
void finish_avx2(__m256 a0, __m256 a1, __m256 a2, __m256 a3, int16_t *r) {
    __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    __m128i v = _mm_cvtps_epi32(_mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1)));
    _mm_storel_epi64((__m128i *)(void *)r, _mm_packs_epi32(v, v));
}

static inline __attribute__((always_inline, target("avx2,fma")))
void dot4_avx2(const float *x0, const float *x1, const float *x2, const float *x3, const float *h0,
               const float *h1, const float *h2, const float *h3, size_t taps, int16_t *r) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    _Pragma("GCC unroll 12")
    for (size_t t = 0; t < taps; t += 8) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x0 + t), _mm256_load_ps(h0 + t), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x1 + t), _mm256_load_ps(h1 + t), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x2 + t), _mm256_load_ps(h2 + t), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x3 + t), _mm256_load_ps(h3 + t), a3);
    }
    finish_avx2(a0, a1, a2, a3, r);
}

/* Decimation: one phase h for all four windows. */
static inline __attribute__((always_inline, target("avx2,fma")))
void dot4_avx2_shared_phase(const float *x0, const float *x1, const float *x2, const float *x3, const float *h,
                            const float *h1, const float *h2, const float *h3, size_t taps, int16_t *r) {
    (void)h1, (void)h2, (void)h3;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    _Pragma("GCC unroll 12")
    for (size_t t = 0; t < taps; t += 8) {
        __m256 c = _mm256_load_ps(h + t);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x0 + t), c, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x1 + t), c, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x2 + t), c, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x3 + t), c, a3);
    }
    finish_avx2(a0, a1, a2, a3, r);
}

#endif

/* The group's four windows (relative to the row at `next`) and phases, by shape. */
#define FK_GROUP(SHAPE)                                                                                         \
    size_t e0, e1, e2, e3;                                                                                       \
    const float *h0, *h1, *h2, *h3;                                                                              \
    if (SHAPE == FK_SHARED_PHASE) {                                                                       \
        e0 = 0, e1 = down, e2 = 2 * down, e3 = 3 * down, h0 = h1 = h2 = h3 = coefs;                               \
    } else {                                                                                                     \
        const uint8_t *end = s->group_end[cycle], *phase = s->group_phase[cycle];                               \
        e0 = end[0], e1 = end[1], e2 = end[2], e3 = end[3];                                                      \
        h0 = coefs + phase[0] * taps, h1 = coefs + phase[1] * taps;                                             \
        h2 = coefs + phase[2] * taps, h3 = coefs + phase[3] * taps;                                             \
    }

/* Writes up to `limit` output frames whose windows lie in the rows; returns how many. Whole groups of
 * four go through DOT4; the last few one at a time, each as four identical outputs through the same
 * DOT4, so that its value never depends on the chunking. Instantiated per kernel, shape and (for the
 * common lengths, so that the compiler unrolls the inner products whole) number of taps. */
#define FK_EMIT_BODY(DOT4, SHAPE, TAPS)                                                                         \
    const fk_fir_filter *f = s->filter;                                                                         \
    const size_t taps = (TAPS), stride = s->stride, down = (size_t)f->down;                                    \
    size_t next = s->next, held = s->held, written = 0;                                                        \
    int cycle = s->cycle;                                                                                        \
    const int channels = s->channels;                                                                            \
    const float *coefs = f->coefs;                                                                               \
    int16_t r[4];                                                                                                \
    while (limit - written >= 4) {                                                                               \
        FK_GROUP(SHAPE)                                                                                          \
        if (next + e3 >= held) break;                                                                            \
        const float *row = s->history + next + 1 - taps;                                                        \
        if (channels == 1) {                                                                                     \
            DOT4(row + e0, row + e1, row + e2, row + e3, h0, h1, h2, h3, taps, out + written);                   \
        } else {                                                                                                 \
            for (int c = 0; c < channels; c++, row += stride) {                                                  \
                DOT4(row + e0, row + e1, row + e2, row + e3, h0, h1, h2, h3, taps, r);                           \
                for (int j = 0; j < 4; j++) out[(written + (size_t)j) * 2 + (size_t)c] = r[j];                   \
            }                                                                                                    \
        }                                                                                                        \
        written += 4;                                                                                            \
        if (SHAPE == FK_SHARED_PHASE) next += 4 * down;                                                     \
        else next += s->group_step[cycle], cycle = s->group_cycle[cycle];                                        \
    }                                                                                                            \
    while (written < limit && next < held) {                                                                     \
        const float *h = coefs + s->phase[cycle] * taps;                                                        \
        const float *row = s->history + next + 1 - taps;                                                        \
        for (int c = 0; c < channels; c++, row += stride) {                                                      \
            DOT4(row, row, row, row, h, h, h, h, taps, r);                                                      \
            out[written * (size_t)channels + (size_t)c] = r[0];                                                  \
        }                                                                                                        \
        written++;                                                                                               \
        next += s->step[cycle];                                                                                  \
        cycle = cycle + 1 == f->up ? 0 : cycle + 1;                                                              \
    }                                                                                                            \
    s->next = next;                                                                                              \
    s->cycle = cycle;                                                                                            \
    return written;

#define FK_AVX2 __attribute__((target("avx2,fma")))

static size_t emit_c(fk_fir_state *s, int16_t *out, size_t limit) { FK_EMIT_BODY(dot4_c, FK_GENERIC, (size_t)f->taps) }

#if FK_X86
static size_t emit_sse2(fk_fir_state *s, int16_t *out, size_t limit) { FK_EMIT_BODY(dot4_sse2, FK_GENERIC, (size_t)f->taps) }
FK_AVX2 static size_t emit_avx2(fk_fir_state *s, int16_t *out, size_t limit) { FK_EMIT_BODY(dot4_avx2, FK_GENERIC, (size_t)f->taps) }
FK_AVX2 static size_t emit_avx2_48(fk_fir_state *s, int16_t *out, size_t limit) { FK_EMIT_BODY(dot4_avx2, FK_GENERIC, 48) }
FK_AVX2 static size_t emit_avx2_56(fk_fir_state *s, int16_t *out, size_t limit) { FK_EMIT_BODY(dot4_avx2, FK_GENERIC, 56) }
FK_AVX2 static size_t emit_avx2_88(fk_fir_state *s, int16_t *out, size_t limit) { FK_EMIT_BODY(dot4_avx2, FK_GENERIC, 88) }
FK_AVX2 static size_t emit_avx2_decimate(fk_fir_state *s, int16_t *out, size_t limit) {
    FK_EMIT_BODY(dot4_avx2_shared_phase, FK_SHARED_PHASE, (size_t)f->taps)
}
FK_AVX2 static size_t emit_avx2_decimate_96(fk_fir_state *s, int16_t *out, size_t limit) {
    FK_EMIT_BODY(dot4_avx2_shared_phase, FK_SHARED_PHASE, 96)
}
#endif

#if FK_X86
/* Doubling, the other way round: eight consecutive windows in the lanes of one vector, each input vector
 * loaded once for both phases against coefficients spread across the lanes, then the two phases'
 * outputs interleaved. Every output, whichever lane it falls in, is the same sequence of FMAs over its
 * taps, so a partial block at the end of a chunk gives the same samples as a whole one. */
static inline __attribute__((always_inline, target("avx2,fma")))
size_t double_spread_avx2(fk_fir_state *s, int16_t *out, size_t limit, const size_t taps) {
    size_t next = s->next, held = s->held, written = 0;
    const size_t stride = s->stride, channels = (size_t)s->channels;
    const float *spread0 = s->spread, *spread1 = s->spread + taps * 8;
    while (next < held && limit - written >= 2) {
        size_t count = held - next < 8 ? held - next : 8;
        if (count > (limit - written) / 2) count = (limit - written) / 2;
        const float *x = s->history + next + 1 - taps;
        for (size_t c = 0; c < channels; c++, x += stride) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
            size_t t = 0;
            _Pragma("GCC unroll 24")
            for (; t + 2 <= taps; t += 2) {  /* two chains per phase for latency */
                __m256 u = _mm256_loadu_ps(x + t), v = _mm256_loadu_ps(x + t + 1);
                a0 = _mm256_fmadd_ps(u, _mm256_load_ps(spread0 + t * 8), a0);
                a1 = _mm256_fmadd_ps(u, _mm256_load_ps(spread1 + t * 8), a1);
                b0 = _mm256_fmadd_ps(v, _mm256_load_ps(spread0 + t * 8 + 8), b0);
                b1 = _mm256_fmadd_ps(v, _mm256_load_ps(spread1 + t * 8 + 8), b1);
            }
            a0 = _mm256_add_ps(a0, b0);
            a1 = _mm256_add_ps(a1, b1);
            __m256 lo = _mm256_unpacklo_ps(a0, a1), hi = _mm256_unpackhi_ps(a0, a1);
            __m256i first = _mm256_cvtps_epi32(_mm256_permute2f128_ps(lo, hi, 0x20));
            __m256i second = _mm256_cvtps_epi32(_mm256_permute2f128_ps(lo, hi, 0x31));
            __m256i packed = _mm256_permute4x64_epi64(_mm256_packs_epi32(first, second), 0xD8);
            if (channels == 1 && count == 8) {
                _mm256_storeu_si256((__m256i *)(void *)(out + written), packed);
            } else {
                int16_t r[16];
                _mm256_storeu_si256((__m256i *)(void *)r, packed);
                for (size_t j = 0; j < 2 * count; j++) out[(written + j) * channels + c] = r[j];
            }
        }
        written += 2 * count;
        next += count;
    }
    s->next = next;
    /* A drain that ends between a window's two outputs: the last one alone (then it resets). */
    if (written < limit && next < held) written += emit_avx2(s, out + written * channels, limit - written);
    return written;
}

FK_AVX2 static size_t emit_avx2_spread_48(fk_fir_state *s, int16_t *out, size_t limit) { return double_spread_avx2(s, out, limit, 48); }
FK_AVX2 static size_t emit_avx2_spread(fk_fir_state *s, int16_t *out, size_t limit) {
    return double_spread_avx2(s, out, limit, (size_t)s->filter->taps);
}
#endif

static size_t emit(fk_fir_state *s, int16_t *out, size_t limit) {
#if FK_X86
    if (s->kernel == 2) {
        int taps = s->filter->taps;
        if (s->filter->up == 1) return taps == 96 ? emit_avx2_decimate_96(s, out, limit) : emit_avx2_decimate(s, out, limit);
        /* Doubling's groups start on phase 0 (a drain may stop between the two outputs of a window). */
        if (s->spread != NULL && s->cycle == 0)
            return taps == 48 ? emit_avx2_spread_48(s, out, limit) : emit_avx2_spread(s, out, limit);
        switch (taps) {
        case 48: return emit_avx2_48(s, out, limit);
        case 56: return emit_avx2_56(s, out, limit);
        case 88: return emit_avx2_88(s, out, limit);
        default: return emit_avx2(s, out, limit);
        }
    }
    if (s->kernel == 1) return emit_sse2(s, out, limit);
#endif
    return emit_c(s, out, limit);
}

/* Appends `frames` (at most what the rows have room for) converted to float; zeros if `in` is NULL. */
static void append(fk_fir_state *s, const int16_t *in, size_t frames) {
    for (int c = 0; c < s->channels; c++) {
        float *row = s->history + (size_t)c * s->stride + s->held;
        if (in == NULL) {
            memset(row, 0, sizeof(float) * frames);
        } else if (s->channels == 1) {
            for (size_t i = 0; i < frames; i++) row[i] = (float)in[i];
        } else {
            for (size_t i = 0; i < frames; i++) row[i] = (float)in[2 * i + (size_t)c];
        }
    }
    s->held += frames;
}

/* Drops the frames no future output needs, keeping the last taps - 1 before `next`. */
static void compact(fk_fir_state *s) {
    size_t keep_from = s->next + 1 - (size_t)s->filter->taps;
    if (keep_from == 0) return;
    size_t kept = s->held > keep_from ? s->held - keep_from : 0;
    for (int c = 0; c < s->channels; c++) {
        float *row = s->history + (size_t)c * s->stride;
        memmove(row, row + keep_from, sizeof(float) * kept);
    }
    s->held = kept;
    s->next -= keep_from;
}

size_t fk_fir_process(fk_fir_state *s, const int16_t *in, size_t frames, int16_t *out) {
    size_t written = 0;
    while (frames > 0) {
        size_t n = frames < FK_FIR_BLOCK ? frames : FK_FIR_BLOCK;
        append(s, in, n);
        if (in != NULL) in += n * (size_t)s->channels;
        frames -= n;
        written += emit(s, out + written * (size_t)s->channels, (size_t)-1);
        compact(s);
    }
    return written;
}

size_t fk_fir_drain(fk_fir_state *s, int16_t *out, size_t frames) {
    size_t written = 0;
    while (written < frames) {
        /* Zeros enough for the outputs still owed (and no more than a block). */
        size_t owed = frames - written;
        size_t need = owed * (size_t)s->filter->down / (size_t)s->filter->up + 1 + (s->next >= s->held ? s->next - s->held : 0);
        append(s, NULL, need < FK_FIR_BLOCK ? need : FK_FIR_BLOCK);
        written += emit(s, out + written * (size_t)s->channels, owed);
        compact(s);
    }
    return written;
}
