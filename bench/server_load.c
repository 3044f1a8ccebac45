/* A load generator for agent servers: N concurrent calls in a provider's protocol (libformi's telephony
 * role speaks it), each a WebSocket on loopback with 20 ms of caller audio sent per tick of a shared
 * clock and the agent's audio played out at the same clock, as a phone does. One thread, epoll and a
 * timerfd, so that the generator is not what limits the server (its own CPU time is reported).
 *
 *   server_load URL CALLS SECONDS [provider]     e.g. ws://127.0.0.1:8080/ws-adapter/twilio/inbound/1/1/+15550100
 *
 * Calls are placed 20 per tick (1,000 a second) while the clock runs; once all are up and 5 s have
 * passed, "measure start" is printed, SECONDS later "measure end" (a driver samples the server's
 * counters at those lines), then the calls hang up.
 *
 * Keys are pressed to keep the demo agent talking about half the time: '2' at 9 s (opening hours), '1'
 * at 17 s (party size), then '4' and '2' in turn every 8 s (confirm, party size, ...). Prints one JSON
 * line: calls connected, failed, agent audio heard, clears, ticks the generator itself missed, its CPU. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <formi.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    uint8_t *data;
    size_t len, cap;
} buf;

static int buf_put(buf *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static void buf_drop(buf *b, size_t n) {
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

typedef struct {
    int fd;
    formi_session *phone;
    buf in, out;
    int open;
    int64_t heard_bytes, clears, frames_out, frames_in;
    int next_key;
    int64_t start_tick;
} call;

static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A client frame (masked with a zero key, which leaves the payload as it is). */
static int ws_frame(call *c, const uint8_t *data, size_t len, int binary) {
    uint8_t h[14];
    size_t n = 0;
    h[n++] = 0x80 | (binary ? 2 : 1);
    if (len < 126) {
        h[n++] = 0x80 | (uint8_t)len;
    } else if (len < 65536) {
        h[n++] = 0x80 | 126;
        h[n++] = (uint8_t)(len >> 8);
        h[n++] = (uint8_t)len;
    } else {
        h[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) h[n++] = (uint8_t)(len >> (8 * i));
    }
    memset(h + n, 0, 4);
    n += 4;
    if (buf_put(&c->out, h, n) || buf_put(&c->out, data, len)) return -1;
    c->frames_out++;
    return 0;
}

static void flush_out(call *c) {
    while (c->out.len) {
        ssize_t w = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
            c->open = 0;
            return;
        }
        buf_drop(&c->out, (size_t)w);
    }
}

static void pump_outputs(call *c) {
    formi_message m;
    while (formi_session_next_output(c->phone, &m) == 1)
        if (ws_frame(c, m.data, m.len, m.is_binary)) c->open = 0;
    flush_out(c);
}

static void take_events(call *c) {
    formi_event e = FORMI_EVENT_INIT;
    while (formi_session_next_event(c->phone, &e) == 1) {
        if (e.kind == FORMI_EVENT_CLEAR) c->clears++;
        if (e.kind == FORMI_EVENT_STOP) c->open = 0;
    }
}

/* Frames the server sent: fed to the session (pings answered, a close ends the call). */
static void read_frames(call *c) {
    uint8_t tmp[65536];
    for (;;) {
        ssize_t r = recv(c->fd, tmp, sizeof tmp, 0);
        if (r == 0) { c->open = 0; break; }
        if (r < 0) { if (errno != EAGAIN && errno != EWOULDBLOCK) c->open = 0; break; }
        if (buf_put(&c->in, tmp, (size_t)r)) { c->open = 0; return; }
    }
    while (c->in.len >= 2) {
        uint8_t *p = c->in.data;
        int op = p[0] & 0x0f;
        size_t len = p[1] & 0x7f, hl = 2;
        if (len == 126) { if (c->in.len < 4) return; len = (size_t)p[2] << 8 | p[3]; hl = 4; }
        else if (len == 127) { if (c->in.len < 10) return; len = 0; for (int i = 0; i < 8; i++) len = len << 8 | p[2 + i]; hl = 10; }
        if (c->in.len < hl + len) return;
        if (op == 1 || op == 2) {
            c->frames_in++;
            if (formi_session_receive(c->phone, p + hl, len, op == 2) == FORMI_ELIMIT) {
                take_events(c);
                formi_session_receive(c->phone, p + hl, len, op == 2);
            }
            take_events(c);
        } else if (op == 9) {
            uint8_t pong[6] = {0x8a, 0x80, 0, 0, 0, 0};
            buf_put(&c->out, pong, 6);
            buf_put(&c->out, p + hl, len);  /* pings carry at most 125 bytes: the length byte fits */
            c->out.data[c->out.len - len - 5] = (uint8_t)(0x80 | len);
        } else if (op == 8) {
            c->open = 0;
        }
        buf_drop(&c->in, hl + len);
    }
}

static int dial(const char *host, const char *port, const char *path) {
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, port, &hints, &ai)) return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen)) { freeaddrinfo(ai); if (fd >= 0) close(fd); return -1; }
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, host, port);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) { close(fd); return -1; }
    char resp[4096];
    size_t got = 0;
    while (got < sizeof resp - 1) {  /* byte by byte: nothing after the headers may be swallowed */
        ssize_t r = recv(fd, resp + got, 1, 0);
        if (r <= 0) { close(fd); return -1; }
        got++;
        if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0) break;
    }
    resp[got] = 0;
    if (strncmp(resp, "HTTP/1.1 101", 12) != 0) { close(fd); return -2; }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s ws://HOST:PORT/ws-adapter/PROVIDER/... CALLS SECONDS [provider]\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    int ncalls = atoi(argv[2]);
    int seconds = atoi(argv[3]);
    char host[256], port[16], path[1024], provider[64] = "twilio";
    if (sscanf(url, "ws://%255[^:]:%15[0-9]%1023s", host, port, path) != 3 || ncalls < 1 || seconds < 1) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    if (argc > 4) snprintf(provider, sizeof provider, "%s", argv[4]);
    else sscanf(path, "/ws-adapter/%63[^/]", provider);
    int st;
    formi_provider *prov = formi_provider_builtin(provider, &st);
    if (!prov) { fprintf(stderr, "provider: %s\n", formi_last_error()); return 2; }

    call *calls = calloc((size_t)ncalls, sizeof *calls);
    int ep = epoll_create1(0), failed = 0, refused = 0, dialled = 0;
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec its = {.it_interval = {0, 20000000}, .it_value = {0, 20000000}};
    timerfd_settime(tfd, 0, &its, NULL);
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

    static const int16_t silence[160];
    int16_t play[160];
    double cpu_start = 0, cpu_window = 0;
    int64_t tick = 0, missed = 0, all_up = -1, start_tick = -1, end_tick = -1, heard_at_start = 0, missed_at_start = 0;
    struct epoll_event evs[256];
    while (end_tick < 0 || tick < end_tick) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int k = 0; k < n; k++) {
            call *c = evs[k].data.ptr;
            if (c == NULL) {
                uint64_t expirations = 0;
                if (read(tfd, &expirations, sizeof expirations) != sizeof expirations) continue;
                if (expirations > 1) missed += (int64_t)expirations - 1;
                tick++;
                for (int k = 0; k < 20 && dialled < ncalls; k++) {
                    call *c = &calls[dialled++];
                    formi_session_config cfg;
                    formi_session_config_init(&cfg, FORMI_ROLE_TELEPHONY);
                    cfg.local_format.encoding = FORMI_ENCODING_PCM16LE;
                    cfg.local_format.sample_rate = 8000;
                    cfg.local_format.channels = 1;
                    char sid[64];
                    snprintf(sid, sizeof sid, "MZload%08d%010ld", dialled, (long)now_ms());
                    cfg.stream_id = sid;
                    cfg.call_id = sid;
                    cfg.from = "+15550199";
                    c->phone = formi_session_new(prov, &cfg, &st);
                    c->fd = c->phone ? dial(host, port, path) : -1;
                    if (c->fd < 0) { if (c->fd == -2) refused++; failed++; c->open = 0; continue; }
                    c->open = 1;
                    c->start_tick = tick;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
                    formi_session_set_time(c->phone, 0);
                    pump_outputs(c);  /* connected, start */
                }
                if (all_up < 0 && dialled == ncalls) all_up = tick;
                if (all_up >= 0 && start_tick < 0 && tick >= all_up + 250) {
                    start_tick = tick;
                    end_tick = tick + (int64_t)seconds * 50;
                    missed_at_start = missed;
                    cpu_start = cpu_now();
                    for (int i = 0; i < ncalls; i++) heard_at_start += calls[i].heard_bytes;
                    printf("measure start\n");
                    fflush(stdout);
                }
                for (int i = 0; i < dialled; i++) {
                    call *d = &calls[i];
                    if (!d->open) continue;
                    int64_t call_ms = (tick - d->start_tick) * 20;
                    formi_session_set_time(d->phone, call_ms);
                    formi_session_send_audio(d->phone, silence, sizeof silence);
                    /* '2' at 9 s, '1' at 17 s, then '4' and '2' in turn every 8 s; calls spread over 8 s
                       (callers do not press keys in step). */
                    int64_t due = (i % 400) * 20 +
                                  (d->next_key == 0 ? 9000 : d->next_key == 1 ? 17000 : 17000 + 8000 * (d->next_key - 1));
                    if (call_ms >= due) {
                        char key = d->next_key == 0 ? '2' : d->next_key == 1 ? '1' : (d->next_key % 2 ? '2' : '4');
                        formi_session_send_dtmf(d->phone, key, 100);
                        d->next_key++;
                    }
                    size_t real = 0;
                    formi_session_read_audio(d->phone, play, sizeof play, &real);
                    d->heard_bytes += (int64_t)real;
                    pump_outputs(d);
                }
            } else {
                read_frames(c);
                pump_outputs(c);
            }
        }
    }
    cpu_window = cpu_now() - cpu_start;
    printf("measure end\n");
    fflush(stdout);
    int open_at_end = 0;
    int64_t heard = 0, clears = 0, fin = 0, fout = 0;
    for (int i = 0; i < ncalls; i++) {
        call *c = &calls[i];
        if (c->open) open_at_end++;
        heard += c->heard_bytes;
        clears += c->clears;
        fin += c->frames_in;
        fout += c->frames_out;
        if (c->phone) {
            formi_session_end(c->phone, "hangup");
            if (c->fd >= 0) { pump_outputs(c); close(c->fd); }
            formi_session_free(c->phone);
        }
        free(c->in.data);
        free(c->out.data);
    }
    printf("{\"calls\":%d,\"connected\":%d,\"refused\":%d,\"open_at_end\":%d,\"seconds\":%d,\"heard_s_per_call\":%.2f,"
           "\"clears\":%lld,\"frames_sent\":%lld,\"frames_received\":%lld,\"ticks_missed\":%lld,\"generator_cpu_percent\":%.1f}\n",
           ncalls, ncalls - failed, refused, open_at_end, seconds,
           ncalls - failed ? (heard - heard_at_start) / 16000.0 / (ncalls - failed) : 0.0, (long long)clears, (long long)fout,
           (long long)fin, (long long)(missed - missed_at_start), 100 * cpu_window / seconds);
    free(calls);
    formi_provider_free(prov);
    return failed ? 1 : 0;
}
