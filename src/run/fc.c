/* fc.c - the Function Compute front door: its routes and request framing
 * (see fc.h). The answer's status and x-fc-status travel in the request's
 * struct server_request; nothing is kept per thread. */
#include "run/fc.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/handoff.h"
#include "io/http_client.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "run/serverless.h"

struct fc {
    const struct config *cfg;
    struct ingest *ingest;
    pthread_mutex_t invoke_lock; /* guards `invoke` */
    struct http_client *invoke;  /* the asynchronous self-invocation */
    struct server_door door;
};

static const char *fc_request_id(const struct server_request *req)
{
    return server_header(req, "x-fc-request-id");
}

/* ---- routes -------------------------------------------------------------- */

static void fc_initialize(void *ctx, struct server_request *req)
{
    (void)ctx;
    server_reply_json(req, MHD_HTTP_OK, "status", "ok");
}

/* Which credentials sign the hand-off: the ones FC passes with the request
 * (the function's role), else the ALIBABA_CLOUD_* settings. */
static struct fc_credentials fc_credentials_for(const struct fc *fc, const struct server_request *req)
{
    struct fc_credentials creds = {
        .access_key_id = server_header(req, "x-fc-access-key-id"),
        .access_key_secret = server_header(req, "x-fc-access-key-secret"),
        .security_token = server_header(req, "x-fc-security-token"),
    };
    if (!creds.access_key_id || !creds.access_key_secret)
        creds = (struct fc_credentials){fc->cfg->alibaba_access_key_id, fc->cfg->alibaba_access_key_secret,
                                        fc->cfg->alibaba_security_token};
    return creds;
}

/* FC passes the function's credentials in each request's headers: masked in
 * the log lines of this request's thread, as the configured secrets are,
 * until fc_unmask. */
static void fc_mask(const struct server_request *req)
{
    const struct redact_secret creds[] = {
        {"x-fc-access-key-id", server_header(req, "x-fc-access-key-id")},
        {"x-fc-access-key-secret", server_header(req, "x-fc-access-key-secret")},
        {"x-fc-security-token", server_header(req, "x-fc-security-token")},
    };
    log_set_request_secrets(creds, sizeof creds / sizeof creds[0]);
}

static void fc_unmask(void) { log_clear_request_secrets(); }

/* The HTTP trigger's webhook. The events are stored, then handed to an
 * asynchronous invocation of this function (LINEBOT_ASYNC=self), or answered
 * right here (inline). */
static void fc_webhook(void *ctx, struct server_request *req)
{
    struct fc *fc = ctx;
    const struct config *cfg = fc->cfg;
    if (!fc_request_id(req))
        log_set_request_id(server_request_id(req));
    if (!server_webhook_fits(req))
        return;
    fc_mask(req);
    char reason[128];
    struct ingest_added added;
    int status = ingest_webhook_added(fc->ingest, req->body, req->body_len, server_header(req, "X-Line-Signature"),
                                      reason, sizeof reason, &added);
    if (status == 200 && added.n > 0) {
        if (cfg->async_mode == ASYNC_SELF) {
            struct fc_credentials creds = fc_credentials_for(fc, req);
            pthread_mutex_lock(&fc->invoke_lock);
            int rc = serverless_hand_off(cfg, fc->invoke, fc->ingest, &added, &creds);
            pthread_mutex_unlock(&fc->invoke_lock);
            if (rc != 0) {
                status = 503;
                snprintf(reason, sizeof reason, "hand-off failed");
            }
        } else {
            serverless_drain(cfg, fc->ingest, 0, fc_request_id(req));
        }
    }
    ingest_added_free(&added);
    metrics_webhook(status);
    server_reply_webhook(req, status, reason);
    fc_unmask();
}

/* An event invocation carrying work. */
static void fc_invoke(void *ctx, struct server_request *req)
{
    struct fc *fc = ctx;
    if (req->too_large) {
        /* Retrying cannot make it fit: report it done (x-fc-status 200),
         * loudly. Our own hand-offs are split to stay far below the limit. */
        log_error("event invocation payload over the size limit: dropped");
        server_reply_json(req, 413, "error", "payload too large");
        return;
    }
    struct handoff_event *evs;
    size_t n;
    if (handoff_parse(req->body, req->body_len, &evs, &n) != 1) {
        /* A timer trigger does the housekeeping that would otherwise wait
         * for the next work invocation, and answers what is in the inbox. */
        if (serverless_is_schedule(req->body, req->body_len)) {
            log_info("scheduled invocation: housekeeping and the inbox");
            serverless_drain(fc->cfg, fc->ingest, 0, fc_request_id(req));
            server_reply_json(req, MHD_HTTP_OK, "status", "done");
            return;
        }
        log_warn("event invocation payload is not linebot work: ignored");
        server_reply_json(req, MHD_HTTP_OK, "status", "ignored");
        return;
    }
    int rc = serverless_work(fc->cfg, fc->ingest, evs, n, 0, fc_request_id(req));
    handoff_events_free(evs, n);
    if (rc != 0) {
        server_set_header(req, "x-fc-status", "404"); /* FC retries a failed asynchronous invocation */
        server_reply_json(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "error", "could not store the events");
        return;
    }
    server_reply_json(req, MHD_HTTP_OK, "status", "done");
}

/* Walked before serve mode's routes (GET /healthz, GET /metrics stay). */
static const struct server_route fc_routes[] = {
    {.header = "x-fc-control-path", .header_value = "/initialize", .handler = fc_initialize},
    {.header = "x-fc-control-path", .header_value = "/invoke", .max_body = FC_MAX_EVENT_BODY, .handler = fc_invoke},
    {.method = "POST", .path = "/callback", .max_body = SERVER_MAX_BODY, .handler = fc_webhook},
};

/* ---- framing ------------------------------------------------------------- */

/* One invocation is one request. FC's console and Simple Log Service look
 * for these exact plain lines around it. */
static void fc_begin(void *ctx, struct server_request *req)
{
    (void)ctx;
    server_set_header(req, "x-fc-status", "200");
    const char *rid = fc_request_id(req);
    if (rid) {
        printf("FC Invoke Start RequestId: %s\n", rid);
        fflush(stdout);
    }
}

static void fc_enter(void *ctx, struct server_request *req)
{
    (void)ctx;
    log_set_request_id(fc_request_id(req));
}

static void fc_end(void *ctx, struct server_request *req)
{
    (void)ctx;
    const char *rid = fc_request_id(req);
    if (rid) {
        printf("FC Invoke End RequestId: %s\n", rid);
        fflush(stdout);
    }
}

/* ---- life cycle ---------------------------------------------------------- */

struct fc *fc_new(const struct config *cfg, struct ingest *ingest)
{
    struct fc *fc = xcalloc(1, sizeof *fc);
    fc->invoke = http_client_new();
    fc->cfg = cfg;
    fc->ingest = ingest;
    pthread_mutex_init(&fc->invoke_lock, NULL);
    fc->door = (struct server_door){
        .routes = fc_routes, .n_routes = sizeof fc_routes / sizeof fc_routes[0], .ctx = fc,
        .begin = fc_begin, .enter = fc_enter, .end = fc_end,
    };
    return fc;
}

const struct server_door *fc_door(struct fc *fc) { return &fc->door; }

void fc_free(struct fc *fc)
{
    if (!fc)
        return;
    http_client_free(fc->invoke);
    pthread_mutex_destroy(&fc->invoke_lock);
    free(fc);
}
