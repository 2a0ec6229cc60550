/* fakes.c - loopback stand-ins for the LINE Messaging API and an
 * OpenAI-compatible LLM, fast enough not to limit a benchmark.
 *
 * Every answer is a fixed small JSON body sent at once. The fake counts what
 * it serves per "phase": the load generator opens a phase (POST /__phase)
 * with the number of events it will send, and reply tokens carry the phase and
 * the event's index, so the fake can tell each event answered once, answered
 * twice, or a stray from an earlier phase. GET /__stats reports the counters
 * and the fake's own CPU time, so a run can say when the fake might have been
 * the bottleneck.
 *
 *   bench-fakes --line-port P --llm-port Q [--threads N] [--max-seconds S]
 *
 * It binds 127.0.0.1 only and exits on SIGTERM/SIGINT or after --max-seconds. */
#include <microhttpd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "benchutil.h"

#define MAX_EVENTS (1u << 22) /* per phase: 4M events, a 512 KiB bitmap */
#define MAX_BODY (256u * 1024)
#define TOKEN_MAGIC 0xbe7cbe7cu

/* ---- counters ---- */

static struct {
    atomic_uint phase;
    atomic_ullong n_events;
    atomic_ullong replies, unique, dup, foreign, pushes, loading, llm, profile, other, bad;
    /* TCP connections accepted, per fake, and the harness's own requests
     * (each on a connection of its own): shows whether a server reuses its
     * connections to LINE and to the LLM. */
    atomic_ullong line_conns, llm_conns, harness;
    atomic_llong first_reply_ns, last_reply_ns;
    atomic_ullong bits[MAX_EVENTS / 64];
} g;

static atomic_ullong g_msg_seq;

static void phase_reset(unsigned phase, unsigned long long n_events)
{
    /* Counters may race with a stray request of the old phase; the fields a
     * run checks (unique, dup) are keyed by phase, so that is harmless. */
    atomic_store(&g.phase, phase);
    atomic_store(&g.n_events, n_events > MAX_EVENTS ? MAX_EVENTS : n_events);
    atomic_ullong *c[] = {&g.replies, &g.unique, &g.dup, &g.foreign, &g.pushes, &g.loading,
                          &g.llm, &g.profile, &g.other, &g.bad, &g.line_conns, &g.llm_conns,
                          &g.harness};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        atomic_store(c[i], 0);
    atomic_store(&g.first_reply_ns, 0);
    atomic_store(&g.last_reply_ns, 0);
    for (size_t i = 0; i < MAX_EVENTS / 64; i++)
        atomic_store(&g.bits[i], 0);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool parse_hex(const char *s, int n, unsigned long long *out)
{
    unsigned long long v = 0;
    for (int i = 0; i < n; i++) {
        int h = hexval(s[i]);
        if (h < 0)
            return false;
        v = (v << 4) | (unsigned)h;
    }
    *out = v;
    return true;
}

/* The reply token is 32 hex digits: magic (8), phase (8), event index (16). */
static void count_reply(const char *body)
{
    atomic_fetch_add(&g.replies, 1);
    const char *p = body ? strstr(body, "\"replyToken\":\"") : NULL;
    unsigned long long magic, phase, index;
    if (!p || !parse_hex(p + 14, 8, &magic) || !parse_hex(p + 22, 8, &phase) ||
        !parse_hex(p + 30, 16, &index) || magic != TOKEN_MAGIC) {
        atomic_fetch_add(&g.bad, 1);
        return;
    }
    if (phase != atomic_load(&g.phase) || index >= atomic_load(&g.n_events)) {
        atomic_fetch_add(&g.foreign, 1);
        return;
    }
    unsigned long long bit = 1ULL << (index % 64);
    unsigned long long old = atomic_fetch_or(&g.bits[index / 64], bit);
    if (old & bit) {
        atomic_fetch_add(&g.dup, 1);
        return;
    }
    int64_t now = bench_now_ns();
    long long zero = 0;
    atomic_compare_exchange_strong(&g.first_reply_ns, &zero, now);
    atomic_store(&g.last_reply_ns, now); /* close enough under races: off by microseconds */
    atomic_fetch_add(&g.unique, 1);
}

/* ---- HTTP ---- */

static const char llm_body[] =
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1700000000,"
    "\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"Hello! This is a short answer from the benchmark model.\"},"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":12,"
    "\"total_tokens\":32}}";
/* linebot's memory extraction (LINEBOT_MEMORY=auto, the default) asks for
 * JSON facts; a real model mostly finds none in such short chats. */
static const char llm_extract_body[] =
    "{\"id\":\"chatcmpl-bench-x\",\"object\":\"chat.completion\",\"created\":1700000000,"
    "\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"{\\\"facts\\\":[]}\"},"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":60,\"completion_tokens\":5,"
    "\"total_tokens\":65}}";
static const char profile_body[] = "{\"displayName\":\"Bench User\",\"userId\":\"U0\"}";
static const char empty_body[] = "{}";

static struct MHD_Response *r_llm, *r_llm_extract, *r_profile, *r_empty;

struct upload {
    char *buf;
    size_t len, cap;
};

static enum MHD_Result send_static(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
    return MHD_queue_response(c, status, r);
}

static enum MHD_Result send_copy(struct MHD_Connection *c, unsigned status, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result sent_messages(struct MHD_Connection *c)
{
    unsigned long long id = atomic_fetch_add(&g_msg_seq, 1) + 1;
    char body[160];
    snprintf(body, sizeof body, "{\"sentMessages\":[{\"id\":\"%llu\",\"quoteToken\":\"q%llu\"}]}",
             900000000000000ULL + id, id);
    return send_copy(c, 200, body);
}

static enum MHD_Result stats(struct MHD_Connection *c)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"phase\":%u,\"n_events\":%llu,\"replies\":%llu,\"unique\":%llu,\"dup\":%llu,"
             "\"foreign\":%llu,\"bad\":%llu,\"pushes\":%llu,\"loading\":%llu,\"llm\":%llu,"
             "\"profile\":%llu,\"other\":%llu,\"first_reply_ns\":%lld,\"last_reply_ns\":%lld,"
             "\"now_ns\":%lld,\"cpu_ns\":%lld,\"line_conns\":%lld,\"llm_conns\":%llu}",
             atomic_load(&g.phase), atomic_load(&g.n_events), atomic_load(&g.replies), atomic_load(&g.unique),
             atomic_load(&g.dup), atomic_load(&g.foreign), atomic_load(&g.bad), atomic_load(&g.pushes),
             atomic_load(&g.loading), atomic_load(&g.llm), atomic_load(&g.profile), atomic_load(&g.other),
             atomic_load(&g.first_reply_ns), atomic_load(&g.last_reply_ns), (long long)bench_now_ns(),
             (long long)bench_self_cpu_ns(),
             (long long)atomic_load(&g.line_conns) - (long long)atomic_load(&g.harness), atomic_load(&g.llm_conns));
    return send_copy(c, 200, body);
}

/* The answered bitmap of events 0..n-1, as 16 hex digits per 64 events
 * (event 64*w + b is bit b of word w). */
static enum MHD_Result answered(struct MHD_Connection *c)
{
    const char *arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "events");
    unsigned long long n = arg ? strtoull(arg, NULL, 10) : 0;
    if (n > atomic_load(&g.n_events))
        n = atomic_load(&g.n_events);
    size_t words = (size_t)((n + 63) / 64);
    char *body = malloc(words * 16 + 1);
    if (!body)
        return MHD_NO;
    for (size_t w = 0; w < words; w++)
        snprintf(body + w * 16, 17, "%016llx", (unsigned long long)atomic_load(&g.bits[w]));
    body[words * 16] = '\0';
    struct MHD_Response *r = MHD_create_response_from_buffer(words * 16, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static enum MHD_Result route(struct MHD_Connection *c, const char *url, bool post, const char *body)
{
    if (post && strcmp(url, "/v2/bot/message/reply") == 0) {
        count_reply(body);
        return sent_messages(c);
    }
    if (post && strcmp(url, "/v2/bot/chat/loading/start") == 0) {
        atomic_fetch_add(&g.loading, 1);
        return send_static(c, 202, r_empty);
    }
    if (post && ends_with(url, "/chat/completions")) {
        atomic_fetch_add(&g.llm, 1);
        if (body && strstr(body, "You extract lasting facts"))
            return send_static(c, 200, r_llm_extract);
        return send_static(c, 200, r_llm);
    }
    if (post && strcmp(url, "/v2/bot/message/push") == 0) {
        atomic_fetch_add(&g.pushes, 1);
        return sent_messages(c);
    }
    if (!post && strncmp(url, "/v2/bot/", 8) == 0 &&
        (strstr(url, "/profile/") || strstr(url, "/member/"))) {
        atomic_fetch_add(&g.profile, 1);
        return send_static(c, 200, r_profile);
    }
    if (!post && strcmp(url, "/__stats") == 0)
        return stats(c);
    if (!post && strcmp(url, "/__answered") == 0)
        return answered(c);
    if (post && strcmp(url, "/__phase") == 0) {
        const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "id");
        const char *n = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "events");
        if (!id || !n)
            return send_copy(c, 400, "{\"error\":\"id and events required\"}");
        phase_reset((unsigned)strtoul(id, NULL, 10), strtoull(n, NULL, 10));
        return send_static(c, 200, r_empty);
    }
    atomic_fetch_add(&g.other, 1);
    return send_copy(c, 404, "{\"message\":\"Not found\"}");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *data, size_t *data_size, void **req_cls)
{
    (void)cls;
    (void)version;
    bool post = strcmp(method, "POST") == 0;
    bool harness = strncmp(url, "/__", 3) == 0;
    if (!post) {
        if (*data_size) {
            *data_size = 0;
            return MHD_YES;
        }
        if (harness)
            atomic_fetch_add(&g.harness, 1);
        return route(c, url, false, NULL);
    }
    struct upload *u = *req_cls;
    if (!u) {
        u = calloc(1, sizeof *u);
        if (!u)
            return MHD_NO;
        *req_cls = u;
        if (harness) /* the first call of a request: counted once */
            atomic_fetch_add(&g.harness, 1);
        return MHD_YES;
    }
    if (*data_size) {
        size_t n = *data_size;
        *data_size = 0;
        if (u->len + n + 1 > MAX_BODY)
            return MHD_YES; /* keep the head of an oversized body; only its start is read */
        if (u->len + n + 1 > u->cap) {
            size_t cap = u->cap ? u->cap : 2048;
            while (cap < u->len + n + 1)
                cap *= 2;
            char *nb = realloc(u->buf, cap);
            if (!nb)
                return MHD_NO;
            u->buf = nb;
            u->cap = cap;
        }
        memcpy(u->buf + u->len, data, n);
        u->len += n;
        u->buf[u->len] = '\0';
        return MHD_YES;
    }
    return route(c, url, true, u->buf);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct upload *u = *req_cls;
    if (u) {
        free(u->buf);
        free(u);
        *req_cls = NULL;
    }
}

static struct MHD_Response *static_json(const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (r)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return r;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)c;
    (void)socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add((atomic_ullong *)cls, 1);
}

static struct MHD_Daemon *start(int port, unsigned threads, atomic_ullong *conns)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL,
                            handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT, 4000u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, conns, MHD_OPTION_END);
}

int main(int argc, char **argv)
{
    int line_port = 0, llm_port = 0;
    unsigned threads = 2;
    long max_seconds = 3600;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--line-port") == 0)
            line_port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--llm-port") == 0)
            llm_port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0)
            threads = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--max-seconds") == 0)
            max_seconds = atol(argv[i + 1]);
        else {
            fprintf(stderr, "bench-fakes: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (line_port <= 0 || llm_port <= 0 || threads < 1 || threads > 16 || max_seconds < 1) {
        fprintf(stderr, "usage: bench-fakes --line-port P --llm-port Q [--threads 1..16] [--max-seconds S]\n");
        return 2;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* MHD's threads inherit the mask */
    signal(SIGPIPE, SIG_IGN);

    r_llm = static_json(llm_body);
    r_llm_extract = static_json(llm_extract_body);
    r_profile = static_json(profile_body);
    r_empty = static_json(empty_body);
    struct MHD_Daemon *line = start(line_port, threads, &g.line_conns);
    struct MHD_Daemon *llm = line ? start(llm_port, threads, &g.llm_conns) : NULL;
    if (!line || !llm || !r_llm || !r_llm_extract || !r_profile || !r_empty) {
        fprintf(stderr, "bench-fakes: cannot listen on 127.0.0.1:%d and :%d\n", line_port, llm_port);
        if (line)
            MHD_stop_daemon(line);
        return 1;
    }
    printf("bench-fakes: LINE on 127.0.0.1:%d, LLM on 127.0.0.1:%d, %u threads each\n", line_port, llm_port,
           threads);
    fflush(stdout);

    struct timespec limit = {.tv_sec = max_seconds};
    int sig = sigtimedwait(&stop, NULL, &limit);
    if (sig < 0)
        fprintf(stderr, "bench-fakes: --max-seconds reached, stopping\n");
    MHD_stop_daemon(llm);
    MHD_stop_daemon(line);
    MHD_destroy_response(r_llm);
    MHD_destroy_response(r_llm_extract);
    MHD_destroy_response(r_profile);
    MHD_destroy_response(r_empty);
    return 0;
}
