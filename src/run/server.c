/* server.c - libmicrohttpd front door (see server.h).
 *
 * A request is read into one buffer (capped at 1 MiB), then handled in one
 * go. Handlers never wait on the model: /callback only verifies, parses and
 * commits, so LINE gets its answer in milliseconds. */
#include "run/server.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "obs/log.h"
#include "obs/metrics.h"

#define THREAD_POOL_SIZE 4

struct server {
    struct MHD_Daemon *daemon;
    struct ingest *ingest;
    atomic_ullong request_seq;
};

/* Per-request state, created on the first call of the access handler. */
struct request {
    char *body;
    size_t len, cap;
    int too_large;
};

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int status, const char *content_type,
                               const char *body)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result respond_json(struct MHD_Connection *conn, unsigned int status, const char *key,
                                    const char *text)
{
    char body[256];
    snprintf(body, sizeof body, "{\"%s\":\"%s\"}", key, text);
    return respond(conn, status, "application/json", body);
}

static enum MHD_Result handle_callback(struct server *srv, struct MHD_Connection *conn, struct request *req)
{
    char rid[32];
    snprintf(rid, sizeof rid, "req-%llu", (unsigned long long)atomic_fetch_add(&srv->request_seq, 1) + 1);
    log_set_request_id(rid);
    enum MHD_Result r;
    if (req->too_large) {
        log_warn("webhook refused: body over %d bytes", SERVER_MAX_BODY);
        metrics_webhook(413);
        r = respond_json(conn, MHD_HTTP_CONTENT_TOO_LARGE, "error", "body too large");
    } else {
        const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Line-Signature");
        char reason[128];
        int status = ingest_webhook(srv->ingest, req->body ? req->body : "", req->len, sig, reason, sizeof reason);
        r = respond_json(conn, (unsigned int)status, status == 200 ? "status" : "error", reason);
    }
    log_clear_context();
    return r;
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                      const char *version, const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    struct server *srv = cls;
    bool is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    bool is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

    if (strcmp(url, "/callback") == 0 && is_post) {
        struct request *req = *con_cls;
        if (!req) {
            req = calloc(1, sizeof *req);
            if (!req)
                return MHD_NO;
            *con_cls = req;
            const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            if (cl && strtoull(cl, NULL, 10) > SERVER_MAX_BODY)
                req->too_large = 1; /* refuse before reading a byte of it */
            return MHD_YES;
        }
        if (*upload_data_size > 0) {
            size_t n = *upload_data_size;
            *upload_data_size = 0;
            if (req->too_large || req->len + n > SERVER_MAX_BODY) {
                req->too_large = 1;
                return MHD_YES;
            }
            if (req->len + n + 1 > req->cap) {
                size_t cap = req->cap ? req->cap : 4096;
                while (cap < req->len + n + 1)
                    cap *= 2;
                char *nb = realloc(req->body, cap);
                if (!nb)
                    return MHD_NO;
                req->body = nb;
                req->cap = cap;
            }
            memcpy(req->body + req->len, upload_data, n);
            req->len += n;
            req->body[req->len] = '\0';
            return MHD_YES;
        }
        return handle_callback(srv, conn, req);
    }

    /* Everything else has no body worth reading. */
    if (*upload_data_size > 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/healthz") == 0 && is_get) {
        if (ingest_store_ping(srv->ingest) == 0)
            return respond_json(conn, MHD_HTTP_OK, "status", "ok");
        return respond_json(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "status", "store unavailable");
    }
    if (strcmp(url, "/metrics") == 0 && is_get) {
        long long depth;
        if (ingest_inbox_depth(srv->ingest, &depth) == 0)
            metrics_set_inbox_depth(depth);
        char *text = metrics_render();
        if (!text)
            return respond_json(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "error", "out of memory");
        enum MHD_Result r = respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text);
        free(text);
        return r;
    }
    if (strcmp(url, "/callback") == 0 || strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                strcmp(url, "/callback") == 0 ? "POST" : "GET, HEAD");
        enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
        MHD_destroy_response(resp);
        return r;
    }
    return respond_json(conn, MHD_HTTP_NOT_FOUND, "error", "not found");
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct request *req = *con_cls;
    if (req) {
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}

struct server *server_start(const struct config *cfg, struct ingest *ingest, char *err, size_t errlen)
{
    struct server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->ingest = ingest;

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
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, handle_request, srv,
                                   MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                   MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)THREAD_POOL_SIZE,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
                                   MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1000,
                                   MHD_OPTION_NOTIFY_COMPLETED, request_completed, srv,
                                   MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->daemon) {
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
    MHD_quiesce_daemon(srv->daemon);
    MHD_stop_daemon(srv->daemon);
    free(srv);
}
