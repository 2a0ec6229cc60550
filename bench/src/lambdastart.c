/* lambdastart.c - Lambda mode's cold start, against a Runtime API stand-in.
 *
 *   bench-lambdastart [--runs N] [--port P] [--fresh-db PATH] [--log FILE] [--timeout-ms T] -- CMD [ARGS...]
 *       Listens on 127.0.0.1:P (P = 0, the default: a free port the kernel
 *       picks) as a minimal AWS Lambda Runtime API, and starts CMD N times with
 *       AWS_LAMBDA_RUNTIME_API=127.0.0.1:P added to the environment (the rest
 *       of the environment is passed through). Each time: removes PATH,
 *       PATH-wal and PATH-shm when --fresh-db is given, takes the clock, forks
 *       and execs CMD, and then
 *         - on the first GET /2018-06-01/runtime/invocation/next answers one
 *           API Gateway HTTP API 2.0 event for GET /healthz (headers
 *           Lambda-Runtime-Aws-Request-Id, Lambda-Runtime-Deadline-Ms,
 *           Lambda-Runtime-Invoked-Function-Arn): "init" is exec to that GET;
 *         - on POST /2018-06-01/runtime/invocation/<id>/response answers 202
 *           and checks that the body says "statusCode":200: "first response"
 *           is exec to that POST (complete, body included);
 *       then stops CMD (SIGTERM, SIGKILL after 5 s; its next long poll is
 *       never answered). A start fails, and the tool exits 1, when CMD exits
 *       first, posts to init/error or invocation/<id>/error, answers anything
 *       but statusCode 200, or has not posted its response within T ms of the
 *       exec (10000 by default). Prints key=value lines: each start's times,
 *       and the median, min and max of init, first response, and the
 *       invocation itself (first response minus init), in milliseconds.
 *
 * One thread, blocking in poll() while it waits: the stand-in costs no CPU
 * that the measured process could miss. Keep-alive HTTP/1.1 with
 * Content-Length bodies, which is what libcurl sends; only 127.0.0.1. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchutil.h"

#define MAX_CONNS 16
#define CONN_BUF (64 * 1024)
#define RUNTIME "/2018-06-01/runtime/"

static const char event_json[] =
    "{\"version\":\"2.0\",\"routeKey\":\"$default\",\"rawPath\":\"/healthz\",\"rawQueryString\":\"\","
    "\"requestContext\":{\"requestId\":\"r1\",\"http\":{\"method\":\"GET\",\"path\":\"/healthz\","
    "\"protocol\":\"HTTP/1.1\",\"sourceIp\":\"127.0.0.1\",\"userAgent\":\"bench-lambdastart\"}},"
    "\"headers\":{},\"isBase64Encoded\":false}";

struct conn {
    int fd;
    size_t len;
    char *buf;
};

/* What one start saw. */
struct start {
    pid_t pid;
    char request_id[64];
    int64_t t0, t_next, t_resp;
    int failed;      /* a protocol failure: the message is in why */
    char why[512];
};

static struct conn conns[MAX_CONNS];

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->len = 0;
}

static void close_all(void)
{
    for (int i = 0; i < MAX_CONNS; i++)
        conn_close(&conns[i]);
}

static int send_all(int fd, const char *p, size_t n)
{
    int64_t deadline = bench_now_ns() + 2000000000LL;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (bench_now_ns() > deadline)
                return -1;
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            poll(&pfd, 1, 100);
        } else {
            return -1;
        }
    }
    return 0;
}

static void reply(struct conn *c, int status, const char *reason, const char *extra_headers, const char *body)
{
    char head[1024];
    size_t bl = strlen(body);
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%sContent-Length: %zu\r\n\r\n", status,
                      reason, extra_headers ? extra_headers : "", bl);
    if (hl < 0 || (size_t)hl >= sizeof head || send_all(c->fd, head, (size_t)hl) != 0 ||
        send_all(c->fd, body, bl) != 0)
        conn_close(c);
}

/* The value of a header in [h, end), or NULL; *vlen gets its length. */
static const char *header(const char *h, const char *end, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    for (const char *line = h; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            eol = end;
        if ((size_t)(eol - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        line = eol + 1;
    }
    return NULL;
}

/* "statusCode": <n> in a JSON text (spaces allowed), or -1. */
static long status_code(const char *json)
{
    const char *p = strstr(json, "\"statusCode\"");
    if (!p)
        return -1;
    p += strlen("\"statusCode\"");
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (*p++ != ':')
        return -1;
    char *e;
    long v = strtol(p, &e, 10);
    return e == p ? -1 : v;
}

static void fail(struct start *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct start *s, const char *fmt, ...)
{
    if (s->failed)
        return; /* the first failure is the one to report */
    s->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
}

/* One complete request: method, target, body (NUL-terminated). */
static void handle(struct conn *c, struct start *s, const char *method, const char *target, const char *body,
                   int64_t t)
{
    char next_path[] = RUNTIME "invocation/next";
    if (strcmp(method, "GET") == 0 && strcmp(target, next_path) == 0) {
        if (s->t_next != 0)
            return; /* the long poll after the first answer: never answered */
        s->t_next = t;
        char extra[512];
        snprintf(extra, sizeof extra,
                 "Lambda-Runtime-Aws-Request-Id: %s\r\nLambda-Runtime-Deadline-Ms: %lld\r\n"
                 "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:linebot-bench\r\n"
                 "Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n",
                 s->request_id, (long long)(bench_wall_ms() + 30000));
        reply(c, 200, "OK", extra, event_json);
        return;
    }
    char resp_path[256];
    snprintf(resp_path, sizeof resp_path, RUNTIME "invocation/%s/response", s->request_id);
    if (strcmp(method, "POST") == 0 && strcmp(target, resp_path) == 0) {
        reply(c, 202, "Accepted", NULL, "{\"status\":\"OK\"}");
        if (s->t_resp != 0) {
            fail(s, "a second response for the same invocation: %.300s", body);
            return;
        }
        s->t_resp = t;
        if (status_code(body) != 200)
            fail(s, "the /healthz invocation answered %.300s, not statusCode 200", body);
        return;
    }
    if (strcmp(method, "POST") == 0 && strncmp(target, RUNTIME, strlen(RUNTIME)) == 0) {
        /* init/error, invocation/<id>/error, or a response for another id */
        reply(c, 202, "Accepted", NULL, "{\"status\":\"OK\"}");
        fail(s, "it posted to %.200s: %.250s", target, body);
        return;
    }
    reply(c, 404, "Not Found", NULL, "{\"errorMessage\":\"not part of the Runtime API stand-in\"}");
    fail(s, "unexpected request %s %.300s", method, target);
}

/* Parses and handles every complete request in the connection's buffer. */
static void drain(struct conn *c, struct start *s, int64_t t)
{
    while (c->fd >= 0 && c->len > 0) {
        c->buf[c->len] = '\0';
        char *eoh = strstr(c->buf, "\r\n\r\n");
        if (!eoh)
            return;
        size_t hlen = (size_t)(eoh + 4 - c->buf);
        size_t vlen = 0, clen = 0;
        const char *te = header(c->buf, eoh + 2, "Transfer-Encoding", &vlen);
        if (te) {
            fail(s, "a request with Transfer-Encoding %.*s: not supported by the stand-in", (int)vlen, te);
            conn_close(c);
            return;
        }
        const char *cl = header(c->buf, eoh + 2, "Content-Length", &vlen);
        if (cl)
            clen = strtoul(cl, NULL, 10);
        if (hlen + clen >= CONN_BUF) {
            fail(s, "a request larger than %d bytes", CONN_BUF);
            conn_close(c);
            return;
        }
        if (c->len < hlen + clen)
            return;
        char method[16], target[512];
        if (sscanf(c->buf, "%15s %511s", method, target) != 2) {
            fail(s, "an unreadable request line: %.100s", c->buf);
            conn_close(c);
            return;
        }
        char saved = c->buf[hlen + clen];
        c->buf[hlen + clen] = '\0';
        handle(c, s, method, target, c->buf + hlen, t);
        c->buf[hlen + clen] = saved;
        if (c->fd < 0)
            return;
        memmove(c->buf, c->buf + hlen + clen, c->len - hlen - clen);
        c->len -= hlen + clen;
    }
}

/* A request that sent "Expect: 100-continue" waits for this before its body. */
static void maybe_continue(struct conn *c)
{
    c->buf[c->len] = '\0';
    char *eoh = strstr(c->buf, "\r\n\r\n");
    size_t vlen = 0;
    if (!eoh)
        return;
    const char *ex = header(c->buf, eoh + 2, "Expect", &vlen);
    size_t hlen = (size_t)(eoh + 4 - c->buf);
    if (ex && vlen == 12 && strncasecmp(ex, "100-continue", 12) == 0 && c->len == hlen) {
        send_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
}

/* Serves the stand-in until the start has its response, fails, or times out.
 * Returns 0 when the start completed. */
static int serve_start(int lfd, struct start *s, int timeout_ms)
{
    int64_t deadline = s->t0 + (int64_t)timeout_ms * 1000000;
    for (;;) {
        if (s->failed)
            return -1;
        if (s->t_resp != 0)
            return 0;
        int64_t now = bench_now_ns();
        if (now >= deadline) {
            snprintf(s->why, sizeof s->why, "%s within %d ms of the exec",
                     s->t_next ? "no POST .../response" : "no GET .../invocation/next", timeout_ms);
            return -1;
        }
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            snprintf(s->why, sizeof s->why, "it exited (%s %d) %s", WIFEXITED(st) ? "status" : "signal",
                     WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? WTERMSIG(st) : -1,
                     s->t_next ? "before posting its response" : "before asking for an invocation");
            return -1;
        }
        struct pollfd pfd[MAX_CONNS + 1];
        int idx[MAX_CONNS + 1];
        int n = 0;
        pfd[n].fd = lfd;
        pfd[n].events = POLLIN;
        idx[n++] = -1;
        for (int i = 0; i < MAX_CONNS; i++) {
            if (conns[i].fd >= 0) {
                pfd[n].fd = conns[i].fd;
                pfd[n].events = POLLIN;
                idx[n++] = i;
            }
        }
        /* Wake at least every 20 ms to notice an exited child; sockets wake it at once. */
        int wait_ms = (int)((deadline - now) / 1000000) + 1;
        if (wait_ms > 20)
            wait_ms = 20;
        int rc = poll(pfd, (nfds_t)n, wait_ms);
        int64_t t = bench_now_ns();
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            snprintf(s->why, sizeof s->why, "poll: %s", strerror(errno));
            return -1;
        }
        for (int k = 0; k < n; k++) {
            if (!pfd[k].revents)
                continue;
            if (idx[k] < 0) {
                int fd = accept(lfd, NULL, NULL);
                if (fd < 0)
                    continue;
                int slot = -1;
                for (int i = 0; i < MAX_CONNS && slot < 0; i++)
                    if (conns[i].fd < 0)
                        slot = i;
                if (slot < 0) {
                    close(fd);
                    continue;
                }
                conns[slot].fd = fd;
                conns[slot].len = 0;
                continue;
            }
            struct conn *c = &conns[idx[k]];
            ssize_t r = recv(c->fd, c->buf + c->len, CONN_BUF - 1 - c->len, 0);
            if (r <= 0) {
                if (r < 0 && errno == EINTR)
                    continue;
                conn_close(c);
                continue;
            }
            c->len += (size_t)r;
            maybe_continue(c);
            drain(c, s, t);
            if (c->fd >= 0 && c->len >= CONN_BUF - 1) {
                fail(s, "a request that does not fit %d bytes", CONN_BUF);
                conn_close(c);
            }
        }
    }
}

int main(int argc, char **argv)
{
    struct bench_start_opts o = {.port = 0, .runs = 7, .timeout_ms = 10000, .fresh_db = NULL, .log = "/dev/null"};
    int i = bench_parse_start_opts(argc, argv, &o);
    if (i < 0 || o.port < 0 || o.port > 65535 || o.runs < 1 || o.runs > BENCH_MAX_RUNS || o.timeout_ms < 100) {
        fprintf(stderr, "usage: bench-lambdastart [--runs 1..%d] [--port P] [--fresh-db PATH] [--log FILE]"
                        " [--timeout-ms T] -- CMD [ARGS...]\n", BENCH_MAX_RUNS);
        return 2;
    }
    char **cmd = argv + i;
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 64) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0) {
        fprintf(stderr, "bench-lambdastart: cannot listen on 127.0.0.1:%d: %s\n", o.port, strerror(errno));
        return 1;
    }
    char api[32];
    snprintf(api, sizeof api, "127.0.0.1:%d", ntohs(sa.sin_port));
    for (int k = 0; k < MAX_CONNS; k++) {
        conns[k].fd = -1;
        conns[k].buf = malloc(CONN_BUF);
        if (!conns[k].buf) {
            fprintf(stderr, "bench-lambdastart: out of memory\n");
            return 1;
        }
    }

    double init_ms[BENCH_MAX_RUNS], resp_ms[BENCH_MAX_RUNS], invoke_ms[BENCH_MAX_RUNS];
    for (int r = 0; r < o.runs; r++) {
        struct start s;
        memset(&s, 0, sizeof s);
        snprintf(s.request_id, sizeof s.request_id, "bench-%d-%d-%lld", r + 1, (int)getpid(),
                 (long long)bench_wall_ms());
        if (o.fresh_db)
            bench_remove_db("bench-lambdastart", o.fresh_db);
        s.t0 = bench_now_ns();
        s.pid = fork();
        if (s.pid < 0) {
            perror("bench-lambdastart: fork");
            return 1;
        }
        if (s.pid == 0) {
            int fd = open(o.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
            setenv("AWS_LAMBDA_RUNTIME_API", api, 1);
            execvp(cmd[0], cmd);
            _exit(127);
        }
        int rc = serve_start(lfd, &s, o.timeout_ms);
        if (s.pid > 0)
            bench_stop_child(s.pid);
        close_all();
        if (rc != 0) {
            fprintf(stderr, "bench-lambdastart: start %d of %s against the Runtime API stand-in on %s: %s\n", r + 1,
                    cmd[0], api, s.why);
            return 1;
        }
        init_ms[r] = (double)(s.t_next - s.t0) / 1e6;
        resp_ms[r] = (double)(s.t_resp - s.t0) / 1e6;
        invoke_ms[r] = (double)(s.t_resp - s.t_next) / 1e6;
        printf("start_%d_init_ms=%.2f\nstart_%d_first_response_ms=%.2f\n", r + 1, init_ms[r], r + 1, resp_ms[r]);
        fflush(stdout);
        bench_sleep_us(100000); /* let the disk settle, as bench-coldstart does */
    }
    printf("runs=%d\n", o.runs);
    bench_print_ms_stats("init", init_ms, o.runs);
    bench_print_ms_stats("first_response", resp_ms, o.runs);
    bench_print_ms_stats("invoke", invoke_ms, o.runs);
    close(lfd);
    for (int k = 0; k < MAX_CONNS; k++)
        free(conns[k].buf);
    return 0;
}
