/* stage_deliver.c - from a formatted answer to exactly one answer on LINE.
 *
 * Exactly once means never two answers for one event. The inbox records each
 * step before it is taken:
 *
 *   pending --claim--> working --record answer--> sending --LINE accepted--> done
 *
 * - A crash while `working` (deciding, waiting on the model) sent nothing, so
 *   the event goes back to pending and is worked on again from the start.
 * - A crash while `sending` leaves the outcome unknown: the send may or may not
 *   have reached LINE. The recorded answer is then sent again only in ways LINE
 *   itself deduplicates:
 *     * a reply re-uses the same reply token, which LINE accepts once. If the
 *       earlier attempt went through, LINE refuses the repeat ("Invalid reply
 *       token") and the user still has exactly one answer. Because that refusal
 *       cannot be told apart from "the token expired before anything was
 *       sent", a refused *repeat* never falls back to push: a lost answer is
 *       better than a double one.
 *     * a push carries an X-Line-Retry-Key derived from the webhookEventId, so
 *       a repeat of an accepted push gets 409, which counts as delivered.
 * - A push fallback after LINE refused the first reply is safe: a refused reply
 *   delivered nothing. The record is switched to "push" before pushing, so a
 *   crash during the push resumes with the same retry key.
 * - Every store write after the claim carries the claim's generation (fencing):
 *   a worker whose claim was taken over can no longer record or send.
 * - Power cuts: worker handles fsync only the `sending` record (before the send
 *   it announces); claims, `done`, history and counters are committed without
 *   an fsync of their own (store_relax_durability). A process crash loses none
 *   of them. A power cut may lose the latest: a lost claim makes the event
 *   pending again (nothing was sent); a lost `done` leaves it `sending`, which
 *   is resumed by the rules above (a reply repeat is refused and never turned
 *   into a push; a push repeat gets 409). The acknowledged inbox write itself
 *   is always fsynced by ingest.
 * - The record carries the outcome its delivery means (answered, or
 *   apologized), so a resumed apology is finished as an apology.
 *
 * Answers that wait for a reply token. An answer may be parked
 * (store_job_park: state `waiting`, never claimed) behind a postback button.
 * A later postback event whose data is
 *
 *   v1|a|<event id of the parked answer>      (core/postback.h's format;
 *   linebot:answer=<event id>                  the first one's, still read)
 *
 * takes it over with store_job_adopt, on any instance: in one transaction the
 * parked row is finished (handed over) and the postback's own job moves to
 * `sending` with that answer recorded, so from there on it is delivered, and
 * resumed after a crash, exactly like any other answer, with the postback's
 * reply token (falling back to push by the same rules). Exactly one adopter
 * ever gets a given answer; a repeated or late postback finds nothing.
 * Answers are parked when a "still working" message spent the event's reply
 * token (run/stage_progress.c); one nobody adopts within
 * LINEBOT_PROGRESS_WAIT_S goes back to `sending` (store_jobs_unpark, in the
 * same fenced way: a row is adopted or unparked, never both) and is sent
 * like a job resumed after a crash: pushed, or dropped with push fallback off. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/postback.h"
#include "io/clock.h"
#include "obs/log.h"
#include "run/failpoint.h"
#include "run/push_quota.h"
#include "run/stage.h"

/* Past this age a reply token is not worth trying: push (if allowed) instead. */
#define REPLY_TOKEN_MAX_AGE_MS 60000

/* The postback data that takes over a parked answer (see above) starts with
 * CHAT_ADOPT_PREFIX: core/chat.c lets exactly those postbacks into the inbox. */
#define ADOPT_PREFIX CHAT_ADOPT_PREFIX

enum send_mode deliver_choose_mode(const struct config *cfg, const struct line_event *ev, int64_t now_ms)
{
    if (ev->reply_token && event_age_ms(ev->timestamp_ms, now_ms) <= REPLY_TOKEN_MAX_AGE_MS)
        return SEND_REPLY;
    return cfg->push_fallback ? SEND_PUSH : SEND_NONE;
}

const char *deliver_adopt_target(const struct line_event *ev)
{
    if (ev->kind != EVENT_POSTBACK || !ev->postback_data)
        return NULL;
    struct postback pb;
    if (postback_parse(ev->postback_data, &pb) == 0)
        /* The id inside the data itself, which lives as long as the event. */
        return pb.kind == POSTBACK_ANSWER ? ev->postback_data + strlen(ev->postback_data) - strlen(pb.arg) : NULL;
    if (strncmp(ev->postback_data, ADOPT_PREFIX, strlen(ADOPT_PREFIX)) != 0)
        return NULL;
    const char *id = ev->postback_data + strlen(ADOPT_PREFIX);
    return *id && strlen(id) < 256 ? id : NULL;
}

struct sending_write {
    struct job_ctx *ctx;
    const char *record;
};

/* What a delivered record was, for the log: an apology (the model failed,
 * or its answer could not be shown) is not an answer, and someone counting
 * answers in the log must be able to tell them apart. */
static const char *delivered_what(enum job_outcome outcome)
{
    return outcome == OUTCOME_APOLOGIZED ? "apology sent" : "answered";
}

static int sending_write(void *arg)
{
    struct sending_write *s = arg;
    const struct job *job = s->ctx->job;
    return store_job_sending(s->ctx->env->store, job->event_id, job->claim_gen, s->record);
}

/* Records ctx->record with `mode` as the answer about to be sent. */
static int record_sending(struct job_ctx *ctx, enum send_mode mode)
{
    ctx->record.mode = mode;
    char *json = answer_record_json(&ctx->record);
    int rc = worker_write_retried(sending_write, &(struct sending_write){.ctx = ctx, .record = json});
    free(json);
    return rc;
}

/* The quote token the answer's first message carries: in groups and rooms
 * the question is quoted, so that a busy group sees what is answered; a
 * one-to-one chat needs no quote. NULL for none (postbacks have none). */
static const char *answer_quote(const struct line_event *ev)
{
    return ev->chat_type == CHAT_USER ? NULL : ev->quote_token;
}

/* Pushes the record with the event's retry key. A failure is described in
 * `err` for the caller to log. */
static enum line_result push_parts(struct job_ctx *ctx, char *err, size_t errlen)
{
    /* LINEBOT_PUSH_RESERVE: the month's last messages are kept (run/push_quota.h). */
    char why[256];
    if (!push_quota_allows(ctx->env->line, ctx->env->cfg->push_reserve, why, sizeof why)) {
        log_warn("not pushing: %s", why);
        snprintf(err, errlen, "push quota reserve reached (%s)", why);
        return LINE_REJECTED;
    }
    if (why[0])
        log_warn("could not read the push quota, pushing anyway: %s", why);
    char key[37];
    line_retry_key(ctx->ev.event_id, key);
    enum line_result r = line_push_qr(ctx->env->line, ctx->ev.chat_id, &ctx->record.parts, answer_quote(&ctx->ev),
                                      &ctx->record.quick_reply, key, &ctx->sent, NULL, err, errlen);
    if (r == LINE_ALREADY_ACCEPTED) {
        log_info("push was already accepted earlier (409 on retry key): delivered once");
        r = LINE_OK;
    }
    return r;
}

/* Replies, retrying on 5xx and transport errors: a reply token is accepted
 * once, so a repeat can never deliver twice. `*ambiguous` tells whether an
 * attempt ended without a clear answer (so a later "invalid reply token" may
 * mean "delivered"). `already_ambiguous` starts in that state (crash resume).
 * An attempt that is retried is logged here; the last one's failure is
 * described in `err` for the caller to log. */
static enum line_result reply_parts(struct job_ctx *ctx, bool already_ambiguous, bool *ambiguous, char *err,
                                    size_t errlen)
{
    static const int64_t backoff_ms[] = {1000, 2000};
    const struct line_event *ev = &ctx->ev;
    const char *quote = answer_quote(ev);
    *ambiguous = already_ambiguous;
    enum line_result r = LINE_TRANSPORT_ERROR;
    for (size_t attempt = 0;; attempt++) {
        r = line_reply_qr(ctx->env->line, ev->reply_token, &ctx->record.parts, quote, &ctx->record.quick_reply,
                          &ctx->sent, NULL, err, errlen);
        if (r != LINE_SERVER_ERROR && r != LINE_TRANSPORT_ERROR)
            return r;
        *ambiguous = true;
        if (attempt >= sizeof backoff_ms / sizeof backoff_ms[0] ||
            event_age_ms(ev->timestamp_ms, clock_now_ms()) > REPLY_TOKEN_MAX_AGE_MS)
            return r;
        log_warn("reply failed, trying again in %lld ms: %s", (long long)backoff_ms[attempt], err);
        clock_sleep_ms(backoff_ms[attempt]);
    }
}

/* Sends the record in the mode it was recorded with, from the first try. */
static enum stage_result send_recorded(struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    enum send_mode mode = ctx->record.mode;
    enum line_result r;
    bool ambiguous = false;
    bool logged = false; /* the failure was already logged */
    char err[512];
    if (mode == SEND_REPLY) {
        r = reply_parts(ctx, false, &ambiguous, err, sizeof err);
        if (r == LINE_INVALID_REPLY_TOKEN && cfg->push_fallback && !ambiguous) {
            /* Refused on the first try: nothing was delivered, so a push cannot
             * double. Switch the record first so that a crash mid-push resumes
             * as a push with the same retry key. */
            int rc = record_sending(ctx, SEND_PUSH);
            if (rc == 0) {
                log_info("reply token refused; pushing instead");
                r = push_parts(ctx, err, sizeof err);
                mode = SEND_PUSH;
            } else {
                log_error("reply token refused, and the switch to push could not be recorded (%s); not pushing",
                          rc > 0 ? "claim lost" : store_last_error(ctx->env->store));
                logged = true;
            }
        }
    } else {
        r = push_parts(ctx, err, sizeof err);
    }
    failpoint(cfg, "worker_after_send");

    if (r == LINE_OK) {
        ctx->outcome = ctx->record.outcome;
        log_info("%s by %s in %zu message(s)", delivered_what(ctx->outcome), send_mode_name(mode),
                 ctx->record.parts.n);
    } else {
        ctx->outcome = OUTCOME_FAILED;
        if (r == LINE_INVALID_REPLY_TOKEN && ambiguous)
            log_warn("reply refused after an attempt with no clear answer: it may have been delivered; "
                     "not pushing, to never answer twice (%s)", err);
        else if (!logged)
            log_warn("could not deliver the answer by %s: %s", send_mode_name(mode), err);
    }
    return STAGE_NEXT;
}

/* Chooses how to send ctx->record now, records it, and sends it. */
static enum stage_result deliver_fresh(struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    const struct text_parts *parts = &ctx->record.parts;
    enum send_mode mode = deliver_choose_mode(cfg, &ctx->ev, clock_now_ms());
    if (parts->n == 0) {
        log_warn("no way to deliver: empty answer");
        ctx->outcome = OUTCOME_FAILED;
        return STAGE_NEXT;
    }
    if (mode == SEND_NONE) {
        /* Counted and reported by the finish stage (the bot is behind). */
        ctx->outcome = OUTCOME_EXPIRED;
        return STAGE_NEXT;
    }
    int rc = record_sending(ctx, mode);
    if (rc != 0) {
        log_error("could not record the answer before sending (%s); not sending",
                  rc > 0 ? "claim lost" : store_last_error(ctx->env->store));
        /* Nothing was sent: a store error gives the job back at once (if the
         * store takes even that; else its lease runs out), a lost claim is
         * another worker's now. */
        return rc < 0 ? STAGE_RELEASE : STAGE_STOP;
    }
    failpoint(cfg, "worker_after_sending_recorded");
    return send_recorded(ctx);
}

/* A postback that names a parked answer: take it over, then send it as ours. */
static enum stage_result deliver_adopted(struct job_ctx *ctx, const char *parked_id)
{
    const struct job *job = ctx->job;
    enum send_mode mode = deliver_choose_mode(ctx->env->cfg, &ctx->ev, clock_now_ms());
    if (mode == SEND_NONE) {
        ctx->outcome = OUTCOME_EXPIRED; /* counted and reported by the finish stage */
        return STAGE_NEXT;
    }
    char *answer = NULL;
    int rc = store_job_adopt(ctx->env->store, job->event_id, job->claim_gen, parked_id, &answer);
    if (rc == 2) {
        log_info("postback for a parked answer that is no longer waiting: nothing to send");
        ctx->outcome = OUTCOME_IGNORED;
        return STAGE_NEXT;
    }
    if (rc != 0) {
        log_error("could not take over a parked answer (%s); not sending",
                  rc > 0 ? "claim lost" : store_last_error(ctx->env->store));
        free(answer);
        return rc > 0 ? STAGE_STOP : STAGE_RELEASE;
    }
    answer_record_free(&ctx->record);
    int parsed = answer_record_parse(answer, &ctx->record);
    free(answer);
    if (parsed != 0) {
        log_error("unreadable parked answer; not sending");
        ctx->outcome = OUTCOME_FAILED;
        return STAGE_NEXT;
    }
    /* The parked record was written for another event: the mode it names is
     * the parker's; this event sends it its own way. Nothing was sent since
     * the adoption, so re-recording is safe; a crash before it resumes the
     * parker's mode with this event's token or retry key, which is as safe
     * (or, when the parker recorded no mode, chooses one then). */
    log_info("took over the parked answer of %s", parked_id);
    return deliver_fresh(ctx);
}

struct park_write {
    struct job_ctx *ctx;
    const char *record;
};

static int park_write(void *arg)
{
    struct park_write *w = arg;
    const struct job *job = w->ctx->job;
    return store_job_park(w->ctx->env->store, job->event_id, job->claim_gen, w->record);
}

/* The "still working" message spent the reply token (run/stage_progress.c):
 * the answer waits in the store for the button's postback, with no mode of
 * its own (the adopter, or the push after the wait, chooses one). */
static enum stage_result deliver_park(struct job_ctx *ctx)
{
    ctx->record.mode = SEND_NONE;
    char *json = answer_record_json(&ctx->record);
    worker_claim_over(ctx->env); /* parking ends the claim */
    int rc = worker_write_retried(park_write, &(struct park_write){.ctx = ctx, .record = json});
    free(json);
    if (rc == 0) {
        log_info("answer parked until \"show the answer\" is tapped");
        return STAGE_STOP;
    }
    log_error("could not park the answer (%s); it is worked on again",
              rc > 0 ? "claim lost" : store_last_error(ctx->env->store));
    return rc > 0 ? STAGE_STOP : STAGE_RELEASE;
}

enum stage_result stage_deliver(struct job_ctx *ctx)
{
    if (ctx->adopt_id)
        return deliver_adopted(ctx, ctx->adopt_id);
    if (progress_end(ctx) && ctx->record.parts.n > 0)
        return deliver_park(ctx);
    return deliver_fresh(ctx);
}

enum stage_result stage_deliver_resume(struct job_ctx *ctx)
{
    if (answer_record_parse(ctx->job->answer, &ctx->record) != 0) {
        log_error("unreadable answer record after a crash; not sending");
        ctx->outcome = OUTCOME_FAILED;
        return STAGE_NEXT;
    }
    enum send_mode mode = ctx->record.mode;
    if (mode == SEND_NONE) {
        /* Adopted (store_job_adopt) with the parker's record, and the crash
         * came before this event recorded its own mode, or a parked answer
         * whose wait ended (store_jobs_unpark): nothing was sent. */
        log_info("sending an answer that waited (parked or adopted, not sent yet)");
        return deliver_fresh(ctx);
    }
    enum line_result r;
    char err[512];
    if (mode == SEND_REPLY) {
        bool ambiguous;
        r = reply_parts(ctx, true, &ambiguous, err, sizeof err);
    } else {
        r = push_parts(ctx, err, sizeof err);
    }
    if (r == LINE_OK) {
        ctx->outcome = ctx->record.outcome;
        log_info("%s after restart by %s", delivered_what(ctx->outcome), send_mode_name(mode));
    } else if (mode == SEND_REPLY && r == LINE_INVALID_REPLY_TOKEN) {
        /* Delivered before the crash, or expired: never push here. */
        ctx->outcome = OUTCOME_UNKNOWN;
        log_warn("reply repeat refused after a crash: it was delivered before, or the token expired; "
                 "not pushing, to never answer twice");
    } else {
        ctx->outcome = OUTCOME_FAILED;
        log_warn("could not deliver the answer after restart by %s: %s", send_mode_name(mode), err);
    }
    return STAGE_NEXT;
}
