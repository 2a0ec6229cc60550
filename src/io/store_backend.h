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
 *   - turn roles are valid enum values.
 * Output structs (job, rate_state, turns) are zeroed before the call; on
 * failure the backend leaves nothing allocated in them.
 *
 * Errors: a backend reports a failure with store_set_error() and returns -1.
 * Messages never contain payloads, answers or message text.
 */
#ifndef LINEBOT_STORE_BACKEND_H
#define LINEBOT_STORE_BACKEND_H

#include "io/store.h"

#define STORE_ERROR_MAX 256

struct store_backend_ops {
    const char *name; /* "sqlite", "postgres": for messages */

    void (*close)(struct store *st); /* frees st->backend, not st */
    int (*ping)(struct store *st);
    int (*relax_durability)(struct store *st); /* may be NULL: nothing to relax */
    /* May both be NULL: the backend commits each write on its own.
     * batch_begin returns 1 when it opened a batch; store.c then keeps
     * st->batch_open and st->batch_failed. batch_end commits, or rolls back
     * when st->batch_failed, and returns 0 or -1. */
    int (*batch_begin)(struct store *st);
    int (*batch_end)(struct store *st);

    int (*inbox_add)(struct store *st, struct inbox_item *items, size_t n, size_t *n_new);
    int (*inbox_forget)(struct store *st, const char *const *event_ids, size_t n);
    int (*inbox_depth)(struct store *st, int64_t *depth);
    int (*claim_next)(struct store *st, int64_t now_ms, struct job *job);
    int (*job_sending)(struct store *st, const char *event_id, int64_t claim_gen,
                       const char *answer);
    /* `done_at_ms` comes from store.c (store.h gives store_job_done no clock). */
    int (*job_done)(struct store *st, const char *event_id, int64_t claim_gen,
                    const char *outcome, int64_t done_at_ms);
    int (*job_release)(struct store *st, const char *event_id, int64_t claim_gen);
    int (*job_renew)(struct store *st, const char *event_id, int64_t claim_gen, int64_t now_ms);
    int (*recover)(struct store *st);

    int (*history_add)(struct store *st, const char *chat_id, const struct turn *turn);
    int (*bot_message_add)(struct store *st, const char *chat_id, const char *message_id,
                           int64_t timestamp_ms);
    int (*bot_message_is)(struct store *st, const char *chat_id, const char *message_id);
    int (*history_load)(struct store *st, const char *chat_id, int max_turns, int max_context,
                        struct turn **turns, size_t *n);
    int (*message_text)(struct store *st, const char *chat_id, const char *message_id,
                        char **text);
    int (*message_delete)(struct store *st, const char *chat_id, const char *message_id);
    int (*message_update)(struct store *st, const char *chat_id, const char *message_id,
                          const char *text);
    int (*context_trim)(struct store *st, const char *chat_id, int keep);
    int (*history_clear)(struct store *st, const char *chat_id);
    int (*forget_chat)(struct store *st, const char *chat_id);

    int (*profile_get)(struct store *st, const char *chat_id, const char *user_id,
                       int64_t fresh_after_ms, char **display_name);
    int (*profile_put)(struct store *st, const char *chat_id, const char *user_id,
                       const char *display_name, int64_t now_ms);
    int (*rate_get)(struct store *st, const char *user_id, struct rate_state *rs);
    int (*rate_put)(struct store *st, const char *user_id, const struct rate_state *rs);

    int (*purge)(struct store *st, int64_t before_ms, int64_t dedup_before_ms);
};

/* The handle behind store.h's opaque `struct store`. */
struct store {
    const struct store_backend_ops *ops;
    void *backend;                /* the backend's own state */
    char error[STORE_ERROR_MAX];  /* last error, "" if none yet */
    bool batch_open;              /* between store_batch_begin and store_batch_end */
    bool batch_failed;            /* a call in the open batch failed (store_set_error sets it) */
};

/* Records the handle's last error (printf-style; truncated to fit). */
void store_set_error(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Backend constructors. Each fills st->ops and st->backend and returns 0, or
 * returns -1 with st->error set and nothing left allocated. */

/* `location` is a file path, or a "file:" URI when `is_uri` is true. */
int store_sqlite_open(struct store *st, const char *location, bool is_uri);

/* `url` is a postgres:// or postgresql:// URL (scheme in any case). Messages
 * never contain the URL or its password. */
int store_pg_open(struct store *st, const char *url);

#endif
