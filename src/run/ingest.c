/* ingest.c - verify, parse, commit (see ingest.h).
 *
 * The 200 goes out only after the commit: an acknowledged event is on disk.
 * Events that can never need work (stickers, group chatter that is not kept,
 * standby mode...) are counted and dropped here, so they are never stored. */
#include "run/ingest.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/chat.h"
#include "core/webhook.h"
#include "obs/log.h"
#include "obs/metrics.h"

int ingest_init(struct ingest *in, const struct config *cfg, struct store *store)
{
    in->cfg = cfg;
    in->store = store;
    in->notify = NULL;
    in->notify_arg = NULL;
    return pthread_mutex_init(&in->lock, NULL) == 0 ? 0 : -1;
}

void ingest_destroy(struct ingest *in) { pthread_mutex_destroy(&in->lock); }

static int finish(int status, char *reason, size_t reason_len, const char *text)
{
    snprintf(reason, reason_len, "%s", text);
    metrics_webhook(status);
    return status;
}

int ingest_webhook(struct ingest *in, const char *body, size_t len, const char *signature,
                   char *reason, size_t reason_len)
{
    if (!webhook_signature_valid(in->cfg->channel_secret, body, len, signature)) {
        log_warn("webhook refused: %s X-Line-Signature", signature ? "wrong" : "missing");
        return finish(401, reason, reason_len, signature ? "invalid signature" : "missing signature");
    }

    struct webhook wh;
    char err[160];
    enum webhook_parse_status ps = webhook_parse(body, len, &wh, err, sizeof err);
    if (ps == WEBHOOK_PARSE_NOMEM)
        return finish(503, reason, reason_len, "out of memory");
    if (ps != WEBHOOK_PARSE_OK) {
        log_warn("webhook refused: %s", err);
        return finish(400, reason, reason_len, ps == WEBHOOK_PARSE_NO_EVENTS ? "no events array" : "malformed JSON");
    }

    struct inbox_item *items = calloc(wh.n_events ? wh.n_events : 1, sizeof *items);
    if (!items) {
        webhook_free(&wh);
        return finish(503, reason, reason_len, "out of memory");
    }
    size_t n_items = 0;
    for (size_t i = 0; i < wh.n_events; i++) {
        const struct line_event *ev = &wh.events[i];
        metrics_event(ev->type);
        log_set_event(ev->event_id, chat_type_name(ev->chat_type));
        if (!chat_needs_work(in->cfg, ev)) {
            log_debug("event %s needs no work", ev->type ? ev->type : "?");
            continue;
        }
        items[n_items++] = (struct inbox_item){
            .event_id = ev->event_id,
            .chat_id = ev->chat_id ? ev->chat_id : "",
            .timestamp_ms = ev->timestamp_ms,
            .payload = ev->raw_json,
        };
    }
    log_set_event(NULL, NULL);

    int status = 200;
    size_t n_new = 0;
    if (n_items > 0) {
        pthread_mutex_lock(&in->lock);
        int rc = store_inbox_add(in->store, items, n_items, &n_new);
        if (rc != 0)
            log_error("inbox write failed, answering 503 so LINE redelivers: %s", store_last_error(in->store));
        pthread_mutex_unlock(&in->lock);
        if (rc != 0)
            status = 503;
    }
    for (size_t i = n_new; i < n_items && status == 200; i++)
        metrics_event_duplicate();
    if (status == 200 && n_new > 0 && in->notify)
        in->notify(in->notify_arg);
    log_info("webhook: %zu events, %zu queued, %zu new", wh.n_events, n_items, n_new);
    free(items);
    webhook_free(&wh);
    return finish(status, reason, reason_len, status == 200 ? "ok" : "store unavailable");
}

int ingest_store_ping(struct ingest *in)
{
    pthread_mutex_lock(&in->lock);
    int rc = store_ping(in->store);
    pthread_mutex_unlock(&in->lock);
    return rc;
}

int ingest_inbox_depth(struct ingest *in, long long *depth)
{
    int64_t d = 0;
    pthread_mutex_lock(&in->lock);
    int rc = store_inbox_depth(in->store, &d);
    pthread_mutex_unlock(&in->lock);
    *depth = d;
    return rc;
}
