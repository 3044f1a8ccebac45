/* Many writers on one ledger: N processes, each with its own handle (a connection, on PostgreSQL),
 * record interactions one per call (each its own durable transaction) for a fixed time; the total
 * records/s for each N. The records spread over 20 outlets (2 agents each) with a rate card and
 * credits, so every write charges a balance and updates the roll-ups. Afterwards `verify` must be ok
 * and hold every acknowledged record.
 *
 * usage: bench-ledger-writers LOCATION SECONDS N...
 *   LOCATION  a SQLite file (replaced) or a postgresql:// URL of an empty database
 *   e.g. bench-ledger-writers /tmp/w.db 10 1 4 16 */
#define _POSIX_C_SOURCE 200809L
#include <formi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { OUTLETS = 20, MAX_WRITERS = 64 };

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int call(formi_ledger *l, int record, const char *json) {
    char *out = NULL;
    int rc = record ? formi_ledger_record(l, json, strlen(json), &out) : formi_ledger_credit(l, json, strlen(json), &out);
    formi_free(out);
    return rc;
}

/* Writer w of round n: records until `until`, then writes its count to `report`. */
static void writer(const char *location, int round, int w, double until, int report) {
    formi_ledger *l = formi_ledger_open(location, NULL);
    if (!l) _exit(2);
    long done = 0, failed = 0;
    char json[1024];
    unsigned seed = (unsigned)(round * 1000 + w);
    while (now() < until) {
        long start = 1710000000 + (long)(rand_r(&seed) % (180 * 86400));
        int outlet = rand_r(&seed) % OUTLETS;
        snprintf(json, sizeof json,
                 "{\"idempotency_key\":\"k%d-%d-%ld\",\"interaction_id\":\"c%d-%d-%ld\",\"outlet_id\":\"o%d\",\"agent_id\":\"a%d\","
                 "\"started_at\":%ld,\"ended_at\":%ld,\"outcome\":\"resolved\",\"messages\":{\"received\":6,\"unhandled\":1},"
                 "\"model_usage\":[{\"kind\":\"CONVERSATION\",\"input_tokens\":1200,\"cached_tokens\":300,\"output_tokens\":150,\"ttft_ms\":420}]}",
                 round, w, done, round, w, done, outlet, rand_r(&seed) % 2, start, start + 30 + rand_r(&seed) % 600);
        if (call(l, 1, json) == FORMI_OK) done++;
        else if (failed++ < 3) fprintf(stderr, "writer %d: %s\n", w, formi_ledger_last_error(l));
    }
    formi_ledger_close(l);
    dprintf(report, "%ld %ld\n", done, failed);
    _exit(0);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench-ledger-writers LOCATION SECONDS N...\n");
        return 2;
    }
    const char *location = argv[1];
    double seconds = atof(argv[2]);
    int postgres = strncmp(location, "postgres", 8) == 0;
    if (!postgres) {
        char side[4200];
        unlink(location);
        snprintf(side, sizeof side, "%s-wal", location), unlink(side);
        snprintf(side, sizeof side, "%s-shm", location), unlink(side);
    }
    formi_ledger *l = formi_ledger_open(location, NULL);
    if (!l) { fprintf(stderr, "cannot open %s\n", location); return 1; }
    char json[512];
    for (int o = 0; o < OUTLETS; o++) {
        snprintf(json, sizeof json, "{\"op\":\"rate_card\",\"idempotency_key\":\"rc%d\",\"outlet_id\":\"o%d\",\"rate_card\":"
                 "{\"duration\":{\"rule\":\"per_second\",\"price_per_minute\":1000000},\"tokens\":{\"input_per_million\":2500000}}}", o, o);
        if (call(l, 0, json) != FORMI_OK) { fprintf(stderr, "%s\n", formi_ledger_last_error(l)); return 1; }
        for (int a = 0; a < 2; a++) {
            snprintf(json, sizeof json, "{\"op\":\"add\",\"idempotency_key\":\"add%d-%d\",\"outlet_id\":\"o%d\",\"agent_id\":\"a%d\",\"amount\":1000000000000}", o, a, o, a);
            if (call(l, 0, json) != FORMI_OK) { fprintf(stderr, "%s\n", formi_ledger_last_error(l)); return 1; }
        }
    }
    long total = 0;
    printf("| writers | records/s (%s) | failed |\n|---:|---:|---:|\n", postgres ? "PostgreSQL" : "SQLite");
    for (int i = 3; i < argc; i++) {
        int n = atoi(argv[i]);
        if (n < 1 || n > MAX_WRITERS) return 2;
        int pipes[MAX_WRITERS][2];
        pid_t pids[MAX_WRITERS];
        double t0 = now(), until = t0 + 0.3 + seconds;  /* 0.3 s for the processes to connect */
        for (int w = 0; w < n; w++) {
            if (pipe(pipes[w]) != 0) return 1;
            pids[w] = fork();
            if (pids[w] == 0) {
                close(pipes[w][0]);
                writer(location, i, w, until, pipes[w][1]);
            }
            close(pipes[w][1]);
        }
        long done = 0, failed = 0;
        for (int w = 0; w < n; w++) {
            char line[64] = {0};
            long d = 0, f = 0;
            if (read(pipes[w][0], line, sizeof line - 1) > 0 && sscanf(line, "%ld %ld", &d, &f) == 2) done += d, failed += f;
            else failed++;
            close(pipes[w][0]);
            waitpid(pids[w], NULL, 0);
        }
        double elapsed = now() - t0 - 0.3;
        total += done;
        printf("| %d | %.0f | %ld |\n", n, (double)done / elapsed, failed);
        fflush(stdout);
    }
    char *out = NULL;
    const char *verify = "{\"query\":\"verify\"}";
    if (formi_ledger_query(l, verify, strlen(verify), &out) != FORMI_OK || !strstr(out, "\"ok\":true")) {
        fprintf(stderr, "verify failed: %s\n", out ? out : formi_ledger_last_error(l));
        return 1;
    }
    const char *count = strstr(out, "\"interactions\":");
    long stored = count ? strtol(count + 15, NULL, 10) : -1;
    formi_free(out);
    formi_ledger_close(l);
    if (stored != total) { fprintf(stderr, "%ld records acknowledged, %ld stored\n", total, stored); return 1; }
    printf("\nverify ok: %ld records acknowledged and stored\n", total);
    return 0;
}
