/* worker.c - from an inbox event to exactly one answer (see worker.h).
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
 */
#include "run/worker.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/chat.h"
#include "core/format.h"
#include "core/webhook.h"
#include "io/clock.h"
#include "io/http_client.h"
#include "io/line_api.h"
#include "io/llm.h"
#include "io/store.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "run/failpoint.h"

/* The model must be done 50 s after the event, while its reply token is valid. */
#define LLM_BUDGET_MS 50000
/* Past this age a reply token is not worth trying: push (if allowed) instead. */
#define REPLY_TOKEN_MAX_AGE_MS 60000
/* Display names are refreshed once a day. */
#define PROFILE_TTL_MS (24LL * 3600 * 1000)
#define PURGE_EVERY_MS (10LL * 60 * 1000)
#define IDLE_WAIT_MS 1000
/* Serverless: time kept back at the end of an invocation to send the answer. */
#define INVOCATION_MARGIN_MS 3000
/* Serverless: a job is not started with less time than this left. */
#define MIN_JOB_MS 8000

struct worker {
    struct worker_pool *pool;
    int index;
    pthread_t thread;
    int started;
    struct store *store;
    struct http_client *http;
    struct line_api line;
    struct llm_client llm;
    atomic_int cancel_job;       /* abort the wait on the model: shutdown or claim lost */
    pthread_mutex_t job_lock;    /* guards the two fields below (read by the lease keeper) */
    char *job_event_id;          /* the job in progress, NULL when idle */
    int64_t job_claim_gen;
};

enum send_mode { SEND_NONE, SEND_REPLY, SEND_PUSH };

static const char *mode_name(enum send_mode m) { return m == SEND_PUSH ? "push" : m == SEND_REPLY ? "reply" : "none"; }

/* ---- the answer record kept in the inbox while sending ---- */

/* {"mode":"reply|push","parts":[...],"history":{"speaker","text","message_id","ts","answer"}} */
static char *record_json(enum send_mode mode, const struct text_parts *parts, json_t *history)
{
    json_t *root = json_object();
    json_t *arr = json_array();
    if (!root || !arr) {
        json_decref(root);
        json_decref(arr);
        return NULL;
    }
    for (size_t i = 0; i < parts->n; i++)
        json_array_append_new(arr, json_string(parts->parts[i]));
    json_object_set_new(root, "mode", json_string(mode_name(mode)));
    json_object_set_new(root, "parts", arr);
    if (history)
        json_object_set(root, "history", history);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

static int record_parse(const char *s, enum send_mode *mode, struct text_parts *parts, json_t **history)
{
    memset(parts, 0, sizeof *parts);
    *history = NULL;
    json_t *root = s ? json_loads(s, 0, NULL) : NULL;
    if (!json_is_object(root)) {
        json_decref(root);
        return -1;
    }
    const char *m = json_string_value(json_object_get(root, "mode"));
    *mode = m && strcmp(m, "push") == 0 ? SEND_PUSH : m && strcmp(m, "reply") == 0 ? SEND_REPLY : SEND_NONE;
    json_t *arr = json_object_get(root, "parts");
    size_t n = json_array_size(arr);
    if (n > LINE_MAX_MESSAGES)
        n = LINE_MAX_MESSAGES;
    parts->parts = calloc(n ? n : 1, sizeof *parts->parts);
    for (size_t i = 0; parts->parts && i < n; i++) {
        const char *p = json_string_value(json_array_get(arr, i));
        if (p && (parts->parts[parts->n] = strdup(p)))
            parts->n++;
    }
    json_t *h = json_object_get(root, "history");
    if (json_is_object(h))
        *history = json_incref(h);
    json_decref(root);
    return parts->parts && parts->n > 0 ? 0 : -1;
}

/* ---- small steps ---- */

/* A store write after a claim is retried briefly: a database blip (PostgreSQL
 * restarting, SQLite busy) should not leave the event claimed until its lease
 * runs out. The writes are fenced, so a repeat is harmless. */
static const int64_t store_retry_ms[] = {200, 1000, 3000};

static int job_finish_retried(struct worker *w, const struct job *job, const struct job_finish *f)
{
    int rc = store_job_finish(w->store, job->event_id, job->claim_gen, f);
    for (size_t i = 0; rc < 0 && i < sizeof store_retry_ms / sizeof store_retry_ms[0]; i++) {
        clock_sleep_ms(store_retry_ms[i]);
        rc = store_job_finish(w->store, job->event_id, job->claim_gen, f);
    }
    return rc;
}

static int job_sending_retried(struct worker *w, const struct job *job, const char *answer)
{
    int rc = store_job_sending(w->store, job->event_id, job->claim_gen, answer);
    for (size_t i = 0; rc < 0 && i < sizeof store_retry_ms / sizeof store_retry_ms[0]; i++) {
        clock_sleep_ms(store_retry_ms[i]);
        rc = store_job_sending(w->store, job->event_id, job->claim_gen, answer);
    }
    return rc;
}

static void log_finished(struct worker *w, int rc, enum job_outcome outcome)
{
    if (rc < 0)
        log_error("could not mark the event done: %s", store_last_error(w->store));
    else if (rc > 0)
        log_warn("claim lost before the event could be marked done");
    else
        log_debug("event done: %s", job_outcome_name(outcome));
}

static void finish_job(struct worker *w, const struct job *job, enum job_outcome outcome)
{
    struct job_finish f = {.outcome = outcome, .usage = {-1, -1, -1}};
    log_finished(w, job_finish_retried(w, job, &f), outcome);
}

static enum send_mode choose_mode(const struct config *cfg, const struct line_event *ev, int64_t now_ms)
{
    if (ev->reply_token && now_ms - ev->timestamp_ms <= REPLY_TOKEN_MAX_AGE_MS)
        return SEND_REPLY;
    return cfg->push_fallback ? SEND_PUSH : SEND_NONE;
}

/* Finishes the job in one store transaction: the outcome, the answered
 * exchange added to history (when there is one) and the bot's message ids. */
static void remember_and_finish(struct worker *w, const struct job *job, const struct line_event *ev,
                                json_t *history, const struct line_sent *sent, enum job_outcome outcome)
{
    int64_t now = clock_now_ms();
    struct turn turns[2] = {
        {
            .role = TURN_USER,
            .speaker = (char *)json_string_value(json_object_get(history, "speaker")),
            .text = (char *)json_string_value(json_object_get(history, "text")),
            .message_id = ev->message_id,
            .timestamp_ms = ev->timestamp_ms,
        },
        {
            .role = TURN_ASSISTANT,
            .text = (char *)json_string_value(json_object_get(history, "answer")),
            .message_id = sent->n ? sent->ids[0] : NULL,
            .timestamp_ms = now,
        },
    };
    struct job_finish f = {
        .outcome = outcome,
        .turns = turns,
        .n_turns = history && turns[0].text && turns[1].text ? 2 : 0,
        .sent_ids = (const char *const *)sent->ids,
        .n_sent = sent->n,
        .sent_at_ms = now,
        .usage = {-1, -1, -1},
    };
    int rc = job_finish_retried(w, job, &f);
    if (rc < 0 && (f.n_turns > 0 || f.n_sent > 0)) {
        /* The answer is out: a store that keeps refusing what it should
         * remember must not keep the event from being done. */
        log_warn("could not remember the exchange, finishing without it: %s", store_last_error(w->store));
        struct job_finish bare = {.outcome = outcome, .usage = {-1, -1, -1}};
        rc = job_finish_retried(w, job, &bare);
    }
    log_finished(w, rc, outcome);
}

static enum line_result push_parts(struct worker *w, const struct line_event *ev, const struct text_parts *parts,
                                   struct line_sent *sent)
{
    char key[37];
    line_retry_key(ev->event_id, key);
    enum line_result r = line_push(&w->line, ev->chat_id, parts, key, sent, NULL);
    if (r == LINE_ALREADY_ACCEPTED) {
        log_info("push was already accepted earlier (409 on retry key): delivered once");
        r = LINE_OK;
    }
    return r;
}

/* Replies, retrying on 5xx and transport errors: a reply token is accepted
 * once, so a repeat can never deliver twice. `*ambiguous` tells whether an
 * attempt ended without a clear answer (so a later "invalid reply token" may
 * mean "delivered"). `already_ambiguous` starts in that state (crash resume). */
static enum line_result reply_parts(struct worker *w, const struct line_event *ev, const struct text_parts *parts,
                                    struct line_sent *sent, bool already_ambiguous, bool *ambiguous)
{
    static const int64_t backoff_ms[] = {1000, 2000};
    const char *quote = ev->chat_type == CHAT_USER ? NULL : ev->quote_token;
    *ambiguous = already_ambiguous;
    enum line_result r = LINE_TRANSPORT_ERROR;
    for (size_t attempt = 0;; attempt++) {
        r = line_reply(&w->line, ev->reply_token, parts, quote, sent, NULL);
        if (r != LINE_SERVER_ERROR && r != LINE_TRANSPORT_ERROR)
            return r;
        *ambiguous = true;
        if (attempt >= sizeof backoff_ms / sizeof backoff_ms[0] ||
            clock_now_ms() - ev->timestamp_ms > REPLY_TOKEN_MAX_AGE_MS)
            return r;
        clock_sleep_ms(backoff_ms[attempt]);
    }
}

/* Records the answer, sends it, and finishes the job. `history` (may be NULL)
 * is what to remember once delivered. */
static void deliver(struct worker *w, const struct job *job, const struct line_event *ev,
                    const struct text_parts *parts, json_t *history, bool counts_as_answer)
{
    const struct config *cfg = w->pool->cfg;
    enum send_mode mode = choose_mode(cfg, ev, clock_now_ms());
    if (mode == SEND_NONE || parts->n == 0) {
        log_warn("no way to deliver: %s", parts->n ? "reply token too old and push fallback is off" : "empty answer");
        finish_job(w, job, OUTCOME_EXPIRED);
        metrics_failed();
        return;
    }
    char *record = record_json(mode, parts, history);
    if (!record) {
        log_error("out of memory recording the answer; the event stays claimed until restart");
        return;
    }
    int rc = job_sending_retried(w, job, record);
    if (rc != 0) {
        log_error("could not record the answer before sending (%s); not sending",
                  rc > 0 ? "claim lost" : store_last_error(w->store));
        free(record);
        return;
    }
    failpoint(cfg, "worker_after_sending_recorded");

    struct line_sent sent = {0};
    enum line_result r;
    if (mode == SEND_REPLY) {
        bool ambiguous = false;
        r = reply_parts(w, ev, parts, &sent, false, &ambiguous);
        if (r == LINE_INVALID_REPLY_TOKEN && cfg->push_fallback && !ambiguous) {
            /* Refused on the first try: nothing was delivered, so a push cannot
             * double. Switch the record first so that a crash mid-push resumes
             * as a push with the same retry key. */
            char *pushed = record_json(SEND_PUSH, parts, history);
            int rc2 = pushed ? job_sending_retried(w, job, pushed) : -1;
            free(pushed);
            if (rc2 == 0) {
                log_info("reply token refused; pushing instead");
                r = push_parts(w, ev, parts, &sent);
                mode = SEND_PUSH;
            }
        } else if (r == LINE_INVALID_REPLY_TOKEN && ambiguous) {
            log_warn("reply refused after an attempt with no clear answer: it may have been delivered; "
                     "not pushing, to never answer twice");
        }
    } else {
        r = push_parts(w, ev, parts, &sent);
    }
    free(record);
    failpoint(cfg, "worker_after_send");

    if (r == LINE_OK) {
        remember_and_finish(w, job, ev, history, &sent, counts_as_answer ? OUTCOME_ANSWERED : OUTCOME_APOLOGIZED);
        /* Each event is counted once, here: answered, or failed (the apology
         * for a model failure was delivered, but the event was not answered). */
        if (counts_as_answer)
            metrics_answered();
        else
            metrics_failed();
        log_info("answered by %s in %zu message(s)", mode_name(mode), parts->n);
    } else {
        finish_job(w, job, OUTCOME_FAILED);
        metrics_failed();
        log_warn("could not deliver the answer: %s", line_result_name(r));
    }
    line_sent_free(&sent);
}

/* Finishes a job that a crash left in `sending` (see the top of this file). */
static void resume_sending(struct worker *w, const struct job *job, const struct line_event *ev)
{
    enum send_mode mode;
    struct text_parts parts;
    json_t *history;
    if (record_parse(job->answer, &mode, &parts, &history) != 0 || mode == SEND_NONE) {
        log_error("unreadable answer record after a crash; not sending");
        finish_job(w, job, OUTCOME_FAILED);
        text_parts_free(&parts);
        json_decref(history);
        return;
    }
    struct line_sent sent = {0};
    enum line_result r;
    if (mode == SEND_REPLY) {
        bool ambiguous;
        r = reply_parts(w, ev, &parts, &sent, true, &ambiguous);
    } else {
        r = push_parts(w, ev, &parts, &sent);
    }
    if (r == LINE_OK) {
        remember_and_finish(w, job, ev, history, &sent, OUTCOME_ANSWERED);
        metrics_answered();
        log_info("answer sent after restart by %s", mode_name(mode));
    } else if (mode == SEND_REPLY && r == LINE_INVALID_REPLY_TOKEN) {
        /* Delivered before the crash, or expired: never push here. */
        finish_job(w, job, OUTCOME_UNKNOWN);
        log_warn("reply repeat refused after a crash: it was delivered before, or the token expired; "
                 "not pushing, to never answer twice");
    } else {
        finish_job(w, job, OUTCOME_FAILED);
        metrics_failed();
        log_warn("could not deliver the answer after restart: %s", line_result_name(r));
    }
    line_sent_free(&sent);
    text_parts_free(&parts);
    json_decref(history);
}

/* The display name of a speaker in a group or room, cached in the store. */
static char *speaker_name(struct worker *w, const struct line_event *ev)
{
    if (ev->chat_type == CHAT_USER || !ev->user_id)
        return NULL;
    char *name = NULL;
    int64_t now = clock_now_ms();
    if (store_profile_get(w->store, ev->chat_id, ev->user_id, now - PROFILE_TTL_MS, &name) == 1)
        return name;
    if (line_member_name(&w->line, ev->chat_type, ev->chat_id, ev->user_id, &name) == LINE_OK && name) {
        if (store_profile_put(w->store, ev->chat_id, ev->user_id, name, now) != 0)
            log_warn("could not cache a display name: %s", store_last_error(w->store));
        return name;
    }
    return NULL;
}

/* Counts the message atomically in the store (concurrent events of one user
 * all count, on every backend) and lets core/chat.c judge the count. */
static enum rate_verdict rate_check(struct worker *w, const struct line_event *ev)
{
    const struct config *cfg = w->pool->cfg;
    if (cfg->rate_limit <= 0 || !ev->user_id)
        return RATE_ALLOW;
    int64_t count;
    if (store_rate_count(w->store, ev->user_id, clock_now_ms(), &count) != 0) {
        log_warn("could not count the message against the rate limit: %s", store_last_error(w->store));
        return RATE_ALLOW; /* the store is sick: answering beats silence */
    }
    return chat_rate_verdict(count, cfg->rate_limit);
}

static void reply_fixed(struct worker *w, const struct job *job, const struct line_event *ev, const char *text)
{
    struct text_parts parts = {0};
    if (format_split(text, strlen(text), LINE_TEXT_MAX_UTF16, LINE_MAX_MESSAGES, "\n(truncated)", &parts) != 0) {
        finish_job(w, job, OUTCOME_FAILED);
        return;
    }
    deliver(w, job, ev, &parts, NULL, true);
    text_parts_free(&parts);
}

/* Asks the model and delivers its answer (or the apology). */
static void answer(struct worker *w, const struct job *job, const struct line_event *ev, const char *text)
{
    const struct config *cfg = w->pool->cfg;
    int64_t now = clock_now_ms();
    int64_t budget = ev->timestamp_ms + LLM_BUDGET_MS - now;
    if (budget > LLM_BUDGET_MS)
        budget = LLM_BUDGET_MS;
    if (choose_mode(cfg, ev, now) == SEND_NONE || (budget < 2000 && !cfg->push_fallback)) {
        log_warn("event is too old to answer (reply token expired, push fallback off)");
        finish_job(w, job, OUTCOME_EXPIRED);
        metrics_failed();
        return;
    }
    if (budget < 2000)
        budget = LLM_BUDGET_MS; /* it will be pushed: no reply token to race */
    int64_t deadline = clock_monotonic_ms() + budget;
    if (w->pool->deadline_ms && deadline > w->pool->deadline_ms - INVOCATION_MARGIN_MS) {
        /* Serverless: the answer must be sent before the platform stops us. */
        deadline = w->pool->deadline_ms - INVOCATION_MARGIN_MS;
        budget = deadline - clock_monotonic_ms();
    }

    /* The animation's request goes out now and runs alongside the model's:
     * nobody waits for LINE's answer to it before asking the model. */
    if (ev->chat_type == CHAT_USER)
        line_loading_begin(&w->line, ev->chat_id, (int)(budget / 1000));

    char *speaker = speaker_name(w, ev);
    struct turn *hist = NULL;
    size_t n_hist = 0;
    int max_context = ev->chat_type == CHAT_USER ? 0 : cfg->group_context;
    if (store_history_load(w->store, ev->chat_id, cfg->history_turns * 2, max_context, &hist, &n_hist) != 0) {
        log_warn("could not load history, answering without it: %s", store_last_error(w->store));
        n_hist = 0;
    }
    char *quoted = NULL;
    if (ev->quoted_message_id && store_message_text(w->store, ev->chat_id, ev->quoted_message_id, &quoted) != 1)
        quoted = NULL;

    struct prompt prompt;
    char *reply_text = NULL;
    bool model_answered = false;
    if (chat_build_prompt(cfg, ev->chat_type, hist, n_hist, speaker, quoted, text, &prompt) == 0) {
        char err[256] = "";
        enum llm_result lr = llm_complete(&w->llm, prompt.messages, prompt.n, deadline, &reply_text, err, sizeof err);
        prompt_free(&prompt);
        if (lr == LLM_CANCELLED) {
            log_info("shutting down: giving the event back to the inbox");
            if (store_job_release(w->store, job->event_id, job->claim_gen) != 0)
                log_warn("could not give the event back; it is taken up again when its lease runs out "
                         "(or at the next start, with SQLite)");
            goto out;
        }
        if (lr == LLM_OK)
            model_answered = true;
        else
            log_warn("model failed, sending the apology: %s", err);
    }
    failpoint(cfg, "worker_after_llm");

    struct text_parts parts = {0};
    const char *shown = model_answered ? reply_text : cfg->error_text;
    if (format_answer(shown, strlen(shown), &parts) != 0 || parts.n == 0) {
        text_parts_free(&parts);
        shown = cfg->error_text;
        if (format_split(shown, strlen(shown), LINE_TEXT_MAX_UTF16, LINE_MAX_MESSAGES, "", &parts) != 0) {
            finish_job(w, job, OUTCOME_FAILED);
            goto out;
        }
        model_answered = false;
    }
    json_t *history = NULL;
    if (model_answered) {
        /* Remember what the user saw, not the raw Markdown. */
        size_t total = 1;
        for (size_t i = 0; i < parts.n; i++)
            total += strlen(parts.parts[i]) + 1;
        char *seen = malloc(total);
        if (seen) {
            seen[0] = '\0';
            for (size_t i = 0; i < parts.n; i++) {
                if (i)
                    strcat(seen, "\n");
                strcat(seen, parts.parts[i]);
            }
            history = json_pack("{s:s?, s:s, s:s}", "speaker", speaker, "text", text, "answer", seen);
            free(seen);
        }
    }
    log_debug("answer: %zu message(s); model %s", parts.n, model_answered ? "answered" : "failed");
    line_loading_end(&w->line); /* before the answer: an animation started after it would linger */
    deliver(w, job, ev, &parts, history, model_answered);
    json_decref(history);
    text_parts_free(&parts);
out:
    line_loading_end(&w->line);
    free(reply_text);
    free(quoted);
    free(speaker);
    turns_free(hist, n_hist);
}

static void process(struct worker *w, const struct job *job)
{
    const struct config *cfg = w->pool->cfg;
    struct line_event ev;
    if (!job->payload || line_event_parse(job->payload, strlen(job->payload), &ev) != 0) {
        log_set_event(job->event_id, NULL);
        log_error("unreadable event in the inbox; dropping it");
        finish_job(w, job, OUTCOME_UNREADABLE);
        return;
    }
    log_set_event(ev.event_id, chat_type_name(ev.chat_type));
    failpoint(cfg, "worker_after_claim");

    if (job->state == JOB_SENDING) {
        resume_sending(w, job, &ev);
        line_event_free(&ev);
        return;
    }

    struct chat_facts facts = {.quotes_bot_message = false};
    if (ev.quoted_message_id && ev.chat_id)
        facts.quotes_bot_message = store_bot_message_is(w->store, ev.chat_id, ev.quoted_message_id) == 1;
    struct chat_decision d;
    if (chat_decide(cfg, &ev, &facts, &d) != 0) {
        log_error("out of memory deciding; the event is retried");
        store_job_release(w->store, job->event_id, job->claim_gen);
        line_event_free(&ev);
        return;
    }
    log_debug("decision: %s", d.reason);

    if (d.rate_limited) {
        enum rate_verdict v = rate_check(w, &ev);
        if (v == RATE_WARN) {
            log_info("rate limit reached: one slow-down reply");
            reply_fixed(w, job, &ev, cfg->slow_down_text);
            goto out;
        }
        if (v == RATE_SILENT) {
            log_info("rate limit reached: silent");
            finish_job(w, job, OUTCOME_RATE_LIMITED);
            goto out;
        }
    }

    switch (d.action) {
    case CHAT_IGNORE:
        finish_job(w, job, OUTCOME_IGNORED);
        break;
    case CHAT_UNSEND:
        if (store_message_delete(w->store, ev.chat_id, ev.unsend_message_id) != 0)
            log_warn("could not delete an unsent message: %s", store_last_error(w->store));
        finish_job(w, job, OUTCOME_UNSENT);
        break;
    case CHAT_EDIT:
        if (store_message_update(w->store, ev.chat_id, ev.message_id, d.text) != 0)
            log_warn("could not update an edited message: %s", store_last_error(w->store));
        finish_job(w, job, OUTCOME_EDITED);
        break;
    case CHAT_FORGET:
        if (store_forget_chat(w->store, ev.chat_id) != 0)
            log_error("could not delete the chat's data: %s", store_last_error(w->store));
        finish_job(w, job, OUTCOME_FORGOTTEN);
        break;
    case CHAT_STORE_CONTEXT: {
        char *speaker = speaker_name(w, &ev);
        struct turn t = {.role = TURN_CONTEXT, .speaker = speaker, .text = d.text,
                         .message_id = ev.message_id, .timestamp_ms = ev.timestamp_ms};
        /* One transaction: the turn, the trim to the newest
         * LINEBOT_GROUP_CONTEXT turns, and "done". */
        int rc = store_context_keep(w->store, job->event_id, job->claim_gen, ev.chat_id, &t, cfg->group_context);
        if (rc < 0) {
            log_warn("could not keep group context: %s", store_last_error(w->store));
            finish_job(w, job, OUTCOME_CONTEXT);
        } else if (rc > 0) {
            log_warn("claim lost before the event could be marked done");
        }
        free(speaker);
        break;
    }
    case CHAT_RESET:
        if (store_history_clear(w->store, ev.chat_id) != 0)
            log_error("could not clear history: %s", store_last_error(w->store));
        reply_fixed(w, job, &ev, d.fixed_text);
        break;
    case CHAT_REPLY_FIXED:
        reply_fixed(w, job, &ev, d.fixed_text);
        break;
    case CHAT_ANSWER:
        answer(w, job, &ev, d.text);
        break;
    }
out:
    chat_decision_free(&d);
    line_event_free(&ev);
}

static void housekeeping(struct worker *w, int64_t *last_purge, int64_t *last_depth)
{
    const struct config *cfg = w->pool->cfg;
    int64_t mono = clock_monotonic_ms();
    int64_t depth;
    /* The gauge is refreshed at most once a second (GET /metrics also reads it). */
    if (w->index == 0 && mono - *last_depth >= 1000) {
        *last_depth = mono;
        if (store_inbox_depth(w->store, &depth) == 0)
            metrics_set_inbox_depth(depth);
    }
    if (w->index != 0 || (*last_purge && mono - *last_purge < PURGE_EVERY_MS))
        return;
    *last_purge = mono;
    int64_t cutoff = clock_now_ms() - (int64_t)cfg->retention_days * 86400000LL;
    if (store_purge(w->store, cutoff, cutoff) != 0)
        log_warn("retention purge failed: %s", store_last_error(w->store));
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct worker_pool *pool = w->pool;
    int64_t last_purge = 0, last_depth = 0;
    unsigned long seen = 0;
    while (!atomic_load(&pool->stopping)) {
        if (pool->deadline_ms && pool->deadline_ms - clock_monotonic_ms() < MIN_JOB_MS) {
            log_info("too little time left in this invocation to start another event");
            break;
        }
        struct job job;
        memset(&job, 0, sizeof job);
        int rc = store_claim_next(w->store, clock_now_ms(), &job);
        if (rc == 1) {
            pthread_mutex_lock(&w->job_lock);
            w->job_event_id = strdup(job.event_id);
            w->job_claim_gen = job.claim_gen;
            pthread_mutex_unlock(&w->job_lock);
            if (!atomic_load(&pool->stopping))
                atomic_store(&w->cancel_job, 0);
            if (pool->request_id[0])
                log_set_request_id(pool->request_id);
            process(w, &job);
            pthread_mutex_lock(&w->job_lock);
            free(w->job_event_id);
            w->job_event_id = NULL;
            pthread_mutex_unlock(&w->job_lock);
            job_free(&job);
            log_clear_context();
            continue;
        }
        if (rc < 0)
            log_error("could not claim work: %s", store_last_error(w->store));
        if (pool->drain)
            break;
        housekeeping(w, &last_purge, &last_depth);
        pthread_mutex_lock(&pool->lock);
        if (seen == pool->wake_seq && !atomic_load(&pool->stopping)) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += (long)(IDLE_WAIT_MS % 1000) * 1000000L;
            until.tv_sec += IDLE_WAIT_MS / 1000 + until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&pool->wake, &pool->lock, &until);
        }
        seen = pool->wake_seq;
        pthread_mutex_unlock(&pool->lock);
    }
    return NULL;
}

/* Renews the lease of every job in progress, so that a slow model never
 * hands a job to another instance. A claim found lost cancels that worker's
 * wait on the model; its fenced writes already keep it from sending. */
static void *lease_keeper_main(void *arg)
{
    struct worker_pool *pool = arg;
    char err[256];
    struct store *store = NULL;
    while (!(store = store_open(pool->cfg->db, err, sizeof err))) {
        log_error("lease keeper cannot open the store, retrying: %s", err);
        for (int i = 0; i < 10 && !atomic_load(&pool->stopping); i++)
            clock_sleep_ms(100);
        if (atomic_load(&pool->stopping))
            return NULL;
    }
    int64_t next = clock_monotonic_ms() + STORE_LEASE_MS / 3;
    while (!atomic_load(&pool->stopping)) {
        /* Sleep until the next renewal; worker_pool_stop's broadcast ends it early. */
        pthread_mutex_lock(&pool->lock);
        if (!atomic_load(&pool->stopping)) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            int64_t wait_ms = next - clock_monotonic_ms();
            if (wait_ms < 0)
                wait_ms = 0;
            until.tv_sec += wait_ms / 1000;
            until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
            until.tv_sec += until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&pool->keeper_wake, &pool->lock, &until);
        }
        pthread_mutex_unlock(&pool->lock);
        if (atomic_load(&pool->stopping) || clock_monotonic_ms() < next)
            continue;
        next = clock_monotonic_ms() + STORE_LEASE_MS / 3;
        for (int i = 0; i < pool->n_workers; i++) {
            struct worker *w = &pool->workers[i];
            char event_id[256] = "";
            int64_t gen = 0;
            pthread_mutex_lock(&w->job_lock);
            if (w->job_event_id)
                snprintf(event_id, sizeof event_id, "%s", w->job_event_id);
            gen = w->job_claim_gen;
            pthread_mutex_unlock(&w->job_lock);
            if (!event_id[0])
                continue;
            int rc = store_job_renew(store, event_id, gen, clock_now_ms());
            if (rc > 0) {
                /* Only if the worker is still on that claim: the job may have
                 * finished (and its claim ended) while we were renewing. */
                pthread_mutex_lock(&w->job_lock);
                bool same = w->job_event_id && strcmp(w->job_event_id, event_id) == 0 && w->job_claim_gen == gen;
                if (same)
                    atomic_store(&w->cancel_job, 1);
                pthread_mutex_unlock(&w->job_lock);
                if (same)
                    log_warn("lease of event %s was lost to another worker: abandoning it", event_id);
            } else if (rc < 0) {
                log_warn("could not renew a lease: %s", store_last_error(store));
            }
        }
    }
    store_close(store);
    return NULL;
}

void worker_pool_notify(void *arg, size_t n_new)
{
    struct worker_pool *pool = arg;
    pthread_mutex_lock(&pool->lock);
    pool->wake_seq++;
    if (n_new >= (size_t)pool->n_workers) {
        pthread_cond_broadcast(&pool->wake);
    } else {
        for (size_t i = 0; i < n_new; i++)
            pthread_cond_signal(&pool->wake);
    }
    pthread_mutex_unlock(&pool->lock);
}

/* Wakes every thread of the pool: it is stopping. */
static void wake_all(struct worker_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->wake_seq++;
    pthread_cond_broadcast(&pool->wake);
    pthread_cond_broadcast(&pool->keeper_wake);
    pthread_mutex_unlock(&pool->lock);
}

static void worker_close(struct worker *w)
{
    if (w->store)
        store_close(w->store);
    if (w->http)
        http_client_free(w->http);
    w->store = NULL;
    w->http = NULL;
}

static int pool_start(struct worker_pool *pool, const struct config *cfg, int n_workers, int drain,
                      int64_t deadline_ms, const char *request_id)
{
    memset(pool, 0, sizeof *pool);
    pool->cfg = cfg;
    snprintf(pool->request_id, sizeof pool->request_id, "%s", request_id ? request_id : "");
    pool->drain = drain;
    pool->deadline_ms = deadline_ms;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->keeper_wake, NULL);
    pool->workers = calloc((size_t)n_workers, sizeof *pool->workers);
    if (!pool->workers)
        return -1;
    pool->n_workers = n_workers;
    for (int i = 0; i < pool->n_workers; i++)
        pthread_mutex_init(&pool->workers[i].job_lock, NULL);
    for (int i = 0; i < pool->n_workers; i++) {
        struct worker *w = &pool->workers[i];
        char err[256];
        w->pool = pool;
        w->index = i;
        w->store = store_open(cfg->db, err, sizeof err);
        /* A worker's writes need an fsync only before a send (see the top of
         * this file): a lost claim or "done" is redone safely. */
        if (w->store && store_relax_durability(w->store) != 0)
            log_warn("worker %d keeps full durability on every write: %s", i, store_last_error(w->store));
        w->http = http_client_new();
        if (!w->store || !w->http) {
            log_error("worker %d could not start: %s", i, w->store ? "out of memory" : err);
            worker_pool_stop(pool);
            return -1;
        }
        /* Sends to LINE are never cancelled: an aborted send would leave its
         * outcome unknown. Only the wait on the model is. */
        w->line = (struct line_api){.cfg = cfg, .http = w->http, .cancel = NULL};
        w->llm = (struct llm_client){.cfg = cfg, .http = w->http, .cancel = &w->cancel_job};
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            log_error("worker %d could not start a thread", i);
            worker_pool_stop(pool);
            return -1;
        }
        w->started = 1;
    }
    if (pthread_create(&pool->keeper, NULL, lease_keeper_main, pool) != 0) {
        log_error("could not start the lease keeper");
        worker_pool_stop(pool);
        return -1;
    }
    pool->keeper_started = 1;
    return 0;
}

int worker_pool_start(struct worker_pool *pool, const struct config *cfg)
{
    return pool_start(pool, cfg, cfg->workers, 0, 0, NULL);
}

int worker_pool_drain(const struct config *cfg, int n_workers, int64_t deadline_ms, const char *request_id)
{
    struct worker_pool pool;
    if (pool_start(&pool, cfg, n_workers > 0 ? n_workers : 1, 1, deadline_ms, request_id) != 0)
        return -1;
    /* Workers leave on their own when nothing is claimable; wait for them,
     * then stop the lease keeper. */
    for (int i = 0; i < pool.n_workers; i++) {
        if (pool.workers[i].started) {
            pthread_join(pool.workers[i].thread, NULL);
            pool.workers[i].started = 0;
        }
    }
    worker_pool_stop(&pool);
    return 0;
}

void worker_pool_stop(struct worker_pool *pool)
{
    atomic_store(&pool->stopping, 1);
    for (int i = 0; i < pool->n_workers; i++)
        atomic_store(&pool->workers[i].cancel_job, 1);
    wake_all(pool);
    for (int i = 0; i < pool->n_workers; i++) {
        struct worker *w = &pool->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        worker_close(w);
    }
    if (pool->keeper_started)
        pthread_join(pool->keeper, NULL);
    for (int i = 0; i < pool->n_workers; i++)
        pthread_mutex_destroy(&pool->workers[i].job_lock);
    free(pool->workers);
    pool->workers = NULL;
    pool->n_workers = 0;
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->keeper_wake);
    pthread_mutex_destroy(&pool->lock);
}
