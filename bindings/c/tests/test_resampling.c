/* Resampler and transcoder through the C ABI: the agent-audio path to Twilio, and bad input. */
#include <formi.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

static void test_resampler(void) {
    int status = 1;
    formi_resampler *r = formi_resampler_new(1, 8000, 16000, FORMI_RESAMPLER_QUALITY_DEFAULT, &status);
    CHECK(r != NULL && status == FORMI_OK);
    CHECK(formi_resampler_latency(r) > 0);
    int16_t in[160], out[400];
    for (int i = 0; i < 160; i++) in[i] = (int16_t)(i * 100);
    size_t written = 0;
    CHECK(formi_resampler_max_output(r, 160) == 322);
    CHECK_STATUS(formi_resampler_process(r, in, 160, out, 400, &written), FORMI_OK);
    CHECK(written == 320);
    CHECK_STATUS(formi_resampler_process(r, in, 160, out, 10, &written), FORMI_EBUFFER);
    CHECK(written == 322);
    CHECK_STATUS(formi_resampler_process(r, in, 160, out, 400, NULL), FORMI_EINVAL);
    CHECK_STATUS(formi_resampler_process(r, NULL, 160, out, 400, &written), FORMI_EINVAL);
    CHECK_STATUS(formi_resampler_process(r, in, SIZE_MAX, out, 400, &written), FORMI_EOVERFLOW);
    CHECK_STATUS(formi_resampler_process(r, in, 160, out, SIZE_MAX / 2, &written), FORMI_EOVERFLOW);
    CHECK_STATUS(formi_resampler_drain(r, out, 400, &written), FORMI_OK);
    CHECK(written == (size_t)formi_resampler_latency(r));
    CHECK_STATUS(formi_resampler_reset(r), FORMI_OK);
    formi_resampler_free(r);

    /* Equal rates: exact copy, no delay. */
    r = formi_resampler_new(2, 16000, 16000, 3, NULL);
    CHECK(r != NULL && formi_resampler_latency(r) == 0);
    CHECK_STATUS(formi_resampler_process(r, in, 80, out, 80, &written), FORMI_OK);
    CHECK(written == 80 && memcmp(in, out, sizeof in) == 0);
    formi_resampler_free(r);

    /* Bad parameters: NULL and a status. */
    CHECK(formi_resampler_new(1, 7000, 16000, 5, &status) == NULL && status == FORMI_EUNSUPPORTED);
    CHECK(strstr(formi_last_error(), "7000") != NULL);
    CHECK(formi_resampler_new(3, 8000, 16000, 5, &status) == NULL && status == FORMI_EUNSUPPORTED);
    CHECK(formi_resampler_new(1, 8000, 16000, 11, &status) == NULL && status == FORMI_EINVAL);
    CHECK(formi_resampler_new(1, 8000, 16000, -2, &status) == NULL && status == FORMI_EINVAL);
    CHECK(strstr(formi_last_error(), "-2") != NULL);

    /* The default is the own FIR (at most 3 ms: 48 frames at 16 kHz); 0...10 is speexdsp (quality 5: 5 ms);
     * the default on a rate the FIR lacks (44.1 kHz) is speexdsp quality 5. */
    r = formi_resampler_new(1, 8000, 16000, FORMI_RESAMPLER_QUALITY_DEFAULT, NULL);
    CHECK(r != NULL && formi_resampler_latency(r) <= 48);
    formi_resampler_free(r);
    r = formi_resampler_new(2, 8000, 16000, 5, NULL);
    CHECK(r != NULL && formi_resampler_latency(r) > 48);
    CHECK_STATUS(formi_resampler_process(r, in, 80, out, 400, &written), FORMI_OK);
    CHECK(written == 160);
    formi_resampler_free(r);
    r = formi_resampler_new(1, 44100, 16000, FORMI_RESAMPLER_QUALITY_DEFAULT, &status);
    CHECK(r != NULL && status == FORMI_OK);
    formi_resampler_free(r);
    CHECK(formi_resampler_new(1, -8000, 16000, 5, NULL) == NULL);
    CHECK_STATUS(formi_resampler_process(NULL, in, 160, out, 400, &written), FORMI_EINVAL);
    CHECK_STATUS(formi_resampler_drain(NULL, out, 400, &written), FORMI_EINVAL);
    CHECK_STATUS(formi_resampler_reset(NULL), FORMI_EINVAL);
    CHECK(formi_resampler_latency(NULL) == FORMI_EINVAL);
    CHECK(formi_resampler_max_output(NULL, 160) == 0);
    formi_resampler_free(NULL);
}

/* What an agent server does for every utterance: PCM16 16 kHz from TTS -> Twilio's 160-byte mu-law frames. */
static void test_transcoder_to_twilio(void) {
    formi_format agent = {FORMI_ENCODING_PCM16LE, 16000, 1}, twilio = {FORMI_ENCODING_ULAW, 8000, 1};
    int status = 1;
    formi_transcoder *t = formi_transcoder_new(&agent, &twilio, FORMI_RESAMPLER_QUALITY_DEFAULT, 160, &status);
    CHECK(t != NULL && status == FORMI_OK);
    enum { CHUNK = 1234 }; /* TTS chunks come in odd sizes (but whole samples) */
    int16_t pcm[CHUNK];
    for (int i = 0; i < CHUNK; i++) pcm[i] = (int16_t)((i % 40) * 400 - 8000);
    size_t cap = formi_transcoder_max_output(t, sizeof pcm), len = 0, total = 0;
    uint8_t *out = malloc(cap);
    for (int k = 0; k < 10; k++) {
        CHECK_STATUS(formi_transcoder_process(t, pcm, sizeof pcm, out, cap, &len), FORMI_OK);
        CHECK(len % 160 == 0);
        total += len;
    }
    CHECK_STATUS(formi_transcoder_drain(t, out, cap, &len), FORMI_OK);
    CHECK(len % 160 == 0 && len > 0 && out[len - 1] == 0xFF);
    total += len;
    CHECK(total >= 10 * CHUNK / 2 && total <= 10 * CHUNK / 2 + 320);

    /* Bad input: an odd byte count, a short buffer; the stream stays usable. */
    CHECK_STATUS(formi_transcoder_process(t, pcm, 3, out, cap, &len), FORMI_ELENGTH);
    CHECK(strstr(formi_last_error(), "whole number") != NULL);
    CHECK_STATUS(formi_transcoder_process(t, pcm, sizeof pcm, out, 100, &len), FORMI_EBUFFER);
    CHECK(len == cap);
    CHECK_STATUS(formi_transcoder_process(t, pcm, sizeof pcm, out, cap, &len), FORMI_OK);
    CHECK_STATUS(formi_transcoder_process(t, NULL, 2, out, cap, &len), FORMI_EINVAL);
    CHECK_STATUS(formi_transcoder_process(t, pcm, 2, NULL, cap, &len), FORMI_EINVAL);
    CHECK_STATUS(formi_transcoder_process(t, pcm, 2, out, cap, NULL), FORMI_EINVAL);
    CHECK_STATUS(formi_transcoder_process(t, pcm, SIZE_MAX - 1, out, cap, &len), FORMI_EOVERFLOW);
    CHECK(formi_transcoder_latency(t) > 0);
    CHECK_STATUS(formi_transcoder_reset(t), FORMI_OK);
    free(out);
    formi_transcoder_free(t);

    /* Bad formats. */
    formi_format bad = {42, 8000, 1};
    CHECK(formi_transcoder_new(&bad, &twilio, 5, 0, &status) == NULL && status == FORMI_EUNSUPPORTED);
    bad = (formi_format){FORMI_ENCODING_ULAW, 8001, 1};
    CHECK(formi_transcoder_new(&bad, &twilio, 5, 0, &status) == NULL && status == FORMI_EUNSUPPORTED);
    bad = (formi_format){FORMI_ENCODING_ULAW, 8000, 0};
    CHECK(formi_transcoder_new(&agent, &bad, 5, 0, &status) == NULL && status == FORMI_EUNSUPPORTED);
    CHECK(formi_transcoder_new(NULL, &twilio, 5, 0, &status) == NULL && status == FORMI_EINVAL);
    formi_format l16 = {FORMI_ENCODING_PCM16LE, 16000, 1};
    CHECK(formi_transcoder_new(&agent, &l16, 5, 641, &status) == NULL && status == FORMI_EINVAL);
    CHECK(formi_transcoder_new(&agent, &l16, 5, SIZE_MAX, &status) == NULL && status == FORMI_EINVAL);
    CHECK(formi_transcoder_new(&agent, &l16, -2, 0, &status) == NULL && status == FORMI_EINVAL);
    uint8_t small[10];
    CHECK_STATUS(formi_transcoder_process(NULL, pcm, 2, small, sizeof small, &len), FORMI_EINVAL);
    CHECK_STATUS(formi_transcoder_drain(NULL, small, sizeof small, &len), FORMI_EINVAL);
    CHECK_STATUS(formi_transcoder_reset(NULL), FORMI_EINVAL);
    CHECK(formi_transcoder_latency(NULL) == FORMI_EINVAL);
    CHECK(formi_transcoder_max_output(NULL, 10) == 0);
    formi_transcoder_free(NULL);
}

int main(void) {
    test_resampler();
    test_transcoder_to_twilio();
    return check_report("test_resampling");
}
