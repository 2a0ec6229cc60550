/* test_line_api.c - the outgoing HTTP modules against a real socket.
 *
 * A tiny libmicrohttpd server on 127.0.0.1 (an ephemeral port) plays LINE or
 * the LLM: it answers from a script (status, body, headers, delay) and
 * records every request it saw, so each test states what the peer answers and
 * checks what was sent: headers, body, and how many attempts were made. Also
 * covers http_client's size cap and header capture, and line_retry_key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "core/buf.h"
#include "io/clock.h"
#include "io/http_client.h"
#include "io/line_api.h"
#include "io/llm.h"

/* ---- the scripted server ------------------------------------------------ */

#define FAKE_MAX 8

struct scripted {
    int status;
    const char *body;
    const char *header_name; /* one extra response header, may be NULL */
    const char *header_value;
    int delay_ms;            /* sleep before answering */
};

struct recorded {
    char method[8];
    char url[256];
    char authorization[128];
    char content_type[64];
    char retry_key[64];
    char *body;
};

struct fake {
    struct MHD_Daemon *daemon;
    unsigned short port;
    char base[64];
    pthread_mutex_t mu;
    struct scripted script[FAKE_MAX];
    size_t nscript;
    size_t next;
    struct recorded req[FAKE_MAX];
    size_t nreq;
};

/* A request body as it arrives; bigger than any body the tests send means a bug. */
#define FAKE_MAX_BODY ((size_t)1024 * 1024)
struct upload {
    struct buf body;
};

static void copy_header(struct MHD_Connection *conn, const char *name, char *dst, size_t size)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
    snprintf(dst, size, "%s", v ? v : "");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct fake *f = cls;
    struct upload *up = *con_cls;
    (void)version;
    if (!up) {
        up = calloc(1, sizeof(*up));
        if (!up)
            return MHD_NO;
        buf_init(&up->body, FAKE_MAX_BODY);
        *con_cls = up;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (buf_add(&up->body, upload_data, *upload_data_size) != 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }

    struct scripted s = {500, "{\"message\":\"script exhausted\"}", NULL, NULL, 0};
    pthread_mutex_lock(&f->mu);
    if (f->nreq < FAKE_MAX) {
        struct recorded *r = &f->req[f->nreq++];
        snprintf(r->method, sizeof(r->method), "%s", method);
        snprintf(r->url, sizeof(r->url), "%s", url);
        copy_header(conn, "Authorization", r->authorization, sizeof(r->authorization));
        copy_header(conn, "Content-Type", r->content_type, sizeof(r->content_type));
        copy_header(conn, "X-Line-Retry-Key", r->retry_key, sizeof(r->retry_key));
        r->body = up->body.len ? strdup(buf_str(&up->body)) : NULL;
    }
    if (f->next < f->nscript)
        s = f->script[f->next++];
    pthread_mutex_unlock(&f->mu);

    if (s.delay_ms > 0) {
        struct timespec ts = {s.delay_ms / 1000, (long)(s.delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    const char *body = s.body ? s.body : "";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (s.header_name)
        MHD_add_response_header(resp, s.header_name, s.header_value);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned int)s.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct upload *up = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (up) {
        buf_free(&up->body);
        free(up);
        *con_cls = NULL;
    }
}

static struct fake *fake_start(void)
{
    struct fake *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    pthread_mutex_init(&f->mu, NULL);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                                 NULL, NULL, on_request, f, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED,
                                 on_completed, NULL, MHD_OPTION_END);
    assert_non_null(f->daemon);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->daemon, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    f->port = info->port;
    assert_true(f->port > 0);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u", (unsigned)f->port);
    return f;
}

static void fake_add(struct fake *f, int status, const char *body, const char *hname,
                     const char *hvalue, int delay_ms)
{
    assert_true(f->nscript < FAKE_MAX);
    f->script[f->nscript++] = (struct scripted){status, body, hname, hvalue, delay_ms};
}

static size_t fake_count(struct fake *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->nreq;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static void fake_stop(struct fake *f)
{
    MHD_stop_daemon(f->daemon);
    for (size_t i = 0; i < f->nreq; i++)
        free(f->req[i].body);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* ---- fixtures ----------------------------------------------------------- */

struct env {
    struct fake *fake;
    struct config cfg;
    struct http_client *http;
    atomic_int cancel;
    struct line_api line;
    struct llm_client llm;
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    if (!e)
        return -1;
    e->fake = fake_start();
    e->cfg.access_token = "test-channel-token";
    e->cfg.line_api_base = e->fake->base;
    e->cfg.provider = LLM_PROVIDER_OPENAI;
    e->cfg.llm_base_url = e->fake->base;
    e->cfg.llm_api_key = "sk-test-key";
    e->cfg.llm_model = "test-model";
    e->cfg.llm_timeout_s = 10;
    e->cfg.llm_max_tokens = 100;
    e->http = http_client_new();
    if (!e->http)
        return -1;
    atomic_init(&e->cancel, 0);
    e->line = (struct line_api){.cfg = &e->cfg, .http = e->http, .cancel = &e->cancel};
    e->llm = (struct llm_client){.cfg = &e->cfg, .http = e->http, .cancel = &e->cancel};
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    http_client_free(e->http);
    fake_stop(e->fake);
    free(e);
    return 0;
}

static char *part_texts[] = {"first", "second", "third", "fourth", "fifth", "sixth"};

static struct text_parts parts_of(size_t n)
{
    return (struct text_parts){.parts = part_texts, .n = n};
}

static json_t *recorded_json(struct fake *f, size_t i)
{
    assert_true(i < f->nreq);
    assert_non_null(f->req[i].body);
    json_t *j = json_loads(f->req[i].body, 0, NULL);
    assert_non_null(j);
    return j;
}

/* ---- line_retry_key ----------------------------------------------------- */

static int is_hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void assert_uuid_v4(const char *u)
{
    assert_int_equal(strlen(u), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(u[i], '-');
        else
            assert_true(is_hex_lower(u[i]));
    }
    assert_int_equal(u[14], '4');
    assert_non_null(strchr("89ab", u[19]));
}

static void test_retry_key(void **state)
{
    (void)state;
    char a[37], b[37], c[37], d[37];
    line_retry_key("01FZ74A0TDDPYRVKNK77XKC3ZR", a);
    line_retry_key("01FZ74A0TDDPYRVKNK77XKC3ZR", b);
    line_retry_key("01FZ74ASS536FW97EX38NKCZQK", c);
    line_retry_key("", d);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_uuid_v4(a);
    assert_uuid_v4(c);
    assert_uuid_v4(d);
}

static void test_result_names(void **state)
{
    (void)state;
    assert_string_equal(line_result_name(LINE_OK), "ok");
    assert_string_equal(line_result_name(LINE_INVALID_REPLY_TOKEN), "invalid_reply_token");
    assert_string_equal(line_result_name(LINE_TRANSPORT_ERROR), "transport_error");
    assert_string_equal(line_result_name((enum line_result)99), "unknown");
}

/* ---- reply -------------------------------------------------------------- */

static void test_reply_ok(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 200, "{\"sentMessages\":[{\"id\":\"461230966842064897\",\"quoteToken\":\"q1\"},"
                           "{\"id\":\"461230966842064898\"}]}",
             NULL, NULL, 0);
    struct text_parts p = parts_of(2);
    struct line_sent sent;
    long status = -1;
    assert_int_equal(line_reply(&e->line, "rtoken", &p, "quote-abc", &sent, &status, NULL, 0), LINE_OK);
    assert_int_equal(status, 200);
    assert_int_equal(sent.n, 2);
    assert_string_equal(sent.ids[0], "461230966842064897");
    assert_string_equal(sent.ids[1], "461230966842064898");
    line_sent_free(&sent);
    assert_int_equal(sent.n, 0);

    struct recorded *r = &e->fake->req[0];
    assert_int_equal(e->fake->nreq, 1);
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->url, "/v2/bot/message/reply");
    assert_string_equal(r->authorization, "Bearer test-channel-token");
    assert_string_equal(r->content_type, "application/json");
    assert_string_equal(r->retry_key, "");
    json_t *j = recorded_json(e->fake, 0);
    assert_string_equal(json_string_value(json_object_get(j, "replyToken")), "rtoken");
    json_t *msgs = json_object_get(j, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    json_t *m0 = json_array_get(msgs, 0), *m1 = json_array_get(msgs, 1);
    assert_string_equal(json_string_value(json_object_get(m0, "type")), "text");
    assert_string_equal(json_string_value(json_object_get(m0, "text")), "first");
    assert_string_equal(json_string_value(json_object_get(m0, "quoteToken")), "quote-abc");
    assert_string_equal(json_string_value(json_object_get(m1, "text")), "second");
    assert_null(json_object_get(m1, "quoteToken"));
    json_decref(j);
}

static void test_reply_hostile_sent_messages(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 200, "{\"sentMessages\":[{\"id\":\"1\"},{\"id\":2}]}", NULL, NULL, 0);
    fake_add(e->fake, 200, "{\"sentMessages\":\"nope\"}", NULL, NULL, 0);
    fake_add(e->fake, 200, "not json", NULL, NULL, 0);
    struct text_parts p = parts_of(1);
    for (int i = 0; i < 3; i++) {
        struct line_sent sent;
        assert_int_equal(line_reply(&e->line, "rtoken", &p, NULL, &sent, NULL, NULL, 0), LINE_OK);
        assert_int_equal(sent.n, 0);
        assert_null(sent.ids);
        line_sent_free(&sent);
    }
    /* Without a quote token no message quotes anything. */
    json_t *j = recorded_json(e->fake, 0);
    assert_null(json_object_get(json_array_get(json_object_get(j, "messages"), 0), "quoteToken"));
    json_decref(j);
}

static void test_reply_invalid_token(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 400, "{\"message\":\"Invalid reply token\"}", NULL, NULL, 0);
    fake_add(e->fake, 400, "{\"message\":\"The request body has 1 error(s)\",\"details\":"
                           "[{\"message\":\"Length must be between 0 and 5000\","
                           "\"property\":\"messages[0].text\"}]}",
             NULL, NULL, 0);
    struct text_parts p = parts_of(1);
    long status = 0;
    assert_int_equal(line_reply(&e->line, "used", &p, NULL, NULL, &status, NULL, 0), LINE_INVALID_REPLY_TOKEN);
    assert_int_equal(status, 400);
    char err[512];
    assert_int_equal(line_reply(&e->line, "tok", &p, NULL, NULL, &status, err, sizeof err), LINE_REJECTED);
    assert_int_equal(fake_count(e->fake), 2);
    /* LINE's details say what was wrong; the message alone does not. */
    assert_non_null(strstr(err, "The request body has 1 error(s) (messages[0].text: Length must be between 0 and 5000)"));
}

static void test_reply_server_error_not_retried(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 500, "{\"message\":\"Internal error\"}", NULL, NULL, 0);
    fake_add(e->fake, 200, "{\"sentMessages\":[{\"id\":\"1\"}]}", NULL, NULL, 0);
    struct text_parts p = parts_of(1);
    long status = 0;
    /* A 5xx may come after delivery: one attempt, the caller decides. */
    char err[256] = "stale";
    assert_int_equal(line_reply(&e->line, "tok", &p, NULL, NULL, &status, err, sizeof err), LINE_SERVER_ERROR);
    assert_int_equal(status, 500);
    assert_int_equal(fake_count(e->fake), 1);
    /* The failure comes back as a value, with LINE's message, for the caller to log once. */
    assert_string_equal(err, "LINE reply attempt 1: status 500 server_error: Internal error");
    /* A call that succeeds at once leaves `err` empty. */
    assert_int_equal(line_reply(&e->line, "tok", &p, NULL, NULL, &status, err, sizeof err), LINE_OK);
    assert_string_equal(err, "");
}

static void test_reply_rate_limited_then_ok(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 429, "{\"message\":\"Too many requests\"}", "Retry-After", "0", 0);
    fake_add(e->fake, 200, "{\"sentMessages\":[{\"id\":\"9\"}]}", NULL, NULL, 0);
    struct text_parts p = parts_of(1);
    struct line_sent sent;
    assert_int_equal(line_reply(&e->line, "tok", &p, NULL, &sent, NULL, NULL, 0), LINE_OK);
    assert_int_equal(sent.n, 1);
    line_sent_free(&sent);
    assert_int_equal(fake_count(e->fake), 2);
}

static void test_reply_monthly_limit_not_retried(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 429, "{\"message\":\"You have reached your monthly limit.\"}", NULL, NULL, 0);
    struct text_parts p = parts_of(1);
    assert_int_equal(line_reply(&e->line, "tok", &p, NULL, NULL, NULL, NULL, 0), LINE_RATE_LIMITED);
    assert_int_equal(fake_count(e->fake), 1);
}

static void test_too_many_parts_refused(void **state)
{
    struct env *e = *state;
    struct text_parts six = parts_of(6), none = parts_of(0);
    struct line_sent sent;
    long status = -1;
    assert_int_equal(line_reply(&e->line, "tok", &six, NULL, &sent, &status, NULL, 0), LINE_REJECTED);
    assert_int_equal(sent.n, 0);
    assert_int_equal(status, 0);
    assert_int_equal(line_push(&e->line, "U1", &six, "abc", NULL, NULL, NULL, 0), LINE_REJECTED);
    assert_int_equal(line_reply(&e->line, "tok", &none, NULL, NULL, NULL, NULL, 0), LINE_REJECTED);
    assert_int_equal(line_reply(&e->line, NULL, &none, NULL, NULL, NULL, NULL, 0), LINE_REJECTED);
    struct text_parts one = parts_of(1);
    assert_int_equal(line_push(&e->line, "U1", &one, "k\r\nX-Evil: 1", NULL, NULL, NULL, 0), LINE_REJECTED);
    assert_int_equal(fake_count(e->fake), 0);
}

/* ---- push --------------------------------------------------------------- */

#define KEY "123e4567-e89b-42d3-a456-426614174000"

/* A push quotes like a reply: the first message only (issue 11, groups). */
static void test_push_quotes_first_message(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 200, "{\"sentMessages\":[{\"id\":\"1\"},{\"id\":\"2\"}]}", NULL, NULL, 0);
    fake_add(e->fake, 200, "{\"sentMessages\":[{\"id\":\"3\"}]}", NULL, NULL, 0);
    struct text_parts p = parts_of(2);
    assert_int_equal(line_push_qr(&e->line, "C1", &p, "quote-xyz", NULL, KEY, NULL, NULL, NULL, 0), LINE_OK);
    json_t *j = recorded_json(e->fake, 0);
    json_t *msgs = json_object_get(j, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "quoteToken")), "quote-xyz");
    assert_null(json_object_get(json_array_get(msgs, 1), "quoteToken"));
    json_decref(j);
    struct text_parts one = parts_of(1);
    assert_int_equal(line_push(&e->line, "C1", &one, KEY, NULL, NULL, NULL, 0), LINE_OK);
    j = recorded_json(e->fake, 1);
    assert_null(json_object_get(json_array_get(json_object_get(j, "messages"), 0), "quoteToken"));
    json_decref(j);
}

static void test_push_retry_same_key(void **state)
{
    struct env *e = *state;
    char key[37];
    line_retry_key("event-1", key);
    fake_add(e->fake, 500, "{\"message\":\"Internal server error\"}", NULL, NULL, 0);
    fake_add(e->fake, 200, "{\"sentMessages\":[{\"id\":\"77\"}]}", NULL, NULL, 0);
    struct text_parts p = parts_of(1);
    struct line_sent sent;
    long status = 0;
    assert_int_equal(line_push(&e->line, "Uabc", &p, key, &sent, &status, NULL, 0), LINE_OK);
    assert_int_equal(status, 200);
    assert_int_equal(sent.n, 1);
    assert_string_equal(sent.ids[0], "77");
    line_sent_free(&sent);

    assert_int_equal(fake_count(e->fake), 2);
    for (size_t i = 0; i < 2; i++) {
        struct recorded *r = &e->fake->req[i];
        assert_string_equal(r->url, "/v2/bot/message/push");
        assert_string_equal(r->retry_key, key);
        assert_string_equal(r->authorization, "Bearer test-channel-token");
    }
    assert_string_equal(e->fake->req[0].body, e->fake->req[1].body);
    json_t *j = recorded_json(e->fake, 0);
    assert_string_equal(json_string_value(json_object_get(j, "to")), "Uabc");
    assert_int_equal(json_array_size(json_object_get(j, "messages")), 1);
    json_decref(j);
}

static void test_push_gives_up_after_three(void **state)
{
    struct env *e = *state;
    for (int i = 0; i < 4; i++)
        fake_add(e->fake, 503, "{\"message\":\"unavailable\"}", NULL, NULL, 0);
    struct text_parts p = parts_of(1);
    char err[512];
    assert_int_equal(line_push(&e->line, "U1", &p, KEY, NULL, NULL, err, sizeof err), LINE_SERVER_ERROR);
    assert_int_equal(fake_count(e->fake), 3);
    assert_string_equal(err, "LINE push attempt 1: status 503 server_error: unavailable; "
                             "LINE push attempt 2: status 503 server_error: unavailable; "
                             "LINE push attempt 3: status 503 server_error: unavailable");
}

static void test_push_without_key_not_retried(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 500, "{}", NULL, NULL, 0);
    struct text_parts p = parts_of(1);
    assert_int_equal(line_push(&e->line, "U1", &p, NULL, NULL, NULL, NULL, 0), LINE_SERVER_ERROR);
    assert_int_equal(fake_count(e->fake), 1);
    assert_string_equal(e->fake->req[0].retry_key, "");
}

static void test_push_conflict_is_already_accepted(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 409, "{\"message\":\"The retry key is already accepted\","
                           "\"sentMessages\":[{\"id\":\"5\"}]}",
             "X-Line-Accepted-Request-Id", "abc", 0);
    struct text_parts p = parts_of(1);
    struct line_sent sent;
    long status = 0;
    assert_int_equal(line_push(&e->line, "U1", &p, KEY, &sent, &status, NULL, 0), LINE_ALREADY_ACCEPTED);
    assert_int_equal(status, 409);
    assert_int_equal(sent.n, 1);
    line_sent_free(&sent);
    assert_int_equal(fake_count(e->fake), 1);
}

static void test_push_rate_limited_then_ok(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 429, "{\"message\":\"Too many requests\"}", "Retry-After", "0", 0);
    fake_add(e->fake, 200, "{\"sentMessages\":[{\"id\":\"1\"}]}", NULL, NULL, 0);
    struct text_parts p = parts_of(3);
    assert_int_equal(line_push(&e->line, "C1", &p, KEY, NULL, NULL, NULL, 0), LINE_OK);
    assert_int_equal(fake_count(e->fake), 2);
}

static void test_push_rejected(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 400, "{\"message\":\"Failed to send messages\"}", NULL, NULL, 0);
    struct text_parts p = parts_of(1);
    assert_int_equal(line_push(&e->line, "U1", &p, KEY, NULL, NULL, NULL, 0), LINE_REJECTED);
    assert_int_equal(fake_count(e->fake), 1);
}

/* LINE's message is kept in `err` up to 200 bytes, cut before a character
 * that would not fit: "x" then 100 two-byte characters (201 bytes) keeps "x"
 * and 99 of them. */
static void test_push_error_message_cut_at_a_character(void **state)
{
    struct env *e = *state;
    char body[512] = "{\"message\":\"x";
    char want[512] = "status 400 rejected: x";
    for (int i = 0; i < 100; i++) {
        strcat(body, "\xC3\xA9"); /* U+00E9 */
        if (i < 99)
            strcat(want, "\xC3\xA9");
    }
    strcat(body, "\"}");
    fake_add(e->fake, 400, body, NULL, NULL, 0);
    struct text_parts p = parts_of(1);
    char err[1024];
    assert_int_equal(line_push(&e->line, "U1", &p, KEY, NULL, NULL, err, sizeof err), LINE_REJECTED);
    const char *at = strstr(err, "status 400");
    assert_non_null(at);
    assert_string_equal(at, want);
}

static void test_push_cancelled(void **state)
{
    struct env *e = *state;
    atomic_store(&e->cancel, 1);
    struct text_parts p = parts_of(1);
    int64_t t0 = clock_monotonic_ms();
    assert_int_equal(line_push(&e->line, "U1", &p, KEY, NULL, NULL, NULL, 0), LINE_TRANSPORT_ERROR);
    assert_true(clock_monotonic_ms() - t0 < 1000);
    assert_int_equal(fake_count(e->fake), 0);
}

static void test_push_connection_refused(void **state)
{
    struct env *e = *state;
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", (unsigned)e->fake->port);
    fake_stop(e->fake); /* nothing listens there any more */
    e->fake = fake_start();
    if (e->fake->port == (unsigned short)atoi(strrchr(base, ':') + 1))
        skip();
    e->cfg.line_api_base = base;
    struct text_parts p = parts_of(1);
    long status = -1;
    assert_int_equal(line_push(&e->line, "U1", &p, KEY, NULL, &status, NULL, 0), LINE_TRANSPORT_ERROR);
    assert_int_equal(status, 0);
}

/* ---- loading, profile --------------------------------------------------- */

static void test_loading_start(void **state)
{
    struct env *e = *state;
    int in[] = {0, 7, 20, 61};
    int want[] = {5, 10, 20, 60};
    for (int i = 0; i < 4; i++)
        fake_add(e->fake, 202, "{}", NULL, NULL, 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(line_loading_start(&e->line, "Uuser", in[i], NULL, 0), LINE_OK);
        json_t *j = recorded_json(e->fake, (size_t)i);
        assert_string_equal(json_string_value(json_object_get(j, "chatId")), "Uuser");
        assert_int_equal(json_integer_value(json_object_get(j, "loadingSeconds")), want[i]);
        json_decref(j);
    }
    assert_string_equal(e->fake->req[0].url, "/v2/bot/chat/loading/start");
}

static void test_member_name(void **state)
{
    struct env *e = *state;
    char base[80];
    snprintf(base, sizeof(base), "%s/", e->fake->base); /* a trailing slash is fine */
    e->cfg.line_api_base = base;
    fake_add(e->fake, 200, "{\"displayName\":\"Brown\",\"userId\":\"U1\"}", NULL, NULL, 0);
    fake_add(e->fake, 200, "{\"displayName\":\"Cony\"}", NULL, NULL, 0);
    fake_add(e->fake, 200, "{\"displayName\":\"Sally\"}", NULL, NULL, 0);
    fake_add(e->fake, 404, "{\"message\":\"Not found\"}", NULL, NULL, 0);
    fake_add(e->fake, 200, "{\"displayName\":7}", NULL, NULL, 0);
    char *name = NULL;
    assert_int_equal(line_member_name(&e->line, CHAT_GROUP, "Cgrp/../x", "U1", &name, NULL, 0), LINE_OK);
    assert_string_equal(name, "Brown");
    free(name);
    assert_int_equal(line_member_name(&e->line, CHAT_ROOM, "Rroom", "U2", &name, NULL, 0), LINE_OK);
    assert_string_equal(name, "Cony");
    free(name);
    assert_int_equal(line_member_name(&e->line, CHAT_USER, NULL, "U3", &name, NULL, 0), LINE_OK);
    assert_string_equal(name, "Sally");
    free(name);
    assert_int_equal(line_member_name(&e->line, CHAT_GROUP, "C1", "Ugone", &name, NULL, 0), LINE_REJECTED);
    assert_null(name);
    assert_int_equal(line_member_name(&e->line, CHAT_GROUP, "C1", "U4", &name, NULL, 0), LINE_SERVER_ERROR);
    assert_null(name);
    char err[256];
    assert_int_equal(line_member_name(&e->line, CHAT_NONE, "C1", "U4", &name, err, sizeof err), LINE_REJECTED);
    assert_string_equal(err, "LINE profile not asked: unknown chat type 0");
    assert_int_equal(line_member_name(&e->line, CHAT_GROUP, NULL, "U4", &name, err, sizeof err), LINE_REJECTED);
    assert_non_null(strstr(err, "needs a user id, and a group or room id"));

    assert_string_equal(e->fake->req[0].method, "GET");
    /* MHD decodes the path; the escaped '/' kept it one segment. */
    assert_string_equal(e->fake->req[0].url, "/v2/bot/group/Cgrp/../x/member/U1");
    assert_string_equal(e->fake->req[1].url, "/v2/bot/room/Rroom/member/U2");
    assert_string_equal(e->fake->req[2].url, "/v2/bot/profile/U3");
    assert_int_equal(fake_count(e->fake), 5);
}

/* ---- http_client -------------------------------------------------------- */

static void test_http_headers_and_cap(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 503, "{}", "RETRY-AFTER-MS", "  250 ", 0);
    fake_add(e->fake, 429, "{}", "retry-after", "3", 0);
    char big[2048];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    fake_add(e->fake, 200, big, NULL, NULL, 0);

    char url[128];
    snprintf(url, sizeof(url), "%s/x?secret=1", e->fake->base);
    const char *headers[] = {"Authorization: Bearer do-not-leak", NULL};
    struct http_request req = {.method = "GET", .url = url, .headers = headers};
    struct http_response resp;

    assert_int_equal(http_client_do(e->http, &req, &resp), 0);
    assert_int_equal(resp.status, 503);
    assert_string_equal(resp.retry_after_ms, "250");
    assert_null(resp.retry_after);
    http_response_free(&resp);

    assert_int_equal(http_client_do(e->http, &req, &resp), 0);
    assert_int_equal(resp.status, 429);
    assert_string_equal(resp.retry_after, "3");
    assert_null(resp.retry_after_ms);
    assert_string_equal(resp.body, "{}");
    http_response_free(&resp);

    req.max_response_bytes = 1000;
    assert_int_equal(http_client_do(e->http, &req, &resp), -1);
    assert_int_equal(resp.status, 0);
    assert_non_null(strstr(resp.error, "larger than 1000"));
    assert_null(strstr(resp.error, "do-not-leak"));
    assert_null(strstr(resp.error, "secret"));
    http_response_free(&resp);

    /* Only http and https. */
    req.url = "file:///etc/passwd";
    assert_int_equal(http_client_do(e->http, &req, &resp), -1);
    assert_int_equal(resp.status, 0);
    assert_null(resp.body);
    http_response_free(&resp);
}

/* ---- llm_complete ------------------------------------------------------- */

static const char *const ok_answer =
    "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"<think>hmm</think>Hi!\"}}]}";

static struct llm_message convo[] = {{"system", "Be kind."}, {"user", "hello"}};

static void test_llm_retries_then_ok(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 500, "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}", NULL,
             NULL, 0);
    fake_add(e->fake, 500, "{}", NULL, NULL, 0);
    fake_add(e->fake, 200, ok_answer, NULL, NULL, 0);
    struct llm_answer answer = {0};
    char err[256];
    int64_t t0 = clock_monotonic_ms();
    assert_int_equal(llm_complete(&e->llm, convo, 2, t0 + 30000, &answer, err, sizeof(err)), LLM_OK);
    int64_t took = clock_monotonic_ms() - t0;
    assert_string_equal(answer.text, "Hi!");
    /* No "model" or "usage" in the response: the model asked for, counts unknown. */
    assert_string_equal(answer.model, "test-model");
    assert_int_equal(answer.prompt_tokens, -1);
    assert_int_equal(answer.total_tokens, -1);
    llm_answer_free(&answer);
    assert_int_equal(fake_count(e->fake), 3);
    /* Back-off 1 s then 2 s, each with up to 25% jitter. */
    assert_true(took >= 3000 && took < 5000);

    struct recorded *r = &e->fake->req[0];
    assert_string_equal(r->url, "/chat/completions");
    assert_string_equal(r->authorization, "Bearer sk-test-key");
    assert_string_equal(r->content_type, "application/json");
    json_t *j = recorded_json(e->fake, 0);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "test-model");
    /* LLM_PROVIDER=openai: the budget as OpenAI's reasoning models take it. */
    assert_int_equal(json_integer_value(json_object_get(j, "max_completion_tokens")), 100);
    assert_null(json_object_get(j, "max_tokens"));
    assert_null(json_object_get(j, "reasoning_effort"));
    assert_null(json_object_get(j, "enable_thinking"));
    assert_int_equal(json_array_size(json_object_get(j, "messages")), 2);
    json_decref(j);
}

static void test_llm_retry_after_ms(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 429, "{}", "retry-after-ms", "50", 0);
    fake_add(e->fake, 200, ok_answer, NULL, NULL, 0);
    struct llm_answer answer = {0};
    char err[256];
    int64_t t0 = clock_monotonic_ms();
    assert_int_equal(llm_complete(&e->llm, convo, 2, t0 + 30000, &answer, err, sizeof(err)), LLM_OK);
    assert_true(clock_monotonic_ms() - t0 < 900);
    llm_answer_free(&answer);
}

static void test_llm_retry_after_past_deadline(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 503, "{}", "Retry-After", "30", 0);
    struct llm_answer answer = {0};
    char err[256];
    int64_t t0 = clock_monotonic_ms();
    assert_int_equal(llm_complete(&e->llm, convo, 2, t0 + 5000, &answer, err, sizeof(err)),
                     LLM_FAILED);
    assert_true(clock_monotonic_ms() - t0 < 1000); /* gave up instead of sleeping */
    assert_int_equal(fake_count(e->fake), 1);
    assert_non_null(strstr(err, "status 503"));
}

static void test_llm_client_error_fails_at_once(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 400, "{\"error\":{\"message\":\"Invalid model\",\"type\":\"invalid_request_error\"}}",
             NULL, NULL, 0);
    struct llm_answer answer = {0};
    char err[256];
    assert_int_equal(llm_complete(&e->llm, convo, 2, clock_monotonic_ms() + 30000, &answer, err,
                                  sizeof(err)),
                     LLM_FAILED);
    assert_null(answer.text);
    assert_int_equal(fake_count(e->fake), 1);
    assert_non_null(strstr(err, "status 400"));
    assert_non_null(strstr(err, "invalid_request_error"));
    assert_null(strstr(err, "sk-test-key"));
}

/* A 400 that names a parameter says which setting changes it, at the end
 * of the message; a short buffer cuts the reasons, never the hint. Only a
 * 400: a 5xx naming one is the provider's trouble, not the settings'. */
static void test_llm_400_names_the_setting(void **state)
{
    struct env *e = *state;
    static const char refusal[] =
        "{\"error\":{\"message\":\"Unsupported value: 'reasoning_effort' does not support 'minimal' with this "
        "model. Supported values are: 'low', 'medium', and 'high'.\",\"type\":\"invalid_request_error\","
        "\"param\":\"reasoning_effort\",\"code\":\"unsupported_value\"}}";
    static const char hint[] =
        " (set LINEBOT_REASONING_EFFORT=none to stop sending reasoning_effort, or pick another effort)";
    e->cfg.llm_model = "o3-mini";
    e->cfg.reasoning_effort = "minimal";
    fake_add(e->fake, 400, refusal, NULL, NULL, 0);
    struct llm_answer answer = {0};
    char err[512];
    assert_int_equal(llm_complete(&e->llm, convo, 2, clock_monotonic_ms() + 30000, &answer, err, sizeof err),
                     LLM_FAILED);
    json_t *j = recorded_json(e->fake, 0);
    assert_string_equal(json_string_value(json_object_get(j, "reasoning_effort")), "minimal");
    json_decref(j);
    assert_non_null(strstr(err, "attempt 1/3: status 400 (provider error: invalid_request_error: Unsupported"));
    size_t n = strlen(err);
    assert_true(n > strlen(hint));
    assert_string_equal(err + n - strlen(hint), hint);

    char small[160];
    fake_add(e->fake, 400, refusal, NULL, NULL, 0);
    assert_int_equal(llm_complete(&e->llm, convo, 2, clock_monotonic_ms() + 30000, &answer, small, sizeof small),
                     LLM_FAILED);
    n = strlen(small);
    assert_true(n < sizeof small);
    assert_string_equal(small + n - strlen(hint), hint);
    assert_non_null(strstr(small, "attempt 1/3: status 400"));

    fake_add(e->fake, 500, refusal, NULL, NULL, 0);
    fake_add(e->fake, 500, refusal, NULL, NULL, 0);
    fake_add(e->fake, 500, refusal, NULL, NULL, 0);
    e->cfg.llm_model = "gpt-4o"; /* takes no reasoning_effort */
    assert_int_equal(llm_complete(&e->llm, convo, 2, clock_monotonic_ms() + 30000, &answer, err, sizeof err),
                     LLM_FAILED);
    assert_null(strstr(err, "LINEBOT_REASONING_EFFORT"));
    j = recorded_json(e->fake, 2);
    assert_null(json_object_get(j, "reasoning_effort"));
    json_decref(j);
}

/* An empty answer cut at the limit names the setting to raise. */
static void test_llm_empty_at_limit_names_max_tokens(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 200,
             "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":\"length\"}]}",
             NULL, NULL, 0);
    struct llm_answer answer = {0};
    char err[256];
    assert_int_equal(llm_complete(&e->llm, convo, 2, clock_monotonic_ms() + 30000, &answer, err, sizeof err),
                     LLM_FAILED);
    assert_int_equal(fake_count(e->fake), 1);
    assert_non_null(strstr(err, "empty answer, cut at the token limit (finish_reason length): raise "
                                "LINEBOT_MAX_TOKENS"));
}

static void test_llm_garbage_fails(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 200, "<html>gateway</html>", NULL, NULL, 0);
    fake_add(e->fake, 200, ok_answer, NULL, NULL, 0);
    struct llm_answer answer = {0};
    char err[256];
    assert_int_equal(llm_complete(&e->llm, convo, 2, clock_monotonic_ms() + 30000, &answer, err,
                                  sizeof(err)),
                     LLM_FAILED);
    assert_null(answer.text);
    assert_int_equal(fake_count(e->fake), 1);
    assert_non_null(strstr(err, "bad response"));
}

static void test_llm_timeout_within_deadline(void **state)
{
    struct env *e = *state;
    e->cfg.llm_timeout_s = 1;
    for (int i = 0; i < 3; i++)
        fake_add(e->fake, 200, ok_answer, NULL, NULL, 1500);
    struct llm_answer answer = {0};
    char err[256];
    int64_t t0 = clock_monotonic_ms();
    int64_t deadline = t0 + 4000;
    assert_int_equal(llm_complete(&e->llm, convo, 2, deadline, &answer, err, sizeof(err)), LLM_FAILED);
    assert_true(clock_monotonic_ms() <= deadline + 100);
    assert_null(answer.text);
    assert_non_null(strstr(err, "timeout"));
    assert_true(fake_count(e->fake) >= 2);
    /* Every attempt is in the one message the caller logs. */
    assert_non_null(strstr(err, "attempt 1/3: timeout after 1000 ms; attempt 2/3: timeout"));
}

static void test_llm_model_and_usage(void **state)
{
    struct env *e = *state;
    fake_add(e->fake, 200,
             "{\"model\":\"test-model-2024-08-06\",\"choices\":[{\"message\":{\"role\":\"assistant\","
             "\"content\":\"Hi!\"}}],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,"
             "\"total_tokens\":15}}",
             NULL, NULL, 0);
    struct llm_answer answer = {0};
    char err[256];
    assert_int_equal(llm_complete(&e->llm, convo, 2, clock_monotonic_ms() + 30000, &answer, err, sizeof(err)),
                     LLM_OK);
    assert_string_equal(answer.text, "Hi!");
    assert_string_equal(answer.model, "test-model-2024-08-06");
    assert_int_equal(answer.prompt_tokens, 12);
    assert_int_equal(answer.completion_tokens, 3);
    assert_int_equal(answer.total_tokens, 15);
    llm_answer_free(&answer);
    /* A hostile usage (negative, not a number) reads as unknown. */
    fake_add(e->fake, 200,
             "{\"choices\":[{\"message\":{\"content\":\"ok\"}}],\"usage\":{\"prompt_tokens\":-5,"
             "\"completion_tokens\":\"3\"}}",
             NULL, NULL, 0);
    assert_int_equal(llm_complete(&e->llm, convo, 2, clock_monotonic_ms() + 30000, &answer, err, sizeof(err)),
                     LLM_OK);
    assert_int_equal(answer.prompt_tokens, -1);
    assert_int_equal(answer.completion_tokens, -1);
    assert_int_equal(answer.total_tokens, -1);
    llm_answer_free(&answer);
}

static void test_llm_no_time_left(void **state)
{
    struct env *e = *state;
    struct llm_answer answer = {0};
    char err[256];
    assert_int_equal(llm_complete(&e->llm, convo, 2, clock_monotonic_ms() + 500, &answer, err,
                                  sizeof(err)),
                     LLM_FAILED);
    assert_int_equal(fake_count(e->fake), 0);
    assert_non_null(strstr(err, "deadline"));
}

static void test_llm_dashscope_no_key_trailing_slash(void **state)
{
    struct env *e = *state;
    char base[96];
    snprintf(base, sizeof(base), "%s/compatible-mode/v1/", e->fake->base);
    e->cfg.llm_base_url = base;
    e->cfg.llm_api_key = "";
    e->cfg.provider = LLM_PROVIDER_DASHSCOPE_CN;
    e->cfg.thinking = false;
    e->cfg.llm_max_tokens = 0;
    fake_add(e->fake, 200, ok_answer, NULL, NULL, 0);
    struct llm_answer answer = {0};
    char err[256];
    assert_int_equal(llm_complete(&e->llm, convo, 2, clock_monotonic_ms() + 30000, &answer, err,
                                  sizeof(err)),
                     LLM_OK);
    llm_answer_free(&answer);
    struct recorded *r = &e->fake->req[0];
    assert_string_equal(r->url, "/compatible-mode/v1/chat/completions");
    assert_string_equal(r->authorization, "");
    json_t *j = recorded_json(e->fake, 0);
    assert_true(json_is_false(json_object_get(j, "enable_thinking")));
    assert_null(json_object_get(j, "max_tokens"));
    json_decref(j);
}

static void test_llm_cancelled(void **state)
{
    struct env *e = *state;
    atomic_store(&e->cancel, 1);
    struct llm_answer answer = {0};
    char err[256];
    assert_int_equal(llm_complete(&e->llm, convo, 2, clock_monotonic_ms() + 30000, &answer, err,
                                  sizeof(err)),
                     LLM_CANCELLED);
    assert_null(answer.text);
    assert_int_equal(fake_count(e->fake), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    if (http_global_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_key),
        cmocka_unit_test(test_result_names),
        T(test_reply_ok),
        T(test_reply_hostile_sent_messages),
        T(test_reply_invalid_token),
        T(test_reply_server_error_not_retried),
        T(test_reply_rate_limited_then_ok),
        T(test_reply_monthly_limit_not_retried),
        T(test_too_many_parts_refused),
        T(test_push_quotes_first_message),
        T(test_push_retry_same_key),
        T(test_push_gives_up_after_three),
        T(test_push_without_key_not_retried),
        T(test_push_conflict_is_already_accepted),
        T(test_push_rate_limited_then_ok),
        T(test_push_rejected),
        T(test_push_error_message_cut_at_a_character),
        T(test_push_cancelled),
        T(test_push_connection_refused),
        T(test_loading_start),
        T(test_member_name),
        T(test_http_headers_and_cap),
        T(test_llm_retries_then_ok),
        T(test_llm_retry_after_ms),
        T(test_llm_retry_after_past_deadline),
        T(test_llm_client_error_fails_at_once),
        T(test_llm_400_names_the_setting),
        T(test_llm_empty_at_limit_names_max_tokens),
        T(test_llm_garbage_fails),
        T(test_llm_timeout_within_deadline),
        T(test_llm_no_time_left),
        T(test_llm_dashscope_no_key_trailing_slash),
        T(test_llm_cancelled),
        T(test_llm_model_and_usage),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    http_global_cleanup();
    return rc;
}
