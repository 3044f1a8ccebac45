/* replay_capture: replays a recorded provider capture through an agent-server session and prints the
 * internal events it gives, as your /ws-adapter would see them, then the session's stats.
 *
 *   replay_capture PROVIDER CAPTURE.jsonl
 *
 *   PROVIDER  a built-in provider: twilio, exotel, plivo, telnyx, vonage, jambonz, asterisk,
 *             asterisk-text, audiosocket
 *   CAPTURE   JSON lines, one received frame per line: {"text": "<the text frame>"} or
 *             {"binary": "<the binary frame, base64>"}; other members (e.g. "expect") are ignored.
 *             Blank lines are skipped. For AudioSocket each "binary" is a piece of the TCP stream.
 *
 * Each line is parsed by a small, strict JSON reader (the whole line must be one valid JSON object;
 * strings may use every escape, \uXXXX surrogate pairs included, and must be valid UTF-8); an invalid
 * line stops the replay with its line and column. Base64 is decoded with libformi's own strict decoder.
 * The session gets every frame with formi_session_receive(); after each one the events are taken with
 * formi_session_next_event() and printed one per line, prefixed with the capture line that caused
 * them. At the end formi_session_end() delivers what the session still holds (reordered media, a STOP
 * if the provider sent none), and the stats JSON is printed.
 *
 * Media is delivered in the session's local format (16 kHz 16-bit mono PCM, the default), whatever the
 * provider's codec. ERROR events are part of a capture's story (bad frames are what they record), so
 * they do not make the exit status non-zero; a bad command line, an unreadable file or an invalid line do.
 *
 * A session is one call on one connection, as in production: a capture that holds a second call after
 * the first one's stop (or a second start) sees it rejected as ERROR events; split such captures and
 * replay each part on its own session. AudioSocket is a TCP byte stream, so a frame cut short in the
 * capture takes the bytes of the frames after it as the rest of its payload, as it would on the wire.
 *
 * Build: cc -std=c11 -O2 -Wall -Wextra replay_capture.c -o replay_capture $(pkg-config --cflags --libs formi)
 */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <formi.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *program = "replay_capture";

static void library_error(const char *what, int status) {
    fprintf(stderr, "%s: %s: %s (%d): %s\n", program, what, formi_strerror(status), status, formi_last_error());
}

/* ---- a growable byte buffer ---------------------------------------------------------------------- */

typedef struct buffer {
    uint8_t *data;
    size_t len, cap;
} buffer;

static int buffer_reserve(buffer *b, size_t extra) {
    if (extra <= b->cap - b->len) return 0;
    if (extra > SIZE_MAX / 2 - b->len) return -1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL) return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

/* ---- a small strict JSON reader (RFC 8259) --------------------------------------------------------
 * Enough to pick one string member out of a line's object: every other value is checked and skipped. */

typedef struct json {
    const uint8_t *start, *p, *end;
    const char *error; /* what was wrong, at `p` */
} json;

#define JSON_MAX_DEPTH 64

static int json_fail(json *j, const char *error) {
    if (j->error == NULL) j->error = error;
    return -1;
}

static void json_ws(json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int hex4(json *j, uint32_t *out) {
    if (j->end - j->p < 4) return json_fail(j, "truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = j->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return json_fail(j, "bad hex digit in \\u escape");
    }
    j->p += 4;
    *out = v;
    return 0;
}

/* Appends code point `cp` (a scalar value: no surrogates) as UTF-8. */
static int put_utf8(buffer *out, uint32_t cp) {
    uint8_t u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (uint8_t)cp; n = 1; }
    else if (cp < 0x800) { u[0] = (uint8_t)(0xC0 | cp >> 6); u[1] = (uint8_t)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) { u[0] = (uint8_t)(0xE0 | cp >> 12); u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F)); u[2] = (uint8_t)(0x80 | (cp & 0x3F)); n = 3; }
    else { u[0] = (uint8_t)(0xF0 | cp >> 18); u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F)); u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F)); u[3] = (uint8_t)(0x80 | (cp & 0x3F)); n = 4; }
    if (buffer_reserve(out, n) != 0) return -1;
    memcpy(out->data + out->len, u, n);
    out->len += n;
    return 0;
}

/* The length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates, <= U+10FFFF), or 0. */
static size_t utf8_length(const uint8_t *p, const uint8_t *end) {
    uint8_t c = p[0];
    size_t n;
    uint8_t lo = 0x80, hi = 0xBF; /* the range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;
    if ((size_t)(end - p) < n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
}

/* A string at j->p (the opening quote), decoded into `out` (which it appends to; NULL: checked only). */
static int json_string(json *j, buffer *out) {
    if (j->p >= j->end || *j->p != '"') return json_fail(j, "expected a string");
    j->p++;
    for (;;) {
        if (j->p >= j->end) return json_fail(j, "unterminated string");
        uint8_t c = *j->p;
        if (c == '"') {
            j->p++;
            return 0;
        }
        if (c < 0x20) return json_fail(j, "control character in a string (it must be escaped)");
        if (c == '\\') {
            if (j->end - j->p < 2) return json_fail(j, "unterminated string");
            uint8_t e = j->p[1];
            uint32_t cp;
            j->p += 2;
            switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (hex4(j, &cp) != 0) return -1;
                if (cp >= 0xDC00 && cp <= 0xDFFF) { j->p -= 6; return json_fail(j, "\\u escape of a lone low surrogate"); }
                if (cp >= 0xD800 && cp <= 0xDBFF) { /* a high surrogate: a low one must follow */
                    uint32_t low;
                    if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u') { j->p -= 6; return json_fail(j, "\\u escape of a high surrogate without its low surrogate"); }
                    j->p += 2;
                    if (hex4(j, &low) != 0) return -1;
                    if (low < 0xDC00 || low > 0xDFFF) { j->p -= 12; return json_fail(j, "\\u escape of a high surrogate without its low surrogate"); }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                }
                break;
            default:
                j->p -= 2;
                return json_fail(j, "invalid escape in a string");
            }
            if (out != NULL && put_utf8(out, cp) != 0) return json_fail(j, "out of memory");
            continue;
        }
        /* A run of plain bytes, UTF-8 checked, copied at once. */
        const uint8_t *run = j->p;
        while (j->p < j->end && *j->p != '"' && *j->p != '\\' && *j->p >= 0x20) {
            size_t n = utf8_length(j->p, j->end);
            if (n == 0) return json_fail(j, "invalid UTF-8 in a string");
            j->p += n;
        }
        size_t n = (size_t)(j->p - run);
        if (out != NULL) {
            if (buffer_reserve(out, n) != 0) return json_fail(j, "out of memory");
            memcpy(out->data + out->len, run, n);
            out->len += n;
        }
    }
}

static int json_digits(json *j) {
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return json_fail(j, "bad number");
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    return 0;
}

static int json_number(json *j) {
    if (j->p < j->end && *j->p == '-') j->p++;
    if (j->p < j->end && *j->p == '0') j->p++; /* no leading zeros */
    else if (json_digits(j) != 0) return -1;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (json_digits(j) != 0) return -1;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (json_digits(j) != 0) return -1;
    }
    return 0;
}

static int json_value(json *j, int depth);

/* Members of an object or elements of an array after its opening bracket; `close` is ']' or '}'. */
static int json_container(json *j, int depth, uint8_t close) {
    if (depth >= JSON_MAX_DEPTH) return json_fail(j, "nested too deeply");
    j->p++;
    json_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 0;
    }
    for (;;) {
        json_ws(j);
        if (close == '}') {
            if (json_string(j, NULL) != 0) return json_fail(j, "expected a member name");
            json_ws(j);
            if (j->p >= j->end || *j->p != ':') return json_fail(j, "expected ':' after a member name");
            j->p++;
        }
        if (json_value(j, depth + 1) != 0) return -1;
        json_ws(j);
        if (j->p < j->end && *j->p == ',') { j->p++; continue; }
        if (j->p < j->end && *j->p == close) { j->p++; return 0; }
        return json_fail(j, close == '}' ? "expected ',' or '}' in an object" : "expected ',' or ']' in an array");
    }
}

static int json_literal(json *j, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) return json_fail(j, "invalid literal");
    j->p += n;
    return 0;
}

/* Checks and skips one value. */
static int json_value(json *j, int depth) {
    json_ws(j);
    if (j->p >= j->end) return json_fail(j, "expected a value");
    switch (*j->p) {
    case '"': return json_string(j, NULL);
    case '{': return json_container(j, depth, '}');
    case '[': return json_container(j, depth, ']');
    case 't': return json_literal(j, "true");
    case 'f': return json_literal(j, "false");
    case 'n': return json_literal(j, "null");
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) return json_number(j);
        return json_fail(j, "expected a value");
    }
}

/* One capture line: an object with exactly one of "text" and "binary", a string, decoded into `value`.
 * `name` is scratch space for member names. */
static int parse_capture_line(json *j, buffer *name, buffer *value, int *is_binary) {
    int found = 0;
    json_ws(j);
    if (j->p >= j->end || *j->p != '{') return json_fail(j, "a line must be a JSON object");
    j->p++;
    json_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
    } else {
        for (;;) {
            json_ws(j);
            name->len = 0;
            if (json_string(j, name) != 0) return json_fail(j, "expected a member name");
            json_ws(j);
            if (j->p >= j->end || *j->p != ':') return json_fail(j, "expected ':' after a member name");
            j->p++;
            json_ws(j);
            int text = name->len == 4 && memcmp(name->data, "text", 4) == 0;
            int binary = name->len == 6 && memcmp(name->data, "binary", 6) == 0;
            if (text || binary) {
                if (found) return json_fail(j, "a line has both \"text\" and \"binary\", or one of them twice");
                if (j->p >= j->end || *j->p != '"') return json_fail(j, text ? "\"text\" must be a string" : "\"binary\" must be a string");
                found = 1;
                *is_binary = binary;
                value->len = 0;
                if (json_string(j, value) != 0) return -1;
            } else if (json_value(j, 1) != 0) {
                return -1;
            }
            json_ws(j);
            if (j->p < j->end && *j->p == ',') { j->p++; continue; }
            if (j->p < j->end && *j->p == '}') { j->p++; break; }
            return json_fail(j, "expected ',' or '}' in an object");
        }
    }
    json_ws(j);
    if (j->p != j->end) return json_fail(j, "text after the object");
    if (!found) return json_fail(j, "the object has neither \"text\" nor \"binary\"");
    return 0;
}

/* ---- printing events ----------------------------------------------------------------------------- */

static const char *kind_name(int kind) {
    static const char *names[] = {"?", "CONNECTED", "START", "MEDIA", "DTMF", "MARK", "CLEAR", "STOP", "ERROR", "IGNORED"};
    return kind >= 1 && kind <= 9 ? names[kind] : "?";
}

static const char *encoding_name(int encoding) {
    static const char *names[] = {"none", "ulaw", "alaw", "pcm16le", "pcm16be", "pcm8", "f32le"};
    return encoding >= 0 && encoding <= 6 ? names[encoding] : "?";
}

/* ` name="value"`, escaped so that one event stays on one line; nothing when the field is absent. */
static void print_text(const char *name, formi_text t) {
    if (t.data == NULL) return;
    printf(" %s=\"", name);
    size_t shown = t.len > 200 ? 200 : t.len;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)t.data[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c >= 0x20 && c < 0x7F) putchar(c);
        else printf("\\x%02x", c);
    }
    printf("\"%s", t.len > shown ? "..." : "");
}

static void print_int(const char *name, int64_t v) {
    if (v != -1) printf(" %s=%" PRId64, name, v);
}

static void print_event(const char *where, const formi_event *e) {
    printf("%s: %s", where, kind_name(e->kind));
    print_text("pattern", e->pattern);
    print_text("stream_id", e->stream_id);
    print_text("call_id", e->call_id);
    print_text("account_id", e->account_id);
    print_int("sequence", e->sequence);
    print_int("timestamp", e->timestamp);
    print_int("chunk", e->chunk);
    if (e->kind == FORMI_EVENT_MEDIA) printf(" bytes=%zu", e->audio_len);
    print_text("track", e->track);
    print_text("digit", e->digit);
    print_int("duration_ms", e->duration_ms);
    print_text("mark", e->mark);
    print_text("direction", e->direction);
    print_text("from", e->from);
    print_text("to", e->to);
    print_text("reason", e->reason);
    print_text("custom_parameters", e->custom_parameters);
    print_text("error", e->error);
    if (e->format.encoding != 0)
        printf(" format=%s/%d/%d", encoding_name(e->format.encoding), e->format.sample_rate, e->format.channels);
    putchar('\n');
}

/* Takes and prints every waiting event; counts them by kind. Returns the number taken, or -1. */
static long take_events(formi_session *s, const char *where, long counts[10]) {
    formi_event e = FORMI_EVENT_INIT;
    long taken = 0;
    int r;
    while ((r = formi_session_next_event(s, &e)) == 1) {
        print_event(where, &e);
        counts[e.kind >= 1 && e.kind <= 9 ? e.kind : 0]++;
        taken++;
    }
    if (r < 0) {
        library_error("formi_session_next_event", r);
        return -1;
    }
    return taken;
}

/* Takes the messages the session would send back to the provider (media, marks, clear, hangup) and
 * shows them briefly: this replay has nobody to send them to. */
static int take_output(formi_session *s, const char *where) {
    formi_message m;
    int r;
    while ((r = formi_session_next_output(s, &m)) == 1) {
        printf("%s: -> %s message, %zu bytes", where, m.is_binary ? "binary" : "text", m.len);
        if (!m.is_binary) {
            formi_text t = {(const char *)m.data, m.len};
            print_text("text", t);
        }
        putchar('\n');
    }
    if (r < 0) library_error("formi_session_next_output", r);
    return r < 0 ? -1 : 0;
}

/* ---- main ---------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PROVIDER CAPTURE.jsonl\n"
                        "  PROVIDER  twilio, exotel, plivo, telnyx, vonage, jambonz, asterisk, asterisk-text, audiosocket\n", program);
        return 2;
    }
    const char *provider_name = argv[1], *path = argv[2];
    int rc = 1, status;
    FILE *f = NULL;
    formi_provider *provider = NULL;
    formi_session *s = NULL;
    char *line = NULL, *stats = NULL;
    size_t line_cap = 0;
    buffer name = {0}, value = {0};
    uint8_t *frame = NULL;
    size_t frame_cap = 0;
    long counts[10] = {0}, lines = 0, frames = 0;

    provider = formi_provider_builtin(provider_name, &status);
    if (provider == NULL) {
        library_error("formi_provider_builtin", status);
        goto done;
    }
    formi_session_config config;
    status = formi_session_config_init(&config, FORMI_ROLE_AGENT_SERVER);
    if (status != FORMI_OK) {
        library_error("formi_session_config_init", status);
        goto done;
    }
    s = formi_session_new(provider, &config, &status);
    if (s == NULL) {
        library_error("formi_session_new", status);
        goto done;
    }
    formi_provider_free(provider); /* the session keeps what it needs */
    provider = NULL;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s: %s\n", program, path, strerror(errno));
        goto done;
    }
    printf("replaying %s as %s (agent server; media as %s/%d/%d)\n", path, provider_name,
           encoding_name(config.local_format.encoding), config.local_format.sample_rate, config.local_format.channels);

    for (;;) {
        errno = 0;
        ssize_t got = getline(&line, &line_cap, f);
        if (got < 0) {
            if (ferror(f)) {
                fprintf(stderr, "%s: %s: read error: %s\n", program, path, strerror(errno));
                goto done;
            }
            break;
        }
        lines++;
        json j = {(const uint8_t *)line, (const uint8_t *)line, (const uint8_t *)line + got, NULL};
        json_ws(&j);
        if (j.p == j.end) continue; /* a blank line */
        j.p = j.start;
        int is_binary = 0;
        if (parse_capture_line(&j, &name, &value, &is_binary) != 0) {
            fprintf(stderr, "%s: %s:%ld:%ld: invalid line: %s\n", program, path, lines, (long)(j.p - j.start) + 1, j.error);
            goto done;
        }

        const void *data = value.data;
        size_t len = value.len;
        if (is_binary) { /* base64, decoded with the library's strict decoder */
            size_t need = FORMI_BASE64_DECODED_MAX(value.len) + 1, decoded = 0;
            if (need > frame_cap) {
                uint8_t *p = realloc(frame, need);
                if (p == NULL) {
                    fprintf(stderr, "%s: out of memory\n", program);
                    goto done;
                }
                frame = p;
                frame_cap = need;
            }
            status = formi_base64_decode((const char *)value.data, value.len, frame, frame_cap, &decoded);
            if (status != FORMI_OK) {
                fprintf(stderr, "%s: %s:%ld: invalid line: \"binary\" is not valid base64: %s\n", program, path, lines, formi_last_error());
                goto done;
            }
            data = frame;
            len = decoded;
        }

        char where[32];
        snprintf(where, sizeof where, "line %ld", lines);
        for (;;) { /* FORMI_ELIMIT: too many events wait; take them and try again */
            status = formi_session_receive(s, data != NULL ? data : "", len, is_binary);
            if (status != FORMI_ELIMIT) break;
            long taken = take_events(s, where, counts);
            if (taken < 0) goto done;
            if (taken == 0) { /* nothing to take: it would never succeed */
                library_error("formi_session_receive", status);
                goto done;
            }
        }
        if (status != FORMI_OK) {
            library_error("formi_session_receive", status);
            goto done;
        }
        frames++;
        if (take_events(s, where, counts) < 0 || take_output(s, where) != 0) goto done;
    }

    /* The transport closed: held media comes out, and a STOP if the provider sent none. */
    status = formi_session_end(s, "end of capture");
    if (status != FORMI_OK) {
        library_error("formi_session_end", status);
        goto done;
    }
    if (take_events(s, "end", counts) < 0 || take_output(s, "end") != 0) goto done;

    status = formi_session_stats_json(s, &stats);
    if (status != FORMI_OK) {
        library_error("formi_session_stats_json", status);
        goto done;
    }
    printf("events:");
    for (int k = 1; k <= 9; k++) printf(" %s=%ld", kind_name(k), counts[k]);
    printf(" (%ld frames from %ld lines)\n", frames, lines);
    printf("stats: %s\n", stats);
    rc = 0;

done:
    formi_free(stats);
    formi_session_free(s);
    formi_provider_free(provider);
    if (f != NULL) fclose(f);
    free(line);
    free(name.data);
    free(value.data);
    free(frame);
    return rc;
}
