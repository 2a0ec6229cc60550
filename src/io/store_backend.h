/* store_backend.h - the seam between store.c and the storage engines.
 *
 * store.c owns the public API of store.h: it picks a backend from the URL,
 * checks and normalises the arguments, and then calls through a table of
 * function pointers (struct store_backend_ops). A backend (store_sqlite.c,
 * store_pg.c) only talks to its database. Internal: nothing outside
 * src/io/store*.c includes this header.
 *
 * What store.c guarantees before calling an op, so backends need not re-check:
 *   - `st` and every output pointer are non-NULL;
 *   - chat_id, user_id and event_id arguments are non-NULL (NULL is rejected
 *     with an error; the one exception: inbox_item.chat_id may be NULL and the
 *     backend stores it as "", the chat of events without a chat);
 *   - inbox items have a non-NULL event_id and payload;
 *   - optional text that the schema keeps NOT NULL (turn text, edited text,
 *     display names) has been replaced by "" when NULL; message_id arguments of
 *     the lookups are non-NULL (a NULL id is answered "not found" by store.c);
 *   - counts (max_turns, max_context, keep) are >= 0;
 *   - turn roles are valid enum values, and every turn's text is non-NULL;
 *   - a job_finish has its arrays when their counts are non-zero, no NULL
 *     sent id, and its outcome is a known enum value; its charge, when
 *     set, has non-NULL strings and counts >= 0.
 * Output structs (job, turns) are zeroed before the call; on
 * failure the backend leaves nothing allocated in them.
 *
 * Errors: a backend reports a failure with store_set_error() and returns -1.
 * Messages never contain payloads, answers or message text. Memory comes from
 * core/alloc.h (also what a database library fails to allocate goes to
 * alloc_fail), so there is no "out of memory" error to report.
 */
#ifndef LINEBOT_STORE_BACKEND_H
#define LINEBOT_STORE_BACKEND_H

#include "io/store.h"

#define STORE_ERROR_MAX 256

struct store_backend_ops {
    const char *name; /* "sqlite", "postgres": for messages */

    void (*close)(struct store *st); /* frees st->backend, not st */
    /* One small committed write (store_probe_write; store.c rate-limits it).
     * `now_ms` is the wall clock, recorded in the health row. */
    int (*probe_write)(struct store *st, int64_t now_ms);
    int (*relax_durability)(struct store *st); /* may be NULL: nothing to relax */
    int (*inbox_add)(struct store *st, struct inbox_item *items, size_t n, size_t *n_new);
    int (*inbox_forget)(struct store *st, const char *const *event_ids, size_t n);
    int (*inbox_depth)(struct store *st, int64_t *depth);
    int (*claim_next)(struct store *st, int64_t now_ms, struct job *job);
    int (*job_sending)(struct store *st, const char *event_id, int64_t claim_gen,
                       const char *answer);
    /* The operations per use case, each one transaction. `done_at_ms` comes
     * from store.c's clock (informational: purge goes by event time). The
     * fenced ones return 1, having written nothing, when the claim is lost. */
    int (*job_finish)(struct store *st, const char *event_id, int64_t claim_gen,
                      const struct job_finish *finish, int64_t done_at_ms);
    int (*context_keep)(struct store *st, const char *event_id, int64_t claim_gen,
                        const char *chat_id, const struct turn *turn, int keep, int64_t done_at_ms);
    int (*rate_count)(struct store *st, const char *user_id, int64_t now_ms, int64_t *count);
    int (*rate_peek)(struct store *st, const char *user_id, int64_t now_ms, int64_t *count);
    /* `event_id` is store.c's "task:<kind>:<key>"; returns 1 added, 0 known. */
    int (*task_add)(struct store *st, const char *event_id, const char *kind, const char *chat_id,
                    const char *payload, int64_t now_ms);
    int (*job_park)(struct store *st, const char *event_id, int64_t claim_gen, const char *answer);
    /* 0 adopted (*answer set), 2 nothing waiting, 1 claim lost. */
    int (*job_adopt)(struct store *st, const char *event_id, int64_t claim_gen,
                     const char *parked_event_id, int64_t done_at_ms, char **answer);
    int (*jobs_unpark)(struct store *st, int64_t before_ms); /* how many, or -1 */
    /* `outcome` is job_outcome_name's; 1 taken, 0 not pending. */
    int (*inbox_take)(struct store *st, const char *event_id, const char *outcome, int64_t done_at_ms);
    int (*job_release)(struct store *st, const char *event_id, int64_t claim_gen);
    int (*job_renew)(struct store *st, const char *event_id, int64_t claim_gen, int64_t now_ms);
    int (*recover)(struct store *st);

    int (*chat_waiting_events)(struct store *st, const char *chat_id, size_t max, char ***payloads, size_t *n);
    int (*bot_message_is)(struct store *st, const char *chat_id, const char *message_id);
    int (*history_load)(struct store *st, const char *chat_id, int max_turns, int max_context,
                        struct turn **turns, size_t *n);
    int (*message_text)(struct store *st, const char *chat_id, const char *message_id,
                        char **text);
    int (*message_delete)(struct store *st, const char *chat_id, const char *message_id);
    int (*message_update)(struct store *st, const char *chat_id, const char *message_id,
                          const char *text);
    int (*history_clear)(struct store *st, const char *chat_id);
    int (*forget_chat)(struct store *st, const char *chat_id);

    int (*profile_get)(struct store *st, const char *chat_id, const char *user_id,
                       int64_t fresh_after_ms, char **display_name, char **language);
    int (*profile_put)(struct store *st, const char *chat_id, const char *user_id,
                       const char *display_name, const char *language, int64_t now_ms);

    int (*chat_model_get)(struct store *st, const char *chat_id, char **model);
    int (*chat_model_set)(struct store *st, const char *chat_id, const char *model, int64_t now_ms);
    /* store.c has checked that at most one of preset and custom is set. */
    int (*chat_persona_get)(struct store *st, const char *chat_id, char **preset, char **custom);
    int (*chat_persona_set)(struct store *st, const char *chat_id, const char *preset, const char *custom,
                            int64_t now_ms);

    int (*usage_day)(struct store *st, const char *user_id, const char *chat_id, int64_t day,
                     int64_t *user_tokens, int64_t *chat_tokens);
    int (*budget_notice)(struct store *st, const char *subject, int64_t day, const char *event_id,
                         int64_t now_ms);

    /* Memory of the user (issue 11; store_memory.c checks the arguments:
     * user_id, event_id and fact texts non-NULL, chat_id "" for none, counts
     * >= 0). memory_job_finish's `done_at_ms` is store.c's clock. */
    int (*memory_facts)(struct store *st, const char *user_id, struct memory_fact **facts, size_t *n);
    int (*memory_add)(struct store *st, const char *user_id, const char *chat_id, const char *message_id,
                      const char *text, int64_t now_ms);
    int (*memory_forget)(struct store *st, const char *user_id, int64_t fact_id);
    int (*memory_user)(struct store *st, const char *user_id, struct memory_user *out);
    int (*memory_opt_out)(struct store *st, const char *user_id, bool opted_out, int64_t now_ms);
    int (*memory_tell)(struct store *st, const char *user_id, int64_t now_ms);
    int (*memory_turns)(struct store *st, const char *user_id, int64_t after_seq, int64_t upto_seq, int max,
                        struct turn **turns, size_t *n);
    int (*memory_idle)(struct store *st, int64_t idle_before_ms, int max, char ***users, int64_t **last_seqs,
                       size_t *n);
    int (*memory_job_finish)(struct store *st, const char *event_id, int64_t claim_gen, const char *user_id,
                             const struct memory_new *facts, size_t n, int64_t upto_seq,
                             const struct job_finish *finish, int64_t done_at_ms);

    /* The rolling summary (issue 11). */
    int (*summary_get)(struct store *st, const char *chat_id, char **summary, int64_t *upto_seq);
    int (*summary_turns)(struct store *st, const char *chat_id, int max, struct turn **turns, int64_t **seqs,
                         size_t *n);
    int (*summary_job_finish)(struct store *st, const char *event_id, int64_t claim_gen, const char *chat_id,
                              const char *summary, int64_t upto_seq, const struct job_finish *finish,
                              int64_t done_at_ms);

    /* `done_at_ms` (store.c's clock) is what expired parked answers get. */
    int (*purge)(struct store *st, int64_t before_ms, int64_t dedup_before_ms, int64_t done_at_ms);

    /* `linebot admin`. admin_chats' chat_id may be NULL (every chat); the
     * forget's counts are zeroed by store.c. */
    int (*admin_stats)(struct store *st, struct store_day_stats **rows, size_t *n);
    int (*admin_chats)(struct store *st, const char *chat_id, struct store_chat_info **rows, size_t *n);
    int (*admin_history)(struct store *st, const char *chat_id, struct turn **turns, size_t *n);
    int (*admin_forget)(struct store *st, const char *id, struct store_forget_counts *counts);

    /* The knowledge base (issue 12). store.c strings the steps of a put and
     * a remove together; each op here is one transaction. kb_begin: the
     * knowledge base is created if need be, the document found or created
     * (not live, generation 0); returns 0 with its id, current generation
     * and whether it is live, or 2 (unchanged: live with that hash). */
    int (*kb_begin)(struct store *st, const char *kb, const char *path, const char *title, const char *hash,
                    int64_t now_ms, int64_t *doc_id, int *generation, bool *live);
    int (*kb_chunks_add)(struct store *st, int64_t doc_id, int generation, const struct kb_chunk_row *rows,
                         size_t n);
    /* Deletes up to `limit` chunks of the document whose generation is not
     * `keep` (keep 0: all); *deleted gets how many. */
    int (*kb_chunks_drop)(struct store *st, int64_t doc_id, int keep, int limit, int64_t *deleted);
    /* Fenced on the generation: 1 when it is no longer `old_generation`. */
    int (*kb_switch)(struct store *st, int64_t doc_id, int old_generation, int new_generation,
                     const struct kb_put *put, int64_t now_ms);
    int (*kb_hide)(struct store *st, int64_t doc_id);           /* live no more: generation 0 */
    int (*kb_doc_delete)(struct store *st, int64_t doc_id);     /* the row, once it has no chunks */
    int (*kb_docs)(struct store *st, const char *kb, int64_t doc_id, const char *path, struct kb_doc_info **docs,
                   size_t *n);
    int (*kb_search)(struct store *st, const char *kb, const char *const *terms, size_t n_terms, int k,
                     struct kb_hit **hits, size_t *n);
    int (*kb_bind)(struct store *st, const char *chat_id, const char *kb, int64_t now_ms);
    int (*kb_unbind)(struct store *st, const char *chat_id);
    int (*kb_of_chat)(struct store *st, const char *chat_id, char **kb);
    /* The knowledge base's vectors (store.h). kb_vec_put: one transaction
     * for rows[0..n), the model's version bumped. kb_chunks: the ids as
     * given (any order back; store_kb.c orders them). */
    int (*kb_vec_model)(struct store *st, const char *kb, const char *claim, bool reset, int64_t now_ms,
                        char **model, int64_t *version);
    int (*kb_vec_put)(struct store *st, const char *kb, const char *model, const struct kb_vec_row *rows, size_t n);
    int64_t (*kb_vec_load)(struct store *st, const char *kb, const char *model,
                           void (*row)(void *arg, int64_t chunk_id, int dims, const int8_t *vec), void *arg);
    int (*kb_chunks)(struct store *st, const char *kb, const int64_t *ids, size_t n_ids, int64_t after_id,
                     int limit, struct kb_hit **hits, size_t *n);
};

/* The handle behind store.h's opaque `struct store`. */
struct store {
    const struct store_backend_ops *ops;
    void *backend;                /* the backend's own state */
    char error[STORE_ERROR_MAX];  /* last error, "" if none yet */
    /* store_probe_write's cache: the last probe's time (monotonic), result
     * and message; and whether a call failed since (store_set_error), with
     * its message. */
    bool probed;
    int64_t probe_at_ms;
    int probe_rc;
    char probe_error[STORE_ERROR_MAX];
    bool failed_since_probe;
    char failure[STORE_ERROR_MAX];
};

/* Shared row mapping: the names the tables store for roles, job states and
 * outcomes, the same on every backend. */
const char *store_role_name(enum turn_role role);
enum turn_role store_role_parse(const char *name); /* unknown: TURN_CONTEXT */
/* "sending" -> JOB_SENDING, anything else a claim can see -> JOB_PENDING. */
enum job_state store_claimed_state(const char *name);
/* The usage column values: NULL-able, so -1 (or no model) means "none". */
bool store_usage_known(const struct job_finish *finish, int64_t value);

/* Records the handle's last error (printf-style; truncated to fit). Meant
 * for failures of the database: store_probe_write counts them against the
 * store's health (see store.c). */
void store_set_error(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Records why a call was refused for its arguments and returns -1; unlike
 * store_set_error, not held against the store's health. */
int store_invalid(struct store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Backend constructors. Each fills st->ops and st->backend and returns 0, or
 * returns -1 with st->error set and nothing left allocated. */

/* `location` is a file path, or a "file:" URI when `is_uri` is true. */
int store_sqlite_open(struct store *st, const char *location, bool is_uri);

/* `url` is a postgres:// or postgresql:// URL (scheme in any case). Messages
 * never contain the URL or its password. */
int store_pg_open(struct store *st, const char *url);

#endif
