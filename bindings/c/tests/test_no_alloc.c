/* Calls every stateless codec N times (N from argv). scripts/check-no-alloc.sh runs it under valgrind
 * with N = 1 and N = 1000: the total number of heap allocations must be the same, i.e. no call
 * allocates once the library is warm (its tables are built on first use). Successful calls only: a
 * failed call builds its formi_last_error() message, which allocates (errors are not the hot path). */
#include <formi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1;
    int16_t pcm[320], back[320];
    uint8_t bytes[640];
    float f32[320];
    char text[FORMI_BASE64_ENCODED_SIZE(640)];
    size_t len;
    for (int i = 0; i < 320; i++) pcm[i] = (int16_t)(i * 97);
    /* A warm transcoder per 20 ms frame, as an agent server runs it: PCM16 16 kHz -> framed mu-law 8 kHz. */
    formi_format agent = {FORMI_ENCODING_PCM16LE, 16000, 1}, twilio = {FORMI_ENCODING_ULAW, 8000, 1};
    formi_transcoder *t = formi_transcoder_new(&agent, &twilio, FORMI_RESAMPLER_QUALITY_DEFAULT, 160, NULL);
    formi_transcoder *to_agent = formi_transcoder_new(&twilio, &agent, FORMI_RESAMPLER_QUALITY_DEFAULT, 0, NULL);
    uint8_t framed[2048], linear[2048];
    /* A warm provider mapping Twilio media messages. */
    memset(bytes, 0x55, sizeof bytes);
    formi_provider *twilio_provider = formi_provider_builtin("twilio", NULL);
    formi_event event = FORMI_EVENT_INIT;
    char media[512];
    {
        char payload[FORMI_BASE64_ENCODED_SIZE(160) + 1];
        formi_base64_encode(bytes, 160, payload, sizeof payload, &len);
        payload[len] = 0;
        snprintf(media, sizeof media, "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"streamSid\":\"MZ11\",\"media\":"
                 "{\"track\":\"inbound\",\"chunk\":\"2\",\"timestamp\":\"40\",\"payload\":\"%s\"}}", payload);
    }
    /* A warm call: a telephony-role session and an agent-server-role session, 20 ms each way per round.
     * The sessions' own playback marks are off here: each mark (every 200 ms by default) allocates its
     * name, which is not per frame. */
    formi_session_config phone_config, agent_config;
    formi_session_config_init(&phone_config, FORMI_ROLE_TELEPHONY);
    phone_config.local_format = (formi_format){FORMI_ENCODING_PCM16LE, 8000, 1};
    phone_config.stream_id = "MZ1";
    formi_session_config_init(&agent_config, FORMI_ROLE_AGENT_SERVER);
    agent_config.mark_interval_ms = 0;
    formi_session *phone = formi_session_new(twilio_provider, &phone_config, NULL);
    formi_session *agent_session = formi_session_new(twilio_provider, &agent_config, NULL);
    formi_message message;
    int16_t played[160];
    size_t real;
    /* 200 rounds first, the same as the measured ones, until every queue has its working size. */
    while (formi_session_next_output(phone, &message) == 1) formi_session_receive(agent_session, message.data, message.len, 0);
    while (formi_session_next_event(agent_session, &event) == 1) {}
    for (int i = 0; i < 200 + n; i++) {
        /* Caller audio: phone -> agent, as an internal media event. */
        CHECK_STATUS(formi_session_send_audio(phone, pcm, 320), FORMI_OK);
        CHECK(formi_session_next_output(phone, &message) == 1);
        CHECK_STATUS(formi_session_receive(agent_session, message.data, message.len, 0), FORMI_OK);
        CHECK(formi_session_next_event(agent_session, &event) == 1 && event.kind == FORMI_EVENT_MEDIA && event.audio_len == 640);
        /* Agent audio: agent -> phone -> playback. */
        CHECK_STATUS(formi_session_send_audio(agent_session, pcm, 640), FORMI_OK);
        CHECK(formi_session_next_output(agent_session, &message) == 1);
        CHECK_STATUS(formi_session_receive(phone, message.data, message.len, 0), FORMI_OK);
        CHECK_STATUS(formi_session_read_audio(phone, played, sizeof played, &real), FORMI_OK);
        CHECK(real == sizeof played);
    }
    for (int i = 0; i < n; i++) {
        CHECK_STATUS(formi_ulaw_encode(pcm, 160, bytes, 160), FORMI_OK);
        CHECK_STATUS(formi_ulaw_decode(bytes, 160, back, 160), FORMI_OK);
        CHECK_STATUS(formi_alaw_encode(pcm, 160, bytes, 160), FORMI_OK);
        CHECK_STATUS(formi_alaw_decode(bytes, 160, back, 160), FORMI_OK);
        CHECK_STATUS(formi_pcm16le_encode(pcm, 320, bytes, 640), FORMI_OK);
        CHECK_STATUS(formi_pcm16le_decode(bytes, 640, back, 320), FORMI_OK);
        CHECK_STATUS(formi_pcm16be_encode(pcm, 320, bytes, 640), FORMI_OK);
        CHECK_STATUS(formi_pcm16be_decode(bytes, 640, back, 320), FORMI_OK);
        CHECK_STATUS(formi_pcm8_encode(pcm, 320, bytes, 320), FORMI_OK);
        CHECK_STATUS(formi_pcm8_decode(bytes, 320, back, 320), FORMI_OK);
        CHECK_STATUS(formi_f32_encode(pcm, 320, f32, 320), FORMI_OK);
        CHECK_STATUS(formi_f32_decode(f32, 320, back, 320), FORMI_OK);
        CHECK_STATUS(formi_stereo_to_mono(pcm, 160, back, 160), FORMI_OK);
        CHECK_STATUS(formi_mono_to_stereo(pcm, 160, back, 320), FORMI_OK);
        CHECK_STATUS(formi_base64_encode(bytes, 640, text, sizeof text, &len), FORMI_OK);
        CHECK_STATUS(formi_base64_decode(text, len, bytes, sizeof bytes, &len), FORMI_OK);
        CHECK_STATUS(formi_transcoder_process(t, pcm, 640, framed, sizeof framed, &len), FORMI_OK);
        CHECK_STATUS(formi_transcoder_process(to_agent, framed, len, linear, sizeof linear, &len), FORMI_OK);
        CHECK_STATUS(formi_provider_map(twilio_provider, media, strlen(media), 0, &event), FORMI_OK);
        CHECK(event.kind == FORMI_EVENT_MEDIA && event.audio_len == 160);
    }
    formi_session_free(phone);
    formi_session_free(agent_session);
    formi_provider_free(twilio_provider);
    formi_transcoder_free(t);
    formi_transcoder_free(to_agent);
    return check_report("test_no_alloc") ;
}
