/* worker.h - the pool of threads that turn inbox events into answers.
 *
 * Each worker claims one event at a time from the store (at most one per chat
 * in flight, oldest first), decides with core/chat, asks the model, and replies
 * through LINE, recording every step so that a crash never causes a second
 * answer and never loses an acknowledged event. The pool, its lease keeper
 * and housekeeping are run/pool.c; what happens to one claimed job is the
 * pipeline of named stages in run/worker.c (run/stage.h). */
#ifndef LINEBOT_WORKER_H
#define LINEBOT_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "run/admission.h"
#include "run/event_cache.h"

struct store;

struct worker;

struct worker_pool {
    const struct config *cfg;
    struct worker *workers;
    int n_workers;
    atomic_int stopping;   /* no new claims; waits on the model are cancelled */
    int drain;             /* serverless: a worker stops when nothing is claimable */
    int64_t deadline_ms;   /* serverless: monotonic time the invocation must end by (0: none) */
    char request_id[128];  /* serverless: the invocation's id, for log lines */
    pthread_t keeper;      /* renews the leases of jobs in progress */
    int keeper_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;         /* idle workers wait here */
    pthread_cond_t keeper_wake;  /* the lease keeper waits here */
    unsigned long wake_seq;
    struct event_cache events;   /* server: events ingest parsed, for the workers */
    struct admission admission;  /* server: the wait estimate behind overload 503s */
};

/* Starts cfg->workers threads, each with its own store handle and HTTP client. */
int worker_pool_start(struct worker_pool *pool, const struct config *cfg);

/* Serverless: runs `n_workers` workers until nothing is claimable (or too
 * little time is left before `deadline_ms` on clock_monotonic_ms, 0 = none),
 * then returns. Answers are kept within the deadline. `request_id` (the
 * platform's invocation id, may be NULL) goes into the workers' log lines.
 * Returns 0, or -1 when
 * the workers could not start. */
int worker_pool_drain(const struct config *cfg, int n_workers, int64_t deadline_ms, const char *request_id);

/* The slow housekeeping, every 10 minutes on a server (worker 0) and per
 * serverless instance: the retention purge (LINEBOT_RETENTION_DAYS), then
 * memory extractions for users idle since their last turns. */
#define RETENTION_EVERY_MS (10LL * 60 * 1000)
void worker_retention(const struct config *cfg, struct store *store);

/* Wakes up to `n_new` idle workers, one per new event (ingest's notify hook):
 * waking all of them for each event would have all but one look for work in
 * vain. A worker that finishes a job looks for the next one anyway. */
void worker_pool_notify(void *pool, size_t n_new);

/* Graceful stop: no new claims; a job waiting on the model is given back to the
 * inbox; a job that is already sending finishes. Joins every thread. */
void worker_pool_stop(struct worker_pool *pool);

#endif
