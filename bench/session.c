/* The full frame path of an agent server through libformi's C ABI, one Twilio call:
 *   inbound:  a Twilio media message (JSON, base64 mu-law 8 kHz) -> formi_session_receive ->
 *             formi_session_next_event: a MEDIA event of PCM16 16 kHz;
 *   outbound: 20 ms of PCM16 16 kHz -> formi_session_send_audio -> formi_session_next_output: the
 *             Twilio media message (and the session's playback mark every 200 ms).
 * usage: bench-session inbound|outbound COUNT [QUALITY]; prints frames per second (bench/session.py runs it
 * alongside the Python pipeline and prints the ratio). */
#define _POSIX_C_SOURCE 199309L
#include <formi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench-session inbound|outbound COUNT\n");
        return 2;
    }
    int inbound = strcmp(argv[1], "inbound") == 0;
    long count = atol(argv[2]);
    formi_provider *twilio = formi_provider_builtin("twilio", NULL);
    formi_session_config config;
    formi_session_config_init(&config, FORMI_ROLE_AGENT_SERVER);
    if (argc > 3) config.resampler_quality = atoi(argv[3]);
    formi_session *session = formi_session_new(twilio, &config, NULL);
    const char *start = "{\"event\":\"start\",\"sequenceNumber\":\"1\",\"streamSid\":\"MZ18ad3ab5a668481ce02b83e7395059f0\","
                        "\"start\":{\"streamSid\":\"MZ18ad3ab5a668481ce02b83e7395059f0\",\"accountSid\":\"AC1\",\"callSid\":\"CA1\","
                        "\"tracks\":[\"inbound\"],\"customParameters\":{},\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\","
                        "\"sampleRate\":8000,\"channels\":1}}}";
    formi_session_receive(session, start, strlen(start), 0);
    formi_event event = FORMI_EVENT_INIT;
    while (formi_session_next_event(session, &event) == 1) {}

    /* The same speech-like payload every frame; chunk numbers count up as Twilio's do. */
    uint8_t ulaw[160];
    for (int i = 0; i < 160; i++) ulaw[i] = (uint8_t)((i * 37 + 11) & 0xFF);
    char payload[FORMI_BASE64_ENCODED_SIZE(160) + 1];
    size_t len = 0;
    formi_base64_encode(ulaw, 160, payload, sizeof payload, &len);
    payload[len] = 0;
    enum { STRIDE = 512 };
    char *messages = NULL;
    size_t *lengths = NULL;
    if (inbound) {
        messages = malloc((size_t)count * STRIDE);
        lengths = malloc((size_t)count * sizeof *lengths);
        if (messages == NULL || lengths == NULL) return 1;
        for (long i = 0; i < count; i++) {
            lengths[i] = (size_t)snprintf(messages + i * STRIDE, STRIDE,
                "{\"event\":\"media\",\"sequenceNumber\":\"%ld\",\"media\":{\"track\":\"inbound\",\"chunk\":\"%ld\","
                "\"timestamp\":\"%ld\",\"payload\":\"%s\"},\"streamSid\":\"MZ18ad3ab5a668481ce02b83e7395059f0\"}",
                i + 2, i + 1, i * 20, payload);
        }
    }
    int16_t pcm[320];
    for (int i = 0; i < 320; i++) pcm[i] = (int16_t)((i % 40) * 700 - 14000);

    long produced = 0;
    double begin = now();
    if (inbound) {
        for (long i = 0; i < count; i++) {
            formi_session_receive(session, messages + i * STRIDE, lengths[i], 0);
            while (formi_session_next_event(session, &event) == 1) produced += event.audio_len == 640;
        }
    } else {
        formi_message message;
        for (long i = 0; i < count; i++) {
            formi_session_send_audio(session, pcm, sizeof pcm);
            while (formi_session_next_output(session, &message) == 1) produced += message.len > 200;
        }
    }
    double elapsed = now() - begin;
    if (produced < count * 9 / 10) {
        fprintf(stderr, "bench-session: only %ld of %ld frames came out\n", produced, count);
        return 1;
    }
    printf("%.1f\n", (double)count / elapsed);
    free(messages);
    free(lengths);
    formi_session_free(session);
    formi_provider_free(twilio);
    return 0;
}
