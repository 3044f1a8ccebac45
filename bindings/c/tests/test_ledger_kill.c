/* The kill test of the usage ledger: "Killing the process at any instant loses no acknowledged write
 * and never leaves a half-applied one; a test does exactly that, repeatedly, from a child process."
 *
 * Each round forks a child that opens the ledger file and writes without pause: single records, batches
 * of 20 records and credit `add` operations, each under an idempotency key made of the round and a
 * counter. After a call returns FORMI_OK the child writes the keys it acknowledged to a pipe, one line
 * each. The parent lets it run a random 5-200 ms, SIGKILLs it, reads every acknowledgement, reopens the
 * ledger and checks: each acknowledged record is there; each acknowledged credit operation is there
 * (its retry answers "duplicate": true, with the same amount); `verify` is ok (roll-ups and balances
 * agree with what is stored: nothing half applied); and the write in flight at the kill landed whole or
 * not at all (a batch: all 20 records or none). The next round goes on with the same file.
 *
 *   test_ledger_kill [rounds (default 25)] [seed] [postgresql://...]
 * With a URL the ledger is in that (empty) PostgreSQL database: the child is killed with its connection
 * open, mid-transaction or not, and the server must keep exactly what it acknowledged.
 *
 * Not for valgrind (fork and kill under memcheck are slow); run it directly. */
#define _XOPEN_SOURCE 700 /* fork, kill, mkdtemp, poll, strtok_r under -std=c11 */
#include <formi.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "check.h"

/* A string literal as a (pointer, length) pair. */
#define LIT(s) (s), strlen(s)

#define BATCH 20
#define OUTLETS 3

/* What the child's write number `c` is: two single records, a batch, a credit operation, and again. */
enum kind { SINGLE, BATCH_OF_20, CREDIT };
static enum kind kind_of(long c) { return c % 4 == 1 ? BATCH_OF_20 : c % 4 == 3 ? CREDIT : SINGLE; }

/* Record k of write c in round r (k = -1: a single record): key rec-r-c[-k], interaction call-r-c[-k].
 * Start times spread over hours and days, so every roll-up level is written. */
static int record_json(char *buf, size_t size, int r, long c, int k) {
    char id[64];
    if (k < 0) snprintf(id, sizeof id, "%d-%ld", r, c);
    else snprintf(id, sizeof id, "%d-%ld-%d", r, c, k);
    long n = ((long)r * 100000 + c) * (BATCH + 1) + k + 1, start = 1710000000 + n % 200000 * 617; /* within 4 years */
    static const char *outcomes[] = {"resolved", "transferred", "abandoned", "other"};
    return snprintf(buf, size,
                    "{\"idempotency_key\":\"rec-%s\",\"interaction_id\":\"call-%s\",\"outlet_id\":\"o%ld\","
                    "\"agent_id\":\"a%ld\",\"started_at\":%ld,\"ended_at\":%ld.%03ld,\"outcome\":\"%s\","
                    "\"escalation_reason\":%s,\"messages\":{\"received\":%ld,\"unhandled\":%ld},"
                    "\"model_usage\":[{\"kind\":\"CONVERSATION\",\"input_tokens\":%ld,\"cached_tokens\":%ld,\"output_tokens\":%ld}]}",
                    id, id, n % OUTLETS, n % 2, start, start + n % 600, n % 1000,
                    outcomes[n % 4], n % 5 == 0 ? "\"no answer\"" : "null", 3 + n % 9, n % 3, 900 + n % 4000,
                    n % 900, 50 + n % 300);
}

/* Write c of round r as a batch: the JSON array of its 20 records. */
static void batch_json(char *buf, size_t size, int r, long c) {
    size_t used = 0;
    buf[used++] = '[';
    for (int k = 0; k < BATCH; k++) {
        if (k > 0) buf[used++] = ',';
        used += (size_t)record_json(buf + used, size - used, r, c, k);
    }
    buf[used++] = ']';
    buf[used] = 0;
}

/* The credit operation of write c in round r: key add-r-c. */
static long credit_amount(long c) { return 1000000 + c; }
static int credit_json(char *buf, size_t size, int r, long c) {
    return snprintf(buf, size,
                    "{\"op\":\"add\",\"idempotency_key\":\"add-%d-%ld\",\"outlet_id\":\"o%ld\",\"agent_id\":\"a%ld\",\"amount\":%ld}",
                    r, c, c % OUTLETS, c % 2, credit_amount(c));
}

/* ---- the child ---------------------------------------------------------------------------------------- */

static void say(int fd, const char *text, size_t len) {
    /* One write(2) per acknowledged call: up to PIPE_BUF bytes go into a pipe whole. */
    while (len > 0) {
        ssize_t n = write(fd, text, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) _exit(4);
        text += n;
        len -= (size_t)n;
    }
}

_Noreturn static void child(const char *path, int r, int fd) {
    int status = 0;
    formi_ledger *l = formi_ledger_open(path, &status);
    if (!l) {
        char line[600];
        int n = snprintf(line, sizeof line, "E open %d %s\n", status, formi_last_error());
        say(fd, line, (size_t)n);
        _exit(2);
    }
    static char json[(BATCH + 1) * 700], acks[BATCH * 40 + 64];
    for (long c = 0;; c++) {
        size_t said = 0;
        int result;
        char *out = NULL;
        switch (kind_of(c)) {
        case SINGLE:
            record_json(json, sizeof json, r, c, -1);
            result = formi_ledger_record(l, LIT(json), &out);
            said = (size_t)snprintf(acks, sizeof acks, "rec-%d-%ld\n", r, c);
            break;
        case BATCH_OF_20:
            batch_json(json, sizeof json, r, c);
            result = formi_ledger_record(l, LIT(json), &out);
            for (int k = 0; k < BATCH; k++) said += (size_t)snprintf(acks + said, sizeof acks - said, "rec-%d-%ld-%d\n", r, c, k);
            break;
        default:
            credit_json(json, sizeof json, r, c);
            result = formi_ledger_credit(l, LIT(json), &out);
            said = (size_t)snprintf(acks, sizeof acks, "add-%d-%ld\n", r, c);
            break;
        }
        formi_free(out);
        if (result != FORMI_OK) {
            said = (size_t)snprintf(acks, sizeof acks, "E write %ld: %d %s\n", c, result, formi_ledger_last_error(l));
            say(fd, acks, said);
            _exit(3);
        }
        say(fd, acks, said);
    }
}

/* ---- the parent --------------------------------------------------------------------------------------- */

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Appends what is ready on `fd` to *buf, waiting at most `wait_ms` (-1: until end of file). Returns 0 at
 * end of file. */
static int drain(int fd, char **buf, size_t *len, size_t *cap, int wait_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int ready = poll(&p, 1, wait_ms);
    if (ready <= 0) return 1;
    if (*cap - *len < 65536) {
        *cap = *cap * 2 + 65536;
        *buf = realloc(*buf, *cap);
        if (!*buf) { perror("realloc"); exit(2); }
    }
    ssize_t n = read(fd, *buf + *len, *cap - *len - 1);
    if (n < 0 && errno == EINTR) return 1;
    if (n <= 0) return 0;
    *len += (size_t)n;
    return 1;
}

/* The interaction count of `verify`, after checking that it says ok; -1 when it does not. */
static long verified_count(formi_ledger *l) {
    char *out = NULL;
    int status = formi_ledger_query(l, LIT("{\"query\":\"verify\"}"), &out);
    const char *count = out ? strstr(out, "\"interactions\":") : NULL;
    long n = -1;
    if (status == FORMI_OK && out && strstr(out, "\"ok\":true") && count) {
        n = strtol(count + strlen("\"interactions\":"), NULL, 10);
    } else {
        fprintf(stderr, "verify gave %d: %s (%s)\n", status, out ? out : "(null)", formi_ledger_last_error(l));
    }
    formi_free(out);
    return n;
}

static int has_interaction(formi_ledger *l, const char *id) {
    char query[200], *out = NULL;
    snprintf(query, sizeof query, "{\"query\":\"interaction\",\"interaction_id\":\"%s\"}", id);
    int status = formi_ledger_query(l, LIT(query), &out);
    int found = status == FORMI_OK && out && strstr(out, id) != NULL;
    if (status != FORMI_OK && status != FORMI_ENOTFOUND) {
        fprintf(stderr, "query %s gave %d: %s\n", id, status, formi_ledger_last_error(l));
    }
    formi_free(out);
    return found;
}

/* Rate cards (so records charge balances) and a first credit for every outlet and agent. */
static void setup(const char *path) {
    int status = 0;
    formi_ledger *l = formi_ledger_open(path, &status);
    CHECK(l != NULL);
    if (!l) return;
    char json[600], *out = NULL;
    for (int o = 0; o < OUTLETS; o++) {
        snprintf(json, sizeof json,
                 "{\"op\":\"rate_card\",\"idempotency_key\":\"card-%d\",\"outlet_id\":\"o%d\",\"rate_card\":"
                 "{\"duration\":{\"rule\":\"%s\",\"increment_seconds\":6,\"first_block_seconds\":30,\"price_per_minute\":%d},"
                 "\"tokens\":{\"input_per_million\":2500000,\"cached_per_million\":1250000,\"output_per_million\":10000000},"
                 "\"allow_negative\":%s,\"low_balance_threshold\":5000000}}",
                 o, o, o == 0 ? "per_second" : o == 1 ? "increments" : "first_block", 400000 + o * 100000,
                 o == 2 ? "true" : "false");
        CHECK_STATUS(formi_ledger_credit(l, LIT(json), &out), FORMI_OK);
        formi_free(out);
        for (int a = 0; a < 2; a++) {
            snprintf(json, sizeof json,
                     "{\"op\":\"add\",\"idempotency_key\":\"start-%d-%d\",\"outlet_id\":\"o%d\",\"agent_id\":\"a%d\",\"amount\":20000000}",
                     o, a, o, a);
            CHECK_STATUS(formi_ledger_credit(l, LIT(json), &out), FORMI_OK);
            formi_free(out);
        }
    }
    formi_ledger_close(l);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 25;
    unsigned seed = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
    if (rounds < 1) {
        fprintf(stderr, "usage: %s [rounds] [seed]\n", argv[0]);
        return 2;
    }
    srand(seed);
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    const char *url = argc > 3 ? argv[3] : NULL;
    char dir[4096] = "", path[4200];
    if (url) {
        snprintf(path, sizeof path, "%s", url);
    } else {
        snprintf(dir, sizeof dir, "%s/formi-ledger-kill-XXXXXX", tmp);
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 2;
        }
        snprintf(path, sizeof path, "%s/ledger.db", dir);
    }
    printf("kill test: %d rounds, seed %u (rerun: %s %d %u), ledger %s\n", rounds, seed, argv[0], rounds, seed, path);
    fflush(stdout);
    setup(path);

    long acked_writes = 0, acked_records = 0, acked_credits = 0, stored = 0;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    for (int r = 0; r < rounds && buf; r++) {
        int fds[2];
        if (pipe(fds) != 0) { perror("pipe"); return 2; }
        int wait_ms = 5 + rand() % 196;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 2; }
        if (pid == 0) {
            close(fds[0]);
            child(path, r, fds[1]);
        }
        close(fds[1]);

        /* Let it write for wait_ms, reading its acknowledgements meanwhile (a full pipe would stall it). */
        len = 0;
        double deadline = now_ms() + wait_ms;
        for (double left; (left = deadline - now_ms()) > 0;) {
            if (!drain(fds[0], &buf, &len, &cap, (int)left + 1)) break;
        }
        kill(pid, SIGKILL);
        int wstatus = 0;
        waitpid(pid, &wstatus, 0);
        while (drain(fds[0], &buf, &len, &cap, -1)) {}
        close(fds[0]);
        buf[len] = 0;
        int killed = WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL;
        CHECK(killed);
        if (!killed) fprintf(stderr, "round %d: the child was not killed but ended (wait status %#x)\n", r, wstatus);

        /* Check every acknowledgement against the reopened ledger. */
        int status = 0;
        formi_ledger *l = formi_ledger_open(path, &status);
        CHECK(l != NULL);
        if (!l) { fprintf(stderr, "round %d: reopening gave %d: %s\n", r, status, formi_last_error()); break; }
        long writes = 0, records = 0, credits = 0, missing = 0, last = -1, last_single = -1, last_batch = -1;
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            int lr = -1, k = -1;
            long c = -1;
            char id[80], json[600], *out = NULL;
            if (line[0] == 'E') {
                CHECK(0);
                fprintf(stderr, "round %d: the child failed: %s\n", r, line);
            } else if (sscanf(line, "rec-%d-%ld-%d", &lr, &c, &k) >= 2 && lr == r) {
                snprintf(id, sizeof id, "call-%s", line + 4);
                records++;
                if (k <= 0) writes++;
                if (k < 0) last_single = c;
                else last_batch = c;
                if (!has_interaction(l, id)) {
                    missing++;
                    fprintf(stderr, "round %d: acknowledged record %s is missing\n", r, id);
                }
            } else if (sscanf(line, "add-%d-%ld", &lr, &c) == 2 && lr == r) {
                credits++;
                writes++;
                credit_json(json, sizeof json, r, c);
                char amount[64];
                snprintf(amount, sizeof amount, "\"amount\":%ld", credit_amount(c));
                int s = formi_ledger_credit(l, LIT(json), &out);
                if (s != FORMI_OK || !out || !strstr(out, "\"duplicate\":true") || !strstr(out, amount)) {
                    missing++;
                    fprintf(stderr, "round %d: acknowledged credit add-%d-%ld retried: %d %s\n", r, r, c, s,
                            out ? out : formi_ledger_last_error(l));
                }
                formi_free(out);
            } else {
                CHECK(0);
                fprintf(stderr, "round %d: unexpected line from the child: %s\n", r, line);
            }
            if (c > last) last = c;
        }
        CHECK(missing == 0);

        /* The write in flight at the kill (the one after the last acknowledged) landed whole or not at all. */
        long next = last + 1, landed = 0;
        char id[80], *out = NULL;
        if (kind_of(next) == BATCH_OF_20) {
            for (int k = 0; k < BATCH; k++) {
                snprintf(id, sizeof id, "call-%d-%ld-%d", r, next, k);
                landed += has_interaction(l, id);
            }
            CHECK(landed == 0 || landed == BATCH);
            if (landed != 0 && landed != BATCH) fprintf(stderr, "round %d: half a batch: %ld of %d records\n", r, landed, BATCH);
        } else if (kind_of(next) == SINGLE) {
            snprintf(id, sizeof id, "call-%d-%ld", r, next);
            landed = has_interaction(l, id);
        }
        /* Nothing after it was written (a credit leaves no interaction to look for: the write after that). */
        long after = kind_of(next + 1) == CREDIT ? next + 2 : next + 1;
        if (kind_of(after) == BATCH_OF_20) snprintf(id, sizeof id, "call-%d-%ld-0", r, after);
        else snprintf(id, sizeof id, "call-%d-%ld", r, after);
        CHECK(!has_interaction(l, id));

        long count = verified_count(l);
        CHECK(count >= 0);
        CHECK(count >= stored + records);
        CHECK(count == stored + records + landed);
        if (count != stored + records + landed) {
            fprintf(stderr, "round %d: %ld interactions stored, expected %ld before + %ld acknowledged + %ld in flight\n", r,
                    count, stored, records, landed);
        }
        stored = count;

        /* Retried, the round's last acknowledged single record and batch are duplicates, not new interactions. */
        if (last_single >= 0 || last_batch >= 0) {
            static char retry[(BATCH + 1) * 700];
            if (last_single >= 0) {
                record_json(retry, sizeof retry, r, last_single, -1);
                CHECK_STATUS(formi_ledger_record(l, LIT(retry), &out), FORMI_OK);
                CHECK(out && strstr(out, "\"duplicate\":true") && !strstr(out, "\"duplicate\":false"));
                formi_free(out);
            }
            if (last_batch >= 0) {
                batch_json(retry, sizeof retry, r, last_batch);
                CHECK_STATUS(formi_ledger_record(l, LIT(retry), &out), FORMI_OK);
                CHECK(out && strstr(out, "\"duplicate\":true") && !strstr(out, "\"duplicate\":false"));
                formi_free(out);
            }
            CHECK(verified_count(l) == count);
        }
        formi_ledger_close(l);

        acked_writes += writes;
        acked_records += records;
        acked_credits += credits;
        printf("round %2d: killed after %3d ms: %4ld writes acknowledged (%5ld records, %3ld credit ops), in flight "
               "%s %s, %ld interactions, verify %s\n",
               r + 1, wait_ms, writes, records, credits,
               kind_of(next) == BATCH_OF_20 ? "batch" : kind_of(next) == SINGLE ? "record" : "credit",
               kind_of(next) == CREDIT ? "-" : landed ? "landed" : "lost", count, count >= 0 ? "ok" : "FAILED");
        fflush(stdout);
    }
    free(buf);

    /* Clean up: the ledger and its -wal and -shm files, then the directory. */
    static const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; !url && i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char file[4300];
        snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
        unlink(file);
    }
    if (!url && rmdir(dir) != 0) fprintf(stderr, "could not remove %s: %s\n", dir, strerror(errno));

    if (check_failures == 0) {
        printf("kill test: %d rounds, %ld acknowledged writes (%ld records, %ld credit ops), all present, verify ok\n",
               rounds, acked_writes, acked_records, acked_credits);
    } else {
        printf("kill test: FAILED (seed %u)\n", seed);
    }
    return check_report("test_ledger_kill");
}
