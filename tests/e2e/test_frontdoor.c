/* test_frontdoor.c - the real binary's connection limits, attacked from
 * loopback with raw sockets.
 *
 * A flood of connections that never send a byte, or send their head one line
 * at a time, from one address (127.0.0.1) must not keep a signed webhook from
 * another address (127.0.0.2) from its 200 within a second. Slow heads and
 * slow bodies are cut at their deadlines (seconds from the start, not an
 * idle timeout each byte resets). At the total limit the oldest idle
 * connection makes room. `Expect: 100-continue` with an oversized
 * Content-Length gets 413 without 100 Continue, and two different
 * Content-Length headers get 400.
 *
 * The requests are written by hand, byte for byte, so that what is sent is
 * exactly what the case says; the statuses are read from the raw answer. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define FLOOD 2000

/* ---- raw sockets --------------------------------------------------------- */

/* A TCP connection from `src` (a loopback address) to the bot. Blocking unless
 * `nonblocking`; then the connect may still be under way (the flood does not
 * wait for each handshake). -1 on failure. */
static int connect_from(const char *src, int port, bool nonblocking)
{
    int fd = socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in from = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &from.sin_addr);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (bind(fd, (struct sockaddr *)&from, sizeof from) != 0 ||
        (connect(fd, (struct sockaddr *)&to, sizeof to) != 0 && errno != EINPROGRESS)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return; /* the bot closed it: the caller finds out by reading */
        data += n;
        len -= (size_t)n;
    }
}

/* Everything the bot sends until it closes or `timeout_ms` passes ("" when
 * nothing came). malloc'd. */
static char *read_until_close(int fd, int timeout_ms)
{
    struct e2e_buf b = {0};
    e2e_buf_adds(&b, "");
    int64_t until = e2e_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = until - e2e_mono_ms();
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            break;
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
            break;
        e2e_buf_add(&b, chunk, (size_t)n);
    }
    return e2e_buf_take(&b);
}

/* The status of the first status line in `raw` (an interim 100 Continue
 * included), 0 when there is none. */
static int first_status(const char *raw)
{
    int status = 0;
    if (sscanf(raw, "HTTP/1.%*d %d", &status) != 1)
        return 0;
    return status;
}

/* True when the bot has closed `fd` (end of stream or reset), within `ms`. */
static bool closed_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0)
        return false;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* A signed webhook with one text from USER_A, written by hand. malloc'd. */
static char *signed_webhook_request(struct world *w, const char *text)
{
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = text});
    char *body = webhook_body(ev, NULL);
    char *sig = line_signature(E2E_CHANNEL_SECRET, body, strlen(body));
    char *req = e2e_printf("POST /callback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           "X-Line-Signature: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                           sig, strlen(body), body);
    free(sig);
    free(body);
    return req;
}

/* Posts a signed webhook from 127.0.0.2; returns its status (0: none within
 * 5 s) and how long the answer took, connection included. */
static int webhook_from_another_address(struct world *w, const char *text, int64_t *elapsed_ms)
{
    char *req = signed_webhook_request(w, text);
    int64_t t0 = e2e_mono_ms();
    int fd = connect_from("127.0.0.2", w->port, false);
    int status = 0;
    if (fd >= 0) {
        struct timeval tv = {.tv_sec = 5};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        send_all(fd, req, strlen(req));
        char *raw = read_until_close(fd, e2e_ms(5000));
        status = first_status(raw);
        free(raw);
        close(fd);
    }
    *elapsed_ms = e2e_mono_ms() - t0;
    free(req);
    return status;
}

static void close_all(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* ---- cases --------------------------------------------------------------- */

/* A child process that opens `n` connections from `src` that never send a
 * byte, and holds them until killed (or for 60 s at most). In a child, so
 * that this process's own descriptors (the fakes') stay few. Returns once
 * every connect was issued. */
static pid_t flood_start(int port, const char *src, int n)
{
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        alarm(60);
        if (e2e_raise_nofile(n + 64) < n + 32)
            _exit(3);
        for (int i = 0; i < n; i++)
            if (connect_from(src, port, true) < 0)
                _exit(4);
        (void)!write(ready[1], "k", 1);
        for (;;)
            pause();
    }
    close(ready[1]);
    char c = 0;
    ssize_t got = read(ready[0], &c, 1);
    close(ready[0]);
    if (got != 1) {
        int st = 0;
        waitpid(pid, &st, 0);
        fail_msg("the flood could not open %d connections (exit %d)", n, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    return pid;
}

static void flood_stop(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void test_idle_flood_does_not_block_a_webhook_from_another_address(void **state)
{
    struct world *w = world_start(state, NULL);
    pid_t flood = flood_start(w->port, "127.0.0.1", FLOOD);
    e2e_sleep_ms(300); /* the handshakes complete; the bot has seen them all */

    int64_t elapsed = 0;
    int status = webhook_from_another_address(w, "through the flood", &elapsed);
    flood_stop(flood);
    assert_int_equal(status, 200);
    if (elapsed > e2e_ms(1000))
        fail_msg("the webhook took %lld ms behind %d idle connections", (long long)elapsed, FLOOD);
    assert_answers(w, USER_A, 1);
    world_finish(w);
}

/* Behind a proxy (LINEBOT_MAX_CONN_PER_IP=0, as the README advises) the
 * per-address limit is off, so the total limit alone must make room: 2000
 * idle connections against the default 1000, and a webhook still gets in. */
static void test_idle_flood_with_the_per_address_limit_off(void **state)
{
    const char *env[] = {"LINEBOT_MAX_CONN_PER_IP=0", NULL};
    struct world *w = world_start(state, env);
    pid_t flood = flood_start(w->port, "127.0.0.1", FLOOD);
    e2e_sleep_ms(300);

    int64_t elapsed = 0;
    int status = webhook_from_another_address(w, "through the flood", &elapsed);
    flood_stop(flood);
    assert_int_equal(status, 200);
    if (elapsed > e2e_ms(1000))
        fail_msg("the webhook took %lld ms behind %d idle connections, per-address limit off", (long long)elapsed,
                 FLOOD);
    assert_answers(w, USER_A, 1);
    world_finish(w);
}

static void test_slow_heads_are_cut_at_the_deadline(void **state)
{
    enum { SLOW = 300 };
    const char *env[] = {"LINEBOT_HEADER_TIMEOUT_S=2", "LINEBOT_REQUEST_TIMEOUT_S=4", NULL};
    struct world *w = world_start(state, env);

    int fds[SLOW];
    int64_t t0 = e2e_mono_ms();
    for (size_t i = 0; i < SLOW; i++) {
        fds[i] = connect_from("127.0.0.1", w->port, false);
        assert_true(fds[i] >= 0);
    }
    static const char line1[] = "POST /callback HTTP/1.1\r\n";
    for (size_t i = 0; i < SLOW; i++)
        send_all(fds[i], line1, sizeof line1 - 1);
    /* A slow body from its own address: the head is in at once, the body
     * trickles; the whole-request deadline (4 s) cuts it, not the head's. */
    int body_fd = connect_from("127.0.0.3", w->port, false);
    assert_true(body_fd >= 0);
    static const char head[] = "POST /callback HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n";
    send_all(body_fd, head, sizeof head - 1);

    /* One more header line from each, every 500 ms, while the webhook from
     * another address is answered. Each slow connection's closing time is
     * noted; the bot must not close one before the deadline either. */
    int64_t closed_at[SLOW] = {0};
    int64_t body_closed_at = 0;
    bool webhook_done = false;
    for (int round = 0; round < 14; round++) {
        e2e_sleep_ms(500);
        char hline[64];
        snprintf(hline, sizeof hline, "X-Slow-%d: still coming\r\n", round);
        for (size_t i = 0; i < SLOW; i++) {
            if (closed_at[i])
                continue;
            if (closed_within(fds[i], 0))
                closed_at[i] = e2e_mono_ms() - t0;
            else
                send_all(fds[i], hline, strlen(hline));
        }
        if (!body_closed_at) {
            if (closed_within(body_fd, 0))
                body_closed_at = e2e_mono_ms() - t0;
            else
                send_all(body_fd, "x", 1);
        }
        if (round == 1) {
            int64_t elapsed = 0;
            assert_int_equal(webhook_from_another_address(w, "past the slow heads", &elapsed), 200);
            if (elapsed > e2e_ms(1000))
                fail_msg("the webhook took %lld ms beside %d slow heads", (long long)elapsed, SLOW);
            webhook_done = true;
        }
    }
    assert_true(webhook_done);
    /* The ones past the per-address limit were refused at once; the ones let
     * in were cut at 2 s (plus the sweep's quarter second and this loop's
     * half second). None was kept past 3.5 s. */
    size_t let_in = 0;
    for (size_t i = 0; i < SLOW; i++) {
        if (!closed_at[i])
            fail_msg("slow head %zu still open after %lld ms", i, (long long)(e2e_mono_ms() - t0));
        if (closed_at[i] > e2e_ms(3500))
            fail_msg("slow head %zu closed only after %lld ms", i, (long long)closed_at[i]);
        if (closed_at[i] >= 1500)
            let_in++;
    }
    assert_true(let_in > 0);
    if (!body_closed_at || body_closed_at < 3500 || body_closed_at > e2e_ms(5500))
        fail_msg("slow body closed after %lld ms, want about 4000", (long long)body_closed_at);
    assert_answers(w, USER_A, 1);
    close_all(fds, SLOW);
    close(body_fd);
    world_finish(w);
}

/* Between two requests on a kept-alive connection, the next one must begin
 * within 30 s (CONN_GUARD_IDLE_S): an idle connection, and one that trickles
 * its next request line a byte every 4 s, are both closed then, not before.
 * (A request line that is in counts as a head: LINEBOT_HEADER_TIMEOUT_S.) */
static void test_kept_alive_connections_are_closed_after_30_s(void **state)
{
    struct world *w = world_start(state, NULL);
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    int fds[2];
    for (int i = 0; i < 2; i++) {
        fds[i] = connect_from("127.0.0.1", w->port, false);
        assert_true(fds[i] >= 0);
        send_all(fds[i], req, sizeof req - 1);
        char *got = read_until_close(fds[i], 500); /* the answer; the connection stays */
        assert_int_equal(first_status(got), 200);
        free(got);
        assert_false(closed_within(fds[i], 0));
    }
    int64_t t0 = e2e_mono_ms();
    int64_t closed_at[2] = {0, 0};
    static const char trickle[] = "GET /healthz";
    size_t sent = 0;
    while ((!closed_at[0] || !closed_at[1]) && e2e_mono_ms() - t0 < 40000) {
        e2e_sleep_ms(250);
        int64_t now = e2e_mono_ms() - t0;
        for (int i = 0; i < 2; i++)
            if (!closed_at[i] && closed_within(fds[i], 0))
                closed_at[i] = now;
        if (!closed_at[1] && sent < sizeof trickle - 1 && now >= (int64_t)(sent + 1) * 4000)
            send_all(fds[1], trickle + sent++, 1);
    }
    for (int i = 0; i < 2; i++) {
        if (!closed_at[i])
            fail_msg("kept-alive connection %d still open after 40 s", i);
        if (closed_at[i] < 29000 || closed_at[i] > e2e_ms(32000))
            fail_msg("kept-alive connection %d closed after %lld ms, want about 30000", i,
                     (long long)closed_at[i]);
        close(fds[i]);
    }
    assert_true(sent >= 7); /* the trickle really went on for most of the wait */
    world_finish(w);
}

static void test_total_limit_closes_the_oldest_idle_connection(void **state)
{
    enum { LIMIT = 40 };
    const char *env[] = {"LINEBOT_MAX_CONNECTIONS=40", "LINEBOT_MAX_CONN_PER_IP=0", "LINEBOT_HEADER_TIMEOUT_S=60",
                         "LINEBOT_REQUEST_TIMEOUT_S=60", NULL};
    struct world *w = world_start(state, env);
    int fds[LIMIT];
    for (size_t i = 0; i < LIMIT; i++) {
        fds[i] = connect_from("127.0.0.1", w->port, false);
        assert_true(fds[i] >= 0);
        e2e_sleep_ms(5); /* in this order: the first is the oldest */
    }
    e2e_sleep_ms(200);
    for (size_t i = 0; i < LIMIT; i++)
        if (closed_within(fds[i], 0))
            fail_msg("idle connection %zu closed below the limit", i);

    int64_t elapsed = 0;
    assert_int_equal(webhook_from_another_address(w, "room for me", &elapsed), 200);
    if (elapsed > e2e_ms(1000))
        fail_msg("the webhook took %lld ms at the connection limit", (long long)elapsed);
    assert_true(closed_within(fds[0], e2e_ms(1000)));
    assert_false(closed_within(fds[LIMIT - 1], 0));
    assert_answers(w, USER_A, 1);
    close_all(fds, LIMIT);
    world_finish(w);
}

static void test_expect_continue_over_the_cap_is_413_without_100_continue(void **state)
{
    struct world *w = world_start(state, NULL);
    int fd = connect_from("127.0.0.1", w->port, false);
    assert_true(fd >= 0);
    static const char head[] = "POST /callback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               "X-Line-Signature: c2lnbmF0dXJl\r\nContent-Length: 5000000\r\n"
                               "Expect: 100-continue\r\n\r\n";
    send_all(fd, head, sizeof head - 1);
    char *raw = read_until_close(fd, e2e_ms(3000));
    assert_not_contains(raw, " 100 ");
    assert_int_equal(first_status(raw), 413);
    free(raw);
    close(fd);

    /* Without Expect the same head is refused as soon as it is in, too. */
    fd = connect_from("127.0.0.1", w->port, false);
    assert_true(fd >= 0);
    static const char plain[] = "POST /callback HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n{";
    send_all(fd, plain, sizeof plain - 1);
    raw = read_until_close(fd, e2e_ms(3000));
    assert_int_equal(first_status(raw), 413);
    free(raw);
    close(fd);
    world_finish(w);
}

static void test_two_different_content_lengths_are_400(void **state)
{
    struct world *w = world_start(state, NULL);
    char *req = signed_webhook_request(w, "which length?");
    /* The same signed webhook with a second, different Content-Length. */
    char *cl = strstr(req, "Content-Length: ");
    assert_non_null(cl);
    char *dup = e2e_printf("%.*sContent-Length: 2\r\n%s", (int)(cl - req), req, cl);
    int fd = connect_from("127.0.0.1", w->port, false);
    assert_true(fd >= 0);
    send_all(fd, dup, strlen(dup));
    char *raw = read_until_close(fd, e2e_ms(3000));
    assert_int_equal(first_status(raw), 400);
    free(raw);
    close(fd);
    world_quiet(w);
    assert_untouched(w, 0, 0);

    /* The unaltered request is answered: the 400 was about the headers. */
    fd = connect_from("127.0.0.1", w->port, false);
    assert_true(fd >= 0);
    send_all(fd, req, strlen(req));
    raw = read_until_close(fd, e2e_ms(3000));
    assert_int_equal(first_status(raw), 200);
    free(raw);
    close(fd);
    assert_answers(w, USER_A, 1);
    free(dup);
    free(req);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_idle_flood_does_not_block_a_webhook_from_another_address),
        E2E_TEST(test_idle_flood_with_the_per_address_limit_off),
        E2E_TEST(test_slow_heads_are_cut_at_the_deadline),
        E2E_TEST(test_total_limit_closes_the_oldest_idle_connection),
        E2E_TEST(test_kept_alive_connections_are_closed_after_30_s),
        E2E_TEST(test_expect_continue_over_the_cap_is_413_without_100_continue),
        E2E_TEST(test_two_different_content_lengths_are_400),
    };
    return E2E_RUN(tests);
}
