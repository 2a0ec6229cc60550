/* store_sqlite.c - the SQLite backend of the store (see store.h, store_backend.h).
 *
 * WAL mode. The handles of one process share one connection per file (struct
 * shared_db), and take turns on it through a gate that puts durable handles
 * (ingest: an ack waits on its commit) first. The log is checkpointed by a
 * thread of its own (checkpointer_main). Several processes may use one
 * file too: SQLite's locks serialise the writers, and waits for another
 * process's lock are bounded by BUSY_TIMEOUT_MS, in short steps. Every
 * read-modify-write runs inside BEGIN IMMEDIATE, so it holds the write lock
 * from its first read.
 *
 * Durability: a durable handle commits with synchronous=FULL, so an event
 * acknowledged to LINE survives kill -9 and power loss. Worker handles relax
 * to synchronous=NORMAL (store_relax_durability): then only the answer record
 * before a send is fsynced. The connection switches between the two as the
 * gate passes from one handle to the next. The writes that must be on disk
 * before they return (inbox adds, answer records) go through a group commit
 * (durable_run): those that arrive while one commits share the next commit,
 * one transaction and one fsync for all.
 *
 * Every statement is prepared once per connection (SQLITE_PREPARE_PERSISTENT)
 * when the store opens, and reset right after use, so the hot path (inbox add,
 * claim) never parses SQL.
 *
 * The schema is versioned with PRAGMA user_version and grown by the ordered
 * `migrations` array, one transaction per step. A database from a newer
 * binary is refused rather than misread. The tables have PostgreSQL's names
 * (linebot_inbox, ...) since version 2.
 *
 * Each operation of store.h is one transaction here (BEGIN IMMEDIATE ...
 * COMMIT, or a single statement), exactly as on PostgreSQL; only durable
 * writes that arrive together share one, each with its own result.
 *
 * How claims work. An inbox row has a `state` (pending, working, sending,
 * waiting, done) and a `claimed` flag: claimed = 1 means a worker holds the row
 * under its claim_gen, on a lease from claimed_at_ms (the claim, or its latest
 * renewal) for STORE_LEASE_MS. `working` rows are always claimed; `sending` rows are
 * claimed while a worker finishes them and unclaimed after store_recover(),
 * store_job_release() or the end of their lease, which is how a crashed or
 * abandoned send becomes claimable again (as JOB_SENDING, with its recorded
 * answer). A claim's lease is looked at by the next claim (STMT_CLAIM_EXPIRE,
 * in the same transaction): when it ran out, the row is let go exactly as
 * store_recover() lets go of a crashed process's rows, so a worker that gave
 * up on a job because a write failed (a full disk) does not hold it forever.
 * A row is claimable when it is
 * pending or sending and not claimed, and its chat has no claimed webhook
 * event (chat "" is exempt). Webhook events go first: an internal job (kind
 * set) is picked only when no event is claimable, and it never holds its
 * chat. A `waiting` row (a parked answer) is never claimed. Fencing: sending/done/release only touch the row when claim_gen
 * matches and claimed = 1; every claim increments claim_gen, and recover and
 * release clear claimed, so an old claim can never act again. The CHECK on
 * the inbox table keeps these rules true inside the database itself.
 *
 * Storage faults (see store.h): before a write, the file at the path is
 * compared with the open one at most once a second, and a write failed for
 * want of space is remembered until the next health probe.
 */
#include "io/store_backend.h"

#include "core/alloc.h"
#include "core/kb_terms.h"
#include "core/memory.h"
#include "core/vec.h"
#include "io/clock.h"
#include "obs/log.h"

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

    /* 2 (issue 9): the tables take PostgreSQL's names; the inbox gains
     * internal jobs (`kind`, NULL for a webhook event), parked answers (state
     * 'waiting') and what answered (model, token usage). SQLite cannot change
     * a CHECK in place, so the inbox is copied into its new table. */
    "CREATE TABLE linebot_inbox ("
    "  seq               INTEGER PRIMARY KEY," /* arrival order */
    "  event_id          TEXT    NOT NULL UNIQUE," /* internal jobs: task:<kind>:<key> */
    "  kind              TEXT,"
    "  chat_id           TEXT    NOT NULL DEFAULT '',"
    "  timestamp_ms      INTEGER NOT NULL,"
    "  state             TEXT    NOT NULL DEFAULT 'pending'"
    "                    CHECK (state IN ('pending', 'working', 'sending', 'waiting', 'done')),"
    "  claimed           INTEGER NOT NULL DEFAULT 0 CHECK (claimed IN (0, 1)),"
    "  payload           TEXT,"
    "  claim_gen         INTEGER NOT NULL DEFAULT 0,"
    "  attempts          INTEGER NOT NULL DEFAULT 0,"
    "  claimed_at_ms     INTEGER,"
    "  answer            TEXT,"
    "  outcome           TEXT,"
    "  done_at_ms        INTEGER,"
    "  model             TEXT,"
    "  prompt_tokens     INTEGER,"
    "  completion_tokens INTEGER,"
    "  total_tokens      INTEGER,"
    "  CHECK (CASE state WHEN 'working' THEN claimed = 1"
    "                    WHEN 'sending' THEN 1"
    "                    ELSE claimed = 0 END)"
    ");"
    "INSERT INTO linebot_inbox (seq, event_id, chat_id, timestamp_ms, state, claimed, payload,"
    "  claim_gen, attempts, claimed_at_ms, answer, outcome, done_at_ms)"
    " SELECT seq, event_id, chat_id, timestamp_ms, state, claimed, payload, claim_gen, attempts,"
    "  claimed_at_ms, answer, outcome, done_at_ms FROM inbox;"
    "DROP TABLE inbox;"
    "CREATE INDEX linebot_inbox_state_chat ON linebot_inbox (state, chat_id, timestamp_ms, seq);"
    "CREATE INDEX linebot_inbox_ready ON linebot_inbox (timestamp_ms, seq)"
    "  WHERE state IN ('pending', 'sending') AND claimed = 0;"
    "CREATE INDEX linebot_inbox_busy ON linebot_inbox (chat_id) WHERE claimed = 1;"
    /* Claimable internal jobs, so that looking for one never walks a backlog of events. */
    "CREATE INDEX linebot_inbox_ready_tasks ON linebot_inbox (timestamp_ms, seq)"
    "  WHERE state IN ('pending', 'sending') AND claimed = 0 AND kind IS NOT NULL;"

    "ALTER TABLE history RENAME TO linebot_history;"
    "DROP INDEX history_chat; DROP INDEX history_message; DROP INDEX history_time;"
    "CREATE INDEX linebot_history_chat ON linebot_history (chat_id, seq);"
    "CREATE INDEX linebot_history_message ON linebot_history (chat_id, message_id)"
    "  WHERE message_id IS NOT NULL;"
    "CREATE INDEX linebot_history_time ON linebot_history (timestamp_ms);"
    "ALTER TABLE bot_messages RENAME TO linebot_bot_messages;"
    "DROP INDEX bot_messages_time;"
    "CREATE INDEX linebot_bot_messages_time ON linebot_bot_messages (timestamp_ms);"
    "ALTER TABLE profiles RENAME TO linebot_profiles;"
    "DROP INDEX profiles_time;"
    "CREATE INDEX linebot_profiles_time ON linebot_profiles (fetched_at_ms);"
    /* `warned` stays for old rows; store_rate_count no longer needs it. */
    "ALTER TABLE rate RENAME TO linebot_rate;"
    "DROP INDEX rate_time;"
    "CREATE INDEX linebot_rate_time ON linebot_rate (window_start_ms);",

    /* 3 (issue 16): the one row store_probe_write rewrites, so that /healthz
     * knows the store can be written, not only read. `probes` changes with
     * every probe: SQLite writes nothing for an update that changes no byte
     * (two probes in one millisecond), and such a probe would prove nothing. */
    "CREATE TABLE linebot_health ("
    "  id           INTEGER PRIMARY KEY CHECK (id = 1),"
    "  probed_at_ms INTEGER NOT NULL,"
    "  probes       INTEGER NOT NULL DEFAULT 1"
    ");",

    /* 4 (issue 15): the language of a user's LINE profile, kept with the
     * display name so that a fixed text in their language costs at most one
     * profile call a day. NULL: not known; "": the profile has none. */
    "ALTER TABLE linebot_profiles ADD COLUMN language TEXT;",

    /* 5 (issue 11): the model each chat chose with /model. */
    "CREATE TABLE linebot_chat_models ("
    "  chat_id       TEXT    PRIMARY KEY,"
    "  model         TEXT    NOT NULL,"
    "  updated_at_ms INTEGER NOT NULL"
    ");",

    /* 6 (issue 15, admin forget): the speaker's user id on history turns, so
     * that a user's turns in groups are found by id, not by display name. */
    "ALTER TABLE linebot_history ADD COLUMN user_id TEXT;",

    /* 7, personas (issue 11): the persona each chat chose with /persona: a
     * preset's name, or the chat's own text (/persona set); no row: the
     * default. */
    "CREATE TABLE linebot_chat_personas ("
    "  chat_id       TEXT    PRIMARY KEY,"
    "  preset        TEXT,"
    "  custom        TEXT,"
    "  updated_at_ms INTEGER NOT NULL,"
    "  CHECK ((preset IS NULL) <> (custom IS NULL))"
    ");",

    /* 8, budgets (issue 11): the tokens each event's model call spent, charged
     * to a user, a chat and a day (keyed by the event: charged once); and
     * the one notice a day that a budget is spent. */
    "CREATE TABLE linebot_usage ("
    "  event_id          TEXT    PRIMARY KEY,"
    "  user_id           TEXT    NOT NULL,"
    "  chat_id           TEXT    NOT NULL,"
    "  model             TEXT    NOT NULL,"
    "  day               INTEGER NOT NULL,"
    "  prompt_tokens     INTEGER NOT NULL,"
    "  completion_tokens INTEGER NOT NULL,"
    "  estimated         INTEGER NOT NULL CHECK (estimated IN (0, 1)),"
    "  at_ms             INTEGER NOT NULL"
    ");"
    "CREATE INDEX linebot_usage_user_day ON linebot_usage (user_id, day);"
    "CREATE INDEX linebot_usage_chat_day ON linebot_usage (chat_id, day);"
    "CREATE INDEX linebot_usage_time ON linebot_usage (at_ms);"
    "CREATE TABLE linebot_budget_notices ("
    "  subject  TEXT    NOT NULL,"
    "  day      INTEGER NOT NULL,"
    "  event_id TEXT    NOT NULL,"
    "  at_ms    INTEGER NOT NULL,"
    "  PRIMARY KEY (subject, day)"
    ");",

    /* 9, memory and summaries (issue 11): facts about each user (kept across
     * chats; never purged by retention), per user the opt-out, whether the
     * notice was given, and how far extraction has read the 1:1 history. */
    "CREATE TABLE linebot_memory ("
    "  id            INTEGER PRIMARY KEY,"
    "  user_id       TEXT    NOT NULL,"
    "  fact          TEXT    NOT NULL,"
    "  chat_id       TEXT    NOT NULL DEFAULT '',"
    "  message_id    TEXT,"
    "  created_at_ms INTEGER NOT NULL,"
    "  used          INTEGER NOT NULL DEFAULT 1"
    ");"
    "CREATE INDEX linebot_memory_user ON linebot_memory (user_id, used, id);"
    "CREATE INDEX linebot_memory_message ON linebot_memory (chat_id, message_id)"
    "  WHERE message_id IS NOT NULL;"
    "CREATE TABLE linebot_memory_users ("
    "  user_id       TEXT    PRIMARY KEY,"
    "  opted_out     INTEGER NOT NULL DEFAULT 0,"
    "  told          INTEGER NOT NULL DEFAULT 0,"
    "  seen_seq      INTEGER NOT NULL DEFAULT 0,"
    "  updated_at_ms INTEGER NOT NULL"
    ");"
    /* and the rolling summary of each long chat (covering its turns up to upto_seq) */
    "CREATE TABLE linebot_summaries ("
    "  chat_id       TEXT    PRIMARY KEY,"
    "  summary       TEXT    NOT NULL,"
    "  upto_seq      INTEGER NOT NULL,"
    "  updated_at_ms INTEGER NOT NULL"
    ")",

    /* 10 (issue 12: knowledge base): named knowledge bases, their documents
     * (`generation`: the chunks a search sees; 0 while not switched in), the
     * chunks, their terms in FTS5 (rowid = chunk id; unicode61 reads the
     * space-joined terms of core/kb_terms.c back as they are), and which
     * knowledge base a chat uses. */
    "CREATE TABLE linebot_kb ("
    "  id            INTEGER PRIMARY KEY,"
    "  name          TEXT    NOT NULL UNIQUE,"
    "  created_at_ms INTEGER NOT NULL"
    ");"
    "CREATE TABLE linebot_kb_docs ("
    "  id            INTEGER PRIMARY KEY,"
    "  kb_id         INTEGER NOT NULL REFERENCES linebot_kb (id),"
    "  path          TEXT    NOT NULL,"
    "  title         TEXT    NOT NULL,"
    "  content_hash  TEXT,"
    "  generation    INTEGER NOT NULL DEFAULT 0,"
    "  chunks        INTEGER NOT NULL DEFAULT 0,"
    "  bytes         INTEGER NOT NULL DEFAULT 0,"
    "  added_at_ms   INTEGER NOT NULL,"
    "  updated_at_ms INTEGER NOT NULL,"
    "  UNIQUE (kb_id, path)"
    ");"
    "CREATE TABLE linebot_kb_chunks ("
    "  id         INTEGER PRIMARY KEY,"
    "  doc_id     INTEGER NOT NULL,"
    "  generation INTEGER NOT NULL,"
    "  position   INTEGER NOT NULL,"
    "  heading    TEXT    NOT NULL,"
    "  body       TEXT    NOT NULL,"
    "  n_terms    INTEGER NOT NULL"
    ");"
    "CREATE INDEX linebot_kb_chunks_doc ON linebot_kb_chunks (doc_id, generation);"
    "CREATE VIRTUAL TABLE linebot_kb_fts USING fts5(terms,"
    "  tokenize = \"unicode61 remove_diacritics 0 categories 'L* N* Co M*'\");"
    "CREATE TABLE linebot_kb_bindings ("
    "  chat_id       TEXT    PRIMARY KEY,"
    "  kb_id         INTEGER NOT NULL REFERENCES linebot_kb (id),"
    "  updated_at_ms INTEGER NOT NULL"
    ");",

    /* kb vectors (issue 12): a knowledge base's one embeddings model (and a
     * version that grows with each write of vectors), and each chunk's
     * vector: int8 (core/vec.h) with its scale, model and dimension. */
    "CREATE TABLE linebot_kb_embed ("
    "  kb_id   INTEGER PRIMARY KEY REFERENCES linebot_kb (id),"
    "  model   TEXT    NOT NULL,"
    "  version INTEGER NOT NULL"
    ");"
    "CREATE TABLE linebot_kb_vectors ("
    "  chunk_id INTEGER PRIMARY KEY,"
    "  model    TEXT    NOT NULL,"
    "  dims     INTEGER NOT NULL,"
    "  scale    REAL    NOT NULL,"
    "  vec      BLOB    NOT NULL"
    ");",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* What the migrations above make of an empty database, written out, so that
 * a new database (a Lambda's /tmp at every cold start) is one CREATE away
 * rather than a copy and five renames. test_sqlite_fresh_schema_is_migrated
 * compares it with the migrated release-1 fixture. Keep it in step: a new
 * migration changes this too. */
static const char schema_fresh[] =
    "CREATE TABLE linebot_inbox ("
    "  seq               INTEGER PRIMARY KEY,"
    "  event_id          TEXT    NOT NULL UNIQUE,"
    "  kind              TEXT,"
    "  chat_id           TEXT    NOT NULL DEFAULT '',"
    "  timestamp_ms      INTEGER NOT NULL,"
    "  state             TEXT    NOT NULL DEFAULT 'pending'"
    "                    CHECK (state IN ('pending', 'working', 'sending', 'waiting', 'done')),"
    "  claimed           INTEGER NOT NULL DEFAULT 0 CHECK (claimed IN (0, 1)),"
    "  payload           TEXT,"
    "  claim_gen         INTEGER NOT NULL DEFAULT 0,"
    "  attempts          INTEGER NOT NULL DEFAULT 0,"
    "  claimed_at_ms     INTEGER,"
    "  answer            TEXT,"
    "  outcome           TEXT,"
    "  done_at_ms        INTEGER,"
    "  model             TEXT,"
    "  prompt_tokens     INTEGER,"
    "  completion_tokens INTEGER,"
    "  total_tokens      INTEGER,"
    "  CHECK (CASE state WHEN 'working' THEN claimed = 1"
    "                    WHEN 'sending' THEN 1"
    "                    ELSE claimed = 0 END)"
    ");"
    "CREATE INDEX linebot_inbox_state_chat ON linebot_inbox (state, chat_id, timestamp_ms, seq);"
    "CREATE INDEX linebot_inbox_ready ON linebot_inbox (timestamp_ms, seq)"
    "  WHERE state IN ('pending', 'sending') AND claimed = 0;"
    "CREATE INDEX linebot_inbox_busy ON linebot_inbox (chat_id) WHERE claimed = 1;"
    "CREATE INDEX linebot_inbox_ready_tasks ON linebot_inbox (timestamp_ms, seq)"
    "  WHERE state IN ('pending', 'sending') AND claimed = 0 AND kind IS NOT NULL;"

    "CREATE TABLE linebot_history ("
    "  seq          INTEGER PRIMARY KEY,"
    "  chat_id      TEXT    NOT NULL,"
    "  role         TEXT    NOT NULL CHECK (role IN ('user', 'assistant', 'context')),"
    "  speaker      TEXT,"
    "  text         TEXT    NOT NULL,"
    "  message_id   TEXT,"
    "  timestamp_ms INTEGER NOT NULL,"
    "  user_id      TEXT"
    ");"
    "CREATE INDEX linebot_history_chat ON linebot_history (chat_id, seq);"
    "CREATE INDEX linebot_history_message ON linebot_history (chat_id, message_id)"
    "  WHERE message_id IS NOT NULL;"
    "CREATE INDEX linebot_history_time ON linebot_history (timestamp_ms);"

    "CREATE TABLE linebot_bot_messages ("
    "  chat_id      TEXT    NOT NULL,"
    "  message_id   TEXT    NOT NULL,"
    "  timestamp_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (chat_id, message_id)"
    ");"
    "CREATE INDEX linebot_bot_messages_time ON linebot_bot_messages (timestamp_ms);"

    "CREATE TABLE linebot_profiles ("
    "  chat_id       TEXT    NOT NULL,"
    "  user_id       TEXT    NOT NULL,"
    "  display_name  TEXT    NOT NULL,"
    "  fetched_at_ms INTEGER NOT NULL,"
    "  language      TEXT,"
    "  PRIMARY KEY (chat_id, user_id)"
    ");"
    "CREATE INDEX linebot_profiles_time ON linebot_profiles (fetched_at_ms);"

    "CREATE TABLE linebot_rate ("
    "  user_id         TEXT    PRIMARY KEY,"
    "  window_start_ms INTEGER NOT NULL,"
    "  count           INTEGER NOT NULL,"
    "  warned          INTEGER NOT NULL"
    ");"
    "CREATE INDEX linebot_rate_time ON linebot_rate (window_start_ms);"

    "CREATE TABLE linebot_health ("
    "  id           INTEGER PRIMARY KEY CHECK (id = 1),"
    "  probed_at_ms INTEGER NOT NULL,"
    "  probes       INTEGER NOT NULL DEFAULT 1"
    ");"

    "CREATE TABLE linebot_chat_models ("
    "  chat_id       TEXT    PRIMARY KEY,"
    "  model         TEXT    NOT NULL,"
    "  updated_at_ms INTEGER NOT NULL"
    ");"

    "CREATE TABLE linebot_chat_personas ("
    "  chat_id       TEXT    PRIMARY KEY,"
    "  preset        TEXT,"
    "  custom        TEXT,"
    "  updated_at_ms INTEGER NOT NULL,"
    "  CHECK ((preset IS NULL) <> (custom IS NULL))"
    ");"

    "CREATE TABLE linebot_usage ("
    "  event_id          TEXT    PRIMARY KEY,"
    "  user_id           TEXT    NOT NULL,"
    "  chat_id           TEXT    NOT NULL,"
    "  model             TEXT    NOT NULL,"
    "  day               INTEGER NOT NULL,"
    "  prompt_tokens     INTEGER NOT NULL,"
    "  completion_tokens INTEGER NOT NULL,"
    "  estimated         INTEGER NOT NULL CHECK (estimated IN (0, 1)),"
    "  at_ms             INTEGER NOT NULL"
    ");"
    "CREATE INDEX linebot_usage_user_day ON linebot_usage (user_id, day);"
    "CREATE INDEX linebot_usage_chat_day ON linebot_usage (chat_id, day);"
    "CREATE INDEX linebot_usage_time ON linebot_usage (at_ms);"
    "CREATE TABLE linebot_budget_notices ("
    "  subject  TEXT    NOT NULL,"
    "  day      INTEGER NOT NULL,"
    "  event_id TEXT    NOT NULL,"
    "  at_ms    INTEGER NOT NULL,"
    "  PRIMARY KEY (subject, day)"
    ");"

    "CREATE TABLE linebot_memory ("
    "  id            INTEGER PRIMARY KEY,"
    "  user_id       TEXT    NOT NULL,"
    "  fact          TEXT    NOT NULL,"
    "  chat_id       TEXT    NOT NULL DEFAULT '',"
    "  message_id    TEXT,"
    "  created_at_ms INTEGER NOT NULL,"
    "  used          INTEGER NOT NULL DEFAULT 1"
    ");"
    "CREATE INDEX linebot_memory_user ON linebot_memory (user_id, used, id);"
    "CREATE INDEX linebot_memory_message ON linebot_memory (chat_id, message_id)"
    "  WHERE message_id IS NOT NULL;"
    "CREATE TABLE linebot_memory_users ("
    "  user_id       TEXT    PRIMARY KEY,"
    "  opted_out     INTEGER NOT NULL DEFAULT 0,"
    "  told          INTEGER NOT NULL DEFAULT 0,"
    "  seen_seq      INTEGER NOT NULL DEFAULT 0,"
    "  updated_at_ms INTEGER NOT NULL"
    ");"
    "CREATE TABLE linebot_summaries ("
    "  chat_id       TEXT    PRIMARY KEY,"
    "  summary       TEXT    NOT NULL,"
    "  upto_seq      INTEGER NOT NULL,"
    "  updated_at_ms INTEGER NOT NULL"
    ");"

    "CREATE TABLE linebot_kb ("
    "  id            INTEGER PRIMARY KEY,"
    "  name          TEXT    NOT NULL UNIQUE,"
    "  created_at_ms INTEGER NOT NULL"
    ");"
    "CREATE TABLE linebot_kb_docs ("
    "  id            INTEGER PRIMARY KEY,"
    "  kb_id         INTEGER NOT NULL REFERENCES linebot_kb (id),"
    "  path          TEXT    NOT NULL,"
    "  title         TEXT    NOT NULL,"
    "  content_hash  TEXT,"
    "  generation    INTEGER NOT NULL DEFAULT 0,"
    "  chunks        INTEGER NOT NULL DEFAULT 0,"
    "  bytes         INTEGER NOT NULL DEFAULT 0,"
    "  added_at_ms   INTEGER NOT NULL,"
    "  updated_at_ms INTEGER NOT NULL,"
    "  UNIQUE (kb_id, path)"
    ");"
    "CREATE TABLE linebot_kb_chunks ("
    "  id         INTEGER PRIMARY KEY,"
    "  doc_id     INTEGER NOT NULL,"
    "  generation INTEGER NOT NULL,"
    "  position   INTEGER NOT NULL,"
    "  heading    TEXT    NOT NULL,"
    "  body       TEXT    NOT NULL,"
    "  n_terms    INTEGER NOT NULL"
    ");"
    "CREATE INDEX linebot_kb_chunks_doc ON linebot_kb_chunks (doc_id, generation);"
    "CREATE VIRTUAL TABLE linebot_kb_fts USING fts5(terms,"
    "  tokenize = \"unicode61 remove_diacritics 0 categories 'L* N* Co M*'\");"
    "CREATE TABLE linebot_kb_bindings ("
    "  chat_id       TEXT    PRIMARY KEY,"
    "  kb_id         INTEGER NOT NULL REFERENCES linebot_kb (id),"
    "  updated_at_ms INTEGER NOT NULL"
    ");"
    "CREATE TABLE linebot_kb_embed ("
    "  kb_id   INTEGER PRIMARY KEY REFERENCES linebot_kb (id),"
    "  model   TEXT    NOT NULL,"
    "  version INTEGER NOT NULL"
    ");"
    "CREATE TABLE linebot_kb_vectors ("
    "  chunk_id INTEGER PRIMARY KEY,"
    "  model    TEXT    NOT NULL,"
    "  dims     INTEGER NOT NULL,"
    "  scale    REAL    NOT NULL,"
    "  vec      BLOB    NOT NULL"
    ");";

/* ---- statements, prepared once per handle ---- */

/* The knowledge base of the chat ?1's own files (io/kb_chat.h: KB_CHAT_PREFIX
 * and the chat id), when it holds no document. */
#define EMPTY_CHAT_KB                                                                          \
    "SELECT k.id FROM linebot_kb AS k WHERE k.name = 'chat:' || ?1"                            \
    " AND NOT EXISTS (SELECT 1 FROM linebot_kb_docs AS d WHERE d.kb_id = k.id)"

#define CLAIM_COLUMNS                                                                          \
    "seq, event_id, chat_id, timestamp_ms, payload, state, claim_gen, attempts, answer, kind"
#define FENCE " WHERE event_id = ?1 AND claim_gen = ?2 AND claimed = 1"

/* The history seq up to which chat `c`'s summary stands for its turns (0: none). */
#define SUMMARY_UPTO(c) "coalesce((SELECT upto_seq FROM linebot_summaries WHERE chat_id = " c "), 0)"

#define STATEMENTS(X)                                                                          \
    X(BEGIN, "BEGIN IMMEDIATE")                                                                \
    X(COMMIT, "COMMIT")                                                                        \
    X(ROLLBACK, "ROLLBACK")                                                                    \
    X(HEALTH_PROBE, "INSERT INTO linebot_health (id, probed_at_ms) VALUES (1, ?1)"             \
                    " ON CONFLICT (id) DO UPDATE SET probed_at_ms = excluded.probed_at_ms,"  \
                    " probes = probes + 1")                                                    \
    X(INBOX_ADD, "INSERT INTO linebot_inbox (event_id, chat_id, timestamp_ms, payload)"        \
                 " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (event_id) DO NOTHING")                 \
    X(TASK_ADD, "INSERT INTO linebot_inbox (event_id, kind, chat_id, timestamp_ms, payload)"   \
                " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (event_id) DO NOTHING")              \
    X(INBOX_FORGET, "DELETE FROM linebot_inbox WHERE event_id = ?1 AND state = 'pending'"      \
                    " AND claimed = 0")                                                        \
    X(INBOX_DEPTH, "SELECT count(*) FROM linebot_inbox"                                        \
                   " WHERE state IN ('pending', 'working', 'sending')")                        \
    /* Events first; an internal job in progress never holds its chat. */                     \
    X(CLAIM_PICK, "SELECT " CLAIM_COLUMNS " FROM linebot_inbox AS i"                           \
                  " INDEXED BY linebot_inbox_ready"                                            \
                  " WHERE i.state IN ('pending', 'sending') AND i.claimed = 0"                 \
                  " AND i.kind IS NULL"                                                        \
                  " AND (i.chat_id = '' OR NOT EXISTS (SELECT 1 FROM linebot_inbox AS b"       \
                  "      WHERE b.chat_id = i.chat_id AND b.claimed = 1 AND b.kind IS NULL))"   \
                  " ORDER BY i.timestamp_ms, i.seq LIMIT 1")                                   \
    X(CLAIM_PICK_TASK, "SELECT " CLAIM_COLUMNS " FROM linebot_inbox"                           \
                       " INDEXED BY linebot_inbox_ready_tasks"                                 \
                       " WHERE state IN ('pending', 'sending') AND claimed = 0"                \
                       " AND kind IS NOT NULL ORDER BY timestamp_ms, seq LIMIT 1")             \
    X(CLAIM_TAKE, "UPDATE linebot_inbox SET state = CASE state WHEN 'pending' THEN 'working'"  \
                  " ELSE state END, claimed = 1, claim_gen = claim_gen + 1,"                   \
                  " attempts = attempts + 1, claimed_at_ms = ?2 WHERE seq = ?1")               \
    X(JOB_SENDING, "UPDATE linebot_inbox SET state = 'sending', answer = ?3" FENCE)            \
    X(JOB_FINISH, "UPDATE linebot_inbox SET state = 'done', claimed = 0, payload = NULL,"      \
                  " answer = NULL, outcome = ?3, done_at_ms = ?4, model = ?5,"                 \
                  " prompt_tokens = ?6, completion_tokens = ?7, total_tokens = ?8" FENCE)      \
    X(JOB_CHAT, "SELECT chat_id FROM linebot_inbox WHERE event_id = ?1")                       \
    X(JOB_PARK, "UPDATE linebot_inbox SET state = 'waiting', claimed = 0, answer = ?3" FENCE   \
                " AND state = 'working'")                                                      \
    X(ADOPT_GET, "SELECT answer FROM linebot_inbox WHERE event_id = ?1 AND state = 'waiting'"     \
                        " AND chat_id = (SELECT chat_id FROM linebot_inbox WHERE event_id = ?2)") \
    X(ADOPT_TAKE, "UPDATE linebot_inbox SET state = 'done', payload = NULL, answer = NULL,"    \
                  " outcome = ?2, done_at_ms = ?3 WHERE event_id = ?1 AND state = 'waiting'")  \
    X(JOBS_UNPARK, "UPDATE linebot_inbox SET state = 'sending', claimed = 0 WHERE seq IN"      \
                   " (SELECT seq FROM linebot_inbox WHERE state = 'waiting' AND timestamp_ms < ?1" \
                   " LIMIT 100)")                                                              \
    X(INBOX_TAKE, "UPDATE linebot_inbox SET state = 'done', payload = NULL, answer = NULL,"    \
                  " outcome = ?2, done_at_ms = ?3"                                             \
                  " WHERE event_id = ?1 AND state = 'pending' AND claimed = 0")                \
    X(JOB_RENEW, "UPDATE linebot_inbox SET claimed_at_ms = ?3" FENCE)                          \
    /* Whether STMT_CLAIM_EXPIRE has anything to do: a read of the few claimed \
     * rows, much cheaper than an update that opens every index for writing. */ \
    X(CLAIM_EXPIRED, "SELECT 1 FROM linebot_inbox INDEXED BY linebot_inbox_busy"               \
                     " WHERE claimed = 1 AND coalesce(claimed_at_ms, 0) <= ?1 LIMIT 1")        \
    /* Claims whose lease ran out (claimed or renewed at or before ?1, now -  \
     * STORE_LEASE_MS) become claimable again, as after store_recover. Walks  \
     * the claimed rows only: one per busy worker at most. */                  \
    X(CLAIM_EXPIRE, "UPDATE linebot_inbox INDEXED BY linebot_inbox_busy"                       \
                    " SET state = CASE state WHEN 'working' THEN 'pending' ELSE state END,"    \
                    " claimed = 0 WHERE claimed = 1 AND coalesce(claimed_at_ms, 0) <= ?1")     \
    X(JOB_RELEASE, "UPDATE linebot_inbox SET state = CASE state WHEN 'working' THEN 'pending'" \
                   " ELSE state END, claimed = 0" FENCE)                                       \
    X(RECOVER, "UPDATE linebot_inbox SET state = CASE state WHEN 'working' THEN 'pending'"     \
               " ELSE state END, claimed = 0 WHERE claimed = 1")                               \
    X(HISTORY_ADD, "INSERT INTO linebot_history (chat_id, role, speaker, text, message_id,"    \
                   " timestamp_ms, user_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")              \
    X(BOT_ADD, "INSERT INTO linebot_bot_messages (chat_id, message_id, timestamp_ms)"          \
               " VALUES (?1, ?2, ?3) ON CONFLICT (chat_id, message_id)"                        \
               " DO UPDATE SET timestamp_ms = excluded.timestamp_ms")                          \
    X(BOT_IS, "SELECT 1 FROM linebot_bot_messages WHERE chat_id = ?1 AND message_id = ?2")     \
    X(HISTORY_LOAD, "SELECT role, speaker, text, message_id, timestamp_ms FROM ("              \
                    " SELECT * FROM (SELECT seq, role, speaker, text, message_id, timestamp_ms" \
                    "  FROM linebot_history WHERE chat_id = ?1"                                \
                    "  AND role IN ('user', 'assistant') AND seq > " SUMMARY_UPTO("?1")        \
                    "  ORDER BY seq DESC LIMIT ?2)"                                            \
                    " UNION ALL"                                                               \
                    " SELECT * FROM (SELECT seq, role, speaker, text, message_id, timestamp_ms" \
                    "  FROM linebot_history WHERE chat_id = ?1 AND role = 'context'"           \
                    "  AND seq > coalesce((SELECT max(seq) FROM linebot_history"               \
                    "                      WHERE chat_id = ?1 AND role = 'assistant'), 0)"     \
                    "  ORDER BY seq DESC LIMIT ?3)"                                            \
                    ") ORDER BY seq")                                                          \
    X(CHAT_WAITING, "SELECT payload FROM linebot_inbox WHERE chat_id = ?1 AND state = 'pending'" \
                    " AND kind IS NULL AND payload IS NOT NULL ORDER BY timestamp_ms, seq LIMIT ?2") \
    X(MSG_TEXT, "SELECT text FROM linebot_history WHERE chat_id = ?1 AND message_id = ?2"      \
                " ORDER BY seq DESC LIMIT 1")                                                  \
    X(MSG_DELETE, "DELETE FROM linebot_history WHERE chat_id = ?1 AND message_id = ?2")        \
    X(MSG_UPDATE, "UPDATE linebot_history SET text = ?3 WHERE chat_id = ?1 AND message_id = ?2") \
    X(CONTEXT_TRIM, "DELETE FROM linebot_history WHERE chat_id = ?1 AND role = 'context'"      \
                    " AND seq NOT IN (SELECT seq FROM linebot_history"                         \
                    "  WHERE chat_id = ?1 AND role = 'context' ORDER BY seq DESC LIMIT ?2)")   \
    X(HISTORY_CLEAR, "DELETE FROM linebot_history WHERE chat_id = ?1")                         \
    X(FORGET_BOT, "DELETE FROM linebot_bot_messages WHERE chat_id = ?1")                       \
    X(FORGET_PROFILES, "DELETE FROM linebot_profiles WHERE chat_id = ?1")                      \
    X(FORGET_RATE, "DELETE FROM linebot_rate WHERE user_id = ?1")                              \
    X(FORGET_CHAT_KB_EMBED, "DELETE FROM linebot_kb_embed WHERE kb_id IN (" EMPTY_CHAT_KB ")")      \
    X(FORGET_CHAT_KB, "DELETE FROM linebot_kb WHERE id IN (" EMPTY_CHAT_KB ")")                \
    X(FORGET_TASKS, "DELETE FROM linebot_inbox WHERE state = 'done' AND kind IS NOT NULL"      \
                    " AND chat_id = ?1")                                                       \
    X(FORGET_INBOX, "UPDATE linebot_inbox SET payload = NULL, answer = NULL"                   \
                    " WHERE state = 'done' AND chat_id = ?1"                                   \
                    " AND (payload IS NOT NULL OR answer IS NOT NULL)")                        \
    X(CHAT_MODEL_GET, "SELECT model FROM linebot_chat_models WHERE chat_id = ?1")              \
    X(CHAT_MODEL_SET, "INSERT INTO linebot_chat_models (chat_id, model, updated_at_ms)"        \
                      " VALUES (?1, ?2, ?3) ON CONFLICT (chat_id) DO UPDATE SET"               \
                      " model = excluded.model, updated_at_ms = excluded.updated_at_ms")      \
    X(FORGET_CHAT_MODEL, "DELETE FROM linebot_chat_models WHERE chat_id = ?1")                 \
    X(CHAT_PERSONA_GET, "SELECT preset, custom FROM linebot_chat_personas WHERE chat_id = ?1") \
    X(CHAT_PERSONA_SET, "INSERT INTO linebot_chat_personas (chat_id, preset, custom, updated_at_ms)" \
                        " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (chat_id) DO UPDATE SET"         \
                        " preset = excluded.preset, custom = excluded.custom,"                 \
                        " updated_at_ms = excluded.updated_at_ms")                             \
    X(FORGET_CHAT_PERSONA, "DELETE FROM linebot_chat_personas WHERE chat_id = ?1")             \
    /* Budgets: a charge is added once per event (the key). */                                \
    X(USAGE_ADD, "INSERT INTO linebot_usage (event_id, user_id, chat_id, model, day,"          \
                 " prompt_tokens, completion_tokens, estimated, at_ms)"                        \
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (event_id) DO NOTHING") \
    X(USAGE_DAY, "SELECT (SELECT coalesce(sum(prompt_tokens + completion_tokens), 0)"          \
                 "  FROM linebot_usage WHERE user_id = ?1 AND day = ?3),"                      \
                 " (SELECT coalesce(sum(prompt_tokens + completion_tokens), 0)"                \
                 "  FROM linebot_usage WHERE chat_id = ?2 AND day = ?3)")                      \
    X(NOTICE_TAKE, "INSERT INTO linebot_budget_notices (subject, day, event_id, at_ms)"        \
                   " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (subject, day) DO NOTHING")           \
    X(NOTICE_GET, "SELECT event_id FROM linebot_budget_notices WHERE subject = ?1 AND day = ?2") \
    X(FORGET_USAGE, "DELETE FROM linebot_usage WHERE user_id = ?1 OR chat_id = ?1")             \
    X(FORGET_NOTICES, "DELETE FROM linebot_budget_notices WHERE subject = ?1")                 \
        X(PROFILE_GET, "SELECT display_name, fetched_at_ms, language FROM linebot_profiles"                  \
                   " WHERE chat_id = ?1 AND user_id = ?2")                                     \
    X(PROFILE_PUT, "INSERT INTO linebot_profiles (chat_id, user_id, display_name,"             \
                   " fetched_at_ms, language) VALUES (?1, ?2, ?3, ?4, ?5)"                     \
                   " ON CONFLICT (chat_id, user_id) DO UPDATE SET"                             \
                   " display_name = excluded.display_name,"                                    \
                   " fetched_at_ms = excluded.fetched_at_ms, language = excluded.language")                                  \
    /* Concurrent counts of a user all land: the upsert and the read of its   \
     * result run in one BEGIN IMMEDIATE transaction, which holds the write    \
     * lock throughout (no RETURNING: Debian 11's SQLite 3.34, which the FC    \
     * package runs on, lacks it). A fixed one-minute window: the first        \
     * message at or after window_start + 60 s opens a new one. */            \
    X(RATE_COUNT, "INSERT INTO linebot_rate (user_id, window_start_ms, count, warned)"         \
                  " VALUES (?1, ?2, 1, 0) ON CONFLICT (user_id) DO UPDATE SET"                 \
                  " count = CASE WHEN ?2 - window_start_ms >= 60000 THEN 1"                    \
                  "              ELSE count + 1 END,"                                          \
                  " window_start_ms = CASE WHEN ?2 - window_start_ms >= 60000 THEN ?2"         \
                  "                        ELSE window_start_ms END")                          \
    X(RATE_GET, "SELECT count FROM linebot_rate WHERE user_id = ?1")                           \
    X(RATE_PEEK, "SELECT CASE WHEN ?2 - window_start_ms >= 60000 THEN 0 ELSE count END"       \
                 " FROM linebot_rate WHERE user_id = ?1")                                      \
    X(PURGE_HISTORY, "DELETE FROM linebot_history WHERE seq IN (SELECT seq"                    \
                     " FROM linebot_history WHERE timestamp_ms < ?1 LIMIT ?2)")                \
    X(PURGE_BOT, "DELETE FROM linebot_bot_messages WHERE rowid IN (SELECT rowid"               \
                 " FROM linebot_bot_messages WHERE timestamp_ms < ?1 LIMIT ?2)")               \
    X(PURGE_PROFILES, "DELETE FROM linebot_profiles WHERE rowid IN (SELECT rowid"              \
                      " FROM linebot_profiles WHERE fetched_at_ms < ?1 LIMIT ?2)")             \
    X(PURGE_RATE, "DELETE FROM linebot_rate WHERE rowid IN (SELECT rowid FROM linebot_rate"    \
                  " WHERE window_start_ms < ?1 LIMIT ?2)")                                      \
    X(PURGE_USAGE, "DELETE FROM linebot_usage WHERE rowid IN (SELECT rowid FROM linebot_usage" \
                   " WHERE at_ms < ?1 LIMIT ?2)")                                              \
    X(PURGE_NOTICES, "DELETE FROM linebot_budget_notices WHERE rowid IN (SELECT rowid"         \
                     " FROM linebot_budget_notices WHERE at_ms < ?1 LIMIT ?2)")                \
    /* Dedup window in event time: LINE redelivers relative to the event. */                   \
    X(PURGE_INBOX, "DELETE FROM linebot_inbox WHERE seq IN (SELECT seq FROM linebot_inbox"     \
                   " WHERE state = 'done' AND timestamp_ms < ?1 LIMIT ?2)")                    \
    /* Parked answers nobody took over: ?3 is job_outcome_name(OUTCOME_EXPIRED), ?4 the time. */ \
    X(PURGE_WAITING, "UPDATE linebot_inbox SET state = 'done', payload = NULL, answer = NULL," \
                     " outcome = ?3, done_at_ms = ?4"                                          \
                     " WHERE seq IN (SELECT seq FROM linebot_inbox"                            \
                     " WHERE state = 'waiting' AND timestamp_ms < ?1 LIMIT ?2)")                \
    ADMIN_STATEMENTS(X)                                                                        \
    MEMORY_STATEMENTS(X)                                                                       \
    KB_STATEMENTS(X)                                                                           \
    KB_VEC_STATEMENTS(X)

/* The knowledge base's vectors (issue 12). */
#define KB_LIVE_CHUNKS                                                                         \
    " FROM linebot_kb AS k JOIN linebot_kb_docs AS d ON d.kb_id = k.id AND d.generation > 0"  \
    " JOIN linebot_kb_chunks AS c ON c.doc_id = d.id AND c.generation = d.generation"
#define KB_VEC_UPSERT                                                                          \
    " ON CONFLICT (chunk_id) DO UPDATE SET model = excluded.model, dims = excluded.dims,"      \
    " scale = excluded.scale, vec = excluded.vec"
#define KB_VEC_STATEMENTS(X)                                                                   \
    X(KB_VEC_MODEL, "SELECT e.model, e.version FROM linebot_kb_embed AS e"                     \
                    " JOIN linebot_kb AS k ON k.id = e.kb_id WHERE k.name = ?1")               \
    X(KB_VEC_CLAIM, "INSERT INTO linebot_kb_embed (kb_id, model, version)"                     \
                    " SELECT id, ?2, 1 FROM linebot_kb WHERE name = ?1"                        \
                    " ON CONFLICT (kb_id) DO NOTHING")                                         \
    X(KB_VEC_RESET, "INSERT INTO linebot_kb_embed (kb_id, model, version)"                     \
                    " SELECT id, ?2, 1 FROM linebot_kb WHERE name = ?1 ON CONFLICT (kb_id)"    \
                    " DO UPDATE SET model = excluded.model, version = linebot_kb_embed.version + 1") \
    X(KB_VEC_PUT_ID, "INSERT INTO linebot_kb_vectors (chunk_id, model, dims, scale, vec)"      \
                     " SELECT id, ?2, ?3, ?4, ?5 FROM linebot_kb_chunks WHERE id = ?1" KB_VEC_UPSERT) \
    X(KB_VEC_PUT_POS, "INSERT INTO linebot_kb_vectors (chunk_id, model, dims, scale, vec)"     \
                      " SELECT id, ?2, ?3, ?4, ?5 FROM linebot_kb_chunks"                      \
                      " WHERE doc_id = ?1 AND generation = ?6 AND position = ?7" KB_VEC_UPSERT) \
    X(KB_VEC_BUMP, "UPDATE linebot_kb_embed SET version = version + 1"                         \
                   " WHERE kb_id = (SELECT id FROM linebot_kb WHERE name = ?1)")               \
    X(KB_VEC_DROP, "DELETE FROM linebot_kb_vectors WHERE chunk_id IN (SELECT id"               \
                   " FROM linebot_kb_chunks WHERE doc_id = ?1 AND generation <> ?2"            \
                   " ORDER BY id LIMIT ?3)")                                                   \
    X(KB_VEC_LOAD, "SELECT v.chunk_id, v.dims, v.vec" KB_LIVE_CHUNKS                           \
                   " JOIN linebot_kb_embed AS e ON e.kb_id = k.id AND e.model = ?2"            \
                   " JOIN linebot_kb_vectors AS v ON v.chunk_id = c.id AND v.model = ?2"       \
                   " WHERE k.name = ?1 ORDER BY v.chunk_id")                                   \
    /* From the ids to their chunks, then documents (CROSS JOIN keeps that                   \
     * order): KB_LIVE_CHUNKS's order walked every chunk of the knowledge                      \
     * base, 20 ms at 100k chunks for the handful asked. */                                    \
    X(KB_CHUNKS_IDS, "SELECT c.id, d.id, 0, c.position, d.path, d.title, c.heading, c.body"    \
                     " FROM linebot_kb_chunks AS c CROSS JOIN linebot_kb_docs AS d"            \
                     " ON d.id = c.doc_id AND d.generation = c.generation AND d.generation > 0" \
                     " CROSS JOIN linebot_kb AS k ON k.id = d.kb_id WHERE k.name = ?1"         \
                     " AND c.id IN (SELECT value FROM json_each(?2))")                         \
    X(KB_CHUNKS_PAGE, "SELECT c.id, d.id, 0, c.position, d.path, d.title, c.heading, c.body"   \
                      KB_LIVE_CHUNKS " WHERE k.name = ?1 AND c.id > ?2 ORDER BY c.id LIMIT ?3")

/* Memory of the user (issue 11). The same SQL as store_pg.c's. */
#define MEMORY_STATEMENTS(X)                                                                   \
    X(MEMORY_FACTS, "SELECT id, fact, chat_id, message_id, created_at_ms, used FROM linebot_memory" \
                    " WHERE user_id = ?1 ORDER BY used DESC, id DESC")                         \
    X(MEMORY_BUMP, "UPDATE linebot_memory SET used = used + 1"                                 \
                   " WHERE user_id = ?1 AND lower(fact) = lower(?2)")                          \
    X(MEMORY_INSERT, "INSERT INTO linebot_memory (user_id, fact, chat_id, message_id, created_at_ms)" \
                     " VALUES (?1, ?2, ?3, ?4, ?5)")                                           \
    X(MEMORY_TRIM, "DELETE FROM linebot_memory WHERE user_id = ?1 AND id NOT IN (SELECT id"    \
                   " FROM linebot_memory WHERE user_id = ?1 ORDER BY used DESC, id DESC LIMIT ?2)") \
    X(MEMORY_FORGET_ONE, "DELETE FROM linebot_memory WHERE user_id = ?1 AND id = ?2")          \
    X(MEMORY_FORGET_ALL, "DELETE FROM linebot_memory WHERE user_id = ?1")                      \
    X(MEMORY_USER, "SELECT coalesce(u.opted_out, 0), coalesce(u.told, 0), coalesce(u.seen_seq, 0)," \
                   " (SELECT count(*) FROM linebot_history AS h WHERE h.chat_id = ?1"          \
                   "  AND h.role = 'user' AND h.seq > coalesce(u.seen_seq, 0)),"               \
                   " (SELECT coalesce(max(h.seq), 0) FROM linebot_history AS h WHERE h.chat_id = ?1" \
                   "  AND h.role = 'user' AND h.seq > coalesce(u.seen_seq, 0))"                \
                   " FROM (SELECT 1) AS one LEFT JOIN linebot_memory_users AS u ON u.user_id = ?1") \
    X(MEMORY_OPT_OUT, "INSERT INTO linebot_memory_users (user_id, opted_out, updated_at_ms)"   \
                      " VALUES (?1, ?2, ?3) ON CONFLICT (user_id) DO UPDATE SET"               \
                      " opted_out = excluded.opted_out, updated_at_ms = excluded.updated_at_ms") \
    X(MEMORY_TOLD, "SELECT 1 FROM linebot_memory_users WHERE user_id = ?1 AND told = 1")      \
    X(MEMORY_TELL, "INSERT INTO linebot_memory_users (user_id, told, updated_at_ms)"           \
                   " VALUES (?1, 1, ?2) ON CONFLICT (user_id) DO UPDATE SET told = 1,"         \
                   " updated_at_ms = excluded.updated_at_ms WHERE linebot_memory_users.told = 0") \
    X(MEMORY_SEEN, "INSERT INTO linebot_memory_users (user_id, seen_seq, updated_at_ms)"       \
                   " VALUES (?1, ?2, ?3) ON CONFLICT (user_id) DO UPDATE SET"                  \
                   " seen_seq = max(linebot_memory_users.seen_seq, excluded.seen_seq),"        \
                   " updated_at_ms = excluded.updated_at_ms")                                  \
    X(MEMORY_TURNS, "SELECT text, message_id, timestamp_ms FROM (SELECT seq, text, message_id," \
                    " timestamp_ms FROM linebot_history WHERE chat_id = ?1 AND role = 'user'"  \
                    " AND seq > ?2 AND seq <= ?3 ORDER BY seq DESC LIMIT ?4) ORDER BY seq")    \
    X(MEMORY_IDLE, "SELECT u.user_id, max(h.seq) FROM linebot_memory_users AS u"               \
                   " JOIN linebot_history AS h ON h.chat_id = u.user_id"                       \
                   " WHERE u.opted_out = 0 AND h.role = 'user' AND h.seq > u.seen_seq"         \
                   " GROUP BY u.user_id HAVING max(h.timestamp_ms) < ?1 LIMIT ?2")            \
    X(MEMORY_UNSEND, "DELETE FROM linebot_memory WHERE chat_id = ?1 AND message_id = ?2")      \
    X(FORGET_MEMORY, "DELETE FROM linebot_memory WHERE user_id = ?1 OR chat_id = ?1")          \
    X(FORGET_MEMORY_USER, "DELETE FROM linebot_memory_users WHERE user_id = ?1")               \
    X(SUMMARY_GET, "SELECT summary, upto_seq FROM linebot_summaries WHERE chat_id = ?1")       \
    X(SUMMARY_TURNS, "SELECT seq, role, speaker, text, message_id, timestamp_ms FROM (SELECT seq, role," \
                     " speaker, text, message_id, timestamp_ms FROM linebot_history WHERE chat_id = ?1" \
                     " AND role IN ('user', 'assistant') AND seq > " SUMMARY_UPTO("?1")        \
                     " ORDER BY seq DESC LIMIT ?2) ORDER BY seq")                              \
    X(SUMMARY_PUT, "INSERT INTO linebot_summaries (chat_id, summary, upto_seq, updated_at_ms)" \
                   " SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM linebot_history"        \
                   "  WHERE chat_id = ?1 AND seq = ?3)"                                        \
                   " ON CONFLICT (chat_id) DO UPDATE SET summary = excluded.summary,"          \
                   " upto_seq = excluded.upto_seq, updated_at_ms = excluded.updated_at_ms"     \
                   " WHERE linebot_summaries.upto_seq < excluded.upto_seq")                    \
    X(FORGET_SUMMARY, "DELETE FROM linebot_summaries WHERE chat_id = ?1")

/* `linebot admin` (store.h). The SQL is the same as store_pg.c's, so the two
 * backends answer alike. */
/* A turn is the user's by its user id; a turn written before ids were kept,
 * by the display name cached for the user in that chat. */
#define SPEAKER_IS_USER(h)                                                                     \
    "(" h ".user_id = ?1 OR (" h ".user_id IS NULL AND EXISTS (SELECT 1 FROM linebot_profiles AS p" \
    " WHERE p.user_id = ?1 AND p.chat_id = " h ".chat_id AND p.display_name = " h ".speaker"      \
    " AND p.display_name <> '')))"
#define ADMIN_STATEMENTS(X)                                                                    \
    X(ADMIN_STATS, "SELECT timestamp_ms / 86400000 AS day, model, count(*),"                   \
                   " sum(CASE WHEN outcome = 'answered' THEN 1 ELSE 0 END),"                   \
                   " sum(CASE WHEN outcome = 'apologized' THEN 1 ELSE 0 END),"                 \
                   " sum(CASE WHEN outcome IN ('failed', 'expired') THEN 1 ELSE 0 END),"       \
                   " coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0),"    \
                   " coalesce(sum(total_tokens), 0)"                                           \
                   " FROM linebot_inbox WHERE kind IS NULL"                                    \
                   " GROUP BY day, model ORDER BY day, model IS NOT NULL, model")              \
    X(ADMIN_CHATS, "SELECT c.chat_id, max(c.last_ms), sum(c.turns), sum(c.events),"            \
                   " (SELECT m.model FROM linebot_inbox AS m WHERE m.chat_id = c.chat_id"      \
                   "  AND m.model IS NOT NULL ORDER BY m.timestamp_ms DESC, m.seq DESC LIMIT 1)," \
                   " (SELECT coalesce(p.preset, '(custom)') FROM linebot_chat_personas AS p"   \
                   "  WHERE p.chat_id = c.chat_id)"                                            \
                   " FROM (SELECT chat_id, max(timestamp_ms) AS last_ms, count(*) AS turns,"   \
                   "  0 AS events FROM linebot_history WHERE (?1 IS NULL OR chat_id = ?1)"     \
                   "  GROUP BY chat_id"                                                        \
                   " UNION ALL SELECT chat_id, max(timestamp_ms), 0, count(*) FROM linebot_inbox" \
                   "  WHERE kind IS NULL AND chat_id <> '' AND (?1 IS NULL OR chat_id = ?1)"   \
                   "  GROUP BY chat_id) AS c"                                                  \
                   " GROUP BY c.chat_id ORDER BY max(c.last_ms) DESC, c.chat_id")              \
    X(ADMIN_HISTORY, "SELECT role, speaker, text, message_id, timestamp_ms FROM linebot_history" \
                     " WHERE chat_id = ?1 ORDER BY seq")                                       \
    /* The bot's answer is the turn right after the question in its chat  \
     * (both are written by one store_job_finish, and a chat has one job in \
     * progress at a time); before the questions go. */                    \
    X(FORGET_GROUP_ANSWERS, "DELETE FROM linebot_history WHERE role = 'assistant' AND seq IN"  \
                            " (SELECT (SELECT min(a.seq) FROM linebot_history AS a"            \
                            "   WHERE a.chat_id = h.chat_id AND a.seq > h.seq)"                \
                            "  FROM linebot_history AS h WHERE h.chat_id <> ?1"                \
                            "  AND h.role = 'user' AND " SPEAKER_IS_USER("h") ")")             \
    /* A group's summary that covers one of the user's turns tells what they \
     * said there: it goes, before the turns do (the next fold writes anew). */ \
    X(FORGET_GROUP_SUMMARIES, "DELETE FROM linebot_summaries WHERE chat_id <> ?1 AND EXISTS" \
                              " (SELECT 1 FROM linebot_history AS h"                           \
                              "  WHERE h.chat_id = linebot_summaries.chat_id"                  \
                              "  AND h.seq <= linebot_summaries.upto_seq AND h.role = 'user'"  \
                              "  AND " SPEAKER_IS_USER("h") ")")                               \
    X(FORGET_GROUP_TURNS, "DELETE FROM linebot_history WHERE chat_id <> ?1"                    \
                          " AND role IN ('user', 'context') AND " SPEAKER_IS_USER("linebot_history")) \
    X(FORGET_USER_PROFILES, "DELETE FROM linebot_profiles WHERE chat_id = ?1 OR user_id = ?1")

/* The knowledge base (issue 12). bm25() is FTS5's (k1 1.2, b 0.75); the
 * score is its negation, so higher is better on both backends. */
#define KB_STATEMENTS(X)                                                                       \
    X(KB_ENSURE, "INSERT INTO linebot_kb (name, created_at_ms) VALUES (?1, ?2)"                \
                 " ON CONFLICT (name) DO NOTHING")                                             \
    X(KB_DOC_GET, "SELECT d.id, d.generation, d.content_hash FROM linebot_kb_docs AS d"        \
                  " JOIN linebot_kb AS k ON k.id = d.kb_id WHERE k.name = ?1 AND d.path = ?2") \
    X(KB_DOC_NEW, "INSERT INTO linebot_kb_docs (kb_id, path, title, added_at_ms, updated_at_ms)" \
                  " SELECT id, ?2, ?3, ?4, ?4 FROM linebot_kb WHERE name = ?1")                \
    X(KB_CHUNK_ADD, "INSERT INTO linebot_kb_chunks (doc_id, generation, position, heading,"    \
                    " body, n_terms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                          \
    X(KB_FTS_ADD, "INSERT INTO linebot_kb_fts (rowid, terms) VALUES (?1, ?2)")                 \
    X(KB_FTS_DROP, "DELETE FROM linebot_kb_fts WHERE rowid IN (SELECT id FROM linebot_kb_chunks" \
                   " WHERE doc_id = ?1 AND generation <> ?2 ORDER BY id LIMIT ?3)")            \
    X(KB_CHUNKS_DROP, "DELETE FROM linebot_kb_chunks WHERE id IN (SELECT id"                   \
                      " FROM linebot_kb_chunks WHERE doc_id = ?1 AND generation <> ?2"         \
                      " ORDER BY id LIMIT ?3)")                                                \
    X(KB_SWITCH, "UPDATE linebot_kb_docs SET generation = ?3, title = ?4, content_hash = ?5,"  \
                 " chunks = ?6, bytes = ?7, updated_at_ms = ?8 WHERE id = ?1 AND generation = ?2") \
    X(KB_HIDE, "UPDATE linebot_kb_docs SET generation = 0, content_hash = NULL WHERE id = ?1") \
    X(KB_DOC_DELETE, "DELETE FROM linebot_kb_docs WHERE id = ?1 AND generation = 0"            \
                     " AND NOT EXISTS (SELECT 1 FROM linebot_kb_chunks WHERE doc_id = ?1)")    \
    X(KB_DOCS, "SELECT d.id, k.name, d.path, d.title, d.chunks, d.bytes, d.added_at_ms,"       \
               " d.updated_at_ms, d.generation > 0 FROM linebot_kb_docs AS d"                  \
               " JOIN linebot_kb AS k ON k.id = d.kb_id WHERE (?1 IS NULL OR k.name = ?1)"     \
               " AND (?2 <= 0 OR d.id = ?2) AND (?3 IS NULL OR d.path = ?3)"                   \
               " ORDER BY k.name, d.path")                                                     \
    /* A search in two steps (sq_kb_search): the index's matches by score,                    \
     * then each one's chunk, if it is one of the knowledge base's live ones. */               \
    X(KB_SEARCH_RANKED, "SELECT rowid, -bm25(linebot_kb_fts) AS score FROM linebot_kb_fts"     \
                        " WHERE linebot_kb_fts MATCH ?1 ORDER BY score DESC, rowid")           \
    X(KB_SEARCH_HIT, "SELECT c.id, d.id, ?3, c.position, d.path, d.title, c.heading, c.body"   \
                     " FROM linebot_kb_chunks AS c CROSS JOIN linebot_kb_docs AS d"            \
                     " ON d.id = c.doc_id AND d.generation = c.generation"                     \
                     " CROSS JOIN linebot_kb AS k ON k.id = d.kb_id WHERE c.id = ?1 AND k.name = ?2") \
    X(KB_TERM_CHUNKS, "SELECT doc FROM temp.linebot_kb_vocab WHERE term = ?1")                \
    X(KB_TERM_CHUNKS_UPTO, "SELECT count(*) FROM (SELECT 1 FROM linebot_kb_fts"                \
                           " WHERE linebot_kb_fts MATCH ?1 LIMIT ?2)")                          \
    X(KB_BIND, "INSERT INTO linebot_kb_bindings (chat_id, kb_id, updated_at_ms)"               \
               " SELECT ?1, id, ?3 FROM linebot_kb WHERE name = ?2 ON CONFLICT (chat_id)"      \
               " DO UPDATE SET kb_id = excluded.kb_id, updated_at_ms = excluded.updated_at_ms") \
    X(KB_UNBIND, "DELETE FROM linebot_kb_bindings WHERE chat_id = ?1")                         \
    X(KB_OF_CHAT, "SELECT coalesce((SELECT k.name FROM linebot_kb_bindings AS b"               \
                  " JOIN linebot_kb AS k ON k.id = b.kb_id WHERE b.chat_id = ?1),"             \
                  " (SELECT name FROM linebot_kb WHERE name = '" KB_DEFAULT_NAME "'))")

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

    /* Storage faults (see store.h). The file at the path is compared with the
     * open one at most once a second (checked_at_ms, monotonic); `moved` is
     * the last answer. `write_failed` notes that a write failed for want of
     * space or by an I/O error since the last health probe, and why. */
    bool checked;
    int64_t checked_at_ms;
    bool moved;
    bool write_failed;
    char write_error[STORE_ERROR_MAX];

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

    /* The durable group commit (durable_run): writes that need an fsync
     * before they return queue here while one commits, and the next of them
     * commits them all in one transaction with one fsync. */
    struct durable_req *dq_head, **dq_tail;
    bool dq_leader;             /* a thread is committing a batch */
    pthread_cond_t dq_done;

    /* The checkpointer (checkpointer_main): its own connection and thread,
     * woken by the commit that finds the log past CHECKPOINT_FRAMES. Guarded
     * by `lock`. */
    sqlite3 *ckpt_db;
    pthread_t ckpt_thread;
    bool ckpt_running;
    bool ckpt_due;
    bool ckpt_stop;
    pthread_cond_t ckpt_wake;
};

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shared_db *shared_list;

struct sqlite_store {
    struct shared_db *sh;
    bool relaxed;      /* commits need no fsync, except job_sending's */
    bool in_gate;      /* this handle holds the connection */
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

/* Takes the connection, after the waiting durable users if not `urgent`
 * itself. Called with sh->lock held. */
static void gate_take_locked(struct shared_db *sh, bool urgent)
{
    if (!urgent) {
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
}

/* Hands the connection to one waiter, a durable one first (waking them all
 * would have all but one go back to sleep, each a context switch). */
static void gate_give(struct shared_db *sh)
{
    pthread_mutex_lock(&sh->lock);
    sh->taken = false;
    if (sh->urgent > 0)
        pthread_cond_signal(&sh->urgent_turn);
    else if (sh->relaxed > 0)
        pthread_cond_signal(&sh->relaxed_turn);
    pthread_mutex_unlock(&sh->lock);
}

/* Takes the connection for this handle. */
static void gate_enter(struct sqlite_store *h)
{
    assert(!h->in_gate);
    struct shared_db *sh = h->sh;
    pthread_mutex_lock(&sh->lock);
    gate_take_locked(sh, !h->relaxed);
    pthread_mutex_unlock(&sh->lock);
    h->in_gate = true;
    /* A durable handle commits with an fsync, a relaxed one without. If the
     * switch fails the connection stays at FULL: slower, never less safe. */
    if (set_synced(sh, !h->relaxed) != 0 && h->relaxed)
        sh->synced = true;
}

static void gate_leave(struct sqlite_store *h)
{
    if (!h->in_gate)
        return;
    h->in_gate = false;
    gate_give(h->sh);
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
 * messages name tables and constraints, never the bound values. A failure of
 * the disk (full, I/O error, read-only) is also noted for the health probe. */
static int db_error(struct store *st, const char *what)
{
    struct shared_db *sh = backend_of(st)->sh;
    int code = sqlite3_errcode(sh->db) & 0xff;

    store_set_error(st, "sqlite: %s: %s", what, sqlite3_errmsg(sh->db));
    if (code == SQLITE_FULL || code == SQLITE_IOERR || code == SQLITE_READONLY || code == SQLITE_CANTOPEN) {
        sh->write_failed = true;
        snprintf(sh->write_error, sizeof sh->write_error, "%s", st->error);
    }
    return -1;
}

/* Before a write: is the file at the path still the one we have open? (See
 * store.h.) SQLITE_FCNTL_HAS_MOVED stats the path and compares its inode
 * with the open file's; it costs a stat(), done at most once a second. A
 * database without a file (":memory:") answers SQLITE_NOTFOUND: never moved. */
static int check_not_moved(struct store *st)
{
    struct shared_db *sh = backend_of(st)->sh;
    int64_t now = clock_monotonic_ms();

    if (!sh->checked || now - sh->checked_at_ms >= STORE_PROBE_EVERY_MS || now < sh->checked_at_ms) {
        int moved = 0;

        sh->checked = true;
        sh->checked_at_ms = now;
        if (sqlite3_file_control(sh->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK)
            sh->moved = moved != 0;
    }
    if (sh->moved) {
        const char *file = sqlite3_db_filename(sh->db, "main");
        store_set_error(st, "LINEBOT_DB: the database file %.120s was deleted or moved while the bot"
                            " was running; restart it",
                        file && *file ? file : sh->location);
        return -1;
    }
    return 0;
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

/* Copies a text column into a malloc'd string; NULL for SQL NULL. */
static char *column_dup(sqlite3_stmt *s, int col)
{
    const unsigned char *p;

    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return NULL;
    /* Any other value converts to text; NULL then means SQLite could not
     * allocate the conversion, which the out-of-memory policy ends here. */
    p = sqlite3_column_text(s, col);
    if (!p)
        alloc_fail("sqlite3_column_text", (size_t)sqlite3_column_bytes(s, col));
    return xstrndup((const char *)p, (size_t)sqlite3_column_bytes(s, col));
}

/* The same for text the schema keeps NOT NULL: "" stands in for SQL NULL, so
 * callers hand out a string in every case. */
static char *column_dup_text(sqlite3_stmt *s, int col)
{
    char *text = column_dup(s, col);

    return text ? text : xstrdup("");
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

/* Every explicit transaction writes (BEGIN IMMEDIATE). */
static int tx_begin(struct store *st)
{
    return run(st, stmt(st, STMT_BEGIN), "begin transaction");
}

/* Undoes the open transaction, if SQLite has not already done so. Keeps the
 * error that caused it. */
static void tx_rollback(struct store *st)
{
    if (!sqlite3_get_autocommit(db_of(st))) {
        sqlite3_stmt *s = stmt(st, STMT_ROLLBACK);
        sqlite3_step(s);
        finish(s);
    }
}

static int tx_commit(struct store *st)
{
    if (run(st, stmt(st, STMT_COMMIT), "commit") != 0) {
        tx_rollback(st);
        return -1;
    }
    return 0;
}

/* ---- the durable group commit ---- */

/* One durable write waiting for its commit. `body` runs inside the open
 * transaction (0 done, 1 nothing to do such as a lost claim, -1 error, with
 * the error on `st`); `undo`, if any, resets what a body wrote into its
 * arguments when the transaction is rolled back. */
struct durable_req {
    const char *what; /* for messages: "job sending" */
    struct store *st;
    int (*body)(struct store *st, void *arg);
    void (*undo)(void *arg);
    void *arg;
    int rc;
    bool done;
    struct durable_req *next;
};

/* Runs the bodies of `batch` in one transaction committed at
 * synchronous=FULL: one fsync for all. -1 when anything failed; the
 * transaction is then rolled back and nothing of it stays. */
static int durable_commit(struct store *st, struct durable_req *batch)
{
    struct shared_db *sh = backend_of(st)->sh;
    const char *what = batch->next ? "durable commit" : batch->what;
    if (set_synced(sh, true) != 0) {
        db_error(st, what);
        return -1;
    }
    if (run(st, stmt(st, STMT_BEGIN), what) != 0)
        return -1;
    for (struct durable_req *r = batch; r; r = r->next) {
        r->rc = check_not_moved(r->st) != 0 ? -1 : r->body(r->st, r->arg);
        if (r->rc < 0) {
            tx_rollback(st);
            return -1;
        }
    }
    if (run(st, stmt(st, STMT_COMMIT), what) != 0) {
        tx_rollback(st);
        return -1;
    }
    return 0;
}

/* Commits one durable write. Writes that arrive while another batch commits
 * wait for it to end, and the first of them then commits them all in one
 * transaction: an fsync costs the same for one row as for ten, and the gate
 * is held for one fsync instead of one each. If the shared transaction
 * fails, each write is tried again alone, so a bad one (a full disk, a moved
 * file) fails by itself with its own error, as it would without the others.
 * Holds the gate as a durable handle while it commits. */
static int durable_run(struct store *st, const char *what, int (*body)(struct store *, void *),
                       void (*undo)(void *), void *arg)
{
    struct sqlite_store *h = backend_of(st);
    struct shared_db *sh = h->sh;
    struct durable_req req = {.what = what, .st = st, .body = body, .undo = undo, .arg = arg};

    assert(!h->in_gate);
    pthread_mutex_lock(&sh->lock);
    *sh->dq_tail = &req;
    sh->dq_tail = &req.next;
    while (!req.done && sh->dq_leader)
        pthread_cond_wait(&sh->dq_done, &sh->lock);
    if (req.done) {
        pthread_mutex_unlock(&sh->lock);
        return req.rc;
    }
    /* This thread commits the queue as it is once it holds the gate. */
    sh->dq_leader = true;
    gate_take_locked(sh, true);
    struct durable_req *batch = sh->dq_head;
    sh->dq_head = NULL;
    sh->dq_tail = &sh->dq_head;
    pthread_mutex_unlock(&sh->lock);
    h->in_gate = true;

    /* The batch holds this thread's own write: alone, its error stands. */
    if (durable_commit(st, batch) != 0) {
        bool alone = batch->next == NULL;
        for (struct durable_req *r = batch; r; r = r->next) {
            if (r->undo)
                r->undo(r->arg);
            r->rc = -1;
            if (alone)
                break;
            struct durable_req *next = r->next;
            r->next = NULL;
            if (durable_commit(r->st, r) != 0) {
                if (r->undo)
                    r->undo(r->arg);
                r->rc = -1;
            }
            r->next = next;
        }
    }
    gate_leave(h);
    pthread_mutex_lock(&sh->lock);
    for (struct durable_req *r = batch; r; r = r->next)
        r->done = true;
    sh->dq_leader = false;
    pthread_cond_broadcast(&sh->dq_done);
    pthread_mutex_unlock(&sh->lock);
    return req.rc;
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
        /* Version 0 has none of our tables: the newest schema at once. */
        int to = version == 0 ? SCHEMA_VERSION : version + 1;
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", to);
        if (exec_sql(st, version == 0 ? schema_fresh : migrations[version], "migration") != 0 ||
            exec_sql(st, bump, "migration") != 0 || exec_sql(st, "COMMIT", "migration") != 0) {
            char cause[STORE_ERROR_MAX];
            snprintf(cause, sizeof cause, "%s", st->error);
            store_set_error(st, "sqlite: migrating the schema to version %d failed: %.180s", to,
                            cause);
            goto fail;
        }
        version = to;
    }
    return 0;

fail:
    if (!sqlite3_get_autocommit(db_of(st)))
        sqlite3_exec(db_of(st), "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static void checkpointer_stop(struct shared_db *sh);

static void shared_free(struct shared_db *sh)
{
    checkpointer_stop(sh);
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(sh->stmts[i]);
    sqlite3_finalize(sh->sync_full);
    sqlite3_finalize(sh->sync_normal);
    sqlite3_close_v2(sh->db);
    pthread_cond_destroy(&sh->urgent_turn);
    pthread_cond_destroy(&sh->relaxed_turn);
    pthread_cond_destroy(&sh->dq_done);
    pthread_cond_destroy(&sh->ckpt_wake);
    pthread_mutex_destroy(&sh->lock);
    free(sh->location);
    free(sh);
}

/* ---- the checkpointer ---- */

/* The log is copied back into the database file once it holds this many
 * frames (SQLite's own default for wal_autocheckpoint). */
#define CHECKPOINT_FRAMES 1000
#define CHECKPOINT_LOG_EVERY_MS 60000

/* SQLite checkpoints in the commit that grows the log past the mark: that
 * commit writes a few MB into the database file and fsyncs it while it holds
 * the gate, and every webhook and worker waits behind it (every 36th event's
 * finish took milliseconds). Here a thread of its own, with its own
 * connection, does it instead: a PASSIVE checkpoint waits for no one and
 * blocks no one. Writers restart the log from its start only once it is all
 * copied, and under steady load frames keep coming while it copies, so the
 * log would grow on. So a second pass follows with the gate held: it copies
 * the few frames written meanwhile, and the next write of this process
 * begins on a log copied to its end, which is what lets it restart the log.
 * The bulk of the copying and its fsync stay outside the gate. */
static void *checkpointer_main(void *arg)
{
    struct shared_db *sh = arg;
    int64_t logged_ms = 0;

    pthread_mutex_lock(&sh->lock);
    while (!sh->ckpt_stop) {
        if (!sh->ckpt_due) {
            pthread_cond_wait(&sh->ckpt_wake, &sh->lock);
            continue;
        }
        sh->ckpt_due = false;
        pthread_mutex_unlock(&sh->lock);
        int rc = sqlite3_wal_checkpoint_v2(sh->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (rc == SQLITE_OK) {
            pthread_mutex_lock(&sh->lock);
            gate_take_locked(sh, true);
            pthread_mutex_unlock(&sh->lock);
            rc = sqlite3_wal_checkpoint_v2(sh->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
            gate_give(sh);
        }
        int64_t now = clock_monotonic_ms();
        /* BUSY: another process checkpoints; the next commit asks again. */
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && (!logged_ms || now - logged_ms >= CHECKPOINT_LOG_EVERY_MS)) {
            logged_ms = now;
            log_warn("sqlite: checkpoint of the write-ahead log failed: %s", sqlite3_errmsg(sh->ckpt_db));
        }
        pthread_mutex_lock(&sh->lock);
    }
    pthread_mutex_unlock(&sh->lock);
    return NULL;
}

/* After every commit of the shared connection (under the gate): wakes the
 * checkpointer once the log is long. */
static int checkpointer_hook(void *arg, sqlite3 *db, const char *schema, int frames)
{
    struct shared_db *sh = arg;
    (void)db;
    (void)schema;
    if (frames >= CHECKPOINT_FRAMES) {
        pthread_mutex_lock(&sh->lock);
        sh->ckpt_due = true;
        pthread_cond_signal(&sh->ckpt_wake);
        pthread_mutex_unlock(&sh->lock);
    }
    return SQLITE_OK;
}

/* Starts the checkpointer of a file database. Without one (an in-memory
 * database, or no connection or thread to spare) SQLite's own automatic
 * checkpoints stay on. */
static void checkpointer_start(struct shared_db *sh)
{
    const char *file = sqlite3_db_filename(sh->db, "main");
    if (!file || !*file)
        return;
    /* A first read opens the file and sees the WAL mode: until then a
     * connection's checkpoint does nothing. */
    if (sqlite3_open_v2(file, &sh->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
        sqlite3_exec(sh->ckpt_db, "PRAGMA schema_version", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(sh->ckpt_db);
        sh->ckpt_db = NULL;
        return;
    }
    if (pthread_create(&sh->ckpt_thread, NULL, checkpointer_main, sh) != 0) {
        sqlite3_close(sh->ckpt_db);
        sh->ckpt_db = NULL;
        return;
    }
    sh->ckpt_running = true;
    sqlite3_wal_hook(sh->db, checkpointer_hook, sh); /* replaces the automatic checkpoints */
}

static void checkpointer_stop(struct shared_db *sh)
{
    if (!sh->ckpt_running)
        return;
    if (sh->db)
        sqlite3_wal_hook(sh->db, NULL, NULL);
    pthread_mutex_lock(&sh->lock);
    sh->ckpt_stop = true;
    pthread_cond_signal(&sh->ckpt_wake);
    pthread_mutex_unlock(&sh->lock);
    pthread_join(sh->ckpt_thread, NULL);
    sqlite3_close(sh->ckpt_db);
    sh->ckpt_db = NULL;
    sh->ckpt_running = false;
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
        migrate(st) != 0 ||
        /* How many chunks hold a term (kb_terms_within), from the index itself. */
        exec_sql(st, "CREATE VIRTUAL TABLE IF NOT EXISTS temp.linebot_kb_vocab"
                     " USING fts5vocab(main, linebot_kb_fts, row)", "kb vocabulary") != 0)
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
    checkpointer_start(sh);
    return 0;
}

static void sq_close(struct store *st)
{
    struct sqlite_store *h = backend_of(st);

    if (!h)
        return;
    assert(!h->in_gate); /* every op leaves the gate before it returns */
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
    struct sqlite_store *h = xcalloc(1, sizeof *h);

    pthread_mutex_lock(&shared_lock);
    struct shared_db *sh = shared_list;
    pid_t self = getpid();
    while (sh && (sh->pid != self || sh->is_uri != is_uri || strcmp(sh->location, location) != 0))
        sh = sh->next;
    if (sh) {
        sh->refs++;
    } else {
        sh = xcalloc(1, sizeof *sh);
        sh->location = xstrdup(location);
        sh->is_uri = is_uri;
        sh->pid = self;
        sh->refs = 1;
        pthread_mutex_init(&sh->lock, NULL);
        pthread_cond_init(&sh->urgent_turn, NULL);
        pthread_cond_init(&sh->relaxed_turn, NULL);
        pthread_cond_init(&sh->dq_done, NULL);
        pthread_cond_init(&sh->ckpt_wake, NULL);
        sh->dq_tail = &sh->dq_head;
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

/* One committed upsert of the health row; then, whether another write of
 * the process failed since the last probe (see store.h: a one-row write may
 * still fit in the log where larger ones no longer do). */
static int sq_probe_write(struct store *st, int64_t now_ms)
{
    struct shared_db *sh = backend_of(st)->sh;
    sqlite3_stmt *s = stmt(st, STMT_HEALTH_PROBE);
    int rc = run_changes(st, s, sqlite3_bind_int64(s, 1, now_ms), "health probe", NULL);
    bool failed = sh->write_failed;

    sh->write_failed = false;
    if (rc == 0 && failed) {
        store_set_error(st, "sqlite: a write failed since the last health check: %.200s", sh->write_error);
        rc = -1;
    }
    return rc;
}

/* ---- inbox ---- */

struct inbox_add_args {
    struct inbox_item *items;
    size_t n;
    size_t *n_new;
};

/* Inside the durable commit's transaction (durable_run). */
static int inbox_add_rows(struct store *st, void *arg)
{
    struct inbox_add_args *a = arg;
    struct inbox_item *items = a->items;
    sqlite3_stmt *s = stmt(st, STMT_INBOX_ADD);
    size_t added = 0;

    for (size_t i = 0; i < a->n; i++) {
        struct inbox_item *it = &items[i];
        int changes = 0;
        int rc = bind_text(s, 1, it->event_id);

        if (rc == SQLITE_OK)
            rc = bind_text(s, 2, it->chat_id ? it->chat_id : "");
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 3, it->timestamp_ms);
        if (rc == SQLITE_OK)
            rc = bind_text(s, 4, it->payload);
        if (run_changes(st, s, rc, "inbox add", &changes) != 0)
            return -1;
        it->added = changes > 0;
        added += (size_t)changes;
    }
    *a->n_new = added;
    return 0;
}

static void inbox_add_undo(void *arg)
{
    struct inbox_add_args *a = arg;
    for (size_t i = 0; i < a->n; i++)
        a->items[i].added = false;
}

/* An ack waits on this commit: durable, through the group commit. */
static int sq_inbox_add(struct store *st, struct inbox_item *items, size_t n, size_t *n_new)
{
    struct inbox_add_args a = {items, n, n_new};
    return durable_run(st, "inbox add", inbox_add_rows, inbox_add_undo, &a);
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

/* Fills `job` from a CLAIM_PICK or CLAIM_PICK_TASK row and returns its seq. */
static int64_t read_job(sqlite3_stmt *s, struct job *job)
{
    const unsigned char *state;

    job->event_id = column_dup_text(s, 1);
    job->chat_id = column_dup_text(s, 2);
    job->payload = column_dup(s, 4);
    job->answer = column_dup(s, 8);
    job->kind = column_dup(s, 9);
    job->timestamp_ms = sqlite3_column_int64(s, 3);
    state = sqlite3_column_text(s, 5);
    job->state = store_claimed_state((const char *)state);
    job->claim_gen = sqlite3_column_int64(s, 6) + 1;
    int64_t attempts = sqlite3_column_int64(s, 7) + 1;
    job->attempts = attempts > INT_MAX ? INT_MAX : (int)attempts;
    return sqlite3_column_int64(s, 0);
}

static int sq_claim_next(struct store *st, int64_t now_ms, struct job *job)
{
    sqlite3_stmt *pick = stmt(st, STMT_CLAIM_PICK);
    sqlite3_stmt *take = stmt(st, STMT_CLAIM_TAKE);
    sqlite3_stmt *s;
    int64_t seq;
    int rc, changes = 0;

    /* IMMEDIATE: the write lock is held from the pick, so no other handle
     * can pick the same row, or another row of the same chat, meanwhile. */
    if (tx_begin(st) != 0)
        return -1;
    /* Expired claims first, so that their rows and chats are claimable. If
     * nothing is claimed after all, the rollback undoes this too: an expired
     * row is always claimable, so nothing was expired. */
    int64_t lease_from = now_ms < INT64_MIN + STORE_LEASE_MS ? INT64_MIN : now_ms - STORE_LEASE_MS;
    s = stmt(st, STMT_CLAIM_EXPIRED);
    int expired = lookup(st, s, sqlite3_bind_int64(s, 1, lease_from), "claim");
    if (expired == 1)
        finish(s);
    if (expired > 0) {
        s = stmt(st, STMT_CLAIM_EXPIRE);
        rc = sqlite3_bind_int64(s, 1, lease_from);
        if (run_changes(st, s, rc, "claim", NULL) != 0)
            expired = -1;
    }
    if (expired < 0) {
        tx_rollback(st);
        return -1;
    }
    rc = sqlite3_step(pick);
    if (rc == SQLITE_DONE) {
        /* No event is claimable: an internal job may go. */
        finish(pick);
        pick = stmt(st, STMT_CLAIM_PICK_TASK);
        rc = sqlite3_step(pick);
    }
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

struct job_sending_args {
    const char *event_id;
    int64_t claim_gen;
    const char *answer;
};

static int job_sending_row(struct store *st, void *arg)
{
    struct job_sending_args *a = arg;
    sqlite3_stmt *s = stmt(st, STMT_JOB_SENDING);
    int rc = bind_text(s, 1, a->event_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, a->claim_gen);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, a->answer);
    return fenced(st, s, rc, "job sending");
}

/* The answer record must be on disk before the send it announces: it goes
 * through the durable group commit whatever the handle. In WAL mode that
 * fsync also covers every earlier, unsynced commit of the file. */
static int sq_job_sending(struct store *st, const char *event_id, int64_t claim_gen,
                          const char *answer)
{
    struct job_sending_args a = {event_id, claim_gen, answer};
    return durable_run(st, "job sending", job_sending_row, NULL, &a);
}

/* Binds the fence (?1 event id, ?2 claim_gen) every fenced statement starts with. */
static int bind_fence(sqlite3_stmt *s, const char *event_id, int64_t claim_gen)
{
    int rc = bind_text(s, 1, event_id);
    return rc == SQLITE_OK ? sqlite3_bind_int64(s, 2, claim_gen) : rc;
}

static int bind_usage(sqlite3_stmt *s, int idx, const struct job_finish *f, int64_t value)
{
    return store_usage_known(f, value) ? sqlite3_bind_int64(s, idx, value) : sqlite3_bind_null(s, idx);
}

static int insert_turn(struct store *st, const char *chat_id, const struct turn *turn)
{
    sqlite3_stmt *s = stmt(st, STMT_HISTORY_ADD);
    int rc = bind_text(s, 1, chat_id);

    if (rc == SQLITE_OK)
        rc = bind_text(s, 2, store_role_name(turn->role));
    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, turn->speaker);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 4, turn->text);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 5, turn->message_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 6, turn->timestamp_ms);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 7, turn->user_id);
    return run_changes(st, s, rc, "history add", NULL);
}

/* Inside an open transaction: the fenced finish of the inbox row. 0 done
 * (*chat_id, when asked for, is the row's chat, read in the same
 * transaction), 1 claim lost, -1 error. */
static int finish_row(struct store *st, const char *event_id, int64_t claim_gen,
                      const struct job_finish *f, int64_t done_at_ms, char **chat_id)
{
    sqlite3_stmt *s = stmt(st, STMT_JOB_FINISH);
    int rc = bind_fence(s, event_id, claim_gen);
    int found;

    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, job_outcome_name(f->outcome));
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 4, done_at_ms);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 5, f->model);
    if (rc == SQLITE_OK)
        rc = bind_usage(s, 6, f, f->usage.prompt_tokens);
    if (rc == SQLITE_OK)
        rc = bind_usage(s, 7, f, f->usage.completion_tokens);
    if (rc == SQLITE_OK)
        rc = bind_usage(s, 8, f, f->usage.total_tokens);
    rc = fenced(st, s, rc, "job finish");
    if (rc != 0 || !chat_id)
        return rc;
    s = stmt(st, STMT_JOB_CHAT);
    found = lookup(st, s, bind_text(s, 1, event_id), "job finish");
    if (found != 1)
        return -1; /* the row was just updated: only an error can hide it */
    *chat_id = column_dup_text(s, 0);
    finish(s);
    return 0;
}

/* Inside an open transaction: the charge of `event_id`, once (a charge
 * already there is kept). */
static int insert_charge(struct store *st, const char *event_id, const struct store_charge *c, int64_t at_ms)
{
    sqlite3_stmt *s = stmt(st, STMT_USAGE_ADD);
    int rc = bind_text(s, 1, event_id);

    if (rc == SQLITE_OK)
        rc = bind_text(s, 2, c->user_id);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, c->chat_id);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 4, c->model);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 5, c->day);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 6, c->prompt_tokens);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 7, c->completion_tokens);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 8, c->estimated ? 1 : 0);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 9, at_ms);
    return run_changes(st, s, rc, "usage add", NULL);
}

/* Inside an open transaction: one message of `user_id` counted at `at_ms`. */
static int rate_add(struct store *st, const char *user_id, int64_t at_ms)
{
    sqlite3_stmt *s = stmt(st, STMT_RATE_COUNT);
    int rc = bind_text(s, 1, user_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, at_ms);
    return run_changes(st, s, rc, "rate count", NULL);
}

/* The fence first: a lost claim writes nothing (the rollback undoes nothing). */
static int sq_job_finish(struct store *st, const char *event_id, int64_t claim_gen,
                         const struct job_finish *f, int64_t done_at_ms)
{
    char *chat_id = NULL;
    int rc;

    if (tx_begin(st) != 0)
        return -1;
    rc = finish_row(st, event_id, claim_gen, f, done_at_ms, &chat_id);
    if (rc == 0 && f->charge)
        rc = insert_charge(st, event_id, f->charge, done_at_ms);
    if (rc == 0 && f->rate_user)
        rc = rate_add(st, f->rate_user, f->rate_at_ms);
    /* The turns and ids belong to the inbox row's own chat. */
    for (size_t i = 0; rc == 0 && i < f->n_turns; i++)
        rc = insert_turn(st, chat_id, &f->turns[i]);
    for (size_t i = 0; rc == 0 && i < f->n_sent; i++) {
        sqlite3_stmt *s = stmt(st, STMT_BOT_ADD);
        int brc = bind_pair(s, chat_id, f->sent_ids[i]);
        if (brc == SQLITE_OK)
            brc = sqlite3_bind_int64(s, 3, f->sent_at_ms);
        rc = run_changes(st, s, brc, "bot message add", NULL);
    }
    free(chat_id);
    if (rc != 0) {
        tx_rollback(st);
        return rc;
    }
    return tx_commit(st);
}

static int sq_context_keep(struct store *st, const char *event_id, int64_t claim_gen, const char *chat_id,
                           const struct turn *turn, int keep, int64_t done_at_ms)
{
    struct job_finish f = { .outcome = OUTCOME_CONTEXT, .usage = { -1, -1, -1 } };
    int rc;

    if (tx_begin(st) != 0)
        return -1;
    rc = finish_row(st, event_id, claim_gen, &f, done_at_ms, NULL);
    if (rc == 0)
        rc = insert_turn(st, chat_id, turn);
    if (rc == 0) {
        sqlite3_stmt *s = stmt(st, STMT_CONTEXT_TRIM);
        int brc = bind_text(s, 1, chat_id);
        if (brc == SQLITE_OK)
            brc = sqlite3_bind_int(s, 2, keep);
        rc = run_changes(st, s, brc, "context trim", NULL);
    }
    if (rc != 0) {
        tx_rollback(st);
        return rc;
    }
    return tx_commit(st);
}

static int sq_rate_count(struct store *st, const char *user_id, int64_t now_ms, int64_t *count)
{
    sqlite3_stmt *s;
    int found;

    if (tx_begin(st) != 0)
        return -1;
    if (rate_add(st, user_id, now_ms) != 0) {
        tx_rollback(st);
        return -1;
    }
    s = stmt(st, STMT_RATE_GET);
    found = lookup(st, s, bind_text(s, 1, user_id), "rate count");
    if (found != 1) {
        if (found == 0)
            store_set_error(st, "sqlite: rate count: the counter row is missing after its upsert");
        tx_rollback(st);
        return -1;
    }
    *count = sqlite3_column_int64(s, 0);
    finish(s);
    return tx_commit(st);
}

static int sq_rate_peek(struct store *st, const char *user_id, int64_t now_ms, int64_t *count)
{
    sqlite3_stmt *s = stmt(st, STMT_RATE_PEEK);
    int rc = bind_text(s, 1, user_id);
    int found;

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, now_ms);
    found = lookup(st, s, rc, "rate peek");
    if (found < 0)
        return -1;
    if (found) {
        *count = sqlite3_column_int64(s, 0);
        finish(s);
    }
    return 0;
}

static int sq_task_add(struct store *st, const char *event_id, const char *kind, const char *chat_id,
                       const char *payload, int64_t now_ms)
{
    sqlite3_stmt *s = stmt(st, STMT_TASK_ADD);
    int changes = 0;
    int rc = bind_pair(s, event_id, kind);

    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, chat_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 4, now_ms);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 5, payload);
    if (run_changes(st, s, rc, "task add", &changes) != 0)
        return -1;
    return changes > 0 ? 1 : 0;
}

static int sq_job_park(struct store *st, const char *event_id, int64_t claim_gen, const char *answer)
{
    sqlite3_stmt *s = stmt(st, STMT_JOB_PARK);
    int rc = bind_fence(s, event_id, claim_gen);

    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, answer);
    return fenced(st, s, rc, "job park");
}

/* BEGIN IMMEDIATE holds the write lock from the read of the answer, so two
 * adopters cannot both see it waiting. Durable like store_job_sending: the
 * adopter sends right after. */
static int sq_job_adopt(struct store *st, const char *event_id, int64_t claim_gen, const char *parked_event_id,
                        int64_t done_at_ms, char **answer)
{
    sqlite3_stmt *s;
    char *taken = NULL;
    int rc, found;

    if (set_synced(backend_of(st)->sh, true) != 0)
        return db_error(st, "durable commit");
    if (tx_begin(st) != 0)
        return -1;
    s = stmt(st, STMT_ADOPT_GET);
    rc = bind_text(s, 1, parked_event_id);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 2, event_id);
    found = lookup(st, s, rc, "job adopt");
    if (found != 1) {
        tx_rollback(st);
        return found == 0 ? 2 : -1;
    }
    taken = column_dup(s, 0);
    finish(s);
    if (!taken) {
        tx_rollback(st);
        return 2;
    }
    s = stmt(st, STMT_ADOPT_TAKE);
    rc = bind_text(s, 1, parked_event_id);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 2, job_outcome_name(OUTCOME_HANDED_OVER));
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, done_at_ms);
    rc = run_changes(st, s, rc, "job adopt", NULL);
    if (rc == 0) {
        s = stmt(st, STMT_JOB_SENDING);
        int brc = bind_fence(s, event_id, claim_gen);
        if (brc == SQLITE_OK)
            brc = bind_text(s, 3, taken);
        rc = fenced(st, s, brc, "job adopt");
    }
    if (rc != 0 || tx_commit(st) != 0) {
        if (rc != 0)
            tx_rollback(st);
        free(taken);
        return rc != 0 ? rc : -1;
    }
    *answer = taken;
    return 0;
}

static int sq_jobs_unpark(struct store *st, int64_t before_ms)
{
    sqlite3_stmt *s = stmt(st, STMT_JOBS_UNPARK);
    int changes = 0;
    if (run_changes(st, s, sqlite3_bind_int64(s, 1, before_ms), "jobs unpark", &changes) != 0)
        return -1;
    return changes;
}

static int sq_inbox_take(struct store *st, const char *event_id, const char *outcome, int64_t done_at_ms)
{
    sqlite3_stmt *s = stmt(st, STMT_INBOX_TAKE);
    int changes = 0;
    int rc = bind_text(s, 1, event_id);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 2, outcome);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, done_at_ms);
    if (run_changes(st, s, rc, "inbox take", &changes) != 0)
        return -1;
    return changes > 0 ? 1 : 0;
}

static int sq_job_release(struct store *st, const char *event_id, int64_t claim_gen)
{
    sqlite3_stmt *s = stmt(st, STMT_JOB_RELEASE);
    int rc = bind_text(s, 1, event_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, claim_gen);
    return fenced(st, s, rc, "job release");
}

/* The lease runs from claimed_at_ms (the claim, or the latest renewal): see
 * STMT_CLAIM_EXPIRE. */
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
            cap = cap ? cap * 2 : 16;
            list = xrealloc_array(list, cap, sizeof *list);
        }
        t = &list[count++];
        memset(t, 0, sizeof *t);
        t->role = store_role_parse((const char *)sqlite3_column_text(s, 0));
        t->timestamp_ms = sqlite3_column_int64(s, 4);
        t->speaker = column_dup(s, 1);
        t->text = column_dup_text(s, 2);
        t->message_id = column_dup(s, 3);
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
}

static int sq_chat_waiting_events(struct store *st, const char *chat_id, size_t max, char ***payloads, size_t *n)
{
    sqlite3_stmt *s = stmt(st, STMT_CHAT_WAITING);
    char **list = NULL;
    size_t count = 0;
    int rc = bind_text(s, 1, chat_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(s)) != SQLITE_ROW)
            break;
        list = xrealloc_array(list, count + 1, sizeof *list);
        list[count++] = column_dup_text(s, 0);
    }
    if (rc != SQLITE_DONE) {
        db_error(st, "waiting events");
        finish(s);
        for (size_t i = 0; i < count; i++)
            free(list[i]);
        free(list);
        return -1;
    }
    finish(s);
    *payloads = list;
    *n = count;
    return 0;
}

static int sq_message_text(struct store *st, const char *chat_id, const char *message_id,
                           char **text)
{
    sqlite3_stmt *s = stmt(st, STMT_MSG_TEXT);
    int found = lookup(st, s, bind_pair(s, chat_id, message_id), "message text");

    if (found != 1)
        return found;
    *text = column_dup_text(s, 0);
    finish(s);
    return 1;
}

/* The message and the facts remembered from it, in one transaction. */
static int sq_message_delete(struct store *st, const char *chat_id, const char *message_id)
{
    static const enum stmt_id steps[] = { STMT_MSG_DELETE, STMT_MEMORY_UNSEND };

    if (tx_begin(st) != 0)
        return -1;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        sqlite3_stmt *s = stmt(st, steps[i]);
        if (run_changes(st, s, bind_pair(s, chat_id, message_id), "message delete", NULL) != 0) {
            tx_rollback(st);
            return -1;
        }
    }
    return tx_commit(st);
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

/* The turns and the summary of them, in one transaction. */
static int sq_history_clear(struct store *st, const char *chat_id)
{
    static const enum stmt_id steps[] = { STMT_HISTORY_CLEAR, STMT_FORGET_SUMMARY };

    if (tx_begin(st) != 0)
        return -1;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        sqlite3_stmt *s = stmt(st, steps[i]);
        if (run_changes(st, s, bind_text(s, 1, chat_id), "history clear", NULL) != 0) {
            tx_rollback(st);
            return -1;
        }
    }
    return tx_commit(st);
}

/* One transaction: the chat is forgotten entirely or not at all. Pending
 * events of the chat keep their payloads: they are acknowledged work that
 * comes after (or is) the unfollow/leave and is still to be handled. */
static int sq_forget_chat(struct store *st, const char *chat_id)
{
    static const enum stmt_id steps[] = { STMT_HISTORY_CLEAR, STMT_FORGET_BOT,
                                          STMT_FORGET_PROFILES, STMT_FORGET_RATE,
                                          STMT_FORGET_INBOX, STMT_FORGET_CHAT_MODEL,
                                          STMT_FORGET_CHAT_PERSONA,
                                          STMT_FORGET_MEMORY, STMT_FORGET_MEMORY_USER, STMT_FORGET_SUMMARY };


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

/* ---- profiles ---- */

static int sq_profile_get(struct store *st, const char *chat_id, const char *user_id,
                          int64_t fresh_after_ms, char **display_name, char **language)
{
    sqlite3_stmt *s = stmt(st, STMT_PROFILE_GET);
    int found = lookup(st, s, bind_pair(s, chat_id, user_id), "profile get");

    if (found != 1)
        return found;
    if (sqlite3_column_int64(s, 1) < fresh_after_ms) {
        finish(s);
        return 0;
    }
    *display_name = column_dup_text(s, 0);
    if (language)
        *language = column_dup(s, 2);
    finish(s);
    return 1;
}

static int sq_profile_put(struct store *st, const char *chat_id, const char *user_id,
                          const char *display_name, const char *language, int64_t now_ms)
{
    sqlite3_stmt *s = stmt(st, STMT_PROFILE_PUT);
    int rc = bind_pair(s, chat_id, user_id);

    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, display_name);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 4, now_ms);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 5, language);
    return run_changes(st, s, rc, "profile put", NULL);
}

/* ---- the model a chat uses ---- */

static int sq_chat_model_get(struct store *st, const char *chat_id, char **model)
{
    sqlite3_stmt *s = stmt(st, STMT_CHAT_MODEL_GET);
    int found = lookup(st, s, bind_text(s, 1, chat_id), "chat model get");

    if (found != 1)
        return found;
    *model = column_dup_text(s, 0);
    finish(s);
    return 1;
}

static int sq_chat_model_set(struct store *st, const char *chat_id, const char *model, int64_t now_ms)
{
    sqlite3_stmt *s = stmt(st, STMT_CHAT_MODEL_SET);
    int rc = bind_pair(s, chat_id, model);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, now_ms);
    return run_changes(st, s, rc, "chat model set", NULL);
}

/* ---- the persona a chat uses ---- */

static int sq_chat_persona_get(struct store *st, const char *chat_id, char **preset, char **custom)
{
    sqlite3_stmt *s = stmt(st, STMT_CHAT_PERSONA_GET);
    int found = lookup(st, s, bind_text(s, 1, chat_id), "chat persona get");

    if (found != 1)
        return found;
    *preset = column_dup(s, 0);
    *custom = column_dup(s, 1);
    finish(s);
    return 1;
}

static int sq_chat_persona_set(struct store *st, const char *chat_id, const char *preset, const char *custom,
                               int64_t now_ms)
{
    if (!preset && !custom) { /* back to the default */
        sqlite3_stmt *s = stmt(st, STMT_FORGET_CHAT_PERSONA);
        return run_changes(st, s, bind_text(s, 1, chat_id), "chat persona set", NULL);
    }
    sqlite3_stmt *s = stmt(st, STMT_CHAT_PERSONA_SET);
    int rc = bind_pair(s, chat_id, preset);

    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, custom);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 4, now_ms);
    return run_changes(st, s, rc, "chat persona set", NULL);
}

/* ---- daily token budgets ---- */

static int sq_usage_day(struct store *st, const char *user_id, const char *chat_id, int64_t day,
                        int64_t *user_tokens, int64_t *chat_tokens)
{
    sqlite3_stmt *s = stmt(st, STMT_USAGE_DAY);
    int rc = bind_pair(s, user_id, chat_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, day);
    if (lookup(st, s, rc, "usage day") != 1)
        return -1; /* the statement always has a row */
    *user_tokens = sqlite3_column_int64(s, 0);
    *chat_tokens = sqlite3_column_int64(s, 1);
    finish(s);
    return 0;
}

static int sq_budget_notice(struct store *st, const char *subject, int64_t day, const char *event_id,
                            int64_t now_ms)
{
    sqlite3_stmt *s;
    int rc, found, mine = 0;

    if (tx_begin(st) != 0)
        return -1;
    s = stmt(st, STMT_NOTICE_TAKE);
    rc = bind_text(s, 1, subject);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, day);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, event_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 4, now_ms);
    if (run_changes(st, s, rc, "budget notice", NULL) != 0) {
        tx_rollback(st);
        return -1;
    }
    s = stmt(st, STMT_NOTICE_GET);
    rc = bind_text(s, 1, subject);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, day);
    found = lookup(st, s, rc, "budget notice");
    if (found != 1) {
        tx_rollback(st);
        return -1; /* the row was just written or was there: only an error hides it */
    }
    const char *holder = (const char *)sqlite3_column_text(s, 0);
    mine = holder && strcmp(holder, event_id) == 0;
    finish(s);
    return tx_commit(st) != 0 ? -1 : mine;
}

/* ---- retention ---- */

/* Deletes in batches, each its own short transaction, so a large purge never
 * holds the write lock long enough to delay an incoming webhook. */
/* `expire`: the statement is PURGE_WAITING, which also binds ?3 and ?4. */
static int purge_table(struct store *st, enum stmt_id id, int64_t before_ms, bool expire, int64_t done_at_ms)
{
    sqlite3_stmt *s = stmt(st, id);
    int changes;

    do {
        int rc = sqlite3_bind_int64(s, 1, before_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(s, 2, PURGE_BATCH);
        if (rc == SQLITE_OK && expire)
            rc = bind_text(s, 3, job_outcome_name(OUTCOME_EXPIRED));
        if (rc == SQLITE_OK && expire)
            rc = sqlite3_bind_int64(s, 4, done_at_ms);
        if (run_changes(st, s, rc, "purge", &changes) != 0)
            return -1;
    } while (changes >= PURGE_BATCH);
    return 0;
}

static int sq_purge(struct store *st, int64_t before_ms, int64_t dedup_before_ms, int64_t done_at_ms)
{
    if (purge_table(st, STMT_PURGE_HISTORY, before_ms, false, 0) != 0 ||
        purge_table(st, STMT_PURGE_BOT, before_ms, false, 0) != 0 ||
        purge_table(st, STMT_PURGE_PROFILES, before_ms, false, 0) != 0 ||
        purge_table(st, STMT_PURGE_RATE, before_ms, false, 0) != 0 ||
        purge_table(st, STMT_PURGE_USAGE, before_ms, false, 0) != 0 ||
        purge_table(st, STMT_PURGE_NOTICES, before_ms, false, 0) != 0 ||
        purge_table(st, STMT_PURGE_INBOX, dedup_before_ms, false, 0) != 0 ||
        purge_table(st, STMT_PURGE_WAITING, dedup_before_ms, true, done_at_ms) != 0)
        return -1;
    return 0;
}

/* ---- for the operator (linebot admin) ---- */

static int sq_admin_stats(struct store *st, struct store_day_stats **rows, size_t *n)
{
    sqlite3_stmt *s = stmt(st, STMT_ADMIN_STATS);
    struct store_day_stats *list = NULL;
    size_t count = 0, cap = 0;
    int rc;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            list = xrealloc_array(list, cap, sizeof *list);
        }
        list[count++] = (struct store_day_stats){
            .day = sqlite3_column_int64(s, 0),
            .model = column_dup(s, 1),
            .events = sqlite3_column_int64(s, 2),
            .answered = sqlite3_column_int64(s, 3),
            .apologized = sqlite3_column_int64(s, 4),
            .failed = sqlite3_column_int64(s, 5),
            .prompt_tokens = sqlite3_column_int64(s, 6),
            .completion_tokens = sqlite3_column_int64(s, 7),
            .total_tokens = sqlite3_column_int64(s, 8),
        };
    }
    if (rc != SQLITE_DONE) {
        db_error(st, "admin stats");
        finish(s);
        store_day_stats_free(list, count);
        return -1;
    }
    finish(s);
    *rows = list;
    *n = count;
    return 0;
}

static int sq_admin_chats(struct store *st, const char *chat_id, struct store_chat_info **rows, size_t *n)
{
    sqlite3_stmt *s = stmt(st, STMT_ADMIN_CHATS);
    struct store_chat_info *list = NULL;
    size_t count = 0, cap = 0;
    int rc = bind_text(s, 1, chat_id);

    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(s)) != SQLITE_ROW)
            break;
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            list = xrealloc_array(list, cap, sizeof *list);
        }
        list[count++] = (struct store_chat_info){
            .chat_id = column_dup_text(s, 0),
            .last_active_ms = sqlite3_column_int64(s, 1),
            .messages = sqlite3_column_int64(s, 2),
            .events = sqlite3_column_int64(s, 3),
            .model = column_dup(s, 4),
            .persona = column_dup(s, 5),
        };
    }
    if (rc != SQLITE_DONE) {
        db_error(st, "admin chats");
        finish(s);
        store_chat_info_free(list, count);
        return -1;
    }
    finish(s);
    *rows = list;
    *n = count;
    return 0;
}

static int sq_admin_history(struct store *st, const char *chat_id, struct turn **turns, size_t *n)
{
    sqlite3_stmt *s = stmt(st, STMT_ADMIN_HISTORY);
    struct turn *list = NULL;
    size_t count = 0, cap = 0;
    int rc = bind_text(s, 1, chat_id);

    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(s)) != SQLITE_ROW)
            break;
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            list = xrealloc_array(list, cap, sizeof *list);
        }
        list[count++] = (struct turn){
            .role = store_role_parse((const char *)sqlite3_column_text(s, 0)),
            .speaker = column_dup(s, 1),
            .text = column_dup_text(s, 2),
            .message_id = column_dup(s, 3),
            .timestamp_ms = sqlite3_column_int64(s, 4),
        };
    }
    if (rc != SQLITE_DONE) {
        db_error(st, "admin history");
        finish(s);
        turns_free(list, count);
        return -1;
    }
    finish(s);
    *turns = list;
    *n = count;
    return 0;
}

/* One transaction; the group summaries and turns go first, while the
 * profiles that name the user are still there. */
static int sq_admin_forget(struct store *st, const char *id, struct store_forget_counts *counts)
{
    int64_t budget_rows = 0; /* not reported */
    int64_t settings = 0; /* the user's memory settings, the chat's summary and knowledge base: not reported */
    const struct {
        enum stmt_id id;
        int64_t *count;
    } steps[] = {
        {STMT_FORGET_GROUP_SUMMARIES, &settings},
        {STMT_FORGET_GROUP_ANSWERS, &counts->group_turns},
        {STMT_FORGET_GROUP_TURNS, &counts->group_turns},
        {STMT_HISTORY_CLEAR, &counts->turns},
        {STMT_FORGET_BOT, &counts->bot_messages},
        {STMT_FORGET_USER_PROFILES, &counts->profiles},
        {STMT_FORGET_RATE, &counts->rate_rows},
        /* Finished internal jobs of the chat: their ids name it ("task:summary:<id>:N"). */
        {STMT_FORGET_TASKS, &counts->payloads},
        {STMT_FORGET_INBOX, &counts->payloads},
        {STMT_FORGET_CHAT_MODEL, &counts->choices},
        {STMT_FORGET_CHAT_PERSONA, &counts->personas},
        /* The user's (or chat's) token usage and budget notices (issue 11). */
        {STMT_FORGET_USAGE, &budget_rows},
        {STMT_FORGET_NOTICES, &budget_rows},
        {STMT_FORGET_MEMORY, &counts->memory},
        {STMT_FORGET_MEMORY_USER, &settings},
        {STMT_FORGET_SUMMARY, &settings},
        {STMT_KB_UNBIND, &settings}, /* the knowledge base the operator chose for the chat */
        /* The chat's own knowledge base, once kb_chat_forget emptied it: its name holds the id. */
        {STMT_FORGET_CHAT_KB_EMBED, &settings},
        {STMT_FORGET_CHAT_KB, &settings},
    };

    if (tx_begin(st) != 0)
        return -1;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        sqlite3_stmt *s = stmt(st, steps[i].id);
        int changes = 0;
        if (run_changes(st, s, bind_text(s, 1, id), "admin forget", &changes) != 0) {
            tx_rollback(st);
            memset(counts, 0, sizeof *counts);
            return -1;
        }
        *steps[i].count += changes;
    }
    if (tx_commit(st) != 0) {
        memset(counts, 0, sizeof *counts);
        return -1;
    }
    return 0;
}

/* ---- memory of the user ---- */

static int sq_memory_facts(struct store *st, const char *user_id, struct memory_fact **facts, size_t *n)
{
    sqlite3_stmt *s = stmt(st, STMT_MEMORY_FACTS);
    struct memory_fact *list = NULL;
    size_t count = 0, cap = 0;
    int rc = bind_text(s, 1, user_id);

    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(s)) != SQLITE_ROW)
            break;
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            list = xrealloc_array(list, cap, sizeof *list);
        }
        list[count++] = (struct memory_fact){
            .id = sqlite3_column_int64(s, 0),
            .text = column_dup_text(s, 1),
            .chat_id = column_dup_text(s, 2),
            .message_id = column_dup(s, 3),
            .created_at_ms = sqlite3_column_int64(s, 4),
            .used = sqlite3_column_int64(s, 5),
        };
    }
    if (rc != SQLITE_DONE) {
        db_error(st, "memory facts");
        finish(s);
        memory_facts_free(list, count);
        return -1;
    }
    finish(s);
    *facts = list;
    *n = count;
    return 0;
}

/* Inside an open transaction: a fact said again counts once more, a new one
 * is added; then the user's list is cut to the best MEMORY_KEEP_MAX. */
static int memory_put(struct store *st, const char *user_id, const char *chat_id, const char *message_id,
                      const char *text, int64_t now_ms)
{
    sqlite3_stmt *s = stmt(st, STMT_MEMORY_BUMP);
    int changes = 0;
    int rc;

    if (run_changes(st, s, bind_pair(s, user_id, text), "memory add", &changes) != 0)
        return -1;
    if (changes == 0) {
        s = stmt(st, STMT_MEMORY_INSERT);
        rc = bind_pair(s, user_id, text);
        if (rc == SQLITE_OK)
            rc = bind_text(s, 3, chat_id);
        if (rc == SQLITE_OK)
            rc = bind_text(s, 4, message_id);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 5, now_ms);
        if (run_changes(st, s, rc, "memory add", NULL) != 0)
            return -1;
    }
    s = stmt(st, STMT_MEMORY_TRIM);
    rc = bind_text(s, 1, user_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 2, MEMORY_KEEP_MAX);
    return run_changes(st, s, rc, "memory trim", NULL);
}

static int sq_memory_add(struct store *st, const char *user_id, const char *chat_id, const char *message_id,
                         const char *text, int64_t now_ms)
{
    if (tx_begin(st) != 0)
        return -1;
    if (memory_put(st, user_id, chat_id, message_id, text, now_ms) != 0) {
        tx_rollback(st);
        return -1;
    }
    return tx_commit(st);
}

static int sq_memory_forget(struct store *st, const char *user_id, int64_t fact_id)
{
    sqlite3_stmt *s = stmt(st, fact_id ? STMT_MEMORY_FORGET_ONE : STMT_MEMORY_FORGET_ALL);
    int rc = bind_text(s, 1, user_id);
    int changes = 0;

    if (rc == SQLITE_OK && fact_id)
        rc = sqlite3_bind_int64(s, 2, fact_id);
    if (run_changes(st, s, rc, "memory forget", &changes) != 0)
        return -1;
    return changes;
}

static int sq_memory_user(struct store *st, const char *user_id, struct memory_user *out)
{
    sqlite3_stmt *s = stmt(st, STMT_MEMORY_USER);
    int found = lookup(st, s, bind_text(s, 1, user_id), "memory user");

    if (found != 1)
        return found; /* the query always has its one row: 0 cannot happen */
    out->opted_out = sqlite3_column_int64(s, 0) != 0;
    out->told = sqlite3_column_int64(s, 1) != 0;
    out->seen_seq = sqlite3_column_int64(s, 2);
    out->unseen = sqlite3_column_int64(s, 3);
    out->last_seq = sqlite3_column_int64(s, 4);
    finish(s);
    return 0;
}

static int sq_memory_opt_out(struct store *st, const char *user_id, bool opted_out, int64_t now_ms)
{
    sqlite3_stmt *s = stmt(st, STMT_MEMORY_OPT_OUT);
    int rc = bind_text(s, 1, user_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 2, opted_out ? 1 : 0);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, now_ms);
    return run_changes(st, s, rc, "memory opt out", NULL);
}

/* Asked on every answer in a 1:1 chat: a read answers it once the user was
 * told, so that the answer does not take the write lock for nothing. */
static int sq_memory_tell(struct store *st, const char *user_id, int64_t now_ms)
{
    sqlite3_stmt *told = stmt(st, STMT_MEMORY_TOLD);
    int found = lookup(st, told, bind_text(told, 1, user_id), "memory tell");
    if (found != 0) {
        if (found == 1)
            finish(told);
        return found == 1 ? 0 : -1;
    }

    sqlite3_stmt *s = stmt(st, STMT_MEMORY_TELL);
    int rc = bind_text(s, 1, user_id);
    int changes = 0;

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, now_ms);
    if (run_changes(st, s, rc, "memory tell", &changes) != 0)
        return -1;
    return changes > 0 ? 1 : 0;
}

static int sq_memory_turns(struct store *st, const char *user_id, int64_t after_seq, int64_t upto_seq, int max,
                           struct turn **turns, size_t *n)
{
    sqlite3_stmt *s = stmt(st, STMT_MEMORY_TURNS);
    struct turn *list = NULL;
    size_t count = 0, cap = 0;
    int rc = bind_text(s, 1, user_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, after_seq);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, upto_seq);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 4, max);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(s)) != SQLITE_ROW)
            break;
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            list = xrealloc_array(list, cap, sizeof *list);
        }
        list[count++] = (struct turn){
            .role = TURN_USER,
            .text = column_dup_text(s, 0),
            .message_id = column_dup(s, 1),
            .timestamp_ms = sqlite3_column_int64(s, 2),
        };
    }
    if (rc != SQLITE_DONE) {
        db_error(st, "memory turns");
        finish(s);
        turns_free(list, count);
        return -1;
    }
    finish(s);
    *turns = list;
    *n = count;
    return 0;
}

static int sq_memory_idle(struct store *st, int64_t idle_before_ms, int max, char ***users, int64_t **last_seqs,
                          size_t *n)
{
    sqlite3_stmt *s = stmt(st, STMT_MEMORY_IDLE);
    char **ids = NULL;
    int64_t *seqs = NULL;
    size_t count = 0, cap = 0;
    int rc = sqlite3_bind_int64(s, 1, idle_before_ms);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 2, max);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(s)) != SQLITE_ROW)
            break;
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            ids = xrealloc_array(ids, cap, sizeof *ids);
            seqs = xrealloc_array(seqs, cap, sizeof *seqs);
        }
        ids[count] = column_dup_text(s, 0);
        seqs[count++] = sqlite3_column_int64(s, 1);
    }
    if (rc != SQLITE_DONE) {
        db_error(st, "memory idle");
        finish(s);
        memory_due_free(ids, seqs, count);
        return -1;
    }
    finish(s);
    *users = ids;
    *last_seqs = seqs;
    *n = count;
    return 0;
}

/* The fence first: a lost claim writes nothing. Extracted facts come from
 * the user's 1:1 chat, whose chat id is the user id. */
static int sq_memory_job_finish(struct store *st, const char *event_id, int64_t claim_gen, const char *user_id,
                                const struct memory_new *facts, size_t n, int64_t upto_seq,
                                const struct job_finish *finish, int64_t done_at_ms)
{
    int rc;

    if (tx_begin(st) != 0)
        return -1;
    rc = finish_row(st, event_id, claim_gen, finish, done_at_ms, NULL);
    if (rc == 0 && finish->charge) /* a background call's tokens, charged once */
        rc = insert_charge(st, event_id, finish->charge, done_at_ms);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = memory_put(st, user_id, user_id, facts[i].message_id, facts[i].text, done_at_ms);
    if (rc == 0) {
        sqlite3_stmt *s = stmt(st, STMT_MEMORY_SEEN);
        int brc = bind_text(s, 1, user_id);
        if (brc == SQLITE_OK)
            brc = sqlite3_bind_int64(s, 2, upto_seq);
        if (brc == SQLITE_OK)
            brc = sqlite3_bind_int64(s, 3, done_at_ms);
        rc = run_changes(st, s, brc, "memory seen", NULL);
    }
    if (rc != 0) {
        tx_rollback(st);
        return rc;
    }
    return tx_commit(st);
}

/* ---- the rolling summary ---- */

static int sq_summary_get(struct store *st, const char *chat_id, char **summary, int64_t *upto_seq)
{
    sqlite3_stmt *s = stmt(st, STMT_SUMMARY_GET);
    int found = lookup(st, s, bind_text(s, 1, chat_id), "summary get");

    if (found != 1)
        return found;
    *summary = column_dup_text(s, 0);
    *upto_seq = sqlite3_column_int64(s, 1);
    finish(s);
    return 1;
}

static int sq_summary_turns(struct store *st, const char *chat_id, int max, struct turn **turns, int64_t **seqs,
                            size_t *n)
{
    sqlite3_stmt *s = stmt(st, STMT_SUMMARY_TURNS);
    struct turn *list = NULL;
    int64_t *seq_list = NULL;
    size_t count = 0, cap = 0;
    int rc = bind_text(s, 1, chat_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 2, max);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(s)) != SQLITE_ROW)
            break;
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            list = xrealloc_array(list, cap, sizeof *list);
            seq_list = xrealloc_array(seq_list, cap, sizeof *seq_list);
        }
        seq_list[count] = sqlite3_column_int64(s, 0);
        list[count++] = (struct turn){
            .role = store_role_parse((const char *)sqlite3_column_text(s, 1)),
            .speaker = column_dup(s, 2),
            .text = column_dup_text(s, 3),
            .message_id = column_dup(s, 4),
            .timestamp_ms = sqlite3_column_int64(s, 5),
        };
    }
    if (rc != SQLITE_DONE) {
        db_error(st, "summary turns");
        finish(s);
        turns_free(list, count);
        free(seq_list);
        return -1;
    }
    finish(s);
    *turns = list;
    *seqs = seq_list;
    *n = count;
    return 0;
}

/* The fence first: a lost claim writes nothing. */
static int sq_summary_job_finish(struct store *st, const char *event_id, int64_t claim_gen, const char *chat_id,
                                 const char *summary, int64_t upto_seq, const struct job_finish *finish,
                                 int64_t done_at_ms)
{
    int rc;

    if (tx_begin(st) != 0)
        return -1;
    rc = finish_row(st, event_id, claim_gen, finish, done_at_ms, NULL);
    if (rc == 0 && finish->charge) /* a background call's tokens, charged once */
        rc = insert_charge(st, event_id, finish->charge, done_at_ms);
    if (rc == 0) {
        sqlite3_stmt *s = stmt(st, STMT_SUMMARY_PUT);
        int brc = bind_pair(s, chat_id, summary);
        if (brc == SQLITE_OK)
            brc = sqlite3_bind_int64(s, 3, upto_seq);
        if (brc == SQLITE_OK)
            brc = sqlite3_bind_int64(s, 4, done_at_ms);
        rc = run_changes(st, s, brc, "summary put", NULL);
    }
    if (rc != 0) {
        tx_rollback(st);
        return rc;
    }
    return tx_commit(st);
}

/* ---- the knowledge base (issue 12) ---- */

static int sq_kb_begin(struct store *st, const char *kb, const char *path, const char *title, const char *hash,
                       int64_t now_ms, int64_t *doc_id, int *generation, bool *live)
{
    if (tx_begin(st) != 0)
        return -1;
    sqlite3_stmt *s = stmt(st, STMT_KB_ENSURE);
    int rc = bind_text(s, 1, kb);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, now_ms);
    if (run_changes(st, s, rc, "kb begin", NULL) != 0)
        goto fail;
    s = stmt(st, STMT_KB_DOC_GET);
    int found = lookup(st, s, bind_pair(s, kb, path), "kb begin");
    if (found < 0)
        goto fail;
    if (found == 1) {
        *doc_id = sqlite3_column_int64(s, 0);
        *generation = sqlite3_column_int(s, 1);
        *live = *generation > 0;
        const unsigned char *stored = sqlite3_column_text(s, 2);
        bool same = *live && stored && strcmp((const char *)stored, hash) == 0;
        finish(s);
        if (tx_commit(st) != 0)
            return -1;
        return same ? 2 : 0;
    }
    s = stmt(st, STMT_KB_DOC_NEW);
    rc = bind_pair(s, kb, path);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, title);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 4, now_ms);
    if (run_changes(st, s, rc, "kb begin", NULL) != 0)
        goto fail;
    *doc_id = sqlite3_last_insert_rowid(db_of(st));
    *generation = 0;
    *live = false;
    return tx_commit(st);

fail:
    tx_rollback(st);
    return -1;
}

/* The number of terms in a space-joined list (FTS5 counts the same). */
static int64_t count_terms(const char *terms)
{
    int64_t n = 0;
    for (const char *p = terms; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        n++;
        while (*p && *p != ' ')
            p++;
    }
    return n;
}

static int sq_kb_chunks_add(struct store *st, int64_t doc_id, int generation, const struct kb_chunk_row *rows,
                            size_t n)
{
    if (tx_begin(st) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *s = stmt(st, STMT_KB_CHUNK_ADD);
        int rc = sqlite3_bind_int64(s, 1, doc_id);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(s, 2, generation);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(s, 3, rows[i].position);
        if (rc == SQLITE_OK)
            rc = bind_text(s, 4, rows[i].heading);
        if (rc == SQLITE_OK)
            rc = bind_text(s, 5, rows[i].body);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 6, count_terms(rows[i].terms));
        if (run_changes(st, s, rc, "kb chunks add", NULL) != 0)
            goto fail;
        s = stmt(st, STMT_KB_FTS_ADD);
        rc = sqlite3_bind_int64(s, 1, sqlite3_last_insert_rowid(db_of(st)));
        if (rc == SQLITE_OK)
            rc = bind_text(s, 2, rows[i].terms);
        if (run_changes(st, s, rc, "kb chunks add", NULL) != 0)
            goto fail;
    }
    return tx_commit(st);

fail:
    tx_rollback(st);
    return -1;
}

static int sq_kb_chunks_drop(struct store *st, int64_t doc_id, int keep, int limit, int64_t *deleted)
{
    static const enum stmt_id steps[] = {STMT_KB_FTS_DROP, STMT_KB_VEC_DROP, STMT_KB_CHUNKS_DROP};
    int changes = 0;

    *deleted = 0;
    if (tx_begin(st) != 0)
        return -1;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        sqlite3_stmt *s = stmt(st, steps[i]);
        int rc = sqlite3_bind_int64(s, 1, doc_id);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(s, 2, keep);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(s, 3, limit);
        if (run_changes(st, s, rc, "kb chunks drop", &changes) != 0) {
            tx_rollback(st);
            return -1;
        }
    }
    if (tx_commit(st) != 0)
        return -1;
    *deleted = changes;
    return 0;
}

static int sq_kb_switch(struct store *st, int64_t doc_id, int old_generation, int new_generation,
                        const struct kb_put *put, int64_t now_ms)
{
    sqlite3_stmt *s = stmt(st, STMT_KB_SWITCH);
    int changes = 0;
    int rc = sqlite3_bind_int64(s, 1, doc_id);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 2, old_generation);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 3, new_generation);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 4, put->title);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 5, put->content_hash);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 6, (int64_t)put->n_chunks);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 7, put->bytes);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 8, now_ms);
    if (run_changes(st, s, rc, "kb switch", &changes) != 0)
        return -1;
    return changes == 1 ? 0 : 1;
}

static int sq_kb_hide(struct store *st, int64_t doc_id)
{
    sqlite3_stmt *s = stmt(st, STMT_KB_HIDE);
    return run_changes(st, s, sqlite3_bind_int64(s, 1, doc_id), "kb hide", NULL);
}

static int sq_kb_doc_delete(struct store *st, int64_t doc_id)
{
    sqlite3_stmt *s = stmt(st, STMT_KB_DOC_DELETE);
    return run_changes(st, s, sqlite3_bind_int64(s, 1, doc_id), "kb doc delete", NULL);
}

static int sq_kb_docs(struct store *st, const char *kb, int64_t doc_id, const char *path, struct kb_doc_info **docs,
                      size_t *n)
{
    sqlite3_stmt *s = stmt(st, STMT_KB_DOCS);
    struct kb_doc_info *list = NULL;
    size_t count = 0, cap = 0;
    int rc = bind_text(s, 1, kb);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, doc_id);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, path);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(s)) != SQLITE_ROW)
            break;
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            list = xrealloc_array(list, cap, sizeof *list);
        }
        list[count++] = (struct kb_doc_info){
            .id = sqlite3_column_int64(s, 0),
            .kb = column_dup_text(s, 1),
            .path = column_dup_text(s, 2),
            .title = column_dup_text(s, 3),
            .chunks = sqlite3_column_int64(s, 4),
            .bytes = sqlite3_column_int64(s, 5),
            .added_at_ms = sqlite3_column_int64(s, 6),
            .updated_at_ms = sqlite3_column_int64(s, 7),
            .live = sqlite3_column_int(s, 8) != 0,
        };
    }
    if (rc != SQLITE_DONE) {
        db_error(st, "kb docs");
        finish(s);
        kb_doc_infos_free(list, count);
        return -1;
    }
    finish(s);
    *docs = list;
    *n = count;
    return 0;
}

/* The FTS5 query: every term a quoted string ("" doubles a quote), OR'ed. */
static char *fts_query(const char *const *terms, size_t n_terms)
{
    size_t len = 1;
    for (size_t i = 0; i < n_terms; i++)
        len += 2 * strlen(terms[i]) + 6;
    char *q = xmalloc(len), *o = q;
    for (size_t i = 0; i < n_terms; i++) {
        if (i > 0) {
            memcpy(o, " OR ", 4);
            o += 4;
        }
        *o++ = '"';
        for (const char *p = terms[i]; *p; p++) {
            if (*p == '"')
                *o++ = '"';
            *o++ = *p;
        }
        *o++ = '"';
    }
    *o = '\0';
    return q;
}

/* How many chunks hold `term` (every knowledge base counted), counted up
 * to `upto` (0: all of them). Counting stops there because the index's
 * vocabulary (fts5vocab) reads a term's whole doclist to count it: 13 ms
 * for a term of 100k chunks, where the first 4001 postings take 0.5 ms.
 * -1 on a store error. */
static long long sq_kb_term_chunks(struct store *st, const char *term, long long upto)
{
    sqlite3_stmt *s = stmt(st, upto > 0 ? STMT_KB_TERM_CHUNKS_UPTO : STMT_KB_TERM_CHUNKS);
    char *phrase = upto > 0 ? fts_query(&term, 1) : NULL;
    long long chunks = 0;
    int rc = bind_text(s, 1, upto > 0 ? phrase : term);
    if (rc == SQLITE_OK && upto > 0)
        rc = sqlite3_bind_int64(s, 2, upto);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        chunks = sqlite3_column_int64(s, 0);
        rc = sqlite3_step(s);
    }
    free(phrase);
    if (rc != SQLITE_DONE) {
        db_error(st, "kb search");
        finish(s);
        return -1;
    }
    finish(s);
    return chunks;
}

/* The terms a search reads: see kb_terms_within. Fills `within` (n_terms
 * slots); returns how many, or -1. Counts past the budget make no
 * difference to the choice (such a term is never added to another), except
 * when every term is past it: then the rarest is kept, so those are counted
 * in full. */
static long long sq_kb_within(struct store *st, const char *const *terms, size_t n_terms, const char **within)
{
    long long *chunks = xcalloc(n_terms, sizeof *chunks);
    bool all_over = n_terms > 0;
    for (size_t i = 0; i < n_terms && chunks; i++) {
        within[i] = terms[i];
        chunks[i] = sq_kb_term_chunks(st, terms[i], KB_SEARCH_POSTINGS + 1);
        if (chunks[i] < 0) {
            free(chunks);
            chunks = NULL;
        } else if (chunks[i] <= KB_SEARCH_POSTINGS) {
            all_over = false;
        }
    }
    for (size_t i = 0; all_over && chunks && i < n_terms; i++)
        if ((chunks[i] = sq_kb_term_chunks(st, terms[i], 0)) < 0) {
            free(chunks);
            chunks = NULL;
        }
    if (!chunks)
        return -1;
    size_t kept = kb_terms_within(within, chunks, n_terms, KB_SEARCH_POSTINGS);
    free(chunks);
    return (long long)kept;
}

/* Steps `s` (bound with `rc`, SQLITE_OK when all went well) and reads its
 * rows as passages: chunk id, document id, score (column 2, when
 * `scored`), position, path, title, heading, body. Finishes `s`. */
static int read_kb_hits(struct store *st, sqlite3_stmt *s, int rc, bool scored, const char *what,
                        struct kb_hit **hits, size_t *n)
{
    struct kb_hit *list = NULL;
    size_t count = 0, cap = 0;
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(s)) != SQLITE_ROW)
            break;
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            list = xrealloc_array(list, cap, sizeof *list);
        }
        list[count++] = (struct kb_hit){
            .chunk_id = sqlite3_column_int64(s, 0),
            .doc_id = sqlite3_column_int64(s, 1),
            .score = scored ? sqlite3_column_double(s, 2) : 0,
            .position = sqlite3_column_int(s, 3),
            .path = column_dup_text(s, 4),
            .title = column_dup_text(s, 5),
            .heading = column_dup_text(s, 6),
            .body = column_dup_text(s, 7),
        };
    }
    if (rc != SQLITE_DONE) {
        db_error(st, what);
        finish(s);
        kb_hits_free(list, count);
        return -1;
    }
    finish(s);
    *hits = list;
    *n = count;
    return 0;
}

/* BM25 over the index, best first, the k best of them that are live chunks
 * of `kb`. The index holds every knowledge base's chunks, and old
 * generations until they are dropped, so a match is not yet a hit; but
 * reading each match's chunk before ranking (one join) read a page of the
 * chunks' table for every match: 4000 of them, 13 ms at 100k chunks, for
 * 8 passages. The matches are ranked first (BM25 needs only the index),
 * then read one by one, best first, until k are found: about k reads when
 * the knowledge base is most of the index, every match's at worst, as
 * before. Both statements read one snapshot: the first stays open (and so
 * does its read transaction) while the second runs. */
static int sq_kb_search(struct store *st, const char *kb, const char *const *terms, size_t n_terms, int k,
                        struct kb_hit **hits, size_t *n)
{
    const char **within = xcalloc(n_terms, sizeof *within);
    long long kept = sq_kb_within(st, terms, n_terms, within);
    if (kept < 0) {
        free(within);
        return -1;
    }
    char *query = fts_query(within, (size_t)kept);
    free(within);
    sqlite3_stmt *ranked = stmt(st, STMT_KB_SEARCH_RANKED), *hit = stmt(st, STMT_KB_SEARCH_HIT);
    struct kb_hit *list = xcalloc((size_t)k, sizeof *list);
    size_t count = 0;
    bool failed = false;
    if (bind_text(ranked, 1, query) != SQLITE_OK)
        failed = db_error(st, "kb search") != 0;
    while (!failed && (int)count < k) {
        int rc = sqlite3_step(ranked);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            failed = db_error(st, "kb search") != 0;
            break;
        }
        rc = sqlite3_bind_int64(hit, 1, sqlite3_column_int64(ranked, 0));
        if (rc == SQLITE_OK)
            rc = bind_text(hit, 2, kb);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_double(hit, 3, sqlite3_column_double(ranked, 1));
        struct kb_hit *one = NULL;
        size_t got = 0;
        failed = read_kb_hits(st, hit, rc, true, "kb search", &one, &got) != 0;
        if (got > 0) { /* one at most: c.id is the key */
            list[count++] = one[0];
            memset(&one[0], 0, sizeof one[0]);
        }
        kb_hits_free(one, got);
    }
    free(query);
    if (failed) {
        finish(ranked);
        kb_hits_free(list, count);
        return -1;
    }
    finish(ranked);
    if (count == 0) {
        free(list);
        list = NULL;
    }
    *hits = list;
    *n = count;
    return 0;
}

/* ---- the knowledge base's vectors (issue 12) ---- */

static int sq_kb_vec_model(struct store *st, const char *kb, const char *claim, bool reset, int64_t now_ms,
                           char **model, int64_t *version)
{
    if (claim) {
        if (tx_begin(st) != 0)
            return -1;
        sqlite3_stmt *s = stmt(st, STMT_KB_ENSURE);
        int rc = bind_text(s, 1, kb);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 2, now_ms);
        if (run_changes(st, s, rc, "kb vec model", NULL) != 0)
            goto fail;
        s = stmt(st, reset ? STMT_KB_VEC_RESET : STMT_KB_VEC_CLAIM);
        if (run_changes(st, s, bind_pair(s, kb, claim), "kb vec model", NULL) != 0)
            goto fail;
    }
    sqlite3_stmt *s = stmt(st, STMT_KB_VEC_MODEL);
    int found = lookup(st, s, bind_text(s, 1, kb), "kb vec model");
    if (found < 0)
        goto fail;
    if (found == 1) {
        *model = column_dup_text(s, 0);
        *version = sqlite3_column_int64(s, 1);
        finish(s);
    }
    if (claim && tx_commit(st) != 0) {
        free(*model);
        *model = NULL;
        return -1;
    }
    return 0;

fail:
    if (claim)
        tx_rollback(st);
    return -1;
}

static int sq_kb_vec_put(struct store *st, const char *kb, const char *model, const struct kb_vec_row *rows,
                         size_t n)
{
    if (tx_begin(st) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const struct kb_vec_row *r = &rows[i];
        sqlite3_stmt *s = stmt(st, r->chunk_id > 0 ? STMT_KB_VEC_PUT_ID : STMT_KB_VEC_PUT_POS);
        int rc = sqlite3_bind_int64(s, 1, r->chunk_id > 0 ? r->chunk_id : r->doc_id);
        if (rc == SQLITE_OK)
            rc = bind_text(s, 2, model);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(s, 3, r->dims);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_double(s, 4, r->scale);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_blob(s, 5, r->vec, r->dims, SQLITE_STATIC);
        if (rc == SQLITE_OK && r->chunk_id <= 0)
            rc = sqlite3_bind_int(s, 6, r->generation);
        if (rc == SQLITE_OK && r->chunk_id <= 0)
            rc = sqlite3_bind_int(s, 7, r->position);
        if (run_changes(st, s, rc, "kb vec put", NULL) != 0)
            goto fail;
    }
    sqlite3_stmt *s = stmt(st, STMT_KB_VEC_BUMP);
    if (run_changes(st, s, bind_text(s, 1, kb), "kb vec put", NULL) != 0)
        goto fail;
    return tx_commit(st);

fail:
    tx_rollback(st);
    return -1;
}

static int64_t sq_kb_vec_load(struct store *st, const char *kb, const char *model,
                              void (*row)(void *arg, int64_t chunk_id, int dims, const int8_t *vec), void *arg)
{
    sqlite3_stmt *s = stmt(st, STMT_KB_VEC_LOAD);
    int64_t count = 0;
    int rc = bind_pair(s, kb, model);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(s)) != SQLITE_ROW)
            break;
        int dims = sqlite3_column_int(s, 1);
        const void *blob = sqlite3_column_blob(s, 2);
        /* A row whose bytes are not its dimension is skipped, not believed. */
        if (!blob || dims <= 0 || dims > VEC_DIMS_MAX || sqlite3_column_bytes(s, 2) != dims)
            continue;
        row(arg, sqlite3_column_int64(s, 0), dims, blob);
        count++;
    }
    if (rc != SQLITE_DONE) {
        db_error(st, "kb vec load");
        finish(s);
        return -1;
    }
    finish(s);
    return count;
}

static int sq_kb_chunks(struct store *st, const char *kb, const int64_t *ids, size_t n_ids, int64_t after_id,
                        int limit, struct kb_hit **hits, size_t *n)
{
    sqlite3_stmt *s = stmt(st, ids ? STMT_KB_CHUNKS_IDS : STMT_KB_CHUNKS_PAGE);
    char *json = NULL;
    int rc = bind_text(s, 1, kb);
    if (ids) {
        json = xmalloc(n_ids * 21 + 3);
        char *o = json;
        *o++ = '[';
        for (size_t i = 0; i < n_ids; i++)
            o += sprintf(o, "%s%lld", i ? "," : "", (long long)ids[i]);
        strcpy(o, "]");
        if (rc == SQLITE_OK)
            rc = bind_text(s, 2, json);
    } else {
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 2, after_id);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(s, 3, limit);
    }
    rc = read_kb_hits(st, s, rc, false, "kb chunks", hits, n);
    free(json);
    return rc;
}

static int sq_kb_bind(struct store *st, const char *chat_id, const char *kb, int64_t now_ms)
{
    sqlite3_stmt *s = stmt(st, STMT_KB_BIND);
    int changes = 0;
    int rc = bind_pair(s, chat_id, kb);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, now_ms);
    if (run_changes(st, s, rc, "kb bind", &changes) != 0)
        return -1;
    return changes > 0 ? 0 : 1;
}

static int sq_kb_unbind(struct store *st, const char *chat_id)
{
    sqlite3_stmt *s = stmt(st, STMT_KB_UNBIND);
    int changes = 0;

    if (run_changes(st, s, bind_text(s, 1, chat_id), "kb unbind", &changes) != 0)
        return -1;
    return changes > 0 ? 1 : 0;
}

static int sq_kb_of_chat(struct store *st, const char *chat_id, char **kb)
{
    sqlite3_stmt *s = stmt(st, STMT_KB_OF_CHAT);
    int found = lookup(st, s, bind_text(s, 1, chat_id), "kb of chat");

    if (found != 1)
        return found;
    *kb = column_dup(s, 0);
    finish(s);
    return *kb ? 1 : 0;
}

/* ---- the gate around every op ---- */

/* Every op holds the connection while it runs. A write first makes sure
 * the file is still where it was opened (check_not_moved). */
#define GATED_OP(name, params, args, is_write)                      \
    static int gated_##name params                                  \
    {                                                               \
        gate_enter(backend_of(st));                                 \
        int rc = (is_write) && check_not_moved(st) != 0 ? -1 : sq_##name args; \
        gate_leave(backend_of(st));                                 \
        return rc;                                                  \
    }
#define GATED(name, params, args) GATED_OP(name, params, args, true)
#define GATED_READ(name, params, args) GATED_OP(name, params, args, false)

GATED(probe_write, (struct store *st, int64_t now_ms), (st, now_ms))
GATED(inbox_forget, (struct store *st, const char *const *ids, size_t n), (st, ids, n))
GATED_READ(inbox_depth, (struct store *st, int64_t *depth), (st, depth))
GATED(claim_next, (struct store *st, int64_t now_ms, struct job *job), (st, now_ms, job))
GATED(job_finish, (struct store *st, const char *id, int64_t gen, const struct job_finish *f, int64_t at),
      (st, id, gen, f, at))
GATED(context_keep, (struct store *st, const char *id, int64_t gen, const char *chat, const struct turn *t,
                     int keep, int64_t at), (st, id, gen, chat, t, keep, at))
GATED(rate_count, (struct store *st, const char *user, int64_t now_ms, int64_t *count), (st, user, now_ms, count))
GATED_READ(rate_peek, (struct store *st, const char *user, int64_t now_ms, int64_t *count),
           (st, user, now_ms, count))
GATED(task_add, (struct store *st, const char *id, const char *kind, const char *chat, const char *payload,
                 int64_t now_ms), (st, id, kind, chat, payload, now_ms))
GATED(job_park, (struct store *st, const char *id, int64_t gen, const char *answer), (st, id, gen, answer))
GATED(job_adopt, (struct store *st, const char *id, int64_t gen, const char *parked, int64_t at, char **answer),
      (st, id, gen, parked, at, answer))
GATED(jobs_unpark, (struct store *st, int64_t before_ms), (st, before_ms))
GATED(inbox_take, (struct store *st, const char *id, const char *outcome, int64_t at), (st, id, outcome, at))
GATED(job_release, (struct store *st, const char *id, int64_t gen), (st, id, gen))
GATED(job_renew, (struct store *st, const char *id, int64_t gen, int64_t now_ms), (st, id, gen, now_ms))
GATED(recover, (struct store *st), (st))
GATED_READ(chat_waiting_events, (struct store *st, const char *chat, size_t max, char ***payloads, size_t *n),
           (st, chat, max, payloads, n))
GATED_READ(bot_message_is, (struct store *st, const char *chat, const char *mid), (st, chat, mid))
GATED_READ(history_load, (struct store *st, const char *chat, int max_turns, int max_context, struct turn **turns,
                          size_t *n), (st, chat, max_turns, max_context, turns, n))
GATED_READ(message_text, (struct store *st, const char *chat, const char *mid, char **text), (st, chat, mid, text))
GATED(message_delete, (struct store *st, const char *chat, const char *mid), (st, chat, mid))
GATED(message_update, (struct store *st, const char *chat, const char *mid, const char *text),
      (st, chat, mid, text))
GATED(history_clear, (struct store *st, const char *chat), (st, chat))
GATED(forget_chat, (struct store *st, const char *chat), (st, chat))
GATED_READ(profile_get, (struct store *st, const char *chat, const char *user, int64_t fresh_after, char **name,
                         char **language),
           (st, chat, user, fresh_after, name, language))
GATED(profile_put, (struct store *st, const char *chat, const char *user, const char *name, const char *language,
                    int64_t now_ms),
      (st, chat, user, name, language, now_ms))
GATED_READ(chat_model_get, (struct store *st, const char *chat, char **model), (st, chat, model))
GATED(chat_model_set, (struct store *st, const char *chat, const char *model, int64_t now_ms),
      (st, chat, model, now_ms))
GATED_READ(chat_persona_get, (struct store *st, const char *chat, char **preset, char **custom),
           (st, chat, preset, custom))
GATED(chat_persona_set, (struct store *st, const char *chat, const char *preset, const char *custom, int64_t now_ms),
      (st, chat, preset, custom, now_ms))
GATED_READ(usage_day, (struct store *st, const char *user, const char *chat, int64_t day, int64_t *u, int64_t *c),
           (st, user, chat, day, u, c))
GATED(budget_notice, (struct store *st, const char *subject, int64_t day, const char *id, int64_t now_ms),
      (st, subject, day, id, now_ms))
GATED(purge, (struct store *st, int64_t before_ms, int64_t dedup_before_ms, int64_t done_at_ms),
      (st, before_ms, dedup_before_ms, done_at_ms))
GATED_READ(admin_stats, (struct store *st, struct store_day_stats **rows, size_t *n), (st, rows, n))
GATED_READ(admin_chats, (struct store *st, const char *chat, struct store_chat_info **rows, size_t *n),
           (st, chat, rows, n))
GATED_READ(admin_history, (struct store *st, const char *chat, struct turn **turns, size_t *n), (st, chat, turns, n))
GATED(admin_forget, (struct store *st, const char *id, struct store_forget_counts *counts), (st, id, counts))
GATED_READ(memory_facts, (struct store *st, const char *user, struct memory_fact **facts, size_t *n),
           (st, user, facts, n))
GATED(memory_add, (struct store *st, const char *user, const char *chat, const char *mid, const char *text,
                   int64_t now_ms), (st, user, chat, mid, text, now_ms))
GATED(memory_forget, (struct store *st, const char *user, int64_t fact_id), (st, user, fact_id))
GATED_READ(memory_user, (struct store *st, const char *user, struct memory_user *out), (st, user, out))
GATED(memory_opt_out, (struct store *st, const char *user, bool opted_out, int64_t now_ms),
      (st, user, opted_out, now_ms))
GATED(memory_tell, (struct store *st, const char *user, int64_t now_ms), (st, user, now_ms))
GATED_READ(memory_turns, (struct store *st, const char *user, int64_t after, int64_t upto, int max,
                          struct turn **turns, size_t *n), (st, user, after, upto, max, turns, n))
GATED_READ(memory_idle, (struct store *st, int64_t before, int max, char ***users, int64_t **seqs, size_t *n),
           (st, before, max, users, seqs, n))
GATED_READ(summary_get, (struct store *st, const char *chat, char **summary, int64_t *upto),
           (st, chat, summary, upto))
GATED_READ(summary_turns, (struct store *st, const char *chat, int max, struct turn **turns, int64_t **seqs,
                           size_t *n), (st, chat, max, turns, seqs, n))
GATED(summary_job_finish, (struct store *st, const char *id, int64_t gen, const char *chat, const char *summary,
                           int64_t upto, const struct job_finish *f, int64_t at),
      (st, id, gen, chat, summary, upto, f, at))
GATED(memory_job_finish, (struct store *st, const char *id, int64_t gen, const char *user,
                          const struct memory_new *facts, size_t n, int64_t upto, const struct job_finish *f,
                          int64_t at), (st, id, gen, user, facts, n, upto, f, at))
GATED(kb_begin, (struct store *st, const char *kb, const char *path, const char *title, const char *hash,
                 int64_t now_ms, int64_t *doc_id, int *generation, bool *live),
      (st, kb, path, title, hash, now_ms, doc_id, generation, live))
GATED(kb_chunks_add, (struct store *st, int64_t doc_id, int generation, const struct kb_chunk_row *rows, size_t n),
      (st, doc_id, generation, rows, n))
GATED(kb_chunks_drop, (struct store *st, int64_t doc_id, int keep, int limit, int64_t *deleted),
      (st, doc_id, keep, limit, deleted))
GATED(kb_switch, (struct store *st, int64_t doc_id, int old_generation, int new_generation, const struct kb_put *put,
                  int64_t now_ms), (st, doc_id, old_generation, new_generation, put, now_ms))
GATED(kb_hide, (struct store *st, int64_t doc_id), (st, doc_id))
GATED(kb_doc_delete, (struct store *st, int64_t doc_id), (st, doc_id))
GATED_READ(kb_docs, (struct store *st, const char *kb, int64_t doc_id, const char *path, struct kb_doc_info **docs,
                     size_t *n), (st, kb, doc_id, path, docs, n))
GATED_READ(kb_search, (struct store *st, const char *kb, const char *const *terms, size_t n_terms, int k,
                       struct kb_hit **hits, size_t *n), (st, kb, terms, n_terms, k, hits, n))
GATED(kb_bind, (struct store *st, const char *chat_id, const char *kb, int64_t now_ms), (st, chat_id, kb, now_ms))
GATED(kb_unbind, (struct store *st, const char *chat_id), (st, chat_id))
GATED_READ(kb_of_chat, (struct store *st, const char *chat_id, char **kb), (st, chat_id, kb))
GATED(kb_vec_model, (struct store *st, const char *kb, const char *claim, bool reset, int64_t now_ms, char **model,
                     int64_t *version), (st, kb, claim, reset, now_ms, model, version))
GATED(kb_vec_put, (struct store *st, const char *kb, const char *model, const struct kb_vec_row *rows, size_t n),
      (st, kb, model, rows, n))
GATED_READ(kb_chunks, (struct store *st, const char *kb, const int64_t *ids, size_t n_ids, int64_t after_id,
                       int limit, struct kb_hit **hits, size_t *n), (st, kb, ids, n_ids, after_id, limit, hits, n))
static int64_t gated_kb_vec_load(struct store *st, const char *kb, const char *model,
                                 void (*row)(void *arg, int64_t chunk_id, int dims, const int8_t *vec), void *arg)
{
    gate_enter(backend_of(st));
    int64_t n = sq_kb_vec_load(st, kb, model, row, arg);
    gate_leave(backend_of(st));
    return n;
}
#undef GATED
#undef GATED_READ
#undef GATED_OP

static const struct store_backend_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .relax_durability = sq_relax_durability,
#define OP(name) .name = gated_##name,
    /* The durable writes take the gate in the group commit (durable_run). */
    .inbox_add = sq_inbox_add,
    .job_sending = sq_job_sending,
    OP(probe_write) OP(inbox_forget) OP(inbox_depth) OP(claim_next)
    OP(job_finish) OP(context_keep) OP(rate_count) OP(rate_peek) OP(task_add) OP(job_park) OP(job_adopt)
    OP(jobs_unpark) OP(inbox_take)
    OP(job_release) OP(job_renew) OP(recover) OP(chat_waiting_events) OP(bot_message_is) OP(history_load)
    OP(message_text) OP(message_delete) OP(message_update) OP(history_clear) OP(forget_chat)
    OP(profile_get) OP(profile_put) OP(chat_model_get) OP(chat_model_set)
    OP(chat_persona_get) OP(chat_persona_set) OP(purge)
    OP(usage_day) OP(budget_notice)
    OP(admin_stats) OP(admin_chats) OP(admin_history) OP(admin_forget)
    OP(memory_facts) OP(memory_add) OP(memory_forget) OP(memory_user) OP(memory_opt_out) OP(memory_tell)
    OP(memory_turns) OP(memory_idle) OP(memory_job_finish)
    OP(summary_get) OP(summary_turns) OP(summary_job_finish)
    OP(kb_begin) OP(kb_chunks_add) OP(kb_chunks_drop) OP(kb_switch) OP(kb_hide) OP(kb_doc_delete)
    OP(kb_docs) OP(kb_search) OP(kb_bind) OP(kb_unbind) OP(kb_of_chat)
    OP(kb_vec_model) OP(kb_vec_put) OP(kb_vec_load) OP(kb_chunks)
#undef OP
};
