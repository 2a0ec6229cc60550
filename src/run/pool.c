/* pool.c - the worker threads, the lease keeper and the housekeeping.
 *
 * Each worker thread owns a store handle and an HTTP client, claims one job at
 * a time (store_claim_next: at most one event per chat in flight, oldest
 * first, internal jobs only when no event waits) and hands it to the pipeline
 * (run/worker.c). Idle workers sleep on a condition that ingest's notify hook
 * signals. One more thread, the lease keeper, renews the leases of the jobs
 * in progress so that a slow model never hands a job to another instance.
 * Worker 0 also refreshes the inbox-depth gauge and runs the retention purge
 * while idle. */
#include "run/worker.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/clock.h"
#include "io/http_client.h"
#include "io/line_api.h"
#include "io/llm.h"
#include "io/store.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "run/stage.h"

/* A claim that keeps failing is logged at once, then once a minute. */
#define CLAIM_LOG_EVERY_MS 60000
#define IDLE_WAIT_MS 1000
/* Serverless: a job is not started with less time than this left. */
#define MIN_JOB_MS 8000

struct worker {
    struct worker_pool *pool;
    int index;
    pthread_t thread;
    int started;
    struct store *store;
    struct http_client *http;
    struct line_api line;
    struct llm_client llm;
    struct worker_env env;       /* what the pipeline gets: the fields above */
    atomic_int cancel_job;       /* abort the wait on the model: shutdown or claim lost */
    atomic_int claim_over;       /* the job's claim is being ended: the keeper leaves it */
    pthread_mutex_t job_lock;    /* guards the two fields below (read by the lease keeper) */
    char *job_event_id;          /* the job in progress, NULL when idle */
    int64_t job_claim_gen;
};

static void housekeeping(struct worker *w, int64_t *last_purge, int64_t *last_depth, int64_t *last_unpark)
{
    const struct config *cfg = w->pool->cfg;
    int64_t mono = clock_monotonic_ms();
    int64_t depth;
    /* The gauge is refreshed at most once a second (GET /metrics also reads it). */
    if (w->index == 0 && mono - *last_depth >= 1000) {
        *last_depth = mono;
        if (store_inbox_depth(w->store, &depth) == 0)
            metrics_set_inbox_depth(depth);
    }
    if (w->index == 0 && mono - *last_unpark >= 1000) {
        *last_unpark = mono;
        progress_housekeeping(cfg, w->store); /* parked answers past their wait */
    }
    if (w->index != 0 || (*last_purge && mono - *last_purge < RETENTION_EVERY_MS))
        return;
    *last_purge = mono;
    worker_retention(cfg, w->store);
}

void worker_retention(const struct config *cfg, struct store *store)
{
    int64_t cutoff = clock_now_ms() - (int64_t)cfg->retention_days * 86400000LL;
    if (store_purge(store, cutoff, cutoff) != 0)
        log_warn("retention purge failed: %s", store_last_error(store));
    memory_housekeeping(cfg, store); /* extractions for users idle since their last turns */
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct worker_pool *pool = w->pool;
    int64_t last_purge = 0, last_depth = 0, last_claim_log = 0, last_unpark = 0;
    unsigned long seen = 0, claim_failures = 0;
    while (!atomic_load(&pool->stopping)) {
        if (pool->deadline_ms && pool->deadline_ms - clock_monotonic_ms() < MIN_JOB_MS) {
            log_info("too little time left in this invocation to start another event");
            break;
        }
        struct job job;
        memset(&job, 0, sizeof job);
        int rc = store_claim_next(w->store, clock_now_ms(), &job);
        if (rc == 1) {
            pthread_mutex_lock(&w->job_lock);
            w->job_event_id = xstrdup(job.event_id);
            w->job_claim_gen = job.claim_gen;
            atomic_store(&w->claim_over, 0);
            pthread_mutex_unlock(&w->job_lock);
            if (!atomic_load(&pool->stopping))
                atomic_store(&w->cancel_job, 0);
            if (pool->request_id[0])
                log_set_request_id(pool->request_id);
            int64_t started = clock_monotonic_ms();
            if (!job.kind)
                admission_claimed(&pool->admission);
            worker_run_job(&w->env, &job);
            if (!job.kind)
                admission_job_done(&pool->admission, clock_monotonic_ms() - started);
            pthread_mutex_lock(&w->job_lock);
            free(w->job_event_id);
            w->job_event_id = NULL;
            pthread_mutex_unlock(&w->job_lock);
            job_free(&job);
            log_clear_context();
            continue;
        }
        if (rc < 0) {
            /* A store that stays broken (a deleted file, a full disk) fails
             * every second: say so at once, then once a minute. */
            int64_t mono = clock_monotonic_ms();
            claim_failures++;
            if (claim_failures == 1 || mono - last_claim_log >= CLAIM_LOG_EVERY_MS) {
                log_error("could not claim work (%lu time(s) in a row): %s", claim_failures,
                          store_last_error(w->store));
                last_claim_log = mono;
            }
        } else {
            claim_failures = 0;
        }
        if (pool->drain)
            break;
        housekeeping(w, &last_purge, &last_depth, &last_unpark);
        pthread_mutex_lock(&pool->lock);
        if (seen == pool->wake_seq && !atomic_load(&pool->stopping)) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += (long)(IDLE_WAIT_MS % 1000) * 1000000L;
            until.tv_sec += IDLE_WAIT_MS / 1000 + until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&pool->wake, &pool->lock, &until);
        }
        seen = pool->wake_seq;
        pthread_mutex_unlock(&pool->lock);
    }
    return NULL;
}

/* Renews the lease of every job in progress, so that a slow model never
 * hands a job to another instance. A claim found lost cancels that worker's
 * wait on the model; its fenced writes already keep it from sending. */
static void *lease_keeper_main(void *arg)
{
    struct worker_pool *pool = arg;
    char err[256];
    struct store *store = NULL;
    while (!(store = store_open(pool->cfg->db, err, sizeof err))) {
        log_error("lease keeper cannot open the store, retrying: %s", err);
        for (int i = 0; i < 10 && !atomic_load(&pool->stopping); i++)
            clock_sleep_ms(100);
        if (atomic_load(&pool->stopping))
            return NULL;
    }
    int64_t next = clock_monotonic_ms() + STORE_LEASE_MS / 3;
    while (!atomic_load(&pool->stopping)) {
        /* Sleep until the next renewal; worker_pool_stop's broadcast ends it early. */
        pthread_mutex_lock(&pool->lock);
        if (!atomic_load(&pool->stopping)) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            int64_t wait_ms = next - clock_monotonic_ms();
            if (wait_ms < 0)
                wait_ms = 0;
            until.tv_sec += wait_ms / 1000;
            until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
            until.tv_sec += until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&pool->keeper_wake, &pool->lock, &until);
        }
        pthread_mutex_unlock(&pool->lock);
        if (atomic_load(&pool->stopping) || clock_monotonic_ms() < next)
            continue;
        next = clock_monotonic_ms() + STORE_LEASE_MS / 3;
        for (int i = 0; i < pool->n_workers; i++) {
            struct worker *w = &pool->workers[i];
            char event_id[256] = "";
            int64_t gen = 0;
            pthread_mutex_lock(&w->job_lock);
            if (w->job_event_id)
                snprintf(event_id, sizeof event_id, "%s", w->job_event_id);
            gen = w->job_claim_gen;
            pthread_mutex_unlock(&w->job_lock);
            if (!event_id[0])
                continue;
            int rc = store_job_renew(store, event_id, gen, clock_now_ms());
            if (rc > 0) {
                /* Only if the worker is still on that claim: the job may have
                 * finished (and its claim ended) while we were renewing. */
                pthread_mutex_lock(&w->job_lock);
                bool same = w->job_event_id && strcmp(w->job_event_id, event_id) == 0 &&
                            w->job_claim_gen == gen && !atomic_load(&w->claim_over);
                if (same)
                    atomic_store(&w->cancel_job, 1);
                pthread_mutex_unlock(&w->job_lock);
                if (same)
                    log_warn("lease of event %s was lost to another worker: abandoning it", event_id);
            } else if (rc < 0) {
                log_warn("could not renew a lease: %s", store_last_error(store));
            }
        }
    }
    store_close(store);
    return NULL;
}

void worker_pool_notify(void *arg, size_t n_new)
{
    struct worker_pool *pool = arg;
    pthread_mutex_lock(&pool->lock);
    pool->wake_seq++;
    if (n_new >= (size_t)pool->n_workers) {
        pthread_cond_broadcast(&pool->wake);
    } else {
        for (size_t i = 0; i < n_new; i++)
            pthread_cond_signal(&pool->wake);
    }
    pthread_mutex_unlock(&pool->lock);
}

/* Wakes every thread of the pool: it is stopping. */
static void wake_all(struct worker_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->wake_seq++;
    pthread_cond_broadcast(&pool->wake);
    pthread_cond_broadcast(&pool->keeper_wake);
    pthread_mutex_unlock(&pool->lock);
}

static void worker_close(struct worker *w)
{
    if (w->store)
        store_close(w->store);
    if (w->http)
        http_client_free(w->http);
    w->store = NULL;
    w->http = NULL;
}

static int pool_start(struct worker_pool *pool, const struct config *cfg, int n_workers, int drain,
                      int64_t deadline_ms, const char *request_id)
{
    memset(pool, 0, sizeof *pool);
    pool->cfg = cfg;
    snprintf(pool->request_id, sizeof pool->request_id, "%s", request_id ? request_id : "");
    pool->drain = drain;
    pool->deadline_ms = deadline_ms;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->keeper_wake, NULL);
    event_cache_init(&pool->events);
    /* Late events can only be dropped when they cannot be pushed: only then
     * does a server refuse what it could not answer in time. */
    admission_init(&pool->admission, !drain && !cfg->push_fallback, n_workers, LLM_BUDGET_MS, 0);
    pool->workers = xcalloc((size_t)n_workers, sizeof *pool->workers);
    pool->n_workers = n_workers;
    for (int i = 0; i < pool->n_workers; i++)
        pthread_mutex_init(&pool->workers[i].job_lock, NULL);
    for (int i = 0; i < pool->n_workers; i++) {
        struct worker *w = &pool->workers[i];
        char err[256];
        w->pool = pool;
        w->index = i;
        w->store = store_open(cfg->db, err, sizeof err);
        if (!w->store) {
            log_error("worker %d could not start: %s", i, err);
            worker_pool_stop(pool);
            return -1;
        }
        /* A worker's writes need an fsync only before a send (see
         * run/stage_deliver.c): a lost claim or "done" is redone safely. */
        if (store_relax_durability(w->store) != 0)
            log_warn("worker %d keeps full durability on every write: %s", i, store_last_error(w->store));
        int64_t backlog;
        if (i == 0 && store_inbox_depth(w->store, &backlog) == 0) /* a restart's backlog waits too */
            admission_init(&pool->admission, pool->admission.enabled, n_workers, LLM_BUDGET_MS, backlog);
        w->http = http_client_new();
        /* Sends to LINE are never cancelled: an aborted send would leave its
         * outcome unknown. Only the wait on the model is. */
        w->line = (struct line_api){.cfg = cfg, .http = w->http, .cancel = NULL};
        w->llm = (struct llm_client){.cfg = cfg, .http = w->http, .cancel = &w->cancel_job};
        w->env = (struct worker_env){.cfg = cfg, .store = w->store, .line = &w->line, .llm = &w->llm,
                                     .deadline_ms = pool->deadline_ms,
                                     .events = drain ? NULL : &pool->events,
                                     .claim_over = &w->claim_over};
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            log_error("worker %d could not start a thread", i);
            worker_pool_stop(pool);
            return -1;
        }
        w->started = 1;
    }
    if (pthread_create(&pool->keeper, NULL, lease_keeper_main, pool) != 0) {
        log_error("could not start the lease keeper");
        worker_pool_stop(pool);
        return -1;
    }
    pool->keeper_started = 1;
    return 0;
}

int worker_pool_start(struct worker_pool *pool, const struct config *cfg)
{
    return pool_start(pool, cfg, cfg->workers, 0, 0, NULL);
}

int worker_pool_drain(const struct config *cfg, int n_workers, int64_t deadline_ms, const char *request_id)
{
    struct worker_pool pool;
    if (pool_start(&pool, cfg, n_workers > 0 ? n_workers : 1, 1, deadline_ms, request_id) != 0)
        return -1;
    /* Workers leave on their own when nothing is claimable; wait for them,
     * then stop the lease keeper. */
    for (int i = 0; i < pool.n_workers; i++) {
        if (pool.workers[i].started) {
            pthread_join(pool.workers[i].thread, NULL);
            pool.workers[i].started = 0;
        }
    }
    worker_pool_stop(&pool);
    return 0;
}

void worker_pool_stop(struct worker_pool *pool)
{
    atomic_store(&pool->stopping, 1);
    for (int i = 0; i < pool->n_workers; i++)
        atomic_store(&pool->workers[i].cancel_job, 1);
    wake_all(pool);
    for (int i = 0; i < pool->n_workers; i++) {
        struct worker *w = &pool->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        worker_close(w);
    }
    if (pool->keeper_started)
        pthread_join(pool->keeper, NULL);
    for (int i = 0; i < pool->n_workers; i++)
        pthread_mutex_destroy(&pool->workers[i].job_lock);
    free(pool->workers);
    pool->workers = NULL;
    pool->n_workers = 0;
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->keeper_wake);
    event_cache_destroy(&pool->events);
    pthread_mutex_destroy(&pool->lock);
}
