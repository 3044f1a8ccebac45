/* Version, status strings, and the per-thread last-error message. */
#include <formi.h>
#include <pthread.h>
#include <string.h>
#include "check.h"

static void *fail_in_thread(void *arg) {
    (void)arg;
    uint8_t out[4];
    size_t len;
    formi_base64_decode("AB", 2, out, sizeof out, &len);
    /* This thread sees its own message... */
    return (void *)(strstr(formi_last_error(), "multiple of 4") != NULL ? "ok" : NULL);
}

int main(void) {
    CHECK(strcmp(formi_version(), FORMI_VERSION) == 0);
    CHECK(formi_version_number() == FORMI_VERSION_NUMBER);

    /* Every status code has its own description; unknown codes are named as such. */
    const int codes[] = {FORMI_OK, FORMI_EINVAL, FORMI_ENOMEM, FORMI_EBUFFER, FORMI_ELENGTH, FORMI_EOVERFLOW,
                         FORMI_EBASE64, FORMI_EJSON, FORMI_EUNSUPPORTED, FORMI_ESTATE, FORMI_ENOTFOUND,
                         FORMI_ELIMIT, FORMI_ETEMPLATE, FORMI_ESTORAGE, FORMI_EINTERNAL, FORMI_EBUSY};
    const size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        CHECK(codes[i] == -(int)i);
        CHECK(formi_strerror(codes[i]) != NULL && strcmp(formi_strerror(codes[i]), "unknown status code") != 0);
        for (size_t j = 0; j < i; j++) CHECK(strcmp(formi_strerror(codes[i]), formi_strerror(codes[j])) != 0);
    }
    CHECK(strcmp(formi_strerror(-(int)n), "unknown status code") == 0);
    CHECK(strcmp(formi_strerror(1), "unknown status code") == 0);
    CHECK(strcmp(formi_strerror(FORMI_EBUFFER), "output buffer too small") == 0);

    /* The last error is per thread and survives successful calls, like errno. */
    CHECK(strcmp(formi_last_error(), "") == 0);
    int16_t pcm[2] = {0, 0};
    uint8_t out[2];
    CHECK_STATUS(formi_ulaw_encode(pcm, 2, out, 1), FORMI_EBUFFER);
    CHECK(strcmp(formi_last_error(), "out holds 1 but 2 are needed") == 0);
    pthread_t thread;
    void *result = NULL;
    CHECK(pthread_create(&thread, NULL, fail_in_thread, NULL) == 0);
    CHECK(pthread_join(thread, &result) == 0);
    CHECK(result != NULL);
    /* ...and the main thread still sees its own. */
    CHECK(strcmp(formi_last_error(), "out holds 1 but 2 are needed") == 0);
    CHECK_STATUS(formi_ulaw_encode(pcm, 2, out, 2), FORMI_OK);
    CHECK(strcmp(formi_last_error(), "out holds 1 but 2 are needed") == 0);

    formi_free(NULL);
    return check_report("test_basics");
}
