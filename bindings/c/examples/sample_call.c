/* A sample call through libformi: both ends of one call, in one process, over Twilio's media-stream
 * protocol (mu-law 8 kHz, 20 ms frames).
 *
 *   PBX side    a telephony-role session, as an Asterisk module would embed it: it announces the call,
 *               sends the caller's voice, and plays the agent's audio at its own 20 ms clock.
 *   agent side  an agent-server-role session, as the /ws-adapter server runs it: it turns Twilio's
 *               messages into events with 16 kHz PCM for the agent, and the agent's 16 kHz speech into
 *               Twilio media messages.
 *
 * The caller (synthesised: 2.2 s of voiced speech, then a DTMF "5") speaks; the agent answers with 2 s of
 * speech; after 640 ms of it the caller barges in, the agent interrupts, and the session says how much
 * of the answer the caller really heard. The messages crossing the "wire" are printed as they go.
 *
 * Build: cc sample_call.c $(pkg-config --cflags --libs formi) -lm     (or: make demo)
 */
#define _GNU_SOURCE /* memmem */
#include <formi.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RATE 8000
#define SECONDS 3
#define SAMPLES (RATE * SECONDS)

static int16_t caller[SAMPLES];
static int16_t answer[32000]; /* 2 s at 16 kHz */
static int shown = 0;

static void synthesise_caller(void) {
    const double pi = 3.14159265358979323846;
    for (int i = 0; i < SAMPLES; i++) {
        double t = (double)i / RATE, v = 0;
        if (t < 2.2) { /* voiced speech: harmonics of a gliding pitch, shaped by two moving formants */
            double f0 = 120 + 15 * sin(2 * pi * 1.3 * t);
            double f1 = 500 + 250 * sin(2 * pi * 0.9 * t), f2 = 1500 + 600 * sin(2 * pi * 0.6 * t);
            for (int h = 1; h * f0 < 3400; h++) {
                double f = h * f0;
                double gain = 1 / (1 + pow((f - f1) / 120, 2)) + 0.5 / (1 + pow((f - f2) / 200, 2));
                v += gain * sin(2 * pi * f * t) / h;
            }
            v *= 6000 * (0.6 + 0.4 * sin(2 * pi * 2.5 * t)) * fmin(1, t * 20) * fmin(1, (2.2 - t) * 20);
        } else if (t > 2.4 && t < 2.6) { /* DTMF "5": 770 Hz + 1336 Hz */
            v = 5000 * (sin(2 * pi * 770 * t) + sin(2 * pi * 1336 * t));
        }
        caller[i] = (int16_t)lrint(fmax(-32768, fmin(32767, v)));
    }
}

static void synthesise_answer(void) {
    for (int i = 0; i < 32000; i++) {
        double t = i / 16000.0, f0 = 180 + 20 * sin(2 * 3.14159265358979 * 0.7 * t);
        answer[i] = (int16_t)lrint(7000 * (sin(2 * 3.14159265358979 * f0 * t) + 0.4 * sin(4 * 3.14159265358979 * f0 * t)));
    }
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int check(const char *what, int status) {
    if (status < 0) fprintf(stderr, "%s: %s (%s)\n", what, formi_strerror(status), formi_last_error());
    return status < 0;
}

/* Carries every message `from` has to send over to `to`, printing the first few of each kind. */
static size_t carry(formi_session *from, formi_session *to, const char *arrow) {
    formi_message m;
    size_t bytes = 0;
    int marks = 0, media_skipped = 0;
    while (formi_session_next_output(from, &m) == 1) {
        bytes += m.len;
        int media = m.len > 200, mark = memmem(m.data, m.len, "\"mark\"", 6) != NULL;
        if ((media && shown >= 2) || (mark && marks >= 2)) {
            media_skipped += media;
            marks += mark;
        } else {
            printf("  %s %.*s%s\n", arrow, (int)(m.len > 140 ? 140 : m.len), (const char *)m.data, m.len > 140 ? "..." : "");
            shown += media;
            marks += mark;
        }
        check("receive", formi_session_receive(to, m.data, m.len, m.is_binary));
    }
    if (marks > 2) printf("  %s ... %d more marks\n", arrow, marks - 2);
    if (media_skipped > 20) printf("  %s ... %d more media messages\n", arrow, media_skipped);
    return bytes;
}

int main(void) {
    printf("libformi %s: a sample call over Twilio's media-stream protocol\n\n", formi_version());
    synthesise_caller();
    synthesise_answer();
    int status;
    formi_provider *twilio = formi_provider_builtin("twilio", &status);
    if (check("provider", status)) return 1;

    formi_session_config pbx_config, agent_config;
    formi_session_config_init(&pbx_config, FORMI_ROLE_TELEPHONY);
    pbx_config.local_format = (formi_format){FORMI_ENCODING_PCM16LE, RATE, 1};
    pbx_config.stream_id = "MZ0sample";
    pbx_config.call_id = "CA0sample";
    pbx_config.from = "+15550100";
    pbx_config.custom_parameters = "{\"agent_id\":\"42\"}";
    formi_session_config_init(&agent_config, FORMI_ROLE_AGENT_SERVER); /* the agent hears 16 kHz PCM */
    formi_session *pbx = formi_session_new(twilio, &pbx_config, &status);
    if (check("pbx session", status)) return 1;
    formi_session *agent = formi_session_new(twilio, &agent_config, &status);
    if (check("agent session", status)) return 1;
    formi_provider_free(twilio);

    double start = now();
    size_t wire = carry(pbx, agent, "pbx   ->");
    formi_event e = FORMI_EVENT_INIT;
    size_t heard_bytes = 0;
    int frames = 0;
    for (int offset = 0; offset + 160 <= SAMPLES; offset += 160, frames++) {
        if (check("caller audio", formi_session_send_audio(pbx, caller + offset, 320))) return 1;
        if (offset == 2400 * 8 / 10 * 10) formi_session_send_dtmf(pbx, '5', 200);
        wire += carry(pbx, agent, "pbx   ->");
        while (formi_session_next_event(agent, &e) == 1) {
            if (e.kind == FORMI_EVENT_MEDIA) heard_bytes += e.audio_len;
            else if (e.kind == FORMI_EVENT_START)
                printf("  agent: START stream %.*s, call %.*s, %d Hz, parameters %.*s\n", (int)e.stream_id.len, e.stream_id.data,
                       (int)e.call_id.len, e.call_id.data, e.format.sample_rate, (int)e.custom_parameters.len, e.custom_parameters.data);
            else if (e.kind == FORMI_EVENT_DTMF) printf("  agent: DTMF %.*s\n", (int)e.digit.len, e.digit.data);
            else if (e.kind == FORMI_EVENT_CONNECTED) printf("  agent: CONNECTED\n");
            else printf("  agent: event %d\n", e.kind);
        }
    }
    printf("  pbx   -> ... %d media messages in all\n", frames);
    printf("  agent: heard %zu ms of the caller as 16 kHz PCM\n\n", heard_bytes / 32);

    /* The agent answers: 2 s of speech, marked, sent as fast as it is made (Twilio buffers it). */
    shown = 0;
    check("answer", formi_session_send_audio(agent, answer, sizeof answer));
    check("flush", formi_session_flush(agent));
    check("mark", formi_session_send_mark(agent, "answer-1"));
    wire += carry(agent, pbx, "agent ->");
    /* The PBX plays it at its 20 ms clock; after 640 ms the caller speaks over it. */
    int16_t frame[160];
    size_t real;
    for (int t = 0; t < 640; t += 20) {
        formi_session_read_audio(pbx, frame, sizeof frame, &real);
        wire += carry(pbx, agent, "pbx   ->"); /* the session's own playback marks come back */
    }
    formi_playback played = FORMI_PLAYBACK_INIT;
    check("interrupt", formi_session_interrupt(agent, &played));
    wire += carry(agent, pbx, "agent ->");
    while (formi_session_next_event(agent, &e) == 1)
        if (e.kind == FORMI_EVENT_MARK) printf("  agent: MARK %.*s %.*s\n", (int)e.mark.len, e.mark.data, (int)e.reason.len, e.reason.data);
    formi_session_read_audio(pbx, frame, sizeof frame, &real);
    printf("\n  barge-in: the agent sent %lld ms of its answer; the caller heard %lld ms (confirmed by Twilio's mark\n"
           "  echoes); the other %lld ms were cleared, and the PBX's queue is empty (%zu bytes left to play)\n",
           (long long)played.sent_ms, (long long)played.confirmed_ms, (long long)(played.sent_ms - played.confirmed_ms), real);

    formi_session_end(pbx, "hangup");
    wire += carry(pbx, agent, "pbx   ->");
    double elapsed = now() - start;
    char *stats = NULL;
    formi_session_stats_json(agent, &stats);
    printf("\n  agent session stats: %s\n", stats);
    formi_free(stats);
    printf("\n  %d caller frames, %zu bytes of JSON on the wire, %.0f us of library time for the whole call\n", frames, wire,
           elapsed * 1e6);
    formi_session_free(pbx);
    formi_session_free(agent);
    return 0;
}
