/* lambda.c - the AWS Lambda custom runtime loop (see lambda.h).
 *
 * One invocation at a time, as Lambda sends them. A webhook invocation must
 * answer fast: it stores the events and hands them to an asynchronous
 * invocation of this same function, whose drain of the inbox does the chat
 * work within Lambda-Runtime-Deadline-Ms. If the hand-off fails, the inbox
 * write is undone and LINE gets a 5xx, so its redelivery is not mistaken for
 * a duplicate and nothing acknowledged is lost. A schedule's invocation
 * does the housekeeping and drains the inbox (serverless_drain). */
#include "run/lambda.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/apigw.h"
#include "core/handoff.h"
#include "io/clock.h"
#include "io/http_client.h"
#include "io/store.h"
#include "obs/emf.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "run/ingest.h"
#include "run/serverless.h"
#include "run/server.h"

#define RUNTIME_WAIT_MS (24LL * 3600 * 1000) /* "next" long-polls: no practical timeout */
#define MAX_RUNTIME_FAILURES 10

struct lambda {
    const struct config *cfg;
    struct http_client *runtime;
    struct http_client *invoke;
    struct store *store;
    struct ingest ingest;
    bool shared_store;
    bool ingest_ready;
    char request_id[128]; /* of the invocation in progress */
};

static void runtime_url(const char *api, const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "http://%s/2018-06-01/runtime/%s", api, path);
}

static int runtime_post(struct http_client *http, const char *api, const char *path, const char *body,
                        const char *const *headers)
{
    char url[512];
    runtime_url(api, path, url, sizeof url);
    struct http_request req = {.method = "POST", .url = url, .headers = headers, .body = body,
                               .body_len = strlen(body), .timeout_ms = 10000};
    struct http_response resp;
    memset(&resp, 0, sizeof resp);
    int rc = http_client_do(http, &req, &resp);
    if (rc != 0 || resp.status < 200 || resp.status >= 300) {
        log_error("Runtime API %s answered %ld %s", path, resp.status, rc != 0 ? resp.error : "");
        rc = -1;
    }
    http_response_free(&resp);
    return rc;
}

/* NULL only when `message` is not UTF-8 (jansson refuses it); memory running
 * out aborts. */
static char *error_body(const char *type, const char *message)
{
    json_t *o = json_pack("{s:s, s:s}", "errorType", type, "errorMessage", message);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

void lambda_report_init_error(const char *runtime_api, const char *message)
{
    struct http_client *http = http_client_new();
    char *body = error_body("Runtime.ConfigError", message);
    static const char *const headers[] = {"Lambda-Runtime-Function-Error-Type: Runtime.ConfigError",
                                          "Content-Type: application/json", NULL};
    if (body && runtime_api)
        runtime_post(http, runtime_api, "init/error", body, headers);
    free(body);
    http_client_free(http);
}

static char *respond(int status, const char *key, const char *text)
{
    char body[256];
    snprintf(body, sizeof body, "{\"%s\":\"%s\"}", key, text);
    return apigw_response(status, "application/json", body);
}

static char *handle_webhook(struct lambda *l, const struct http_event *ev, int64_t deadline_ms)
{
    if (ev->body_len > SERVER_MAX_BODY) {
        metrics_webhook(413);
        return respond(413, "error", "body too large");
    }
    char reason[128];
    struct ingest_added added;
    int status = ingest_webhook_added(&l->ingest, ev->body, ev->body_len, http_event_header(ev, "x-line-signature"),
                                      reason, sizeof reason, &added);
    if (status == 200 && added.n > 0) {
        if (l->cfg->async_mode == ASYNC_SELF) {
            if (serverless_hand_off(l->cfg, l->invoke, &l->ingest, &added, NULL) != 0) {
                status = 503;
                snprintf(reason, sizeof reason, "hand-off failed");
            }
        } else {
            serverless_drain(l->cfg, &l->ingest, deadline_ms, l->request_id);
        }
    }
    ingest_added_free(&added);
    metrics_webhook(status);
    return respond(status, status == 200 ? "status" : "error", reason);
}

static char *handle(struct lambda *l, const char *body, size_t len, int64_t deadline_ms)
{
    struct http_event ev;
    enum apigw_result kind = apigw_parse(body, len, &ev);
    if (kind == APIGW_HTTP) {
        char *out;
        size_t plen = strlen(ev.path);
        bool is_callback = plen >= 9 && strcmp(ev.path + plen - 9, "/callback") == 0;
        bool is_health = plen >= 8 && strcmp(ev.path + plen - 8, "/healthz") == 0;
        if (is_callback && strcasecmp(ev.method, "POST") == 0)
            out = handle_webhook(l, &ev, deadline_ms);
        else if (is_health && strcasecmp(ev.method, "GET") == 0)
            out = store_ping(l->store) == 0 ? respond(200, "status", "ok") : respond(503, "status", "store unavailable");
        else if (is_callback || is_health)
            out = respond(405, "error", "method not allowed");
        else
            out = respond(404, "error", "not found");
        http_event_free(&ev);
        return out;
    }
    if (kind == APIGW_BAD)
        return respond(400, "error", "unreadable request");
    struct handoff_event *evs;
    size_t n;
    int w = handoff_parse(body, len, &evs, &n);
    if (w == 1) {
        char *out = serverless_work(l->cfg, &l->ingest, evs, n, deadline_ms, l->request_id) == 0 ? xstrdup("{\"status\":\"done\"}")
                                                                                : NULL; /* Lambda retries */
        handoff_events_free(evs, n);
        return out;
    }
    /* A schedule (EventBridge) does the housekeeping that would otherwise
     * wait for the next work invocation, and answers what a work invocation
     * left in the inbox. */
    if (serverless_is_schedule(body, len)) {
        log_info("scheduled invocation: housekeeping and the inbox");
        serverless_drain(l->cfg, &l->ingest, deadline_ms, l->request_id);
        return xstrdup("{\"status\":\"done\"}");
    }
    log_warn("invocation payload is neither an HTTP request nor linebot work: ignored");
    return xstrdup("{\"status\":\"ignored\"}");
}

int lambda_run(const struct config *cfg)
{
    struct lambda l;
    memset(&l, 0, sizeof l);
    l.cfg = cfg;
    l.shared_store = store_url_is_shared(cfg->db);
    char err[512];
    l.store = store_open(cfg->db, err, sizeof err);
    l.runtime = http_client_new();
    l.invoke = http_client_new();
    if (!l.store) {
        char msg[600];
        snprintf(msg, sizeof msg, "LINEBOT_DB: cannot open the store: %s", err);
        log_error("%s", msg);
        lambda_report_init_error(cfg->lambda_runtime_api, msg);
        goto out;
    }
    if (!l.shared_store)
        log_warn("LINEBOT_DB is SQLite (%s): each Lambda instance has its own copy, so deduplication and "
                 "history do not carry across instances. Use PostgreSQL (LINEBOT_DB=postgres://...) in production",
                 cfg->db);
    if (store_recover(l.store) != 0 || ingest_init(&l.ingest, cfg, l.store) != 0) {
        lambda_report_init_error(cfg->lambda_runtime_api, "cannot recover the store");
        goto out;
    }
    l.ingest_ready = true;
    log_info("linebot %s on AWS Lambda (%s, async %s)", LINEBOT_VERSION, cfg->function_name ? cfg->function_name : "?",
             cfg->async_mode == ASYNC_SELF ? "self" : "inline");

    int failures = 0;
    char url[512];
    runtime_url(cfg->lambda_runtime_api, "invocation/next", url, sizeof url);
    for (;;) {
        struct http_request req = {.method = "GET", .url = url, .timeout_ms = RUNTIME_WAIT_MS,
                                   .max_response_bytes = 8 * 1024 * 1024};
        struct http_response resp;
        memset(&resp, 0, sizeof resp);
        if (http_client_do(l.runtime, &req, &resp) != 0 || resp.status != 200) {
            log_error("Runtime API next invocation failed: %ld %s", resp.status, resp.error);
            http_response_free(&resp);
            if (++failures >= MAX_RUNTIME_FAILURES)
                break;
            clock_sleep_ms(100 * failures);
            continue;
        }
        failures = 0;
        const char *rid = http_client_header(l.runtime, "Lambda-Runtime-Aws-Request-Id");
        const char *dl = http_client_header(l.runtime, "Lambda-Runtime-Deadline-Ms");
        char *request_id = l.request_id;
        snprintf(l.request_id, sizeof l.request_id, "%s", rid ? rid : "");
        int64_t deadline_ms = 0;
        if (dl) {
            long long epoch = strtoll(dl, NULL, 10);
            if (epoch > 0)
                deadline_ms = clock_monotonic_ms() + (epoch - clock_now_ms());
        }
        log_set_request_id(request_id);
        struct metrics_totals before;
        metrics_get_totals(&before);

        char *out = handle(&l, resp.body ? resp.body : "", resp.body_len, deadline_ms);
        http_response_free(&resp);

        char path[256];
        static const char *const json_headers[] = {"Content-Type: application/json", NULL};
        if (out) {
            snprintf(path, sizeof path, "invocation/%s/response", request_id);
            runtime_post(l.runtime, cfg->lambda_runtime_api, path, out, json_headers);
        } else {
            char *body = error_body("LineBot.WorkFailed", "the work invocation could not store its events");
            static const char *const err_headers[] = {"Lambda-Runtime-Function-Error-Type: LineBot.WorkFailed",
                                                      "Content-Type: application/json", NULL};
            snprintf(path, sizeof path, "invocation/%s/error", request_id);
            runtime_post(l.runtime, cfg->lambda_runtime_api, path, body, err_headers); /* ASCII: never NULL */
            free(body);
        }
        free(out);
        struct metrics_totals after;
        metrics_get_totals(&after);
        emf_emit(cfg->function_name, &before, &after, clock_now_ms());
        log_set_request_id(NULL);
    }
out:
    if (l.ingest_ready)
        ingest_destroy(&l.ingest);
    if (l.store)
        store_close(l.store);
    http_client_free(l.runtime);
    http_client_free(l.invoke);
    return 1;
}
