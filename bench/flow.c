/* Steps a run of a large flow through the C ABI: each step parses the event, tries the current state's
 * edges in order, takes a transition or not, renders the new state's prompt and writes the step's JSON.
 * Prints steps per second for each round (bench/flow.py makes the flow, runs this against a Python
 * state machine doing the same work, and prints the ratio).
 * usage: bench-flow FLOW.json EVENTS.txt ROUNDS STEPS_PER_ROUND */
#define _POSIX_C_SOURCE 200809L
#include <formi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)size + 1);
    if (data && fread(data, 1, (size_t)size, f) != (size_t)size) { free(data); data = NULL; }
    fclose(f);
    if (data) { data[size] = 0; *len = (size_t)size; }
    return data;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: bench-flow FLOW.json EVENTS.txt ROUNDS STEPS\n"); return 2; }
    size_t flow_len = 0, events_len = 0;
    char *flow_json = read_file(argv[1], &flow_len), *events = read_file(argv[2], &events_len);
    int rounds = atoi(argv[3]), steps = atoi(argv[4]), status = 0;
    formi_flow *flow = flow_json ? formi_flow_from_json(flow_json, flow_len, &status) : NULL;
    if (!flow || !events) { fprintf(stderr, "cannot load: %s\n", formi_last_error()); return 1; }

    /* One event per line. */
    const char *lines[256];
    size_t lengths[256], count = 0;
    for (char *p = events; *p && count < 256;) {
        char *end = strchr(p, '\n');
        lines[count] = p;
        lengths[count] = end ? (size_t)(end - p) : strlen(p);
        count++;
        if (!end) break;
        p = end + 1;
    }
    long transitions = 0;
    for (int r = 0; r < rounds; r++) {
        formi_flow_run *run = formi_flow_run_new(flow, NULL, 0, &status);
        double start = now();
        for (int i = 0; i < steps; i++) {
            char *out = NULL;
            if (formi_flow_run_step(run, lines[(size_t)i % count], lengths[(size_t)i % count], &out) != FORMI_OK) {
                fprintf(stderr, "step failed: %s\n", formi_last_error());
                return 1;
            }
            transitions += strstr(out, "\"transition\":{") != NULL;
            formi_free(out);
        }
        double elapsed = now() - start;
        formi_flow_run_free(run);
        printf("%.0f\n", steps / elapsed);
    }
    fprintf(stderr, "transitions: %ld\n", transitions);
    formi_flow_free(flow);
    free(flow_json);
    free(events);
    return 0;
}
