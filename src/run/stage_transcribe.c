/* stage_transcribe.c - the "transcribe" stage: a voice message becomes the
 * words the user said, and is then answered as if they had typed them.
 *
 * Only for a voice message in a one-to-one chat that the decision sent to
 * the model (core/chat.c: d->audio). In order:
 *   1. a recording longer than LINEBOT_MAX_AUDIO_S (the event's `duration`,
 *      in ms) is refused with a notice naming the limit, before anything is
 *      fetched;
 *   2. the recording is fetched (io/line_content.c): LINE's transcoding is
 *      waited for (.../content/transcoding until "succeeded"; "failed" gets
 *      its notice), and a 202 from .../content is asked again, within the
 *      event's time budget, leaving the model its share;
 *   3. the bytes must be an ISO media file (an m4a: a "ftyp" box first,
 *      core/sniff.c), whatever the Content-Type said;
 *   4. cfg->transcribe_model transcribes it (io/transcribe.c), and what that
 *      cost is charged with the answer (below);
 *   5. the transcript replaces the decision's text: gather, retrieve,
 *      generate and memory all see the words, and the history keeps them as
 *      the user's turn (never the audio). format puts 🎤 "..." over the
 *      answer so that the user sees what was understood.
 * Each failure gets a short notice naming the reason, in the user's
 * language, and one log line; the event is finished as answered.
 *
 * The bytes live only in this stage: fetched, sent, freed.
 *
 * The charge: the tokens the service reported (input and output tokens, or
 * prompt and completion tokens); else an estimate of VOICE_TOKENS_PER_SECOND
 * per second of the recording (its `duration`, or whisper's reported
 * seconds) as input, and the transcript's characters (budget_estimate_tokens)
 * as output, marked estimated. It is put in the answer record's charge; the
 * model's answer adds its own tokens to it (stage_budget_charge), so the
 * event is charged once, in the transaction that finishes it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/budget.h"
#include "core/sniff.h"
#include "core/voice.h"
#include "io/clock.h"
#include "io/line_content.h"
#include "io/timezone.h"
#include "io/transcribe.h"
#include "obs/log.h"
#include "run/stage.h"

/* Of the event's budget, what fetch and transcription leave the model. */
#define TRANSCRIBE_MODEL_RESERVE_MS 12000
#define TRANSCRIBE_MIN_MS 5000

static int64_t transcribe_deadline(const struct job_ctx *ctx)
{
    int64_t deadline = generate_deadline(ctx) - TRANSCRIBE_MODEL_RESERVE_MS;
    int64_t least = clock_monotonic_ms() + TRANSCRIBE_MIN_MS;
    return deadline > least ? deadline : least;
}

/* The job answers with `id`'s notice ("{}" filled with `value`) instead of
 * the model. */
static enum stage_result notice(struct job_ctx *ctx, enum text_id id, int value)
{
    char err[256];
    if (line_loading_end(ctx->env->line, err, sizeof err) != LINE_OK) /* over before the notice goes */
        log_warn("loading animation: %s", err);
    char v[16];
    snprintf(v, sizeof v, "%d", value);
    free(ctx->reply_text);
    ctx->reply_text = texts_fill(texts_builtin(id, gather_lang(ctx)), v);
    ctx->use_model = false;
    return STAGE_NEXT;
}

/* What the transcription cost, in the answer record (see the top). */
static void charge(struct job_ctx *ctx, const struct model_entry *model, const struct voice_transcript *t)
{
    struct answer_charge *c = &ctx->record.charge;
    free(c->model);
    *c = (struct answer_charge){.model = xstrdup(model->name),
                                .day = budget_day(clock_now_ms(), timezone_offset_ms),
                                .prompt_tokens = t->prompt_tokens,
                                .completion_tokens = t->completion_tokens};
    if (c->prompt_tokens < 0) {
        int64_t ms = t->seconds >= 0 ? t->seconds * 1000 : ctx->ev.duration_ms;
        c->prompt_tokens = voice_estimate_tokens(ms);
        c->estimated = true;
    }
    if (c->completion_tokens < 0) {
        c->completion_tokens = budget_estimate_tokens(t->text);
        c->estimated = true;
    }
    log_debug("transcription: %" PRId64 " + %" PRId64 " tokens%s", c->prompt_tokens, c->completion_tokens,
              c->estimated ? " (estimated)" : "");
}

static enum text_id notice_of(enum transcribe_result r)
{
    switch (r) {
    case TRANSCRIBE_EMPTY: return TEXT_VOICE_EMPTY;
    case TRANSCRIBE_REFUSED: return TEXT_VOICE_REFUSED;
    case TRANSCRIBE_OK:
    case TRANSCRIBE_FAILED:
    case TRANSCRIBE_CANCELLED:
        break;
    }
    return TEXT_VOICE_FAILED;
}

enum stage_result stage_transcribe(struct job_ctx *ctx)
{
    if (!ctx->use_model || !ctx->decision.audio)
        return STAGE_NEXT;
    const struct config *cfg = ctx->env->cfg;
    const struct line_event *ev = &ctx->ev;
    const char *id = ev->message_id ? ev->message_id : "?";
    if (ev->duration_ms > (int64_t)cfg->max_audio_s * 1000) {
        log_info("voice message %s of %" PRId64 " ms is longer than LINEBOT_MAX_AUDIO_S (%d s): refused, "
                 "nothing fetched", id, ev->duration_ms, cfg->max_audio_s);
        return notice(ctx, TEXT_VOICE_TOO_LONG, cfg->max_audio_s);
    }

    int64_t deadline = transcribe_deadline(ctx);
    char err[512];
    /* The user sees the bot at work while LINE transcodes and the service
     * listens; generate starts the animation again for the model. */
    int seconds = (int)((generate_deadline(ctx) - clock_monotonic_ms()) / 1000);
    if (line_loading_begin(ctx->env->line, ev->chat_id, seconds, err, sizeof err) != LINE_OK)
        log_warn("loading animation: %s", err);
    struct content_source src = {.message_id = ev->message_id,
                                 .external_url = ev->content_external ? ev->content_url : NULL,
                                 .transcoded = !ev->content_external};
    struct content_policy policy = {.max_bytes = (size_t)cfg->max_content_mb * 1024 * 1024,
                                    .allow_loopback = cfg->test_allow_loopback_content};
    struct content got;
    enum content_result r = line_content_get(ctx->env->line, &src, &policy, deadline, &got, err, sizeof err);
    if (r == CONTENT_CANCELLED) {
        log_info("shutting down: giving the event back to the inbox");
        return STAGE_RELEASE;
    }
    if (r != CONTENT_OK) {
        log_warn("voice message %s not fetched (%s): %s", id, content_result_name(r), err);
        return notice(ctx, fetch_content_notice(r), cfg->max_content_mb);
    }
    if (sniff_kind(got.data, got.len) != SNIFF_MP4) {
        log_warn("voice message %s: the content is no m4a (no ISO media \"ftyp\" box; %zu bytes)", id, got.len);
        content_free(&got);
        return notice(ctx, TEXT_VOICE_MISMATCH, 0);
    }

    const struct model_entry *model = cfg->transcribe_model;
    struct voice_transcript t;
    enum transcribe_result tr = transcribe_audio(ctx->env->llm, model, got.data, got.len, deadline, &t, err,
                                                 sizeof err);
    size_t bytes = got.len;
    content_free(&got); /* the recording is needed no longer than the call */
    if (tr == TRANSCRIBE_CANCELLED) {
        voice_transcript_free(&t);
        log_info("shutting down: giving the event back to the inbox");
        return STAGE_RELEASE;
    }
    if (tr != TRANSCRIBE_OK) {
        log_warn("voice message %s not transcribed by %s (%s): %s", id, model->name, transcribe_result_name(tr),
                 err);
        if (tr == TRANSCRIBE_EMPTY) /* the service listened: that is charged too */
            charge(ctx, model, &t);
        voice_transcript_free(&t);
        return notice(ctx, notice_of(tr), 0);
    }
    if (line_loading_end(ctx->env->line, err, sizeof err) != LINE_OK) /* before generate's begin */
        log_warn("loading animation: %s", err);
    charge(ctx, model, &t);
    log_info("voice message %s: %zu bytes transcribed by %s", id, bytes, model->name);
    log_debug("transcript: %s", t.text); /* the user's words: at debug only, as every message text */
    free(ctx->decision.text);
    ctx->decision.text = xstrdup(t.text);
    ctx->transcript = t.text;
    t.text = NULL;
    return STAGE_NEXT;
}
