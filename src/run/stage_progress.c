/* stage_progress.c - slow work: "still working" with a "show the answer" button.
 *
 * LINE's reply token lives about a minute. When the work on an event (the
 * content fetch, a transcription, the model) is still running
 * LINEBOT_PROGRESS_S seconds after the event, a watcher thread spends the
 * token on a short "still working" message whose quick reply button carries
 * the postback data "v1|a|<event id>" (core/postback.h). The data is only an
 * id: store_job_adopt gives the answer only to a postback of the same chat,
 * and only while it waits, so forged or repeated data finds nothing.
 *
 * When the answer is ready, the deliver stage asks progress_end whether the
 * token may have been spent. If so the answer is parked (store_job_park:
 * state `waiting`, in the store, so any instance can deliver it) instead of
 * sent; the tap's postback takes it over and replies with its own, new token
 * (run/stage_deliver.c), so no push quota is used. A tap before the answer is
 * ready waits in the inbox behind the job (one event per chat in progress)
 * and takes the answer over as soon as it is parked. Its token would run out
 * while it waits, so the watcher keeps looking at the chat's waiting events:
 * a tap on this answer's button that is PROGRESS_REFRESH_MS old and still
 * unclaimed is taken out of the inbox (store_inbox_take: it is the watcher's
 * or the claimer's, never both) and its token carries "still working" again
 * with a new button. Parked answers nobody asked for within
 * LINEBOT_PROGRESS_WAIT_S are handed back to the inbox
 * (progress_housekeeping, store_jobs_unpark) and pushed with the event's
 * retry key, or, with push fallback off, dropped with a log line. A server
 * looks every second (run/pool.c); Lambda and FC look on the invocations
 * that drain the inbox (run/serverless.c), as nothing runs between them.
 *
 * A crash or restart while the work runs: the event is worked on again from
 * the start, and its "still working" is sent again at once. LINE refuses the
 * spent token; with push fallback the answer is then pushed, without it the
 * answer is parked all the same, so the first run's button still gets it.
 *
 * The watcher has its own HTTP client (a worker's is not shared between
 * threads), and a store handle of its own only for the waiting taps, after
 * "still working" went out. The job's thread joins it before it delivers,
 * so the two never race for the token. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/postback.h"
#include "core/texts.h"
#include "io/clock.h"
#include "io/http_client.h"
#include "obs/log.h"
#include "run/stage.h"

/* A waiting tap's token gets "still working" again once it is this old;
 * past PROGRESS_REFRESH_LATE_MS it is left alone (too late to use). */
#define PROGRESS_REFRESH_MS 45000
#define PROGRESS_REFRESH_LATE_MS 57000
#define PROGRESS_WATCH_MS 1000 /* how often the waiting taps are looked at */
/* An event's own token is not spent on "still working" past this age: it
 * may be gone, and the answer then goes as it would without the message. */
#define PROGRESS_LATEST_MS 55000

struct progress {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;            /* the job no longer needs the message */
    bool used;            /* the reply token may have been spent */
    bool decided;         /* the watcher has decided whether to send */
    const struct config *cfg;
    int64_t event_ms;     /* the event's timestamp */
    int64_t due_ms;       /* wall clock: when the message goes out */
    char *event_id;
    char *chat_id;
    char *reply_token;
    char *text;
    char *label;
    char data[POSTBACK_ARG_MAX + 8];
};

/* Whether after the refusal `r` of "still working" the answer should try
 * the token as if nothing had been sent. "Invalid reply token" means it
 * expired, or an earlier run of this job (before a crash or restart) spent
 * it on "still working": with push fallback the answer is then pushed at
 * once; without, it is parked, so that the earlier run's button gets it. */
static bool token_unspent(const struct config *cfg, enum line_result r)
{
    if (r == LINE_INVALID_REPLY_TOKEN)
        return cfg->push_fallback;
    return r == LINE_REJECTED || r == LINE_RATE_LIMITED;
}

/* Sends "still working" with the button by `reply_token`; true when LINE
 * took it. */
static bool progress_send(struct progress *p, const char *reply_token)
{
    struct quick_reply qr = {0};
    struct text_parts parts = {0};
    struct http_client *http = http_client_new();
    struct line_api api = {.cfg = p->cfg, .http = http, .cancel = NULL};
    struct line_sent sent = {0};
    char err[512];
    enum line_result r = LINE_REJECTED;
    if (http && quick_reply_add(&qr, p->label, p->data, p->label) == 0) {
        format_split(p->text, strlen(p->text), LINE_TEXT_MAX_UTF16, LINE_MAX_MESSAGES, "", &parts);
        r = line_reply_qr(&api, reply_token, &parts, NULL, &qr, &sent, NULL, err, sizeof err);
    } else {
        snprintf(err, sizeof err, "%s", http ? "the button could not be built" : "no HTTP client");
    }
    if (r != LINE_OK)
        log_warn("could not send \"still working\" (%s): %s", line_result_name(r), err);
    if (r != LINE_OK && token_unspent(p->cfg, r) && reply_token == p->reply_token) {
        pthread_mutex_lock(&p->lock);
        p->used = false;
        pthread_mutex_unlock(&p->lock);
    }
    line_sent_free(&sent);
    text_parts_free(&parts);
    quick_reply_free(&qr);
    http_client_free(http);
    return r == LINE_OK;
}

/* The reply token of a tap on this answer's button that waits in the inbox
 * and is about to run out, taken out of the inbox (malloc'd); NULL: none. */
static char *progress_take_tap(struct progress *p, struct store *st)
{
    char **payloads = NULL;
    size_t n = 0;
    char *token = NULL;
    if (store_chat_waiting_events(st, p->chat_id, 50, &payloads, &n) != 0) {
        log_warn("could not look for taps on \"show the answer\": %s", store_last_error(st));
        return NULL;
    }
    int64_t now = clock_now_ms();
    for (size_t i = 0; i < n; i++) {
        struct line_event ev;
        if (!token && line_event_parse(payloads[i], strlen(payloads[i]), &ev) == 0) {
            const char *target = deliver_adopt_target(&ev);
            int64_t age = event_age_ms(ev.timestamp_ms, now);
            if (target && strcmp(target, p->event_id) == 0 && ev.reply_token && ev.event_id &&
                age >= PROGRESS_REFRESH_MS && age < PROGRESS_REFRESH_LATE_MS) {
                int rc = store_inbox_take(st, ev.event_id, OUTCOME_ANSWERED);
                if (rc == 1)
                    token = xstrdup(ev.reply_token);
                else if (rc < 0)
                    log_warn("could not take a waiting tap: %s", store_last_error(st));
            }
            line_event_free(&ev);
        }
        free(payloads[i]);
    }
    free(payloads);
    return token;
}

/* Waits in steps of `step_ms` until `due_ms` (wall clock) or a stop; called
 * and returns with the lock held. */
static void progress_wait(struct progress *p, int64_t due_ms, int64_t step_ms)
{
    while (!p->stop) {
        int64_t left = due_ms - clock_now_ms();
        if (left <= 0)
            return;
        /* A step at a time: the test build moves the wall clock. */
        if (left > step_ms)
            left = step_ms;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)(left % 1000) * 1000000L;
        until.tv_sec += left / 1000 + until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&p->wake, &p->lock, &until);
    }
}

/* After "still working": until the answer is ready, a tap that waits for it
 * gets "still working" again before its token runs out. The store handle is
 * the watcher's own, opened only now (most answers never get here). */
static void progress_watch_taps(struct progress *p)
{
    struct store *st = NULL;
    char err[256];
    pthread_mutex_lock(&p->lock);
    for (;;) {
        progress_wait(p, clock_now_ms() + PROGRESS_WATCH_MS, PROGRESS_WATCH_MS);
        if (p->stop)
            break;
        pthread_mutex_unlock(&p->lock);
        if (!st && !(st = store_open(p->cfg->db, err, sizeof err))) {
            log_warn("cannot watch for taps on \"show the answer\": %s", err);
            return;
        }
        char *token = progress_take_tap(p, st);
        if (token && progress_send(p, token))
            log_info("a tap is waiting for the answer: sent \"still working\" again with a new button");
        free(token);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    store_close(st);
}

static void *progress_main(void *arg)
{
    struct progress *p = arg;
    log_set_event(p->event_id, NULL);
    pthread_mutex_lock(&p->lock);
    progress_wait(p, p->due_ms, 1000);
    bool send = !p->stop && event_age_ms(p->event_ms, clock_now_ms()) < PROGRESS_LATEST_MS;
    /* Marked before the send: once it may have started, the answer must
     * not try the token (progress_end waits for the send to end). */
    p->used = send;
    p->decided = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    if (send && progress_send(p, p->reply_token)) {
        log_info("work still running %d s after the event: sent \"still working\" with a button for the answer",
                 p->cfg->progress_s);
        progress_watch_taps(p);
    }
    log_clear_context();
    return NULL;
}

static void progress_free(struct progress *p)
{
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    free(p->event_id);
    free(p->chat_id);
    free(p->reply_token);
    free(p->text);
    free(p->label);
    free(p);
}

/* The language of the message: without a store or LINE call of its own
 * (the watcher cannot make one), so LINEBOT_LANG, what gather already chose,
 * or the script of the message. */
static enum lang progress_lang(const struct job_ctx *ctx)
{
    if (ctx->env->cfg->lang != LANG_AUTO)
        return ctx->env->cfg->lang;
    if (ctx->lang_chosen)
        return ctx->lang;
    return texts_lang_of_script(ctx->decided ? ctx->decision.text : NULL);
}

enum stage_result stage_progress(struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    const struct line_event *ev = &ctx->ev;
    if (cfg->progress_s <= 0 || !ctx->use_model || ctx->adopt_id || ctx->resumed || !ev->reply_token ||
        !ev->event_id || !ev->chat_id || ctx->progress ||
        event_age_ms(ev->timestamp_ms, clock_now_ms()) >= PROGRESS_LATEST_MS)
        return STAGE_NEXT;
    struct progress *p = xcalloc(1, sizeof *p);
    if (postback_format(POSTBACK_ANSWER, ev->event_id, p->data, sizeof p->data) != 0) {
        free(p);
        return STAGE_NEXT; /* an id the button cannot carry: the answer goes as before */
    }
    enum lang lang = progress_lang(ctx);
    p->cfg = cfg;
    p->event_ms = ev->timestamp_ms;
    p->due_ms = ev->timestamp_ms + (int64_t)cfg->progress_s * 1000;
    p->event_id = xstrdup(ev->event_id);
    p->chat_id = xstrdup(ev->chat_id);
    p->reply_token = xstrdup(ev->reply_token);
    p->text = xstrdup(texts_get(cfg, TEXT_PROGRESS, lang));
    p->label = xstrdup(texts_get(cfg, TEXT_PROGRESS_BUTTON, lang));
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (pthread_create(&p->thread, NULL, progress_main, p) != 0) {
        log_warn("could not start the \"still working\" watcher; the answer goes as before");
        progress_free(p);
        return STAGE_NEXT;
    }
    ctx->progress = p;
    if (p->due_ms <= clock_now_ms()) {
        /* Claimed late (a backlog, or a run after a restart): the message
         * goes now, before a quick answer can stop it, so that the answer
         * knows whether the token is spent. */
        pthread_mutex_lock(&p->lock);
        while (!p->decided)
            pthread_cond_wait(&p->wake, &p->lock);
        pthread_mutex_unlock(&p->lock);
    }
    return STAGE_NEXT;
}

bool progress_end(struct job_ctx *ctx)
{
    struct progress *p = ctx->progress;
    if (!p)
        return false;
    ctx->progress = NULL;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    bool used = p->used;
    progress_free(p);
    return used;
}

void progress_housekeeping(const struct config *cfg, struct store *store)
{
    /* The button went out LINEBOT_PROGRESS_S after the event. */
    int64_t before = clock_now_ms() - ((int64_t)cfg->progress_s + cfg->progress_wait_s) * 1000;
    int n = store_jobs_unpark(store, before);
    if (n < 0)
        log_warn("could not look for parked answers past their wait: %s", store_last_error(store));
    else if (n > 0)
        log_info("%d parked answer(s) not asked for within LINEBOT_PROGRESS_WAIT_S: %s", n,
                 cfg->push_fallback ? "pushing them" : "dropping them (push fallback is off)");
}
