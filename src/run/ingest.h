/* ingest.h - a webhook body in, an HTTP status out.
 *
 * Verifies the signature over the raw bytes, parses the events, and commits the
 * ones that need work to the inbox in one transaction, shared with the
 * webhooks that arrive meanwhile (a group commit: one fsync for all). The status says what
 * LINE should do: 200 (done, or nothing to do), 401 (not from LINE), 400 (not
 * a webhook), 503 (could not store, or too busy to answer in time: redeliver). Shared by every front door. */
#ifndef LINEBOT_INGEST_H
#define LINEBOT_INGEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "io/store.h"
#include "run/admission.h"
#include "run/event_cache.h"

/* One webhook's events waiting for a group commit (ingest.c). */
struct ingest_commit {
    struct inbox_item *items;
    size_t n;
    int rc;                         /* store_inbox_add's, for the whole group */
    size_t n_new;
    bool done;
    struct ingest_commit *next;
};

struct ingest {
    const struct config *cfg;
    struct store *store;            /* guarded by lock */
    pthread_mutex_t lock;
    /* Group commit: webhooks that arrive while a commit is in progress are
     * committed together by the next one, in one transaction (one fsync). */
    pthread_mutex_t queue_lock;
    pthread_cond_t committed;
    struct ingest_commit *queue;    /* waiting, oldest first */
    struct ingest_commit **queue_tail;
    bool committing;
    void (*notify)(void *arg, size_t n_new); /* called after new events were committed */
    void *notify_arg;
    struct event_cache *parsed;     /* server: new events are handed over parsed (may be NULL) */
    struct admission *admission;    /* server: refuses what could not be answered in time (may be NULL) */
    atomic_llong refused_logged_ms; /* when an overload refusal was last logged */
};

int ingest_init(struct ingest *in, const struct config *cfg, struct store *store);
void ingest_destroy(struct ingest *in);

/* Handles one webhook. Returns the HTTP status; `reason` gets a short text for
 * the response body and the log (never body content or secrets). */
int ingest_webhook(struct ingest *in, const char *body, size_t len, const char *signature,
                   char *reason, size_t reason_len);

/* The events one webhook newly added to the inbox, for a serverless hand-off. */
struct ingest_added {
    struct inbox_item *items; /* strings owned by this struct */
    size_t n;
};
void ingest_added_free(struct ingest_added *added);

/* ingest_webhook, also telling which events were new (`added` may be NULL).
 * It does not count the webhook in the metrics: the caller counts the status
 * it finally answers. */
int ingest_webhook_added(struct ingest *in, const char *body, size_t len, const char *signature,
                         char *reason, size_t reason_len, struct ingest_added *added);

/* Undoes the inbox writes of `added` when the hand-off failed, so that LINE's
 * redelivery is not dropped as a duplicate. */
int ingest_forget(struct ingest *in, const struct ingest_added *added);

/* 0 when the store answers (GET /healthz). */
int ingest_store_ping(struct ingest *in);
int ingest_inbox_depth(struct ingest *in, long long *depth);

#endif
