/* stage_budget.c - daily token budgets in the worker (issue 11): the check
 * before a model call, /usage, the charge of a call, and its report.
 *
 * Every model call is charged to the event that caused it: the tokens the
 * provider reported (or an estimate, marked as one, when it reported none),
 * the catalogue model, the user, the chat and the day in LINEBOT_TIMEZONE.
 * The charge travels in the answer record (run/answer_record.h) and is
 * written by the finish stage in the same transaction that finishes the job,
 * under the job's event id: a crash, a release or a retry never charges an
 * event twice, and an answer resumed after a crash is charged once.
 *
 * Before a call, the day's totals are read (LINEBOT_USER_DAILY_TOKENS: the
 * user in every chat; LINEBOT_CHAT_DAILY_TOKENS: a group or room). At or over
 * a limit the call is refused: the first refused event of the day gives one
 * notice that says when the day ends, with a cheaper model's button when the
 * catalogue has one (store_budget_notice picks that event, on every
 * instance), and every later one is finished in silence until the reset.
 * Commands never reach this check: they work over the limit. When the store
 * cannot say, the call goes: an answer beats silence, as with the rate limit.
 *
 * Background calls (memory extraction, summaries) are internal jobs: their
 * handler charges the user who caused them through the same store_charge. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/budget.h"
#include "core/postback.h"
#include "io/clock.h"
#include "io/timezone.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "run/stage.h"

static enum lang lang_of(struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    return cfg->lang == LANG_AUTO ? gather_lang(ctx) : cfg->lang;
}

/* "00:00 (Asia/Tokyo)": when the day of `now_ms` ends, in the bot's zone. */
static char *reset_text(int64_t now_ms)
{
    return budget_clock_text(budget_reset_ms(now_ms, timezone_offset_ms), timezone_offset_ms, timezone_name());
}

/* The notice, and the cheaper model's button when there is one. */
static void set_notice(struct job_ctx *ctx, enum text_id id, int64_t now_ms)
{
    enum lang lang = lang_of(ctx);
    char *when = reset_text(now_ms);
    char *notice = texts_fill(texts_builtin(id, lang), when);
    free(when);
    const struct model_entry *cheaper = budget_cheaper_model(ctx->env->cfg->models, stage_chat_model(ctx));
    char data[QUICK_REPLY_DATA_MAX + 1];
    if (cheaper && postback_format(POSTBACK_MODEL, cheaper->name, data, sizeof data) == 0) {
        char *shown = xasprintf("/model %s", cheaper->name);
        char *offer = texts_fill(texts_builtin(TEXT_BUDGET_CHEAPER, lang), cheaper->name);
        char *both = xasprintf("%s\n%s", notice, offer);
        quick_reply_free(&ctx->quick_reply);
        (void)quick_reply_add(&ctx->quick_reply, models_label(cheaper), data, shown);
        free(notice);
        free(offer);
        free(shown);
        notice = both;
    }
    free(ctx->reply_text);
    ctx->reply_text = notice;
}

bool stage_budget_refuses(struct job_ctx *ctx, enum stage_result *result)
{
    const struct config *cfg = ctx->env->cfg;
    const struct line_event *ev = &ctx->ev;
    struct store *store = ctx->env->store;
    if (cfg->user_daily_tokens <= 0 && cfg->chat_daily_tokens <= 0)
        return false;
    int64_t now = clock_now_ms();
    int64_t day = budget_day(now, timezone_offset_ms);
    int64_t by_user = 0, in_chat = 0;
    if (store_usage_day(store, ev->user_id ? ev->user_id : "", ev->chat_id ? ev->chat_id : "", day, &by_user,
                        &in_chat) != 0) {
        log_warn("could not read today's token usage, answering anyway: %s", store_last_error(store));
        return false;
    }
    const char *subject = NULL;
    enum text_id text = TEXT_BUDGET_USER;
    if (ev->user_id && budget_over(by_user, cfg->user_daily_tokens)) {
        subject = ev->user_id;
    } else if (ev->chat_type != CHAT_USER && ev->chat_id && budget_over(in_chat, cfg->chat_daily_tokens)) {
        subject = ev->chat_id;
        text = TEXT_BUDGET_CHAT;
    }
    if (!subject)
        return false;
    const char *whose = text == TEXT_BUDGET_USER ? "the user's" : "the chat's";
    int mine = store_budget_notice(store, subject, day, ctx->job->event_id, now);
    if (mine < 0)
        log_warn("could not note the budget notice, staying silent: %s", store_last_error(store));
    if (mine != 1) {
        log_info("%s daily token budget is spent: silent until it resets", whose);
        ctx->outcome = OUTCOME_OVER_BUDGET;
        *result = STAGE_FINISH;
        return true;
    }
    log_info("%s daily token budget is spent (%" PRId64 " user, %" PRId64 " chat tokens today): one notice",
             whose, by_user, in_chat);
    set_notice(ctx, text, now);
    *result = STAGE_NEXT;
    return true;
}

bool stage_budget_background_allowed(struct job_ctx *ctx, const char *user_id, const char *chat_id)
{
    const struct config *cfg = ctx->env->cfg;
    if (cfg->user_daily_tokens <= 0 && cfg->chat_daily_tokens <= 0)
        return true;
    int64_t by_user = 0, in_chat = 0;
    if (store_usage_day(ctx->env->store, user_id, chat_id, budget_day(clock_now_ms(), timezone_offset_ms), &by_user,
                        &in_chat) != 0) {
        log_warn("could not read today's token usage, making the call: %s", store_last_error(ctx->env->store));
        return true;
    }
    bool group = chat_id[0] == 'C' || chat_id[0] == 'R';
    if ((user_id[0] && budget_over(by_user, cfg->user_daily_tokens)) ||
        (group && budget_over(in_chat, cfg->chat_daily_tokens))) {
        log_info("the daily token budget is spent: no background model call until it resets");
        return false;
    }
    return true;
}

void stage_budget_background_charge(const char *user_id, const char *chat_id, const struct model_entry *model,
                                    const struct llm_message *msgs, size_t n, const struct llm_answer *a,
                                    struct store_charge *out)
{
    *out = (struct store_charge){.user_id = user_id, .chat_id = chat_id, .model = model->name,
                                 .day = budget_day(clock_now_ms(), timezone_offset_ms),
                                 .prompt_tokens = a->prompt_tokens, .completion_tokens = a->completion_tokens};
    if (out->prompt_tokens < 0) { /* no usage reported: estimates, as for answers */
        out->prompt_tokens = 0;
        for (size_t i = 0; i < n; i++)
            out->prompt_tokens += budget_estimate_tokens(msgs[i].content);
        out->estimated = true;
    }
    if (out->completion_tokens < 0) {
        out->completion_tokens = budget_estimate_tokens(a->text);
        out->estimated = true;
    }
}

void stage_budget_background_report(const struct config *cfg, const struct store_charge *c)
{
    const struct model_entry *m = models_find(cfg->models, c->model);
    bool priced = m && (m->input_price >= 0 || m->output_price >= 0);
    metrics_llm_tokens(c->model, c->prompt_tokens, c->completion_tokens,
                       priced ? budget_cost(m, c->prompt_tokens, c->completion_tokens) : -1);
}

enum stage_result stage_act_usage(struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    const struct line_event *ev = &ctx->ev;
    int64_t now = clock_now_ms();
    int64_t by_user = 0, in_chat = 0;
    if (ev->user_id && store_usage_day(ctx->env->store, ev->user_id, ev->chat_id ? ev->chat_id : "",
                                       budget_day(now, timezone_offset_ms), &by_user, &in_chat) != 0) {
        log_error("could not read today's token usage: %s", store_last_error(ctx->env->store));
        ctx->fixed = TEXT_APOLOGY;
        return STAGE_NEXT;
    }
    enum lang lang = lang_of(ctx);
    char used[32];
    snprintf(used, sizeof used, "%" PRId64, by_user);
    if (cfg->user_daily_tokens <= 0) {
        ctx->reply_text = texts_fill(texts_builtin(TEXT_USAGE_UNLIMITED, lang), used);
        return STAGE_NEXT;
    }
    char limit[32];
    snprintf(limit, sizeof limit, "%d", cfg->user_daily_tokens);
    char *when = reset_text(now);
    char *a = texts_fill(texts_builtin(TEXT_USAGE, lang), used);
    char *b = texts_fill(a, limit);
    ctx->reply_text = texts_fill(b, when);
    free(a);
    free(b);
    free(when);
    return STAGE_NEXT;
}

void stage_budget_charge(struct job_ctx *ctx, const struct model_entry *model, const struct prompt *prompt)
{
    struct answer_charge *c = &ctx->record.charge;
    struct answer_charge before = *c; /* a voice message's transcription (stage_transcribe.c), else none */
    *c = (struct answer_charge){
        .model = xstrdup(model->name),
        .day = budget_day(clock_now_ms(), timezone_offset_ms),
        .prompt_tokens = ctx->llm.prompt_tokens,
        .completion_tokens = ctx->llm.completion_tokens,
    };
    /* The provider said nothing of usage (some OpenAI-compatible servers
     * leave it out): charge an estimate from the text sent and received
     * (budget_estimate_tokens: a quarter of the ASCII characters, one per
     * other character), marked as one. */
    if (c->prompt_tokens < 0) {
        c->prompt_tokens = 0;
        for (size_t i = 0; i < prompt->n; i++)
            c->prompt_tokens += budget_estimate_tokens(prompt->messages[i].content);
        c->estimated = true;
    }
    if (c->completion_tokens < 0) {
        c->completion_tokens = budget_estimate_tokens(ctx->llm.text);
        c->estimated = true;
    }
    if (before.model) {
        /* One charge per event (the store's key): the transcription's tokens
         * ride on the answer's, under the answering model. */
        c->prompt_tokens += before.prompt_tokens;
        c->completion_tokens += before.completion_tokens;
        c->estimated = c->estimated || before.estimated;
        free(before.model);
    }
}

void stage_budget_report(const struct job_ctx *ctx)
{
    const struct answer_charge *c = &ctx->record.charge;
    if (!c->model)
        return;
    const struct model_entry *m = models_find(ctx->env->cfg->models, c->model);
    bool priced = m && (m->input_price >= 0 || m->output_price >= 0);
    double cost = priced ? budget_cost(m, c->prompt_tokens, c->completion_tokens) : -1;
    metrics_llm_tokens(c->model, c->prompt_tokens, c->completion_tokens, cost);
    /* One line per event, also where there is no /metrics (Function Compute's logs). */
    if (priced)
        log_info("model usage: %s, %" PRId64 " prompt + %" PRId64 " completion tokens%s, cost %.6f", c->model,
                 c->prompt_tokens, c->completion_tokens, c->estimated ? " (estimated)" : "", cost);
    else
        log_info("model usage: %s, %" PRId64 " prompt + %" PRId64 " completion tokens%s", c->model,
                 c->prompt_tokens, c->completion_tokens, c->estimated ? " (estimated)" : "");
}
