/* stage_format.c - the answer as LINE texts, and the record of it.
 *
 * The model's Markdown becomes plain text split to LINE's limits
 * (core/format.c); an answer that cannot be shown becomes the apology. A
 * fixed reply (help, greeting, slow down) is split as it is. Fixed texts are
 * in the user's language (core/texts.h, gather_lang). The result is
 * ctx->record: the parts, the outcome their delivery means (answered, or
 * apologized when the model failed), the exchange to remember and the model's
 * name and usage (run/answer_record.h). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/format.h"
#include "core/voice.h"
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

/* An answer about an image is remembered as "[image]" (and the words asked
 * with it) and the answer's first line: never the image, and no second call
 * to the model for a summary. */
static void remember_image_answer(struct answer_record *rec)
{
    const char *q = rec->question ? rec->question : "";
    char *question = q[0] ? xasprintf("%s %s", FETCH_IMAGE_MARK, q) : xstrdup(FETCH_IMAGE_MARK);
    free(rec->question);
    rec->question = question;
    rec->answer[strcspn(rec->answer, "\n")] = '\0';
}

/* A voice message's answer starts with what was understood: 🎤 "..." on a
 * line of its own over the first part (the history keeps the answer without
 * it), or as a part of its own when the first has no room for it. */
static void put_transcript_line(const struct job_ctx *ctx, struct text_parts *parts)
{
    if (!ctx->transcript || parts->n == 0)
        return;
    char *line = voice_transcript_line(ctx->transcript);
    char *first = xasprintf("%s\n%s", line, parts->parts[0]);
    if (utf16_len(first, strlen(first)) <= LINE_TEXT_MAX_UTF16) {
        free(parts->parts[0]);
        parts->parts[0] = first;
        free(line);
    } else if (parts->n < LINE_MAX_MESSAGES) {
        free(first);
        parts->parts = xrealloc_array(parts->parts, parts->n + 1, sizeof *parts->parts);
        memmove(parts->parts + 1, parts->parts, parts->n * sizeof *parts->parts);
        parts->parts[0] = line;
        parts->n++;
    } else {
        free(first);
        free(line);
    }
}

const char *format_fixed_text(struct job_ctx *ctx, enum text_id id)
{
    const struct config *cfg = ctx->env->cfg;
    /* An override, or a fixed LINEBOT_LANG, needs no profile call. */
    enum lang lang = texts_need_lang(cfg, id) ? gather_lang(ctx) : cfg->lang;
    return texts_get(cfg, id, lang);
}

/* The language of what rides on an ordinary answer: LINEBOT_LANG, else the
 * language this job already chose, else the script of the question (the
 * model answers in it too). Never a profile call. */
static enum lang answer_lang(const struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    if (cfg->lang != LANG_AUTO)
        return cfg->lang;
    if (ctx->lang_chosen)
        return ctx->lang;
    return texts_lang_of_script(ctx->decided && ctx->decision.text ? ctx->decision.text : ctx->ev.text);
}

const char *format_answer_text(struct job_ctx *ctx, enum text_id id)
{
    return texts_get(ctx->env->cfg, id, answer_lang(ctx));
}

/* "\n" and the truncated text, for the end of a cut answer ("" for none). */
static char *truncated_mark(struct job_ctx *ctx)
{
    const char *text = format_fixed_text(ctx, TEXT_TRUNCATED);
    return xasprintf("%s%s", text[0] ? "\n" : "", text);
}

/* With LINEBOT_MEMORY=auto, /help and (once per user) the greeting say that
 * the bot remembers: the text with the notice under it (malloc'd), or NULL
 * for the text as it is. */
static char *with_memory_notice(struct job_ctx *ctx, enum text_id id, const char *text)
{
    const struct config *cfg = ctx->env->cfg;
    bool help = id == TEXT_HELP && !texts_override(cfg, TEXT_HELP);
    bool greeting = id == TEXT_GREETING && text[0];
    if (cfg->memory != MEMORY_AUTO || ctx->reply_text || !(help || (greeting && memory_tell_now(ctx))))
        return NULL;
    enum lang lang = cfg->lang == LANG_AUTO ? gather_lang(ctx) : cfg->lang;
    return xasprintf("%s\n\n%s", text, texts_builtin(TEXT_MEMORY_NOTICE, lang));
}

static enum stage_result format_fixed(struct job_ctx *ctx, enum text_id id)
{
    struct answer_record *rec = &ctx->record;
    /* A reply built for this event (/model), else the fixed text. */
    const char *text = ctx->reply_text ? ctx->reply_text : format_fixed_text(ctx, id);
    char *noticed = with_memory_notice(ctx, id, text);
    if (noticed)
        text = noticed;
    format_split(text, strlen(text), LINE_TEXT_MAX_UTF16, LINE_MAX_MESSAGES, "", &rec->parts);
    if (rec->parts.truncated) { /* an override longer than LINE takes */
        char *mark = truncated_mark(ctx);
        text_parts_free(&rec->parts);
        format_split(text, strlen(text), LINE_TEXT_MAX_UTF16, LINE_MAX_MESSAGES, mark, &rec->parts);
        free(mark);
    }
    free(noticed);
    put_transcript_line(ctx, &rec->parts); /* e.g. the knowledge base's strict "I don't know" to a voice message */
    quick_reply_copy(&rec->quick_reply, &ctx->quick_reply);
    rec->outcome = OUTCOME_ANSWERED;
    return STAGE_NEXT;
}

/* The model's Markdown as LINE texts. The truncated text depends on the
 * user's language, so it is looked up (and the profile perhaps asked) only
 * for an answer that is really cut: an ordinary answer costs no profile call. */
static void format_model_answer(struct job_ctx *ctx, const char *md, struct text_parts *parts)
{
    format_answer_split(md, strlen(md), LINE_TEXT_MAX_UTF16, LINE_MAX_MESSAGES, "", parts);
    if (!parts->truncated)
        return;
    char *mark = truncated_mark(ctx);
    text_parts_free(parts);
    format_answer_split(md, strlen(md), LINE_TEXT_MAX_UTF16, LINE_MAX_MESSAGES, mark, parts);
    free(mark);
}

enum stage_result stage_format(struct job_ctx *ctx)
{
    if (ctx->adopt_id) /* the answer was formatted when it was parked */
        return STAGE_NEXT;
    if (!ctx->use_model)
        return format_fixed(ctx, ctx->fixed);
    struct answer_record *rec = &ctx->record;
    bool answered = ctx->model_answered;
    const char *shown = answered ? ctx->llm.text : format_fixed_text(ctx, TEXT_APOLOGY);
    format_model_answer(ctx, shown, &rec->parts);
    if (rec->parts.n == 0) { /* nothing to show, e.g. the model's Markdown was all whitespace */
        text_parts_free(&rec->parts);
        shown = format_fixed_text(ctx, TEXT_APOLOGY);
        format_split(shown, strlen(shown), LINE_TEXT_MAX_UTF16, LINE_MAX_MESSAGES, "", &rec->parts);
        answered = false;
    }
    rec->outcome = answered ? OUTCOME_ANSWERED : OUTCOME_APOLOGIZED;
    if (answered) {
        /* Remember what the user saw, not the raw Markdown. */
        rec->question = dup_or_null(ctx->decision.text);
        rec->answer = joined(&rec->parts);
        if (ctx->with_image)
            remember_image_answer(rec);
        rec->speaker = dup_or_null(ctx->speaker);
        rec->model = dup_or_null(ctx->llm.model);
        rec->usage = (struct llm_usage){.prompt_tokens = ctx->llm.prompt_tokens,
                                        .completion_tokens = ctx->llm.completion_tokens,
                                        .total_tokens = ctx->llm.total_tokens};
    }
    put_transcript_line(ctx, &rec->parts);
    /* The first answer to a user says once that the bot remembers (a message
     * of its own, after the answer, when LINE's five leave room for it). */
    if (answered && rec->parts.n < LINE_MAX_MESSAGES && memory_tell_now(ctx)) {
        /* It rides on an ordinary answer, which must not cost a profile
         * call (issue 15). */
        rec->parts.parts = xrealloc_array(rec->parts.parts, rec->parts.n + 1, sizeof *rec->parts.parts);
        rec->parts.parts[rec->parts.n++] = xstrdup(format_answer_text(ctx, TEXT_MEMORY_NOTICE));
    }
    log_debug("answer: %zu message(s); model %s", rec->parts.n, answered ? "answered" : "failed");
    char err[512];
    /* Before the answer: an animation started after it would linger. */
    if (line_loading_end(ctx->env->line, err, sizeof err) != LINE_OK)
        log_warn("loading animation: %s", err);
    return STAGE_NEXT;
}
