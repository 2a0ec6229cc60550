/* server.c - libmicrohttpd front door (see server.h).
 *
 * A request is read into one buffer (capped at 1 MiB), then handled in one
 * go. Handlers never wait on the model: /callback only verifies, parses and
 * commits, so LINE gets its answer in milliseconds. */
#include "run/server.h"

#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/handoff.h"
#include "io/http_client.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "run/serverless.h"
#include "run/worker.h"

/* Older libmicrohttpd (0.9.72 on Debian 11, Function Compute's runtime) calls
 * 413 MHD_HTTP_PAYLOAD_TOO_LARGE. */
#ifndef MHD_HTTP_CONTENT_TOO_LARGE
#define MHD_HTTP_CONTENT_TOO_LARGE MHD_HTTP_PAYLOAD_TOO_LARGE
#endif

#define THREAD_POOL_SIZE 2

/* FC's console and Simple Log Service look for these exact plain lines. */
static void fc_start_line(const char *request_id) { printf("FC Invoke Start RequestId: %s\n", request_id); fflush(stdout); }
static void fc_end_line(const char *request_id) { printf("FC Invoke End RequestId: %s\n", request_id); fflush(stdout); }

struct server {
    struct MHD_Daemon *daemon;
    const struct config *cfg;
    struct ingest *ingest;
    atomic_ullong request_seq;
    pthread_mutex_t invoke_lock;    /* FC: guards `invoke` */
    struct http_client *invoke;     /* FC: asynchronous self-invocation */
};

#define FC_MAX_EVENT_BODY (6 * 1024 * 1024) /* FC's synchronous payload limit */

/* Per-request state, created on the first call of the access handler. */
struct request {
    char *body;
    size_t len, cap;
    int too_large;
};

/* Function Compute reads x-fc-status: 200 when the function did its job (even
 * when that job was refusing a bad webhook), 404 when it failed. */
static _Thread_local const char *fc_status;

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int status, const char *content_type,
                               const char *body)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (fc_status)
        MHD_add_response_header(resp, "x-fc-status", fc_status);
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

/* FC: a webhook through the HTTP trigger. The events are stored, then handed
 * to an asynchronous invocation of this function (LINEBOT_ASYNC=self), or
 * answered right here (inline): an FC instance may be frozen as soon as the
 * response is out, so nothing is left to background threads. */
static int fc_webhook(struct server *srv, struct MHD_Connection *conn, struct request *req, const char *sig,
                      char *reason, size_t reason_len)
{
    const struct config *cfg = srv->cfg;
    struct ingest_added added;
    int status = ingest_webhook_added(srv->ingest, req->body ? req->body : "", req->len, sig, reason, reason_len,
                                      &added);
    if (status == 200 && added.n > 0) {
        if (cfg->async_mode == ASYNC_SELF) {
            struct fc_credentials creds = {
                .access_key_id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-fc-access-key-id"),
                .access_key_secret = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-fc-access-key-secret"),
                .security_token = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-fc-security-token"),
            };
            if (!creds.access_key_id || !creds.access_key_secret)
                creds = (struct fc_credentials){cfg->alibaba_access_key_id, cfg->alibaba_access_key_secret,
                                                cfg->alibaba_security_token};
            pthread_mutex_lock(&srv->invoke_lock);
            int rc = serverless_hand_off(cfg, srv->invoke, srv->ingest, &added, &creds);
            pthread_mutex_unlock(&srv->invoke_lock);
            if (rc != 0) {
                status = 503;
                snprintf(reason, reason_len, "hand-off failed");
            }
        } else {
            worker_pool_drain(cfg, cfg->workers, 0, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-fc-request-id"));
        }
    }
    ingest_added_free(&added);
    return status;
}

/* FC: an event invocation (x-fc-control-path: /invoke) carrying work. */
static enum MHD_Result fc_invoke(struct server *srv, struct MHD_Connection *conn, struct request *req)
{
    if (req->too_large) {
        /* Retrying cannot make it fit: report it done ("200"), loudly. Our own
         * hand-offs are split to stay far below the limit. */
        log_error("event invocation payload over the size limit: dropped");
        fc_status = "200";
        return respond_json(conn, 413, "error", "payload too large");
    }
    struct handoff_event *evs;
    size_t n;
    int kind = handoff_parse(req->body ? req->body : "", req->len, &evs, &n);
    if (kind != 1) {
        log_warn("event invocation payload is not linebot work: ignored");
        return respond_json(conn, MHD_HTTP_OK, "status", "ignored");
    }
    int rc = serverless_work(srv->cfg, srv->ingest, evs, n, 0,
                             MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-fc-request-id"));
    handoff_events_free(evs, n);
    if (rc != 0) {
        fc_status = "404"; /* FC retries a failed asynchronous invocation */
        return respond_json(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "error", "could not store the events");
    }
    return respond_json(conn, MHD_HTTP_OK, "status", "done");
}

static enum MHD_Result handle_callback(struct server *srv, struct MHD_Connection *conn, struct request *req)
{
    char rid[32];
    snprintf(rid, sizeof rid, "req-%llu", (unsigned long long)atomic_fetch_add(&srv->request_seq, 1) + 1);
    if (!MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-fc-request-id"))
        log_set_request_id(rid);
    enum MHD_Result r;
    if (req->too_large) {
        log_warn("webhook refused: body over %d bytes", SERVER_MAX_BODY);
        metrics_webhook(413);
        r = respond_json(conn, MHD_HTTP_CONTENT_TOO_LARGE, "error", "body too large");
    } else {
        const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Line-Signature");
        char reason[128];
        int status;
        if (srv->cfg->platform == PLATFORM_FC) {
            status = fc_webhook(srv, conn, req, sig, reason, sizeof reason);
        } else {
            status = ingest_webhook(srv->ingest, req->body ? req->body : "", req->len, sig, reason, sizeof reason);
        }
        r = respond_json(conn, (unsigned int)status, status == 200 ? "status" : "error", reason);
    }
    log_clear_context();
    return r;
}

static enum MHD_Result route(struct server *srv, struct MHD_Connection *conn, const char *url, const char *method,
                             const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    bool is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    bool is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    const char *control = srv->cfg->platform == PLATFORM_FC
                              ? MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-fc-control-path")
                              : NULL;
    bool fc_event = control && strcmp(control, "/invoke") == 0;
    if (control && strcmp(control, "/initialize") == 0) {
        if (*upload_data_size > 0) {
            *upload_data_size = 0;
            return MHD_YES;
        }
        return respond_json(conn, MHD_HTTP_OK, "status", "ok");
    }

    if ((strcmp(url, "/callback") == 0 && is_post) || fc_event) {
        size_t limit = fc_event ? FC_MAX_EVENT_BODY : SERVER_MAX_BODY;
        struct request *req = *con_cls;
        if (!req) {
            req = calloc(1, sizeof *req);
            if (!req)
                return MHD_NO;
            *con_cls = req;
            const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            if (cl && strtoull(cl, NULL, 10) > limit)
                req->too_large = 1; /* refuse before reading a byte of it */
            return MHD_YES;
        }
        if (*upload_data_size > 0) {
            size_t n = *upload_data_size;
            *upload_data_size = 0;
            if (req->too_large || req->len + n > limit) {
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
        return fc_event ? fc_invoke(srv, conn, req) : handle_callback(srv, conn, req);
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

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                      const char *version, const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    struct server *srv = cls;
    if (srv->cfg->platform != PLATFORM_FC)
        return route(srv, conn, url, method, upload_data, upload_data_size, con_cls);

    /* Function Compute: one invocation is one request. Its request id goes into
     * every log line, framed by the lines FC's console looks for (the end line
     * is written by request_completed). */
    const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-fc-request-id");
    if (*con_cls == NULL && rid)
        fc_start_line(rid);
    /* A server thread serves several connections in turn: the log context is
     * set for this call only. */
    log_set_request_id(rid);
    fc_status = "200";
    enum MHD_Result r = route(srv, conn, url, method, upload_data, upload_data_size, con_cls);
    fc_status = NULL;
    log_clear_context();
    return r;
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct server *srv = cls;
    struct request *req = *con_cls;
    if (req) {
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
    if (srv->cfg->platform == PLATFORM_FC) {
        const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-fc-request-id");
        if (rid)
            fc_end_line(rid);
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
    srv->cfg = cfg;
    pthread_mutex_init(&srv->invoke_lock, NULL);
    if (cfg->platform == PLATFORM_FC && !(srv->invoke = http_client_new())) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }

    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai != 0 || !ai) {
        snprintf(err, errlen, "HOST %s cannot be resolved: %s", cfg->host, gai_strerror(gai));
        goto fail;
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
        goto fail;
    }
    return srv;

fail:
    http_client_free(srv->invoke);
    pthread_mutex_destroy(&srv->invoke_lock);
    free(srv);
    return NULL;
}

void server_stop(struct server *srv)
{
    if (!srv)
        return;
    MHD_quiesce_daemon(srv->daemon);
    MHD_stop_daemon(srv->daemon);
    http_client_free(srv->invoke);
    pthread_mutex_destroy(&srv->invoke_lock);
    free(srv);
}
