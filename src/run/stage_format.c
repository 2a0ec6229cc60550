/* stage_format.c - the answer as LINE texts, and the record of it.
 *
 * The model's Markdown becomes plain text split to LINE's limits
 * (core/format.c); an answer that cannot be shown becomes the apology. A
 * fixed reply (help, greeting, slow down) is split as it is. The result is
 * ctx->record: the parts, the outcome their delivery means (answered, or
 * apologized when the model failed), the exchange to remember and the model's
 * name and usage (run/answer_record.h). */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/format.h"
#include "obs/log.h"
#include "run/stage.h"

/* The parts joined by newlines: what the user saw. Never NULL. */
static char *joined(const struct text_parts *parts)
{
    struct buf seen;
    buf_init(&seen, SIZE_MAX); /* the parts are already within LINE's limits */
    for (size_t i = 0; i < parts->n; i++) {
        int rc = buf_addf(&seen, "%s%s", i ? "\n" : "", parts->parts[i]);
        assert(rc == 0); /* there is no cap to exceed */
        (void)rc;
    }
    return buf_take(&seen, NULL);
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static enum stage_result format_fixed(struct job_ctx *ctx, const char *text)
{
    struct answer_record *rec = &ctx->record;
    format_split(text, strlen(text), LINE_TEXT_MAX_UTF16, LINE_MAX_MESSAGES, "\n(truncated)", &rec->parts);
    quick_reply_copy(&rec->quick_reply, &ctx->quick_reply);
    rec->outcome = OUTCOME_ANSWERED;
    return STAGE_NEXT;
}

enum stage_result stage_format(struct job_ctx *ctx)
{
    if (ctx->adopt_id) /* the answer was formatted when it was parked */
        return STAGE_NEXT;
    if (!ctx->use_model)
        return format_fixed(ctx, ctx->fixed_text ? ctx->fixed_text : "");
    const struct config *cfg = ctx->env->cfg;
    struct answer_record *rec = &ctx->record;
    bool answered = ctx->model_answered;
    const char *shown = answered ? ctx->llm.text : cfg->error_text;
    format_answer(shown, strlen(shown), &rec->parts);
    if (rec->parts.n == 0) { /* nothing to show, e.g. the model's Markdown was all whitespace */
        text_parts_free(&rec->parts);
        shown = cfg->error_text;
        format_split(shown, strlen(shown), LINE_TEXT_MAX_UTF16, LINE_MAX_MESSAGES, "", &rec->parts);
        answered = false;
    }
    rec->outcome = answered ? OUTCOME_ANSWERED : OUTCOME_APOLOGIZED;
    if (answered) {
        /* Remember what the user saw, not the raw Markdown. */
        rec->question = dup_or_null(ctx->decision.text);
        rec->answer = joined(&rec->parts);
        rec->speaker = dup_or_null(ctx->speaker);
        rec->model = dup_or_null(ctx->llm.model);
        rec->usage = (struct llm_usage){.prompt_tokens = ctx->llm.prompt_tokens,
                                        .completion_tokens = ctx->llm.completion_tokens,
                                        .total_tokens = ctx->llm.total_tokens};
    }
    log_debug("answer: %zu message(s); model %s", rec->parts.n, answered ? "answered" : "failed");
    char err[512];
    /* Before the answer: an animation started after it would linger. */
    if (line_loading_end(ctx->env->line, err, sizeof err) != LINE_OK)
        log_warn("loading animation: %s", err);
    return STAGE_NEXT;
}
