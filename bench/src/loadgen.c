/* loadgen.c - webhook load over keep-alive connections, open or closed loop.
 *
 * Every request is a one-event text webhook with its own webhookEventId,
 * replyToken and X-Line-Signature (HMAC-SHA256 of the exact body, base64).
 * The phase id is part of every id, users included, so each phase has fresh
 * users; users take turns so that none sends more than --per-user messages
 * (6) in a phase, --users (1000) of them interleaved.
 *
 * Open loop (--rate): every request is built before the clock starts, and
 * request i is due at t0 + i/rate. A due request goes out on the first idle
 * connection; when none is idle it waits, and its latency still counts from
 * the time it was due, so a slow server cannot hide its queueing (no
 * coordinated omission).
 *
 * Closed loop (--loop closed): for --duration seconds each connection sends
 * its next request as soon as the last one is answered; latency counts from
 * the send. Requests are built as needed.
 *
 * Either way, non-2xx answers other than 503, timeouts and broken connections
 * are errors. A 503 is "refused": the server shed load, and LINE would
 * redeliver the event later, so it is not expected to be answered. After the
 * last acknowledgement it waits for the fake LINE to have received one reply
 * per acknowledged event (the drain), asks the fake which events were
 * answered (lost: acknowledged, never answered; answered although refused),
 * and reads the server's CPU time from /proc over the window from the first
 * send to the last reply.
 *
 *   bench-load --port P --fake-port F --secret S
 *              (--rate R (--duration SEC | --count N) | --loop closed --duration SEC)
 *              [--conns C] [--users U] [--per-user M] [--phase ID] [--pid SERVER_PID]
 *              [--timeout-ms T] [--drain-ms D] [--max-drain-ms M] [--label NAME]
 *
 *   bench-load --settle FAKE_PORT MAX_MS
 *       Waits until the fakes have served nothing new for one second (a
 *       server still working off a backlog from an earlier phase), at most
 *       MAX_MS; prints settled=1 or settled=0.
 *
 * Prints key=value lines. Exit status: 0 when the run was measured (whatever
 * the server did), 1 when the harness could not run (bad options, the fake
 * cannot be reached, no connection to the server could ever be made). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "benchutil.h"

#define MAX_REQUESTS 2000000
#define MAX_CONNS 512
#define RBUF 4096
#define TOKEN_MAGIC 0xbe7cbe7cu

struct options {
    int port, fake_port, conns, users, per_user, timeout_ms, drain_ms, max_drain_ms;
    bool closed; /* closed loop: each connection sends its next request once the last is answered */
    unsigned phase;
    double rate, duration;
    long count;
    pid_t pid;
    const char *secret, *label;
};

/* ---- the prepared requests ---- */

struct plan {
    char *arena;          /* all requests, back to back */
    size_t arena_len, arena_cap;
    size_t *off, *len;    /* request i is arena[off[i]..off[i]+len[i]) */
    int64_t *due_ns;      /* relative to t0; in a closed loop, set when it is sent */
    int64_t *done_ns;     /* latency from due time, -1 while open */
    short *status;        /* HTTP status of its answer, 0 for none (timeout, broken connection) */
    long n, cap;
};

#define REQUEST_MAX 1400 /* generous upper bound of one request's size */

static void base64(const unsigned char *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* Grows the per-request arrays to hold at least want requests. */
static int plan_reserve(struct plan *p, long want)
{
    if (want <= p->cap)
        return 0;
    long cap = p->cap ? p->cap : 1024;
    while (cap < want)
        cap *= 2;
    size_t *off = realloc(p->off, sizeof *off * (size_t)cap);
    if (off)
        p->off = off;
    size_t *len = realloc(p->len, sizeof *len * (size_t)cap);
    if (len)
        p->len = len;
    int64_t *due = realloc(p->due_ns, sizeof *due * (size_t)cap);
    if (due)
        p->due_ns = due;
    int64_t *done = realloc(p->done_ns, sizeof *done * (size_t)cap);
    if (done)
        p->done_ns = done;
    short *status = realloc(p->status, sizeof *status * (size_t)cap);
    if (status)
        p->status = status;
    if (!off || !len || !due || !done || !status)
        return -1;
    p->cap = cap;
    return 0;
}

/* HMAC-SHA256 with the channel secret. One context, keyed once, serves
 * every request: OpenSSL's one-shot HMAC() fetches the digest and sets the
 * key on each call, which would make building requests during a closed loop
 * cost the generator more than it has to. */
static int sign(const struct options *o, const char *body, size_t len, unsigned char *mac, size_t *maclen)
{
    static EVP_MAC_CTX *ctx;
    if (!ctx) {
        EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
        EVP_MAC_free(hmac);
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                               OSSL_PARAM_construct_end()};
        if (!ctx || !EVP_MAC_init(ctx, (const unsigned char *)o->secret, strlen(o->secret), params))
            return -1;
    } else if (!EVP_MAC_init(ctx, NULL, 0, NULL)) { /* the same key again */
        return -1;
    }
    return EVP_MAC_update(ctx, (const unsigned char *)body, len) &&
                   EVP_MAC_final(ctx, mac, maclen, EVP_MAX_MD_SIZE)
               ? 0
               : -1;
}

/* The user who sends request i. Users take turns in blocks: a block holds
 * o->users users and o->users * o->per_user requests, and request i goes to
 * user i % o->users of its block. So no user sends more than o->per_user
 * messages in a phase, a user's messages are o->users requests apart, and the
 * block (and so the users) does not depend on how many requests the phase
 * ends up sending (a closed loop does not know). */
static unsigned long long plan_user(const struct options *o, long i)
{
    long block = i / ((long)o->users * o->per_user);
    return (unsigned long long)block * (unsigned long long)o->users + (unsigned long long)(i % o->users);
}

/* Builds requests p->n .. upto-1: a one-event text webhook each, signed. The
 * phase is part of every id (user, event, message, reply token), so each
 * phase has users, events and tokens of its own. */
static int plan_fill(struct plan *p, const struct options *o, long upto)
{
    static const char *const texts[] = {
        "Hello! What is a good name for a cat?",
        "Can you suggest a quick dinner recipe with rice and eggs?",
        "How far is the moon from the earth?",
        "Translate 'good morning' into Japanese, please.",
        "Tell me a short fun fact about octopuses.",
        "What should I pack for a weekend trip to the mountains?",
    };
    if (upto > MAX_REQUESTS)
        upto = MAX_REQUESTS;
    if (upto <= p->n)
        return 0;
    if (plan_reserve(p, upto) != 0)
        return -1;
    size_t need = p->arena_len + (size_t)(upto - p->n) * REQUEST_MAX;
    if (need > p->arena_cap) {
        size_t cap = p->arena_cap ? p->arena_cap : (size_t)1 << 20;
        while (cap < need)
            cap *= 2;
        char *a = realloc(p->arena, cap);
        if (!a)
            return -1;
        p->arena = a;
        p->arena_cap = cap;
    }
    int64_t wall0 = bench_wall_ms();
    char body[1024], sig[64];
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    for (long i = p->n; i < upto; i++) {
        int64_t due = o->closed ? 0 : (int64_t)((double)i * 1e9 / o->rate);
        p->due_ns[i] = due;
        p->done_ns[i] = -1;
        p->status[i] = 0;
        unsigned long long user = plan_user(o, i);
        int bl = snprintf(body, sizeof body,
                          "{\"destination\":\"Ubench000000000000000000000000000\",\"events\":[{"
                          "\"type\":\"message\",\"message\":{\"type\":\"text\",\"id\":\"%llu\","
                          "\"quoteToken\":\"qt%08x%016lx\",\"text\":\"%s (%ld)\"},"
                          "\"webhookEventId\":\"01%08X%016lX\",\"deliveryContext\":{\"isRedelivery\":false},"
                          "\"timestamp\":%lld,\"source\":{\"type\":\"user\",\"userId\":\"U%08x%024llx\"},"
                          "\"replyToken\":\"%08x%08x%016lx\",\"mode\":\"active\"}]}",
                          (unsigned long long)o->phase * 10000000000ULL + (unsigned long long)i, o->phase,
                          (unsigned long)i, texts[i % 6], i, o->phase, (unsigned long)i,
                          (long long)(wall0 + due / 1000000), o->phase, user, TOKEN_MAGIC, o->phase,
                          (unsigned long)i);
        if (bl < 0 || (size_t)bl >= sizeof body)
            return -1;
        if (sign(o, body, (size_t)bl, mac, &maclen) != 0)
            return -1;
        base64(mac, maclen, sig);
        int rl = snprintf(p->arena + p->arena_len, REQUEST_MAX,
                          "POST /callback HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: LineBotWebhook/2.0\r\n"
                          "Content-Type: application/json; charset=utf-8\r\nX-Line-Signature: %s\r\n"
                          "Content-Length: %d\r\n\r\n%s",
                          o->port, sig, bl, body);
        if (rl < 0 || rl >= REQUEST_MAX)
            return -1;
        p->off[i] = p->arena_len;
        p->len[i] = (size_t)rl;
        p->arena_len += (size_t)rl;
        p->n = i + 1;
    }
    return 0;
}

static void plan_free(struct plan *p)
{
    free(p->arena);
    free(p->off);
    free(p->len);
    free(p->due_ns);
    free(p->done_ns);
    free(p->status);
}

/* ---- connections ---- */

enum conn_state { C_DOWN, C_CONNECTING, C_IDLE, C_BUSY };

struct conn {
    int fd;
    enum conn_state state;
    long req;           /* request in flight, -1 when none */
    size_t wrote;       /* bytes of it written */
    int64_t sent_ns;    /* when it went out (absolute) */
    int64_t retry_ns;   /* when a down connection may reconnect */
    char rbuf[RBUF];
    size_t rlen;
};

struct run {
    const struct options *o;
    struct plan *p;
    struct conn conns[MAX_CONNS];
    int idle[MAX_CONNS], n_idle;
    int ep, tfd;
    int64_t t0;
    int64_t send_end_ns; /* closed loop: no request goes out after this */
    bool plan_failed;    /* closed loop: no memory for more requests */
    long next;          /* first request not yet sent */
    long completed;
    long ok, non2xx, refused, timeouts, conn_errors, unsent;
    long status_counts[6];
    long connects, connect_failures;
    int64_t last_ack_ns, last_send_ns;
    int64_t max_send_lag_ns;
};

static void conn_close(struct run *r, int i, int64_t retry_after_ns)
{
    struct conn *c = &r->conns[i];
    if (c->fd >= 0) {
        epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    if (c->state == C_IDLE) {
        for (int k = 0; k < r->n_idle; k++)
            if (r->idle[k] == i) {
                r->idle[k] = r->idle[--r->n_idle];
                break;
            }
    }
    c->fd = -1;
    c->state = C_DOWN;
    c->req = -1;
    c->rlen = 0;
    c->retry_ns = bench_now_ns() + retry_after_ns;
}

static void conn_idle(struct run *r, int i)
{
    r->conns[i].state = C_IDLE;
    r->conns[i].req = -1;
    r->conns[i].rlen = 0;
    r->idle[r->n_idle++] = i;
}

static int conn_open(struct run *r, int i)
{
    struct conn *c = &r->conns[i];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->o->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->connects++;
    c->fd = fd;
    c->rlen = 0;
    c->req = -1;
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
    if (rc != 0 && errno != EINPROGRESS) {
        close(fd);
        c->fd = -1;
        c->state = C_DOWN;
        c->retry_ns = bench_now_ns() + 100000000LL;
        r->connect_failures++;
        return -1;
    }
    c->state = C_CONNECTING;
    epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

static void set_writing(struct run *r, int i, bool writing)
{
    struct epoll_event ev = {.events = EPOLLIN | (writing ? EPOLLOUT : 0), .data.u32 = (uint32_t)i};
    epoll_ctl(r->ep, EPOLL_CTL_MOD, r->conns[i].fd, &ev);
}

static void finish_request(struct run *r, long req, int status, int64_t now)
{
    struct plan *p = r->p;
    if (p->done_ns[req] != -1)
        return;
    /* only acknowledgements are latency samples */
    p->done_ns[req] = -2;
    p->status[req] = (short)(status >= 100 && status <= 599 ? status : 0);
    r->completed++;
    if (status >= 200 && status <= 299) {
        p->done_ns[req] = now - (r->t0 + p->due_ns[req]);
        r->ok++;
        r->last_ack_ns = now;
    } else if (status == 503) {
        r->refused++; /* overload: LINE would redeliver it later */
    } else if (status > 0) {
        r->non2xx++;
    }
    if (status >= 100 && status <= 599)
        r->status_counts[status / 100]++;
}

/* Marks the request in flight on connection i as failed and closes it. */
static void fail_conn(struct run *r, int i, bool timeout)
{
    struct conn *c = &r->conns[i];
    if (c->req >= 0) {
        finish_request(r, c->req, 0, bench_now_ns());
        if (timeout)
            r->timeouts++;
        else
            r->conn_errors++;
    }
    conn_close(r, i, timeout ? 0 : 50000000LL);
}

static void try_write(struct run *r, int i)
{
    struct conn *c = &r->conns[i];
    const char *buf = r->p->arena + r->p->off[c->req];
    size_t len = r->p->len[c->req];
    while (c->wrote < len) {
        ssize_t w = send(c->fd, buf + c->wrote, len - c->wrote, MSG_NOSIGNAL);
        if (w > 0) {
            c->wrote += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EAGAIN) {
            set_writing(r, i, true);
            return;
        } else {
            fail_conn(r, i, false);
            return;
        }
    }
    set_writing(r, i, false);
}

/* Parses one complete response in c->rbuf, if there is one: returns its
 * status (and sets *keep) or 0 when more bytes are needed, -1 if malformed. */
static int parse_response(struct conn *c, bool *keep)
{
    c->rbuf[c->rlen < RBUF ? c->rlen : RBUF - 1] = '\0';
    char *end = strstr(c->rbuf, "\r\n\r\n");
    if (!end)
        return c->rlen >= RBUF - 1 ? -1 : 0;
    if (c->rlen < 12 || strncmp(c->rbuf, "HTTP/1.", 7) != 0)
        return -1;
    int status = atoi(c->rbuf + 9);
    size_t head = (size_t)(end - c->rbuf) + 4;
    long clen = -1;
    bool chunked = false;
    *keep = strncmp(c->rbuf, "HTTP/1.1", 8) == 0;
    for (char *line = strstr(c->rbuf, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, "content-length:", 15) == 0)
            clen = strtol(line + 15, NULL, 10);
        else if (strncasecmp(line, "transfer-encoding:", 18) == 0 && strstr(line, "chunked") &&
                 strstr(line, "chunked") < strstr(line, "\r\n"))
            chunked = true;
        else if (strncasecmp(line, "connection:", 11) == 0) {
            char *v = line + 11;
            while (*v == ' ')
                v++;
            if (strncasecmp(v, "close", 5) == 0)
                *keep = false;
            else if (strncasecmp(v, "keep-alive", 10) == 0)
                *keep = true;
        }
    }
    if (chunked) {
        /* small bodies only: complete once the terminating chunk is in */
        size_t pos = head;
        for (;;) {
            char *nl = strstr(c->rbuf + pos, "\r\n");
            if (!nl)
                return c->rlen >= RBUF - 1 ? -1 : 0;
            long sz = strtol(c->rbuf + pos, NULL, 16);
            if (sz < 0)
                return -1;
            size_t data = (size_t)(nl - c->rbuf) + 2;
            if (data + (size_t)sz + 2 > c->rlen)
                return c->rlen >= RBUF - 1 ? -1 : 0;
            if (sz == 0)
                return status;
            pos = data + (size_t)sz + 2;
        }
    }
    if (clen < 0) {
        if (status == 204 || status == 304 || (status >= 100 && status < 200))
            clen = 0;
        else
            return -1; /* read-until-close bodies are not expected here */
    }
    if (head + (size_t)clen > RBUF - 1)
        return -1;
    if (c->rlen < head + (size_t)clen)
        return 0;
    return status;
}

static void on_readable(struct run *r, int i)
{
    struct conn *c = &r->conns[i];
    for (;;) {
        if (c->rlen >= RBUF - 1) {
            fail_conn(r, i, false);
            return;
        }
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, RBUF - 1 - c->rlen, 0);
        if (n > 0) {
            c->rlen += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        /* EOF or error: the request in flight (if any) is lost */
        if (c->req >= 0)
            fail_conn(r, i, false);
        else
            conn_close(r, i, 0);
        return;
    }
    if (c->state != C_BUSY) {
        c->rlen = 0; /* nothing expected: ignore */
        return;
    }
    bool keep = true;
    int status = parse_response(c, &keep);
    if (status == 0)
        return;
    if (status < 0) {
        fail_conn(r, i, false);
        return;
    }
    finish_request(r, c->req, status, bench_now_ns());
    c->req = -1;
    if (keep)
        conn_idle(r, i);
    else
        conn_close(r, i, 0);
}

static void arm_timer(struct run *r, int64_t abs_ns)
{
    struct itimerspec its = {0};
    if (abs_ns > 0) {
        its.it_value.tv_sec = abs_ns / 1000000000LL;
        its.it_value.tv_nsec = abs_ns % 1000000000LL;
    }
    timerfd_settime(r->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const int64_t *sorted, long n, double q)
{
    if (n <= 0)
        return 0;
    long k = (long)ceil(q * (double)n) - 1;
    if (k < 0)
        k = 0;
    if (k >= n)
        k = n - 1;
    return (double)sorted[k] / 1000.0; /* microseconds */
}

/* Whether request r->next may go out now. Open loop: once it is due.
 * Closed loop: as long as the send window lasts (the caller only asks when a
 * connection is idle, that is when its last request was answered); the
 * requests are built as the loop needs them, a chunk at a time. */
static bool may_send(struct run *r, int64_t now)
{
    struct plan *p = r->p;
    if (!r->o->closed)
        return r->next < p->n && r->t0 + p->due_ns[r->next] <= now;
    if (now >= r->send_end_ns || r->next >= MAX_REQUESTS)
        return false;
    if (r->next >= p->n && plan_fill(p, r->o, p->n + 256) != 0) {
        r->plan_failed = true;
        return false;
    }
    p->due_ns[r->next] = now - r->t0;
    return true;
}

/* How many requests the run sends in all: known up front in an open loop,
 * only once the send window is over in a closed one. */
static long planned(const struct run *r, int64_t now)
{
    if (!r->o->closed)
        return r->p->n;
    return now >= r->send_end_ns || r->next >= MAX_REQUESTS || r->plan_failed ? r->next : LONG_MAX;
}

static int run_load(struct run *r, int64_t hard_deadline_ns)
{
    struct plan *p = r->p;
    const struct options *o = r->o;
    struct epoll_event evs[128];
    int64_t timeout_ns = (int64_t)o->timeout_ms * 1000000;
    int64_t last_scan = 0;
    for (;;) {
        int64_t now = bench_now_ns();
        /* send everything due, while there are idle connections */
        while (r->n_idle > 0 && may_send(r, now)) {
            int i = r->idle[--r->n_idle];
            struct conn *c = &r->conns[i];
            c->state = C_BUSY;
            c->req = r->next++;
            c->wrote = 0;
            c->rlen = 0;
            c->sent_ns = now;
            r->last_send_ns = now;
            int64_t lag = now - (r->t0 + p->due_ns[c->req]);
            if (lag > r->max_send_lag_ns)
                r->max_send_lag_ns = lag;
            try_write(r, i);
        }
        if (r->completed + r->unsent >= planned(r, now))
            return 0;
        if (now >= hard_deadline_ns) {
            /* whatever is still open is a timeout, whatever was never sent is unsent */
            for (int i = 0; i < o->conns; i++)
                if (r->conns[i].state == C_BUSY)
                    fail_conn(r, i, true);
            if (!o->closed) {
                r->unsent += p->n - r->next;
                r->next = p->n;
            }
            return 0;
        }
        /* timeouts and reconnects, every 10 ms */
        if (now - last_scan > 10000000LL) {
            last_scan = now;
            for (int i = 0; i < o->conns; i++) {
                struct conn *c = &r->conns[i];
                if (c->state == C_BUSY && now - c->sent_ns > timeout_ns)
                    fail_conn(r, i, true);
                if (c->state == C_DOWN && now >= c->retry_ns)
                    conn_open(r, i);
            }
        }
        /* wake for the next due request, the next scan, or I/O */
        int64_t wake = last_scan + 10000000LL;
        if (!o->closed && r->next < p->n && r->n_idle > 0 && r->t0 + p->due_ns[r->next] < wake)
            wake = r->t0 + p->due_ns[r->next];
        if (o->closed && now < r->send_end_ns && r->send_end_ns < wake)
            wake = r->send_end_ns;
        if (wake < now + 1000)
            wake = now + 1000;
        arm_timer(r, wake);
        int n = epoll_wait(r->ep, evs, 128, 20);
        for (int k = 0; k < n; k++) {
            uint32_t id = evs[k].data.u32;
            if (id == UINT32_MAX) {
                uint64_t ticks;
                ssize_t rd = read(r->tfd, &ticks, sizeof ticks);
                (void)rd;
                continue;
            }
            int i = (int)id;
            struct conn *c = &r->conns[i];
            if (c->fd < 0)
                continue;
            if (c->state == C_CONNECTING) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err != 0 || (evs[k].events & (EPOLLERR | EPOLLHUP))) {
                    r->connect_failures++;
                    conn_close(r, i, 100000000LL);
                    continue;
                }
                set_writing(r, i, false);
                conn_idle(r, i);
                continue;
            }
            if ((evs[k].events & EPOLLOUT) && c->state == C_BUSY && c->wrote < p->len[c->req])
                try_write(r, i);
            if (c->fd >= 0 && (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                on_readable(r, i);
        }
    }
}

/* ---- the fake's counters ---- */

struct fake_stats {
    int64_t unique, dup, foreign, bad, replies, loading, llm, pushes, first_reply_ns, last_reply_ns, cpu_ns;
    int64_t line_conns, llm_conns; /* connections the server opened to the fakes in this phase */
    unsigned phase;
};

static int fake_stats(int port, struct fake_stats *s)
{
    char body[2048];
    if (bench_http(port, "GET", "/__stats", NULL, body, sizeof body, 2000) != 200)
        return -1;
    s->phase = (unsigned)bench_json_int(body, "phase");
    s->unique = bench_json_int(body, "unique");
    s->dup = bench_json_int(body, "dup");
    s->foreign = bench_json_int(body, "foreign");
    s->bad = bench_json_int(body, "bad");
    s->replies = bench_json_int(body, "replies");
    s->loading = bench_json_int(body, "loading");
    s->llm = bench_json_int(body, "llm");
    s->pushes = bench_json_int(body, "pushes");
    s->line_conns = bench_json_int(body, "line_conns");
    s->llm_conns = bench_json_int(body, "llm_conns");
    s->first_reply_ns = bench_json_int(body, "first_reply_ns");
    s->last_reply_ns = bench_json_int(body, "last_reply_ns");
    s->cpu_ns = bench_json_int(body, "cpu_ns");
    return 0;
}

/* What became of the events sent, by what their request got back and
 * whether the fake saw an answer. */
struct tally {
    long lost;             /* acknowledged (2xx), never answered */
    long answered_acked;   /* acknowledged and answered: the normal case */
    long answered_refused; /* refused (503) and answered anyway: LINE's redelivery would answer it twice */
    long answered_failed;  /* no answer or another status (a timeout, say), answered anyway */
};

static int tally_answers(int fake_port, const struct plan *p, long n, struct tally *t)
{
    *t = (struct tally){0};
    size_t cap = (size_t)(n + 63) / 64 * 16 + 256;
    char *hex = malloc(cap);
    char path[64];
    snprintf(path, sizeof path, "/__answered?events=%ld", n);
    if (!hex || bench_http(fake_port, "GET", path, NULL, hex, cap, 5000) != 200 ||
        strlen(hex) < (size_t)(n + 63) / 64 * 16) {
        free(hex);
        return -1;
    }
    for (long i = 0; i < n; i++) {
        char word[17];
        memcpy(word, hex + i / 64 * 16, 16);
        word[16] = '\0';
        bool answered = (strtoull(word, NULL, 16) >> (i % 64)) & 1;
        bool acked = p->status[i] >= 200 && p->status[i] <= 299;
        if (acked && !answered)
            t->lost++;
        else if (acked)
            t->answered_acked++;
        else if (answered && p->status[i] == 503)
            t->answered_refused++;
        else if (answered)
            t->answered_failed++;
    }
    free(hex);
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    *o = (struct options){.conns = 32, .users = 1000, .per_user = 6, .timeout_ms = 10000, .drain_ms = 2000,
                          .max_drain_ms = 30000, .phase = 1, .label = "run", .count = 0};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--port")) o->port = atoi(v);
        else if (!strcmp(k, "--fake-port")) o->fake_port = atoi(v);
        else if (!strcmp(k, "--secret")) o->secret = v;
        else if (!strcmp(k, "--rate")) o->rate = atof(v);
        else if (!strcmp(k, "--duration")) o->duration = atof(v);
        else if (!strcmp(k, "--count")) o->count = atol(v);
        else if (!strcmp(k, "--conns")) o->conns = atoi(v);
        else if (!strcmp(k, "--users")) o->users = atoi(v);
        else if (!strcmp(k, "--per-user")) o->per_user = atoi(v);
        else if (!strcmp(k, "--loop")) {
            if (strcmp(v, "open") && strcmp(v, "closed")) {
                fprintf(stderr, "bench-load: --loop is open or closed\n");
                return -1;
            }
            o->closed = !strcmp(v, "closed");
        }
        else if (!strcmp(k, "--phase")) o->phase = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(k, "--pid")) o->pid = (pid_t)atoi(v);
        else if (!strcmp(k, "--timeout-ms")) o->timeout_ms = atoi(v);
        else if (!strcmp(k, "--drain-ms")) o->drain_ms = atoi(v);
        else if (!strcmp(k, "--max-drain-ms")) o->max_drain_ms = atoi(v);
        else if (!strcmp(k, "--label")) o->label = v;
        else {
            fprintf(stderr, "bench-load: unknown option %s\n", k);
            return -1;
        }
    }
    if (o->closed) {
        o->rate = 1; /* unused: the server's answers pace a closed loop */
        o->count = o->duration > 0 ? 1 : 0;
    } else if (o->count <= 0 && o->duration > 0) {
        o->count = (long)(o->rate * o->duration + 0.5);
    }
    if (o->port <= 0 || o->fake_port <= 0 || !o->secret || o->rate <= 0 || o->rate > 1e6 || o->count <= 0 ||
        o->count > MAX_REQUESTS || o->conns < 1 || o->conns > MAX_CONNS || o->users < 1 || o->per_user < 1 ||
        o->timeout_ms < 100 || o->timeout_ms > 120000 || o->drain_ms < 0 || o->max_drain_ms < o->drain_ms ||
        o->max_drain_ms > 600000 || (o->closed && (o->duration <= 0 || o->duration > 3600))) {
        fprintf(stderr, "usage: bench-load --port P --fake-port F --secret S\n"
                        "       (--rate R (--duration SEC | --count N) | --loop closed --duration SEC)\n"
                        "       [--conns 1..%d] [--users U] [--per-user M] [--phase ID] [--pid SERVER_PID]\n"
                        "       [--timeout-ms T] [--drain-ms D] [--max-drain-ms M] [--label NAME]\n"
                        "       (at most %d requests)\n",
                MAX_CONNS, MAX_REQUESTS);
        return -1;
    }
    return 0;
}

static int settle(int fake_port, int max_ms)
{
    int64_t deadline = bench_now_ns() + (int64_t)max_ms * 1000000;
    int64_t last = -1, since = bench_now_ns();
    while (bench_now_ns() < deadline) {
        struct fake_stats s;
        if (fake_stats(fake_port, &s) != 0) {
            fprintf(stderr, "bench-load: cannot read the fake's counters\n");
            return 1;
        }
        int64_t sum = s.replies + s.llm + s.loading + s.pushes;
        if (sum != last) {
            last = sum;
            since = bench_now_ns();
        } else if (bench_now_ns() - since >= 1000000000LL) {
            printf("settled=1\n");
            return 0;
        }
        bench_sleep_us(100000);
    }
    printf("settled=0\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--settle") == 0)
        return settle(atoi(argv[2]), atoi(argv[3]));
    struct options o;
    if (parse_options(argc, argv, &o) != 0)
        return 1;

    /* An open loop builds every request before the clock starts; a closed
     * loop builds a first part, then 256 more whenever it runs out (a few
     * milliseconds). */
    static struct plan plan;
    int64_t prep0 = bench_now_ns();
    if (plan_fill(&plan, &o, o.closed ? 8192 : o.count) != 0) {
        fprintf(stderr, "bench-load: cannot prepare %ld requests\n", o.closed ? 8192L : o.count);
        plan_free(&plan);
        return 1;
    }
    int64_t prep_ns = bench_now_ns() - prep0;

    char path[64];
    snprintf(path, sizeof path, "/__phase?id=%u&events=%ld", o.phase, o.closed ? (long)MAX_REQUESTS : o.count);
    if (bench_http(o.fake_port, "POST", path, NULL, NULL, 0, 2000) != 200) {
        fprintf(stderr, "bench-load: the fake LINE on 127.0.0.1:%d does not answer\n", o.fake_port);
        plan_free(&plan);
        return 1;
    }

    static struct run r;
    memset(&r, 0, sizeof r);
    r.o = &o;
    r.p = &plan;
    r.ep = epoll_create1(0);
    r.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(r.ep, EPOLL_CTL_ADD, r.tfd, &tev);
    for (int i = 0; i < o.conns; i++) {
        r.conns[i].fd = -1;
        r.conns[i].req = -1;
        conn_open(&r, i);
    }
    /* wait (at most 3 s) for the connections to be up before the clock starts */
    int64_t until = bench_now_ns() + 3000000000LL;
    while (r.n_idle < o.conns && bench_now_ns() < until) {
        struct epoll_event evs[64];
        int n = epoll_wait(r.ep, evs, 64, 10);
        for (int k = 0; k < n; k++) {
            int i = (int)evs[k].data.u32;
            if (evs[k].data.u32 == UINT32_MAX || r.conns[i].state != C_CONNECTING)
                continue;
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(r.conns[i].fd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (err) {
                r.connect_failures++;
                conn_close(&r, i, 100000000LL);
            } else {
                set_writing(&r, i, false);
                conn_idle(&r, i);
            }
        }
    }
    if (r.n_idle == 0) {
        fprintf(stderr, "bench-load: no connection to 127.0.0.1:%d could be made\n", o.port);
        plan_free(&plan);
        return 1;
    }

    struct fake_stats f0, f1;
    if (fake_stats(o.fake_port, &f0) != 0) {
        fprintf(stderr, "bench-load: cannot read the fake's counters\n");
        plan_free(&plan);
        return 1;
    }
    int64_t user0 = 0, sys0 = 0, user1 = 0, sys1 = 0;
    int have_cpu = o.pid > 0 && bench_proc_cpu_split_ns(o.pid, &user0, &sys0) == 0;
    int64_t self0 = bench_self_cpu_ns();
    int64_t machine0 = bench_machine_busy_ns();
    r.t0 = bench_now_ns() + 1000000; /* 1 ms from now */
    int64_t span_ns = o.closed ? (int64_t)(o.duration * 1e9) : plan.due_ns[plan.n - 1];
    r.send_end_ns = r.t0 + span_ns;
    run_load(&r, r.t0 + span_ns + (int64_t)o.timeout_ms * 1000000 + 5000000000LL);
    int64_t load_end = bench_now_ns();
    long sent = r.next - r.unsent;
    int64_t self1 = bench_self_cpu_ns();

    /* drain: one reply per acknowledged event, within max_drain_ms; the
     * fake's bitmap then says exactly which events were answered */
    int64_t drain_deadline = (r.last_ack_ns ? r.last_ack_ns : load_end) + (int64_t)o.max_drain_ms * 1000000;
    int stats_ok = 0;
    struct tally t = {0};
    for (;;) {
        stats_ok = fake_stats(o.fake_port, &f1) == 0;
        bool past = bench_now_ns() > drain_deadline;
        if ((stats_ok && f1.phase == o.phase && f1.unique >= r.ok) || past) {
            stats_ok = stats_ok && tally_answers(o.fake_port, &plan, r.next, &t) == 0;
            if (past || (stats_ok && t.lost == 0))
                break;
        }
        bench_sleep_us(20000);
    }
    have_cpu = have_cpu && bench_proc_cpu_split_ns(o.pid, &user1, &sys1) == 0;
    int64_t machine1 = bench_machine_busy_ns();
    long hwm = o.pid > 0 ? bench_proc_status_kb(o.pid, "VmHWM") : -1;
    long rss = o.pid > 0 ? bench_proc_status_kb(o.pid, "VmRSS") : -1;
    if (!stats_ok) {
        fprintf(stderr, "bench-load: lost the fake's counters at the end of the run\n");
        plan_free(&plan);
        return 1;
    }

    /* latency of the acknowledged requests, from their due time */
    int64_t *lat = malloc(sizeof *lat * (size_t)plan.n);
    long nl = 0;
    for (long i = 0; lat && i < r.next; i++)
        if (plan.done_ns[i] >= 0)
            lat[nl++] = plan.done_ns[i];
    if (lat)
        qsort(lat, (size_t)nl, sizeof *lat, cmp_i64);

    int64_t first_send = r.t0;
    int64_t last_reply = f1.last_reply_ns > 0 ? f1.last_reply_ns : load_end;
    int64_t end = last_reply > r.last_ack_ns ? last_reply : r.last_ack_ns;
    double window_s = (double)(end - first_send) / 1e9;
    double send_span_s = (double)span_ns / 1e9;
    long errors = r.non2xx + r.timeouts + r.conn_errors + r.unsent;
    long lost = t.lost;
    int64_t drain_ns = f1.last_reply_ns > r.last_ack_ns ? f1.last_reply_ns - r.last_ack_ns : 0;
    bool drained = lost <= 0 && drain_ns <= (int64_t)o.drain_ms * 1000000;
    double fake_cpu_s = (double)(f1.cpu_ns - f0.cpu_ns) / 1e9;
    double gen_cpu_s = (double)(self1 - self0) / 1e9;
    double load_s = (double)(load_end - first_send) / 1e9;

    long block = (long)o.users * o.per_user, full_blocks = r.next / block, rest = r.next % block;
    printf("label=%s\nphase=%u\nloop=%s\nrate=%.1f\nduration_s=%.3f\nrequests=%ld\nconns=%d\n", o.label, o.phase,
           o.closed ? "closed" : "open", o.closed ? 0.0 : o.rate, send_span_s, o.closed ? r.next : plan.n, o.conns);
    printf("users=%ld\nmax_per_user=%ld\nusers_interleaved=%d\n",
           full_blocks * o.users + (rest < o.users ? rest : o.users),
           full_blocks > 0 ? (long)o.per_user : (rest + o.users - 1) / o.users, o.users);
    printf("prepare_ms=%.1f\n", (double)prep_ns / 1e6);
    printf("sent=%ld\nok=%ld\nrefused=%ld\nnon2xx=%ld\ntimeouts=%ld\nconn_errors=%ld\nunsent=%ld\nerrors=%ld\n", sent,
           r.ok, r.refused, r.non2xx, r.timeouts, r.conn_errors, r.unsent, errors);
    printf("status_2xx=%ld\nstatus_4xx=%ld\nstatus_5xx=%ld\n", r.status_counts[2], r.status_counts[4],
           r.status_counts[5]);
    printf("connects=%ld\nconnect_failures=%ld\n", r.connects, r.connect_failures);
    printf("answered=%lld\nduplicates=%lld\nforeign_replies=%lld\nbad_replies=%lld\nlost=%ld\n",
           (long long)f1.unique, (long long)f1.dup, (long long)f1.foreign, (long long)f1.bad, lost > 0 ? lost : 0);
    printf("answered_refused=%ld\nanswered_failed=%ld\nanswered_acked=%ld\n", t.answered_refused,
           t.answered_failed, t.answered_acked);
    printf("llm_calls=%lld\nloading_calls=%lld\npushes=%lld\n", (long long)f1.llm, (long long)f1.loading,
           (long long)f1.pushes);
    printf("line_connections=%lld\nllm_connections=%lld\n", (long long)f1.line_conns, (long long)f1.llm_conns);
    printf("drain_ms=%.1f\ndrained=%d\n", (double)drain_ns / 1e6, drained ? 1 : 0);
    printf("send_span_s=%.3f\nwindow_s=%.3f\n", send_span_s, window_s);
    double send_s = r.last_send_ns > first_send ? (double)(r.last_send_ns - first_send) / 1e9 : 0;
    if (send_s < send_span_s)
        send_s = send_span_s;
    printf("achieved_send_rate=%.1f\n", send_s > 0 ? (double)sent / send_s : 0);
    printf("acked_per_s=%.1f\n", send_s > 0 ? (double)r.ok / send_s : 0);
    printf("answered_per_s=%.1f\n", window_s > 0 ? (double)f1.unique / window_s : 0);
    printf("max_send_lag_ms=%.3f\n", (double)r.max_send_lag_ns / 1e6);
    printf("ack_p50_us=%.0f\nack_p90_us=%.0f\nack_p99_us=%.0f\nack_p999_us=%.0f\nack_max_us=%.0f\n",
           pct(lat, nl, 0.50), pct(lat, nl, 0.90), pct(lat, nl, 0.99), pct(lat, nl, 0.999), pct(lat, nl, 1.0));
    if (have_cpu) {
        double cpu_s = (double)(user1 + sys1 - user0 - sys0) / 1e9;
        printf("server_cpu_s=%.3f\nserver_user_s=%.3f\nserver_sys_s=%.3f\nserver_cores=%.3f\n", cpu_s,
               (double)(user1 - user0) / 1e9, (double)(sys1 - sys0) / 1e9, window_s > 0 ? cpu_s / window_s : 0);
        printf("cpu_per_event_us=%.1f\n", f1.unique > 0 ? cpu_s * 1e6 / (double)f1.unique : 0);
    }
    if (hwm >= 0)
        printf("vmhwm_kb=%ld\nvmrss_kb=%ld\n", hwm, rss);
    printf("fake_cpu_s=%.3f\nfake_cores=%.3f\nfake_cpu_per_event_us=%.1f\n", fake_cpu_s,
           window_s > 0 ? fake_cpu_s / window_s : 0, f1.unique > 0 ? fake_cpu_s * 1e6 / (double)f1.unique : 0);
    printf("gen_cpu_s=%.3f\ngen_cores=%.3f\n", gen_cpu_s, load_s > 0 ? gen_cpu_s / load_s : 0);
    if (machine0 >= 0 && machine1 >= 0 && have_cpu && window_s > 0) {
        /* everything else the machine did meanwhile: other processes, other work */
        double machine_s = (double)(machine1 - machine0) / 1e9;
        double ours_s = (double)(user1 + sys1 - user0 - sys0) / 1e9 + fake_cpu_s + gen_cpu_s;
        double other = (machine_s - ours_s) / window_s;
        printf("machine_cores=%.3f\nother_cores=%.3f\n", machine_s / window_s, other > 0 ? other : 0);
    }
    free(lat);
    plan_free(&plan);
    for (int i = 0; i < o.conns; i++)
        if (r.conns[i].fd >= 0)
            close(r.conns[i].fd);
    close(r.ep);
    close(r.tfd);
    return 0;
}
