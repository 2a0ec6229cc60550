/* stage_finish.c - the last stage: remember and finish, in one transaction.
 *
 * One store_job_finish records how the job ended (ctx->outcome), appends the
 * delivered exchange to the chat's history (the user's turn and the bot's,
 * only when the model answered), remembers the ids of the messages LINE
 * accepted (so a reply quoting one counts as addressed to the bot), keeps
 * which model answered and its token usage, and charges the tokens to the
 * daily budgets (run/stage_budget.c), and counts the message against the
 * user's rate limit when decide said it counts (stage_decide.c). Then the event is counted once in
 * metrics: answered, or failed (an apology, an expired or undeliverable
 * answer).
 *
 * An event that expired unanswered (its reply token too old, push fallback
 * off) means the bot is behind: it is also counted in
 * linebot_events_expired_total, and the first one in each minute is logged as
 * an error, the others as warnings, so that overload is seen without a flood. */
#include <stdatomic.h>
#include <stdlib.h>

#include "core/alloc.h"

#include "io/clock.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "run/stage.h"

struct finish_write {
    struct job_ctx *ctx;
    const struct job_finish *finish;
};

static int finish_write(void *arg)
{
    struct finish_write *f = arg;
    const struct job *job = f->ctx->job;
    return store_job_finish(f->ctx->env->store, job->event_id, job->claim_gen, f->finish);
}

int finish_job(struct job_ctx *ctx, const struct job_finish *finish)
{
    /* Before the write: a claim lost by then is this write's to report. */
    worker_claim_over(ctx->env);
    int rc = worker_write_retried(finish_write, &(struct finish_write){.ctx = ctx, .finish = finish});
    if (rc < 0)
        log_error("could not mark the event done: %s", store_last_error(ctx->env->store));
    else if (rc > 0)
        log_warn("claim lost before the event could be marked done");
    else
        log_debug("event done: %s", job_outcome_name(finish->outcome));
    return rc;
}

/* The minute (monotonic) of the last expired event logged as an error. */
static atomic_llong expired_error_minute = -1;

static void report_expired(void)
{
    metrics_expired();
    long long minute = (long long)(clock_monotonic_ms() / 60000);
    long long last = atomic_load(&expired_error_minute);
    if (last != minute && atomic_compare_exchange_strong(&expired_error_minute, &last, minute))
        log_error("events are expiring unanswered: the bot is behind (reply token too old, push fallback off); "
                  "see linebot_events_expired_total");
    else
        log_warn("event expired unanswered: reply token too old and push fallback off");
}

static void count(enum job_outcome outcome)
{
    switch (outcome) {
    case OUTCOME_ANSWERED:
        metrics_answered();
        break;
    case OUTCOME_EXPIRED:
        report_expired();
        metrics_failed();
        break;
    case OUTCOME_APOLOGIZED: /* delivered, but the event was not answered */
    case OUTCOME_FAILED:
        metrics_failed();
        break;
    default:
        break;
    }
}

enum stage_result stage_finish(struct job_ctx *ctx)
{
    const struct answer_record *rec = &ctx->record;
    const struct line_event *ev = ctx->ev_parsed ? &ctx->ev : NULL;
    int64_t now = clock_now_ms();
    if (ctx->resumed && ev)
        stage_decide_rate_resumed(ctx);
    struct job_finish finish = {
        .outcome = ctx->outcome,
        .sent_ids = (const char *const *)ctx->sent.ids,
        .n_sent = ctx->sent.n,
        .sent_at_ms = now,
        .usage = {.prompt_tokens = -1, .completion_tokens = -1, .total_tokens = -1},
        .rate_user = ev && ctx->rate_at_ms > 0 ? ev->user_id : NULL,
        .rate_at_ms = ctx->rate_at_ms,
    };
    /* The other images of an imageSet answered with this one come first,
     * as "[image]" turns: their own jobs then see them answered. */
    struct turn *turns = xcalloc(ctx->n_set_ids + 2, sizeof *turns);
    if (ctx->outcome == OUTCOME_ANSWERED && ev && rec->question && rec->answer) {
        size_t n = 0;
        for (size_t i = 0; i < ctx->n_set_ids; i++)
            turns[n++] = (struct turn){.role = TURN_USER, .speaker = rec->speaker, .user_id = ctx->ev.user_id,
                                       .text = (char *)FETCH_IMAGE_MARK,
                                       .message_id = ctx->set_ids[i], .timestamp_ms = ev->timestamp_ms};
        turns[n++] = (struct turn){.role = TURN_USER, .speaker = rec->speaker, .user_id = ctx->ev.user_id,
                                   .text = rec->question,
                                   .message_id = ev->message_id, .timestamp_ms = ev->timestamp_ms};
        turns[n++] = (struct turn){.role = TURN_ASSISTANT, .text = rec->answer,
                                   .message_id = ctx->sent.n ? ctx->sent.ids[0] : NULL, .timestamp_ms = now};
        finish.turns = turns;
        finish.n_turns = n;
    }
    if (ctx->outcome == OUTCOME_ANSWERED && rec->model) {
        finish.model = rec->model;
        finish.usage = rec->usage;
    }
    /* What the model call spent, whatever became of the answer: charged to
     * the event's user and chat (run/stage_budget.c). */
    struct store_charge charge;
    if (rec->charge.model && ev) {
        charge = (struct store_charge){.user_id = ev->user_id ? ev->user_id : "",
                                       .chat_id = ev->chat_id ? ev->chat_id : "",
                                       .model = rec->charge.model, .day = rec->charge.day,
                                       .prompt_tokens = rec->charge.prompt_tokens,
                                       .completion_tokens = rec->charge.completion_tokens,
                                       .estimated = rec->charge.estimated};
        finish.charge = &charge;
    }
    int rc = finish_job(ctx, &finish);
    bool remembered = rc == 0 && finish.n_turns > 0;
    if (rc < 0 && (finish.n_turns > 0 || finish.n_sent > 0)) {
        /* The answer is out: a store that keeps refusing what it should
         * remember must not keep the event from being done. */
        log_warn("finishing the event without remembering the exchange");
        struct job_finish bare = {.outcome = finish.outcome, .model = finish.model, .usage = finish.usage,
                                  .charge = finish.charge, .rate_user = finish.rate_user,
                                  .rate_at_ms = finish.rate_at_ms};
        rc = finish_job(ctx, &bare);
    }
    /* Counted once, by the worker whose finish was stored: a lost claim is
     * counted by its new holder, and a finish that failed is done (and
     * counted) again when the job is claimed after its lease. */
    if (rc == 0) {
        count(ctx->outcome);
        if (finish.charge)
            stage_budget_report(ctx);
        if (remembered) { /* the exchange is in the history now */
            memory_after_finish(ctx);
            summary_after_finish(ctx, finish.turns, finish.n_turns);
        }
    }
    free(turns);
    return STAGE_STOP;
}
