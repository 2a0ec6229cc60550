/* test_http_reuse.c - one http_client, many requests: nothing of a request
 * (its method, body or headers) carries over to the next, now that a handle
 * keeps its shared options instead of being reset per request. A loopback
 * server (libmicrohttpd) records what each request really was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/http_client.h"

#define MAX_SEEN 16

struct seen {
    char method[16];
    char body[64];
    int has_marker; /* the X-Marker header arrived */
};

static struct seen seen[MAX_SEEN];
static int n_seen;

struct upload {
    char body[64];
    size_t len;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls)
{
    (void)cls;
    (void)version;
    struct upload *up = *con_cls;
    if (!up) {
        *con_cls = calloc(1, sizeof *up);
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*data_size) {
        size_t room = sizeof up->body - 1 - up->len;
        size_t n = *data_size < room ? *data_size : room;
        memcpy(up->body + up->len, data, n);
        up->len += n;
        *data_size = 0;
        return MHD_YES;
    }
    const char *to = strcmp(url, "/to-x") == 0 ? "/x" : strcmp(url, "/to-private") == 0 ? "http://10.0.0.1:9/x" : NULL;
    if (to) { /* a redirect, not recorded */
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Location", to);
        enum MHD_Result ret = MHD_queue_response(conn, 302, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (n_seen < MAX_SEEN) {
        struct seen *s = &seen[n_seen++];
        snprintf(s->method, sizeof s->method, "%s", method);
        snprintf(s->body, sizeof s->body, "%s", up->body);
        s->has_marker = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Marker") != NULL;
    }
    static const char ok[] = "{}";
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof ok - 1, (void *)ok, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static void request(struct http_client *c, const char *url, const char *method, const char *body, int marker)
{
    const char *with_marker[] = {"X-Marker: 1", NULL};
    struct http_request req = {
        .method = method,
        .url = url,
        .headers = marker ? with_marker : NULL,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .timeout_ms = 5000,
    };
    struct http_response resp;
    assert_int_equal(http_client_do(c, &req, &resp), 0);
    assert_int_equal(resp.status, 200);
    http_response_free(&resp);
}

static void test_requests_do_not_leak_into_the_next(void **state)
{
    (void)state;
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, NULL,
                                            MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
                                            MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
    assert_non_null(d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/x", (unsigned)info->port);

    struct http_client *c = http_client_new();
    request(c, url, "POST", "a=1", 1);
    request(c, url, "GET", NULL, 0);
    request(c, url, "PUT", "put", 0);
    request(c, url, "GET", NULL, 1);
    request(c, url, "DELETE", NULL, 0);
    request(c, url, "POST", "b", 0);
    request(c, url, "GET", NULL, 0);
    http_client_free(c);
    MHD_stop_daemon(d);

    static const struct seen want[] = {
        {"POST", "a=1", 1}, {"GET", "", 0}, {"PUT", "put", 0}, {"GET", "", 1},
        {"DELETE", "", 0},  {"POST", "b", 0}, {"GET", "", 0},
    };
    assert_int_equal(n_seen, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < n_seen; i++) {
        assert_string_equal(seen[i].method, want[i].method);
        assert_string_equal(seen[i].body, want[i].body);
        assert_int_equal(seen[i].has_marker, want[i].has_marker);
    }
}

/* One GET with the options of someone else's URL (io/line_content.c). */
static int get_external(struct http_client *c, const char *url, int https_only, int allow_loopback,
                        struct http_response *resp)
{
    struct http_request req = {.method = "GET", .url = url, .timeout_ms = 5000, .https_only = https_only,
                               .follow_redirects = 1, .public_only = 1, .allow_loopback = allow_loopback};
    return http_client_do(c, &req, resp);
}

/* public_only: the loopback server is refused even over a connection that
 * is already warm, a redirect is checked like the first address, https_only
 * refuses http; none of it carries over to the next ordinary request. */
static void test_public_only_and_https_only(void **state)
{
    (void)state;
    n_seen = 0;
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, NULL,
                                            MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
                                            MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
    assert_non_null(d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char base[64], url[96];
    snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)info->port);
    snprintf(url, sizeof url, "%s/x", base);

    struct http_client *c = http_client_new();
    struct http_response resp;
    request(c, url, "GET", NULL, 0); /* a warm connection to the server */
    assert_int_equal(get_external(c, url, 0, 0, &resp), -1);
    assert_int_equal(resp.blocked, 1);
    http_response_free(&resp);
    assert_int_equal(n_seen, 1);

    /* Loopback allowed (test builds): through, and a redirect is followed. */
    snprintf(url, sizeof url, "%s/to-x", base);
    assert_int_equal(get_external(c, url, 0, 1, &resp), 0);
    assert_int_equal(resp.status, 200);
    http_response_free(&resp);
    assert_int_equal(n_seen, 2);

    /* A redirect into a private network is refused before it connects. */
    snprintf(url, sizeof url, "%s/to-private", base);
    assert_int_equal(get_external(c, url, 0, 1, &resp), -1);
    assert_int_equal(resp.blocked, 1);
    http_response_free(&resp);

    /* https only: plain http is never spoken. */
    snprintf(url, sizeof url, "%s/x", base);
    assert_int_equal(get_external(c, url, 1, 1, &resp), -1);
    assert_int_equal(resp.scheme_refused, 1);
    assert_int_equal(resp.blocked, 0);
    http_response_free(&resp);
    assert_int_equal(n_seen, 2);

    request(c, url, "GET", NULL, 0); /* ordinary again */
    assert_int_equal(n_seen, 3);
    http_client_free(c);
    MHD_stop_daemon(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_do_not_leak_into_the_next),
        cmocka_unit_test(test_public_only_and_https_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
