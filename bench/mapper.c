/* Maps a Twilio media message through the C ABI, repeatedly: parse, detect, extract, base64-decode
 * 160 bytes. Prints messages per second for each of `rounds` rounds (bench/mapper.py runs it against
 * CPython doing the same work and prints the ratio).
 * usage: bench-mapper ROUNDS MESSAGES_PER_ROUND */
#define _POSIX_C_SOURCE 200809L
#include <formi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 5, messages = argc > 2 ? atoi(argv[2]) : 200000;
    formi_provider *twilio = formi_provider_builtin("twilio", NULL);
    uint8_t ulaw[160];
    for (int i = 0; i < 160; i++) ulaw[i] = (uint8_t)(i * 37 + 11);
    char payload[FORMI_BASE64_ENCODED_SIZE(160) + 1], message[512];
    size_t len;
    formi_base64_encode(ulaw, 160, payload, sizeof payload, &len);
    payload[len] = 0;
    int n = snprintf(message, sizeof message,
                     "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{\"track\":\"inbound\",\"chunk\":\"2\",\"timestamp\":\"40\","
                     "\"payload\":\"%s\"},\"streamSid\":\"MZ18ad3ab5a668481ce02b83e7395059f0\"}", payload);
    formi_event event = FORMI_EVENT_INIT;
    long checksum = 0;
    for (int r = 0; r < rounds; r++) {
        double t = now();
        for (int i = 0; i < messages; i++) {
            formi_provider_map(twilio, message, (size_t)n, 0, &event);
            checksum += (long)event.audio_len + event.sequence + event.audio[i % 160];
        }
        printf("%.0f\n", messages / (now() - t));
        fflush(stdout);
    }
    if (checksum == 42) puts("");  /* keep the work observable */
    formi_provider_free(twilio);
    return 0;
}
