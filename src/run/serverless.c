/* serverless.c - hand-off and work invocation, for Lambda and FC (see serverless.h).
 *
 * A server's pool checks for parked answers past their wait every second
 * (run/pool.c). A Lambda or FC instance is frozen between invocations, so
 * the same check rides on the invocations that drain the inbox anyway: each
 * work invocation, an inline webhook, and a schedule's invocation (an
 * EventBridge rule, an FC timer trigger). It is one store statement, done
 * at most once a second per instance, and never on the path of a webhook's
 * acknowledgement in self mode. The slow housekeeping (the retention purge,
 * memory extractions of idle users) rides on them too, every ten minutes
 * per instance, so a serverless store does not grow without end. */
#include "run/serverless.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/clock.h"
#include "io/store.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "run/stage.h"
#include "run/worker.h"

#define HOUSEKEEPING_EVERY_MS 1000

static void forget_payload(struct ingest *ingest, const char *body, size_t len)
{
    struct handoff_event *ids;
    size_t n;
    if (handoff_parse(body, len, &ids, &n) != 1)
        return;
    struct ingest_added undo = {.items = xcalloc(n, sizeof *undo.items), .n = n};
    for (size_t k = 0; k < n; k++)
        undo.items[k].event_id = ids[k].event_id;
    ingest_forget(ingest, &undo);
    free(undo.items);
    handoff_events_free(ids, n);
}

int serverless_hand_off(const struct config *cfg, struct http_client *http, struct ingest *ingest,
                        const struct ingest_added *added, const struct fc_credentials *fc_creds)
{
    int64_t t0 = clock_monotonic_ms();
    bool fc = cfg->platform == PLATFORM_FC;
    struct handoff_event *evs = xcalloc(added->n, sizeof *evs);
    for (size_t i = 0; i < added->n; i++) {
        evs[i].event_id = (char *)added->items[i].event_id;
        evs[i].chat_id = (char *)added->items[i].chat_id;
        evs[i].timestamp_ms = added->items[i].timestamp_ms;
        evs[i].event_json = (char *)added->items[i].payload;
    }
    struct handoff_payloads p;
    int rc = handoff_build(evs, added->n, store_url_is_shared(cfg->db), fc ? HANDOFF_MAX_FC : HANDOFF_MAX_LAMBDA, &p);
    free(evs);
    if (rc != 0) { /* an id JSON cannot carry */
        ingest_forget(ingest, added);
        return -1;
    }
    int failed = 0;
    for (size_t i = 0; i < p.n; i++) {
        char err[512];
        int ok = fc ? selfinvoke_fc(cfg, http, fc_creds, p.bodies[i], p.lens[i], err, sizeof err)
                    : selfinvoke_lambda(cfg, http, p.bodies[i], p.lens[i], err, sizeof err);
        if (ok == 0)
            continue;
        log_error("asynchronous hand-off failed, answering 503 so LINE redelivers: %s", err);
        failed = 1;
        forget_payload(ingest, p.bodies[i], p.lens[i]);
    }
    handoff_payloads_free(&p);
    if (!failed)
        metrics_handoff_latency((double)(clock_monotonic_ms() - t0));
    return failed ? -1 : 0;
}

int serverless_work(const struct config *cfg, struct ingest *ingest, const struct handoff_event *events, size_t n,
                    int64_t deadline_ms, const char *request_id)
{
    struct inbox_item *items = xcalloc(n, sizeof *items);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!events[i].event_json)
            continue;
        items[k++] = (struct inbox_item){.event_id = events[i].event_id, .chat_id = events[i].chat_id,
                                         .timestamp_ms = events[i].timestamp_ms, .payload = events[i].event_json};
    }
    if (k > 0) {
        size_t n_new = 0;
        pthread_mutex_lock(&ingest->lock);
        int rc = store_inbox_add(ingest->store, items, k, &n_new);
        if (rc != 0)
            log_error("work invocation could not store its events: %s", store_last_error(ingest->store));
        pthread_mutex_unlock(&ingest->lock);
        if (rc != 0) {
            free(items);
            return -1;
        }
    }
    free(items);
    log_info("work invocation: %zu event(s)", n);
    return serverless_drain(cfg, ingest, deadline_ms, request_id);
}

/* When a piece of this instance's housekeeping last ran; FC serves
 * requests on several threads. */
struct every {
    int64_t last_ms;
    bool ran;
};

static bool due(struct every *e, int64_t every_ms)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    int64_t mono = clock_monotonic_ms();
    pthread_mutex_lock(&lock);
    bool yes = !e->ran || mono - e->last_ms >= every_ms;
    if (yes) {
        e->ran = true;
        e->last_ms = mono;
    }
    pthread_mutex_unlock(&lock);
    return yes;
}

int serverless_drain(const struct config *cfg, struct ingest *ingest, int64_t deadline_ms, const char *request_id)
{
    static struct every unpark, retention;
    if (due(&unpark, HOUSEKEEPING_EVERY_MS)) {
        pthread_mutex_lock(&ingest->lock);
        progress_housekeeping(cfg, ingest->store); /* parked answers past their wait */
        pthread_mutex_unlock(&ingest->lock);
    }
    if (due(&retention, RETENTION_EVERY_MS)) {
        pthread_mutex_lock(&ingest->lock);
        worker_retention(cfg, ingest->store); /* the purge deletes in small batches */
        pthread_mutex_unlock(&ingest->lock);
    }
    return worker_pool_drain(cfg, cfg->workers, deadline_ms, request_id);
}

bool serverless_is_schedule(const char *body, size_t len)
{
    json_t *o = json_loadb(body, len, 0, NULL);
    const char *type = json_string_value(json_object_get(o, "detail-type"));
    const char *source = json_string_value(json_object_get(o, "source"));
    bool yes = (type && source && strcmp(type, "Scheduled Event") == 0 && strcmp(source, "aws.events") == 0) ||
               (json_is_string(json_object_get(o, "triggerTime")) && json_is_string(json_object_get(o, "triggerName")));
    json_decref(o);
    return yes;
}
