/* admission.h - server mode: refuse the webhooks the bot could not answer in time.
 *
 * With push fallback off, an answer can only go out as a reply, and a reply
 * token lives about a minute. Under sustained overload the inbox grows until
 * new events would be claimed too late: acknowledging them would lose them
 * silently ("expired"). Admission estimates how long an event arriving now
 * would wait (Little's law: events queued ahead times the mean job time,
 * shared by the workers; nothing is refused before a job has been timed) and refuses the webhook with 503 when that wait plus
 * one job passes the answer budget, so that LINE redelivers it later.
 *
 * The counts are this process's: events its ingest committed and its workers
 * have not claimed yet, and the durations of its own jobs. On a store shared
 * by several instances the estimate is conservative (another instance's
 * claims are not seen). */
#ifndef LINEBOT_ADMISSION_H
#define LINEBOT_ADMISSION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct admission {
    bool enabled;             /* push fallback off: late events cannot be pushed */
    int workers;
    int64_t budget_ms;        /* an event must be answered this long after it arrived */
    atomic_llong queued;      /* committed, not yet claimed here (never below 0) */
    atomic_llong mean_job_us; /* moving average of a job's duration */
    atomic_llong jobs;        /* jobs finished (the first ones weigh more) */
};

void admission_init(struct admission *a, bool enabled, int workers, int64_t budget_ms, int64_t backlog);

void admission_added(struct admission *a, size_t n);   /* ingest committed n new events */
void admission_claimed(struct admission *a);           /* a worker claimed an event */
void admission_job_done(struct admission *a, int64_t duration_ms);

/* How long an event arriving now would wait before a worker takes it (ms). */
int64_t admission_wait_ms(struct admission *a);

/* True when a webhook with `n_events` events needing work must be refused:
 * the last of them would not be answered within the budget. Never when
 * admission is disabled, no job has finished yet, or `n_events` is 0. */
bool admission_refuse(struct admission *a, size_t n_events);

#endif
