/* server.c - the libmicrohttpd glue and the route table (see server.h).
 *
 * libmicrohttpd calls the access handler several times per request: first
 * with the headers, then with each piece of the body, then once more with
 * none. The first call creates the request's struct and picks its route; the
 * pieces go into its body (up to the route's cap); the last call runs the
 * handler and queues its answer. Handlers never wait on the model: /callback
 * only verifies, parses and commits, so LINE gets its answer in
 * milliseconds. */
#include "run/server.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/alloc.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "run/conn_guard.h"

/* Older libmicrohttpd (0.9.72 on Debian 11, Function Compute's runtime) calls
 * 413 MHD_HTTP_PAYLOAD_TOO_LARGE. */
#ifndef MHD_HTTP_CONTENT_TOO_LARGE
#define MHD_HTTP_CONTENT_TOO_LARGE MHD_HTTP_PAYLOAD_TOO_LARGE
#endif

/* Threads taking webhooks. Each waits on its webhook's commit, so this many
 * webhooks can share one group commit (run/ingest.c): with 8, a closed loop
 * of 32 connections was acknowledged at 2500/s, against 1580/s with 2. */
#define THREAD_POOL_SIZE 8
/* Over LINEBOT_MAX_CONNECTIONS, for the connections the guard is closing
 * while libmicrohttpd has yet to notice. */
#define CONNECTION_SLACK 64

struct server {
    struct MHD_Daemon *daemon;
    struct conn_guard *guard;
    const struct config *cfg;
    struct ingest *ingest;
    const struct server_door *door;
    atomic_ullong request_seq;
};

/* ---- serve mode's routes ------------------------------------------------- */

static void handle_callback(void *ctx, struct server_request *req)
{
    struct server *srv = ctx;
    log_set_request_id(server_request_id(req));
    if (!server_webhook_fits(req))
        return;
    char reason[128];
    int status = ingest_webhook(srv->ingest, req->body, req->body_len, server_header(req, "X-Line-Signature"), reason,
                                sizeof reason);
    server_reply_webhook(req, status, reason);
}

/* store_ping is a real write, at most once a second (see io/store.h): a full
 * disk or a deleted SQLite file makes it 503 while reads would still work. */
static void handle_healthz(void *ctx, struct server_request *req)
{
    struct server *srv = ctx;
    if (ingest_store_ping(srv->ingest) == 0)
        server_reply_json(req, MHD_HTTP_OK, "status", "ok");
    else
        server_reply_json(req, MHD_HTTP_SERVICE_UNAVAILABLE, "status", "store unavailable");
}

static void handle_metrics(void *ctx, struct server_request *req)
{
    struct server *srv = ctx;
    long long depth;
    if (ingest_inbox_depth(srv->ingest, &depth) == 0)
        metrics_set_inbox_depth(depth);
    char *text = metrics_render();
    if (!text) { /* over the page's cap: a series too many, not the scraper's fault */
        server_reply_json(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "error", "metrics page too large");
        return;
    }
    server_reply(req, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text);
    free(text);
}

/* After the door's routes: a door can take any of these over. */
static const struct server_route serve_routes[] = {
    {.method = "POST", .path = "/callback", .max_body = SERVER_MAX_BODY, .handler = handle_callback},
    {.method = "GET", .path = "/healthz", .handler = handle_healthz},
    {.method = "GET", .path = "/metrics", .handler = handle_metrics},
};
#define N_SERVE_ROUTES (sizeof serve_routes / sizeof serve_routes[0])

/* ---- for handlers -------------------------------------------------------- */

const char *server_request_id(struct server_request *req)
{
    if (!req->id[0])
        snprintf(req->id, sizeof req->id, "req-%llu",
                 (unsigned long long)atomic_fetch_add(&req->server->request_seq, 1) + 1);
    return req->id;
}

const char *server_header(const struct server_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void server_reply(struct server_request *req, unsigned int status, const char *content_type, const char *body)
{
    free(req->response);
    req->response = xstrdup(body);
    req->status = status;
    req->content_type = content_type;
}

void server_reply_json(struct server_request *req, unsigned int status, const char *key, const char *text)
{
    char body[256];
    snprintf(body, sizeof body, "{\"%s\":\"%s\"}", key, text);
    server_reply(req, status, "application/json", body);
}

void server_set_header(struct server_request *req, const char *name, const char *value)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcasecmp(req->headers[i].name, name) == 0) {
            req->headers[i].value = value;
            return;
        }
    }
    if (req->n_headers < SERVER_MAX_RESPONSE_HEADERS)
        req->headers[req->n_headers++] = (struct server_header){name, value};
}

bool server_webhook_fits(struct server_request *req)
{
    if (!req->too_large)
        return true;
    log_warn("webhook refused: body over %d bytes", SERVER_MAX_BODY);
    metrics_webhook(413);
    server_reply_json(req, MHD_HTTP_CONTENT_TOO_LARGE, "error", "body too large");
    return false;
}

void server_reply_webhook(struct server_request *req, int status, const char *reason)
{
    server_reply_json(req, (unsigned int)status, status == 200 ? "status" : "error", reason);
}

/* ---- routing ------------------------------------------------------------- */

static bool method_matches(const char *want, const char *method)
{
    if (!want)
        return true;
    if (strcmp(want, method) == 0)
        return true;
    return strcmp(want, MHD_HTTP_METHOD_GET) == 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

static bool route_matches(const struct server_route *r, struct MHD_Connection *conn, const char *method,
                          const char *url)
{
    if (r->path && strcmp(r->path, url) != 0)
        return false;
    if (!method_matches(r->method, method))
        return false;
    if (r->header) {
        const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, r->header);
        if (!v || strcmp(v, r->header_value) != 0)
            return false;
    }
    return true;
}

/* The door's routes first, then serve mode's; sets req->route and the
 * context its handler gets. */
static void find_route(struct server *srv, struct server_request *req)
{
    if (srv->door) {
        for (size_t i = 0; i < srv->door->n_routes; i++) {
            if (route_matches(&srv->door->routes[i], req->conn, req->method, req->path)) {
                req->route = &srv->door->routes[i];
                req->route_ctx = srv->door->ctx;
                return;
            }
        }
    }
    for (size_t i = 0; i < N_SERVE_ROUTES; i++) {
        if (route_matches(&serve_routes[i], req->conn, req->method, req->path)) {
            req->route = &serve_routes[i];
            req->route_ctx = srv;
            return;
        }
    }
}

/* A path some route serves, with another method: 405 and what is allowed. */
static bool answer_wrong_method(const struct server *srv, struct server_request *req)
{
    static const char *const allow_get = "GET, HEAD";
    const char *allow = NULL;
    const struct server_route *tables[2] = {srv->door ? srv->door->routes : NULL, serve_routes};
    size_t sizes[2] = {srv->door ? srv->door->n_routes : 0, N_SERVE_ROUTES};
    for (size_t t = 0; t < 2 && !allow; t++)
        for (size_t i = 0; i < sizes[t] && !allow; i++)
            if (tables[t][i].path && !tables[t][i].header && tables[t][i].method &&
                strcmp(tables[t][i].path, req->path) == 0)
                allow = strcmp(tables[t][i].method, MHD_HTTP_METHOD_GET) == 0 ? allow_get : tables[t][i].method;
    if (!allow)
        return false;
    server_reply(req, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json", "");
    server_set_header(req, MHD_HTTP_HEADER_ALLOW, allow);
    return true;
}

static enum MHD_Result queue_answer(struct MHD_Connection *conn, struct server_request *req)
{
    const char *body = req->response ? req->response : "";
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (body[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
    for (size_t i = 0; i < req->n_headers; i++)
        MHD_add_response_header(resp, req->headers[i].name, req->headers[i].value);
    enum MHD_Result r = MHD_queue_response(conn, req->status, resp);
    MHD_destroy_response(resp);
    return r;
}

/* Content-Length values seen in a request's head. */
struct content_lengths {
    const char *first;
    bool differ;
};

static enum MHD_Result note_content_length(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct content_lengths *cl = cls;
    if (!key || strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0)
        return MHD_YES;
    if (!cl->first)
        cl->first = value ? value : "";
    else if (strcmp(cl->first, value ? value : "") != 0)
        cl->differ = true;
    return MHD_YES;
}

/* What the head alone settles, before any of the body is read (and before
 * libmicrohttpd would answer `Expect: 100-continue`): two different
 * Content-Length headers are refused (RFC 9112, 6.3), and a declared length
 * over the route's cap marks the request too large. Returns false when the
 * request is answered already. */
static bool check_head(struct server_request *req)
{
    struct content_lengths cl = {0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, note_content_length, &cl);
    if (cl.differ) {
        log_warn("request refused: two different Content-Length headers");
        server_reply_json(req, MHD_HTTP_BAD_REQUEST, "error", "conflicting Content-Length headers");
        return false;
    }
    if (req->route && req->route->max_body > 0 && cl.first && strtoull(cl.first, NULL, 10) > req->route->max_body)
        req->too_large = true; /* refuse before reading a byte of it */
    return true;
}

/* First call: the request's struct, its route, and the door's begin hook.
 * Sets *answer_now when the request is to be answered without its body. */
static enum MHD_Result begin_request(struct server *srv, struct MHD_Connection *conn, const char *url,
                                     const char *method, void **con_cls, bool *answer_now)
{
    struct server_request *req = xcalloc(1, sizeof *req);
    *con_cls = req;
    req->server = srv;
    req->conn = conn;
    req->method = method;
    req->path = url;
    req->body = "";
    req->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    find_route(srv, req);
    buf_init(&req->body_buf, req->route ? req->route->max_body : 0);
    if (srv->door && srv->door->begin)
        srv->door->begin(srv->door->ctx, req);
    if (!check_head(req)) {
        *answer_now = true;
        req->route = NULL; /* answered: no handler runs */
    } else {
        *answer_now = req->too_large;
    }
    return MHD_YES;
}

/* A piece of the body: kept up to the route's cap (the buffer's max), else
 * the whole body is dropped. */
static void add_body(struct server_request *req, const char *data, size_t n)
{
    if (req->body_buf.max == 0 || req->too_large)
        return;
    if (buf_add(&req->body_buf, data, n) != 0) {
        req->too_large = true;
        buf_free(&req->body_buf);
    }
    req->body = buf_str(&req->body_buf);
    req->body_len = req->body_buf.len;
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                      const char *version, const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    (void)version;
    struct server *srv = cls;
    struct server_request *req = *con_cls;
    if (req == NULL) {
        conn_guard_head_done(conn);
        bool answer_now = false;
        enum MHD_Result r = begin_request(srv, conn, url, method, con_cls, &answer_now);
        if (!answer_now)
            return r;
        /* Answered from the head alone: queued in this first call, so
         * libmicrohttpd sends no 100 Continue and reads none of the body. */
        req = *con_cls;
    } else if (*upload_data_size > 0) {
        add_body(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    /* The whole request is in (or it is answered without its body): answer
     * it. A server thread serves several connections in turn, so the log
     * context is set for this call only. */
    conn_guard_body_done(conn);
    if (srv->door && srv->door->enter)
        srv->door->enter(srv->door->ctx, req);
    if (req->route)
        req->route->handler(req->route_ctx, req);
    else if (!req->response && !answer_wrong_method(srv, req)) /* a response here: check_head's */
        server_reply_json(req, MHD_HTTP_NOT_FOUND, "error", "not found");
    enum MHD_Result r = queue_answer(conn, req);
    log_clear_context();
    return r;
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct server *srv = cls;
    conn_guard_request_done(conn);
    struct server_request *req = *con_cls;
    if (!req)
        return;
    if (srv->door && srv->door->end)
        srv->door->end(srv->door->ctx, req);
    buf_free(&req->body_buf);
    free(req->response);
    free(req);
    *con_cls = NULL;
}

/* ---- life cycle ---------------------------------------------------------- */

/* libmicrohttpd's own complaints are about single connections (a client that
 * hung up, a malformed head): at debug level, so that a flood of them cannot
 * flood the log. */
__attribute__((format(printf, 2, 0))) static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_debug("libmicrohttpd: %s", line);
}

struct server *server_start(const struct config *cfg, struct ingest *ingest, const struct server_door *door,
                            char *err, size_t errlen)
{
    struct server *srv = xcalloc(1, sizeof *srv);
    srv->ingest = ingest;
    srv->cfg = cfg;
    srv->door = door;

    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai != 0 || !ai) {
        snprintf(err, errlen, "HOST %s cannot be resolved: %s", cfg->host, gai_strerror(gai));
        free(srv);
        return NULL;
    }
    /* MHD_USE_AUTO: epoll on Linux, so sockets past FD_SETSIZE (1024) work. */
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct conn_guard_limits limits = {
        .header_timeout_s = cfg->header_timeout_s,
        .request_timeout_s = cfg->request_timeout_s,
        .max_connections = cfg->max_connections,
    };
    srv->guard = conn_guard_new(&limits);
    /* libmicrohttpd's own limit only backs the guard's up; its idle timeout
     * bounds a kept-alive connection between requests and a slow reader of
     * an answer. */
    srv->daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, handle_request, srv,
                                   MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                   MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)THREAD_POOL_SIZE,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONN_GUARD_IDLE_S,
                                   MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections + CONNECTION_SLACK,
                                   MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)cfg->max_conn_per_ip,
                                   MHD_OPTION_NOTIFY_CONNECTION, conn_guard_notify, srv->guard,
                                   MHD_OPTION_URI_LOG_CALLBACK, conn_guard_uri_seen, srv->guard,
                                   MHD_OPTION_NOTIFY_COMPLETED, request_completed, srv,
                                   MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
                                   MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->daemon) {
        conn_guard_free(srv->guard);
        snprintf(err, errlen, "cannot listen on %s:%d (in use, or not allowed)", cfg->host, cfg->port);
        free(srv);
        return NULL;
    }
    return srv;
}

void server_stop(struct server *srv)
{
    if (!srv)
        return;
    /* No MHD_quiesce_daemon first: with a thread pool on epoll, libmicrohttpd
     * 0.9.75's quiesce races the pool's own removal of the listening socket
     * from each epoll set, and loses with an MHD_PANIC (an abort at
     * shutdown, seen in the e2e suite). Stopping closes the socket anyway; a
     * webhook cut off here was either stored (LINE's redelivery is then a
     * duplicate) or not (it is redelivered and stored). */
    MHD_stop_daemon(srv->daemon);
    conn_guard_free(srv->guard);
    free(srv);
}
