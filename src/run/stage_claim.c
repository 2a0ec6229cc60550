/* stage_claim.c - the first stage: read the job the pool claimed.
 *
 * The pool (run/pool.c) claims a job with store_claim_next; this stage turns
 * its stored payload back into an event and sets the log context. A job that
 * a crash left in `sending` skips every other stage: its recorded answer is
 * resent (run/stage_deliver.c) and finished.
 *
 * The event is timed by the inbox row's timestamp, not by the one in its
 * payload: ingest stored the sender's timestamp only when it was plausible,
 * and the arrival time otherwise (run/ingest.c). */
#include <string.h>

#include "obs/log.h"
#include "run/failpoint.h"
#include "run/stage.h"

enum stage_result stage_claim(struct job_ctx *ctx)
{
    const struct job *job = ctx->job;
    /* The event as ingest parsed it, when this process ingested it just now
     * (run/event_cache.c); else the stored payload, parsed. */
    bool taken = ctx->env->events && event_cache_take(ctx->env->events, job->event_id, &ctx->ev);
    if (!taken && (!job->payload || line_event_parse(job->payload, strlen(job->payload), &ctx->ev) != 0)) {
        log_set_event(job->event_id, NULL);
        log_error("unreadable event in the inbox; dropping it");
        ctx->outcome = OUTCOME_UNREADABLE;
        return STAGE_FINISH;
    }
    ctx->ev_parsed = true;
    ctx->ev.timestamp_ms = job->timestamp_ms;
    log_set_event(ctx->ev.event_id, chat_type_name(ctx->ev.chat_type));
    failpoint(ctx->env->cfg, "worker_after_claim");

    if (job->state == JOB_SENDING) {
        ctx->resumed = true;
        enum stage_result r = stage_deliver_resume(ctx);
        return r == STAGE_NEXT ? STAGE_FINISH : r;
    }
    return STAGE_NEXT;
}
