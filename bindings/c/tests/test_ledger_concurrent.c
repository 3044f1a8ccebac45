/* Several processes on one ledger file: ordinary concurrency must never fail a write.
 *
 *  1. Another process holds the write lock for 5.5 s (longer than SQLite's usual 5 s timeout): a write
 *     waits for it and succeeds.
 *  2. With a busy timeout of 300 ms, a lock held for 1.5 s gives FORMI_EBUSY after about 300 ms, having
 *     stored nothing: the same write retried once the lock is gone is stored, not a duplicate.
 *  3. Three writer processes (records, and a credit operation every tenth write) and two reader
 *     processes (queries) run on one file for the given time. No call may fail; afterwards every
 *     acknowledged record is there and `verify` is ok. Prints writes done, failures and the longest wait.
 *
 *   test_ledger_concurrent [seconds]   (default: $FORMI_CONCURRENT_SECONDS, else 10)
 *   test_ledger_concurrent seconds postgresql://... [writers]
 *     the same on a ledger in an empty PostgreSQL database: step 3 only, with `writers` writer
 *     processes (default 8), each on its own connection; `verify` rebuilds every balance and roll-up
 *     from the stored facts, so a lost update fails it.
 *
 * Not for valgrind (processes and timing). Links SQLite itself to hold a lock as another program would. */
#define _XOPEN_SOURCE 700 /* fork, mkdtemp */
#include <formi.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "check.h"

#define LIT(s) (s), strlen(s)
#define MAX_WRITERS 64
#define READERS 2
static int WRITERS = 3;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int record_json(char *buf, size_t size, const char *id, long n) {
    long start = 1710000000 + n % 100000 * 613;
    return snprintf(buf, size,
                    "{\"idempotency_key\":\"rec-%s\",\"interaction_id\":\"call-%s\",\"outlet_id\":\"o%ld\","
                    "\"agent_id\":\"a%ld\",\"started_at\":%ld,\"ended_at\":%ld,\"outcome\":\"resolved\","
                    "\"messages\":{\"received\":%ld,\"unhandled\":1},"
                    "\"model_usage\":[{\"kind\":\"CONVERSATION\",\"input_tokens\":%ld,\"output_tokens\":%ld}]}",
                    id, id, n % 3, n % 2, start, start + 30 + n % 500, 2 + n % 9, 500 + n % 3000, 40 + n % 200);
}

/* A child that takes the write lock with SQLite directly, says so on `ready`, holds it, and commits. */
static pid_t hold_lock(const char *path, double seconds) {
    int ready[2];
    if (pipe(ready) != 0) return -1;
    pid_t child = fork();
    if (child == 0) {
        close(ready[0]);
        sqlite3 *db = NULL;
        if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            _exit(2);
        if (write(ready[1], "x", 1) != 1) _exit(3);
        struct timespec hold = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
        nanosleep(&hold, NULL);
        _exit(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK && sqlite3_close(db) == SQLITE_OK ? 0 : 4);
    }
    close(ready[1]);
    char c;
    if (child < 0 || read(ready[0], &c, 1) != 1) child = -1;
    close(ready[0]);
    return child;
}

static int reaped_ok(pid_t child) {
    int status = 0;
    return child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_waits_for_a_long_lock(const char *path) {
    formi_ledger *l = formi_ledger_open(path, NULL);
    CHECK(l != NULL);
    pid_t holder = hold_lock(path, 5.5);
    CHECK(holder > 0);
    char json[1024], *out = NULL;
    record_json(json, sizeof json, "long-lock", 1);
    double t0 = now_s();
    CHECK_STATUS(formi_ledger_record(l, LIT(json), &out), FORMI_OK);
    double waited = now_s() - t0;
    printf("a write behind a lock held 5.5 s waited %.2f s and succeeded\n", waited);
    CHECK(waited > 5.0);
    formi_free(out);
    CHECK(reaped_ok(holder));
    formi_ledger_close(l);
}

static void test_busy_timeout(const char *path) {
    formi_ledger *l = formi_ledger_open(path, NULL);
    CHECK(l != NULL);
    CHECK_STATUS(formi_ledger_set_busy_timeout(l, -1), FORMI_EINVAL);
    CHECK_STATUS(formi_ledger_set_busy_timeout(NULL, 10), FORMI_EINVAL);
    CHECK_STATUS(formi_ledger_set_busy_timeout(l, 300), FORMI_OK);
    pid_t holder = hold_lock(path, 1.5);
    CHECK(holder > 0);
    char json[1024], *out = NULL;
    record_json(json, sizeof json, "busy", 2);
    double t0 = now_s();
    CHECK_STATUS(formi_ledger_record(l, LIT(json), &out), FORMI_EBUSY);
    double waited = now_s() - t0;
    CHECK(out == NULL);
    CHECK(waited > 0.25 && waited < 1.2);
    CHECK(strstr(formi_ledger_last_error(l), "busy") != NULL);
    CHECK(strcmp(formi_strerror(FORMI_EBUSY), formi_strerror(FORMI_ESTORAGE)) != 0);
    /* Queries wait, and give up, the same way: a read needs no lock in WAL mode, so this one answers. */
    CHECK_STATUS(formi_ledger_query(l, LIT("{\"query\":\"verify\"}"), &out), FORMI_OK);
    formi_free(out);
    out = NULL;
    CHECK(reaped_ok(holder));
    /* Nothing of the refused write was stored: its retry is the first write under that key. */
    CHECK_STATUS(formi_ledger_record(l, LIT(json), &out), FORMI_OK);
    CHECK(out && strstr(out, "\"duplicate\":false"));
    formi_free(out);
    formi_ledger_close(l);
}

/* One writer or reader process: works until `until`, then prints "ok failed max_wait_us records over_1s
 * over_5s" on `report` (calls that took more than 1 s, 5 s). */
static void worker(const char *path, int writer, int index, double until, int report) {
    formi_ledger *l = formi_ledger_open(path, NULL);
    if (!l) _exit(2);
    long ok = 0, failed = 0, records = 0, over1 = 0, over5 = 0;
    double longest = 0;
    char json[1024], id[64], *out = NULL;
    for (long n = 0; now_s() < until; n++) {
        int status;
        double t0 = now_s();
        if (!writer) {
            if (n % 2 == 0) snprintf(json, sizeof json, "{\"query\":\"credits\",\"outlet_id\":\"o%ld\",\"agent_id\":\"a%ld\"}", n % 3, n % 2);
            else snprintf(json, sizeof json, "{\"query\":\"interaction_utilisation\",\"group_by\":\"AGENT\",\"from_date\":\"01/01/2024\",\"to_date\":\"31/12/2024\"}");
            status = formi_ledger_query(l, LIT(json), &out);
        } else if (n % 10 == 9) {
            snprintf(json, sizeof json, "{\"op\":\"add\",\"idempotency_key\":\"pay-%d-%ld\",\"outlet_id\":\"o%ld\",\"agent_id\":\"a%ld\",\"amount\":1000}",
                     index, n, n % 3, n % 2);
            status = formi_ledger_credit(l, LIT(json), &out);
        } else {
            snprintf(id, sizeof id, "w%d-%ld", index, n);
            record_json(json, sizeof json, id, n);
            status = formi_ledger_record(l, LIT(json), &out);
        }
        double waited = now_s() - t0;
        if (waited > longest) longest = waited;
        over1 += waited > 1, over5 += waited > 5;
        formi_free(out);
        out = NULL;
        if (status == FORMI_OK) {
            ok++;
            records += writer && n % 10 != 9;
        } else {
            if (failed++ < 5) fprintf(stderr, "%s %d: call %ld failed after %.3f s: %s: %s\n", writer ? "writer" : "reader",
                                      index, n, waited, formi_strerror(status), formi_ledger_last_error(l));
        }
    }
    formi_ledger_close(l);
    dprintf(report, "%ld %ld %ld %ld %ld %ld\n", ok, failed, (long)(longest * 1e6), records, over1, over5);
    _exit(0);
}

static void test_concurrent_writers(const char *path, double seconds) {
    int pipes[MAX_WRITERS + READERS][2];
    pid_t children[MAX_WRITERS + READERS];
    double until = now_s() + seconds;
    for (int i = 0; i < WRITERS + READERS; i++) {
        if (pipe(pipes[i]) != 0) { CHECK(0); return; }
        children[i] = fork();
        if (children[i] == 0) worker(path, i < WRITERS, i, until, pipes[i][1]);
        close(pipes[i][1]);
    }
    long writes = 0, write_failures = 0, reads = 0, read_failures = 0, longest_write = 0, longest_read = 0, records = 0;
    long writes_over1 = 0, writes_over5 = 0;
    for (int i = 0; i < WRITERS + READERS; i++) {
        char line[128] = {0};
        ssize_t n = read(pipes[i][0], line, sizeof line - 1);
        close(pipes[i][0]);
        CHECK(reaped_ok(children[i]));
        long ok = 0, failed = 0, longest = 0, recorded = 0, over1 = 0, over5 = 0;
        CHECK(n > 0 && sscanf(line, "%ld %ld %ld %ld %ld %ld", &ok, &failed, &longest, &recorded, &over1, &over5) == 6);
        if (i < WRITERS) {
            writes += ok, write_failures += failed, records += recorded, writes_over1 += over1, writes_over5 += over5;
            if (longest > longest_write) longest_write = longest;
        } else {
            reads += ok, read_failures += failed;
            if (longest > longest_read) longest_read = longest;
        }
    }
    printf("concurrent ledger, %d writers + %d readers for %.0f s: %ld writes, %ld failed, longest write %.1f ms "
           "(%ld over 1 s, %ld over 5 s); %ld reads, %ld failed, longest read %.1f ms\n",
           WRITERS, READERS, seconds, writes, write_failures, longest_write / 1e3, writes_over1, writes_over5,
           reads, read_failures, longest_read / 1e3);
    CHECK(write_failures == 0 && read_failures == 0);
    CHECK(writes > 0 && reads > 0);

    /* Every acknowledged write is there, and the roll-ups agree with what is stored. */
    formi_ledger *l = formi_ledger_open(path, NULL);
    CHECK(l != NULL);
    char *out = NULL;
    CHECK_STATUS(formi_ledger_query(l, LIT("{\"query\":\"verify\"}"), &out), FORMI_OK);
    CHECK(out && strstr(out, "\"ok\":true"));
    long interactions = -1;
    const char *count = out ? strstr(out, "\"interactions\":") : NULL;
    if (count) interactions = strtol(count + strlen("\"interactions\":"), NULL, 10);
    /* Each acknowledged record once (the two of the lock tests too), and no other. */
    if (interactions != 2 + records) fprintf(stderr, "%ld interactions stored, %ld acknowledged\n", interactions, 2 + records);
    CHECK(interactions == 2 + records);
    formi_free(out);
    formi_ledger_close(l);
}

int main(int argc, char **argv) {
    const char *env = getenv("FORMI_CONCURRENT_SECONDS");
    double seconds = argc > 1 ? atof(argv[1]) : env ? atof(env) : 10;
    if (seconds <= 0) seconds = 10;
    if (argc > 2) { /* a PostgreSQL database */
        WRITERS = argc > 3 ? atoi(argv[3]) : 8;
        if (WRITERS < 1 || WRITERS > MAX_WRITERS) return 2;
        formi_ledger *l = formi_ledger_open(argv[2], NULL);
        CHECK(l != NULL);
        char *out = NULL;
        CHECK_STATUS(formi_ledger_record(l, LIT("{\"idempotency_key\":\"first\",\"interaction_id\":\"first\",\"outlet_id\":\"o1\","
                                             "\"agent_id\":\"a1\",\"started_at\":1710000000,\"ended_at\":1710000060,\"outcome\":\"resolved\"}"), &out), FORMI_OK);
        formi_free(out);
        CHECK_STATUS(formi_ledger_record(l, LIT("{\"idempotency_key\":\"second\",\"interaction_id\":\"second\",\"outlet_id\":\"o1\","
                                             "\"agent_id\":\"a1\",\"started_at\":1710000000,\"ended_at\":1710000060,\"outcome\":\"resolved\"}"), &out), FORMI_OK);
        formi_free(out);
        formi_ledger_close(l);
        test_concurrent_writers(argv[2], seconds);
        return check_report("test_ledger_concurrent (PostgreSQL)");
    }
    char dir[] = "/tmp/formi-concurrent-XXXXXX";
    if (!mkdtemp(dir)) return 2;
    char path[128];
    snprintf(path, sizeof path, "%s/ledger.db", dir);

    formi_ledger *l = formi_ledger_open(path, NULL); /* created once, before anyone races to create it */
    CHECK(l != NULL);
    formi_ledger_close(l);
    test_waits_for_a_long_lock(path);
    test_busy_timeout(path);
    test_concurrent_writers(path, seconds);

    char command[200];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_ledger_concurrent");
}
