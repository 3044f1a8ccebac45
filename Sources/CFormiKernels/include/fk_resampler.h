/* libformi's own streaming resampler for the rates telephony and voice AI use (8, 16, 24, 32 and 48 kHz,
 * every pair): polyphase FIR filters designed offline (scripts/design_resampler.py, the data in
 * resampler_filters.c), float inner products with AVX2 + FMA chosen at run time, SSE2 otherwise.
 *
 * Output frame m is sum_j h_p[j] * x[i - taps + 1 + j] with i = floor(m * down / up), p = m * down mod up:
 * the conversion scipy.signal.upfirdn computes, with zeros before the first input frame. The state is
 * the last taps - 1 input frames and the next output's place in the cycle of `up` outputs, so any
 * chunking of the input gives the same output; nothing resets but fk_fir_reset. The caller owns all
 * memory (the state and its history rows); nothing here allocates. Names start with fk_ (not exported). */
#ifndef FK_RESAMPLER_H
#define FK_RESAMPLER_H

#include <stddef.h>
#include <stdint.h>

/* One direction's filter: `up` phases of `taps` coefficients (a multiple of 8), each phase stored
 * oldest input first. `delay`: the filter's delay in samples at up * in_rate. */
typedef struct fk_fir_filter {
    int32_t in_rate, out_rate, up, down, taps, delay;
    const float *coefs;
} fk_fir_filter;

/* The filter for in_rate -> out_rate, or NULL if there is none (equal rates, or a rate outside the set). */
const fk_fir_filter *fk_fir_find(int in_rate, int out_rate);

/* Input frames converted per pass: bounds the history rows. */
#define FK_FIR_BLOCK 512

typedef struct fk_fir_state {
    const fk_fir_filter *filter;
    float *history;      /* `channels` rows of `stride` floats, 32-byte aligned */
    size_t stride;
    size_t held;         /* frames in each row */
    size_t next;         /* the row index of the newest frame the next output needs */
    int32_t channels;
    int32_t cycle;       /* the next output's place in the cycle of `up` outputs */
    int32_t kernel;      /* 1 SSE2, 2 AVX2 + FMA, 3 portable C */
    uint8_t phase[8];    /* by place in the cycle: the phase, and how far `next` moves after it */
    uint8_t step[8];
    /* The same for a group of four outputs starting at each place: their windows' ends relative to
     * `next`, their phases, how far `next` moves and the place after them. */
    uint8_t group_end[8][4], group_phase[8][4], group_step[8], group_cycle[8];
    /* Doubling with AVX2: each coefficient of the two phases repeated 8 times (NULL otherwise). */
    float *spread;
} fk_fir_state;

/* Floats per history row for `filter` (a multiple of 8). */
size_t fk_fir_row_floats(const fk_fir_filter *filter);

/* Floats the state needs for `channels` channels: the rows, and room for spread coefficients. */
size_t fk_fir_state_floats(const fk_fir_filter *filter, int channels);

/* Sets up `state` over `history` (fk_fir_state_floats floats, 32-byte aligned), channels 1 or 2.
 * kernel 0 chooses the fastest this CPU has; 1, 2 or 3 asks for one. Returns 0, or -1 if the CPU
 * lacks the kernel asked for (state untouched). */
int fk_fir_init(fk_fir_state *state, const fk_fir_filter *filter, float *history, int channels, int kernel);

/* Converts `frames` interleaved frames of `in` (zeros if `in` is NULL) and writes every output frame
 * they complete to `out`; returns how many. `out` must hold frames * up / down + 1 frames. */
size_t fk_fir_process(fk_fir_state *state, const int16_t *in, size_t frames, int16_t *out);

/* Writes exactly `frames` further output frames, feeding zeros as input: the filter's tail. */
size_t fk_fir_drain(fk_fir_state *state, int16_t *out, size_t frames);

/* Forgets the history: the state as fk_fir_init left it. */
void fk_fir_reset(fk_fir_state *state);

#endif
