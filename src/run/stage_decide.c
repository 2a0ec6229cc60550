/* stage_decide.c - the stages that decide what an event needs, and do what
 * needs only the store.
 *
 * decide: gathers the facts core/chat.c needs (is the quoted message one of
 * the bot's?), lets chat_decide choose the action, and counts the message
 * against the user's rate limit: a read of the user's count now
 * (store_rate_peek), the message itself counted by the finish's transaction
 * (stage_finish.c), so the count costs no write of its own and a message is
 * counted once whatever releases or crashes its event went through.
 * act: carries out the actions that need no model (unsend, edit, forget, keep
 * group context, reset; /model and /persona in stage_model.c and
 * stage_persona.c), and sets up what a reply needs: a fixed text, or the
 * model (gather and generate then run) when the daily token budget allows
 * (run/stage_budget.c). */
#include <stdlib.h>

#include "io/clock.h"
#include "obs/log.h"
#include "io/kb_chat.h"
#include "run/stage.h"

/* Allow, warn once, or stay silent; allow when the store cannot count
 * (answering beats silence when the store is sick). */
static enum rate_verdict rate_verdict_of(struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    if (cfg->rate_limit <= 0 || !ctx->ev.user_id)
        return RATE_ALLOW;
    int64_t count = 0, now = clock_now_ms();
    ctx->rate_at_ms = now;
    if (store_rate_peek(ctx->env->store, ctx->ev.user_id, now, &count) != 0) {
        log_warn("could not count the message against the rate limit: %s", store_last_error(ctx->env->store));
        return RATE_ALLOW;
    }
    return chat_rate_verdict(count + 1, cfg->rate_limit);
}

/* The facts chat_decide needs besides the event. */
static struct chat_facts decide_facts(struct job_ctx *ctx)
{
    const struct line_event *ev = &ctx->ev;
    struct chat_facts facts = {.quotes_bot_message = false};
    if (ev->quoted_message_id && ev->chat_id)
        facts.quotes_bot_message = store_bot_message_is(ctx->env->store, ev->chat_id, ev->quoted_message_id) == 1;
    return facts;
}

void stage_decide_rate_resumed(struct job_ctx *ctx)
{
    const struct line_event *ev = &ctx->ev;
    if (ctx->env->cfg->rate_limit <= 0 || !ev->user_id || deliver_adopt_target(ev))
        return;
    struct chat_facts facts = decide_facts(ctx);
    struct chat_decision d;
    chat_decide(ctx->env->cfg, ev, &facts, &d);
    if (d.rate_limited)
        ctx->rate_at_ms = clock_now_ms();
    chat_decision_free(&d);
}

enum stage_result stage_decide(struct job_ctx *ctx)
{
    const struct line_event *ev = &ctx->ev;
    /* A postback that takes over a parked answer needs no decision: deliver
     * sends that answer. */
    ctx->adopt_id = deliver_adopt_target(ev);
    if (ctx->adopt_id)
        return STAGE_NEXT;
    struct chat_facts facts = decide_facts(ctx);
    chat_decide(ctx->env->cfg, ev, &facts, &ctx->decision);
    ctx->decided = true;
    log_debug("decision: %s", ctx->decision.reason);

    if (ctx->decision.rate_limited) {
        enum rate_verdict v = rate_verdict_of(ctx);
        if (v == RATE_WARN) {
            log_info("rate limit reached: one slow-down reply");
            ctx->fixed = TEXT_SLOW_DOWN;
        } else if (v == RATE_SILENT) {
            log_info("rate limit reached: silent");
            ctx->outcome = OUTCOME_RATE_LIMITED;
            return STAGE_FINISH;
        }
    }
    return STAGE_NEXT;
}

struct context_keep {
    struct job_ctx *ctx;
    const struct turn *turn;
};

static int context_keep_write(void *arg)
{
    struct context_keep *k = arg;
    const struct job *job = k->ctx->job;
    return store_context_keep(k->ctx->env->store, job->event_id, job->claim_gen, k->ctx->ev.chat_id, k->turn,
                              k->ctx->env->cfg->group_context);
}

/* A group message not addressed to the bot: kept as context, trimmed, and the
 * job finished, in one transaction. */
static enum stage_result keep_context(struct job_ctx *ctx)
{
    char *speaker = gather_speaker_name(ctx);
    struct turn t = {.role = TURN_CONTEXT, .speaker = speaker, .user_id = ctx->ev.user_id, .text = ctx->decision.text,
                     .message_id = ctx->ev.message_id, .timestamp_ms = ctx->ev.timestamp_ms};
    int rc = worker_write_retried(context_keep_write, &(struct context_keep){.ctx = ctx, .turn = &t});
    free(speaker);
    if (rc == 0) {
        log_debug("event done: %s", job_outcome_name(OUTCOME_CONTEXT));
        return STAGE_STOP;
    }
    if (rc > 0) {
        log_warn("claim lost before the event could be marked done");
        return STAGE_STOP;
    }
    /* Context is a nicety: finish the job without it rather than hold it. */
    log_warn("could not keep group context: %s", store_last_error(ctx->env->store));
    ctx->outcome = OUTCOME_CONTEXT;
    return STAGE_FINISH;
}

enum stage_result stage_act(struct job_ctx *ctx)
{
    const struct line_event *ev = &ctx->ev;
    const struct chat_decision *d = &ctx->decision;
    struct store *store = ctx->env->store;
    if (ctx->fixed != TEXT_NONE || ctx->adopt_id) /* the slow-down reply replaces whatever was decided */
        return STAGE_NEXT;
    switch (d->action) {
    case CHAT_IGNORE:
        ctx->outcome = OUTCOME_IGNORED;
        return STAGE_FINISH;
    case CHAT_UNSEND:
        if (store_message_delete(store, ev->chat_id, ev->unsend_message_id) != 0)
            log_warn("could not delete an unsent message: %s", store_last_error(store));
        ctx->outcome = OUTCOME_UNSENT;
        return STAGE_FINISH;
    case CHAT_EDIT:
        if (store_message_update(store, ev->chat_id, ev->message_id, d->text) != 0)
            log_warn("could not update an edited message: %s", store_last_error(store));
        ctx->outcome = OUTCOME_EDITED;
        return STAGE_FINISH;
    case CHAT_FORGET: {
        if (store_forget_chat(store, ev->chat_id) != 0)
            log_error("could not delete the chat's data: %s", store_last_error(store));
        int64_t files = 0;
        if (kb_chat_forget(store, ev->chat_id, &files) != 0)
            log_error("could not delete the chat's documents: %s", store_last_error(store));
        ctx->outcome = OUTCOME_FORGOTTEN;
        return STAGE_FINISH;
    }
    case CHAT_STORE_CONTEXT:
        return keep_context(ctx);
    case CHAT_RESET:
        if (store_history_clear(store, ev->chat_id) != 0)
            log_error("could not clear history: %s", store_last_error(store));
        ctx->fixed = d->fixed;
        return STAGE_NEXT;
    case CHAT_REPLY_FIXED:
        ctx->fixed = d->fixed;
        return STAGE_NEXT;
    case CHAT_MODEL:
        return stage_act_model(ctx);
    case CHAT_PERSONA:
        return stage_act_persona(ctx);
    case CHAT_USAGE:
        return stage_act_usage(ctx);
    case CHAT_MEMORY:
        return stage_act_memory(ctx);
    case CHAT_FILE:
        return stage_act_file(ctx);
    case CHAT_FILES:
        return stage_act_files(ctx);
    case CHAT_ANSWER: {
        if (generate_too_late(ctx)) {
            ctx->outcome = OUTCOME_EXPIRED; /* counted and reported by the finish stage */
            return STAGE_FINISH;
        }
        enum stage_result r;
        if (stage_budget_refuses(ctx, &r)) /* the day's notice, or silence */
            return r;
        ctx->use_model = true;
        return STAGE_NEXT;
    }
    }
    ctx->outcome = OUTCOME_IGNORED;
    return STAGE_FINISH;
}
