/* store.h - durable state behind one interface: the inbox of webhook events,
 * deduplication, per-chat history, the profile cache and rate-limit counters.
 *
 * This header is the contract every backend keeps (store_backend.h is the
 * seam). store_open() picks a backend from the URL: a path (or sqlite:PATH,
 * file:URI) is SQLite; postgres:// and postgresql:// are PostgreSQL.
 *
 * Threads. A `struct store` handle is used by one thread at a time; every
 * thread opens its own.
 *
 * Transactions. Every function is atomic on every backend: it is one SQL
 * statement or one transaction, so when it fails nothing of it was written.
 * The one exception is store_purge, which deletes in bounded batches, each
 * committed on its own (see there). Each function's comment names what it
 * writes together.
 *
 * Return codes. 0 on success and -1 on a store error, with a message readable
 * via store_last_error (never containing payloads, answers, message text or a
 * password), unless the comment says otherwise. The fenced writes on a claim
 * (those taking event_id + claim_gen) return 1 when the claim was lost: taken
 * over after its lease ran out, or released; they then wrote nothing. A NULL
 * `st` returns -1 without a message.
 *
 * Memory. Strings and arrays handed out are malloc'd and owned by the caller
 * (job_free, turns_free). Allocation failure aborts (core/alloc.h), so -1
 * always means the database or the arguments, never memory.
 *
 * Inbox states of an event (see run/stage_deliver.c for why they keep answers exactly-once):
 *   pending  -> acknowledged to LINE, not yet worked on
 *   working  -> claimed by a worker (claim_gen identifies the claim)
 *   sending  -> the answer is recorded and a send to LINE may have started
 *   waiting  -> an answer is ready and waits for a later event's reply token
 *               (store_job_park / store_job_adopt); never claimed
 *   done     -> finished (answered, ignored, or given up); payload is dropped
 */
#ifndef LINEBOT_STORE_H
#define LINEBOT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/chat.h"

struct store;

/* ---- lifecycle ---- */
/* Opens a handle, creating the schema or migrating it in place to the
 * current version (in transactions, under a lock, so instances starting
 * together migrate once; a database from a newer release is refused). Returns NULL on failure with a message in `err` (may be NULL); the
 * message never echoes the URL, which may carry a password. */
struct store *store_open(const char *url, char *err, size_t errlen);
/* True when the URL names a store that several instances share (PostgreSQL). */
bool store_url_is_shared(const char *url);
void store_close(struct store *st); /* NULL is a no-op */
/* The handle's last error message ("" when none yet); never NULL, also for a
 * NULL handle. */
const char *store_last_error(struct store *st);

/* For worker handles: only the answer record written before a send
 * (store_job_sending) must reach the disk before the call returns; other
 * writes may be lost in a power cut (never in a process crash) and are then
 * redone safely (see run/stage_deliver.c). Saves an fsync per write on
 * SQLite; a no-op where commits cost no more (PostgreSQL). The ingest handle
 * never relaxes: an acknowledged event is always on disk. Returns 0 or -1. */
int store_relax_durability(struct store *st);

/* Health: can the store be written right now? (for /healthz)
 *
 * The probe is a real committed write, in its own transaction: the one row of
 * linebot_health gets the time (an upsert; every instance writes the same
 * row). A full disk, a read-only or deleted database file, or a database
 * server that refuses writes all make it fail, where a read would still
 * succeed. On SQLite it also fails when any write of the process failed for
 * want of space or by an I/O error since the probe before (SQLite reuses the
 * space of its log, so a one-row write may fit where a larger one no longer
 * does).
 *
 * Rate-limited per handle: at most one probe per STORE_PROBE_EVERY_MS of
 * `now_ms` (a monotonic clock, milliseconds); in between, the last result is
 * returned (and on failure its message is store_last_error again), except
 * that a call of this handle that failed in the database since the probe
 * makes it -1 (with that call's message) until the next probe. Calls refused
 * for their arguments do not count. Returns 0 writable, -1 not. store_ping()
 * is store_probe_write at clock_monotonic_ms(). */
#define STORE_PROBE_EVERY_MS 1000
int store_probe_write(struct store *st, int64_t now_ms);
int store_ping(struct store *st);

/* A deleted or moved SQLite file. SQLite keeps writing into the open file
 * after it was unlinked or renamed, and all of that is lost at the next
 * start, so the backend looks whether the file at the path is still the one
 * it has open, at most once a second (STORE_PROBE_EVERY_MS), before a write.
 * Once it is not, every write (store_inbox_add: ingest answers 503, so LINE
 * redelivers later; claims; store_probe_write) fails with -1 and the message
 * "LINEBOT_DB: the database file ... was deleted or moved while the bot was
 * running; restart it", and nothing more is acknowledged into the lost file.
 * Reads still answer from it. If the very same file comes back at its path,
 * writes work again. (PostgreSQL has no such failure.) */

/* ---- inbox (ingest side) ---- */
struct inbox_item {
    const char *event_id;     /* webhookEventId or content hash */
    const char *chat_id;      /* may be NULL: events without a chat get chat_id "" */
    int64_t timestamp_ms;     /* LINE's event timestamp: per-chat order */
    const char *payload;      /* the event's JSON */
    bool added;               /* out: set by store_inbox_add when this call stored it */
};

/* Adds the items in ONE transaction, skipping event ids already known (pending,
 * in progress or done). `n_new` (may be NULL) gets how many were new. Returns
 * -1 when nothing could be committed: the caller answers 503. */
int store_inbox_add(struct store *st, struct inbox_item *items, size_t n, size_t *n_new);

/* Undoes store_inbox_add for events a serverless hand-off could not pass on:
 * rows still pending and unclaimed are deleted, so that LINE's redelivery is
 * not dropped as a duplicate. Rows already claimed or done stay. One
 * transaction for all the ids; unknown ids are not an error. */
int store_inbox_forget(struct store *st, const char *const *event_ids, size_t n);

/* Number of jobs not yet done (pending + working + sending; parked answers
 * waiting for a reply token are not counted). One read. */
int store_inbox_depth(struct store *st, int64_t *depth);

/* ---- inbox (worker side) ---- */
enum job_state { JOB_PENDING, JOB_WORKING, JOB_SENDING, JOB_DONE, JOB_WAITING };

struct job {
    char *event_id;           /* for an internal job: "task:<kind>:<key>" (see store_task_add) */
    char *kind;               /* NULL for a webhook event; the kind of an internal job */
    char *chat_id;
    int64_t timestamp_ms;
    char *payload;            /* the event JSON */
    enum job_state state;     /* state before this claim: JOB_PENDING, or JOB_SENDING after a crash */
    int64_t claim_gen;        /* fencing token of this claim */
    int attempts;             /* claims so far, including this one */
    char *answer;             /* for JOB_SENDING: the recorded answer (JSON, see run/answer_record.h) */
};
void job_free(struct job *job); /* frees the strings, not `job`; NULL is a no-op */

/* A claim is a lease: its holder renews it (store_job_renew) while it works
 * (run/pool.c's lease keeper, every STORE_LEASE_MS / 3). On every backend a
 * claim whose lease has run out is taken over by the next store_claim_next
 * (of any worker, or any instance on a shared store), which bumps claim_gen,
 * so the old holder's writes are refused (fencing). So a job whose holder
 * could not write (a full disk: "record the answer" or "done" failed, and
 * the worker gave up on it) is worked on again once the store can be written:
 * from the start if it was `working`, by the exactly-once rules of
 * run/stage_deliver.c if it was `sending`. On SQLite, store_recover also
 * frees a crashed process's claims at start-up without waiting for them. */
#define STORE_LEASE_MS 30000

/* Claims the next event to work on, atomically: the oldest (timestamp, arrival)
 * pending, recovered or expired event of a chat that has no other event in progress
 * (internal jobs only when no event is claimable; see store_task_add). One
 * transaction: the row becomes `working` (or stays `sending`), claimed, with
 * claim_gen and attempts bumped. Returns 1 with `job` filled (free it with
 * job_free), 0 when there is nothing to do, -1 on error (`job` left empty).
 * `now_ms` is recorded as the claim time; the lease runs to now_ms + STORE_LEASE_MS. */
int store_claim_next(struct store *st, int64_t now_ms, struct job *job);

/* Extends the claim's lease to now_ms + STORE_LEASE_MS (one statement, fenced),
 * also a lease that has run out, as long as nobody has taken it over yet.
 * Returns 0 on success, 1 if the claim was lost (taken over), -1 on error. */
int store_job_renew(struct store *st, const char *event_id, int64_t claim_gen, int64_t now_ms);

/* Records the answer about to be sent (working -> sending) before any send
 * starts: one statement, fenced, and durable before it returns even on a
 * relaxed handle. Returns 0, 1 if the claim was lost (claim_gen no longer
 * matches; nothing recorded, so nothing may be sent), -1 on error. */
int store_job_sending(struct store *st, const char *event_id, int64_t claim_gen,
                      const char *answer);

/* Gives a claimed event back (working -> pending), e.g. on graceful shutdown
 * before anything was sent. A job already in `sending` stays in `sending`,
 * unclaimed. One statement, fenced: returns 0, 1 claim already lost, -1. */
int store_job_release(struct store *st, const char *event_id, int64_t claim_gen);

/* At start-up of a single-instance store (SQLite): every `working` event goes
 * back to pending (nothing was sent for it); `sending` events stay, to be
 * claimed with state JOB_SENDING and finished without double-sending. One
 * statement. This only saves the wait for the crashed claims' leases.
 * On a shared store this does nothing and returns 0: other
 * instances' claims are live leases, and expired ones are taken over by
 * store_claim_next. */
int store_recover(struct store *st);

/* ==== Operations per use case (issue 9) ====
 * Each operation below is ONE transaction on every backend: it happens
 * entirely or not at all, and it means the same on SQLite and PostgreSQL.
 * They replaced the per-table calls and the optional batches of the release
 * before (store_job_done, store_history_add, store_bot_message_add,
 * store_context_trim, store_rate_get/put, store_batch_begin/end). */

/* How a job ended. Stored as its name (job_outcome_name), so old rows with
 * the same words read the same. */
enum job_outcome {
    OUTCOME_ANSWERED,     /* an answer (the model's, or a fixed reply) was delivered */
    OUTCOME_APOLOGIZED,   /* the apology for a model failure was delivered */
    OUTCOME_IGNORED,      /* nothing to do for this event */
    OUTCOME_CONTEXT,      /* a group message kept as context */
    OUTCOME_RATE_LIMITED, /* over the user's limit: silent */
    OUTCOME_UNSENT,       /* unsend: the message was removed from history */
    OUTCOME_EDITED,       /* messageEdited: history updated */
    OUTCOME_FORGOTTEN,    /* unfollow / leave: the chat's data was deleted */
    OUTCOME_EXPIRED,      /* too old to answer, and push fallback is off */
    OUTCOME_FAILED,       /* could not be delivered */
    OUTCOME_UNKNOWN,      /* a repeat after a crash was refused: delivered before, or expired */
    OUTCOME_UNREADABLE,   /* the stored payload could not be parsed */
    OUTCOME_HANDED_OVER,  /* a waiting answer was taken over by a later event (store_job_adopt) */
    OUTCOME_UNSUPPORTED,  /* an internal job of a kind this binary does not know */
    OUTCOME_OVER_BUDGET,  /* over a daily token budget, its notice already given: silent */
};
const char *job_outcome_name(enum job_outcome outcome);
/* Returns 0 and sets *outcome for a known name, -1 otherwise. */
int job_outcome_parse(const char *name, enum job_outcome *outcome);

/* Token counts the model reported; -1 where it reported none. */
struct llm_usage {
    int64_t prompt_tokens;
    int64_t completion_tokens;
    int64_t total_tokens;
};

/* What a model call spent, charged to whoever caused it (issue 11). Kept
 * per event (the job's event id: a webhook event, or an internal job's
 * "task:..." id), so one event is charged at most once, whatever crashes,
 * releases or retries it went through. */
struct store_charge {
    const char *user_id;            /* who caused the call ("": nobody known; only the chat counts) */
    const char *chat_id;            /* where ("" for none) */
    const char *model;              /* the catalogue name */
    int64_t day;                    /* days since 1970-01-01 in LINEBOT_TIMEZONE (core/budget.h) */
    int64_t prompt_tokens;          /* >= 0 */
    int64_t completion_tokens;      /* >= 0 */
    bool estimated;                 /* the provider reported no usage: these are estimates */
};

struct job_finish {
    enum job_outcome outcome;
    const struct turn *turns;       /* history turns to append (e.g. user + assistant), may be NULL */
    size_t n_turns;
    const char *const *sent_ids;    /* ids of the messages LINE accepted (sentMessages[].id) */
    size_t n_sent;
    int64_t sent_at_ms;             /* when they were sent (for the bot-message ids) */
    const char *model;              /* the model that answered; NULL when none did */
    struct llm_usage usage;         /* zeroed / -1 when no model answered */
    const struct store_charge *charge; /* tokens spent for this job; NULL: none */
    const char *rate_user;          /* counts one message of this user against the rate limit
                                       (as store_rate_count, at rate_at_ms); NULL: none */
    int64_t rate_at_ms;
};

/* Finishes a claimed job in one transaction: the outcome, model and usage
 * are recorded on the inbox row (state done, payload and answer dropped),
 * the turns are appended to the chat's history and the sent ids remembered
 * as the bot's messages. The charge, when there is one, is added to the
 * usage under the job's event id (once: a second charge under the same id
 * adds nothing). The rate count, when asked for, lands in the same
 * transaction: once per event, as the finish itself, whatever releases or
 * crashes came before. Returns 0, 1 when the claim was lost (then nothing
 * at all is written), -1 on error (nothing written). */
int store_job_finish(struct store *st, const char *event_id, int64_t claim_gen, const struct job_finish *finish);

/* A group message kept as context, in one transaction: the turn is appended,
 * the chat's context turns are trimmed to the newest `keep`, and the job is
 * finished with OUTCOME_CONTEXT. Returns 0, 1 claim lost (nothing written), -1. */
int store_context_keep(struct store *st, const char *event_id, int64_t claim_gen, const char *chat_id,
                       const struct turn *turn, int keep);

/* Counts one message of `user_id` at `now_ms` against the fixed one-minute
 * window, atomically in one SQL statement (concurrent events of one user all
 * count, on every backend), and returns the message's number in the window
 * in *count (1 for the first). core/chat.h's chat_rate_verdict turns that
 * into allow / warn once / silent. Returns 0, or -1 (nothing counted). */
int store_rate_count(struct store *st, const char *user_id, int64_t now_ms, int64_t *count);

/* The messages of `user_id` counted in the window that holds `now_ms`,
 * without counting one (0 when none, or when now_ms opens a new window): a
 * read. The worker adds its own message with the finish (job_finish's
 * rate_user), so that an answered event makes one write transaction fewer,
 * and a message is counted once per event. The verdict then goes by this
 * count + 1; a user's messages in flight at once in different chats (at
 * most one per worker) do not see each other, so such a burst may pass the
 * limit by that many. Returns 0, or -1. */
int store_rate_peek(struct store *st, const char *user_id, int64_t now_ms, int64_t *count);

/* ---- internal jobs: work that did not come from a webhook ----
 * A job with a kind ("memory", "summary", ...) and a JSON payload, kept in the
 * inbox like an event: durable, claimed, leased and finished the same way.
 * It is deduplicated by (kind, key). It never delays an answer: claim_next
 * takes an internal job only when no webhook event is claimable, and an
 * internal job in progress does not hold its chat's order for events.
 * It is stored as an inbox row with `kind` set and event_id
 * "task:<kind>:<key>", so the inbox's unique event id deduplicates it for as
 * long as the dedup window of store_purge keeps done rows (a webhook event id
 * never has that form: LINE's are ULIDs, ingest's own are hex hashes). The
 * row's timestamp is `now_ms`. `kind` must not be empty nor contain ':';
 * chat_id may be NULL. One statement. Returns 1 added, 0 already known
 * (pending, in progress or done), -1 error. */
int store_task_add(struct store *st, const char *kind, const char *key, const char *chat_id,
                   const char *payload, int64_t now_ms);

/* ---- an answer ready and waiting for a reply token ----
 * The worker may park an answer it could not send yet (e.g. behind a "still
 * working" button): the claim ends, the answer is kept, and the row is never
 * claimed again by store_claim_next. A later event (a postback, on any
 * instance) takes it over with store_job_adopt and delivers it with its own
 * reply token. Waiting rows older than the dedup cutoff of store_purge are
 * finished as OUTCOME_EXPIRED. Only a `working` claim can be parked (an
 * answer already in `sending` may have reached LINE). One statement, fenced:
 * the row becomes `waiting`, unclaimed, with `answer` kept. Returns 0, 1 claim
 * lost (or the job is already `sending`; nothing written), -1 error. */
int store_job_park(struct store *st, const char *event_id, int64_t claim_gen, const char *answer);

/* In one transaction: the waiting row `parked_event_id` becomes done
 * (OUTCOME_HANDED_OVER), and the claimed job `event_id` moves to `sending`
 * with that answer recorded (as store_job_sending), which is returned in
 * *answer. Exactly one adopter ever gets a given answer, and only an event
 * of the same chat: a postback in another chat finds nothing waiting.
 * Returns 0 adopted, 2 nothing waiting under that id (unknown, already taken
 * or expired; *answer NULL), 1 claim lost, -1 error. */
int store_job_adopt(struct store *st, const char *event_id, int64_t claim_gen, const char *parked_event_id,
                    char **answer);

/* The wait is over for parked answers of events older than `before_ms`
 * (event time): at most 100 of them become `sending`, unclaimed, with their
 * answer, so store_claim_next hands them out like a job a crash left sending
 * (run/stage_deliver.c then pushes them or drops them). One statement; a row
 * adopted meanwhile is not touched, so every answer still goes one way.
 * Returns how many, or -1. */
int store_jobs_unpark(struct store *st, int64_t before_ms);

/* An event nobody has claimed yet (pending, unclaimed) is finished as
 * `outcome` without being worked on: the "still working" watcher answers a
 * tap whose reply token runs out while the answer is not ready
 * (run/stage_progress.c). One statement. Returns 1 taken, 0 not pending (or
 * claimed meanwhile: then it is the claimer's), -1 error. */
int store_inbox_take(struct store *st, const char *event_id, enum job_outcome outcome);

/* ---- images sent together (issue 13) ----
 * The events of `chat_id` that wait to be claimed (pending webhook events,
 * not internal jobs), oldest first, at most `max`: their payloads (the
 * event JSON) and the times they were stored under. The job of the first
 * image of a LINE imageSet looks here for the others, which wait behind it
 * (a chat has one job in progress at a time). One read. Returns 0 with
 * *payloads (NULL when *n is 0; free each and the array) or -1. */
int store_chat_waiting_events(struct store *st, const char *chat_id, size_t max, char ***payloads, size_t *n);

/* ---- history (struct turn and enum turn_role are in core/chat.h) ---- */
/* The ids of the messages the bot sent (store_job_finish's sent_ids) are
 * remembered per chat, so a reply quoting one of them counts as addressed to
 * the bot. */
/* 1 if `message_id` is one the bot sent in `chat_id`, 0 if not (also for a
 * NULL id), -1 on error. One read. */
int store_bot_message_is(struct store *st, const char *chat_id, const char *message_id);

/* The last `max_turns` user/assistant turns of a chat that its summary does
 * not cover (store_summary_get), and at most `max_context`
 * context turns newer than the last assistant turn, oldest first. One read.
 * Returns 0 with *turns (NULL when *n is 0; free with turns_free) and *n set,
 * or -1 with *turns NULL and *n 0. Every turn's text is non-NULL. */
int store_history_load(struct store *st, const char *chat_id, int max_turns, int max_context,
                       struct turn **turns, size_t *n);
void turns_free(struct turn *turns, size_t n);

/* Text of a message in a chat's history by its LINE message id (one read).
 * Returns 1 found (*text set, never NULL), 0 not found (also for a NULL id),
 * -1 error. */
int store_message_text(struct store *st, const char *chat_id, const char *message_id, char **text);
/* unsend and messageEdited: one transaction each. A message not in the
 * history (or a NULL id) is not an error: 0. A NULL edited text is stored as
 * "". An unsent message also takes the facts remembered from it with it. */
int store_message_delete(struct store *st, const char *chat_id, const char *message_id);
int store_message_update(struct store *st, const char *chat_id, const char *message_id,
                         const char *text);

/* /reset: drops the chat's history (turns and context) and its summary. One transaction. */
int store_history_clear(struct store *st, const char *chat_id);

/* unfollow / leave: drops everything about the chat: history, bot message ids,
 * cached profiles, rate counters, the chosen model and persona, the summary, for a user's 1:1
 * chat the user's memory (facts and settings), and the payloads of its finished inbox events,
 * in one transaction. Unfinished events stay: they are acknowledged work. */
int store_forget_chat(struct store *st, const char *chat_id);

/* ---- profile cache (display names in groups and rooms; the user's language
 * in 1:1 chats, where chat_id is the user id) ---- */
/* One read. Returns 1 found and fresh (fetched at or after `fresh_after_ms`;
 * *display_name set, never NULL; *language, when `language` is not NULL, set
 * to the profile's language, "" when the profile had none, or NULL when it
 * is not known: a group member's name, or a row from before the language
 * was kept), 0 not found or stale, -1 error. */
int store_profile_get(struct store *st, const char *chat_id, const char *user_id,
                      int64_t fresh_after_ms, char **display_name, char **language);
/* Inserts or replaces the cached name and language (one statement; a NULL
 * name is stored as "", a NULL language as not known). */
int store_profile_put(struct store *st, const char *chat_id, const char *user_id,
                      const char *display_name, const char *language, int64_t now_ms);

/* ---- the model a chat uses (issue 11) ---- */
/* The catalogue name chosen in `chat_id` (a user, group or room): 1 found
 * (*model set, malloc'd), 0 none chosen, -1 error. One read. */
int store_chat_model_get(struct store *st, const char *chat_id, char **model);
/* Stores the choice (one statement, replacing an earlier one). Shared by
 * every instance on PostgreSQL; kept across restarts; not expired by
 * retention; dropped by store_forget_chat. */
int store_chat_model_set(struct store *st, const char *chat_id, const char *model, int64_t now_ms);

/* ---- the persona a chat uses (issue 11) ---- */
/* The persona of `chat_id`: 1 found (either *preset is a preset's name and
 * *custom NULL, or *preset is NULL and *custom the chat's own text; malloc'd),
 * 0 none (the default), -1 error. One read. */
int store_chat_persona_get(struct store *st, const char *chat_id, char **preset, char **custom);
/* Gives the chat a preset (`preset`, `custom` NULL) or its own text
 * (`custom`, `preset` NULL), replacing an earlier one; both NULL goes back
 * to the default (the row goes). One statement. Shared by every instance on
 * PostgreSQL; kept across restarts; not expired by retention; dropped by
 * store_forget_chat and store_admin_forget. */
int store_chat_persona_set(struct store *st, const char *chat_id, const char *preset, const char *custom,
                           int64_t now_ms);

/* ---- daily token budgets (issue 11) ---- */
/* The tokens charged on `day` (prompt + completion, estimates included) to
 * `user_id` in every chat, and in `chat_id` to everyone. One statement.
 * Returns 0 with both set (0 when nothing was charged), -1. */
int store_usage_day(struct store *st, const char *user_id, const char *chat_id, int64_t day, int64_t *user_tokens,
                    int64_t *chat_tokens);
/* The one notice a day that a budget is spent: `subject` (a user id for the
 * user's budget, a group or room id for the chat's) gets it on `day` from
 * one event. Takes it for `event_id` unless another event has it, in one
 * transaction. Returns 1 when `event_id` gives the notice (also when asked
 * again for the same event: a retry after a crash sends it again), 0 when
 * another event gave it, -1 error. Purged with the usage. */
int store_budget_notice(struct store *st, const char *subject, int64_t day, const char *event_id, int64_t now_ms);

/* ---- memory of the user (issue 11, core/memory.h) ----
 * Facts about a user (user id), used in every chat the user talks in. Kept
 * until the user forgets them (/forget), unfollows (store_forget_chat of the
 * 1:1 chat), or unsends the message a fact came from (store_message_delete),
 * or the operator runs `linebot admin forget`; retention never expires them.
 * A user's facts are ranked: the most often confirmed (said again) first,
 * then the newest; only the MEMORY_KEEP_MAX best are kept. */
struct memory_fact {
    int64_t id;
    char *text;
    char *chat_id;            /* the chat of the message it came from ("" when none) */
    char *message_id;         /* that message's LINE id; NULL when none */
    int64_t created_at_ms;
    int64_t used;             /* 1, plus once for every time it was said again */
};
void memory_facts_free(struct memory_fact *facts, size_t n);

/* The user's facts, ranked. One read. 0 with *facts (NULL when *n is 0) or -1. */
int store_memory_facts(struct store *st, const char *user_id, struct memory_fact **facts, size_t *n);

/* One fact (/remember; `message_id` may be NULL): a fact the user has already
 * (the same text, ASCII case ignored) counts once more instead; then the
 * list is cut to MEMORY_KEEP_MAX. One transaction. */
int store_memory_add(struct store *st, const char *user_id, const char *chat_id, const char *message_id,
                     const char *text, int64_t now_ms);

/* Deletes the fact `fact_id` of the user, or every fact of the user when
 * `fact_id` is 0. One statement. Returns how many went (0, 1, ...), or -1. */
int store_memory_forget(struct store *st, const char *user_id, int64_t fact_id);

/* Where a user stands. No row yet reads as all zero. */
struct memory_user {
    bool opted_out;           /* /memory off */
    bool told;                /* the notice that the bot remembers was given */
    int64_t seen_seq;         /* history up to here was read by an extraction */
    int64_t unseen;           /* the user's turns in their 1:1 chat after seen_seq */
    int64_t last_seq;         /* the newest of those (0 when none) */
};
/* One read. 0 or -1. */
int store_memory_user(struct store *st, const char *user_id, struct memory_user *out);

/* /memory off and on. One statement. 0 or -1. */
int store_memory_opt_out(struct store *st, const char *user_id, bool opted_out, int64_t now_ms);

/* Notes that the user was told the bot remembers. One statement. Returns 1
 * when this call noted it (tell them now), 0 when they were told before, -1. */
int store_memory_tell(struct store *st, const char *user_id, int64_t now_ms);

/* The user's turns in their 1:1 chat with history seq in (after_seq,
 * upto_seq], the newest `max`, oldest first (role TURN_USER). One read.
 * Same contract as store_history_load. */
int store_memory_turns(struct store *st, const char *user_id, int64_t after_seq, int64_t upto_seq, int max,
                       struct turn **turns, size_t *n);

/* Users (not opted out) whose unseen 1:1 turns are all older than
 * `idle_before_ms`: at most `max`, each with the newest unseen seq. One read.
 * 0 with *users / *last_seqs (free with memory_due_free) or -1. */
int store_memory_idle(struct store *st, int64_t idle_before_ms, int max, char ***users, int64_t **last_seqs,
                      size_t *n);
void memory_due_free(char **users, int64_t *last_seqs, size_t n);

/* An extraction's result, with the finish of its job, in ONE transaction:
 * the job is finished as store_job_finish does (fenced), each fact is added
 * as by store_memory_add (from the user's 1:1 chat: its chat id is the user
 * id), and the user's seen_seq moves up to `upto_seq`.
 * So a crash either leaves the job to be done again with nothing written, or
 * has written everything and the job is done. Returns 0, 1 claim lost
 * (nothing written), -1 (nothing written). */
struct memory_new {
    const char *text;
    const char *message_id;   /* may be NULL */
};
int store_memory_job_finish(struct store *st, const char *event_id, int64_t claim_gen, const char *user_id,
                            const struct memory_new *facts, size_t n, int64_t upto_seq,
                            const struct job_finish *finish);

/* ---- the rolling summary of a long chat (issue 11, core/summary.h) ----
 * One per chat: a text that stands for the chat's user and assistant turns
 * up to history seq `upto_seq`, which store_history_load then leaves out.
 * Dropped by store_history_clear (/reset), store_forget_chat and
 * store_admin_forget; never expired by retention. */

/* 1 found (*summary malloc'd, *upto_seq set), 0 none, -1. One read. */
int store_summary_get(struct store *st, const char *chat_id, char **summary, int64_t *upto_seq);

/* The chat's user and assistant turns after its summary (all of them when
 * it has none), oldest first, at most the newest `max`, each with its
 * history seq in (*seqs)[i]. One read. 0 with *turns and *seqs (NULL when
 * *n is 0; free with turns_free and free) or -1. */
int store_summary_turns(struct store *st, const char *chat_id, int max, struct turn **turns, int64_t **seqs,
                        size_t *n);

/* A fold's result, with the finish of its job, in ONE transaction: the job
 * is finished as store_job_finish does (fenced), and the chat's summary
 * becomes `summary`, covering turns up to `upto_seq` -- unless that turn is
 * no longer in the history (a /reset came in between: the summary is not
 * written) or the summary already covers more. Returns 0, 1 claim lost
 * (nothing written), -1 (nothing written). */
int store_summary_job_finish(struct store *st, const char *event_id, int64_t claim_gen, const char *chat_id,
                             const char *summary, int64_t upto_seq, const struct job_finish *finish);

/* ---- retention ---- */
/* Deletes history, bot message ids, profiles, rate rows, usage and budget
 * notices older than `before_ms`, and done inbox rows older than `dedup_before_ms`; then
 * finishes parked answers older than `dedup_before_ms` as OUTCOME_EXPIRED
 * (those rows go at the next purge). NOT one transaction: each table is
 * purged in batches of bounded size, each committed on its own, so that a
 * large purge never holds ingest's write lock for long. Each batch stands on
 * its own (rows past retention deleted, or old parked answers expired), so a
 * purge that fails part way (-1) leaves a consistent store, and the next one
 * carries on. */
int store_purge(struct store *st, int64_t before_ms, int64_t dedup_before_ms);

/* ==== For the operator: `linebot admin` (issue 15) ====
 * What the store keeps, read back, and erased on request. The reads are one
 * statement each (one consistent moment); the forget is one transaction. They
 * mean the same on every backend. None of them is on the bot's hot path, so
 * they may scan whole tables. */

/* Webhook events the inbox still holds (done rows stay for the dedup window
 * of store_purge), per day of the events' LINE time (UTC) and per model. */
struct store_day_stats {
    int64_t day;               /* days since 1970-01-01 (UTC) */
    char *model;               /* the model that answered; NULL: no model answered these events */
    int64_t events;            /* webhook events (internal jobs are not counted) */
    int64_t answered;          /* OUTCOME_ANSWERED: by the model or a fixed reply */
    int64_t apologized;        /* OUTCOME_APOLOGIZED: the model failed, the apology went out */
    int64_t failed;            /* OUTCOME_FAILED or OUTCOME_EXPIRED: nothing reached the user */
    int64_t prompt_tokens;     /* sums of what the model reported (0 when it reported none) */
    int64_t completion_tokens;
    int64_t total_tokens;
};
/* Rows ordered by day, then model (NULL first). Returns 0 with *rows (NULL
 * when *n is 0; free with store_day_stats_free) or -1. */
int store_admin_stats(struct store *st, struct store_day_stats **rows, size_t *n);
void store_day_stats_free(struct store_day_stats *rows, size_t n);

struct store_chat_info {
    char *chat_id;
    int64_t last_active_ms;    /* the newest event or history turn of the chat */
    char *model;               /* the model that answered last in the chat; NULL when none did */
    char *persona;             /* the chat's persona preset, "(custom)" for its own text; NULL: the default */
    int64_t messages;          /* history turns kept */
    int64_t events;            /* webhook events the inbox still holds */
};
/* Every chat with history or webhook events, the most recently active first;
 * with `chat_id` non-NULL only that chat (0 or 1 row). Returns 0 with *rows
 * (free with store_chat_info_free) or -1. */
int store_admin_chats(struct store *st, const char *chat_id, struct store_chat_info **rows, size_t *n);
void store_chat_info_free(struct store_chat_info *rows, size_t n);

/* Every turn of the chat's history (all roles), oldest first. Same contract
 * as store_history_load. */
int store_admin_history(struct store *st, const char *chat_id, struct turn **turns, size_t *n);

/* What store_admin_forget removed. */
struct store_forget_counts {
    int64_t turns;             /* history of the chat `id` (for a user: the one-to-one chat) */
    int64_t group_turns;       /* the user's turns in groups and rooms, and the bot's answers to them */
    int64_t bot_messages;      /* ids of the bot's messages in the chat `id` */
    int64_t profiles;          /* cached display names: the user's in every chat, everyone's in chat `id` */
    int64_t rate_rows;         /* the user's rate-limit counter */
    int64_t payloads;          /* finished events of chat `id` whose payload or answer was dropped,
                                  and its finished internal jobs, removed */
    int64_t choices;           /* the model chosen in chat `id` (0 or 1) */
    int64_t personas;          /* the persona of chat `id` (0 or 1) */
    int64_t memory;            /* facts remembered about the user `id` (or from messages in chat `id`) */
};
/* Forgets everything kept about `id`, a user id or a chat (group, room) id,
 * in ONE transaction: what store_forget_chat drops for the chat `id` (its
 * persona included), the
 * cached display names of the user `id` in every chat, and the user's turns
 * in group and room histories with the bot's answer right after each (and
 * the summary of a group that covers one of those turns), and
 * the token usage charged to `id` (as a user or as a chat) with its budget
 * notices, and the knowledge base bound to the chat `id` and the chat's
 * own one once emptied (kb_chat_forget; not counted in `counts`).
 * The user's group turns are found by the user id kept with each turn; a
 * turn written before ids were kept (schema 6), by a name cached for that
 * user in that chat (linebot_profiles). Finished inbox rows keep their
 * event id (deduplication and exactly-once answers depend on it); only
 * their content goes; finished internal jobs of the chat `id` go whole, as
 * their ids name it. Unfinished events stay: acknowledged work. Returns 0
 * with *counts filled, or -1 (nothing removed). */
int store_admin_forget(struct store *st, const char *id, struct store_forget_counts *counts);

/* ==== The knowledge base (issue 12) ====
 * Documents of named knowledge bases, cut into chunks (core/kb_chunk.h)
 * whose terms (core/kb_terms.h) are indexed for BM25: on SQLite by FTS5
 * (unicode61 over the space-joined terms, bm25()), on PostgreSQL by a GIN
 * index over array_to_tsvector(terms), with BM25 computed in SQL from
 * stored term and chunk statistics, so that both rank alike (the same
 * k1 = 1.2, b = 0.75, IDF and average length over every stored chunk, as
 * FTS5's bm25() takes them).
 *
 * A document is replaced atomically, but not in one transaction: its new
 * chunks are written in batches (KB_BATCH each, a short transaction, so
 * that a large document never holds SQLite's write lock for long) under a
 * new generation, which one last transaction switches in; a search only
 * sees the chunks of a document's current generation, so it sees the old
 * version or the new one, never a mix. The old chunks are then deleted in
 * batches. What a crash leaves (chunks of a generation never switched in)
 * is invisible, and removed by the next put or remove of that document. Two
 * `kb add` of the same document at the same moment: one of them fails (the
 * switch is fenced), and nothing of it is seen. */
#define KB_BATCH 64

/* A knowledge base's name: 1-64 bytes of UTF-8 without control characters
 * or spaces at either end. Names starting with "chat:" are for the per-chat
 * knowledge bases (the images-and-files issue): the store takes them, the
 * commands refuse them. */
#define KB_NAME_MAX 64
#define KB_DEFAULT_NAME "default"

struct kb_chunk_row {
    int position;
    const char *heading;   /* "" when none */
    const char *body;
    const char *terms;     /* core/kb_terms.h's terms, joined by single spaces */
    const int8_t *vec;     /* its embedding (core/vec.h's int8, kb_put.embed_dims long), or NULL */
    float vec_scale;
};

enum kb_put_status { KB_ADDED, KB_REPLACED, KB_UNCHANGED };

struct kb_put {
    const char *kb;               /* created when it does not exist */
    const char *path;             /* the document's key in the knowledge base */
    const char *title;
    const char *content_hash;     /* the same hash as stored: KB_UNCHANGED, nothing written */
    int64_t bytes;
    const struct kb_chunk_row *chunks;
    size_t n_chunks;
    /* Called after each batch with the chunks written so far (may be NULL). */
    void (*progress)(void *arg, size_t written);
    void *progress_arg;
    /* Vectors (issue 12; NULL: none). When the document changed, `embed` is
     * called once, before its chunks are written and outside any
     * transaction, to fill the rows' vec (through the caller's own pointer
     * to them); 0, or -1 with a one-line reason in `err` (nothing written).
     * The vectors are stored as embed_model's. */
    int (*embed)(void *arg, char *err, size_t errlen);
    void *embed_arg;
    const char *embed_model;
    int embed_dims;               /* read after `embed` returns: the callback may set it */
};

/* Adds or replaces a document (see above). Returns 0 with *doc_id and
 * *status, or -1 (nothing of the new version is seen; a half-written
 * generation is left for the next put to remove). */
int store_kb_put(struct store *st, const struct kb_put *put, int64_t now_ms, int64_t *doc_id,
                 enum kb_put_status *status);

struct kb_doc_info {
    int64_t id;
    char *kb;
    char *path;
    char *title;
    int64_t chunks;
    int64_t bytes;
    int64_t added_at_ms;
    int64_t updated_at_ms;
    bool live;            /* false: not switched in yet, or being removed */
};
void kb_doc_infos_free(struct kb_doc_info *docs, size_t n);
void kb_doc_info_clear(struct kb_doc_info *doc); /* its strings; NULL is a no-op */

/* The documents of knowledge base `kb` (every one with kb NULL), by path;
 * with `doc_id` > 0 or `path` non-NULL only that one. One read. Returns 0
 * with *docs (free with kb_doc_infos_free), or -1. */
int store_kb_docs(struct store *st, const char *kb, int64_t doc_id, const char *path, struct kb_doc_info **docs,
                  size_t *n);

/* Removes a document of `kb` (by id when doc_id > 0, else by path): it is
 * hidden from search in one transaction, then its chunks are deleted in
 * batches. Returns 1 with *removed filled (may be NULL; free its strings
 * with kb_doc_info_clear), 0 no such document, -1 error. */
int store_kb_remove(struct store *st, const char *kb, int64_t doc_id, const char *path,
                    struct kb_doc_info *removed);

struct kb_hit {
    int64_t chunk_id;
    int64_t doc_id;
    double score;      /* BM25, higher is better (FTS5's bm25() negated) */
    int position;
    char *path;
    char *title;
    char *heading;
    char *body;
};
void kb_hits_free(struct kb_hit *hits, size_t n);

/* The `k` best chunks of `kb` for the question's terms (distinct; any of
 * them may match), best first; ties by chunk id. One read. Returns 0 with
 * *hits (NULL when *n is 0), or -1. No terms: no hits. */
int store_kb_search(struct store *st, const char *kb, const char *const *terms, size_t n_terms, int k,
                    struct kb_hit **hits, size_t *n);

/* The knowledge base a chat uses: store_kb_bind's choice (one statement,
 * replacing an earlier one; 1 when `kb` does not exist, nothing written),
 * store_kb_unbind (1 removed, 0 there was none). store_kb_of_chat: 1 with
 * *kb (malloc'd): the bound one, else KB_DEFAULT_NAME when it exists; 0
 * none. One read each. */
int store_kb_bind(struct store *st, const char *chat_id, const char *kb, int64_t now_ms);
int store_kb_unbind(struct store *st, const char *chat_id);
int store_kb_of_chat(struct store *st, const char *chat_id, char **kb);

/* ==== The knowledge base's vectors (issue 12) ====
 * A chunk's embedding is stored beside it (int8 with its scale, see
 * core/vec.h) with its model's name and dimension, and goes with the chunk.
 * A knowledge base has one embeddings model: the first put with vectors
 * claims it, and only vectors of that model are loaded, so models never
 * mix; a new model takes `linebot kb reembed`, which resets the claim and
 * rewrites every vector. Its `version` grows with every write of vectors,
 * so that a bot holding them in memory knows when to read them again. */

/* The model of `kb` (*model malloc'd, NULL: none yet) and its version. With
 * `claim`: the model is set to `claim` when there is none, or always with
 * `reset` (the knowledge base is created if need be); *model is then the
 * model now stored, which differs from `claim` when another one held it.
 * One transaction. Returns 0, or -1. */
int store_kb_vec_model(struct store *st, const char *kb, const char *claim, bool reset, int64_t now_ms,
                       char **model, int64_t *version);

struct kb_vec_row {
    int64_t chunk_id;     /* 0: the chunk at `position` of generation `generation` of `doc_id` */
    int64_t doc_id;
    int generation;
    int position;
    int dims;
    float scale;
    const int8_t *vec;
};
/* Writes (or replaces) the vectors of chunks of `kb` as `model`'s, in
 * transactions of KB_BATCH; chunks gone meanwhile are skipped. 0 or -1. */
int store_kb_vec_put(struct store *st, const char *kb, const char *model, const struct kb_vec_row *rows, size_t n);

/* Calls `row` for each vector of `model` of the chunks a search of `kb`
 * sees (the current generation of each document), in chunk order; `vec`
 * is valid during the call. One read. Returns how many, or -1. */
int64_t store_kb_vec_load(struct store *st, const char *kb, const char *model,
                          void (*row)(void *arg, int64_t chunk_id, int dims, const int8_t *vec), void *arg);

/* Chunks of `kb` a search sees, as hits with score 0: with `ids`, those of
 * them (in `ids`' order; ids not found are left out); without, up to
 * `limit` with an id above `after_id`, by id (for reembed's pages). One
 * read. Returns 0 with *hits (NULL when *n is 0; free with kb_hits_free),
 * or -1. */
int store_kb_chunks(struct store *st, const char *kb, const int64_t *ids, size_t n_ids, int64_t after_id,
                    int limit, struct kb_hit **hits, size_t *n);

#endif
