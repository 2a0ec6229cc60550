/* fake_http.c - libmicrohttpd glue for the fakes: collect the body, call the
 * handler, honour the requested delay without blocking other connections;
 * and the request and response helpers every fake uses. */
#include "fake_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "e2e_util.h"

struct fake_http {
    struct MHD_Daemon *daemon;
    fake_http_handler handler;
    void *ctx;
    size_t max_body;
    int port;
    atomic_int stopping;
};

struct upload {
    struct e2e_buf body;
    int too_large;
};

const char *fake_http_header(const struct fake_http_request *req, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_HEADER_KIND, name);
}

bool fake_http_peer_gone(const struct fake_http_request *req)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info((struct MHD_Connection *)req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!info)
        return false;
    char c;
    ssize_t n = recv(info->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

bool fake_http_has_bearer(const struct fake_http_request *req, const char *token)
{
    const char *auth = fake_http_header(req, "Authorization");
    return auth && strncmp(auth, "Bearer ", 7) == 0 && strcmp(auth + 7, token) == 0;
}

struct query_fill {
    struct fake_http_arg *out;
    size_t max, n;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct query_fill *q = cls;
    (void)kind;
    if (q->n < q->max)
        q->out[q->n++] = (struct fake_http_arg){key, value};
    return MHD_YES;
}

size_t fake_http_query(const struct fake_http_request *req, struct fake_http_arg *out, size_t max)
{
    struct query_fill q = {.out = out, .max = max, .n = 0};
    MHD_get_connection_values((struct MHD_Connection *)req->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
    return q.n;
}

const char *fake_http_query_value(const struct fake_http_request *req, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_GET_ARGUMENT_KIND, name);
}

char *fake_http_body_dup(const struct fake_http_request *req)
{
    char *body = e2e_xmalloc(req->body_len + 1);
    memcpy(body, req->body, req->body_len);
    body[req->body_len] = '\0';
    return body;
}

void fake_http_response_header(struct fake_http_response *r, const char *name, const char *value)
{
    if (r->n_headers >= FAKE_HTTP_MAX_HEADERS)
        abort();
    r->header_names[r->n_headers] = e2e_strdup(name);
    r->header_values[r->n_headers] = e2e_strdup(value);
    r->n_headers++;
}

void fake_http_respond(struct fake_http_response *r, int status, const char *body)
{
    r->status = status;
    r->body = e2e_strdup(body);
    r->body_len = 0;
}

void fake_http_respond_bytes(struct fake_http_response *r, int status, const void *data, size_t len,
                             const char *content_type)
{
    free(r->body);
    r->status = status;
    r->body = e2e_xmalloc(len + 1);
    memcpy(r->body, data, len);
    r->body[len] = '\0';
    r->body_len = len;
    r->content_type = content_type;
}

void fake_http_respond_json(struct fake_http_response *r, int status, json_t *body)
{
    r->status = status;
    r->body = json_dumps(body, JSON_COMPACT);
    r->body_len = 0;
    json_decref(body);
}

void fake_http_response_clear(struct fake_http_response *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
    for (int i = 0; i < r->n_headers; i++) {
        free(r->header_names[i]);
        free(r->header_values[i]);
    }
    r->n_headers = 0;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct fake_http_response *r)
{
    const char *body = r->body ? r->body : "";
    size_t len = r->body && r->body_len ? r->body_len : strlen(body);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type",
                            r->content_type ? r->content_type : "application/json");
    for (int i = 0; i < r->n_headers; i++)
        MHD_add_response_header(resp, r->header_names[i], r->header_values[i]);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)(r->status ? r->status : 500), resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct fake_http *s = cls;
    (void)version;
    if (*con_cls == NULL) {
        struct upload *up = calloc(1, sizeof *up);
        if (!up)
            return MHD_NO;
        *con_cls = up;
        return MHD_YES;
    }
    struct upload *up = *con_cls;
    if (*upload_data_size > 0) {
        if (up->body.len + *upload_data_size > s->max_body)
            up->too_large = 1;
        else
            e2e_buf_add(&up->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    struct fake_http_response r = {0};
    if (up->too_large) {
        r.status = 413;
        r.body = e2e_strdup("{\"message\":\"Request Entity Too Large\"}");
    } else {
        e2e_buf_add(&up->body, "", 0);
        struct fake_http_request req = {
            .method = method,
            .path = url,
            .body = up->body.data,
            .body_len = up->body.len,
            .conn = conn,
        };
        s->handler(s->ctx, &req, &r);
    }
    for (int waited = 0; waited < r.delay_ms && !atomic_load(&s->stopping); waited += 10)
        e2e_sleep_ms(10);
    enum MHD_Result ret = send_response(conn, &r);
    fake_http_response_clear(&r);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct upload *up = *con_cls;
    if (up) {
        free(up->body.data);
        free(up);
        *con_cls = NULL;
    }
}

struct fake_http *fake_http_start(fake_http_handler handler, void *ctx, size_t max_body)
{
    struct fake_http *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->handler = handler;
    s->ctx = ctx;
    s->max_body = max_body;
    atomic_init(&s->stopping, 0);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    s->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
                                 0, NULL, NULL, on_request, s,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    if (s->port == 0) {
        MHD_stop_daemon(s->daemon);
        free(s);
        return NULL;
    }
    return s;
}

int fake_http_port(const struct fake_http *s)
{
    return s->port;
}

void fake_http_stop(struct fake_http *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    MHD_stop_daemon(s->daemon);
    free(s);
}
