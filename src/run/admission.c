/* admission.c - the wait estimate behind an overloaded server's 503s (see
 * admission.h). Lock-free: ingest reads it on every webhook while the
 * workers update it. */
#include "run/admission.h"

/* Weight of the newest job in the moving average, as 1/N: the last few
 * dozen jobs matter, so that a model that slows down is seen within seconds.
 * The first jobs are averaged plainly. Nothing is refused before a job has
 * been timed: a guess would refuse a start-up burst that a fast model
 * answers at once. */
#define MEAN_WEIGHT_INV 16

void admission_init(struct admission *a, bool enabled, int workers, int64_t budget_ms, int64_t backlog)
{
    a->enabled = enabled;
    a->workers = workers > 0 ? workers : 1;
    a->budget_ms = budget_ms;
    atomic_init(&a->queued, backlog > 0 ? backlog : 0);
    atomic_init(&a->mean_job_us, 0);
    atomic_init(&a->jobs, 0);
}

void admission_added(struct admission *a, size_t n)
{
    atomic_fetch_add(&a->queued, (long long)n);
}

void admission_claimed(struct admission *a)
{
    /* Events another instance ingested are claimed here too: never below 0. */
    long long q = atomic_load(&a->queued);
    while (q > 0 && !atomic_compare_exchange_weak(&a->queued, &q, q - 1))
        ;
}

void admission_job_done(struct admission *a, int64_t duration_ms)
{
    long long sample = (long long)(duration_ms < 0 ? 0 : duration_ms) * 1000;
    long long jobs = atomic_fetch_add(&a->jobs, 1) + 1;
    long long weight = jobs < MEAN_WEIGHT_INV ? jobs : MEAN_WEIGHT_INV;
    long long mean = atomic_load(&a->mean_job_us);
    long long next;
    do
        next = mean + (sample - mean) / weight;
    while (!atomic_compare_exchange_weak(&a->mean_job_us, &mean, next));
}

static int64_t wait_for(struct admission *a, long long ahead)
{
    long long mean_us = atomic_load(&a->mean_job_us);
    return (int64_t)(ahead * mean_us / a->workers / 1000);
}

int64_t admission_wait_ms(struct admission *a)
{
    return wait_for(a, atomic_load(&a->queued));
}

bool admission_refuse(struct admission *a, size_t n_events)
{
    if (!a->enabled || n_events == 0 || atomic_load(&a->jobs) == 0)
        return false;
    /* The last event of this webhook waits for everything queued and for the
     * ones before it in the webhook, then needs one job of its own. */
    long long ahead = atomic_load(&a->queued) + (long long)n_events - 1;
    int64_t done_after = wait_for(a, ahead) + atomic_load(&a->mean_job_us) / 1000;
    return done_after > a->budget_ms;
}
