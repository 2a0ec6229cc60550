/* stage_summary.c - long conversations in the worker (issue 11): the
 * rolling summary of a chat, folded by a background model call and sent to
 * the model as context.
 *
 * After an answer is remembered, the chat's turns after its summary are
 * counted as the prompt counts them (core/summary.h); when they no longer
 * fit LINEBOT_HISTORY_TURNS or LINEBOT_HISTORY_CHARS, a durable internal job
 * ("summary", keyed by the chat and the newest turn it folds, so it is
 * queued once) merges the oldest of them into the summary. The job writes
 * the summary with its own finish in one transaction, so a crash leaves it
 * either to be done again or done; a /reset in between wins (the summary of
 * turns that are gone is not written). A model that fails or answers nothing
 * writes nothing, and no answer ever waits for it. The model is the one that
 * extracts facts (LINEBOT_MEMORY_MODEL, else the cheapest). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/summary.h"
#include "io/clock.h"
#include "obs/log.h"
#include "run/stage.h"

#define SUMMARY_KIND "summary"
#define SUMMARY_CALL_MS 60000 /* a fold's model call ends within this */

char *summary_gather_note(struct job_ctx *ctx)
{
    struct store *store = ctx->env->store;
    char *summary = NULL;
    int64_t upto = 0;
    int rc = store_summary_get(store, ctx->ev.chat_id, &summary, &upto);
    if (rc < 0)
        log_warn("summary: answering without the chat's summary: %s", store_last_error(store));
    char *note = rc == 1 && summary[0] ? summary_prompt_note(summary) : NULL;
    free(summary);
    return note;
}

/* How many of the chat's turns after its summary to fold now; the turns and
 * their seqs are handed out when it is more than 0. -1: the store failed. */
static long fold_due(const struct config *cfg, struct store *store, const char *chat_id, struct turn **turns,
                     int64_t **seqs, size_t *n)
{
    if (store_summary_turns(store, chat_id, SUMMARY_TURNS_MAX, turns, seqs, n) != 0)
        return -1;
    size_t fold = summary_fold_count(*turns, *n, cfg->history_turns, cfg->history_chars);
    if (fold == 0) {
        turns_free(*turns, *n);
        free(*seqs);
        *turns = NULL;
        *seqs = NULL;
        *n = 0;
    }
    return (long)fold;
}

/* True when gather's history shows that no fold is due: gather asked for
 * every turn after the summary up to twice LINEBOT_HISTORY_TURNS and got
 * fewer, so it had them all, and with the turns this job added they still
 * fit both limits. One job at a time runs per chat, and a fold in between
 * only removes turns, so the store would say no more. Saves reading up to
 * SUMMARY_TURNS_MAX turns after every ordinary answer. */
static bool fold_surely_not_due(const struct job_ctx *ctx, const struct turn *added, size_t n_added)
{
    const struct config *cfg = ctx->env->cfg;
    if (!ctx->history_loaded)
        return false;
    struct turn *all = xcalloc(ctx->n_history + n_added + 1, sizeof *all);
    size_t n = 0;
    for (size_t i = 0; i < ctx->n_history; i++)
        if (ctx->history[i].role != TURN_CONTEXT) /* not counted by store_summary_turns */
            all[n++] = ctx->history[i];
    bool complete = n < (size_t)cfg->history_turns * 2;
    for (size_t i = 0; i < n_added; i++)
        all[n++] = added[i];
    bool not_due = complete && summary_fold_count(all, n, cfg->history_turns, cfg->history_chars) == 0;
    free(all); /* shallow copies: the texts belong to ctx and the caller */
    return not_due;
}

void summary_after_finish(struct job_ctx *ctx, const struct turn *added, size_t n_added)
{
    const struct config *cfg = ctx->env->cfg;
    struct store *store = ctx->env->store;
    if (!cfg->summary || !ctx->ev_parsed || !ctx->ev.chat_id || cfg->history_turns <= 0 || cfg->history_chars <= 0)
        return;
    if (fold_surely_not_due(ctx, added, n_added))
        return;
    struct turn *turns = NULL;
    int64_t *seqs = NULL;
    size_t n = 0;
    long fold = fold_due(cfg, store, ctx->ev.chat_id, &turns, &seqs, &n);
    if (fold < 0)
        log_warn("summary: could not count the chat's turns: %s", store_last_error(store));
    if (fold > 0) {
        char *key = xasprintf("%s:%" PRId64, ctx->ev.chat_id, seqs[fold - 1]);
        json_t *payload = json_pack("{s:s}", "chat", ctx->ev.chat_id);
        char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
        json_decref(payload);
        int rc = text ? store_task_add(store, SUMMARY_KIND, key, ctx->ev.chat_id, text, clock_now_ms()) : -1;
        if (rc < 0)
            log_warn("summary: could not queue a fold: %s", text ? store_last_error(store) : "chat id not UTF-8");
        else if (rc == 1)
            log_debug("summary: fold of %ld turn(s) queued", fold);
        free(text);
        free(key);
    }
    turns_free(turns, n);
    free(seqs);
}

struct fold_write {
    struct job_ctx *ctx;
    const char *chat_id;
    const char *summary;
    int64_t upto_seq;
    const struct job_finish *finish;
};

static int fold_write(void *arg)
{
    struct fold_write *f = arg;
    const struct job *job = f->ctx->job;
    return store_summary_job_finish(f->ctx->env->store, job->event_id, job->claim_gen, f->chat_id, f->summary,
                                    f->upto_seq, f->finish);
}

/* The model call that merges `turns` into the summary `old` (may be NULL). */
static enum stage_result fold(struct job_ctx *ctx, const char *chat_id, const char *old, const struct turn *turns,
                              size_t n, int64_t upto_seq)
{
    const struct config *cfg = ctx->env->cfg;
    char *input = summary_input(old, turns, n);
    struct llm_message msgs[2] = {{.role = "system", .content = summary_prompt}, {.role = "user", .content = input}};
    const struct model_entry *model = memory_call_model(cfg);
    /* A 1:1 chat's summary counts against its user; a group's against the group. */
    const char *user_id = chat_id[0] == 'U' ? chat_id : "";
    if (!stage_budget_background_allowed(ctx, user_id, chat_id)) {
        free(input);
        ctx->outcome = OUTCOME_OVER_BUDGET;
        return STAGE_FINISH;
    }
    struct llm_target target = {.provider = model->provider, .base_url = model->base_url,
                                .api_key = model->api_key, .model = model->model};
    int64_t deadline = stage_call_deadline(ctx, SUMMARY_CALL_MS);
    struct llm_answer a = {.prompt_tokens = -1, .completion_tokens = -1, .total_tokens = -1};
    char err[512];
    log_debug("summary: folding %zu turn(s) with %s", n, model->name);
    enum llm_result lr = llm_complete_to(ctx->env->llm, &target, msgs, 2, deadline, &a, err, sizeof err);
    free(input);
    if (lr == LLM_CANCELLED) {
        llm_answer_free(&a);
        log_info("shutting down: giving the fold back to the inbox");
        return STAGE_RELEASE;
    }
    char *summary = lr == LLM_OK ? summary_clean(a.text) : NULL;
    struct job_finish finish = {.outcome = summary ? OUTCOME_ANSWERED : OUTCOME_FAILED,
                                .model = a.model ? a.model : model->name,
                                .usage = {.prompt_tokens = a.prompt_tokens,
                                          .completion_tokens = a.completion_tokens,
                                          .total_tokens = a.total_tokens}};
    struct store_charge charge;
    if (lr == LLM_OK) { /* the call spent tokens, whatever it answered */
        stage_budget_background_charge(user_id, chat_id, model, msgs, 2, &a, &charge);
        finish.charge = &charge;
    }
    if (!summary) {
        if (lr == LLM_OK)
            log_warn("summary: the model's summary is empty; nothing written");
        else
            log_warn("summary: the model failed; nothing written: %s", err);
        if (lr != LLM_OK)
            finish.model = NULL;
        if (finish_job(ctx, &finish) == 0 && finish.charge)
            stage_budget_background_report(ctx->env->cfg, finish.charge);
        llm_answer_free(&a);
        return STAGE_STOP;
    }
    struct fold_write w = {.ctx = ctx, .chat_id = chat_id, .summary = summary, .upto_seq = upto_seq,
                           .finish = &finish};
    int rc = worker_write_retried(fold_write, &w);
    if (rc < 0)
        log_error("summary: could not write the summary: %s", store_last_error(ctx->env->store));
    else if (rc > 0)
        log_warn("summary: claim lost before the summary could be written");
    else {
        log_info("summary: %zu turn(s) folded into the chat's summary", n);
        stage_budget_background_report(ctx->env->cfg, &charge);
    }
    free(summary);
    llm_answer_free(&a);
    return STAGE_STOP;
}

enum stage_result summary_run_job(struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    struct store *store = ctx->env->store;
    json_t *payload = ctx->job->payload ? json_loads(ctx->job->payload, 0, NULL) : NULL;
    const char *chat_id = json_string_value(json_object_get(payload, "chat"));
    if (!chat_id) {
        log_error("summary: unreadable fold job; dropping it");
        json_decref(payload);
        ctx->outcome = OUTCOME_UNREADABLE;
        return STAGE_FINISH;
    }
    ctx->outcome = OUTCOME_IGNORED;
    enum stage_result r = STAGE_FINISH;
    char *old = NULL;
    int64_t old_upto = 0;
    struct turn *turns = NULL;
    int64_t *seqs = NULL;
    size_t n = 0;
    long count = -1;
    if (store_summary_get(store, chat_id, &old, &old_upto) < 0 ||
        (count = fold_due(cfg, store, chat_id, &turns, &seqs, &n)) < 0) {
        log_warn("summary: fold dropped, the store failed: %s", store_last_error(store));
        ctx->outcome = OUTCOME_FAILED;
    } else if (count == 0) {
        log_debug("summary: nothing to fold (folded already, or reset)");
    } else {
        r = fold(ctx, chat_id, old, turns, (size_t)count, seqs[count - 1]);
    }
    free(old);
    turns_free(turns, n);
    free(seqs);
    json_decref(payload);
    return r;
}
