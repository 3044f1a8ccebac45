/* A sample call through libformi: what a Twilio media stream does to a caller's voice, frame by frame.
 *
 * The caller (synthesised: a voiced "utterance" with a 120 Hz pitch and moving formants, then a DTMF
 * "5") speaks for 3 s at 8 kHz. Each 20 ms frame takes the provider's wire path, PCM -> mu-law ->
 * base64 -> a Twilio `media` message, and the agent side's path back, base64 -> mu-law -> PCM.
 * The program prints the first messages, then what the call cost and how faithful the audio stayed.
 *
 * Build: cc sample_call.c $(pkg-config --cflags --libs formi) -lm     (or: make demo)
 */
#define _POSIX_C_SOURCE 200809L
#include <formi.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RATE 8000
#define FRAME 160 /* 20 ms at 8 kHz */
#define SECONDS 3
#define SAMPLES (RATE * SECONDS)

static int16_t caller[SAMPLES], heard[SAMPLES];

static void synthesise_caller(void) {
    const double pi = 3.14159265358979323846;
    for (int i = 0; i < SAMPLES; i++) {
        double t = (double)i / RATE, v = 0;
        if (t < 2.2) { /* voiced speech: harmonics of a gliding pitch, shaped by two moving formants */
            double f0 = 120 + 15 * sin(2 * pi * 1.3 * t);
            double f1 = 500 + 250 * sin(2 * pi * 0.9 * t), f2 = 1500 + 600 * sin(2 * pi * 0.6 * t);
            for (int h = 1; h * f0 < 3400; h++) {
                double f = h * f0;
                double gain = 1 / (1 + pow((f - f1) / 120, 2)) + 0.5 / (1 + pow((f - f2) / 200, 2));
                v += gain * sin(2 * pi * f * t) / h;
            }
            v *= 6000 * (0.6 + 0.4 * sin(2 * pi * 2.5 * t)) * fmin(1, t * 20) * fmin(1, (2.2 - t) * 20);
        } else if (t > 2.4 && t < 2.6) { /* DTMF "5": 770 Hz + 1336 Hz */
            v = 5000 * (sin(2 * pi * 770 * t) + sin(2 * pi * 1336 * t));
        }
        caller[i] = (int16_t)lrint(fmax(-32768, fmin(32767, v)));
    }
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int fail(const char *what, int status) {
    fprintf(stderr, "%s: %s (%s)\n", what, formi_strerror(status), formi_last_error());
    return 1;
}

int main(void) {
    printf("libformi %s: a 3 s sample call over Twilio's media-stream format (mu-law, 8 kHz, 20 ms frames)\n\n",
           formi_version());
    synthesise_caller();

    uint8_t ulaw[FRAME], payload[FRAME];
    char base64[FORMI_BASE64_ENCODED_SIZE(FRAME) + 1];
    char message[512];
    size_t wire_bytes = 0, len = 0;
    int frames = 0, status;
    double start = now();

    for (int offset = 0; offset + FRAME <= SAMPLES; offset += FRAME, frames++) {
        /* Telephony side: the caller's frame onto the wire. */
        if ((status = formi_ulaw_encode(caller + offset, FRAME, ulaw, sizeof ulaw))) return fail("encode", status);
        if ((status = formi_base64_encode(ulaw, FRAME, base64, sizeof base64, &len))) return fail("base64", status);
        base64[len] = '\0';
        int n = snprintf(message, sizeof message,
                         "{\"event\":\"media\",\"sequenceNumber\":\"%d\",\"media\":{\"track\":\"inbound\","
                         "\"chunk\":\"%d\",\"timestamp\":\"%d\",\"payload\":\"%s\"},\"streamSid\":\"MZ0sample\"}",
                         frames + 2, frames + 1, frames * 20, base64);
        wire_bytes += (size_t)n;
        if (frames < 2) printf("  -> %.150s...\n", message);

        /* Agent side: the payload back to linear PCM for the speech recogniser. */
        const char *p = strstr(message, "\"payload\":\"") + 11;
        if ((status = formi_base64_decode(p, strcspn(p, "\""), payload, sizeof payload, &len)))
            return fail("base64 decode", status);
        if ((status = formi_ulaw_decode(payload, len, heard + offset, FRAME))) return fail("decode", status);
    }
    double elapsed = now() - start;

    double signal = 0, noise = 0;
    for (int i = 0; i < SAMPLES; i++) {
        signal += (double)caller[i] * caller[i];
        noise += ((double)caller[i] - heard[i]) * ((double)caller[i] - heard[i]);
    }
    printf("\n  frames           %d of 20 ms (%d s of audio)\n", frames, SECONDS);
    printf("  on the wire      %zu bytes of JSON (%.1f kbit/s; the raw mu-law is 64 kbit/s)\n", wire_bytes,
           wire_bytes * 8.0 / SECONDS / 1000);
    printf("  audio fidelity   SNR %.1f dB after mu-law (G.711's ~38 dB on speech is expected)\n",
           10 * log10(signal / noise));
    printf("  cost             %.0f ns per frame, both directions (including building the JSON text)\n",
           elapsed / frames * 1e9);
    printf("\nUp next in libformi: resampling to the agent's 16 kHz, provider templates and call sessions.\n");
    return 0;
}
