/* Every export, called the ways a careless or hostile caller would: NULL with a length, lengths whose
 * byte size overflows, odd byte counts for 16-bit data, outputs one element too small. Each must return
 * the right status, leave the output untouched on error and never write past the size it was given.
 * Inputs are heap blocks of exactly their size, so valgrind sees any read past them. */
#include <formi.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

/* Each conversion export behind one signature. */
typedef int (*conversion_fn)(const void *in, size_t count, void *out, size_t capacity);

#define WRAP(name, in_type, out_type)                                                   \
    static int wrap_##name(const void *in, size_t count, void *out, size_t capacity) {  \
        return formi_##name((const in_type *)in, count, (out_type *)out, capacity);     \
    }
WRAP(ulaw_encode, int16_t, uint8_t)
WRAP(ulaw_decode, uint8_t, int16_t)
WRAP(alaw_encode, int16_t, uint8_t)
WRAP(alaw_decode, uint8_t, int16_t)
WRAP(pcm16le_encode, int16_t, void)
WRAP(pcm16le_decode, void, int16_t)
WRAP(pcm16be_encode, int16_t, void)
WRAP(pcm16be_decode, void, int16_t)
WRAP(pcm8_encode, int16_t, uint8_t)
WRAP(pcm8_decode, uint8_t, int16_t)
WRAP(f32_encode, int16_t, float)
WRAP(f32_decode, float, int16_t)
WRAP(stereo_to_mono, int16_t, int16_t)
WRAP(mono_to_stereo, int16_t, int16_t)

struct conversion {
    const char *name;
    conversion_fn fn;
    size_t in_size;     /* bytes per input element */
    size_t in_per_unit; /* input elements per counted unit (2 for stereo frames) */
    size_t out_size;    /* bytes per output element */
    size_t out_num, out_den; /* output elements = count * out_num / out_den */
    int even_count;     /* the count must be even (16-bit data given in bytes) */
};

static const struct conversion conversions[] = {
    {"ulaw_encode", wrap_ulaw_encode, 2, 1, 1, 1, 1, 0},
    {"ulaw_decode", wrap_ulaw_decode, 1, 1, 2, 1, 1, 0},
    {"alaw_encode", wrap_alaw_encode, 2, 1, 1, 1, 1, 0},
    {"alaw_decode", wrap_alaw_decode, 1, 1, 2, 1, 1, 0},
    {"pcm16le_encode", wrap_pcm16le_encode, 2, 1, 1, 2, 1, 0},
    {"pcm16le_decode", wrap_pcm16le_decode, 1, 1, 2, 1, 2, 1},
    {"pcm16be_encode", wrap_pcm16be_encode, 2, 1, 1, 2, 1, 0},
    {"pcm16be_decode", wrap_pcm16be_decode, 1, 1, 2, 1, 2, 1},
    {"pcm8_encode", wrap_pcm8_encode, 2, 1, 1, 1, 1, 0},
    {"pcm8_decode", wrap_pcm8_decode, 1, 1, 2, 1, 1, 0},
    {"f32_encode", wrap_f32_encode, 2, 1, 4, 1, 1, 0},
    {"f32_decode", wrap_f32_decode, 4, 1, 2, 1, 1, 0},
    {"stereo_to_mono", wrap_stereo_to_mono, 2, 2, 2, 1, 1, 0},
    {"mono_to_stereo", wrap_mono_to_stereo, 2, 1, 2, 2, 1, 0},
};

#define GUARD 64
#define FILL 0xA5

static int untouched(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != FILL) return 0;
    return 1;
}

static void check_conversion(const struct conversion *c) {
    const size_t count = 20;
    const size_t in_bytes = count * c->in_per_unit * c->in_size;
    const size_t out_count = count * c->out_num / c->out_den;
    uint8_t *in = malloc(in_bytes);
    uint8_t *out = malloc(out_count * c->out_size + GUARD);
    for (size_t i = 0; i < in_bytes; i++) in[i] = (uint8_t)(i * 7);
    if (c->in_size == 4)  /* keep float inputs finite and small */
        for (size_t i = 0; i < in_bytes / 4; i++) ((float *)(void *)in)[i] = 0.001f * (float)i;
    int failures_before = check_failures;

    /* Exact size: succeeds and stops at the end of the output. */
    memset(out, FILL, out_count * c->out_size + GUARD);
    CHECK_STATUS(c->fn(in, count, out, out_count), FORMI_OK);
    CHECK(untouched(out + out_count * c->out_size, GUARD));

    /* One element short: FORMI_EBUFFER and nothing written. */
    memset(out, FILL, out_count * c->out_size + GUARD);
    CHECK_STATUS(c->fn(in, count, out, out_count - 1), FORMI_EBUFFER);
    CHECK(untouched(out, out_count * c->out_size + GUARD));
    CHECK(strstr(formi_last_error(), "out") != NULL);

    /* NULL with a non-zero length, on either side. */
    CHECK_STATUS(c->fn(NULL, count, out, out_count), FORMI_EINVAL);
    CHECK(untouched(out, out_count * c->out_size + GUARD));
    CHECK_STATUS(c->fn(in, count, NULL, out_count), FORMI_EINVAL);

    /* Nothing to do is fine, even with NULL pointers. */
    CHECK_STATUS(c->fn(NULL, 0, NULL, 0), FORMI_OK);
    CHECK_STATUS(c->fn(in, 0, out, 0), FORMI_OK);

    /* Lengths whose byte size overflows, for the input and for the output. */
    CHECK_STATUS(c->fn(in, SIZE_MAX, out, out_count), FORMI_EOVERFLOW);
    if (c->in_size * c->in_per_unit > 1) /* the first count whose byte size exceeds SIZE_MAX */
        CHECK_STATUS(c->fn(in, SIZE_MAX / (c->in_size * c->in_per_unit) + 1, out, out_count), FORMI_EOVERFLOW);
    CHECK_STATUS(c->fn(in, count, out, SIZE_MAX), FORMI_EOVERFLOW);
    if (c->out_size > 1)
        CHECK_STATUS(c->fn(in, count, out, SIZE_MAX / c->out_size + 1), FORMI_EOVERFLOW);
    /* A huge but representable length: the output check fails before any input is read. */
    CHECK_STATUS(c->fn(in, (SIZE_MAX / 2) / (c->in_size * c->in_per_unit * 2) * (c->even_count ? 2 : 1), out, out_count),
                 FORMI_EBUFFER);
    CHECK(untouched(out, out_count * c->out_size + GUARD));

    /* 16-bit data given in bytes: an odd count is FORMI_ELENGTH. */
    if (c->even_count) {
        CHECK_STATUS(c->fn(in, count - 1, out, out_count), FORMI_ELENGTH);
        CHECK(strstr(formi_last_error(), "not a whole number") != NULL);
        CHECK(untouched(out, out_count * c->out_size + GUARD));
    }
    if (check_failures != failures_before) fprintf(stderr, "  ... in formi_%s\n", c->name);
    free(in);
    free(out);
}

static void check_base64(void) {
    uint8_t *data = malloc(9);
    memcpy(data, "abcdefghi", 9);
    char *text = malloc(12 + GUARD);
    size_t len = 0;

    memset(text, FILL, 12 + GUARD);
    CHECK_STATUS(formi_base64_encode(data, 9, text, 12, &len), FORMI_OK);
    CHECK(len == 12 && untouched((uint8_t *)text + 12, GUARD));
    memset(text, FILL, 12 + GUARD);
    CHECK_STATUS(formi_base64_encode(data, 9, text, 11, &len), FORMI_EBUFFER);
    CHECK(len == 12 && untouched((uint8_t *)text, 12 + GUARD));
    CHECK_STATUS(formi_base64_encode(data, 9, text, 12, NULL), FORMI_EINVAL);
    CHECK_STATUS(formi_base64_encode(NULL, 9, text, 12, &len), FORMI_EINVAL);
    CHECK_STATUS(formi_base64_encode(data, 9, NULL, 12, &len), FORMI_EINVAL);
    CHECK_STATUS(formi_base64_encode(NULL, 0, NULL, 0, &len), FORMI_OK);
    CHECK(len == 0);
    CHECK_STATUS(formi_base64_encode(data, SIZE_MAX, text, 12, &len), FORMI_EOVERFLOW);
    CHECK_STATUS(formi_base64_encode(data, SIZE_MAX / 2, text, 12, &len), FORMI_EOVERFLOW);
    CHECK_STATUS(formi_base64_encode(data, 9, text, SIZE_MAX, &len), FORMI_EOVERFLOW);

    char *coded = malloc(12);
    memcpy(coded, "YWJjZGVmZ2hp", 12);
    uint8_t *plain = malloc(9 + GUARD);
    memset(plain, FILL, 9 + GUARD);
    CHECK_STATUS(formi_base64_decode(coded, 12, plain, 9, &len), FORMI_OK);
    CHECK(len == 9 && memcmp(plain, "abcdefghi", 9) == 0 && untouched(plain + 9, GUARD));
    memset(plain, FILL, 9 + GUARD);
    CHECK_STATUS(formi_base64_decode(coded, 12, plain, 8, &len), FORMI_EBUFFER);
    CHECK(len == 9 && untouched(plain, 9 + GUARD));
    CHECK_STATUS(formi_base64_decode(coded, 12, plain, 9, NULL), FORMI_EINVAL);
    CHECK_STATUS(formi_base64_decode(NULL, 12, plain, 9, &len), FORMI_EINVAL);
    CHECK_STATUS(formi_base64_decode(coded, 12, NULL, 9, &len), FORMI_EINVAL);
    CHECK_STATUS(formi_base64_decode(NULL, 0, NULL, 0, &len), FORMI_OK);
    CHECK(len == 0);
    CHECK_STATUS(formi_base64_decode(coded, SIZE_MAX, plain, 9, &len), FORMI_EOVERFLOW);
    CHECK_STATUS(formi_base64_decode(coded, 12, plain, SIZE_MAX, &len), FORMI_EOVERFLOW);
    CHECK_STATUS(formi_base64_decode(coded, 11, plain, 9, &len), FORMI_EBASE64);
    CHECK(untouched(plain + 9, GUARD));

    free(data);
    free(text);
    free(coded);
    free(plain);
}

/* A session's output_lead_ms: -1 (the template's rule) or 0 ... 3600000; anything below -1 is refused,
 * not taken as -1. */
static void check_output_lead(void) {
    formi_provider *twilio = formi_provider_builtin("twilio", NULL);
    const int32_t refused[] = {-2, -1000, INT_MIN, 3600001, INT_MAX};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        formi_session_config config;
        formi_session_config_init(&config, FORMI_ROLE_AGENT_SERVER);
        config.output_lead_ms = refused[i];
        int status = 0;
        CHECK(formi_session_new(twilio, &config, &status) == NULL && status == FORMI_EINVAL);
        CHECK(strstr(formi_last_error(), "output_lead_ms") != NULL);
    }
    const int32_t accepted[] = {-1, 0, 60, 3600000};
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        formi_session_config config;
        formi_session_config_init(&config, FORMI_ROLE_AGENT_SERVER);
        config.output_lead_ms = accepted[i];
        int status = -99;
        formi_session *s = formi_session_new(twilio, &config, &status);
        CHECK(s != NULL && status == FORMI_OK);
        formi_session_free(s);
    }
    formi_provider_free(twilio);
}

int main(void) {
    for (size_t i = 0; i < sizeof conversions / sizeof conversions[0]; i++) check_conversion(&conversions[i]);
    check_base64();
    check_output_lead();
    return check_report("test_bad_input");
}
