/* store.c - the public store API: picks a backend by URL and dispatches to it.
 *
 * Every store_* function of store.h lives here. It checks its arguments once
 * (the store is fed by webhook data, so nothing is trusted), normalises the
 * optional strings, and calls the backend through st->ops. The contract
 * between this file and the backends is in store_backend.h; the backends do
 * the storage and nothing else.
 */
#include "io/store_backend.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"
#include "io/clock.h"

/* A backend's failure: also remembered for store_probe_write. */
void store_set_error(struct store *st, const char *fmt, ...)
{
    va_list ap;

    if (!st)
        return;
    va_start(ap, fmt);
    vsnprintf(st->error, sizeof st->error, fmt, ap);
    va_end(ap);
    st->failed_since_probe = true;
    memcpy(st->failure, st->error, sizeof st->failure);
}

/* A call refused for its arguments: says why, and says nothing about the
 * store's health. */
int store_invalid(struct store *st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(st->error, sizeof st->error, fmt, ap);
    va_end(ap);
    return -1;
}

static void copy_error(char *err, size_t errlen, const char *msg)
{
    if (err && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* True when `url` starts with "scheme://" (letters, digits, + - .). */
static bool has_scheme(const char *url)
{
    const char *p = url;

    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '-' || *p == '.')
        p++;
    return p > url && strncmp(p, "://", 3) == 0;
}

/* Never echoes the URL into `err`: a postgres:// URL may carry a password. */
struct store *store_open(const char *url, char *err, size_t errlen)
{
    struct store *st;
    const char *location;
    bool is_uri = false, is_pg = false;

    if (!url || !*url) {
        copy_error(err, errlen, "store: no database given (a file path, sqlite:PATH or postgres://...)");
        return NULL;
    }
    if (has_prefix(url, "postgres://") || has_prefix(url, "postgresql://")) {
        is_pg = true;
        location = url;
    } else if (has_prefix(url, "sqlite:")) {
        location = url + strlen("sqlite:");
        if (strncmp(location, "//", 2) == 0) /* sqlite:///abs/path, sqlite://rel/path */
            location += 2;
    } else if (has_prefix(url, "file:")) {
        location = url;
        is_uri = true;
    } else if (has_scheme(url)) {
        copy_error(err, errlen, "store: unsupported URL scheme (use a file path, sqlite:PATH or postgres://...)");
        return NULL;
    } else {
        location = url;
    }
    if (!*location) {
        copy_error(err, errlen, "store: sqlite: needs a file path");
        return NULL;
    }

    st = xcalloc(1, sizeof *st);
    if ((is_pg ? store_pg_open(st, url) : store_sqlite_open(st, location, is_uri)) != 0) {
        copy_error(err, errlen, st->error[0] ? st->error : "store: cannot open the database");
        free(st);
        return NULL;
    }
    if (err && errlen > 0)
        err[0] = '\0';
    return st;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    if (st->ops)
        st->ops->close(st);
    free(st);
}

const char *store_last_error(struct store *st)
{
    if (!st)
        return "store: no store handle";
    return st->error;
}

/* A probe older than STORE_PROBE_EVERY_MS (or one "in the future": the
 * caller's clock went back) is redone. Until then its result stands, except
 * that a call of this handle that failed since (a webhook's inbox write, say)
 * turns a success into a failure: the store just failed, whatever it did a
 * moment before. */
int store_probe_write(struct store *st, int64_t now_ms)
{
    if (!st)
        return -1;
    if (st->probed && now_ms >= st->probe_at_ms &&
        (uint64_t)now_ms - (uint64_t)st->probe_at_ms < STORE_PROBE_EVERY_MS) {
        if (st->probe_rc != 0)
            return store_invalid(st, "%s", st->probe_error);
        if (st->failed_since_probe)
            return store_invalid(st, "%s", st->failure);
        return 0;
    }
    st->probed = true;
    st->probe_at_ms = now_ms;
    st->probe_rc = st->ops->probe_write(st, clock_now_ms()) == 0 ? 0 : -1;
    st->failed_since_probe = false;
    snprintf(st->probe_error, sizeof st->probe_error, "%s", st->probe_rc ? st->error : "");
    return st->probe_rc;
}

int store_ping(struct store *st)
{
    return store_probe_write(st, clock_monotonic_ms());
}

/* Sets an error naming the missing argument and returns -1. */
static int missing(struct store *st, const char *what, const char *name)
{
    return store_invalid(st, "store: %s: %s is missing", what, name);
}

/* ---- inbox ---- */

int store_inbox_add(struct store *st, struct inbox_item *items, size_t n, size_t *n_new)
{
    size_t unused;

    if (n_new)
        *n_new = 0;
    if (!st)
        return -1;
    if (n == 0)
        return 0;
    if (!items)
        return missing(st, "inbox add", "items");
    for (size_t i = 0; i < n; i++) {
        if (!items[i].event_id || !items[i].payload) {
            return store_invalid(st, "store: inbox add: item %zu has no %s", i,
                                 items[i].event_id ? "payload" : "event_id");
        }
    }
    return st->ops->inbox_add(st, items, n, n_new ? n_new : &unused);
}

int store_inbox_forget(struct store *st, const char *const *event_ids, size_t n)
{
    if (!st)
        return -1;
    if (n > 0 && !event_ids)
        return missing(st, "inbox forget", "event_ids");
    for (size_t i = 0; i < n; i++)
        if (!event_ids[i])
            return missing(st, "inbox forget", "event_id");
    return n ? st->ops->inbox_forget(st, event_ids, n) : 0;
}

int store_inbox_depth(struct store *st, int64_t *depth)
{
    if (!st)
        return -1;
    if (!depth)
        return missing(st, "inbox depth", "depth");
    *depth = 0;
    return st->ops->inbox_depth(st, depth);
}

void job_free(struct job *job)
{
    if (!job)
        return;
    free(job->event_id);
    free(job->kind);
    free(job->chat_id);
    free(job->payload);
    free(job->answer);
    memset(job, 0, sizeof *job);
}

int store_claim_next(struct store *st, int64_t now_ms, struct job *job)
{
    if (!st)
        return -1;
    if (!job)
        return missing(st, "claim", "job");
    memset(job, 0, sizeof *job);
    return st->ops->claim_next(st, now_ms, job);
}

int store_job_sending(struct store *st, const char *event_id, int64_t claim_gen,
                      const char *answer)
{
    if (!st)
        return -1;
    if (!event_id)
        return missing(st, "job sending", "event_id");
    if (!answer)
        return missing(st, "job sending", "answer");
    return st->ops->job_sending(st, event_id, claim_gen, answer);
}


int store_job_renew(struct store *st, const char *event_id, int64_t claim_gen, int64_t now_ms)
{
    if (!st)
        return -1;
    if (!event_id)
        return missing(st, "job renew", "event_id");
    return st->ops->job_renew(st, event_id, claim_gen, now_ms);
}

int store_job_release(struct store *st, const char *event_id, int64_t claim_gen)
{
    if (!st)
        return -1;
    if (!event_id)
        return missing(st, "job release", "event_id");
    return st->ops->job_release(st, event_id, claim_gen);
}

int store_recover(struct store *st)
{
    if (!st)
        return -1;
    return st->ops->recover(st);
}

/* ---- history ---- */

int store_bot_message_is(struct store *st, const char *chat_id, const char *message_id)
{
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "bot message lookup", "chat_id");
    if (!message_id)
        return 0;
    return st->ops->bot_message_is(st, chat_id, message_id);
}

void turns_free(struct turn *turns, size_t n)
{
    if (!turns)
        return;
    for (size_t i = 0; i < n; i++) {
        free(turns[i].speaker);
        free(turns[i].user_id);
        free(turns[i].text);
        free(turns[i].message_id);
    }
    free(turns);
}

int store_history_load(struct store *st, const char *chat_id, int max_turns, int max_context,
                       struct turn **turns, size_t *n)
{
    if (turns)
        *turns = NULL;
    if (n)
        *n = 0;
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "history load", "chat_id");
    if (!turns || !n)
        return missing(st, "history load", "turns");
    return st->ops->history_load(st, chat_id, max_turns > 0 ? max_turns : 0,
                                 max_context > 0 ? max_context : 0, turns, n);
}

int store_chat_waiting_events(struct store *st, const char *chat_id, size_t max, char ***payloads, size_t *n)
{
    if (payloads)
        *payloads = NULL;
    if (n)
        *n = 0;
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "waiting events", "chat_id");
    if (!payloads || !n)
        return missing(st, "waiting events", "payloads");
    if (max == 0)
        return 0;
    return st->ops->chat_waiting_events(st, chat_id, max > 1000 ? 1000 : max, payloads, n);
}

int store_message_text(struct store *st, const char *chat_id, const char *message_id, char **text)
{
    if (text)
        *text = NULL;
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "message text", "chat_id");
    if (!text)
        return missing(st, "message text", "text");
    if (!message_id)
        return 0;
    return st->ops->message_text(st, chat_id, message_id, text);
}

int store_message_delete(struct store *st, const char *chat_id, const char *message_id)
{
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "message delete", "chat_id");
    if (!message_id)
        return 0;
    return st->ops->message_delete(st, chat_id, message_id);
}

int store_message_update(struct store *st, const char *chat_id, const char *message_id,
                         const char *text)
{
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "message update", "chat_id");
    if (!message_id)
        return 0;
    return st->ops->message_update(st, chat_id, message_id, text ? text : "");
}

int store_history_clear(struct store *st, const char *chat_id)
{
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "history clear", "chat_id");
    return st->ops->history_clear(st, chat_id);
}

int store_forget_chat(struct store *st, const char *chat_id)
{
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "forget chat", "chat_id");
    return st->ops->forget_chat(st, chat_id);
}

/* ---- profiles ---- */

int store_profile_get(struct store *st, const char *chat_id, const char *user_id,
                      int64_t fresh_after_ms, char **display_name, char **language)
{
    if (display_name)
        *display_name = NULL;
    if (language)
        *language = NULL;
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "profile get", "chat_id");
    if (!user_id)
        return missing(st, "profile get", "user_id");
    if (!display_name)
        return missing(st, "profile get", "display_name");
    return st->ops->profile_get(st, chat_id, user_id, fresh_after_ms, display_name, language);
}

int store_profile_put(struct store *st, const char *chat_id, const char *user_id,
                      const char *display_name, const char *language, int64_t now_ms)
{
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "profile put", "chat_id");
    if (!user_id)
        return missing(st, "profile put", "user_id");
    return st->ops->profile_put(st, chat_id, user_id, display_name ? display_name : "", language, now_ms);
}

/* ---- the model a chat uses ---- */

int store_chat_model_get(struct store *st, const char *chat_id, char **model)
{
    if (model)
        *model = NULL;
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "chat model get", "chat_id");
    if (!model)
        return missing(st, "chat model get", "model");
    return st->ops->chat_model_get(st, chat_id, model);
}

int store_chat_model_set(struct store *st, const char *chat_id, const char *model, int64_t now_ms)
{
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "chat model set", "chat_id");
    if (!model)
        return missing(st, "chat model set", "model");
    return st->ops->chat_model_set(st, chat_id, model, now_ms);
}

/* ---- the persona a chat uses ---- */

int store_chat_persona_get(struct store *st, const char *chat_id, char **preset, char **custom)
{
    if (preset)
        *preset = NULL;
    if (custom)
        *custom = NULL;
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "chat persona get", "chat_id");
    if (!preset || !custom)
        return missing(st, "chat persona get", preset ? "custom" : "preset");
    int rc = st->ops->chat_persona_get(st, chat_id, preset, custom);
    if (rc == 1 && *preset && *custom) { /* the schema allows one; read the preset */
        free(*custom);
        *custom = NULL;
    }
    return rc;
}

int store_chat_persona_set(struct store *st, const char *chat_id, const char *preset, const char *custom,
                           int64_t now_ms)
{
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "chat persona set", "chat_id");
    if (preset && custom)
        return store_invalid(st, "store: chat persona set: a preset or a custom text, not both");
    return st->ops->chat_persona_set(st, chat_id, preset, custom, now_ms);
}

/* ---- daily token budgets ---- */

int store_usage_day(struct store *st, const char *user_id, const char *chat_id, int64_t day, int64_t *user_tokens,
                    int64_t *chat_tokens)
{
    if (user_tokens)
        *user_tokens = 0;
    if (chat_tokens)
        *chat_tokens = 0;
    if (!st)
        return -1;
    if (!user_id || !chat_id)
        return missing(st, "usage day", "user_id or chat_id");
    if (!user_tokens || !chat_tokens)
        return missing(st, "usage day", "totals");
    return st->ops->usage_day(st, user_id, chat_id, day, user_tokens, chat_tokens);
}

int store_budget_notice(struct store *st, const char *subject, int64_t day, const char *event_id, int64_t now_ms)
{
    if (!st)
        return -1;
    if (!subject || !event_id)
        return missing(st, "budget notice", "subject or event_id");
    return st->ops->budget_notice(st, subject, day, event_id, now_ms);
}

int store_purge(struct store *st, int64_t before_ms, int64_t dedup_before_ms)
{
    if (!st)
        return -1;
    return st->ops->purge(st, before_ms, dedup_before_ms, clock_now_ms());
}

bool store_url_is_shared(const char *url)
{
    return url && (strncasecmp(url, "postgres://", 11) == 0 || strncasecmp(url, "postgresql://", 13) == 0);
}

int store_relax_durability(struct store *st)
{
    if (!st)
        return -1;
    return st->ops->relax_durability ? st->ops->relax_durability(st) : 0;
}

/* ---- shared row mapping ---- */

const char *store_role_name(enum turn_role role)
{
    switch (role) {
    case TURN_USER: return "user";
    case TURN_ASSISTANT: return "assistant";
    case TURN_CONTEXT: return "context";
    }
    return "context";
}

enum turn_role store_role_parse(const char *name)
{
    if (name && strcmp(name, "user") == 0)
        return TURN_USER;
    if (name && strcmp(name, "assistant") == 0)
        return TURN_ASSISTANT;
    return TURN_CONTEXT;
}

enum job_state store_claimed_state(const char *name)
{
    return name && strcmp(name, "sending") == 0 ? JOB_SENDING : JOB_PENDING;
}

bool store_usage_known(const struct job_finish *finish, int64_t value)
{
    return finish->model && value >= 0;
}

/* The names the inbox's `outcome` column holds, in enum order. The words of
 * the release before issue 9 ("answered", "ignored", ...) are kept. */
static const char *const outcome_names[] = {
    [OUTCOME_ANSWERED] = "answered",         [OUTCOME_APOLOGIZED] = "apologized",
    [OUTCOME_IGNORED] = "ignored",           [OUTCOME_CONTEXT] = "context",
    [OUTCOME_RATE_LIMITED] = "rate_limited", [OUTCOME_UNSENT] = "unsent",
    [OUTCOME_EDITED] = "edited",             [OUTCOME_FORGOTTEN] = "forgotten",
    [OUTCOME_EXPIRED] = "expired",           [OUTCOME_FAILED] = "failed",
    [OUTCOME_UNKNOWN] = "unknown",           [OUTCOME_UNREADABLE] = "unreadable",
    [OUTCOME_HANDED_OVER] = "handed_over",   [OUTCOME_UNSUPPORTED] = "unsupported",
    [OUTCOME_OVER_BUDGET] = "over_budget",
};
#define N_OUTCOMES (sizeof outcome_names / sizeof outcome_names[0])

const char *job_outcome_name(enum job_outcome outcome)
{
    if ((size_t)outcome >= N_OUTCOMES || !outcome_names[outcome])
        return "unknown";
    return outcome_names[outcome];
}

int job_outcome_parse(const char *name, enum job_outcome *outcome)
{
    if (!name || !outcome)
        return -1;
    for (size_t i = 0; i < N_OUTCOMES; i++) {
        if (outcome_names[i] && strcmp(outcome_names[i], name) == 0) {
            *outcome = (enum job_outcome)i;
            return 0;
        }
    }
    return -1;
}

/* ---- operations per use case ---- */

static bool role_valid(enum turn_role role)
{
    return role == TURN_USER || role == TURN_ASSISTANT || role == TURN_CONTEXT;
}

/* What every finish (store_job_finish and the memory and summary jobs'
 * finishes) records whatever the job was: a known outcome and, when there is
 * one, a charge the usage table takes (its columns are NOT NULL). Returns 0,
 * or -1 with the error set. */
static int finish_check(struct store *st, const char *what, const struct job_finish *finish)
{
    if ((size_t)finish->outcome >= N_OUTCOMES)
        return store_invalid(st, "store: %s: unknown outcome %d", what, (int)finish->outcome);
    const struct store_charge *c = finish->charge;
    if (c && (!c->user_id || !c->chat_id || !c->model))
        return missing(st, what, "charge user, chat or model");
    if (c && (c->prompt_tokens < 0 || c->completion_tokens < 0))
        return store_invalid(st, "store: %s: a charge of negative tokens", what);
    return 0;
}

int store_job_finish(struct store *st, const char *event_id, int64_t claim_gen, const struct job_finish *finish)
{
    if (!st)
        return -1;
    if (!event_id)
        return missing(st, "job finish", "event_id");
    if (!finish)
        return missing(st, "job finish", "finish");
    if (finish_check(st, "job finish", finish) != 0)
        return -1;
    if (finish->n_turns > 0 && !finish->turns)
        return missing(st, "job finish", "turns");
    if (finish->n_sent > 0 && !finish->sent_ids)
        return missing(st, "job finish", "sent_ids");
    for (size_t i = 0; i < finish->n_turns; i++) {
        if (!role_valid(finish->turns[i].role)) {
            return store_invalid(st, "store: job finish: turn %zu has an unknown role %d", i,
                           (int)finish->turns[i].role);
        }
        if (!finish->turns[i].text)
            return missing(st, "job finish", "turn text");
    }
    for (size_t i = 0; i < finish->n_sent; i++)
        if (!finish->sent_ids[i])
            return missing(st, "job finish", "sent id");
    return st->ops->job_finish(st, event_id, claim_gen, finish, clock_now_ms());
}

int store_context_keep(struct store *st, const char *event_id, int64_t claim_gen, const char *chat_id,
                       const struct turn *turn, int keep)
{
    struct turn t;

    if (!st)
        return -1;
    if (!event_id)
        return missing(st, "context keep", "event_id");
    if (!chat_id)
        return missing(st, "context keep", "chat_id");
    if (!turn)
        return missing(st, "context keep", "turn");
    if (!role_valid(turn->role)) {
        return store_invalid(st, "store: context keep: unknown turn role %d", (int)turn->role);
    }
    t = *turn;
    if (!t.text)
        t.text = (char *)"";
    return st->ops->context_keep(st, event_id, claim_gen, chat_id, &t, keep > 0 ? keep : 0, clock_now_ms());
}

int store_rate_count(struct store *st, const char *user_id, int64_t now_ms, int64_t *count)
{
    if (count)
        *count = 0;
    if (!st)
        return -1;
    if (!user_id)
        return missing(st, "rate count", "user_id");
    if (!count)
        return missing(st, "rate count", "count");
    return st->ops->rate_count(st, user_id, now_ms, count);
}

int store_rate_peek(struct store *st, const char *user_id, int64_t now_ms, int64_t *count)
{
    if (count)
        *count = 0;
    if (!st)
        return -1;
    if (!user_id)
        return missing(st, "rate peek", "user_id");
    if (!count)
        return missing(st, "rate peek", "count");
    return st->ops->rate_peek(st, user_id, now_ms, count);
}

int store_task_add(struct store *st, const char *kind, const char *key, const char *chat_id,
                   const char *payload, int64_t now_ms)
{
    char *event_id;
    int rc;

    if (!st)
        return -1;
    if (!kind || !*kind)
        return missing(st, "task add", "kind");
    if (!key)
        return missing(st, "task add", "key");
    if (!payload)
        return missing(st, "task add", "payload");
    /* "task:<kind>:<key>": a kind with a ':' could make two (kind, key)
     * pairs one id, so it is refused. */
    if (strchr(kind, ':')) {
        return store_invalid(st, "store: task add: a kind may not contain ':'");
    }
    event_id = xasprintf("task:%s:%s", kind, key);
    rc = st->ops->task_add(st, event_id, kind, chat_id ? chat_id : "", payload, now_ms);
    free(event_id);
    return rc;
}

int store_job_park(struct store *st, const char *event_id, int64_t claim_gen, const char *answer)
{
    if (!st)
        return -1;
    if (!event_id)
        return missing(st, "job park", "event_id");
    if (!answer)
        return missing(st, "job park", "answer");
    return st->ops->job_park(st, event_id, claim_gen, answer);
}

int store_jobs_unpark(struct store *st, int64_t before_ms)
{
    return st ? st->ops->jobs_unpark(st, before_ms) : -1;
}

int store_inbox_take(struct store *st, const char *event_id, enum job_outcome outcome)
{
    if (!st)
        return -1;
    if (!event_id)
        return missing(st, "inbox take", "event_id");
    return st->ops->inbox_take(st, event_id, job_outcome_name(outcome), clock_now_ms());
}

int store_job_adopt(struct store *st, const char *event_id, int64_t claim_gen, const char *parked_event_id,
                    char **answer)
{
    if (answer)
        *answer = NULL;
    if (!st)
        return -1;
    if (!event_id)
        return missing(st, "job adopt", "event_id");
    if (!parked_event_id)
        return missing(st, "job adopt", "parked_event_id");
    if (!answer)
        return missing(st, "job adopt", "answer");
    return st->ops->job_adopt(st, event_id, claim_gen, parked_event_id, clock_now_ms(), answer);
}

/* ---- for the operator (linebot admin) ---- */

void store_day_stats_free(struct store_day_stats *rows, size_t n)
{
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++)
        free(rows[i].model);
    free(rows);
}

void store_chat_info_free(struct store_chat_info *rows, size_t n)
{
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++) {
        free(rows[i].chat_id);
        free(rows[i].model);
        free(rows[i].persona);
    }
    free(rows);
}

int store_admin_stats(struct store *st, struct store_day_stats **rows, size_t *n)
{
    if (rows)
        *rows = NULL;
    if (n)
        *n = 0;
    if (!st)
        return -1;
    if (!rows || !n)
        return missing(st, "admin stats", "rows");
    return st->ops->admin_stats(st, rows, n);
}

int store_admin_chats(struct store *st, const char *chat_id, struct store_chat_info **rows, size_t *n)
{
    if (rows)
        *rows = NULL;
    if (n)
        *n = 0;
    if (!st)
        return -1;
    if (!rows || !n)
        return missing(st, "admin chats", "rows");
    return st->ops->admin_chats(st, chat_id, rows, n);
}

int store_admin_history(struct store *st, const char *chat_id, struct turn **turns, size_t *n)
{
    if (turns)
        *turns = NULL;
    if (n)
        *n = 0;
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "admin history", "chat_id");
    if (!turns || !n)
        return missing(st, "admin history", "turns");
    return st->ops->admin_history(st, chat_id, turns, n);
}

int store_admin_forget(struct store *st, const char *id, struct store_forget_counts *counts)
{
    if (counts)
        memset(counts, 0, sizeof *counts);
    if (!st)
        return -1;
    if (!id || !*id)
        return missing(st, "admin forget", "id");
    if (!counts)
        return missing(st, "admin forget", "counts");
    return st->ops->admin_forget(st, id, counts);
}

/* ---- memory of the user (issue 11) ---- */

void memory_facts_free(struct memory_fact *facts, size_t n)
{
    if (!facts)
        return;
    for (size_t i = 0; i < n; i++) {
        free(facts[i].text);
        free(facts[i].chat_id);
        free(facts[i].message_id);
    }
    free(facts);
}

void memory_due_free(char **users, int64_t *last_seqs, size_t n)
{
    for (size_t i = 0; users && i < n; i++)
        free(users[i]);
    free(users);
    free(last_seqs);
}

int store_memory_facts(struct store *st, const char *user_id, struct memory_fact **facts, size_t *n)
{
    if (facts)
        *facts = NULL;
    if (n)
        *n = 0;
    if (!st)
        return -1;
    if (!user_id)
        return missing(st, "memory facts", "user_id");
    if (!facts || !n)
        return missing(st, "memory facts", "facts");
    return st->ops->memory_facts(st, user_id, facts, n);
}

int store_memory_add(struct store *st, const char *user_id, const char *chat_id, const char *message_id,
                     const char *text, int64_t now_ms)
{
    if (!st)
        return -1;
    if (!user_id)
        return missing(st, "memory add", "user_id");
    if (!text)
        return missing(st, "memory add", "text");
    return st->ops->memory_add(st, user_id, chat_id ? chat_id : "", message_id, text, now_ms);
}

int store_memory_forget(struct store *st, const char *user_id, int64_t fact_id)
{
    if (!st)
        return -1;
    if (!user_id)
        return missing(st, "memory forget", "user_id");
    if (fact_id < 0)
        return store_invalid(st, "store: memory forget: no fact has id %" PRId64, fact_id);
    return st->ops->memory_forget(st, user_id, fact_id);
}

int store_memory_user(struct store *st, const char *user_id, struct memory_user *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!st)
        return -1;
    if (!user_id)
        return missing(st, "memory user", "user_id");
    if (!out)
        return missing(st, "memory user", "out");
    return st->ops->memory_user(st, user_id, out);
}

int store_memory_opt_out(struct store *st, const char *user_id, bool opted_out, int64_t now_ms)
{
    if (!st)
        return -1;
    if (!user_id)
        return missing(st, "memory opt out", "user_id");
    return st->ops->memory_opt_out(st, user_id, opted_out, now_ms);
}

int store_memory_tell(struct store *st, const char *user_id, int64_t now_ms)
{
    if (!st)
        return -1;
    if (!user_id)
        return missing(st, "memory tell", "user_id");
    return st->ops->memory_tell(st, user_id, now_ms);
}

int store_memory_turns(struct store *st, const char *user_id, int64_t after_seq, int64_t upto_seq, int max,
                       struct turn **turns, size_t *n)
{
    if (turns)
        *turns = NULL;
    if (n)
        *n = 0;
    if (!st)
        return -1;
    if (!user_id)
        return missing(st, "memory turns", "user_id");
    if (!turns || !n)
        return missing(st, "memory turns", "turns");
    return st->ops->memory_turns(st, user_id, after_seq, upto_seq, max < 0 ? 0 : max, turns, n);
}

int store_memory_idle(struct store *st, int64_t idle_before_ms, int max, char ***users, int64_t **last_seqs,
                      size_t *n)
{
    if (users)
        *users = NULL;
    if (last_seqs)
        *last_seqs = NULL;
    if (n)
        *n = 0;
    if (!st)
        return -1;
    if (!users || !last_seqs || !n)
        return missing(st, "memory idle", "users");
    return st->ops->memory_idle(st, idle_before_ms, max < 0 ? 0 : max, users, last_seqs, n);
}

int store_memory_job_finish(struct store *st, const char *event_id, int64_t claim_gen, const char *user_id,
                            const struct memory_new *facts, size_t n, int64_t upto_seq,
                            const struct job_finish *finish)
{
    if (!st)
        return -1;
    if (!event_id)
        return missing(st, "memory job finish", "event_id");
    if (!user_id)
        return missing(st, "memory job finish", "user_id");
    if (!finish)
        return missing(st, "memory job finish", "finish");
    if (finish_check(st, "memory job finish", finish) != 0)
        return -1;
    if (finish->n_turns || finish->n_sent)
        return store_invalid(st, "store: memory job finish: an extraction has no turns nor sent messages");
    if (n > 0 && !facts)
        return missing(st, "memory job finish", "facts");
    for (size_t i = 0; i < n; i++)
        if (!facts[i].text)
            return missing(st, "memory job finish", "fact text");
    return st->ops->memory_job_finish(st, event_id, claim_gen, user_id, facts, n, upto_seq, finish,
                                      clock_now_ms());
}

/* ---- the rolling summary (issue 11) ---- */

int store_summary_get(struct store *st, const char *chat_id, char **summary, int64_t *upto_seq)
{
    if (summary)
        *summary = NULL;
    if (upto_seq)
        *upto_seq = 0;
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "summary get", "chat_id");
    if (!summary || !upto_seq)
        return missing(st, "summary get", "summary");
    return st->ops->summary_get(st, chat_id, summary, upto_seq);
}

int store_summary_turns(struct store *st, const char *chat_id, int max, struct turn **turns, int64_t **seqs,
                        size_t *n)
{
    if (turns)
        *turns = NULL;
    if (seqs)
        *seqs = NULL;
    if (n)
        *n = 0;
    if (!st)
        return -1;
    if (!chat_id)
        return missing(st, "summary turns", "chat_id");
    if (!turns || !seqs || !n)
        return missing(st, "summary turns", "turns");
    return st->ops->summary_turns(st, chat_id, max < 0 ? 0 : max, turns, seqs, n);
}

int store_summary_job_finish(struct store *st, const char *event_id, int64_t claim_gen, const char *chat_id,
                             const char *summary, int64_t upto_seq, const struct job_finish *finish)
{
    if (!st)
        return -1;
    if (!event_id)
        return missing(st, "summary job finish", "event_id");
    if (!chat_id)
        return missing(st, "summary job finish", "chat_id");
    if (!summary)
        return missing(st, "summary job finish", "summary");
    if (!finish)
        return missing(st, "summary job finish", "finish");
    if (finish_check(st, "summary job finish", finish) != 0)
        return -1;
    if (finish->n_turns || finish->n_sent)
        return store_invalid(st, "store: summary job finish: a fold has no turns nor sent messages");
    return st->ops->summary_job_finish(st, event_id, claim_gen, chat_id, summary, upto_seq, finish,
                                       clock_now_ms());
}
