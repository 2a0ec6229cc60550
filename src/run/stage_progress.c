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
 * One watcher thread serves every job of the process (most answers never
 * need it, so no job starts a thread of its own): it keeps the jobs' entries
 * and wakes when the next one is due. It has its own HTTP client (a
 * worker's is not shared between threads), and a store handle of its own,
 * opened only for the waiting taps after a "still working" went out. A job
 * that ends waits until the watcher is not sending for it, and takes its
 * entry out, so the two never race for the token. The watcher's sends run
 * one at a time: a "still working" is rare and short. */
#include <pthread.h>
#include <stdint.h>
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

/* One job's entry; the fields below `cfg` are the job's, set before the
 * entry is listed; the flags are guarded by the watcher's lock. */
struct progress {
    struct progress *next; /* in the watcher's list */
    bool stop;            /* the job no longer needs the message */
    bool used;            /* the reply token may have been spent */
    bool decided;         /* the watcher has decided whether to send */
    bool sent;            /* "still working" went out: taps are watched */
    bool busy;            /* the watcher works on it, unlocked */
    int64_t next_ms;      /* wall clock: when the watcher next acts on it */
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

/* The watcher: one thread for every job of the process, started with the
 * first entry. */
static struct {
    pthread_once_t once;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t wake;   /* the watcher: a new entry, or one stopped */
    pthread_cond_t idle;   /* jobs: the watcher decided, or left an entry */
    struct progress *list;
    struct http_client *http;
    struct store *store;   /* opened for the first watched taps */
    char *db;              /* LINEBOT_DB of `store` */
} watcher = {.once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
             .idle = PTHREAD_COND_INITIALIZER};

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

/* Sends "still working" with the button by `reply_token` (the watcher,
 * unlocked); true when LINE took it. */
static bool progress_send(struct progress *p, const char *reply_token)
{
    struct quick_reply qr = {0};
    struct text_parts parts = {0};
    if (!watcher.http)
        watcher.http = http_client_new();
    struct line_api api = {.cfg = p->cfg, .http = watcher.http, .cancel = NULL};
    struct line_sent sent = {0};
    char err[512];
    enum line_result r = LINE_REJECTED;
    if (watcher.http && quick_reply_add(&qr, p->label, p->data, p->label) == 0) {
        format_split(p->text, strlen(p->text), LINE_TEXT_MAX_UTF16, LINE_MAX_MESSAGES, "", &parts);
        r = line_reply_qr(&api, reply_token, &parts, NULL, &qr, &sent, NULL, err, sizeof err);
    } else {
        snprintf(err, sizeof err, "%s", watcher.http ? "the button could not be built" : "no HTTP client");
    }
    if (r != LINE_OK)
        log_warn("could not send \"still working\" (%s): %s", line_result_name(r), err);
    if (r != LINE_OK && token_unspent(p->cfg, r) && reply_token == p->reply_token) {
        pthread_mutex_lock(&watcher.lock);
        p->used = false;
        pthread_mutex_unlock(&watcher.lock);
    }
    line_sent_free(&sent);
    text_parts_free(&parts);
    quick_reply_free(&qr);
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

/* After "still working": until the answer is ready, a tap that waits for it
 * gets "still working" again before its token runs out. */
static void progress_watch_taps(struct progress *p)
{
    char err[256];
    if (watcher.store && strcmp(watcher.db, p->cfg->db) != 0) {
        store_close(watcher.store);
        watcher.store = NULL;
    }
    if (!watcher.store) {
        if (!(watcher.store = store_open(p->cfg->db, err, sizeof err))) {
            log_warn("cannot watch for taps on \"show the answer\": %s", err);
            return;
        }
        free(watcher.db);
        watcher.db = xstrdup(p->cfg->db);
    }
    char *token = progress_take_tap(p, watcher.store);
    if (token && progress_send(p, token))
        log_info("a tap is waiting for the answer: sent \"still working\" again with a new button");
    free(token);
}

/* What the watcher does for an entry that is due (called and returns with
 * the lock held; unlocked while it sends). */
static void progress_act(struct progress *p)
{
    bool first = !p->decided;
    if (first) {
        bool send = !p->stop && event_age_ms(p->event_ms, clock_now_ms()) < PROGRESS_LATEST_MS;
        /* Marked before the send: once it may have started, the answer must
         * not try the token (progress_end waits for the send to end). */
        p->used = send;
        p->decided = true;
        pthread_cond_broadcast(&watcher.idle);
        if (!send) {
            p->next_ms = INT64_MAX;
            return;
        }
    }
    p->busy = true;
    pthread_mutex_unlock(&watcher.lock);
    log_set_event(p->event_id, NULL);
    bool sent = p->sent;
    if (first && progress_send(p, p->reply_token)) {
        log_info("work still running %d s after the event: sent \"still working\" with a button for the answer",
                 p->cfg->progress_s);
        sent = true;
    } else if (!first) {
        progress_watch_taps(p);
    }
    log_clear_context();
    pthread_mutex_lock(&watcher.lock);
    p->busy = false;
    p->sent = sent;
    p->next_ms = sent ? clock_now_ms() + PROGRESS_WATCH_MS : INT64_MAX;
    pthread_cond_broadcast(&watcher.idle);
}

static void *progress_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&watcher.lock);
    for (;;) {
        struct progress *due = NULL;
        for (struct progress *p = watcher.list; p; p = p->next)
            if (!p->stop && (!due || p->next_ms < due->next_ms))
                due = p;
        int64_t left = due ? due->next_ms - clock_now_ms() : INT64_MAX;
        if (left <= 0) {
            progress_act(due);
            continue;
        }
        /* A second at a time at most: the test build moves the wall clock. */
        if (left > 1000)
            left = 1000;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)(left % 1000) * 1000000L;
        until.tv_sec += left / 1000 + until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&watcher.wake, &watcher.lock, &until);
    }
    return NULL;
}

static void progress_start(void)
{
    pthread_attr_t attr;
    pthread_t thread;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    watcher.started = pthread_create(&thread, &attr, progress_main, NULL) == 0;
    pthread_attr_destroy(&attr);
}

static void progress_free(struct progress *p)
{
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
    p->next_ms = p->due_ms;
    pthread_once(&watcher.once, progress_start);
    if (!watcher.started) {
        log_warn("could not start the \"still working\" watcher; the answer goes as before");
        progress_free(p);
        return STAGE_NEXT;
    }
    pthread_mutex_lock(&watcher.lock);
    p->next = watcher.list;
    watcher.list = p;
    ctx->progress = p;
    pthread_cond_signal(&watcher.wake);
    /* Claimed late (a backlog, or a run after a restart): the message goes
     * now, before a quick answer can stop it, so that the answer knows
     * whether the token is spent. */
    while (p->due_ms <= clock_now_ms() && !p->decided)
        pthread_cond_wait(&watcher.idle, &watcher.lock);
    pthread_mutex_unlock(&watcher.lock);
    return STAGE_NEXT;
}

bool progress_end(struct job_ctx *ctx)
{
    struct progress *p = ctx->progress;
    if (!p)
        return false;
    ctx->progress = NULL;
    pthread_mutex_lock(&watcher.lock);
    p->stop = true;
    while (p->busy)
        pthread_cond_wait(&watcher.idle, &watcher.lock);
    for (struct progress **pp = &watcher.list; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    bool used = p->used;
    pthread_mutex_unlock(&watcher.lock);
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
