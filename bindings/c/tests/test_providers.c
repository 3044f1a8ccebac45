/* Provider templates and event mapping through the C ABI. */
#include <formi.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

static int text_is(formi_text t, const char *s) { return t.data != NULL && t.len == strlen(s) && memcmp(t.data, s, t.len) == 0; }

#define MAP(p, msg, ev) formi_provider_map((p), (msg), strlen(msg), 0, (ev))

static void test_twilio(void) {
    int status = 1;
    formi_provider *p = formi_provider_builtin("twilio", &status);
    CHECK(p != NULL && status == FORMI_OK);
    CHECK(strcmp(formi_provider_name(p), "twilio") == 0);
    formi_event e = FORMI_EVENT_INIT;
    CHECK_STATUS(MAP(p, "{\"event\":\"connected\",\"protocol\":\"Call\",\"version\":\"1.0.0\"}", &e), FORMI_OK);
    CHECK(e.kind == FORMI_EVENT_CONNECTED && text_is(e.pattern, "connected"));
    CHECK_STATUS(MAP(p, "{\"event\":\"start\",\"sequenceNumber\":\"1\",\"streamSid\":\"MZ11\",\"start\":{\"streamSid\":\"MZ11\","
                        "\"callSid\":\"CA11\",\"customParameters\":{\"k\":\"v\"},\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\","
                        "\"sampleRate\":8000,\"channels\":1}}}", &e), FORMI_OK);
    CHECK(e.kind == FORMI_EVENT_START && text_is(e.stream_id, "MZ11") && text_is(e.call_id, "CA11") && e.sequence == 1);
    CHECK(text_is(e.custom_parameters, "{\"k\":\"v\"}"));
    CHECK(e.format.encoding == FORMI_ENCODING_ULAW && e.format.sample_rate == 8000 && e.format.channels == 1);

    /* A 20 ms media frame: 160 bytes of mu-law from base64. */
    uint8_t ulaw[160];
    for (int i = 0; i < 160; i++) ulaw[i] = (uint8_t)(i * 3);
    char payload[FORMI_BASE64_ENCODED_SIZE(160) + 1], message[400];
    size_t len;
    formi_base64_encode(ulaw, 160, payload, sizeof payload, &len);
    payload[len] = 0;
    snprintf(message, sizeof message, "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"streamSid\":\"MZ11\",\"media\":{\"track\":\"inbound\","
             "\"chunk\":\"2\",\"timestamp\":\"40\",\"payload\":\"%s\"}}", payload);
    CHECK_STATUS(MAP(p, message, &e), FORMI_OK);
    CHECK(e.kind == FORMI_EVENT_MEDIA && e.audio_len == 160 && memcmp(e.audio, ulaw, 160) == 0);
    CHECK(e.sequence == 3 && e.chunk == 2 && e.timestamp == 40 && text_is(e.track, "inbound"));
    CHECK(e.duration_ms == -1 && e.digit.data == NULL && e.error.data == NULL);
    /* The stream id is a view into the message itself: zero-copy. */
    CHECK(e.stream_id.data >= message && e.stream_id.data < message + strlen(message));

    /* Unmappable messages are error events, not errors; the provider keeps working. */
    CHECK_STATUS(MAP(p, "{\"event\":\"nope\"}", &e), FORMI_OK);
    CHECK(e.kind == FORMI_EVENT_ERROR && e.error.data != NULL && strstr(e.error.data, "no pattern of twilio matches") != NULL);
    CHECK_STATUS(MAP(p, "{\"event\":", &e), FORMI_OK);
    CHECK(e.kind == FORMI_EVENT_ERROR && strstr(e.error.data, "malformed JSON") != NULL);
    CHECK_STATUS(formi_provider_map(p, "\x01\x02", 2, 1, &e), FORMI_OK);
    CHECK(e.kind == FORMI_EVENT_ERROR && strstr(e.error.data, "text frames only") != NULL);
    CHECK_STATUS(MAP(p, "{\"event\":\"mark\",\"mark\":{\"name\":\"utt-1\"}}", &e), FORMI_OK);
    CHECK(e.kind == FORMI_EVENT_MARK && text_is(e.mark, "utt-1") && e.error.data == NULL);

    char *json = NULL;
    CHECK_STATUS(formi_provider_map_json(p, message, strlen(message), 0, &json), FORMI_OK);
    CHECK(json != NULL && strstr(json, "\"event\":\"media\"") && strstr(json, "\"bytes\":160") && strstr(json, payload));
    formi_free(json);

    /* Bad arguments. */
    CHECK_STATUS(formi_provider_map(NULL, message, 10, 0, &e), FORMI_EINVAL);
    CHECK_STATUS(formi_provider_map(p, NULL, 10, 0, &e), FORMI_EINVAL);
    CHECK_STATUS(formi_provider_map(p, message, 10, 0, NULL), FORMI_EINVAL);
    CHECK_STATUS(formi_provider_map(p, message, SIZE_MAX, 0, &e), FORMI_EOVERFLOW);
    CHECK_STATUS(formi_provider_map_json(p, message, 10, 0, NULL), FORMI_EINVAL);
    CHECK(formi_provider_name(NULL) == NULL);
    formi_provider_free(p);
    formi_provider_free(NULL);
}

static void test_templates(void) {
    int status = 0;
    CHECK(formi_provider_builtin("skype", &status) == NULL && status == FORMI_ENOTFOUND);
    CHECK(strstr(formi_last_error(), "twilio") != NULL);
    CHECK(formi_provider_builtin(NULL, &status) == NULL && status == FORMI_EINVAL);
    const char *names[] = {"twilio", "exotel", "plivo", "telnyx", "vonage", "jambonz", "asterisk", "asterisk-text", "audiosocket"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        formi_provider *p = formi_provider_builtin(names[i], &status);
        CHECK(p != NULL && status == FORMI_OK);
        formi_provider_free(p);
    }

    const char *seed = "{\"provider\":\"acme\",\"events\":{\"incoming\":{\"message_patterns\":{"
                       "\"connected\":{\"detection_pattern\":{\"event\":\"hello\"},\"extraction_map\":{}},"
                       "\"start\":{\"detection_pattern\":{\"event\":\"begin\"},\"extraction_map\":{\"call_id\":\"call.id\"}},"
                       "\"media\":{\"detection_pattern\":{\"event\":\"audio\"},\"extraction_map\":{\"audio\":\"data\"}},"
                       "\"clear\":{\"detection_pattern\":{\"event\":\"flushed\"},\"extraction_map\":{}}}}}}";
    formi_provider *p = formi_provider_from_json(seed, strlen(seed), &status);
    CHECK(p != NULL && status == FORMI_OK && strcmp(formi_provider_name(p), "acme") == 0);
    formi_event e = FORMI_EVENT_INIT;
    CHECK_STATUS(MAP(p, "{\"event\":\"begin\",\"call\":{\"id\":\"x\"}}", &e), FORMI_OK);
    CHECK(e.kind == FORMI_EVENT_START && text_is(e.call_id, "x"));
    formi_provider_free(p);

    char *report = NULL;
    CHECK_STATUS(formi_provider_validate_json(seed, strlen(seed), &report), FORMI_OK);
    CHECK(report != NULL && strcmp(report, "[]") == 0);
    formi_free(report);

    const char *bad = "{\"provider\":\"\",\"audio\":{\"encoding\":\"opus\"},\"events\":{\"incoming\":{\"message_patterns\":{}}}}";
    CHECK(formi_provider_from_json(bad, strlen(bad), &status) == NULL && status == FORMI_ETEMPLATE);
    CHECK(strstr(formi_last_error(), "audio.encoding") != NULL && strstr(formi_last_error(), "provider") != NULL);
    CHECK_STATUS(formi_provider_validate_json(bad, strlen(bad), &report), FORMI_ETEMPLATE);
    CHECK(report != NULL && strstr(report, "\"field\":\"audio.encoding\"") && strstr(report, "\"field\":\"events.incoming.message_patterns.start\""));
    formi_free(report);
    CHECK_STATUS(formi_provider_validate_json("{", 1, &report), FORMI_EJSON);
    formi_free(report);
    CHECK(formi_provider_from_json("{", 1, &status) == NULL && status == FORMI_EJSON);
    CHECK(formi_provider_from_json(NULL, 5, &status) == NULL && status == FORMI_EINVAL);
    CHECK_STATUS(formi_provider_validate_json(seed, strlen(seed), NULL), FORMI_EINVAL);
}

int main(void) {
    test_twilio();
    test_templates();
    return check_report("test_providers");
}
