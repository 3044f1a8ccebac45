/* Sessions through the C API: a telephony-role session (as an Asterisk module would embed it) talks to
 * an agent-server-role session (as a /ws-adapter server would), over Twilio's protocol, in memory.
 * Audio both ways, marks, barge-in, stats, and bad arguments. */
#include <formi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

/* Moves every message `from` has to send into `to`; returns how many. */
static int pump(formi_session *from, formi_session *to) {
    formi_message message;
    int moved = 0, more;
    while ((more = formi_session_next_output(from, &message)) == 1) {
        CHECK_STATUS(formi_session_receive(to, message.data, message.len, message.is_binary), FORMI_OK);
        moved++;
    }
    CHECK(more == 0);
    return moved;
}

static int text_is(formi_text text, const char *expected) {
    return text.data != NULL && text.len == strlen(expected) && memcmp(text.data, expected, text.len) == 0;
}

static void role_against_role(void) {
    formi_provider *twilio = formi_provider_builtin("twilio", NULL);
    formi_session_config phone_config, agent_config;
    CHECK_STATUS(formi_session_config_init(&phone_config, FORMI_ROLE_TELEPHONY), FORMI_OK);
    phone_config.local_format = (formi_format){FORMI_ENCODING_PCM16LE, 8000, 1};
    phone_config.stream_id = "MZ42";
    phone_config.call_id = "CA42";
    phone_config.custom_parameters = "{\"agent_id\":\"7\"}";
    CHECK_STATUS(formi_session_config_init(&agent_config, FORMI_ROLE_AGENT_SERVER), FORMI_OK);
    CHECK(agent_config.local_format.sample_rate == 16000 && agent_config.reorder_window == 4);

    int status = -1;
    formi_session *phone = formi_session_new(twilio, &phone_config, &status);
    CHECK(phone != NULL && status == FORMI_OK);
    formi_session *agent = formi_session_new(twilio, &agent_config, &status);
    CHECK(agent != NULL && status == FORMI_OK);
    formi_provider_free(twilio); /* the sessions keep what they need */

    CHECK(pump(phone, agent) == 2);
    formi_event event = FORMI_EVENT_INIT;
    CHECK(formi_session_next_event(agent, &event) == 1 && event.kind == FORMI_EVENT_CONNECTED);
    CHECK(formi_session_next_event(agent, &event) == 1 && event.kind == FORMI_EVENT_START);
    CHECK(text_is(event.stream_id, "MZ42") && text_is(event.call_id, "CA42"));
    CHECK(event.format.encoding == FORMI_ENCODING_ULAW && event.format.sample_rate == 8000);
    CHECK(text_is(event.custom_parameters, "{\"agent_id\":\"7\"}"));
    CHECK(formi_session_next_event(agent, &event) == 0);

    /* One second of caller audio at 8 kHz arrives as 16 kHz PCM. */
    int16_t caller[8000];
    for (int i = 0; i < 8000; i++) caller[i] = (int16_t)((i % 80) * 300 - 12000);
    CHECK_STATUS(formi_session_send_audio(phone, caller, sizeof caller), FORMI_OK);
    CHECK(pump(phone, agent) == 50);
    size_t heard = 0;
    while (formi_session_next_event(agent, &event) == 1) {
        CHECK(event.kind == FORMI_EVENT_MEDIA && event.format.sample_rate == 16000);
        heard += event.audio_len;
    }
    CHECK(heard == 32000);

    /* Half a second of agent audio, flushed (with the resampler's tail, padded to a whole 20 ms frame),
     * and a mark; the phone plays it at its 20 ms clock. */
    int16_t agent_audio[8000];
    for (int i = 0; i < 8000; i++) agent_audio[i] = (int16_t)((i % 160) * 150 - 12000);
    CHECK_STATUS(formi_session_send_audio(agent, agent_audio, sizeof agent_audio), FORMI_OK);
    CHECK_STATUS(formi_session_flush(agent), FORMI_OK);
    CHECK_STATUS(formi_session_send_mark(agent, "greeting"), FORMI_OK);
    formi_playback playback = FORMI_PLAYBACK_INIT;
    CHECK_STATUS(formi_session_playback(agent, &playback), FORMI_OK);
    int64_t utterance_ms = playback.queued_ms;
    CHECK(utterance_ms >= 500 && utterance_ms <= 520 && utterance_ms % 20 == 0 && playback.sent_ms == 0);
    pump(agent, phone);
    int16_t frame[160];
    size_t real = 0, played = 0;
    do {
        CHECK_STATUS(formi_session_read_audio(phone, frame, sizeof frame, &real), FORMI_OK);
        played += real;
    } while (real > 0);
    CHECK(played == (size_t)utterance_ms * 16);
    pump(phone, agent);
    CHECK(formi_session_next_event(agent, &event) == 1 && event.kind == FORMI_EVENT_MARK);
    CHECK(text_is(event.mark, "greeting") && text_is(event.reason, "played"));
    CHECK_STATUS(formi_session_playback(agent, &playback), FORMI_OK);
    CHECK(playback.sent_ms == utterance_ms && playback.confirmed_ms == utterance_ms);

    /* Barge-in while a second utterance waits: nothing of it goes out, the provider is told to clear. */
    CHECK_STATUS(formi_session_send_audio(agent, agent_audio, sizeof agent_audio), FORMI_OK);
    CHECK_STATUS(formi_session_interrupt(agent, &playback), FORMI_OK);
    formi_message message;
    CHECK(formi_session_next_output(agent, &message) == 1 && !message.is_binary);
    CHECK(message.len == strlen("{\"event\":\"clear\",\"streamSid\":\"MZ42\"}") &&
          memcmp(message.data, "{\"event\":\"clear\",\"streamSid\":\"MZ42\"}", message.len) == 0);
    CHECK(formi_session_next_output(agent, &message) == 0);

    /* The phone hangs up; the stats add up. */
    CHECK_STATUS(formi_session_end(phone, "hangup"), FORMI_OK);
    pump(phone, agent);
    /* The resampler's tail first (the caller's last 5 ms, 8 -> 16 kHz), then the stop. */
    CHECK(formi_session_next_event(agent, &event) == 1 && event.kind == FORMI_EVENT_MEDIA && event.audio_len > 0);
    CHECK(formi_session_next_event(agent, &event) == 1 && event.kind == FORMI_EVENT_STOP);
    char *stats = NULL;
    CHECK_STATUS(formi_session_stats_json(agent, &stats), FORMI_OK);
    CHECK(stats != NULL && strstr(stats, "\"state\":\"stopped\"") && strstr(stats, "\"caller_audio_ms\":1000") &&
          strstr(stats, "\"agent_audio_ms\":1000") && strstr(stats, "\"interruptions\":1") &&
          strstr(stats, "\"marks_played\":1"));
    formi_free(stats);
    /* After the end, input is an error event and audio is refused. */
    CHECK_STATUS(formi_session_receive(agent, "{\"event\":\"connected\"}", 21, 0), FORMI_OK);
    CHECK(formi_session_next_event(agent, &event) == 1 && event.kind == FORMI_EVENT_ERROR);
    CHECK_STATUS(formi_session_send_audio(agent, agent_audio, 320), FORMI_ESTATE);
    CHECK(strstr(formi_session_last_error(agent), "ended") != NULL);

    formi_session_free(phone);
    formi_session_free(agent);
}

static void bad_arguments(void) {
    formi_provider *twilio = formi_provider_builtin("twilio", NULL);
    formi_provider *audiosocket = formi_provider_builtin("audiosocket", NULL);
    formi_session_config config;
    int status = 0;
    CHECK_STATUS(formi_session_config_init(NULL, FORMI_ROLE_TELEPHONY), FORMI_EINVAL);
    CHECK_STATUS(formi_session_config_init(&config, 3), FORMI_EINVAL);
    CHECK_STATUS(formi_session_config_init(&config, FORMI_ROLE_AGENT_SERVER), FORMI_OK);
    CHECK(formi_session_new(NULL, &config, &status) == NULL && status == FORMI_EINVAL);
    CHECK(formi_session_new(twilio, NULL, &status) == NULL && status == FORMI_EINVAL);
    config.local_format.sample_rate = 7000;
    CHECK(formi_session_new(twilio, &config, &status) == NULL && status == FORMI_EUNSUPPORTED);

    /* The structs that may grow must say their size: one that does not is refused, nothing written. */
    CHECK_STATUS(formi_session_config_init(&config, FORMI_ROLE_AGENT_SERVER), FORMI_OK);
    CHECK(config.size == sizeof config);
    config.size = 0;
    CHECK(formi_session_new(twilio, &config, &status) == NULL && status == FORMI_EINVAL);
    CHECK(strstr(formi_last_error(), "formi_session_config_init") != NULL);
    CHECK_STATUS(formi_session_config_init(&config, FORMI_ROLE_AGENT_SERVER), FORMI_OK);
    formi_session *s = formi_session_new(twilio, &config, &status);
    CHECK(s != NULL);
    formi_event unsized;
    memset(&unsized, 0x55, sizeof unsized);
    unsized.size = sizeof unsized - 1;
    CHECK_STATUS(formi_session_next_event(s, &unsized), FORMI_EINVAL);
    CHECK(strstr(formi_session_last_error(s), "FORMI_EVENT_INIT") != NULL && unsized.kind == 0x55555555);
    formi_playback no_size = {0};
    CHECK_STATUS(formi_session_playback(s, &no_size), FORMI_EINVAL);
    formi_event sized = FORMI_EVENT_INIT;
    CHECK(formi_session_next_event(s, &sized) == 0 && sized.size == sizeof sized);
    formi_session_free(s);
    CHECK_STATUS(formi_session_config_init(&config, FORMI_ROLE_AGENT_SERVER), FORMI_OK);
    config.reorder_window = 1000;
    CHECK(formi_session_new(twilio, &config, &status) == NULL && status == FORMI_EINVAL);

    CHECK_STATUS(formi_session_config_init(&config, FORMI_ROLE_TELEPHONY), FORMI_OK);
    config.custom_parameters = "[1,2]";
    CHECK(formi_session_new(twilio, &config, &status) == NULL && status == FORMI_EINVAL);
    CHECK(strstr(formi_last_error(), "custom_parameters") != NULL);
    config.custom_parameters = NULL;
    config.local_format = (formi_format){FORMI_ENCODING_PCM16LE, 8000, 1};
    config.call_id = "not-a-uuid";
    CHECK(formi_session_new(audiosocket, &config, &status) == NULL && status == FORMI_EINVAL);
    config.call_id = "3c1e5a4e-8f0b-4c8e-9d6a-2b7f0e1d9c55";
    formi_session *phone = formi_session_new(audiosocket, &config, &status);
    CHECK(phone != NULL && status == FORMI_OK);

    CHECK_STATUS(formi_session_config_init(&config, FORMI_ROLE_AGENT_SERVER), FORMI_OK);
    formi_session *agent = formi_session_new(twilio, &config, &status);
    formi_event event = FORMI_EVENT_INIT;
    formi_message message;
    formi_playback playback = FORMI_PLAYBACK_INIT;
    CHECK_STATUS(formi_session_receive(NULL, "x", 1, 0), FORMI_EINVAL);
    CHECK_STATUS(formi_session_receive(agent, NULL, 5, 0), FORMI_EINVAL);
    CHECK_STATUS(formi_session_next_event(agent, NULL), FORMI_EINVAL);
    CHECK_STATUS(formi_session_next_output(NULL, &message), FORMI_EINVAL);
    CHECK_STATUS(formi_session_send_audio(agent, "\0\0", 2), FORMI_ESTATE); /* no start yet */
    CHECK(strstr(formi_session_last_error(agent), "no start") != NULL);
    CHECK_STATUS(formi_session_send_mark(agent, NULL), FORMI_EINVAL);
    CHECK_STATUS(formi_session_interrupt(agent, NULL), FORMI_ESTATE);
    CHECK_STATUS(formi_session_playback(agent, NULL), FORMI_EINVAL);
    CHECK_STATUS(formi_session_send_dtmf(agent, '5', 100), FORMI_EUNSUPPORTED);
    CHECK_STATUS(formi_session_read_audio(agent, NULL, 0, NULL), FORMI_EUNSUPPORTED);
    CHECK_STATUS(formi_session_stats_json(agent, NULL), FORMI_EINVAL);
    CHECK(strcmp(formi_session_last_error(NULL), "") == 0);

    /* Hostile input becomes error events; the session carries on. */
    const char *bad[] = {"{", "[]", "{\"event\":\"media\",\"media\":{\"payload\":\"@@@@\"}}", "{\"event\":\"warp\"}", "\xff\xfe"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(formi_session_receive(agent, bad[i], strlen(bad[i]), 0), FORMI_OK);
        CHECK(formi_session_next_event(agent, &event) == 1 && event.kind == FORMI_EVENT_ERROR && event.error.len > 0);
    }
    CHECK_STATUS(formi_session_receive(agent, "\x01\x02", 2, 1), FORMI_OK);
    CHECK(formi_session_next_event(agent, &event) == 1 && event.kind == FORMI_EVENT_ERROR);

    /* Telephony side: odd byte counts, bad digits, wrong-role calls. */
    CHECK_STATUS(formi_session_send_audio(phone, "\0\0\0", 3), FORMI_ELENGTH);
    CHECK_STATUS(formi_session_send_dtmf(phone, 'x', 100), FORMI_EINVAL);
    CHECK_STATUS(formi_session_send_dtmf(phone, '#', 100), FORMI_OK);
    CHECK_STATUS(formi_session_interrupt(phone, &playback), FORMI_EUNSUPPORTED);
    CHECK_STATUS(formi_session_flush(phone), FORMI_EUNSUPPORTED);
    CHECK_STATUS(formi_session_send_mark(phone, "m"), FORMI_EUNSUPPORTED);
    uint8_t out[5];
    size_t real = 99;
    CHECK_STATUS(formi_session_read_audio(phone, out, sizeof out, &real), FORMI_OK); /* padded, partial sample too */
    CHECK(real == 0);

    formi_session_free(NULL);
    formi_session_free(phone);
    formi_session_free(agent);
    formi_provider_free(twilio);
    formi_provider_free(audiosocket);
}

/* One AudioSocket read can carry a million frames (3 MiB of 3-byte DTMF-less frames): the 1024-event cap
 * holds inside it. formi_session_receive refuses it whole; formi_session_receive_part takes what fits and
 * the rest is passed again once events are taken. Every frame arrives once, in order. */
static void audiosocket_event_cap(void) {
    formi_provider *audiosocket = formi_provider_builtin("audiosocket", NULL);
    formi_session_config config;
    CHECK_STATUS(formi_session_config_init(&config, FORMI_ROLE_AGENT_SERVER), FORMI_OK);
    int status = -1;
    formi_session *s = formi_session_new(audiosocket, &config, &status);
    CHECK(s != NULL && status == FORMI_OK);
    /* The UUID frame, then 200,000 unknown-type frames of no payload (each an ERROR event), then a
     * frame split over the end of the buffer. */
    size_t frames = 200000, len = 19 + 3 * frames + 2;
    uint8_t *stream = calloc(1, len);
    CHECK(stream != NULL);
    stream[0] = 0x01; stream[2] = 16;
    for (int i = 0; i < 16; i++) stream[3 + i] = (uint8_t)(0x10 + i);
    for (size_t i = 0; i < frames; i++) stream[19 + 3 * i] = 0x42;
    stream[len - 2] = 0x03; stream[len - 1] = 0;  /* a DTMF frame's first two header bytes */

    CHECK_STATUS(formi_session_receive(s, stream, len, 1), FORMI_ELIMIT);
    CHECK(strstr(formi_session_last_error(s), "more AudioSocket frames") != NULL);
    formi_event e = FORMI_EVENT_INIT;
    CHECK(formi_session_next_event(s, &e) == 0);  /* nothing was consumed */

    size_t offset = 0, events = 0, max_waiting = 0, consumed = 0;
    int calls = 0;
    while (offset < len) {
        int rc = formi_session_receive_part(s, stream + offset, len - offset, 1, &consumed);
        CHECK(rc == FORMI_OK || rc == FORMI_ELIMIT);
        CHECK(consumed <= len - offset);
        offset += consumed;
        size_t waiting = 0;
        while (formi_session_next_event(s, &e) == 1) { waiting++; events++; }
        if (waiting > max_waiting) max_waiting = waiting;
        if (++calls > 1000) break;
    }
    CHECK(offset == len);
    CHECK(events == frames);   /* one ERROR per unknown frame (the start waits for an audio or DTMF frame) */
    CHECK(max_waiting <= 1024);
    /* The DTMF frame completes in the next read. */
    uint8_t rest[2] = {1, '7'};
    CHECK_STATUS(formi_session_receive_part(s, rest, 2, 1, &consumed), FORMI_OK);
    CHECK(consumed == 2 && formi_session_next_event(s, &e) == 1 && e.kind == FORMI_EVENT_START);
    CHECK(formi_session_next_event(s, &e) == 1 && e.kind == FORMI_EVENT_DTMF);
    CHECK_STATUS(formi_session_receive_part(s, rest, 2, 1, NULL), FORMI_EINVAL);
    free(stream);
    formi_session_free(s);
    formi_provider_free(audiosocket);
}

int main(void) {
    role_against_role();
    bad_arguments();
    audiosocket_event_cap();
    return check_report("test_sessions");
}
