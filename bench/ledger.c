/* The usage ledger at scale, through the C ABI, on a file (durability on: WAL, synchronous=FULL).
 *
 * A deterministic synthetic workload (record i depends only on i and a fixed seed): 5 outlets with a
 * rate card each, 50 agents (10 per outlet) with a large credit each, interactions spread over the 180
 * local (UTC+05:30) days 2024-01-03 .. 2024-06-30, busy hours and weekends weighted, durations 5 s .. 20
 * min, realistic outcome, sentiment, correction, message, counter and model-usage mixes.
 *
 * The ledger grows in steps (10k, 100k, 1M interactions, up to --max). To reach each step it records
 * batches of 1000 (one JSON array, one transaction per formi_ledger_record call), then the last 2000
 * one by one (one record per call, each its own durable transaction). Every step spreads its records
 * over all 180 days in random time order (so each step is denser, not longer; rows of one hour are not
 * next to each other in the file, which is the pessimistic case for the ragged ends that queries read
 * from the interactions themselves). Only the time inside formi_ledger_record counts. After each step
 * it times the queries below (1 warm-up, then 15 runs: median and p90), and checks their totals
 * against the workload.
 * It prints a Markdown table: one row per query and ingest figure, one column per step; a query whose
 * median or p90 is over 50 ms at the largest step is flagged.
 *
 * usage: bench-ledger [--max N] [--dir DIR] [--batch N] [--keep] [--url postgresql://...]
 *   --max N    largest step (default 1000000); --max 10000 is a smoke test of a few seconds
 *   --dir DIR  where the database goes (default $TMPDIR or /tmp); DIR/bench-ledger.db is replaced
 *   --batch N  records per batched call (default 1000); a batch refused as too large JSON is halved
 *              (and the table says so)
 *   --keep     keep the database afterwards (for profiling queries against it)
 *   --url URL  the ledger in this (empty) PostgreSQL database instead of a file */
#define _POSIX_C_SOURCE 200809L
#include <formi.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { OUTLETS = 5, AGENTS_PER_OUTLET = 10, AGENTS = OUTLETS * AGENTS_PER_OUTLET, DAYS = 180 };
enum { BATCH = 1000, SINGLES = 2000, RUNS = 15, MAX_STEPS = 4, MAX_QUERIES = 16 };
#define SEED 0x5eedf0f1ULL
#define OFFSET_S 19800                    /* UTC+05:30: the outlets' local time */
#define FIRST_LOCAL_DAY_S 1704240000LL    /* 2024-01-03T00:00:00 as if UTC; minus OFFSET_S for the instant */
#define LIMIT_MS 50.0

/* ---- small tools ------------------------------------------------------------------------------ */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, formi_ledger *l) {
    fprintf(stderr, "bench-ledger: %s: %s\n", what, l ? formi_ledger_last_error(l) : strerror(errno));
    exit(1);
}

/* splitmix64: record i draws from its own stream, so batches and single calls make the same data. */
typedef struct { uint64_t s; } rng;

static uint64_t next(rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double uniform(rng *r) { return (double)(next(r) >> 11) * (1.0 / 9007199254740992.0); }
static long range(rng *r, long lo, long hi) { return lo + (long)(next(r) % (uint64_t)(hi - lo + 1)); }

/* Picks an index by integer weights. */
static int weighted(rng *r, const int *weights, int n) {
    int total = 0;
    for (int i = 0; i < n; i++) total += weights[i];
    long x = range(r, 0, total - 1);
    for (int i = 0; i < n; i++) {
        if (x < weights[i]) return i;
        x -= weights[i];
    }
    return n - 1;
}

typedef struct {
    char *data;
    size_t len, cap;
} buf;

static void put(buf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) die("vsnprintf", NULL);
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 1) * 2;
        b->data = realloc(b->data, b->cap);
        if (!b->data) die("realloc", NULL);
        if (b->len == 0) b->data[0] = 0;
    }
}

/* An instant (Unix ms) as ISO 8601 UTC with milliseconds. */
static void iso(char out[96], int64_t ms) {
    time_t s = (time_t)(ms / 1000);
    struct tm t;
    gmtime_r(&s, &t);
    snprintf(out, 96, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
             t.tm_min, t.tm_sec, (int)(ms % 1000));
}

/* ---- the workload ----------------------------------------------------------------------------- */

static const char *REASONS[] = {
    "customer requested human agent", "payment issue", "complaint about food quality", "large party booking",
    "allergy question", "refund request", "order not received", "wrong order delivered",
    "agent could not understand caller", "repeated misunderstanding", "billing dispute", "manager callback requested",
};
enum { NREASONS = sizeof REASONS / sizeof REASONS[0] };
static const char *PROVIDERS[] = {"twilio", "exotel", "plivo", "telnyx"};
static const char *LLMS[] = {"gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "gemini-1.5-flash"};
/* Local hour of day: a restaurant's phone, lunch and dinner peaks. */
static const int HOUR_WEIGHTS[24] = {1, 1, 1, 1, 1, 2, 4, 8, 14, 22, 30, 40, 48, 42, 28, 20, 22, 34, 46, 50, 44, 30, 14, 5};

/* What the benchmark knows the queries must answer, accumulated as records are made. */
typedef struct {
    long calls;
    long calls_outlet1;
    long calls_agent7;
} truth;

static void outlet_id(char out[16], int outlet) { snprintf(out, 16, "outlet-%d", outlet + 1); }
static void agent_id(char out[16], int agent) { snprintf(out, 16, "agent-%02d", agent + 1); }

/* Appends interaction i as a JSON object. */
static void make_record(buf *b, long i, truth *t) {
    rng r = {SEED ^ ((uint64_t)i * 0xD1B54A32D192ED03ULL)};
    next(&r);
    int agent = (int)range(&r, 0, AGENTS - 1), outlet = agent / AGENTS_PER_OUTLET;
    /* Day: weekends (2024-01-03 is a Wednesday, so days 3 and 4 of each week) 40% busier. */
    long day;
    do day = range(&r, 0, DAYS - 1);
    while ((day % 7 == 3 || day % 7 == 4) ? 0 : uniform(&r) > 1.0 / 1.4);
    int hour = weighted(&r, HOUR_WEIGHTS, 24);
    int64_t start_ms = (FIRST_LOCAL_DAY_S - OFFSET_S + day * 86400 + hour * 3600) * 1000 + range(&r, 0, 3600 * 1000 - 1);
    double u = uniform(&r);
    int64_t duration_ms = 5000 + (int64_t)(u * u * (1200000 - 5000));  /* 5 s .. 20 min, mostly short */
    char started[96], ended[96], oid[16], aid[16];
    iso(started, start_ms);
    iso(ended, start_ms + duration_ms);
    outlet_id(oid, outlet);
    agent_id(aid, agent);
    t->calls++;
    if (outlet == 0) t->calls_outlet1++;
    if (agent == 6) t->calls_agent7++;

    static const char *OUTCOMES[] = {"resolved", "transferred", "abandoned", "other"};
    static const int OUTCOME_WEIGHTS[] = {68, 14, 12, 6};
    int outcome = weighted(&r, OUTCOME_WEIGHTS, 4);
    const char *reason = NULL;
    if (outcome == 1 || uniform(&r) < 0.05) reason = REASONS[range(&r, 0, NREASONS - 1)];
    static const char *SENTIMENTS[] = {"\"positive\"", "\"neutral\"", "\"negative\"", "null"};
    static const int SENTIMENT_WEIGHTS[] = {55, 25, 12, 8};
    const char *sentiment = SENTIMENTS[weighted(&r, SENTIMENT_WEIGHTS, 4)];
    char corrections[8] = "null";
    if (uniform(&r) >= 0.1) snprintf(corrections, sizeof corrections, "%ld", uniform(&r) < 0.65 ? 0L : range(&r, 1, 3));
    long received = range(&r, 2, 4 + duration_ms / 20000);
    long unhandled = range(&r, 0, received / 6), ambiguous = range(&r, 0, received / 8);
    long mismatched = range(&r, 0, ambiguous), interventions = uniform(&r) < 0.8 ? 0 : range(&r, 1, 2);

    put(b, "{\"idempotency_key\":\"rec-%07ld\",\"interaction_id\":\"call-%07ld\",\"outlet_id\":\"%s\",\"agent_id\":\"%s\","
           "\"agent_name\":\"Agent %02d\",\"agent_status\":\"active\",\"provider\":\"%s\",\"call_type\":\"%s\","
           "\"started_at\":\"%s\",\"ended_at\":\"%s\",\"outcome\":\"%s\",",
        i, i, oid, aid, agent + 1, PROVIDERS[outlet % 4], uniform(&r) < 0.85 ? "inbound" : "outbound", started, ended,
        OUTCOMES[outcome]);
    if (reason) put(b, "\"escalation_reason\":\"%s\",", reason);
    else put(b, "\"escalation_reason\":null,");
    put(b, "\"sentiment\":%s,\"user_corrections\":%s,"
           "\"messages\":{\"received\":%ld,\"unhandled\":%ld,\"ambiguous\":%ld,\"mismatched_ambiguous\":%ld,\"interventions\":%ld},",
        sentiment, corrections, received, unhandled, ambiguous, mismatched, interventions);
    put(b, "\"counters\":{\"sms\":%ld,\"emails\":%ld%s},", uniform(&r) < 0.3 ? range(&r, 1, 2) : 0L,
        uniform(&r) < 0.15 ? 1L : 0L, uniform(&r) < 0.1 ? ",\"whatsapp\":1" : "");
    long frames = duration_ms / 20;
    put(b, "\"session_stats\":{\"messages_in\":%ld,\"messages_out\":%ld,\"frames_in\":%ld,\"frames_out\":%ld,"
           "\"late_frames\":%ld,\"lost_frames\":%ld,\"interruptions\":%ld,\"dtmf_digits\":%ld,\"errors\":0},",
        frames + 3, frames / 2 + 10, frames, frames / 2, range(&r, 0, 3), range(&r, 0, 2), range(&r, 0, 4), range(&r, 0, 2));

    /* 1..4 model usage entries: always the conversation model, then STT, TTS, a transition model. */
    int entries = (int)range(&r, 1, 4);
    put(b, "\"model_usage\":[");
    long input = range(&r, 1000, 4000) + duration_ms / 100 * range(&r, 1, 4);
    long cached = (long)((double)input * uniform(&r) * 0.8);
    put(b, "{\"kind\":\"CONVERSATION\",\"model\":\"%s\",\"input_tokens\":%ld,\"cached_tokens\":%ld,\"output_tokens\":%ld,"
           "\"ttft_ms\":%.1f,\"tool_calls_ok\":%ld,\"tool_calls_failed\":%ld}",
        LLMS[range(&r, 0, 3)], input, cached, range(&r, 50, 1500), 150.0 + uniform(&r) * 1350.0, range(&r, 0, 4),
        uniform(&r) < 0.9 ? 0L : range(&r, 1, 2));
    double audio = (double)duration_ms / 1000.0;
    if (entries >= 2)
        put(b, ",{\"kind\":\"STT\",\"model\":\"nova-2\",\"audio_seconds\":%.3f,\"ttft_ms\":%.1f,\"confidence\":%.4f}",
            audio * 0.55, 80.0 + uniform(&r) * 400.0, 0.70 + uniform(&r) * 0.29);
    if (entries >= 3)
        put(b, ",{\"kind\":\"TTS\",\"model\":\"eleven_turbo_v2\",\"characters\":%ld,\"audio_seconds\":%.3f,\"ttft_ms\":%.1f}",
            range(&r, 100, 400) + duration_ms / 100, audio * 0.4, 120.0 + uniform(&r) * 500.0);
    if (entries >= 4) {
        long tin = range(&r, 300, 2500);
        put(b, ",{\"kind\":\"TRANSITION\",\"model\":\"gpt-4o-mini\",\"input_tokens\":%ld,\"cached_tokens\":%ld,"
               "\"output_tokens\":%ld,\"ttft_ms\":%.1f,\"tool_calls_ok\":%ld,\"tool_calls_failed\":0}",
            tin, tin / 2, range(&r, 5, 60), 100.0 + uniform(&r) * 600.0, range(&r, 0, 1));
    }
    put(b, "]}");
}

/* Rate cards on every outlet (each rule) and a large credit on every agent. */
static void setup(formi_ledger *l) {
    static const char *DURATIONS[OUTLETS] = {
        "{\"rule\":\"per_second\",\"price_per_minute\":1500000}",
        "{\"rule\":\"per_minute\",\"price_per_minute\":1000000}",
        "{\"rule\":\"increments\",\"increment_seconds\":6,\"price_per_minute\":1200000}",
        "{\"rule\":\"first_block\",\"first_block_seconds\":60,\"increment_seconds\":6,\"price_per_minute\":1000000}",
        "{\"rule\":\"increments\",\"increment_seconds\":30,\"price_per_minute\":900000}",
    };
    buf b = {0};
    for (int o = 0; o < OUTLETS; o++) {
        char oid[16];
        outlet_id(oid, o);
        b.len = 0;
        put(&b, "{\"op\":\"rate_card\",\"idempotency_key\":\"rc-%d\",\"outlet_id\":\"%s\",\"rate_card\":{"
                "\"credits_type\":\"MINUTE_BASED\",\"duration\":%s,"
                "\"tokens\":{\"input_per_million\":%d,\"cached_per_million\":%d,\"output_per_million\":%d},"
                "\"characters_per_million\":%d,\"low_balance_threshold\":5000000}}",
            o + 1, oid, DURATIONS[o], 2500000 + o * 100000, 1250000, 10000000, o % 2 ? 30000000 : 0);
        char *out = NULL;
        if (formi_ledger_credit(l, b.data, b.len, &out) != FORMI_OK) die("rate card", l);
        formi_free(out);
    }
    for (int a = 0; a < AGENTS; a++) {
        char oid[16], aid[16];
        outlet_id(oid, a / AGENTS_PER_OUTLET);
        agent_id(aid, a);
        b.len = 0;
        put(&b, "{\"op\":\"add\",\"idempotency_key\":\"pay-%d\",\"outlet_id\":\"%s\",\"agent_id\":\"%s\","
                "\"amount\":1000000000000000,\"at\":\"2024-01-01T00:00:00Z\"}", a + 1, oid, aid);
        char *out = NULL;
        if (formi_ledger_credit(l, b.data, b.len, &out) != FORMI_OK) die("credit", l);
        formi_free(out);
    }
    free(b.data);
}

/* ---- queries ---------------------------------------------------------------------------------- */

typedef struct {
    const char *label;
    const char *json;
    const char *field;   /* a count in the answer to check, or NULL */
    int expect;          /* 0: no check, 1: all calls, 2: outlet-1's calls, 3: agent-07's calls */
} query;

#define ALL_180 "\"startDate\":\"2024-01-03T00:00:00+05:30\",\"endDate\":\"2024-07-01T00:00:00+05:30\""
static const query QUERIES[] = {
    {"metrics, last 30 d, utc_offset 19800",
     "{\"query\":\"metrics\",\"startDate\":\"2024-06-01T00:00:00+05:30\",\"endDate\":\"2024-07-01T00:00:00+05:30\",\"utc_offset\":19800}",
     NULL, 0},
    {"metrics, all 180 d, utc_offset 19800", "{\"query\":\"metrics\"," ALL_180 ",\"utc_offset\":19800}", "\"totalCalls\":", 1},
    {"metrics, all 180 d, utc_offset 19800, outlet_id",
     "{\"query\":\"metrics\"," ALL_180 ",\"utc_offset\":19800,\"outlet_id\":\"outlet-1\"}", "\"totalCalls\":", 2},
    {"usage_stats, 7 d, utc_offset 19800",
     "{\"query\":\"usage_stats\",\"from_date\":\"24/06/2024\",\"to_date\":\"30/06/2024\",\"utc_offset\":19800}", NULL, 0},
    {"usage_stats, 90 d (utc_offset 0)",
     "{\"query\":\"usage_stats\",\"from_date\":\"02/04/2024\",\"to_date\":\"30/06/2024\"}", NULL, 0},
    {"usage_stats, 90 d, utc_offset 19800",
     "{\"query\":\"usage_stats\",\"from_date\":\"02/04/2024\",\"to_date\":\"30/06/2024\",\"utc_offset\":19800}", NULL, 0},
    {"agent_statistic, 180 d, one agent", "{\"query\":\"agent_statistic\"," ALL_180 ",\"agent_id\":\"agent-07\"}",
     "\"conversations\":", 3},
    {"interaction_utilisation by AGENT, 30 d",
     "{\"query\":\"interaction_utilisation\",\"group_by\":\"AGENT\",\"from_date\":\"01/06/2024\",\"to_date\":\"30/06/2024\","
     "\"utc_offset\":19800}", NULL, 0},
    {"credits, one agent, 30 d",
     "{\"query\":\"credits\",\"outlet_id\":\"outlet-1\",\"agent_id\":\"agent-07\",\"from_date\":\"01/06/2024\","
     "\"to_date\":\"30/06/2024\",\"utc_offset\":19800}", NULL, 0},
    {"model_utilisation by OUTLET, 180 d",
     "{\"query\":\"model_utilisation\",\"group_by\":\"OUTLET\",\"from_date\":\"03/01/2024\",\"to_date\":\"30/06/2024\","
     "\"utc_offset\":19800}", NULL, 0},
    {"interaction, by id", "{\"query\":\"interaction\",\"interaction_id\":\"call-0000042\"}", NULL, 0},
};
enum { NQUERIES = sizeof QUERIES / sizeof QUERIES[0] };

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of sorted values (nearest rank). */
static double quantile(const double *sorted, int n, double q) {
    int rank = (int)(q * n + 0.999999);
    if (rank < 1) rank = 1;
    return sorted[rank - 1];
}

static long field_value(const char *json, const char *field) {
    const char *p = strstr(json, field);
    return p ? strtol(p + strlen(field), NULL, 10) : -1;
}

/* ---- the run ---------------------------------------------------------------------------------- */

typedef struct {
    long size;
    double batched_rate, single_rate, single_median_ms, single_p90_ms, single_max_ms;
    double q_median[MAX_QUERIES], q_p90[MAX_QUERIES];
    double db_mb, wal_mb;
} step_result;

static double file_mb(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_size / (1024.0 * 1024.0) : 0.0;
}

int main(int argc, char **argv) {
    long max = 1000000;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    int keep = 0;
    long batch_arg = BATCH;
    const char *url = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--max") == 0 && i + 1 < argc) max = atol(argv[++i]);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) dir = argv[++i];
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch_arg = atol(argv[++i]);
        else if (strcmp(argv[i], "--keep") == 0) keep = 1;
        else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) url = argv[++i];
        else {
            fprintf(stderr, "usage: bench-ledger [--max N] [--dir DIR] [--batch N] [--keep] [--url postgresql://...]\n");
            return 2;
        }
    }
    if (batch_arg < 1 || batch_arg > 10000) {
        fprintf(stderr, "bench-ledger: --batch must be 1 .. 10000\n");
        return 2;
    }
    if (max < 100 || max > 100000000) {
        fprintf(stderr, "bench-ledger: --max must be 100 .. 100000000\n");
        return 2;
    }
    long steps[MAX_STEPS];
    int nsteps = 0;
    for (long s = 10000; s <= 1000000 && s <= max; s *= 10) steps[nsteps++] = s;
    if (nsteps == 0 || steps[nsteps - 1] != max) steps[nsteps++] = max;

    char path[4096], wal[4200], shm[4200];
    snprintf(path, sizeof path, "%s/bench-ledger.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    if (url) snprintf(path, sizeof path, "%s", url);
    else unlink(path), unlink(wal), unlink(shm);
    int status = 0;
    formi_ledger *l = formi_ledger_open(path, &status);
    if (!l) {
        fprintf(stderr, "bench-ledger: cannot open %s (status %d)\n", path, status);
        return 1;
    }
    setup(l);
    fprintf(stderr, "ledger %s: %d outlets, %d agents, %d days; steps up to %ld\n", path, OUTLETS, AGENTS, DAYS, max);

    step_result results[MAX_STEPS];
    memset(results, 0, sizeof results);
    truth t = {0};
    buf b = {0};
    long recorded = 0, batch = batch_arg, min_batch = batch_arg;
    size_t json_bytes = 0;
    long total_batched = 0;
    char refused[1024] = "";
    double *single_ms = malloc(SINGLES * sizeof *single_ms);
    if (!single_ms) die("malloc", NULL);
    for (int s = 0; s < nsteps; s++) {
        step_result *res = &results[s];
        res->size = steps[s];
        long singles = steps[s] - recorded >= 5 * SINGLES ? SINGLES : (steps[s] - recorded) / 5;
        long batched_target = steps[s] - singles;

        /* Batched: time in formi_ledger_record only (making the JSON is not the ledger's cost). A batch
         * the ledger refuses as too large JSON is retried (nothing of it was stored) in halves. */
        double in_ledger = 0;
        long batched = 0;
        while (recorded < batched_target) {
            long n = batched_target - recorded < batch ? batched_target - recorded : batch;
            truth bt = {0};
            b.len = 0;
            put(&b, "[");
            for (long k = 0; k < n; k++) {
                if (k) put(&b, ",");
                make_record(&b, recorded + k, &bt);
            }
            put(&b, "]");
            char *out = NULL;
            double t0 = now();
            int rc = formi_ledger_record(l, b.data, b.len, &out);
            double dt = now() - t0;
            if (rc == FORMI_EJSON && n > 1) {
                if (!refused[0]) {
                    snprintf(refused, sizeof refused, "a batch of %ld records (%zu bytes) was refused: %s", n, b.len,
                             formi_ledger_last_error(l));
                    fprintf(stderr, "warning: %s; going on with batches of %ld\n", refused, n / 2);
                }
                batch = n / 2;
                continue;
            }
            if (rc != FORMI_OK) die("record batch", l);
            in_ledger += dt;
            if (strstr(out, "insufficient_credits")) fprintf(stderr, "warning: an agent ran out of credits\n");
            formi_free(out);
            t.calls += bt.calls, t.calls_outlet1 += bt.calls_outlet1, t.calls_agent7 += bt.calls_agent7;
            json_bytes += b.len - 2 - (size_t)(n - 1);
            recorded += n;
            batched += n;
            total_batched += n;
        }
        if (batch < min_batch) min_batch = batch;
        res->batched_rate = batched / in_ledger;
        fprintf(stderr, "[%ld] batched (%ld per call): %ld records in %.2f s in the ledger, %.0f records/s\n", steps[s], batch,
                batched, in_ledger, res->batched_rate);

        /* One by one: each call its own durable transaction. */
        in_ledger = 0;
        for (long k = 0; k < singles; k++) {
            b.len = 0;
            make_record(&b, recorded, &t);
            char *out = NULL;
            double t0 = now();
            if (formi_ledger_record(l, b.data, b.len, &out) != FORMI_OK) die("record", l);
            double dt = now() - t0;
            in_ledger += dt;
            single_ms[k] = dt * 1000.0;
            formi_free(out);
            recorded++;
        }
        if (singles > 0) {
            qsort(single_ms, (size_t)singles, sizeof *single_ms, compare);
            res->single_rate = singles / in_ledger;
            res->single_median_ms = quantile(single_ms, (int)singles, 0.5);
            res->single_p90_ms = quantile(single_ms, (int)singles, 0.9);
            res->single_max_ms = single_ms[singles - 1];
        }
        fprintf(stderr, "[%ld] one by one: %ld records, %.0f records/s, per call median %.2f ms, p90 %.2f ms, max %.2f ms\n",
                steps[s], singles, res->single_rate, res->single_median_ms, res->single_p90_ms, res->single_max_ms);
        res->db_mb = file_mb(path);
        res->wal_mb = file_mb(wal);

        for (int q = 0; q < NQUERIES; q++) {
            const query *qu = &QUERIES[q];
            size_t len = strlen(qu->json);
            double times[RUNS];
            char *out = NULL;
            if (formi_ledger_query(l, qu->json, len, &out) != FORMI_OK) die(qu->label, l);  /* warm-up */
            if (qu->expect) {
                long want = qu->expect == 1 ? t.calls : qu->expect == 2 ? t.calls_outlet1 : t.calls_agent7;
                long got = field_value(out, qu->field);
                if (got != want) {
                    fprintf(stderr, "bench-ledger: %s answers %s%ld, the workload has %ld\n", qu->label, qu->field, got, want);
                    return 1;
                }
            }
            formi_free(out);
            for (int k = 0; k < RUNS; k++) {
                double t0 = now();
                if (formi_ledger_query(l, qu->json, len, &out) != FORMI_OK) die(qu->label, l);
                times[k] = (now() - t0) * 1000.0;
                formi_free(out);
            }
            qsort(times, RUNS, sizeof times[0], compare);
            res->q_median[q] = quantile(times, RUNS, 0.5);
            res->q_p90[q] = quantile(times, RUNS, 0.9);
            fprintf(stderr, "[%ld] %-50s median %8.2f ms  p90 %8.2f ms\n", steps[s], qu->label, res->q_median[q], res->q_p90[q]);
        }
    }
    formi_ledger_close(l);

    /* The table. */
    printf("\n| query / figure |");
    for (int s = 0; s < nsteps; s++) printf(" %ldk |", results[s].size / 1000);
    printf("\n|---|");
    for (int s = 0; s < nsteps; s++) printf("---:|");
    printf("\n");
    const step_result *last = &results[nsteps - 1];
    int flagged = 0;
    for (int q = 0; q < NQUERIES; q++) {
        printf("| %s, median (p90) ms |", QUERIES[q].label);
        for (int s = 0; s < nsteps; s++) {
            const char *flag = "";
            if (s == nsteps - 1 && results[s].q_median[q] > LIMIT_MS) flag = " **> 50 ms**", flagged++;
            else if (s == nsteps - 1 && results[s].q_p90[q] > LIMIT_MS) flag = " **p90 > 50 ms**", flagged++;
            printf(" %.2f (%.2f)%s |", results[s].q_median[q], results[s].q_p90[q], flag);
        }
        printf("\n");
    }
    printf("| ingest, batches of %ld, records/s |", min_batch);
    for (int s = 0; s < nsteps; s++) printf(" %.0f |", results[s].batched_rate);
    printf("\n| ingest, one by one, records/s |");
    for (int s = 0; s < nsteps; s++) printf(" %.0f |", results[s].single_rate);
    printf("\n| ingest, one by one, per call median (p90) ms |");
    for (int s = 0; s < nsteps; s++) printf(" %.2f (%.2f) |", results[s].single_median_ms, results[s].single_p90_ms);
    if (!url) {
        printf("\n| database file (+ WAL), MiB |");
        for (int s = 0; s < nsteps; s++) printf(" %.1f (+%.1f) |", results[s].db_mb, results[s].wal_mb);
    }
    printf("\n\nRecords average %.0f bytes of JSON.", total_batched ? (double)json_bytes / (double)total_batched : 0.0);
    if (refused[0]) printf(" Batches of %ld were asked for: %s.", batch_arg, refused);
    printf("\n%s at %ld interactions: %d of %d queries over %.0f ms (median or p90).\n",
           flagged ? "FLAGGED" : "OK", last->size, flagged, NQUERIES, LIMIT_MS);

    if (!keep && !url) unlink(path), unlink(wal), unlink(shm);
    else if (keep) fprintf(stderr, "kept %s\n", path);
    free(single_ms);
    free(b.data);
    return 0;
}
