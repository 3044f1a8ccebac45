/* The usage ledger through the C ABI (docs/ledger.md): records, batches, retries, credit operations and
 * queries, in memory and on a file; every bad argument; storage failures (a file that is not a database,
 * a read-only ledger, a full disk). After every failed call the ledger must be as it was: `verify` says
 * ok and the interaction count is unchanged. Runs under valgrind: everything is freed. */
#define _XOPEN_SOURCE 700 /* mkdtemp, setrlimit, geteuid under -std=c11 */
#include <formi.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"

/* A string literal as a (pointer, length) pair. */
#define LIT(s) (s), strlen(s)

typedef int (*ledger_call)(formi_ledger *, const char *, size_t, char **);

/* ---- helpers ---------------------------------------------------------------------------------------- */

/* The interaction count of `verify`, after checking that it says ok; -1 when it cannot answer. */
static long interactions_at(int line, formi_ledger *l) {
    char *out = NULL;
    int status = formi_ledger_query(l, LIT("{\"query\":\"verify\"}"), &out);
    const char *count = out ? strstr(out, "\"interactions\":") : NULL;
    check_count++;
    if (status != FORMI_OK || !out || !strstr(out, "\"ok\":true") || !count) {
        check_failures++;
        fprintf(stderr, "%s:%d: verify gave %d: %s (%s)\n", __FILE__, line, status, out ? out : "(null)",
                formi_ledger_last_error(l));
        formi_free(out);
        return -1;
    }
    long n = strtol(count + strlen("\"interactions\":"), NULL, 10);
    formi_free(out);
    return n;
}
#define INTERACTIONS(l) interactions_at(__LINE__, (l))

/* Calls `fn` on `json`, checks FORMI_OK and that the answer holds every string of `want` (NULL-ended).
 * Returns the answer (free with formi_free), NULL on failure. */
static char *answer_at(int line, ledger_call fn, formi_ledger *l, const char *json, const char *const *want) {
    char *out = NULL;
    int status = fn(l, json, strlen(json), &out);
    check_count++;
    if (status != FORMI_OK || !out) {
        check_failures++;
        fprintf(stderr, "%s:%d: %s\n  gave %d (%s): %s\n", __FILE__, line, json, status, formi_strerror(status),
                formi_ledger_last_error(l));
        formi_free(out);
        return NULL;
    }
    for (; *want; want++) {
        check_count++;
        if (!strstr(out, *want)) {
            check_failures++;
            fprintf(stderr, "%s:%d: %s\n  gave %s\n  without %s\n", __FILE__, line, json, out, *want);
        }
    }
    return out;
}
/* ANSWER keeps the answer for the caller; EXPECT only checks it. */
#define ANSWER(fn, l, json, ...) answer_at(__LINE__, (fn), (l), (json), (const char *const[]){__VA_ARGS__, NULL})
#define EXPECT(fn, l, json, ...) formi_free(ANSWER(fn, l, json, __VA_ARGS__))

/* Calls `fn` on `len` bytes of `json` and expects `expected`, *out cleared to NULL, and `message` in
 * formi_last_error() and in formi_ledger_last_error(l). Then nothing may have changed: verify still says
 * ok and the interaction count is what it was. */
static void fail_at(int line, ledger_call fn, formi_ledger *l, const char *json, size_t len, int expected,
                    const char *message) {
    static char sentinel[] = "not cleared";
    long before = l ? interactions_at(line, l) : 0;
    char *out = sentinel;
    int status = fn(l, json, len, &out);
    check_count++;
    if (status != expected || out != NULL) {
        check_failures++;
        fprintf(stderr, "%s:%d: %.*s\n  gave %d (%s), expected %d; out %s; last error: %s\n", __FILE__, line,
                json ? (int)len : 6, json ? json : "(null)", status, formi_strerror(status), expected,
                out == NULL ? "NULL" : out == sentinel ? "not cleared" : out, formi_last_error());
    }
    if (out != sentinel) formi_free(out);
    check_count++;
    if (!strstr(formi_last_error(), message) || (l && !strstr(formi_ledger_last_error(l), message))) {
        check_failures++;
        fprintf(stderr, "%s:%d: message \"%s\" (on the ledger: \"%s\") does not contain \"%s\"\n", __FILE__, line,
                formi_last_error(), l ? formi_ledger_last_error(l) : "-", message);
    }
    if (l) {
        long after = interactions_at(line, l);
        check_count++;
        if (after != before) {
            check_failures++;
            fprintf(stderr, "%s:%d: a failed call changed the interaction count from %ld to %ld\n", __FILE__, line,
                    before, after);
        }
    }
}
#define FAIL(fn, l, json, expected, message) fail_at(__LINE__, (fn), (l), (json), strlen(json), (expected), (message))
#define FAIL_LEN(fn, l, json, len, expected, message) fail_at(__LINE__, (fn), (l), (json), (len), (expected), (message))

/* A record of outlet o1, agent a1, on 2024-03-20 from 12:00:00 to 12:03:10 UTC (190 s), with `extra`
 * (",\"field\":value" or "") at the end. */
static const char *rec(char *buf, size_t size, const char *key, const char *id, const char *extra) {
    snprintf(buf, size,
             "{\"idempotency_key\":\"%s\",\"interaction_id\":\"%s\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\","
             "\"started_at\":\"2024-03-20T12:00:00Z\",\"ended_at\":\"2024-03-20T12:03:10Z\",\"outcome\":\"resolved\","
             "\"escalation_reason\":null,\"sentiment\":\"positive\",\"user_corrections\":0,"
             "\"messages\":{\"received\":8,\"unhandled\":1,\"ambiguous\":0,\"mismatched_ambiguous\":0,\"interventions\":0},"
             "\"counters\":{\"sms\":1},"
             "\"model_usage\":[{\"kind\":\"CONVERSATION\",\"model\":\"gpt-4o\",\"input_tokens\":5200,\"cached_tokens\":4000,"
             "\"output_tokens\":310,\"ttft_ms\":420.5,\"tool_calls_ok\":2,\"tool_calls_failed\":0}]%s}",
             key, id, extra);
    return buf;
}

/* `retry` must be `first` with "duplicate":false turned into "duplicate":true, every figure the same. */
static void same_but_duplicate_at(int line, const char *first, const char *retry) {
    check_count++;
    if (!first || !retry) { check_failures++; return; }
    char *expected = malloc(strlen(first) + 64);
    char *w = expected;
    const char *from = "\"duplicate\":false", *to = "\"duplicate\":true";
    for (const char *p = first; *p;) {
        if (strncmp(p, from, strlen(from)) == 0) {
            memcpy(w, to, strlen(to));
            w += strlen(to);
            p += strlen(from);
        } else {
            *w++ = *p++;
        }
    }
    *w = 0;
    if (strcmp(expected, retry) != 0) {
        check_failures++;
        fprintf(stderr, "%s:%d: the retry\n  gave %s\n  not   %s\n", __FILE__, line, retry, expected);
    }
    free(expected);
}
#define SAME_BUT_DUPLICATE(first, retry) same_but_duplicate_at(__LINE__, (first), (retry))

/* Removes a directory and the files in it. */
static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[4096];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            struct stat st;
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(path);
            else unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* ---- one ledger, start to end ----------------------------------------------------------------------- */

/* Figures, by docs/ledger.md: the rate card bills 190 s as first_block 60 s + 22 x 6 s = 192 s, at
 * 1 credit a minute ceil(192 x 1,000,000 / 60) = 3,200,000; tokens (1200 uncached x 2.5 + 4000 cached x
 * 1.25 + 310 out x 10 credits per million) = 11,100. Each record costs 3,211,100 micro-credits. */
#define RATE_CARD                                                                                          \
    "{\"op\":\"rate_card\",\"idempotency_key\":\"rc-1\",\"outlet_id\":\"o1\",\"rate_card\":"                \
    "{\"duration\":{\"rule\":\"first_block\",\"first_block_seconds\":60,\"increment_seconds\":6,"            \
    "\"price_per_minute\":1000000},\"tokens\":{\"input_per_million\":2500000,\"cached_per_million\":1250000," \
    "\"output_per_million\":10000000},\"low_balance_threshold\":5000000}}"

static void writes_and_queries(formi_ledger *l) {
    char j[2048], b[8192];
    CHECK(strcmp(formi_ledger_last_error(l), "") == 0);
    CHECK(INTERACTIONS(l) == 0);

    EXPECT(formi_ledger_credit, l, RATE_CARD, "\"op\":\"rate_card\"", "\"duplicate\":false");
    EXPECT(formi_ledger_credit, l, "{\"op\":\"add\",\"idempotency_key\":\"pay-1\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\",\"amount\":50000000}",
           "\"duplicate\":false", "\"balance\":50000000", "\"total_recharge\":50000000", "\"total_usage\":0");
    /* A retried rate card and a retried add change nothing. */
    EXPECT(formi_ledger_credit, l, RATE_CARD, "\"duplicate\":true");
    EXPECT(formi_ledger_credit, l, "{\"op\":\"add\",\"idempotency_key\":\"pay-1\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\",\"amount\":50000000}",
           "\"duplicate\":true", "\"balance\":50000000");

    /* One interaction, then its retry: the first result, marked duplicate, charged once. */
    char *first = ANSWER(formi_ledger_record, l, rec(j, sizeof j, "rec-1", "call-1", ""),
                         "\"success\":true", "\"duplicate\":false", "\"interaction_id\":\"call-1\"", "\"outlet_id\":\"o1\"",
                         "\"agent_id\":\"a1\"", "\"cost\":3211100", "\"charged\":3211100", "\"unpaid\":0",
                         "\"balance\":46788900", "\"events\":[]");
    char *retry = ANSWER(formi_ledger_record, l, j, "\"duplicate\":true");
    SAME_BUT_DUPLICATE(first, retry);
    formi_free(retry);
    /* The key decides: the same key with another body is still the retry of the first write. */
    retry = ANSWER(formi_ledger_record, l, rec(j, sizeof j, "rec-1", "call-other", ""), "\"duplicate\":true");
    SAME_BUT_DUPLICATE(first, retry);
    formi_free(retry);
    formi_free(first);
    FAIL(formi_ledger_query, l, "{\"query\":\"interaction\",\"interaction_id\":\"call-other\"}", FORMI_ENOTFOUND, "call-other");
    CHECK(INTERACTIONS(l) == 1);
    EXPECT(formi_ledger_query, l, "{\"query\":\"interaction\",\"interaction_id\":\"call-1\"}",
           "\"interaction_id\":\"call-1\"", "\"duration_ms\":190000", "\"billed_seconds\":192", "\"charged\":3211100");

    /* A batch of three, then its retry. */
    char r1[2048], r2[2048], r3[2048];
    rec(r1, sizeof r1, "b-1", "call-b1", "");
    rec(r2, sizeof r2, "b-2", "call-b2", ",\"agent_name\":\"Asha\"");
    rec(r3, sizeof r3, "b-3", "call-b3", ",\"provider\":\"twilio\"");
    snprintf(b, sizeof b, "[%s,%s,%s]", r1, r2, r3);
    first = ANSWER(formi_ledger_record, l, b, "{\"success\":true,\"results\":[", "\"interaction_id\":\"call-b1\"",
                   "\"interaction_id\":\"call-b2\"", "\"interaction_id\":\"call-b3\"", "\"balance\":37155600");
    CHECK(first && !strstr(first, "\"duplicate\":true"));
    retry = ANSWER(formi_ledger_record, l, b, "\"duplicate\":true", "\"balance\":37155600");
    CHECK(retry && !strstr(retry, "\"duplicate\":false"));
    SAME_BUT_DUPLICATE(first, retry);
    formi_free(first);
    formi_free(retry);
    CHECK(INTERACTIONS(l) == 4);

    /* A batch is all or nothing: a bad second record, or a conflicting one, stores none of them. */
    snprintf(b, sizeof b, "[%s,%s]", rec(r1, sizeof r1, "b-4", "call-b4", ""),
             "{\"idempotency_key\":\"b-5\",\"interaction_id\":\"call-b5\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\","
             "\"started_at\":\"2024-03-20T12:00:00Z\",\"ended_at\":\"2024-03-20T11:59:59Z\",\"outcome\":\"resolved\"}");
    FAIL(formi_ledger_record, l, b, FORMI_EINVAL, "records[1].ended_at is before started_at");
    snprintf(b, sizeof b, "[%s,%s]", rec(r1, sizeof r1, "b-4", "call-b4", ""), rec(r2, sizeof r2, "b-6", "call-1", ""));
    FAIL(formi_ledger_record, l, b, FORMI_ESTATE, "call-1");
    FAIL(formi_ledger_query, l, "{\"query\":\"interaction\",\"interaction_id\":\"call-b4\"}", FORMI_ENOTFOUND, "call-b4");
    FAIL(formi_ledger_record, l, "[]", FORMI_EINVAL, "empty");
    /* b-4 was not consumed by the failed batches: it writes now. */
    EXPECT(formi_ledger_record, l, rec(j, sizeof j, "b-4", "call-b4", ""), "\"duplicate\":false", "\"balance\":33944500");

    /* Credits: set, debit, a refused debit (nothing changes, its key stays unused), a low balance. */
    EXPECT(formi_ledger_credit, l, "{\"op\":\"set\",\"idempotency_key\":\"set-1\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\",\"amount\":40000000}",
           "\"op\":\"set\"", "\"balance\":40000000", "\"total_recharge\":56055500", "\"total_usage\":16055500");
    EXPECT(formi_ledger_credit, l, "{\"op\":\"debit\",\"idempotency_key\":\"deb-1\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\",\"amount\":1000000}",
           "\"op\":\"debit\"", "\"balance\":39000000", "\"total_usage\":17055500", "\"events\":[]");
    FAIL(formi_ledger_credit, l, "{\"op\":\"debit\",\"idempotency_key\":\"deb-2\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\",\"amount\":39000001}",
         FORMI_ELIMIT, "exceeds the balance");
    EXPECT(formi_ledger_query, l, "{\"query\":\"credits\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\"}",
           "\"available_credits\":39000000", "\"total_recharge\":56055500", "\"total_usage\":17055500");
    EXPECT(formi_ledger_credit, l, "{\"op\":\"debit\",\"idempotency_key\":\"deb-2\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\",\"amount\":34000000}",
           "\"duplicate\":false", "\"balance\":5000000", "\"events\":[]");
    EXPECT(formi_ledger_credit, l, "{\"op\":\"debit\",\"idempotency_key\":\"deb-3\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\",\"amount\":1}",
           "\"balance\":4999999", "{\"type\":\"low_balance\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\",\"balance\":4999999,\"threshold\":5000000}");

    /* Usage is a fact: recorded even when the balance cannot pay; the rest is unpaid. */
    EXPECT(formi_ledger_record, l, rec(j, sizeof j, "rec-u1", "call-u1", ""), "\"charged\":3211100", "\"balance\":1788899");
    EXPECT(formi_ledger_record, l, rec(j, sizeof j, "rec-u2", "call-u2", ""), "\"cost\":3211100", "\"charged\":1788899",
           "\"unpaid\":1422201", "\"balance\":0", "\"type\":\"insufficient_credits\"");

    /* Queries. */
    EXPECT(formi_ledger_query, l, "{\"query\":\"credits\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\"}",
           "\"success\":true", "\"unit\":\"micro-credits\"", "\"credits_type\":\"MINUTE_BASED\"", "\"available_credits\":0",
           "\"total_recharge\":56055500", "\"total_usage\":56055500");
    EXPECT(formi_ledger_query, l,
           "{\"query\":\"usage_stats\",\"agent_id\":\"a1\",\"from_date\":\"20/03/2024\",\"to_date\":\"20/03/2024\"}",
           "\"session_count\":7", "\"messages_count\":56", "\"unhandled_messages_count\":7", "\"success_rate\":87.5");
    EXPECT(formi_ledger_query, l,
           "{\"query\":\"metrics\",\"startDate\":\"2024-03-20T00:00:00Z\",\"endDate\":\"2024-03-21T00:00:00Z\"}",
           "\"totalCalls\":7", "\"dailyVolume\"", "\"hourlyDistribution\"");
    EXPECT(formi_ledger_query, l, "{\"query\":\"verify\"}", "\"success\":true", "\"ok\":true", "\"interactions\":7",
           "\"problems\":[]");
    /* The explicit length counts, not a terminating NUL: trailing bytes past it are not read. */
    const char *padded = "{\"query\":\"verify\"}GARBAGE";
    char *out = NULL;
    CHECK_STATUS(formi_ledger_query(l, padded, strlen("{\"query\":\"verify\"}"), &out), FORMI_OK);
    CHECK(out && strstr(out, "\"ok\":true"));
    formi_free(out);
}

/* ---- bad arguments ----------------------------------------------------------------------------------- */

static void bad_arguments(formi_ledger *l) {
    char j[2048];
    const char *verify = "{\"query\":\"verify\"}";
    const long count = INTERACTIONS(l);
    static const ledger_call calls[] = {formi_ledger_record, formi_ledger_credit, formi_ledger_query};

    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        /* A NULL handle: FORMI_EINVAL and *out cleared. */
        FAIL(calls[i], NULL, verify, FORMI_EINVAL, "handle is NULL");
        /* A NULL out pointer. */
        CHECK_STATUS(calls[i](l, LIT(verify), NULL), FORMI_EINVAL);
        CHECK(strstr(formi_last_error(), "out_json") && strstr(formi_ledger_last_error(l), "out_json"));
        /* NULL json with a non-zero length; and with zero length, an empty input, which is not JSON. */
        FAIL_LEN(calls[i], l, NULL, 10, FORMI_EINVAL, "json");
        FAIL_LEN(calls[i], l, NULL, 0, FORMI_EJSON, "not valid JSON");
        /* Malformed JSON, and JSON cut short by its length. */
        FAIL(calls[i], l, "{\"idempotency_key\":", FORMI_EJSON, "not valid JSON");
        FAIL_LEN(calls[i], l, verify, 5, FORMI_EJSON, "not valid JSON");
        FAIL(calls[i], l, "{\"a\":1}}", FORMI_EJSON, "not valid JSON");
        /* JSON of the wrong shape. */
        FAIL(calls[i], l, "42", FORMI_EINVAL, "must be a JSON object");
    }
    CHECK(strcmp(formi_ledger_last_error(NULL), "") == 0);
    formi_ledger_close(NULL);

    /* A NULL out pointer writes nothing, even with a good record. */
    CHECK_STATUS(formi_ledger_record(l, LIT(rec(j, sizeof j, "null-out", "call-null-out", "")), NULL), FORMI_EINVAL);
    FAIL(formi_ledger_query, l, "{\"query\":\"interaction\",\"interaction_id\":\"call-null-out\"}", FORMI_ENOTFOUND, "call-null-out");

    /* Unknown fields, at the top and nested: the message names the field. */
    FAIL(formi_ledger_record, l, rec(j, sizeof j, "bad-1", "call-bad-1", ",\"colour\":\"blue\""), FORMI_EINVAL, "\"colour\"");
    FAIL(formi_ledger_record, l,
         "{\"idempotency_key\":\"bad-2\",\"interaction_id\":\"call-bad-2\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\","
         "\"started_at\":1710936000,\"ended_at\":1710936190,\"outcome\":\"resolved\",\"messages\":{\"recieved\":3}}",
         FORMI_EINVAL, "\"recieved\"");
    FAIL(formi_ledger_credit, l, "{\"op\":\"add\",\"idempotency_key\":\"bad-3\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\",\"amount\":5,\"amuont\":5}",
         FORMI_EINVAL, "\"amuont\"");
    FAIL(formi_ledger_query, l, "{\"query\":\"credits\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\",\"form_date\":\"01/01/2024\"}",
         FORMI_EINVAL, "\"form_date\"");
    FAIL(formi_ledger_query, l, "{\"query\":\"verify\",\"deep\":true}", FORMI_EINVAL, "\"deep\"");

    /* Missing, mistyped and out-of-range fields. */
    FAIL(formi_ledger_record, l, "{\"interaction_id\":\"call-bad-4\"}", FORMI_EINVAL, "idempotency_key is required");
    FAIL(formi_ledger_record, l,
         "{\"idempotency_key\":\"bad-5\",\"interaction_id\":\"call-bad-5\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\","
         "\"started_at\":1710936000,\"ended_at\":1710936190,\"outcome\":\"won\"}",
         FORMI_EINVAL, "outcome");
    FAIL(formi_ledger_credit, l, "{\"op\":\"add\",\"idempotency_key\":\"bad-6\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\",\"amount\":0}",
         FORMI_EINVAL, "amount");
    FAIL(formi_ledger_credit, l, "{\"op\":\"add\",\"idempotency_key\":\"bad-7\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\",\"amount\":\"5\"}",
         FORMI_EINVAL, "amount");
    FAIL(formi_ledger_credit, l, "{\"op\":\"refund\",\"idempotency_key\":\"bad-8\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\",\"amount\":5}",
         FORMI_EINVAL, "refund");

    /* End before start. */
    FAIL(formi_ledger_record, l,
         "{\"idempotency_key\":\"bad-9\",\"interaction_id\":\"call-bad-9\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\","
         "\"started_at\":\"2024-03-20T12:00:00Z\",\"ended_at\":\"2024-03-20T11:00:00Z\",\"outcome\":\"resolved\"}",
         FORMI_EINVAL, "ended_at is before started_at");
    FAIL(formi_ledger_query, l, "{\"query\":\"usage_stats\",\"from_date\":\"03/04/2024\",\"to_date\":\"01/04/2024\"}",
         FORMI_EINVAL, "To Date cannot be before From Date");

    /* An interaction id already recorded under another key. */
    FAIL(formi_ledger_record, l, rec(j, sizeof j, "another-key", "call-1", ""), FORMI_ESTATE, "call-1");

    /* Unknown query; unknown interaction. */
    FAIL(formi_ledger_query, l, "{\"query\":\"everything\"}", FORMI_ENOTFOUND, "everything");
    FAIL(formi_ledger_query, l, "{\"query\":\"interaction\",\"interaction_id\":\"nobody\"}", FORMI_ENOTFOUND, "nobody");

    /* The handle's message is the last failure's; a success after it answers normally. */
    EXPECT(formi_ledger_query, l, verify, "\"ok\":true");
    CHECK(INTERACTIONS(l) == count);
}

/* ---- files ------------------------------------------------------------------------------------------- */

static void on_a_file(const char *dir) {
    char path[4096], j[2048];
    snprintf(path, sizeof path, "%s/ledger.db", dir);
    int status = 1;
    formi_ledger *l = formi_ledger_open(path, &status);
    CHECK(l != NULL && status == FORMI_OK);
    if (!l) return;
    writes_and_queries(l);
    bad_arguments(l);

    /* A second handle on the same file sees the first one's writes. */
    formi_ledger *other = formi_ledger_open(path, NULL);
    CHECK(other != NULL);
    EXPECT(formi_ledger_record, l, rec(j, sizeof j, "two-handles", "call-two", ""), "\"duplicate\":false");
    EXPECT(formi_ledger_query, other, "{\"query\":\"interaction\",\"interaction_id\":\"call-two\"}", "\"interaction_id\":\"call-two\"");
    EXPECT(formi_ledger_record, other, j, "\"duplicate\":true");
    formi_ledger_close(other);
    formi_ledger_close(l);

    /* Reopened, everything is there, and a retry still answers the first result. */
    l = formi_ledger_open(path, &status);
    CHECK(l != NULL && status == FORMI_OK);
    if (!l) return;
    CHECK(INTERACTIONS(l) == 8);
    EXPECT(formi_ledger_record, l, rec(j, sizeof j, "rec-1", "call-1", ""), "\"duplicate\":true", "\"cost\":3211100",
           "\"balance\":46788900");
    EXPECT(formi_ledger_query, l, "{\"query\":\"credits\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\"}", "\"available_credits\":0");

    /* A full disk mid-write (the file size limit stands in for it): FORMI_ESTORAGE, nothing half
     * written, and the ledger works again once there is room. */
    struct rlimit saved, tiny;
    if (getrlimit(RLIMIT_FSIZE, &saved) == 0) {
        void (*previous)(int) = signal(SIGXFSZ, SIG_IGN);
        long before = INTERACTIONS(l);
        tiny = saved;
        tiny.rlim_cur = 4096;
        CHECK(setrlimit(RLIMIT_FSIZE, &tiny) == 0);
        char *out = NULL;
        int full = formi_ledger_record(l, LIT(rec(j, sizeof j, "full-1", "call-full-1", "")), &out);
        char message[512];
        snprintf(message, sizeof message, "%s", formi_ledger_last_error(l));
        CHECK(setrlimit(RLIMIT_FSIZE, &saved) == 0);
        signal(SIGXFSZ, previous);
        CHECK(full == FORMI_ESTORAGE && out == NULL && strstr(message, "storage") != NULL);
        if (full != FORMI_ESTORAGE) fprintf(stderr, "full disk: gave %d: %s\n", full, out ? out : message);
        formi_free(out);
        CHECK(INTERACTIONS(l) == before);
        FAIL(formi_ledger_query, l, "{\"query\":\"interaction\",\"interaction_id\":\"call-full-1\"}", FORMI_ENOTFOUND, "call-full-1");
        EXPECT(formi_ledger_record, l, rec(j, sizeof j, "full-1", "call-full-1", ""), "\"duplicate\":false");
        CHECK(INTERACTIONS(l) == before + 1);
    }
    formi_ledger_close(l);
}

static void storage_errors(const char *dir) {
    char path[4200], sub[4096];
    int status = 0;

    /* An empty path. */
    status = 0;
    CHECK(formi_ledger_open("", &status) == NULL && status == FORMI_EINVAL);
    CHECK(strstr(formi_last_error(), "empty") != NULL);

    /* A directory that does not exist. */
    snprintf(path, sizeof path, "%s/missing/ledger.db", dir);
    status = 0;
    CHECK(formi_ledger_open(path, &status) == NULL && status == FORMI_ESTORAGE);
    CHECK(formi_ledger_open(path, NULL) == NULL);

    /* A file that is not a database: refused, and left as it was. */
    snprintf(path, sizeof path, "%s/garbage.db", dir);
    unsigned char garbage[4096];
    for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (unsigned char)(i * 131 + 7);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(garbage, 1, sizeof garbage, f) == sizeof garbage);
    if (f) fclose(f);
    status = 0;
    CHECK(formi_ledger_open(path, &status) == NULL && status == FORMI_ESTORAGE);
    CHECK(strstr(formi_last_error(), "not a database") != NULL);
    if (!strstr(formi_last_error(), "not a database")) fprintf(stderr, "  garbage file: %s\n", formi_last_error());
    unsigned char back[sizeof garbage + 1];
    f = fopen(path, "rb");
    CHECK(f && fread(back, 1, sizeof back, f) == sizeof garbage && memcmp(back, garbage, sizeof garbage) == 0);
    if (f) fclose(f);

    /* A read-only ledger: the file 0444 in a directory 0444 (the file cannot be reached), 0555 (it can,
     * but SQLite cannot make its -wal and -shm files) and 0755 (it can make them). Each open must fail
     * with FORMI_ESTORAGE ("cannot be written"); should one open all the same, its writes must fail and
     * change nothing. As root chmod stops nothing: that part is skipped. */
    snprintf(sub, sizeof sub, "%s/readonly", dir);
    snprintf(path, sizeof path, "%s/ledger.db", sub);
    CHECK(mkdir(sub, 0755) == 0);
    formi_ledger *l = formi_ledger_open(path, &status);
    CHECK(l != NULL);
    char j[2048];
    EXPECT(formi_ledger_record, l, rec(j, sizeof j, "ro-1", "call-ro-1", ""), "\"duplicate\":false");
    formi_ledger_close(l);
    CHECK(chmod(path, 0444) == 0 && chmod(sub, 0444) == 0);
    if (geteuid() == 0 || access(path, W_OK) == 0) {
        printf("test_ledger: running as root (uid %d), where chmod does not stop writes: read-only part skipped\n",
               (int)geteuid());
    } else {
        static const mode_t dir_modes[] = {0444, 0555, 0755};
        for (size_t i = 0; i < sizeof dir_modes / sizeof dir_modes[0]; i++) {
            CHECK(chmod(sub, dir_modes[i]) == 0);
            status = 0;
            l = formi_ledger_open(path, &status);
            check_count++;
            if (l != NULL || status != FORMI_ESTORAGE) {
                check_failures++;
                fprintf(stderr, "%s:%d: a read-only ledger in a %04o directory opened: handle %s, status %d\n", __FILE__,
                        __LINE__, (unsigned)dir_modes[i], l ? "non-NULL" : "NULL", status);
            } else {
                printf("test_ledger: read-only ledger, %04o directory: %s\n", (unsigned)dir_modes[i], formi_last_error());
            }
            if (l) {
                FAIL(formi_ledger_record, l, rec(j, sizeof j, "ro-2", "call-ro-2", ""), FORMI_ESTORAGE, "readonly");
                FAIL(formi_ledger_credit, l,
                     "{\"op\":\"add\",\"idempotency_key\":\"ro-3\",\"outlet_id\":\"o1\",\"agent_id\":\"a1\",\"amount\":5}",
                     FORMI_ESTORAGE, "readonly");
                CHECK(INTERACTIONS(l) == 1);
                formi_ledger_close(l);
            }
        }
    }
    /* Writable again (a read-only open may leave -wal and -shm files with the database's 0444 mode:
     * those too), the ledger is intact, with its one interaction. */
    CHECK(chmod(sub, 0755) == 0);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char file[4300];
        snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
        if (access(file, F_OK) == 0) CHECK(chmod(file, 0644) == 0);
    }
    l = formi_ledger_open(path, &status);
    CHECK(l != NULL && status == FORMI_OK);
    if (l) {
        CHECK(INTERACTIONS(l) == 1);
        EXPECT(formi_ledger_record, l, rec(j, sizeof j, "ro-2", "call-ro-2", ""), "\"duplicate\":false");
        CHECK(INTERACTIONS(l) == 2);
        formi_ledger_close(l);
    }
}

int main(void) {
    int status = 1;
    formi_ledger *memory = formi_ledger_open(NULL, &status);
    CHECK(memory != NULL && status == FORMI_OK);
    if (memory) {
        writes_and_queries(memory);
        bad_arguments(memory);
        formi_ledger_close(memory);
    }

    char dir[] = "/tmp/formi-ledger-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    on_a_file(dir);
    storage_errors(dir);
    remove_tree(dir);
    return check_report("test_ledger");
}
