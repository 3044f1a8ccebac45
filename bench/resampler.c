/* Resampling: libformi through its C ABI against the same speexdsp calls made directly from C, and
 * against soxr (libsoxr, HQ) as a peer, on the same signal fed as 20 ms frames, in one process.
 * Rounds interleave the contenders, so a noisy machine slows all alike; figures are medians of ROUNDS.
 * Then the quality figures of each on the same tones, and the transcoder's full frame path.
 *
 * usage: make bench   (or: cc bench/resampler.c -lformi -lspeexdsp -lsoxr -lm; ./a.out)
 */
#define _POSIX_C_SOURCE 200809L
#include <formi.h>
#include <math.h>
#include <soxr.h>
#include <speex/speex_resampler.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 11
#define SECONDS 10

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, by_value);
    return v[n / 2];
}

static int16_t *speech(int rate, int seconds) {
    const double pi = 3.14159265358979323846;
    int16_t *s = malloc(sizeof *s * (size_t)(rate * seconds));
    unsigned noise = 1;
    for (int i = 0; i < rate * seconds; i++) {
        double t = (double)i / rate, f0 = 140 + 30 * sin(2 * pi * 2 * t), v = 0;
        for (int h = 1; h <= 8 && h * f0 < rate / 2.2; h++) v += sin(2 * pi * f0 * h * t) / h;
        noise = noise * 1103515245u + 12345u;
        s[i] = (int16_t)lrint(6000 * v + (double)((noise >> 16) % 2001) - 1000);
    }
    return s;
}

/* ---- the three contenders, each: feed `n` samples as 20 ms frames, return output samples ---- */

typedef size_t (*run_fn)(void *state, const int16_t *in, size_t n, int in_rate, int16_t *out);

static size_t run_formi(void *state, const int16_t *in, size_t n, int in_rate, int16_t *out) {
    size_t frame = (size_t)in_rate / 50, total = 0, written;
    for (size_t i = 0; i + frame <= n; i += frame) {
        formi_resampler_process(state, in + i, frame, out + total, frame * 6 + 2, &written);
        total += written;
    }
    return total;
}

static size_t run_speex(void *state, const int16_t *in, size_t n, int in_rate, int16_t *out) {
    size_t frame = (size_t)in_rate / 50, total = 0;
    for (size_t i = 0; i + frame <= n; i += frame) {
        spx_uint32_t in_len = (spx_uint32_t)frame, out_len = (spx_uint32_t)(frame * 6 + 2);
        speex_resampler_process_interleaved_int(state, in + i, &in_len, out + total, &out_len);
        total += out_len;
    }
    return total;
}

static size_t run_soxr(void *state, const int16_t *in, size_t n, int in_rate, int16_t *out) {
    size_t frame = (size_t)in_rate / 50, total = 0, done, written;
    for (size_t i = 0; i + frame <= n; i += frame) {
        soxr_process(state, in + i, frame, &done, out + total, frame * 6 + 2, &written);
        total += written;
    }
    return total;
}

/* End of stream for soxr (its own way of draining). */
static size_t flush_soxr(void *state, int16_t *out, size_t cap) {
    size_t written = 0, total = 0;
    do {
        soxr_process(state, NULL, 0, NULL, out + total, cap - total, &written);
        total += written;
    } while (written > 0 && total < cap);
    return total;
}

static soxr_t new_soxr(int in_rate, int out_rate) {
    soxr_io_spec_t io = soxr_io_spec(SOXR_INT16_I, SOXR_INT16_I);
    io.flags |= SOXR_NO_DITHER; /* compare the filters, not soxr's default int16 dither */
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    return soxr_create(in_rate, out_rate, 1, NULL, &io, &q, NULL);
}

/* ---- throughput ---- */

static void throughput(int in_rate, int out_rate, int quality) {
    size_t n = (size_t)in_rate * SECONDS;
    int16_t *in = speech(in_rate, SECONDS), *out = malloc(sizeof *out * (n * 6 + 64));
    double rate[3][ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        formi_resampler *f = formi_resampler_new(1, in_rate, out_rate, quality, NULL);
        SpeexResamplerState *s = speex_resampler_init(1, (spx_uint32_t)in_rate, (spx_uint32_t)out_rate, quality, NULL);
        soxr_t x = new_soxr(in_rate, out_rate);
        double t = now();
        run_formi(f, in, n, in_rate, out);
        rate[0][r] = n / (now() - t) / 1e6;
        t = now();
        run_speex(s, in, n, in_rate, out);
        rate[1][r] = n / (now() - t) / 1e6;
        t = now();
        run_soxr(x, in, n, in_rate, out);
        rate[2][r] = n / (now() - t) / 1e6;
        formi_resampler_free(f);
        speex_resampler_destroy(s);
        soxr_delete(x);
    }
    double a = median(rate[0], ROUNDS), b = median(rate[1], ROUNDS), c = median(rate[2], ROUNDS);
    printf("  %5d -> %5d  Q%-2d  %8.1f  %8.1f  %+7.1f%%  %8.1f\n", in_rate, out_rate, quality, a, b, (b / a - 1) * 100, c);
    free(in);
    free(out);
}

/* The own FIR (the default) beside raw speexdsp quality 5 and soxr HQ. */
static void throughput_fir(int in_rate, int out_rate) {
    size_t n = (size_t)in_rate * SECONDS;
    int16_t *in = speech(in_rate, SECONDS), *out = malloc(sizeof *out * (n * 6 + 64));
    double rate[3][ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        formi_resampler *f = formi_resampler_new(1, in_rate, out_rate, FORMI_RESAMPLER_QUALITY_DEFAULT, NULL);
        SpeexResamplerState *s = speex_resampler_init(1, (spx_uint32_t)in_rate, (spx_uint32_t)out_rate, 5, NULL);
        soxr_t x = new_soxr(in_rate, out_rate);
        double t = now();
        run_formi(f, in, n, in_rate, out);
        rate[0][r] = n / (now() - t) / 1e6;
        t = now();
        run_speex(s, in, n, in_rate, out);
        rate[1][r] = n / (now() - t) / 1e6;
        t = now();
        run_soxr(x, in, n, in_rate, out);
        rate[2][r] = n / (now() - t) / 1e6;
        formi_resampler_free(f);
        speex_resampler_destroy(s);
        soxr_delete(x);
    }
    double a = median(rate[0], ROUNDS), b = median(rate[1], ROUNDS), c = median(rate[2], ROUNDS);
    printf("  %5d -> %5d  %8.1f  %8.1f  %6.1fx  %8.1f\n", in_rate, out_rate, a, b, a / b, c);
    free(in);
    free(out);
}

/* ---- quality: least-squares fit of a tone (amplitude, phase and DC free) ---- */

static double fit_amplitude(const int16_t *s, int n, double freq, int rate) {
    double w = 2 * 3.14159265358979323846 * freq / rate, a[3][4] = {{0}};
    for (int k = 0; k < n; k++) {
        double basis[3] = {sin(w * k), cos(w * k), 1};
        for (int r = 0; r < 3; r++) {
            a[r][3] += basis[r] * s[k];
            for (int c = 0; c < 3; c++) a[r][c] += basis[r] * basis[c];
        }
    }
    for (int col = 0; col < 3; col++)
        for (int row = 0; row < 3; row++)
            if (row != col) {
                double f = a[row][col] / a[col][col];
                for (int c = 0; c < 4; c++) a[row][c] -= f * a[col][c];
            }
    double x = a[0][3] / a[0][0], y = a[1][3] / a[1][1];
    return sqrt(x * x + y * y);
}

static int16_t *tone(double freq, int rate, int n) {
    int16_t *s = malloc(sizeof *s * (size_t)n);
    for (int i = 0; i < n; i++) s[i] = (int16_t)lrint(16384 * sin(2 * 3.14159265358979323846 * freq * i / rate));
    return s;
}

/* Runs a whole signal through one contender (kind 0 libformi at `quality`, 1 soxr HQ), tail included. */
static size_t convert(int kind, int quality, const int16_t *in, size_t n, int in_rate, int out_rate, int16_t *out) {
    size_t total, written = 0;
    if (kind == 0) {
        formi_resampler *f = formi_resampler_new(1, in_rate, out_rate, quality, NULL);
        total = run_formi(f, in, n, in_rate, out);
        formi_resampler_drain(f, out + total, n * 6, &written);
        formi_resampler_free(f);
        return total + written;
    }
    soxr_t x = new_soxr(in_rate, out_rate);
    total = run_soxr(x, in, n, in_rate, out);
    total += flush_soxr(x, out + total, n * 6);
    soxr_delete(x);
    return total;
}

static void quality_row(const char *name, int kind, int quality) {
    int16_t *in = tone(1004, 8000, 8000), *up = malloc(sizeof *up * 60000), *down = malloc(sizeof *down * 60000);
    size_t nu = convert(kind, quality, in, 8000, 8000, 16000, up);
    size_t nd = convert(kind, quality, up, nu, 16000, 8000, down);
    double best = 1e300, signal = 0;
    for (int i = 1000; i < 7000; i++) signal += (double)in[i] * in[i];
    for (int d = 0; d < 400 && (size_t)(7000 + d) < nd; d++) {
        double e = 0;
        for (int i = 1000; i < 7000; i++) e += ((double)down[i + d] - in[i]) * ((double)down[i + d] - in[i]);
        if (e < best) best = e;
    }
    double snr = best > 0 ? 10 * log10(signal / best) : INFINITY;
    free(in);
    in = tone(4200, 16000, 16000);
    nd = convert(kind, quality, in, 16000, 16000, 8000, down);
    double alias = 20 * log10(fit_amplitude(down + 1000, 6000, 3800, 8000) / 16384);
    free(in);
    in = tone(4400, 16000, 16000);  /* the own FIR's stopband edge (it keeps 3.8 kHz, so 4.2 kHz mirrors it) */
    nd = convert(kind, quality, in, 16000, 16000, 8000, down);
    double alias44 = 20 * log10(fit_amplitude(down + 1000, 6000, 3600, 8000) / 16384);
    free(in);
    in = tone(3400, 16000, 16000);
    nd = convert(kind, quality, in, 16000, 16000, 8000, down);
    double gain = 20 * log10(fit_amplitude(down + 1000, 6000, 3400, 8000) / 16384);
    free(in);
    in = tone(3800, 16000, 16000);
    nd = convert(kind, quality, in, 16000, 16000, 8000, down);
    double edge = 20 * log10(fit_amplitude(down + 1000, 6000, 3800, 8000) / 16384);
    /* Held back: output missing after 1 s fed as 20 ms frames, before the end-of-stream flush. */
    free(in);
    in = tone(1000, 16000, 16000);
    size_t streamed;
    if (kind == 0) {
        formi_resampler *f = formi_resampler_new(1, 16000, 8000, quality, NULL);
        streamed = run_formi(f, in, 16000, 16000, down);
        formi_resampler_free(f);
    } else {
        soxr_t x = new_soxr(16000, 8000);
        streamed = run_soxr(x, in, 16000, 16000, down);
        soxr_delete(x);
    }
    char snr_text[16], alias_text[16], alias44_text[16];
    /* A round trip with no error at all is bit-exact; a leak that rounds to nothing is below int16's floor. */
    snprintf(snr_text, sizeof snr_text, isinf(snr) ? "exact" : "%.1f", snr);
    snprintf(alias_text, sizeof alias_text, isinf(alias) ? "< -96" : "%.1f", alias);
    snprintf(alias44_text, sizeof alias44_text, isinf(alias44) ? "< -96" : "%.1f", alias44);
    printf("  %-16s %9s  %9s  %9s  %9.2f  %9.2f  %14.1f\n", name, snr_text, alias_text, alias44_text, gain, edge,
           (8000.0 - (double)streamed) / 8.0);
    free(in);
    free(up);
    free(down);
}

/* ---- the transcoder's frame path ---- */

static void frame_path(void) {
    formi_format twilio = {FORMI_ENCODING_ULAW, 8000, 1}, agent = {FORMI_ENCODING_PCM16LE, 16000, 1};
    formi_transcoder *in = formi_transcoder_new(&twilio, &agent, FORMI_RESAMPLER_QUALITY_DEFAULT, 0, NULL);
    formi_transcoder *outb = formi_transcoder_new(&agent, &twilio, FORMI_RESAMPLER_QUALITY_DEFAULT, 160, NULL);
    int16_t *pcm8 = speech(8000, SECONDS), *pcm16 = speech(16000, SECONDS);
    uint8_t *ulaw = malloc(8000 * SECONDS), buf[4096];
    formi_ulaw_encode(pcm8, 8000 * SECONDS, ulaw, 8000 * SECONDS);
    int frames = 50 * SECONDS;
    double ns_in[ROUNDS], ns_out[ROUNDS];
    size_t len;
    for (int r = 0; r < ROUNDS; r++) {
        double t = now();
        for (int i = 0; i < frames; i++) formi_transcoder_process(in, ulaw + i * 160, 160, buf, sizeof buf, &len);
        ns_in[r] = (now() - t) / frames * 1e9;
        t = now();
        for (int i = 0; i < frames; i++) formi_transcoder_process(outb, pcm16 + i * 320, 640, buf, sizeof buf, &len);
        ns_out[r] = (now() - t) / frames * 1e9;
    }
    double a = median(ns_in, ROUNDS), b = median(ns_out, ROUNDS);
    printf("  mu-law 8k -> PCM16 16k     %6.0f ns per 20 ms frame\n", a);
    printf("  PCM16 16k -> mu-law 8k     %6.0f ns per 20 ms frame (framed to 160 bytes)\n", b);
    printf("  both directions            %6.0f ns: %.0f concurrent calls' audio per core (20 ms / cost)\n", a + b,
           20e6 / (a + b));
    formi_transcoder_free(in);
    formi_transcoder_free(outb);
    free(pcm8);
    free(pcm16);
    free(ulaw);
}

/* `--one formi|speex|none Q IN OUT [SECONDS]`: only that contender (none: just the test signal, the
 * baseline to subtract) over SECONDS (default 2) of audio, for instruction counts under callgrind. */
static int run_one(int argc, char **argv) {
    int quality = atoi(argv[3]), in_rate = atoi(argv[4]), out_rate = atoi(argv[5]), seconds = argc > 6 ? atoi(argv[6]) : 2;
    size_t n = (size_t)in_rate * (size_t)seconds;
    int16_t *in = speech(in_rate, seconds), *out = malloc(sizeof *out * (n * 6 + 64));
    if (strcmp(argv[2], "formi") == 0) {
        formi_resampler *f = formi_resampler_new(1, in_rate, out_rate, quality, NULL);
        run_formi(f, in, n, in_rate, out);
        formi_resampler_free(f);
    } else if (strcmp(argv[2], "speex") == 0) {
        SpeexResamplerState *s = speex_resampler_init(1, (spx_uint32_t)in_rate, (spx_uint32_t)out_rate, quality, NULL);
        run_speex(s, in, n, in_rate, out);
        speex_resampler_destroy(s);
    }
    free(in);
    free(out);
    return 0;
}

int main(int argc, char **argv) {
    if ((argc == 6 || argc == 7) && strcmp(argv[1], "--one") == 0) return run_one(argc, argv);
    printf("resampler throughput: input M samples/s, mono int16, %d s fed as 20 ms frames, median of %d rounds\n",
           SECONDS, ROUNDS);
    printf("  (timings move with where the heap puts speexdsp's buffers, up to 1.7x for raw speexdsp alone;\n"
           "   the instruction counts of scripts/bench-overhead.sh are the exact overhead)\n");
    printf("  %-14s  Q    %8s  %8s  %8s  %8s\n", "rates", "libformi", "speexdsp", "overhead", "soxr HQ");
    int pairs[][2] = {{8000, 16000}, {16000, 8000}, {8000, 24000}, {48000, 16000}};
    int qualities[] = {3, 5, 8};
    for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++)
        for (size_t q = 0; q < sizeof qualities / sizeof qualities[0]; q++) throughput(pairs[p][0], pairs[p][1], qualities[q]);

    printf("\nlibformi's own FIR (the default) beside speexdsp quality 5 and soxr HQ: input M samples/s, the same way\n");
    printf("  %-14s  %8s  %8s  %7s  %8s\n", "rates", "own FIR", "speex Q5", "ratio", "soxr HQ");
    int fir_pairs[][2] = {{8000, 16000}, {16000, 8000}, {8000, 24000}, {24000, 8000}, {16000, 24000}, {24000, 16000},
                          {8000, 48000}, {48000, 8000}, {16000, 48000}, {48000, 16000}};
    for (size_t p = 0; p < sizeof fir_pairs / sizeof fir_pairs[0]; p++) throughput_fir(fir_pairs[p][0], fir_pairs[p][1]);

    printf("\nquality on tones at half full scale, 20 ms frames (dB; held back: ms of output still inside after 1 s)\n");
    printf("  %-16s %9s  %9s  %9s  %9s  %9s  %14s\n", "resampler", "8-16-8 SNR", "alias 4.2k", "alias 4.4k", "gain 3.4k",
           "gain 3.8k", "held back ms");
    char name[32];
    quality_row("libformi FIR*", 0, FORMI_RESAMPLER_QUALITY_DEFAULT);
    for (int q = 3; q <= 10; q += (q < 5 ? 1 : (q < 8 ? 3 : 2))) {
        snprintf(name, sizeof name, "libformi Q%d%s", q, q == FORMI_RESAMPLER_QUALITY_DEFAULT ? "*" : "");
        quality_row(name, 0, q);
    }
    quality_row("soxr HQ", 1, 0);
    printf("  (* the default: libformi's own FIR; Q: speexdsp at that quality. The tests require SNR >= 100,\n"
           "   |gain 3.4k| <= 0.5 and alias 4.2k <= -90 of speexdsp; of the own FIR |gain 3.4k| <= 0.1,\n"
           "   gain 3.8k >= -3 and every tone from 4.4 kHz up <= -90: keeping 3.8 kHz, it mirrors 4.2 kHz onto it)\n");

    printf("\ntranscoder frame path (libformi C ABI), median of %d rounds\n", ROUNDS);
    frame_path();
    return 0;
}
