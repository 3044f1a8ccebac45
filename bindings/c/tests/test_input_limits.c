/* Size limits come before the input is touched. Every export that takes outside JSON (or a message) is
 * given a length beyond its limit with a pointer to a few real bytes: the refusal must come without a
 * byte read past them (valgrind sees any) and without a copy of the claimed size (1 TiB would abort the
 * process in the allocator). The lengths lie, which the header calls the caller's undefined behaviour;
 * the limit check is what makes the library refuse them before acting on them.
 *
 * `test_input_limits --no-copy` (run outside valgrind) proves the second half directly: a child whose
 * address space is capped 32 MiB above its current size passes a real 64 MiB buffer to each export; a
 * copy of the input would not fit, the refusals must. */
#define _GNU_SOURCE
#include <formi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"

#define LIT(s) (s), strlen(s)

static const char *FLOW = "{\"states\":[{\"state_id\":1,\"name\":\"a\",\"initial\":true},"
                          "{\"state_id\":2,\"name\":\"b\",\"terminal\":true}],"
                          "\"edges\":[{\"edge_id\":1,\"from_node\":1,\"to_node\":2,\"condition\":\"event.type == \\\"dtmf\\\"\"}]}";

static int contains(const char *text, const char *part) { return text && strstr(text, part) != NULL; }

/* An event's error text, NUL-terminated (the event gives a pointer and a length). */
static const char *error_of(const formi_event *e) {
    static char text[512];
    size_t n = e->error.len < sizeof text - 1 ? e->error.len : sizeof text - 1;
    if (e->error.data) memcpy(text, e->error.data, n);
    text[e->error.data ? n : 0] = 0;
    return text;
}

/* The message of a refusal for size: "message of N bytes exceeds the (session's) limit of M". */
#define CHECK_REFUSED_FOR_SIZE(text) CHECK(contains((text), " bytes exceeds the "))

/* Calls every export with `len` claimed bytes at `data` (which may hold far fewer). */
static void refuse_everywhere(const char *data, size_t len, const char *label) {
    int failures = check_failures;
    int status = 0;
    char *out = NULL;

    /* Providers: templates (1 MiB) and mapped messages (1 MiB, text and binary, JSON and lines). */
    CHECK(formi_provider_from_json(data, len, &status) == NULL && status == FORMI_EJSON);
    CHECK_REFUSED_FOR_SIZE(formi_last_error());
    CHECK_STATUS(formi_provider_validate_json(data, len, &out), FORMI_EJSON);
    CHECK_REFUSED_FOR_SIZE(out);
    formi_free(out);
    out = NULL;
    const char *names[] = {"twilio", "asterisk-text"};
    for (size_t i = 0; i < 2; i++) {
        formi_provider *p = formi_provider_builtin(names[i], NULL);
        CHECK(p != NULL);
        formi_event e = FORMI_EVENT_INIT;
        CHECK_STATUS(formi_provider_map(p, data, len, 0, &e), FORMI_OK);
        CHECK(e.kind == FORMI_EVENT_ERROR);
        CHECK_REFUSED_FOR_SIZE(error_of(&e));
        CHECK_STATUS(formi_provider_map_json(p, data, len, 0, &out), FORMI_OK);
        CHECK_REFUSED_FOR_SIZE(out);
        formi_free(out);
        out = NULL;
        formi_provider_free(p);
    }

    /* Sessions: a message beyond max_message_bytes is an ERROR event. */
    formi_provider *twilio = formi_provider_builtin("twilio", NULL);
    formi_session_config config;
    formi_session_config_init(&config, FORMI_ROLE_AGENT_SERVER);
    formi_session *s = formi_session_new(twilio, &config, NULL);
    CHECK(s != NULL);
    for (int binary = 0; binary < 2; binary++) {
        CHECK_STATUS(formi_session_receive(s, data, len, binary), FORMI_OK);
        formi_event e = FORMI_EVENT_INIT;
        CHECK(formi_session_next_event(s, &e) == 1 && e.kind == FORMI_EVENT_ERROR);
        CHECK_REFUSED_FOR_SIZE(error_of(&e));
    }
    formi_session_free(s);
    formi_provider_free(twilio);

    /* Flows (16 MiB), edits (16 MiB), run inputs and events (1 MiB), template variables (1 MiB). */
    CHECK(formi_flow_from_json(data, len, &status) == NULL && status == FORMI_EJSON);
    CHECK_REFUSED_FOR_SIZE(formi_last_error());
    CHECK_STATUS(formi_flow_validate_json(data, len, &out), FORMI_EJSON);
    CHECK_REFUSED_FOR_SIZE(out);
    formi_free(out);
    out = NULL;
    formi_flow *flow = formi_flow_from_json(LIT(FLOW), &status);
    CHECK(flow != NULL);
    CHECK_STATUS(formi_flow_edit(flow, data, len, &out), FORMI_EJSON);
    CHECK(out == NULL);
    CHECK_REFUSED_FOR_SIZE(formi_last_error());
    CHECK(formi_flow_run_new(flow, data, len, &status) == NULL && status == FORMI_EJSON);
    CHECK_REFUSED_FOR_SIZE(formi_last_error());
    formi_flow_run *run = formi_flow_run_new(flow, NULL, 0, &status);
    CHECK(run != NULL);
    CHECK_STATUS(formi_flow_run_step(run, data, len, &out), FORMI_EJSON);
    CHECK_REFUSED_FOR_SIZE(formi_last_error());
    formi_flow_run_free(run);
    formi_flow_free(flow);
    CHECK_STATUS(formi_template_render(LIT("Hi {{who|there}}"), data, len, &out), FORMI_EJSON);
    CHECK(out == NULL);
    CHECK_REFUSED_FOR_SIZE(formi_last_error());

    /* The ledger (32 MiB), every call. */
    formi_ledger *l = formi_ledger_open(NULL, NULL);
    CHECK(l != NULL);
    int (*calls[])(formi_ledger *, const char *, size_t, char **) = {formi_ledger_record, formi_ledger_credit, formi_ledger_query};
    for (size_t i = 0; i < 3; i++) {
        CHECK_STATUS(calls[i](l, data, len, &out), FORMI_ELIMIT);
        CHECK(out == NULL);
        CHECK(contains(formi_ledger_last_error(l), "too large"));
    }
    formi_ledger_close(l);

    if (check_failures != failures) fprintf(stderr, "  (with %s)\n", label);
}

/* The process's address space now, in bytes. */
static size_t address_space(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!f) return 0;
    if (fscanf(f, "%lu", &pages) != 1) pages = 0;
    fclose(f);
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

static int no_copy(void) {
    const size_t size = 64u << 20;
    /* Warm up first: the library's own first-use allocations are not what is measured. */
    refuse_everywhere("{}", 1u << 30, "warm-up");
    pid_t child = fork();
    if (child == 0) {
        char *big = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (big == MAP_FAILED) _exit(3);
        memset(big, ' ', size);
        big[0] = '{';
        struct rlimit cap = {address_space() + (32u << 20), address_space() + (32u << 20)};
        if (cap.rlim_cur <= (32u << 20) || setrlimit(RLIMIT_AS, &cap) != 0) _exit(4);
        /* A copy of the input cannot be made now: check that, then that no export tries. */
        void *copy = malloc(size);
        if (copy) _exit(5);
        refuse_everywhere(big, size, "a real 64 MiB input, 32 MiB of address space left");
        _exit(check_failures == 0 ? 0 : 1);
    }
    int status = 0;
    CHECK(child > 0 && waitpid(child, &status, 0) == child);
    if (WIFSIGNALED(status)) fprintf(stderr, "the capped child died of signal %d (an allocation of the input's size?)\n", WTERMSIG(status));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return check_report("test_input_limits --no-copy");
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--no-copy") == 0) return no_copy();

    /* A few real bytes on the heap (valgrind knows their end), lengths far beyond them. */
    char *few = malloc(3);
    memcpy(few, "{}", 3);
    refuse_everywhere(few, (size_t)1 << 40, "1 TiB claimed");
    refuse_everywhere(few, SIZE_MAX >> 1, "SIZE_MAX / 2 claimed");
    /* One byte over each limit. */
    refuse_everywhere(few, (32u << 20) + 1, "32 MiB + 1 claimed");
    free(few);

    /* One byte over the smaller limits, each alone (the ledger's 32 MiB is covered above). */
    few = malloc(3);
    memcpy(few, "{}", 3);
    int status = 0;
    CHECK(formi_provider_from_json(few, (1u << 20) + 1, &status) == NULL && status == FORMI_EJSON);
    CHECK_REFUSED_FOR_SIZE(formi_last_error());
    CHECK(formi_flow_from_json(few, (16u << 20) + 1, &status) == NULL && status == FORMI_EJSON);
    CHECK_REFUSED_FOR_SIZE(formi_last_error());
    char *out = NULL;
    CHECK_STATUS(formi_template_render(LIT("x"), few, (1u << 20) + 1, &out), FORMI_EJSON);
    CHECK_REFUSED_FOR_SIZE(formi_last_error());
    free(few);
    return check_report("test_input_limits");
}
