/* ingest.c - verify, parse, commit (see ingest.h).
 *
 * The 200 goes out only after the commit: an acknowledged event is on disk.
 * Events that can never need work (stickers, group chatter that is not kept,
 * standby mode...) are counted and dropped here, so they are never stored.
 *
 * Time. The sender stamps each event, and the stamp is trusted only within
 * bounds (core/webhook.h, event_time_judge): an event older than
 * LINEBOT_MAX_EVENT_AGE_S is acknowledged and dropped (its id may have been
 * purged from the dedup records: acting on it could answer a replay twice),
 * and one stamped more than 5 minutes ahead is stored with the time it arrived.
 * The inbox row's timestamp_ms is that effective time: the store orders each
 * chat by it, and the worker times the event by it (run/stage_claim.c). */
#include "run/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/chat.h"
#include "core/webhook.h"
#include "io/clock.h"
#include "obs/log.h"
#include "obs/metrics.h"

int ingest_init(struct ingest *in, const struct config *cfg, struct store *store)
{
    in->cfg = cfg;
    in->store = store;
    in->notify = NULL;
    in->notify_arg = NULL;
    in->parsed = NULL;
    in->admission = NULL;
    atomic_init(&in->refused_logged_ms, 0);
    in->queue = NULL;
    in->queue_tail = &in->queue;
    in->committing = false;
    pthread_mutex_init(&in->queue_lock, NULL);
    pthread_cond_init(&in->committed, NULL);
    return pthread_mutex_init(&in->lock, NULL) == 0 ? 0 : -1;
}

void ingest_destroy(struct ingest *in)
{
    pthread_mutex_destroy(&in->lock);
    pthread_mutex_destroy(&in->queue_lock);
    pthread_cond_destroy(&in->committed);
}

/* Commits a group of webhooks' events in one store_inbox_add: one
 * transaction, one fsync. Each webhook gets the group's result and its own
 * count of new events. An event id twice in the group is stored once (the
 * store skips ids it knows, its own transaction's included). */
static void commit_group(struct ingest *in, struct ingest_commit *group)
{
    size_t total = 0, n_webhooks = 0;
    for (struct ingest_commit *c = group; c; c = c->next) {
        total += c->n;
        n_webhooks++;
    }
    struct inbox_item *all = group->items;
    if (n_webhooks > 1) {
        all = xcalloc(total, sizeof *all);
        size_t at = 0;
        for (struct ingest_commit *c = group; c; c = c->next)
            for (size_t i = 0; i < c->n; i++)
                all[at++] = c->items[i];
    }
    pthread_mutex_lock(&in->lock);
    int rc = store_inbox_add(in->store, all, total, NULL);
    if (rc == 0)
        metrics_inbox_commit();
    if (rc != 0)
        log_error("inbox write failed, answering 503 so LINE redelivers: %s", store_last_error(in->store));
    pthread_mutex_unlock(&in->lock);
    size_t at = 0;
    for (struct ingest_commit *c = group; c; c = c->next) {
        c->rc = rc;
        c->n_new = 0;
        for (size_t i = 0; i < c->n; i++, at++) {
            c->items[i].added = rc == 0 && all[at].added;
            c->n_new += c->items[i].added;
        }
    }
    if (all != group->items)
        free(all);
    if (n_webhooks > 1)
        log_debug("group commit: %zu webhooks, %zu events, one transaction", n_webhooks, total);
}

/* Adds one webhook's events to the inbox through the group commit: the
 * caller that finds no commit in progress commits everything queued (its own
 * included); the others wait for it, then for the next. Returns
 * store_inbox_add's result; *n_new the webhook's new events. */
static int commit_items(struct ingest *in, struct inbox_item *items, size_t n, size_t *n_new)
{
    struct ingest_commit me = {.items = items, .n = n};
    pthread_mutex_lock(&in->queue_lock);
    *in->queue_tail = &me;
    in->queue_tail = &me.next;
    while (!me.done) {
        if (in->committing) {
            pthread_cond_wait(&in->committed, &in->queue_lock);
            continue;
        }
        in->committing = true;
        struct ingest_commit *group = in->queue;
        in->queue = NULL;
        in->queue_tail = &in->queue;
        pthread_mutex_unlock(&in->queue_lock);
        commit_group(in, group);
        pthread_mutex_lock(&in->queue_lock);
        /* Each caller returns once it sees `done` (under queue_lock), and its
         * entry lives on its stack: read `next` first. */
        for (struct ingest_commit *c = group, *next; c; c = next) {
            next = c->next;
            c->done = true;
        }
        in->committing = false;
        pthread_cond_broadcast(&in->committed);
    }
    pthread_mutex_unlock(&in->queue_lock);
    *n_new = me.n_new;
    return me.rc;
}

static int finish(int status, char *reason, size_t reason_len, const char *text)
{
    snprintf(reason, reason_len, "%s", text);
    return status;
}

/* The webhook metric counts the status the front door answers: here, in a
 * server, ingest's own; on Lambda and FC the front door's, after the
 * hand-off, which can still turn a stored webhook into a 503. */
int ingest_webhook(struct ingest *in, const char *body, size_t len, const char *signature,
                   char *reason, size_t reason_len)
{
    int status = ingest_webhook_added(in, body, len, signature, reason, reason_len, NULL);
    metrics_webhook(status);
    return status;
}

void ingest_added_free(struct ingest_added *added)
{
    if (!added)
        return;
    for (size_t i = 0; i < added->n; i++) {
        free((char *)added->items[i].event_id);
        free((char *)added->items[i].chat_id);
        free((char *)added->items[i].payload);
    }
    free(added->items);
    added->items = NULL;
    added->n = 0;
}

/* Copies the items the store marked as added. */
static void keep_added(const struct inbox_item *items, size_t n, struct ingest_added *added)
{
    added->items = xcalloc(n, sizeof *added->items);
    for (size_t i = 0; i < n; i++) {
        if (!items[i].added)
            continue;
        struct inbox_item *it = &added->items[added->n++];
        it->event_id = xstrdup(items[i].event_id);
        it->chat_id = xstrdup(items[i].chat_id);
        it->payload = xstrdup(items[i].payload);
        it->timestamp_ms = items[i].timestamp_ms;
        it->added = true;
    }
}

int ingest_forget(struct ingest *in, const struct ingest_added *added)
{
    if (!added || added->n == 0)
        return 0;
    const char **ids = xcalloc(added->n, sizeof *ids);
    for (size_t i = 0; i < added->n; i++)
        ids[i] = added->items[i].event_id;
    pthread_mutex_lock(&in->lock);
    int rc = store_inbox_forget(in->store, ids, added->n);
    if (rc != 0)
        log_error("could not undo the inbox write after a failed hand-off: %s", store_last_error(in->store));
    pthread_mutex_unlock(&in->lock);
    free(ids);
    return rc;
}

/* Overload with push fallback off: the events would be claimed too late to
 * be answered. Refusing them now (503) makes LINE redeliver them later;
 * acknowledging them would lose them. Logged at most every 10 s. */
#define REFUSED_LOG_EVERY_MS 10000
static bool ingest_overloaded(struct ingest *in, size_t n_items)
{
    if (!in->admission || !admission_refuse(in->admission, n_items))
        return false;
    metrics_events_refused(n_items);
    int64_t now = clock_monotonic_ms();
    long long last = atomic_load(&in->refused_logged_ms);
    if ((last == 0 || now - last >= REFUSED_LOG_EVERY_MS) &&
        atomic_compare_exchange_strong(&in->refused_logged_ms, &last, now))
        log_warn("overloaded: answering 503 so LINE redelivers later (a new event would wait about %lld s; "
                 "more LINEBOT_WORKERS, a faster model or LINEBOT_PUSH_FALLBACK=1 help)",
                 (long long)(admission_wait_ms(in->admission) / 1000));
    return true;
}

/* The time to store `ev` with (see the top of this file). Returns false for
 * an event too old to act on, after saying so in the log. */
static bool ingest_event_time(const struct config *cfg, const struct line_event *ev, int64_t arrival_ms,
                              int64_t *timestamp_ms)
{
    int64_t max_age_ms = (int64_t)cfg->max_event_age_s * 1000;
    switch (event_time_judge(ev->timestamp_ms, arrival_ms, max_age_ms, timestamp_ms)) {
    case EVENT_TIME_TOO_OLD:
        log_warn("event stamped %lld s before it arrived, more than LINEBOT_MAX_EVENT_AGE_S=%d: "
                 "acknowledged, not acted on",
                 (long long)(event_age_ms(ev->timestamp_ms, arrival_ms) / 1000), cfg->max_event_age_s);
        return false;
    case EVENT_TIME_AHEAD:
        log_warn("event stamped %lld s after it arrived: ordered and timed by its arrival instead",
                 (long long)(-(event_age_ms(ev->timestamp_ms, arrival_ms) / 1000)));
        return true;
    case EVENT_TIME_OK:
        return true;
    }
    return true;
}

int ingest_webhook_added(struct ingest *in, const char *body, size_t len, const char *signature,
                         char *reason, size_t reason_len, struct ingest_added *added)
{
    if (added)
        memset(added, 0, sizeof *added);
    if (!webhook_signature_valid(in->cfg->channel_secret, body, len, signature)) {
        log_warn("webhook refused: %s X-Line-Signature", signature ? "wrong" : "missing");
        return finish(401, reason, reason_len, signature ? "invalid signature" : "missing signature");
    }

    struct webhook wh;
    char err[160];
    enum webhook_parse_status ps = webhook_parse(body, len, &wh, err, sizeof err);
    if (ps != WEBHOOK_PARSE_OK) {
        log_warn("webhook refused: %s", err);
        return finish(400, reason, reason_len, ps == WEBHOOK_PARSE_NO_EVENTS ? "no events array" : "malformed JSON");
    }

    int64_t arrival_ms = clock_now_ms();
    struct inbox_item *items = xcalloc(wh.n_events, sizeof *items);
    size_t *item_event = xcalloc(wh.n_events, sizeof *item_event); /* items[i] is wh.events[item_event[i]] */
    size_t n_items = 0;
    for (size_t i = 0; i < wh.n_events; i++) {
        const struct line_event *ev = &wh.events[i];
        metrics_event(ev->type);
        log_set_event(ev->event_id, chat_type_name(ev->chat_type));
        int64_t timestamp_ms;
        if (!ingest_event_time(in->cfg, ev, arrival_ms, &timestamp_ms))
            continue;
        if (!chat_needs_work(in->cfg, ev)) {
            log_debug("event %s needs no work", ev->type ? ev->type : "?");
            continue;
        }
        item_event[n_items] = i;
        items[n_items++] = (struct inbox_item){
            .event_id = ev->event_id,
            .chat_id = ev->chat_id ? ev->chat_id : "",
            .timestamp_ms = timestamp_ms,
            .payload = ev->raw_json,
        };
    }
    log_set_event(NULL, NULL);

    int status = 200;
    size_t n_new = 0;
    bool overloaded = ingest_overloaded(in, n_items);
    if (overloaded) {
        status = 503;
    } else if (n_items > 0 && commit_items(in, items, n_items, &n_new) != 0) {
        status = 503;
    }
    for (size_t i = n_new; i < n_items && status == 200; i++)
        metrics_event_duplicate();
    if (status == 200 && added)
        keep_added(items, n_items, added);
    log_info("webhook: %zu events, %zu queued, %zu new", wh.n_events, n_items, n_new);
    /* Parsed once: an event this call stored is exactly what its row holds,
     * and the worker takes it from here (a duplicate's row may hold an
     * earlier delivery: it is parsed from the row). */
    if (status == 200 && n_new > 0 && in->parsed)
        for (size_t i = 0; i < n_items; i++)
            if (items[i].added)
                event_cache_put(in->parsed, &wh.events[item_event[i]]);
    if (status == 200 && n_new > 0 && in->admission)
        admission_added(in->admission, n_new);
    if (status == 200 && n_new > 0 && in->notify)
        in->notify(in->notify_arg, n_new);
    free(items);
    free(item_event);
    webhook_free(&wh);
    return finish(status, reason, reason_len, status == 200 ? "ok" : overloaded ? "overloaded" : "store unavailable");
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
