/* Agent flows, prompt templates and runs through the C ABI. Run from the project root: it reads the
 * sample flow tests/flows/booking.json and writes its DOT to build/c/booking.dot (make renders it). */
#include <formi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

/* A string literal as a (pointer, length) pair. */
#define LIT(s) (s), strlen(s)

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

/* Steps `event` and checks that the step's JSON contains every string of `expected` (NULL-terminated). */
static void step_expect(formi_flow_run *run, const char *event, const char **expected) {
    char *out = NULL;
    CHECK_STATUS(formi_flow_run_step(run, event, strlen(event), &out), FORMI_OK);
    for (const char **e = expected; *e; e++) {
        if (!out || !strstr(out, *e)) {
            fprintf(stderr, "step %s\n  gave %s\n  without %s\n", event, out ? out : "(null)", *e);
            CHECK(0);
        }
    }
    formi_free(out);
}

static void test_sample_flow(void) {
    size_t len = 0;
    char *json = read_file("tests/flows/booking.json", &len);
    CHECK(json != NULL);
    if (!json) return;
    int status = 1;
    formi_flow *flow = formi_flow_from_json(json, len, &status);
    CHECK(flow != NULL && status == FORMI_OK);

    char *report = NULL;
    CHECK_STATUS(formi_flow_validate_json(json, len, &report), FORMI_OK);
    CHECK(report && strcmp(report, "{\"valid\":true,\"errors\":[],\"warnings\":[]}") == 0);
    formi_free(report);
    free(json);

    /* JSON out reads back in and writes the same. */
    char *out = NULL, *again = NULL;
    CHECK_STATUS(formi_flow_to_json(flow, &out), FORMI_OK);
    formi_flow *copy = formi_flow_from_json(out, strlen(out), &status);
    CHECK(copy != NULL && status == FORMI_OK);
    CHECK_STATUS(formi_flow_to_json(copy, &again), FORMI_OK);
    CHECK(out && again && strcmp(out, again) == 0);
    formi_free(out);
    formi_free(again);
    formi_flow_free(copy);

    /* DOT for Graphviz (make renders build/c/booking.dot with dot -Tpng). */
    char *dot = NULL;
    CHECK_STATUS(formi_flow_to_dot(flow, &dot), FORMI_OK);
    CHECK(dot && strncmp(dot, "digraph flow {", 14) == 0);
    FILE *f = fopen("build/c/booking.dot", "w");
    CHECK(f != NULL);
    if (f && dot) { fputs(dot, f); fclose(f); }
    formi_free(dot);

    /* A run: greeting -> (DTMF 1) party size -> (party of 4) confirm -> (yes) booked. */
    const char *inputs = "{\"outlet\":\"Luigi's\",\"caller\":\"Asha\"}";
    formi_flow_run *run = formi_flow_run_new(flow, inputs, strlen(inputs), &status);
    CHECK(run != NULL && status == FORMI_OK);
    CHECK_STATUS(formi_flow_run_state(run, &out), FORMI_OK);
    CHECK(out && strstr(out, "\"prompt\":\"You are the host of Luigi's. Greet Asha in a warm tone"));
    CHECK(out && strstr(out, "\"pending_actions\":[{\"phase\":\"entry\",\"state_id\":1,\"action\":{\"type\":\"say\",\"text\":\"Welcome to Luigi's!\"}}]"));
    formi_free(out);

    step_expect(run, "{\"type\":\"dtmf\",\"digit\":\"1\",\"at_ms\":500}",
                (const char *[]){"\"transition\":{\"edge_id\":2,\"from\":1,\"to\":2,\"reason\":\"condition\"",
                                 "\"prompt\":\"Ask for the number of guests", "\"cancelled_actions\":", NULL});
    step_expect(run, "{\"type\":\"interrupted\",\"at_ms\":700}",
                (const char *[]){"\"transition\":null", "\"interrupted_actions\":[{\"phase\":\"entry\",\"state_id\":2", NULL});
    step_expect(run, "{\"type\":\"user\",\"text\":\"four\",\"party_size\":4,\"at_ms\":900}",
                (const char *[]){"\"edge_id\":6", "\"prompt\":\"Read back a table for 4", NULL});
    step_expect(run, "{\"type\":\"judged\",\"edge_id\":1}", (const char *[]){"\"ignored_verdict\":true", "\"transition\":null", NULL});
    step_expect(run, "{\"type\":\"user\",\"text\":\"yes\"}",
                (const char *[]){"\"edge_id\":8", "\"name\":\"book_table\",\"arguments\":{\"party_size\":\"4\",\"outlet\":\"Luigi's\"}",
                                 "\"ended\":true,\"end_reason\":\"terminal\"", NULL});
    CHECK_STATUS(formi_flow_run_step(run, LIT("{\"type\":\"user\"}"), NULL), FORMI_ESTATE);
    CHECK(strstr(formi_last_error(), "ended") != NULL);
    CHECK_STATUS(formi_flow_run_history(run, &out), FORMI_OK);
    CHECK(out && strstr(out, "{\"step\":1,\"at_ms\":500,\"event\":\"dtmf\",\"transition\":{\"edge_id\":2"));
    formi_free(out);

    /* Edits: a run keeps its flow; the flow handle may be freed before the run. */
    formi_flow_run *second = formi_flow_run_new(flow, inputs, strlen(inputs), &status);
    const char *edit = "{\"op\":\"create_state_from_template\",\"template_id\":101,\"variables\":{\"slot\":\"date\"}}";
    CHECK_STATUS(formi_flow_edit(flow, edit, strlen(edit), &out), FORMI_OK);
    CHECK(out && strstr(out, "\"state_id\":8") && strstr(out, "\"code\":\"unreachable_state\""));
    formi_free(out);
    const char *bad_edit = "{\"op\":\"create_edge\",\"from_node\":1,\"to_node\":99,\"condition\":\"true\"}";
    CHECK_STATUS(formi_flow_edit(flow, bad_edit, strlen(bad_edit), &out), FORMI_ETEMPLATE);
    CHECK(out == NULL && strstr(formi_last_error(), "edge_to_missing_state") != NULL);
    CHECK_STATUS(formi_flow_edit(flow, LIT("{\"op\":\"paint\"}"), NULL), FORMI_EJSON);
    CHECK_STATUS(formi_flow_edit(flow, LIT("{\"op\":\"delete_edge\",\"edge_id\":404}"), NULL), FORMI_ENOTFOUND);
    formi_flow_free(flow);
    step_expect(second, "{\"type\":\"dtmf\",\"digit\":\"2\"}", (const char *[]){"\"to\":3", NULL});
    formi_flow_run_free(second);
    formi_flow_run_free(run);
}

static void test_validation(void) {
    /* The seed's own example: an edge to a state that does not exist. */
    const char *seed = "{\"states\":[{\"state_id\":1,\"name\":\"Greeting\",\"template_id\":3,\"state_prompt\":\"Greet.\","
                       "\"variables\":{\"tone\":\"friendly\"},\"initial\":true}],\"edges\":[{\"edge_id\":1,\"from_node\":1,"
                       "\"to_node\":5,\"prompt\":\"If the user says goodbye, transition.\",\"transition_metadata\":{}}]}";
    char *report = NULL;
    int status = 0;
    CHECK_STATUS(formi_flow_validate_json(seed, strlen(seed), &report), FORMI_ETEMPLATE);
    CHECK(report && strstr(report, "{\"code\":\"edge_to_missing_state\",\"message\":\"edge 1 leads to state 5, which does not exist\","
                                   "\"state_ids\":[5],\"edge_ids\":[1]}"));
    formi_free(report);
    CHECK(formi_flow_from_json(seed, strlen(seed), &status) == NULL && status == FORMI_ETEMPLATE);
    CHECK(strstr(formi_last_error(), "edge_to_missing_state") != NULL);

    CHECK_STATUS(formi_flow_validate_json(LIT("{\"states\":"), &report), FORMI_EJSON);
    CHECK(report && strstr(report, "\"valid\":false") && strstr(report, "invalid_json"));
    formi_free(report);
    CHECK(formi_flow_from_json(LIT("{\"states\":"), &status) == NULL && status == FORMI_EJSON);
    const char *typed = "{\"states\":[{\"state_id\":1,\"initial\":true}],\"edges\":[{\"edge_id\":1,\"from_node\":1,\"to_node\":1,"
                        "\"condition\":\"turns == \\\"3\\\"\"}]}";
    CHECK(formi_flow_from_json(typed, strlen(typed), &status) == NULL && status == FORMI_ETEMPLATE);
    CHECK(strstr(formi_last_error(), "compares a number with a string") != NULL);

    /* Bad arguments. */
    CHECK_STATUS(formi_flow_validate_json(seed, strlen(seed), NULL), FORMI_EINVAL);
    CHECK_STATUS(formi_flow_validate_json(NULL, 5, &report), FORMI_EINVAL);
    CHECK(report == NULL);
    CHECK(formi_flow_from_json(NULL, 3, &status) == NULL && status == FORMI_EINVAL);
    CHECK(formi_flow_from_json(seed, SIZE_MAX, NULL) == NULL);
    CHECK_STATUS(formi_flow_to_json(NULL, &report), FORMI_EINVAL);
    CHECK_STATUS(formi_flow_to_dot(NULL, &report), FORMI_EINVAL);
    CHECK_STATUS(formi_flow_edit(NULL, LIT("{}"), NULL), FORMI_EINVAL);
    CHECK(formi_flow_run_new(NULL, NULL, 0, &status) == NULL && status == FORMI_EINVAL);
    CHECK_STATUS(formi_flow_run_step(NULL, LIT("{}"), NULL), FORMI_EINVAL);
    CHECK_STATUS(formi_flow_run_state(NULL, &report), FORMI_EINVAL);
    CHECK_STATUS(formi_flow_run_history(NULL, &report), FORMI_EINVAL);
    formi_flow_free(NULL);
    formi_flow_run_free(NULL);
}

static void test_run_errors(void) {
    const char *json = "{\"inputs\":[\"who\"],\"states\":[{\"state_id\":1,\"name\":\"a\",\"initial\":true,\"state_prompt\":\"Hi {{who}}\"},"
                       "{\"state_id\":2,\"name\":\"b\",\"terminal\":true}],\"edges\":[{\"edge_id\":1,\"from_node\":1,\"to_node\":2,"
                       "\"condition\":\"event.type == \\\"dtmf\\\"\"}]}";
    int status = 0;
    formi_flow *flow = formi_flow_from_json(json, strlen(json), &status);
    CHECK(flow != NULL);
    CHECK(formi_flow_run_new(flow, NULL, 0, &status) == NULL && status == FORMI_ENOTFOUND);
    CHECK(strstr(formi_last_error(), "who") != NULL);
    CHECK(formi_flow_run_new(flow, LIT("[1]"), &status) == NULL && status == FORMI_EJSON);
    CHECK(formi_flow_run_new(flow, LIT("{\"who\":"), &status) == NULL && status == FORMI_EJSON);
    formi_flow_run *run = formi_flow_run_new(flow, LIT("{\"who\":\"Ravi\"}"), &status);
    CHECK(run != NULL);
    const char *bad[] = {"", "{", "{\"digit\":1}", "{\"type\":\"tick\",\"at_ms\":-1}", "{\"type\":\"judged\",\"edge_id\":\"x\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(formi_flow_run_step(run, bad[i], strlen(bad[i]), NULL), FORMI_EJSON);
    }
    CHECK_STATUS(formi_flow_run_step(run, LIT("{\"type\":\"judged\",\"edge_id\":9}"), NULL), FORMI_ENOTFOUND);
    CHECK_STATUS(formi_flow_run_step(run, LIT("{\"type\":\"tick\",\"at_ms\":50}"), NULL), FORMI_OK);
    CHECK_STATUS(formi_flow_run_step(run, LIT("{\"type\":\"tick\",\"at_ms\":10}"), NULL), FORMI_ESTATE);
    char *state = NULL;
    CHECK_STATUS(formi_flow_run_state(run, &state), FORMI_OK);
    CHECK(state && strstr(state, "\"prompt\":\"Hi Ravi\"") && strstr(state, "\"steps\":1,"));
    formi_free(state);
    formi_flow_run_free(run);
    formi_flow_free(flow);
}

static void test_templates(void) {
    char *out = NULL;
    const char *t = "Hello {{name|there}}, table for {{size}} at {{place.city}} \\{{not}}";
    const char *vars = "{\"size\":4,\"place\":{\"city\":\"Pune\"}}";
    CHECK_STATUS(formi_template_render(t, strlen(t), vars, strlen(vars), &out), FORMI_OK);
    CHECK(out && strcmp(out, "Hello there, table for 4 at Pune {{not}}") == 0);
    formi_free(out);
    CHECK_STATUS(formi_template_render(t, strlen(t), NULL, 0, &out), FORMI_ENOTFOUND);
    CHECK(out == NULL && strstr(formi_last_error(), "{{size}}, {{place.city}}") != NULL);
    CHECK_STATUS(formi_template_render(LIT("{{a"), NULL, 0, &out), FORMI_ETEMPLATE);
    CHECK(strstr(formi_last_error(), "column 1") != NULL);
    CHECK_STATUS(formi_template_render(t, strlen(t), "[]", 2, &out), FORMI_EJSON);
    CHECK_STATUS(formi_template_render(t, strlen(t), "{", 1, &out), FORMI_EJSON);
    CHECK_STATUS(formi_template_render(LIT("\xff{{a}}"), NULL, 0, &out), FORMI_EINVAL);
    CHECK_STATUS(formi_template_render(t, strlen(t), NULL, 0, NULL), FORMI_EINVAL);
    CHECK_STATUS(formi_template_render(NULL, 1, NULL, 0, &out), FORMI_EINVAL);
    CHECK_STATUS(formi_template_render(LIT(""), NULL, 0, &out), FORMI_OK);
    CHECK(out && out[0] == 0);
    formi_free(out);

    CHECK_STATUS(formi_template_variables(t, strlen(t), &out), FORMI_OK);
    CHECK(out && strcmp(out, "[{\"name\":\"name\",\"default\":\"there\"},{\"name\":\"size\",\"default\":null},"
                             "{\"name\":\"place.city\",\"default\":null}]") == 0);
    formi_free(out);
    CHECK_STATUS(formi_template_variables(LIT("{{ }}"), &out), FORMI_ETEMPLATE);
}

int main(void) {
    test_sample_flow();
    test_validation();
    test_run_errors();
    test_templates();
    return check_report("test_flows");
}
