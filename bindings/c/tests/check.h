/* A minimal test harness for the C tests of libformi: CHECK records a failure and goes on. */
#ifndef FORMI_CHECK_H
#define FORMI_CHECK_H

#include <stdio.h>
#include <stdint.h>
#include <stddef.h>

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        check_count++;                                                                 \
        if (!(cond)) {                                                                 \
            check_failures++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
        }                                                                              \
    } while (0)

/* Status equality, printing the library's message when it differs. */
#define CHECK_STATUS(expr, expected)                                                   \
    do {                                                                               \
        int check_status_ = (expr);                                                    \
        check_count++;                                                                 \
        if (check_status_ != (expected)) {                                             \
            check_failures++;                                                          \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d; last error: %s\n", \
                    __FILE__, __LINE__, #expr, check_status_, formi_strerror(check_status_), \
                    (expected), formi_last_error());                                   \
        }                                                                              \
    } while (0)

static inline int check_report(const char *name) {
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures == 0 ? 0 : 1;
}

/* CRC-32 (IEEE / zlib), bitwise: the conformance values of g711.md. */
static inline uint32_t crc32_update(uint32_t crc, const void *data, size_t size) {
    const uint8_t *p = (const uint8_t *)data;
    crc = ~crc;
    for (size_t i = 0; i < size; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

#endif
