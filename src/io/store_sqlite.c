/* store_sqlite.c - the SQLite backend of the store (see store.h, store_backend.h).
 *
 * WAL mode. The handles of one process share one connection per file (struct
 * shared_db), and take turns on it through a gate that puts durable handles
 * (ingest: an ack waits on its commit) first. Several processes may use one
 * file too: SQLite's locks serialise the writers, and waits for another
 * process's lock are bounded by BUSY_TIMEOUT_MS, in short steps. Every
 * read-modify-write runs inside BEGIN IMMEDIATE, so it holds the write lock
 * from its first read.
 *
 * Durability: a durable handle commits with synchronous=FULL, so an event
 * acknowledged to LINE survives kill -9 and power loss. Worker handles relax
 * to synchronous=NORMAL (store_relax_durability): then only the answer record
 * before a send is fsynced by its own commit. The connection switches between
 * the two as the gate passes from one handle to the next.
 *
 * Every statement is prepared once per connection (SQLITE_PREPARE_PERSISTENT)
 * when the store opens, and reset right after use, so the hot path (inbox add,
 * claim) never parses SQL.
 *
 * The schema is versioned with PRAGMA user_version and grown by the ordered
 * `migrations` array, one transaction per step. A database from a newer
 * binary is refused rather than misread.
 *
 * How claims work. An inbox row has a `state` (pending, working, sending,
 * done) and a `claimed` flag: claimed = 1 means a live worker holds the row
 * under its claim_gen. `working` rows are always claimed; `sending` rows are
 * claimed while a worker finishes them and unclaimed after store_recover() or
 * store_job_release(), which is how a crashed send becomes claimable again
 * (as JOB_SENDING, with its recorded answer). A row is claimable when it is
 * pending or sending and not claimed, and its chat has no claimed row (chat ""
 * is exempt). Fencing: sending/done/release only touch the row when claim_gen
 * matches and claimed = 1; every claim increments claim_gen, and recover and
 * release clear claimed, so an old claim can never act again. The CHECK on
 * the inbox table keeps these rules true inside the database itself.
 */
#include "io/store_backend.h"

#include <sqlite3.h>
#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
#define PURGE_BATCH 1000 /* rows per purge statement, so webhooks never wait long */

/* ---- schema ---- */

/* Append-only: never edit a step once released, add a new one. Each runs in
 * its own transaction together with the bump of user_version. */
static const char *const migrations[] = {
    /* 1: the initial schema */
    "CREATE TABLE inbox ("
    "  seq           INTEGER PRIMARY KEY," /* arrival order */
    "  event_id      TEXT    NOT NULL UNIQUE,"
    "  chat_id       TEXT    NOT NULL DEFAULT '',"
    "  timestamp_ms  INTEGER NOT NULL,"
    "  state         TEXT    NOT NULL DEFAULT 'pending'"
    "                CHECK (state IN ('pending', 'working', 'sending', 'done')),"
    "  claimed       INTEGER NOT NULL DEFAULT 0 CHECK (claimed IN (0, 1)),"
    "  payload       TEXT,"
    "  claim_gen     INTEGER NOT NULL DEFAULT 0,"
    "  attempts      INTEGER NOT NULL DEFAULT 0,"
    "  claimed_at_ms INTEGER,"
    "  answer        TEXT,"
    "  outcome       TEXT,"
    "  done_at_ms    INTEGER,"
    "  CHECK (CASE state WHEN 'working' THEN claimed = 1"
    "                    WHEN 'sending' THEN 1"
    "                    ELSE claimed = 0 END)"
    ");"
    "CREATE INDEX inbox_state_chat ON inbox (state, chat_id, timestamp_ms, seq);"
    /* The claim walks this in order (INDEXED BY: without statistics the planner
     * would sort the whole backlog on every claim); only claimable rows are in it. */
    "CREATE INDEX inbox_ready ON inbox (timestamp_ms, seq)"
    "  WHERE state IN ('pending', 'sending') AND claimed = 0;"
    /* Chats with an event in progress: at most one row per worker. */
    "CREATE INDEX inbox_busy ON inbox (chat_id) WHERE claimed = 1;"

    "CREATE TABLE history ("
    "  seq          INTEGER PRIMARY KEY,"
    "  chat_id      TEXT    NOT NULL,"
    "  role         TEXT    NOT NULL CHECK (role IN ('user', 'assistant', 'context')),"
    "  speaker      TEXT,"
    "  text         TEXT    NOT NULL,"
    "  message_id   TEXT,"
    "  timestamp_ms INTEGER NOT NULL"
    ");"
    "CREATE INDEX history_chat ON history (chat_id, seq);"
    "CREATE INDEX history_message ON history (chat_id, message_id) WHERE message_id IS NOT NULL;"
    "CREATE INDEX history_time ON history (timestamp_ms);"

    "CREATE TABLE bot_messages ("
    "  chat_id      TEXT    NOT NULL,"
    "  message_id   TEXT    NOT NULL,"
    "  timestamp_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (chat_id, message_id)"
    ");"
    "CREATE INDEX bot_messages_time ON bot_messages (timestamp_ms);"

    "CREATE TABLE profiles ("
    "  chat_id       TEXT    NOT NULL,"
    "  user_id       TEXT    NOT NULL,"
    "  display_name  TEXT    NOT NULL,"
    "  fetched_at_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (chat_id, user_id)"
    ");"
    "CREATE INDEX profiles_time ON profiles (fetched_at_ms);"

    "CREATE TABLE rate ("
    "  user_id         TEXT    PRIMARY KEY,"
    "  window_start_ms INTEGER NOT NULL,"
    "  count           INTEGER NOT NULL,"
    "  warned          INTEGER NOT NULL"
    ");"
    "CREATE INDEX rate_time ON rate (window_start_ms);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* ---- statements, prepared once per handle ---- */

#define STATEMENTS(X)                                                                          \
    X(BEGIN, "BEGIN IMMEDIATE")                                                                \
    X(COMMIT, "COMMIT")                                                                        \
    X(ROLLBACK, "ROLLBACK")                                                                    \
    X(PING, "SELECT count(*) FROM sqlite_master")                                              \
    X(INBOX_ADD, "INSERT INTO inbox (event_id, chat_id, timestamp_ms, payload)"                \
                 " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (event_id) DO NOTHING")                 \
    X(INBOX_FORGET, "DELETE FROM inbox WHERE event_id = ?1 AND state = 'pending' AND claimed = 0") \
    X(INBOX_DEPTH, "SELECT count(*) FROM inbox WHERE state IN ('pending', 'working', 'sending')") \
    X(CLAIM_PICK, "SELECT seq, event_id, chat_id, timestamp_ms, payload, state, claim_gen,"    \
                  " attempts, answer FROM inbox AS i INDEXED BY inbox_ready"                   \
                  " WHERE i.state IN ('pending', 'sending') AND i.claimed = 0"                 \
                  " AND (i.chat_id = '' OR NOT EXISTS (SELECT 1 FROM inbox AS b"               \
                  "      WHERE b.chat_id = i.chat_id AND b.claimed = 1))"                      \
                  " ORDER BY i.timestamp_ms, i.seq LIMIT 1")                                   \
    X(CLAIM_TAKE, "UPDATE inbox SET state = CASE state WHEN 'pending' THEN 'working'"          \
                  " ELSE state END, claimed = 1, claim_gen = claim_gen + 1,"                   \
                  " attempts = attempts + 1, claimed_at_ms = ?2 WHERE seq = ?1")               \
    X(JOB_SENDING, "UPDATE inbox SET state = 'sending', answer = ?3"                           \
                   " WHERE event_id = ?1 AND claim_gen = ?2 AND claimed = 1")                  \
    X(JOB_DONE, "UPDATE inbox SET state = 'done', claimed = 0, payload = NULL, answer = NULL," \
                " outcome = ?3, done_at_ms = ?4"                                               \
                " WHERE event_id = ?1 AND claim_gen = ?2 AND claimed = 1")                     \
    X(JOB_RENEW, "UPDATE inbox SET claimed_at_ms = ?3"                                          \
                 " WHERE event_id = ?1 AND claim_gen = ?2 AND claimed = 1")                    \
    X(JOB_RELEASE, "UPDATE inbox SET state = CASE state WHEN 'working' THEN 'pending'"         \
                   " ELSE state END, claimed = 0"                                              \
                   " WHERE event_id = ?1 AND claim_gen = ?2 AND claimed = 1")                  \
    X(RECOVER, "UPDATE inbox SET state = CASE state WHEN 'working' THEN 'pending'"             \
               " ELSE state END, claimed = 0 WHERE claimed = 1")                               \
    X(HISTORY_ADD, "INSERT INTO history (chat_id, role, speaker, text, message_id,"            \
                   " timestamp_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                           \
    X(BOT_ADD, "INSERT INTO bot_messages (chat_id, message_id, timestamp_ms)"                  \
               " VALUES (?1, ?2, ?3) ON CONFLICT (chat_id, message_id)"                        \
               " DO UPDATE SET timestamp_ms = excluded.timestamp_ms")                          \
    X(BOT_IS, "SELECT 1 FROM bot_messages WHERE chat_id = ?1 AND message_id = ?2")             \
    X(HISTORY_LOAD, "SELECT role, speaker, text, message_id, timestamp_ms FROM ("              \
                    " SELECT * FROM (SELECT seq, role, speaker, text, message_id, timestamp_ms" \
                    "  FROM history WHERE chat_id = ?1 AND role IN ('user', 'assistant')"      \
                    "  ORDER BY seq DESC LIMIT ?2)"                                            \
                    " UNION ALL"                                                               \
                    " SELECT * FROM (SELECT seq, role, speaker, text, message_id, timestamp_ms" \
                    "  FROM history WHERE chat_id = ?1 AND role = 'context'"                   \
                    "  AND seq > coalesce((SELECT max(seq) FROM history"                       \
                    "                      WHERE chat_id = ?1 AND role = 'assistant'), 0)"     \
                    "  ORDER BY seq DESC LIMIT ?3)"                                            \
                    ") ORDER BY seq")                                                          \
    X(MSG_TEXT, "SELECT text FROM history WHERE chat_id = ?1 AND message_id = ?2"              \
                " ORDER BY seq DESC LIMIT 1")                                                  \
    X(MSG_DELETE, "DELETE FROM history WHERE chat_id = ?1 AND message_id = ?2")                \
    X(MSG_UPDATE, "UPDATE history SET text = ?3 WHERE chat_id = ?1 AND message_id = ?2")       \
    X(CONTEXT_TRIM, "DELETE FROM history WHERE chat_id = ?1 AND role = 'context'"              \
                    " AND seq NOT IN (SELECT seq FROM history"                                 \
                    "  WHERE chat_id = ?1 AND role = 'context' ORDER BY seq DESC LIMIT ?2)")   \
    X(HISTORY_CLEAR, "DELETE FROM history WHERE chat_id = ?1")                                 \
    X(FORGET_BOT, "DELETE FROM bot_messages WHERE chat_id = ?1")                               \
    X(FORGET_PROFILES, "DELETE FROM profiles WHERE chat_id = ?1")                              \
    X(FORGET_RATE, "DELETE FROM rate WHERE user_id = ?1")                                      \
    X(FORGET_INBOX, "UPDATE inbox SET payload = NULL, answer = NULL"                           \
                    " WHERE state = 'done' AND chat_id = ?1"                                   \
                    " AND (payload IS NOT NULL OR answer IS NOT NULL)")                        \
    X(PROFILE_GET, "SELECT display_name, fetched_at_ms FROM profiles"                          \
                   " WHERE chat_id = ?1 AND user_id = ?2")                                     \
    X(PROFILE_PUT, "INSERT INTO profiles (chat_id, user_id, display_name, fetched_at_ms)"      \
                   " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (chat_id, user_id) DO UPDATE SET"     \
                   " display_name = excluded.display_name,"                                    \
                   " fetched_at_ms = excluded.fetched_at_ms")                                  \
    X(RATE_GET, "SELECT window_start_ms, count, warned FROM rate WHERE user_id = ?1")          \
    X(RATE_PUT, "INSERT INTO rate (user_id, window_start_ms, count, warned)"                   \
                " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id) DO UPDATE SET"                 \
                " window_start_ms = excluded.window_start_ms, count = excluded.count,"         \
                " warned = excluded.warned")                                                   \
    X(PURGE_HISTORY, "DELETE FROM history WHERE seq IN (SELECT seq FROM history"               \
                     " WHERE timestamp_ms < ?1 LIMIT ?2)")                                     \
    X(PURGE_BOT, "DELETE FROM bot_messages WHERE rowid IN (SELECT rowid FROM bot_messages"     \
                 " WHERE timestamp_ms < ?1 LIMIT ?2)")                                         \
    X(PURGE_PROFILES, "DELETE FROM profiles WHERE rowid IN (SELECT rowid FROM profiles"        \
                      " WHERE fetched_at_ms < ?1 LIMIT ?2)")                                   \
    X(PURGE_RATE, "DELETE FROM rate WHERE rowid IN (SELECT rowid FROM rate"                    \
                  " WHERE window_start_ms < ?1 LIMIT ?2)")                                     \
    /* Dedup window in event time: LINE redelivers relative to the event. */                   \
    X(PURGE_INBOX, "DELETE FROM inbox WHERE seq IN (SELECT seq FROM inbox"                     \
                   " WHERE state = 'done' AND timestamp_ms < ?1 LIMIT ?2)")

#define STMT_ENUM(name, sql) STMT_##name,
enum stmt_id { STATEMENTS(STMT_ENUM) STMT_COUNT };
#undef STMT_ENUM

#define STMT_SQL(name, sql) sql,
static const char *const stmt_sql[STMT_COUNT] = { STATEMENTS(STMT_SQL) };
#undef STMT_SQL

/* One connection per database file and process, shared by every handle that
 * opened the same location. Handles are per thread; the connection is used by
 * one handle at a time, through the gate below. One connection keeps its page
 * cache valid across everybody's writes (with one connection per thread, each
 * write made every other connection drop its cache and read the pages again)
 * and prepares the statements once. */
struct shared_db {
    struct shared_db *next;   /* in `shared_list` */
    char *location;
    bool is_uri;
    pid_t pid;                /* the process that opened it: a connection never crosses fork() */
    int refs;
    sqlite3 *db;
    sqlite3_stmt *stmts[STMT_COUNT];
    sqlite3_stmt *sync_full;  /* PRAGMA synchronous = FULL */
    sqlite3_stmt *sync_normal;
    bool synced;              /* the connection is at synchronous=FULL */

    /* The gate. The handles take turns on the connection, and the fully
     * durable handles (ingest: a webhook's ack waits on its commit) go before
     * waiting worker handles, so a busy inbox never holds an acknowledgement
     * back behind a queue of workers. Other processes on the same file are
     * kept in order by SQLite's own locks (busy_wait). */
    pthread_mutex_t lock;
    pthread_cond_t urgent_turn; /* durable handles wait here */
    pthread_cond_t relaxed_turn;
    bool taken;
    int urgent;                 /* durable handles waiting */
    int relaxed;                /* relaxed handles waiting */
};

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shared_db *shared_list;

struct sqlite_store {
    struct shared_db *sh;
    bool relaxed;      /* commits need no fsync, except job_sending's */
    bool in_gate;      /* this handle holds the connection */
    bool batch;        /* store_batch_begin: a transaction spans several calls;
                        * st->batch_failed says whether it is still good */
};

static struct sqlite_store *backend_of(struct store *st)
{
    return st->backend;
}

static sqlite3 *db_of(struct store *st)
{
    return backend_of(st)->sh->db;
}

/* Steps one of the two synchronous pragmas, unless already in that mode. */
static int set_synced(struct shared_db *sh, bool full)
{
    if (sh->synced == full)
        return 0;
    sqlite3_stmt *s = full ? sh->sync_full : sh->sync_normal;
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return -1;
    sh->synced = full;
    return 0;
}

/* Takes the connection for this handle. Returns false when the handle already
 * held it (a batch): the caller then leaves it alone. */
static bool gate_enter(struct sqlite_store *h)
{
    if (h->in_gate)
        return false;
    struct shared_db *sh = h->sh;
    pthread_mutex_lock(&sh->lock);
    if (h->relaxed) {
        sh->relaxed++;
        while (sh->taken || sh->urgent > 0)
            pthread_cond_wait(&sh->relaxed_turn, &sh->lock);
        sh->relaxed--;
    } else {
        sh->urgent++;
        while (sh->taken)
            pthread_cond_wait(&sh->urgent_turn, &sh->lock);
        sh->urgent--;
    }
    sh->taken = true;
    pthread_mutex_unlock(&sh->lock);
    h->in_gate = true;
    /* A durable handle commits with an fsync, a relaxed one without. If the
     * switch fails the connection stays at FULL: slower, never less safe. */
    if (set_synced(sh, !h->relaxed) != 0 && h->relaxed)
        sh->synced = true;
    return true;
}

/* Hands the connection to one waiter, a durable one first (waking them all
 * would have all but one go back to sleep, each a context switch). */
static void gate_leave(struct sqlite_store *h)
{
    if (!h->in_gate)
        return;
    h->in_gate = false;
    struct shared_db *sh = h->sh;
    pthread_mutex_lock(&sh->lock);
    sh->taken = false;
    if (sh->urgent > 0)
        pthread_cond_signal(&sh->urgent_turn);
    else if (sh->relaxed > 0)
        pthread_cond_signal(&sh->relaxed_turn);
    pthread_mutex_unlock(&sh->lock);
}

/* Waits for another connection's write lock in short steps (SQLite's own
 * handler sleeps up to 100 ms at a time, which stalls a busy inbox), for at
 * most BUSY_TIMEOUT_MS in all. */
static int busy_wait(void *arg, int attempt)
{
    (void)arg;
    long step_us = attempt < 20 ? 50L * (attempt + 1) : 2000L;
    long waited_us = 0;
    for (int i = 0; i < attempt; i++)
        waited_us += i < 20 ? 50L * (i + 1) : 2000L;
    if (waited_us >= (long)BUSY_TIMEOUT_MS * 1000)
        return 0;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = step_us * 1000L};
    nanosleep(&ts, NULL);
    return 1;
}

static sqlite3_stmt *stmt(struct store *st, enum stmt_id id)
{
    assert(id < STMT_COUNT && backend_of(st)->sh->stmts[id]);
    return backend_of(st)->sh->stmts[id];
}

/* Records SQLite's message for the last call and returns -1. SQLite's
 * messages name tables and constraints, never the bound values. */
static int db_error(struct store *st, const char *what)
{
    store_set_error(st, "sqlite: %s: %s", what, sqlite3_errmsg(db_of(st)));
    return -1;
}

static int oom(struct store *st)
{
    store_set_error(st, "sqlite: out of memory");
    return -1;
}

/* Makes a statement ready for its next use. */
static void finish(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* Binds a string with its explicit length; NULL binds SQL NULL. The statement
 * is always reset before the caller returns, so SQLITE_STATIC is safe. */
static int bind_text(sqlite3_stmt *s, int idx, const char *text)
{
    if (!text)
        return sqlite3_bind_null(s, idx);
    return sqlite3_bind_text64(s, idx, text, strlen(text), SQLITE_STATIC, SQLITE_UTF8);
}

/* Binds two strings, the common (chat_id, key) pair. */
static int bind_pair(sqlite3_stmt *s, const char *a, const char *b)
{
    int rc = bind_text(s, 1, a);
    return rc == SQLITE_OK ? bind_text(s, 2, b) : rc;
}

/* Copies a text column into a malloc'd string (NULL for SQL NULL). */
static int column_dup(sqlite3_stmt *s, int col, char **out)
{
    const unsigned char *p = sqlite3_column_text(s, col);
    int len;

    *out = NULL;
    if (!p)
        return sqlite3_column_type(s, col) == SQLITE_NULL ? 0 : -1;
    len = sqlite3_column_bytes(s, col);
    *out = malloc((size_t)len + 1);
    if (!*out)
        return -1;
    memcpy(*out, p, (size_t)len);
    (*out)[len] = '\0';
    return 0;
}

/* Steps a statement that returns no rows (or whose rows do not matter), then
 * resets it. Returns 0 or -1 with the error recorded. The caller holds the
 * connection (every op runs inside the gate, see `sqlite_ops`). */
static int run(struct store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);

    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        db_error(st, what);
        finish(s);
        return -1;
    }
    finish(s);
    return 0;
}

/* Runs a statement bound by the caller and reports how many rows it changed
 * (the binding result `bind_rc` is checked first). */
static int run_changes(struct store *st, sqlite3_stmt *s, int bind_rc, const char *what,
                       int *changes)
{
    if (bind_rc != SQLITE_OK) {
        db_error(st, what);
        finish(s);
        return -1;
    }
    if (run(st, s, what) != 0)
        return -1;
    if (changes)
        *changes = sqlite3_changes(db_of(st));
    return 0;
}

/* Every explicit transaction writes (BEGIN IMMEDIATE). Inside a batch the
 * batch's transaction is used, and only store_batch_end commits it. */
static int tx_begin(struct store *st)
{
    if (backend_of(st)->batch)
        return 0;
    return run(st, stmt(st, STMT_BEGIN), "begin transaction");
}

/* Undoes the open transaction, if SQLite has not already done so (inside a
 * batch: the whole batch). Keeps the error that caused it. */
static void tx_rollback(struct store *st)
{
    if (backend_of(st)->batch)
        st->batch_failed = true;
    if (!sqlite3_get_autocommit(db_of(st))) {
        sqlite3_stmt *s = stmt(st, STMT_ROLLBACK);
        sqlite3_step(s);
        finish(s);
    }
}

static int tx_commit(struct store *st)
{
    if (backend_of(st)->batch)
        return 0;
    if (run(st, stmt(st, STMT_COMMIT), "commit") != 0) {
        tx_rollback(st);
        return -1;
    }
    return 0;
}

/* ---- open, migrate, close ---- */

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Runs one SQL text outside the statement cache (set-up and migrations). */
static int exec_sql(struct store *st, const char *sql, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db_of(st), sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        store_set_error(st, "sqlite: %s: %s", what, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Switches to WAL. The first switch needs an exclusive lock, which the busy
 * handler does not wait for, so another opener can make it fail briefly. */
static int set_wal(struct store *st)
{
    sqlite3 *db = db_of(st);
    char mode[16] = "";

    for (int waited = 0;; waited += 10) {
        sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL);

        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            const unsigned char *m = sqlite3_column_text(s, 0);
            if (m)
                snprintf(mode, sizeof mode, "%s", (const char *)m);
            sqlite3_finalize(s);
            break;
        }
        sqlite3_finalize(s);
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited >= BUSY_TIMEOUT_MS) {
            store_set_error(st, "sqlite: journal_mode=WAL: %s", sqlite3_errmsg(db));
            return -1;
        }
        sleep_ms(10);
    }
    /* In-memory and temporary databases (no file name) cannot use WAL. */
    if (strcmp(mode, "wal") != 0) {
        const char *file = sqlite3_db_filename(db, "main");
        if (file && *file) {
            store_set_error(st, "sqlite: the database cannot use WAL mode (journal_mode is %s);"
                                " put it on a local file system",
                            mode);
            return -1;
        }
    }
    return 0;
}

static int read_user_version(struct store *st, int *version)
{
    sqlite3 *db = db_of(st);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        db_error(st, "reading the schema version");
        sqlite3_finalize(s);
        return -1;
    }
    *version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return 0;
}

static int check_version(struct store *st, int version)
{
    if (version > SCHEMA_VERSION) {
        store_set_error(st, "sqlite: the database has schema version %d, newer than this"
                            " linebot knows (%d); upgrade linebot or use another database",
                        version, SCHEMA_VERSION);
        return -1;
    }
    if (version < 0) {
        store_set_error(st, "sqlite: the database has an invalid schema version %d", version);
        return -1;
    }
    return 0;
}

/* Brings the schema up to SCHEMA_VERSION, one step per transaction. The
 * version is read again under the write lock, because another process may
 * be migrating the same file at the same moment. */
static int migrate(struct store *st)
{
    int version;

    if (read_user_version(st, &version) != 0 || check_version(st, version) != 0)
        return -1;
    while (version < SCHEMA_VERSION) {
        char bump[64];

        if (exec_sql(st, "BEGIN IMMEDIATE", "begin migration") != 0)
            return -1;
        if (read_user_version(st, &version) != 0 || check_version(st, version) != 0)
            goto fail;
        if (version == SCHEMA_VERSION) {
            exec_sql(st, "ROLLBACK", "end migration");
            break;
        }
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", version + 1);
        if (exec_sql(st, migrations[version], "migration") != 0 ||
            exec_sql(st, bump, "migration") != 0 || exec_sql(st, "COMMIT", "migration") != 0) {
            char cause[STORE_ERROR_MAX];
            snprintf(cause, sizeof cause, "%s", st->error);
            store_set_error(st, "sqlite: migrating the schema to version %d failed: %.180s",
                            version + 1, cause);
            goto fail;
        }
        version++;
    }
    return 0;

fail:
    if (!sqlite3_get_autocommit(db_of(st)))
        sqlite3_exec(db_of(st), "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static void shared_free(struct shared_db *sh)
{
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(sh->stmts[i]);
    sqlite3_finalize(sh->sync_full);
    sqlite3_finalize(sh->sync_normal);
    sqlite3_close_v2(sh->db);
    pthread_cond_destroy(&sh->urgent_turn);
    pthread_cond_destroy(&sh->relaxed_turn);
    pthread_mutex_destroy(&sh->lock);
    free(sh->location);
    free(sh);
}

/* Opens the connection of a new shared_db and brings the file up to date.
 * Called with shared_lock held; `st` receives the errors. */
static int shared_connect(struct store *st, struct shared_db *sh)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sh->is_uri)
        flags |= SQLITE_OPEN_URI;
    int rc = sqlite3_open_v2(sh->location, &sh->db, flags, NULL);
    if (rc != SQLITE_OK) {
        store_set_error(st, "sqlite: cannot open %.120s: %s", sh->location,
                        sh->db ? sqlite3_errmsg(sh->db) : sqlite3_errstr(rc));
        return -1;
    }
    sqlite3_busy_handler(sh->db, busy_wait, NULL);
    /* No writable_schema and similar footguns, whatever the SQL. */
    sqlite3_db_config(sh->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);

    if (set_wal(st) != 0 ||
        /* 1 MiB of page cache (SQLite's default is 2 MiB): the hot pages (the
         * inbox's indexes, the newest history) are few. */
        exec_sql(st, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -1024",
                 "settings") != 0 ||
        migrate(st) != 0)
        return -1;
    sh->synced = true;
    if (sqlite3_prepare_v3(sh->db, "PRAGMA synchronous = FULL", -1, SQLITE_PREPARE_PERSISTENT,
                           &sh->sync_full, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(sh->db, "PRAGMA synchronous = NORMAL", -1, SQLITE_PREPARE_PERSISTENT,
                           &sh->sync_normal, NULL) != SQLITE_OK)
        return db_error(st, "preparing statements");
    for (int i = 0; i < STMT_COUNT; i++) {
        rc = sqlite3_prepare_v3(sh->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &sh->stmts[i],
                                NULL);
        if (rc != SQLITE_OK)
            return db_error(st, "preparing statements");
    }
    return 0;
}

static void sq_close(struct store *st)
{
    struct sqlite_store *h = backend_of(st);

    if (!h)
        return;
    if (h->in_gate) {
        /* Closed in the middle of a batch: it is rolled back. */
        if (!sqlite3_get_autocommit(h->sh->db))
            sqlite3_exec(h->sh->db, "ROLLBACK", NULL, NULL, NULL);
        gate_leave(h);
    }
    pthread_mutex_lock(&shared_lock);
    if (--h->sh->refs == 0) {
        for (struct shared_db **p = &shared_list; *p; p = &(*p)->next) {
            if (*p == h->sh) {
                *p = h->sh->next;
                break;
            }
        }
        shared_free(h->sh);
    }
    pthread_mutex_unlock(&shared_lock);
    free(h);
    st->backend = NULL;
}

static const struct store_backend_ops sqlite_ops;

int store_sqlite_open(struct store *st, const char *location, bool is_uri)
{
    if (!sqlite3_threadsafe()) {
        store_set_error(st, "sqlite: the SQLite library was built without thread support");
        return -1;
    }
    struct sqlite_store *h = calloc(1, sizeof *h);
    if (!h)
        return oom(st);

    pthread_mutex_lock(&shared_lock);
    struct shared_db *sh = shared_list;
    pid_t self = getpid();
    while (sh && (sh->pid != self || sh->is_uri != is_uri || strcmp(sh->location, location) != 0))
        sh = sh->next;
    if (sh) {
        sh->refs++;
    } else {
        sh = calloc(1, sizeof *sh);
        if (!sh || !(sh->location = strdup(location))) {
            pthread_mutex_unlock(&shared_lock);
            free(sh);
            free(h);
            return oom(st);
        }
        sh->is_uri = is_uri;
        sh->pid = self;
        sh->refs = 1;
        pthread_mutex_init(&sh->lock, NULL);
        pthread_cond_init(&sh->urgent_turn, NULL);
        pthread_cond_init(&sh->relaxed_turn, NULL);
        h->sh = sh;
        st->backend = h;
        if (shared_connect(st, sh) != 0) {
            pthread_mutex_unlock(&shared_lock);
            shared_free(sh);
            free(h);
            st->backend = NULL;
            return -1;
        }
        sh->next = shared_list;
        shared_list = sh;
    }
    pthread_mutex_unlock(&shared_lock);
    h->sh = sh;
    st->backend = h;
    st->ops = &sqlite_ops;
    return 0;
}

static int sq_ping(struct store *st)
{
    return run(st, stmt(st, STMT_PING), "ping");
}

/* ---- inbox ---- */

static int sq_inbox_add(struct store *st, struct inbox_item *items, size_t n, size_t *n_new)
{
    sqlite3_stmt *s = stmt(st, STMT_INBOX_ADD);
    size_t added = 0;

    if (tx_begin(st) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct inbox_item *it = &items[i];
        int changes = 0;
        int rc = bind_text(s, 1, it->event_id);

        if (rc == SQLITE_OK)
            rc = bind_text(s, 2, it->chat_id ? it->chat_id : "");
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 3, it->timestamp_ms);
        if (rc == SQLITE_OK)
            rc = bind_text(s, 4, it->payload);
        if (run_changes(st, s, rc, "inbox add", &changes) != 0) {
            tx_rollback(st);
            return -1;
        }
        it->added = changes > 0;
        added += (size_t)changes;
    }
    if (tx_commit(st) != 0) {
        for (size_t i = 0; i < n; i++)
            items[i].added = false;
        return -1;
    }
    *n_new = added;
    return 0;
}

static int sq_inbox_forget(struct store *st, const char *const *event_ids, size_t n)
{
    sqlite3_stmt *s = stmt(st, STMT_INBOX_FORGET);

    if (tx_begin(st) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int changes = 0;
        if (run_changes(st, s, bind_text(s, 1, event_ids[i]), "inbox forget", &changes) != 0) {
            tx_rollback(st);
            return -1;
        }
    }
    return tx_commit(st);
}

static int sq_inbox_depth(struct store *st, int64_t *depth)
{
    sqlite3_stmt *s = stmt(st, STMT_INBOX_DEPTH);

    if (sqlite3_step(s) != SQLITE_ROW) {
        db_error(st, "inbox depth");
        finish(s);
        return -1;
    }
    *depth = sqlite3_column_int64(s, 0);
    finish(s);
    return 0;
}

/* Fills `job` from the CLAIM_PICK row and returns its seq, or -1 (out of memory). */
static int64_t read_job(sqlite3_stmt *s, struct job *job)
{
    const unsigned char *state;

    if (column_dup(s, 1, &job->event_id) != 0 || column_dup(s, 2, &job->chat_id) != 0 ||
        column_dup(s, 4, &job->payload) != 0 || column_dup(s, 8, &job->answer) != 0)
        return -1;
    job->timestamp_ms = sqlite3_column_int64(s, 3);
    state = sqlite3_column_text(s, 5);
    job->state = state && strcmp((const char *)state, "sending") == 0 ? JOB_SENDING : JOB_PENDING;
    job->claim_gen = sqlite3_column_int64(s, 6) + 1;
    int64_t attempts = sqlite3_column_int64(s, 7) + 1;
    job->attempts = attempts > INT_MAX ? INT_MAX : (int)attempts;
    return sqlite3_column_int64(s, 0);
}

static int sq_claim_next(struct store *st, int64_t now_ms, struct job *job)
{
    sqlite3_stmt *pick = stmt(st, STMT_CLAIM_PICK);
    sqlite3_stmt *take = stmt(st, STMT_CLAIM_TAKE);
    int64_t seq;
    int rc, changes = 0;

    /* IMMEDIATE: the write lock is held from the pick, so no other handle
     * can pick the same row, or another row of the same chat, meanwhile. */
    if (tx_begin(st) != 0)
        return -1;
    rc = sqlite3_step(pick);
    if (rc == SQLITE_DONE) {
        finish(pick);
        tx_rollback(st); /* nothing was written */
        return 0;
    }
    if (rc != SQLITE_ROW) {
        db_error(st, "claim");
        finish(pick);
        tx_rollback(st);
        return -1;
    }
    seq = read_job(pick, job);
    finish(pick);
    if (seq < 0) {
        oom(st);
        goto fail;
    }
    rc = sqlite3_bind_int64(take, 1, seq);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(take, 2, now_ms);
    if (run_changes(st, take, rc, "claim", &changes) != 0)
        goto fail;
    assert(changes == 1);
    if (tx_commit(st) != 0) {
        job_free(job);
        return -1;
    }
    return 1;

fail:
    tx_rollback(st);
    job_free(job);
    return -1;
}

/* The fenced updates: 0 when applied, 1 when the claim is gone, -1 on error. */
static int fenced(struct store *st, sqlite3_stmt *s, int bind_rc, const char *what)
{
    int changes = 0;

    if (run_changes(st, s, bind_rc, what, &changes) != 0)
        return -1;
    return changes == 0 ? 1 : 0;
}

static int sq_relax_durability(struct store *st)
{
    backend_of(st)->relaxed = true;
    return 0;
}

/* The answer record must be on disk before the send it announces: this commit
 * is made with synchronous=FULL whatever the handle. In WAL mode that fsync
 * also covers every earlier, unsynced commit of the file. */
static int sq_job_sending(struct store *st, const char *event_id, int64_t claim_gen,
                          const char *answer)
{
    if (set_synced(backend_of(st)->sh, true) != 0)
        return db_error(st, "durable commit");
    sqlite3_stmt *s = stmt(st, STMT_JOB_SENDING);
    int rc = bind_text(s, 1, event_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, claim_gen);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, answer);
    return fenced(st, s, rc, "job sending");
}

static int sq_job_done(struct store *st, const char *event_id, int64_t claim_gen,
                       const char *outcome, int64_t done_at_ms)
{
    sqlite3_stmt *s = stmt(st, STMT_JOB_DONE);
    int rc = bind_text(s, 1, event_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, claim_gen);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, outcome);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 4, done_at_ms);
    return fenced(st, s, rc, "job done");
}

static int sq_job_release(struct store *st, const char *event_id, int64_t claim_gen)
{
    sqlite3_stmt *s = stmt(st, STMT_JOB_RELEASE);
    int rc = bind_text(s, 1, event_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, claim_gen);
    return fenced(st, s, rc, "job release");
}

/* SQLite serves one process, so a lease only records that its holder is alive;
 * crashed claims are freed by store_recover at start-up. */
static int sq_job_renew(struct store *st, const char *event_id, int64_t claim_gen, int64_t now_ms)
{
    sqlite3_stmt *s = stmt(st, STMT_JOB_RENEW);
    int rc = bind_text(s, 1, event_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, claim_gen);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, now_ms);
    return fenced(st, s, rc, "job renew");
}

static int sq_recover(struct store *st)
{
    return run(st, stmt(st, STMT_RECOVER), "recover");
}

/* ---- history ---- */

static const char *role_name(enum turn_role role)
{
    switch (role) {
    case TURN_USER: return "user";
    case TURN_ASSISTANT: return "assistant";
    case TURN_CONTEXT: return "context";
    }
    return "context";
}

static enum turn_role role_of(const unsigned char *name)
{
    if (name && strcmp((const char *)name, "user") == 0)
        return TURN_USER;
    if (name && strcmp((const char *)name, "assistant") == 0)
        return TURN_ASSISTANT;
    return TURN_CONTEXT;
}

static int sq_history_add(struct store *st, const char *chat_id, const struct turn *turn)
{
    sqlite3_stmt *s = stmt(st, STMT_HISTORY_ADD);
    int rc = bind_text(s, 1, chat_id);

    if (rc == SQLITE_OK)
        rc = bind_text(s, 2, role_name(turn->role));
    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, turn->speaker);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 4, turn->text);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 5, turn->message_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 6, turn->timestamp_ms);
    return run_changes(st, s, rc, "history add", NULL);
}

static int sq_bot_message_add(struct store *st, const char *chat_id, const char *message_id,
                              int64_t timestamp_ms)
{
    sqlite3_stmt *s = stmt(st, STMT_BOT_ADD);
    int rc = bind_pair(s, chat_id, message_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, timestamp_ms);
    return run_changes(st, s, rc, "bot message add", NULL);
}

/* Steps a lookup bound by the caller: 1 row, 0 none, -1 error. Leaves the
 * statement on its row for the caller to read and finish(). */
static int lookup(struct store *st, sqlite3_stmt *s, int bind_rc, const char *what)
{
    int rc = bind_rc == SQLITE_OK ? sqlite3_step(s) : bind_rc;

    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE) {
        finish(s);
        return 0;
    }
    db_error(st, what);
    finish(s);
    return -1;
}

static int sq_bot_message_is(struct store *st, const char *chat_id, const char *message_id)
{
    sqlite3_stmt *s = stmt(st, STMT_BOT_IS);
    int found = lookup(st, s, bind_pair(s, chat_id, message_id), "bot message lookup");

    if (found == 1)
        finish(s);
    return found;
}

static int sq_history_load(struct store *st, const char *chat_id, int max_turns, int max_context,
                           struct turn **turns, size_t *n)
{
    sqlite3_stmt *s = stmt(st, STMT_HISTORY_LOAD);
    struct turn *list = NULL;
    size_t count = 0, cap = 0;
    int rc = bind_text(s, 1, chat_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 2, max_turns);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 3, max_context);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        struct turn *t;

        if ((rc = sqlite3_step(s)) != SQLITE_ROW)
            break;

        if (count == cap) {
            size_t new_cap = cap ? cap * 2 : 16;
            struct turn *grown = realloc(list, new_cap * sizeof *list);
            if (!grown)
                goto out_of_memory;
            list = grown;
            cap = new_cap;
        }
        t = &list[count++];
        memset(t, 0, sizeof *t);
        t->role = role_of(sqlite3_column_text(s, 0));
        t->timestamp_ms = sqlite3_column_int64(s, 4);
        if (column_dup(s, 1, &t->speaker) != 0 || column_dup(s, 2, &t->text) != 0 ||
            column_dup(s, 3, &t->message_id) != 0)
            goto out_of_memory;
        if (!t->text && !(t->text = calloc(1, 1)))
            goto out_of_memory;
    }
    if (rc != SQLITE_DONE) {
        db_error(st, "history load");
        finish(s);
        turns_free(list, count);
        return -1;
    }
    finish(s);
    *turns = list;
    *n = count;
    return 0;

out_of_memory:
    finish(s);
    turns_free(list, count);
    return oom(st);
}

static int sq_message_text(struct store *st, const char *chat_id, const char *message_id,
                           char **text)
{
    sqlite3_stmt *s = stmt(st, STMT_MSG_TEXT);
    int found = lookup(st, s, bind_pair(s, chat_id, message_id), "message text");

    if (found != 1)
        return found;
    if (column_dup(s, 0, text) != 0 || (!*text && !(*text = calloc(1, 1)))) {
        finish(s);
        return oom(st);
    }
    finish(s);
    return 1;
}

static int sq_message_delete(struct store *st, const char *chat_id, const char *message_id)
{
    sqlite3_stmt *s = stmt(st, STMT_MSG_DELETE);
    return run_changes(st, s, bind_pair(s, chat_id, message_id), "message delete", NULL);
}

static int sq_message_update(struct store *st, const char *chat_id, const char *message_id,
                             const char *text)
{
    sqlite3_stmt *s = stmt(st, STMT_MSG_UPDATE);
    int rc = bind_pair(s, chat_id, message_id);

    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, text);
    return run_changes(st, s, rc, "message update", NULL);
}

static int sq_context_trim(struct store *st, const char *chat_id, int keep)
{
    sqlite3_stmt *s = stmt(st, STMT_CONTEXT_TRIM);
    int rc = bind_text(s, 1, chat_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 2, keep);
    return run_changes(st, s, rc, "context trim", NULL);
}

static int sq_history_clear(struct store *st, const char *chat_id)
{
    sqlite3_stmt *s = stmt(st, STMT_HISTORY_CLEAR);
    return run_changes(st, s, bind_text(s, 1, chat_id), "history clear", NULL);
}

/* One transaction: the chat is forgotten entirely or not at all. Pending
 * events of the chat keep their payloads: they are acknowledged work that
 * comes after (or is) the unfollow/leave and is still to be handled. */
static int sq_forget_chat(struct store *st, const char *chat_id)
{
    static const enum stmt_id steps[] = { STMT_HISTORY_CLEAR, STMT_FORGET_BOT,
                                          STMT_FORGET_PROFILES, STMT_FORGET_RATE,
                                          STMT_FORGET_INBOX };

    if (tx_begin(st) != 0)
        return -1;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        sqlite3_stmt *s = stmt(st, steps[i]);
        if (run_changes(st, s, bind_text(s, 1, chat_id), "forget chat", NULL) != 0) {
            tx_rollback(st);
            return -1;
        }
    }
    return tx_commit(st);
}

/* ---- profiles and rate limits ---- */

static int sq_profile_get(struct store *st, const char *chat_id, const char *user_id,
                          int64_t fresh_after_ms, char **display_name)
{
    sqlite3_stmt *s = stmt(st, STMT_PROFILE_GET);
    int found = lookup(st, s, bind_pair(s, chat_id, user_id), "profile get");

    if (found != 1)
        return found;
    if (sqlite3_column_int64(s, 1) < fresh_after_ms) {
        finish(s);
        return 0;
    }
    if (column_dup(s, 0, display_name) != 0 ||
        (!*display_name && !(*display_name = calloc(1, 1)))) {
        finish(s);
        return oom(st);
    }
    finish(s);
    return 1;
}

static int sq_profile_put(struct store *st, const char *chat_id, const char *user_id,
                          const char *display_name, int64_t now_ms)
{
    sqlite3_stmt *s = stmt(st, STMT_PROFILE_PUT);
    int rc = bind_pair(s, chat_id, user_id);

    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, display_name);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 4, now_ms);
    return run_changes(st, s, rc, "profile put", NULL);
}

static int sq_rate_get(struct store *st, const char *user_id, struct rate_state *rs)
{
    sqlite3_stmt *s = stmt(st, STMT_RATE_GET);
    int found = lookup(st, s, bind_text(s, 1, user_id), "rate get");
    int64_t count;

    if (found != 1)
        return found;
    rs->window_start_ms = sqlite3_column_int64(s, 0);
    count = sqlite3_column_int64(s, 1);
    rs->count = count < 0 ? 0 : count > INT_MAX ? INT_MAX : (int)count;
    rs->warned = sqlite3_column_int64(s, 2) != 0;
    finish(s);
    return 1;
}

static int sq_rate_put(struct store *st, const char *user_id, const struct rate_state *rs)
{
    sqlite3_stmt *s = stmt(st, STMT_RATE_PUT);
    int rc = bind_text(s, 1, user_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, rs->window_start_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 3, rs->count);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 4, rs->warned ? 1 : 0);
    return run_changes(st, s, rc, "rate put", NULL);
}

/* ---- retention ---- */

/* Deletes in batches, each its own short transaction, so a large purge never
 * holds the write lock long enough to delay an incoming webhook. */
static int purge_table(struct store *st, enum stmt_id id, int64_t before_ms)
{
    sqlite3_stmt *s = stmt(st, id);
    int changes;

    do {
        int rc = sqlite3_bind_int64(s, 1, before_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(s, 2, PURGE_BATCH);
        if (run_changes(st, s, rc, "purge", &changes) != 0)
            return -1;
    } while (changes >= PURGE_BATCH);
    return 0;
}

static int sq_purge(struct store *st, int64_t before_ms, int64_t dedup_before_ms)
{
    if (purge_table(st, STMT_PURGE_HISTORY, before_ms) != 0 ||
        purge_table(st, STMT_PURGE_BOT, before_ms) != 0 ||
        purge_table(st, STMT_PURGE_PROFILES, before_ms) != 0 ||
        purge_table(st, STMT_PURGE_RATE, before_ms) != 0 ||
        purge_table(st, STMT_PURGE_INBOX, dedup_before_ms) != 0)
        return -1;
    return 0;
}

/* ---- batches, and the gate around every op ---- */

static int sq_batch_begin(struct store *st)
{
    struct sqlite_store *h = backend_of(st);
    gate_enter(h);
    if (run(st, stmt(st, STMT_BEGIN), "begin batch") != 0) {
        gate_leave(h);
        return -1;
    }
    h->batch = true;
    return 1;
}

static int sq_batch_end(struct store *st)
{
    struct sqlite_store *h = backend_of(st);
    if (!h->batch)
        return 0;
    int rc = 0;
    if (st->batch_failed) {
        tx_rollback(st); /* keeps the failed op's error */
        rc = -1;
    } else if (run(st, stmt(st, STMT_COMMIT), "commit batch") != 0) {
        tx_rollback(st);
        rc = -1;
    }
    h->batch = false;
    gate_leave(h);
    return rc;
}

/* Every op holds the connection while it runs. Inside a batch it already is
 * held; an op that fails there fails the whole batch, and the ops after it in
 * the batch fail at once (store_batch_end then rolls everything back). */
static bool op_enter(struct store *st)
{
    /* st->error still names the call that failed the batch. */
    return !(backend_of(st)->batch && st->batch_failed);
}

static int op_leave(struct store *st, bool mine, int rc)
{
    struct sqlite_store *h = backend_of(st);
    if (rc < 0 && h->batch)
        st->batch_failed = true;
    if (mine)
        gate_leave(h);
    return rc;
}

#define GATED(name, params, args)                                   \
    static int gated_##name params                                  \
    {                                                               \
        if (!op_enter(st))                                          \
            return -1;                                              \
        bool mine = gate_enter(backend_of(st));                     \
        return op_leave(st, mine, sq_##name args);                  \
    }

GATED(ping, (struct store *st), (st))
GATED(inbox_add, (struct store *st, struct inbox_item *items, size_t n, size_t *n_new), (st, items, n, n_new))
GATED(inbox_forget, (struct store *st, const char *const *ids, size_t n), (st, ids, n))
GATED(inbox_depth, (struct store *st, int64_t *depth), (st, depth))
GATED(claim_next, (struct store *st, int64_t now_ms, struct job *job), (st, now_ms, job))
GATED(job_sending, (struct store *st, const char *id, int64_t gen, const char *answer), (st, id, gen, answer))
GATED(job_done, (struct store *st, const char *id, int64_t gen, const char *outcome, int64_t at),
      (st, id, gen, outcome, at))
GATED(job_release, (struct store *st, const char *id, int64_t gen), (st, id, gen))
GATED(job_renew, (struct store *st, const char *id, int64_t gen, int64_t now_ms), (st, id, gen, now_ms))
GATED(recover, (struct store *st), (st))
GATED(history_add, (struct store *st, const char *chat, const struct turn *turn), (st, chat, turn))
GATED(bot_message_add, (struct store *st, const char *chat, const char *mid, int64_t ts), (st, chat, mid, ts))
GATED(bot_message_is, (struct store *st, const char *chat, const char *mid), (st, chat, mid))
GATED(history_load, (struct store *st, const char *chat, int max_turns, int max_context, struct turn **turns,
                     size_t *n), (st, chat, max_turns, max_context, turns, n))
GATED(message_text, (struct store *st, const char *chat, const char *mid, char **text), (st, chat, mid, text))
GATED(message_delete, (struct store *st, const char *chat, const char *mid), (st, chat, mid))
GATED(message_update, (struct store *st, const char *chat, const char *mid, const char *text),
      (st, chat, mid, text))
GATED(context_trim, (struct store *st, const char *chat, int keep), (st, chat, keep))
GATED(history_clear, (struct store *st, const char *chat), (st, chat))
GATED(forget_chat, (struct store *st, const char *chat), (st, chat))
GATED(profile_get, (struct store *st, const char *chat, const char *user, int64_t fresh_after, char **name),
      (st, chat, user, fresh_after, name))
GATED(profile_put, (struct store *st, const char *chat, const char *user, const char *name, int64_t now_ms),
      (st, chat, user, name, now_ms))
GATED(rate_get, (struct store *st, const char *user, struct rate_state *rs), (st, user, rs))
GATED(rate_put, (struct store *st, const char *user, const struct rate_state *rs), (st, user, rs))
GATED(purge, (struct store *st, int64_t before_ms, int64_t dedup_before_ms), (st, before_ms, dedup_before_ms))
#undef GATED

static const struct store_backend_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .relax_durability = sq_relax_durability,
    .batch_begin = sq_batch_begin,
    .batch_end = sq_batch_end,
#define OP(name) .name = gated_##name,
    OP(ping) OP(inbox_add) OP(inbox_forget) OP(inbox_depth) OP(claim_next) OP(job_sending)
    OP(job_done) OP(job_release) OP(job_renew) OP(recover) OP(history_add) OP(bot_message_add)
    OP(bot_message_is) OP(history_load) OP(message_text) OP(message_delete) OP(message_update)
    OP(context_trim) OP(history_clear) OP(forget_chat) OP(profile_get) OP(profile_put)
    OP(rate_get) OP(rate_put) OP(purge)
#undef OP
};
