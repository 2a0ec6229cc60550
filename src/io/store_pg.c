/* store_pg.c - the PostgreSQL backend of the store (see store.h, store_backend.h).
 *
 * One database shared by every instance of the bot: the inbox, deduplication,
 * history, bot message ids, the profile cache and the rate counters live in
 * tables named linebot_* (in the first schema of the search_path), so that
 * several instances behave as one bot.
 *
 * Connections. One PGconn per handle (the bot opens one per worker thread,
 * one for ingest and one for the lease keeper). Nothing relies on session
 * state, so the backend works behind transaction-pooling proxies (PgBouncer
 * in transaction mode, RDS Proxy, Supabase, Neon): every statement goes out
 * through PQexecParams as an unnamed statement (never a named prepared one),
 * nothing is SET, locks are transaction-scoped (pg_*_xact_lock), and every
 * multi-statement operation runs inside an explicit BEGIN/COMMIT. When the
 * connection breaks (the server restarted, a proxy dropped us), the call that
 * notices returns -1 -- ingest then answers 503 and LINE redelivers; the 200
 * only ever goes out after COMMIT, so nothing acknowledged is lost -- and a
 * later call reconnects: at once the first time, then no more often than an
 * exponential backoff (100 ms doubling to 5 s) allows; in between, calls fail
 * fast without touching the network. A connection the server closed while
 * idle is noticed before use (the socket is readable) and replaced right away.
 * Error messages carry PostgreSQL's primary message and SQLSTATE, never the
 * URL, a password, or the data.
 *
 * Text is stored as PostgreSQL text, which must be valid UTF-8: a string that
 * is not is refused with an error before it is sent (checked by core/utf8.h;
 * everything the bot stores comes out of jansson, which only produces valid
 * UTF-8).
 *
 * Migrations. The schema version is a row in linebot_schema. Opening a handle
 * takes pg_advisory_xact_lock(MIGRATION_LOCK) inside a transaction, reads the
 * version and applies the missing steps in that same transaction, so any
 * number of instances may start at once: one migrates, the others wait and
 * then find the schema current. A database from a newer binary is refused.
 *
 * Claims and leases. A row has a `state` (pending, working, sending,
 * waiting, done) and a `claimed` flag as in the SQLite backend, plus lease_until_ms: a claim
 * is live while claimed and lease_until_ms > now. Its holder extends the lease
 * (store_job_renew); when the holder dies, the lease runs out and any
 * instance may take the row over. Every claim bumps claim_gen, the fencing
 * token that sending/done/release/renew must present; a mismatch (or a
 * cleared claimed flag) answers 1, "claim lost".
 *
 * How store_claim_next keeps a chat to one event at a time across instances.
 * The race to avoid: two instances, in concurrent transactions, each claim a
 * different event of one chat, because neither sees the other's uncommitted
 * claim. So claims are serialised per chat, and the check "no live claim in
 * this chat" runs only once that chat is ours:
 *   1. Find the oldest candidate (timestamp_ms, then arrival seq) without
 *      locking anything: a pending/sending unclaimed row of a chat with no
 *      live claim, or a claimed row whose lease has expired.
 *      Webhook events come before internal jobs (kind set), which are
 *      taken only when no event is a candidate.
 *   2. Chat "" (events without a chat) and internal jobs never block: take
 *      the row itself with FOR UPDATE SKIP LOCKED (re-checking it is still
 *      claimable).
 *   3. Any other chat: pg_try_advisory_xact_lock(hash of the chat id, seeded
 *      with the inbox table's oid). Not acquired means another claim of that
 *      chat is in flight: skip the chat and look again. Acquired: (a) "reap"
 *      the chat's expired claims (working -> pending, sending stays sending,
 *      claimed cleared: the old holder's fenced writes now fail), then (b) in
 *      a new statement, hence a fresh READ COMMITTED snapshot that includes
 *      every claim committed before we got the lock, take the chat's oldest
 *      claimable row only if the chat has no claimed row left.
 * Rows of a chat are never skipped because they are locked (that would let a
 * newer event of the chat overtake an older one): within a chat, claimers
 * queue on the advisory lock instead, and the per-row SKIP LOCKED is kept for
 * chat "", where order does not matter. Reaping under row locks is what makes
 * takeover safe against a slow holder renewing at the same moment: either the
 * renew commits first (the reap re-checks the row and leaves it alone, and
 * the chat is then busy), or the reap does (and the renew finds the claim
 * gone). A unique partial index allows at most one claimed row per chat, so a
 * bug here would surface as an error, never as two answers in one chat.
 * Row locks are only taken while holding the chat's advisory lock, and that
 * lock is only ever tried, never waited for, so claimers cannot deadlock.
 *
 * Leases use the callers' clocks (now_ms): instances must keep their clocks
 * within a few seconds of each other (NTP), far below STORE_LEASE_MS.
 * store_recover does nothing here: another instance's claims are live leases,
 * and a dead instance's are taken over when they expire.
 */
#include "io/store_backend.h"

#include "core/alloc.h"
#include "core/kb_terms.h"
#include "core/vec.h"
#include "core/memory.h"
#include "core/buf.h"
#include "core/utf8.h"
#include "io/clock.h"

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000
#define CLAIM_MAX_TRIES 16  /* candidates looked at per claim before answering "nothing" */
/* A claim's lists of skipped chats and rows: at most CLAIM_MAX_TRIES entries,
 * LINE's chat ids are 33 characters, so 1 MiB is only reached by ids no real
 * webhook carries. */
#define ARRAY_LITERAL_MAX (1024 * 1024)
#define PURGE_BATCH 1000    /* rows per purge statement, so no statement runs long */
#define MAX_PARAMS 12
#define MAX_SECRETS 4

/* pg_advisory_xact_lock(key1, key2) around migrations. The two-int key space
 * never overlaps the one-bigint space the per-chat claim locks use. */
#define MIGRATION_LOCK_KEY1 0x6c696e65 /* "line" */
#define MIGRATION_LOCK_KEY2 0x626f7431 /* "bot1" */

/* ---- schema ---- */

static const char *const schema_table[] = {
    "CREATE TABLE linebot_schema ("
    "  id      integer PRIMARY KEY CHECK (id = 1),"
    "  version integer NOT NULL"
    ")",
    "INSERT INTO linebot_schema (id, version) VALUES (1, 0)",
    NULL,
};

/* Append-only: never edit a step once released, add a new one. A step's
 * statements run in the migration transaction with the version bump. */
static const char *const migration_1[] = {
    "CREATE TABLE linebot_inbox ("
    "  seq            bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY," /* arrival order */
    "  event_id       text    NOT NULL UNIQUE,"
    "  chat_id        text    NOT NULL DEFAULT '',"
    "  timestamp_ms   bigint  NOT NULL,"
    "  state          text    NOT NULL DEFAULT 'pending'"
    "                 CHECK (state IN ('pending', 'working', 'sending', 'done')),"
    "  claimed        boolean NOT NULL DEFAULT false,"
    "  payload        text,"
    "  claim_gen      bigint  NOT NULL DEFAULT 0,"
    "  attempts       integer NOT NULL DEFAULT 0,"
    "  claimed_at_ms  bigint,"
    "  lease_until_ms bigint,"
    "  answer         text,"
    "  outcome        text,"
    "  done_at_ms     bigint,"
    "  CHECK (CASE state WHEN 'working' THEN claimed"
    "                    WHEN 'sending' THEN true"
    "                    ELSE NOT claimed END),"
    "  CHECK (NOT claimed OR lease_until_ms IS NOT NULL)"
    ")",
    /* What a claim walks, in order; only claimable rows are in it. */
    "CREATE INDEX linebot_inbox_ready ON linebot_inbox (timestamp_ms, seq)"
    "  WHERE state IN ('pending', 'sending') AND NOT claimed",
    /* A chat's unfinished events (the claim within a chat; depth). */
    "CREATE INDEX linebot_inbox_open ON linebot_inbox (chat_id, timestamp_ms, seq)"
    "  WHERE state <> 'done'",
    /* At most one event in progress per chat, enforced by the database. */
    "CREATE UNIQUE INDEX linebot_inbox_one_claim ON linebot_inbox (chat_id)"
    "  WHERE claimed AND chat_id <> ''",
    /* Claims, by lease: finds expired ones (one row per busy worker at most). */
    "CREATE INDEX linebot_inbox_leases ON linebot_inbox (lease_until_ms) WHERE claimed",
    "CREATE INDEX linebot_inbox_done ON linebot_inbox (timestamp_ms) WHERE state = 'done'",
    "CREATE INDEX linebot_inbox_done_chat ON linebot_inbox (chat_id) WHERE state = 'done'",

    "CREATE TABLE linebot_history ("
    "  seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  chat_id      text   NOT NULL,"
    "  role         text   NOT NULL CHECK (role IN ('user', 'assistant', 'context')),"
    "  speaker      text,"
    "  text         text   NOT NULL,"
    "  message_id   text,"
    "  timestamp_ms bigint NOT NULL"
    ")",
    "CREATE INDEX linebot_history_chat ON linebot_history (chat_id, seq)",
    "CREATE INDEX linebot_history_message ON linebot_history (chat_id, message_id)"
    "  WHERE message_id IS NOT NULL",
    "CREATE INDEX linebot_history_time ON linebot_history (timestamp_ms)",

    "CREATE TABLE linebot_bot_messages ("
    "  chat_id      text   NOT NULL,"
    "  message_id   text   NOT NULL,"
    "  timestamp_ms bigint NOT NULL,"
    "  PRIMARY KEY (chat_id, message_id)"
    ")",
    "CREATE INDEX linebot_bot_messages_time ON linebot_bot_messages (timestamp_ms)",

    "CREATE TABLE linebot_profiles ("
    "  chat_id       text   NOT NULL,"
    "  user_id       text   NOT NULL,"
    "  display_name  text   NOT NULL,"
    "  fetched_at_ms bigint NOT NULL,"
    "  PRIMARY KEY (chat_id, user_id)"
    ")",
    "CREATE INDEX linebot_profiles_time ON linebot_profiles (fetched_at_ms)",

    "CREATE TABLE linebot_rate ("
    "  user_id         text    PRIMARY KEY,"
    "  window_start_ms bigint  NOT NULL,"
    "  count           integer NOT NULL,"
    "  warned          boolean NOT NULL"
    ")",
    "CREATE INDEX linebot_rate_time ON linebot_rate (window_start_ms)",
    NULL,
};

/* 2 (issue 9): internal jobs (`kind`, NULL for a webhook event; event_id
 * "task:<kind>:<key>"), parked answers (state 'waiting'), and what answered
 * (model, token usage). An internal job never holds its chat, so the
 * one-claim-per-chat index leaves it out. */
static const char *const migration_2[] = {
    "ALTER TABLE linebot_inbox ADD COLUMN kind text, ADD COLUMN model text,"
    " ADD COLUMN prompt_tokens bigint, ADD COLUMN completion_tokens bigint,"
    " ADD COLUMN total_tokens bigint",
    "ALTER TABLE linebot_inbox DROP CONSTRAINT linebot_inbox_state_check,"
    " ADD CONSTRAINT linebot_inbox_state_check"
    " CHECK (state IN ('pending', 'working', 'sending', 'waiting', 'done'))",
    "DROP INDEX linebot_inbox_one_claim",
    "CREATE UNIQUE INDEX linebot_inbox_one_claim ON linebot_inbox (chat_id)"
    "  WHERE claimed AND chat_id <> '' AND kind IS NULL",
    /* Claimable internal jobs: looking for one never walks a backlog of events. */
    "CREATE INDEX linebot_inbox_ready_tasks ON linebot_inbox (timestamp_ms, seq)"
    "  WHERE state IN ('pending', 'sending') AND NOT claimed AND kind IS NOT NULL",
    NULL,
};

/* 3 (issue 16): the one row store_probe_write rewrites, so that /healthz
 * knows the database takes writes, not only reads. */
static const char *const migration_3[] = {
    "CREATE TABLE linebot_health ("
    "  id           integer PRIMARY KEY CHECK (id = 1),"
    "  probed_at_ms bigint  NOT NULL,"
    "  probes       bigint  NOT NULL DEFAULT 1"
    ")",
    NULL,
};

/* 4 (issue 15): the language of a user's LINE profile, kept with the display
 * name. NULL: not known; "": the profile has none. */
static const char *const migration_4[] = {
    "ALTER TABLE linebot_profiles ADD COLUMN language text",
    NULL,
};

/* 5 (issue 11): the model each chat chose with /model, shared by every instance. */
static const char *const migration_5[] = {
    "CREATE TABLE linebot_chat_models ("
    "  chat_id       text   PRIMARY KEY,"
    "  model         text   NOT NULL,"
    "  updated_at_ms bigint NOT NULL"
    ")",
    NULL,
};

/* 6 (issue 15, admin forget): the speaker's user id on history turns, so that
 * a user's turns in groups are found by id, not by display name. */
static const char *const migration_6[] = {
    "ALTER TABLE linebot_history ADD COLUMN user_id text",
    NULL,
};

/* 7, personas (issue 11): the persona each chat chose with /persona: a preset's
 * name, or the chat's own text; no row: the default. Shared by every instance. */
static const char *const migration_personas[] = {
    "CREATE TABLE linebot_chat_personas ("
    "  chat_id       text   PRIMARY KEY,"
    "  preset        text,"
    "  custom        text,"
    "  updated_at_ms bigint NOT NULL,"
    "  CHECK ((preset IS NULL) <> (custom IS NULL))"
    ")",
    NULL,
};

/* 8, budgets (issue 11): the tokens each event's model call spent, charged to a
 * user, a chat and a day (keyed by the event: charged once); and the one
 * notice a day that a budget is spent. */
static const char *const migration_budgets[] = {
    "CREATE TABLE linebot_usage ("
    "  event_id          text    PRIMARY KEY,"
    "  user_id           text    NOT NULL,"
    "  chat_id           text    NOT NULL,"
    "  model             text    NOT NULL,"
    "  day               bigint  NOT NULL,"
    "  prompt_tokens     bigint  NOT NULL,"
    "  completion_tokens bigint  NOT NULL,"
    "  estimated         boolean NOT NULL,"
    "  at_ms             bigint  NOT NULL"
    ")",
    "CREATE INDEX linebot_usage_user_day ON linebot_usage (user_id, day)",
    "CREATE INDEX linebot_usage_chat_day ON linebot_usage (chat_id, day)",
    "CREATE INDEX linebot_usage_time ON linebot_usage (at_ms)",
    "CREATE TABLE linebot_budget_notices ("
    "  subject  text   NOT NULL,"
    "  day      bigint NOT NULL,"
    "  event_id text   NOT NULL,"
    "  at_ms    bigint NOT NULL,"
    "  PRIMARY KEY (subject, day)"
    ")",
    NULL,
};

/* 9, memory and summaries (issue 11): facts about each user (kept across
 * chats; never purged by retention), per user the opt-out, whether the
 * notice was given, and how far extraction has read the 1:1 history. */
static const char *const migration_memory[] = {
    "CREATE TABLE linebot_memory ("
    "  id            bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  user_id       text    NOT NULL,"
    "  fact          text    NOT NULL,"
    "  chat_id       text    NOT NULL DEFAULT '',"
    "  message_id    text,"
    "  created_at_ms bigint  NOT NULL,"
    "  used          bigint  NOT NULL DEFAULT 1"
    ")",
    "CREATE INDEX linebot_memory_user ON linebot_memory (user_id, used, id)",
    "CREATE INDEX linebot_memory_message ON linebot_memory (chat_id, message_id)"
    "  WHERE message_id IS NOT NULL",
    "CREATE TABLE linebot_memory_users ("
    "  user_id       text    PRIMARY KEY,"
    "  opted_out     boolean NOT NULL DEFAULT false,"
    "  told          boolean NOT NULL DEFAULT false,"
    "  seen_seq      bigint  NOT NULL DEFAULT 0,"
    "  updated_at_ms bigint  NOT NULL"
    ")",
    /* and the rolling summary of each long chat (covering its turns up to upto_seq) */
    "CREATE TABLE linebot_summaries ("
    "  chat_id       text    PRIMARY KEY,"
    "  summary       text    NOT NULL,"
    "  upto_seq      bigint  NOT NULL,"
    "  updated_at_ms bigint  NOT NULL"
    ")",
    NULL,
};

/* 10 (issue 12: knowledge base): named knowledge bases, their documents
 * (`generation`: the chunks a search sees; 0 while not switched in), the
 * chunks with their distinct terms and each term's count (`tfs`) in a GIN
 * index over array_to_tsvector(terms) (no parser, no locale), the BM25
 * statistics (chunks per term; chunks and terms in all), and which
 * knowledge base a chat uses. */
static const char *const migration_kb[] = {
    "CREATE TABLE linebot_kb ("
    "  id            bigserial PRIMARY KEY,"
    "  name          text   NOT NULL UNIQUE,"
    "  created_at_ms bigint NOT NULL"
    ")",
    "CREATE TABLE linebot_kb_docs ("
    "  id            bigserial PRIMARY KEY,"
    "  kb_id         bigint  NOT NULL REFERENCES linebot_kb (id),"
    "  path          text    NOT NULL,"
    "  title         text    NOT NULL,"
    "  content_hash  text,"
    "  generation    integer NOT NULL DEFAULT 0,"
    "  chunks        bigint  NOT NULL DEFAULT 0,"
    "  bytes         bigint  NOT NULL DEFAULT 0,"
    "  added_at_ms   bigint  NOT NULL,"
    "  updated_at_ms bigint  NOT NULL,"
    "  UNIQUE (kb_id, path)"
    ")",
    "CREATE TABLE linebot_kb_chunks ("
    "  id         bigserial PRIMARY KEY,"
    "  doc_id     bigint    NOT NULL,"
    "  generation integer   NOT NULL,"
    "  position   integer   NOT NULL,"
    "  heading    text      NOT NULL,"
    "  body       text      NOT NULL,"
    "  terms      text[]    NOT NULL,"
    "  tfs        integer[] NOT NULL,"
    "  n_terms    integer   NOT NULL"
    ")",
    "CREATE INDEX linebot_kb_chunks_doc ON linebot_kb_chunks (doc_id, generation)",
    "CREATE INDEX linebot_kb_chunks_terms ON linebot_kb_chunks USING gin (array_to_tsvector(terms))",
    "CREATE TABLE linebot_kb_terms ("
    "  term   text   PRIMARY KEY,"
    "  chunks bigint NOT NULL"
    ")",
    "CREATE TABLE linebot_kb_stats ("
    "  id     integer PRIMARY KEY CHECK (id = 1),"
    "  chunks bigint  NOT NULL,"
    "  terms  bigint  NOT NULL"
    ")",
    "INSERT INTO linebot_kb_stats (id, chunks, terms) VALUES (1, 0, 0)",
    "CREATE TABLE linebot_kb_bindings ("
    "  chat_id       text   PRIMARY KEY,"
    "  kb_id         bigint NOT NULL REFERENCES linebot_kb (id),"
    "  updated_at_ms bigint NOT NULL"
    ")",
    NULL,
};

/* kb vectors (issue 12): a knowledge base's one embeddings model (and a
 * version that grows with each write of vectors), and each chunk's vector:
 * int8 (core/vec.h) with its scale, model and dimension. */
static const char *const migration_kb_vectors[] = {
    "CREATE TABLE linebot_kb_embed ("
    "  kb_id   bigint  PRIMARY KEY REFERENCES linebot_kb (id),"
    "  model   text    NOT NULL,"
    "  version bigint  NOT NULL"
    ")",
    "CREATE TABLE linebot_kb_vectors ("
    "  chunk_id bigint  PRIMARY KEY,"
    "  model    text    NOT NULL,"
    "  dims     integer NOT NULL,"
    "  scale    real    NOT NULL,"
    "  vec      bytea   NOT NULL"
    ")",
    NULL,
};

static const char *const *const migrations[] = { migration_1, migration_2, migration_3, migration_4, migration_5,
                                                 migration_6, migration_personas, migration_budgets,
                                                 migration_memory, migration_kb, migration_kb_vectors };
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* ---- SQL ---- */

#define SQL_INBOX_ADD                                                                          \
    "INSERT INTO linebot_inbox (event_id, chat_id, timestamp_ms, payload)"                     \
    " VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING"
#define SQL_INBOX_FORGET                                                                       \
    "DELETE FROM linebot_inbox WHERE event_id = $1 AND state = 'pending' AND NOT claimed"
#define SQL_INBOX_DEPTH                                                                        \
    "SELECT count(*) FROM linebot_inbox WHERE state IN ('pending', 'working', 'sending')"
#define SQL_HEALTH_PROBE                                                                       \
    "INSERT INTO linebot_health (id, probed_at_ms) VALUES (1, $1)"                             \
    " ON CONFLICT (id) DO UPDATE SET probed_at_ms = excluded.probed_at_ms,"                   \
    " probes = linebot_health.probes + 1"
#define SQL_TASK_ADD                                                                           \
    "INSERT INTO linebot_inbox (event_id, kind, chat_id, timestamp_ms, payload)"               \
    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING"

/* Step 1 of a claim: the oldest candidate, locking nothing: webhook events
 * first, then internal jobs (which never hold their chat). $1 now, $2 chats
 * and $3 seqs already given up on in this claim. (`chat_id <> ''` in the
 * subqueries lets the planner use linebot_inbox_one_claim.) */
#define SQL_CLAIM_CANDIDATE                                                                    \
    "SELECT seq, chat_id, is_task FROM ("                                                      \
    " (SELECT seq, chat_id, timestamp_ms, false AS is_task FROM linebot_inbox AS i"            \
    "   WHERE state IN ('pending', 'sending') AND NOT claimed AND kind IS NULL"                \
    "   AND (chat_id = '' OR NOT EXISTS (SELECT 1 FROM linebot_inbox AS b"                     \
    "        WHERE b.chat_id = i.chat_id AND b.chat_id <> '' AND b.claimed"                   \
    "        AND b.kind IS NULL AND b.lease_until_ms > $1))"                                   \
    "   AND NOT (chat_id = ANY ($2::text[])) AND NOT (seq = ANY ($3::bigint[]))"               \
    "   ORDER BY timestamp_ms, seq LIMIT 1)"                                                   \
    " UNION ALL"                                                                               \
    " (SELECT seq, chat_id, timestamp_ms, kind IS NOT NULL FROM linebot_inbox"                 \
    "   WHERE claimed AND lease_until_ms <= $1"                                                \
    "   AND NOT (chat_id = ANY ($2::text[])) AND NOT (seq = ANY ($3::bigint[]))"               \
    "   ORDER BY timestamp_ms, seq LIMIT 1)"                                                   \
    " UNION ALL"                                                                               \
    " (SELECT seq, chat_id, timestamp_ms, true FROM linebot_inbox"                             \
    "   WHERE state IN ('pending', 'sending') AND NOT claimed AND kind IS NOT NULL"            \
    "   AND NOT (seq = ANY ($3::bigint[]))"                                                    \
    "   ORDER BY timestamp_ms, seq LIMIT 1)"                                                   \
    ") AS c ORDER BY is_task, timestamp_ms, seq LIMIT 1"

/* What a successful claim writes and hands back. $2 now, $3 lease end. */
#define SQL_CLAIM_SET                                                                          \
    " UPDATE linebot_inbox AS i SET"                                                           \
    "  state = CASE i.state WHEN 'sending' THEN 'sending' ELSE 'working' END,"                 \
    "  claimed = true, claim_gen = i.claim_gen + 1, attempts = i.attempts + 1,"                \
    "  claimed_at_ms = $2, lease_until_ms = $3"                                                \
    " FROM pick WHERE i.seq = pick.seq"                                                        \
    " RETURNING i.event_id, i.chat_id, i.timestamp_ms, i.payload, i.state, i.claim_gen,"       \
    "  i.attempts, i.answer, i.kind"

/* Chat "" or an internal job: the candidate row itself, if still claimable
 * and not locked. $1 seq. */
#define SQL_CLAIM_TAKE_ROW                                                                     \
    "WITH pick AS (SELECT seq FROM linebot_inbox WHERE seq = $1"                               \
    "  AND (chat_id = '' OR kind IS NOT NULL)"                                                 \
    "  AND ((state IN ('pending', 'sending') AND NOT claimed)"                                 \
    "       OR (claimed AND lease_until_ms <= $2))"                                            \
    "  FOR UPDATE SKIP LOCKED)"                                                                \
    SQL_CLAIM_SET

/* The per-chat lock, scoped to this inbox table (another schema's bot on the
 * same database does not contend). $1 chat_id. */
#define SQL_CLAIM_LOCK_CHAT                                                                    \
    "SELECT pg_try_advisory_xact_lock(hashtextextended($1,"                                    \
    " 'linebot_inbox'::regclass::oid::bigint))"

/* Expired claims of a chat whose lock we hold become claimable. $1 chat, $2 now. */
#define SQL_CLAIM_REAP                                                                         \
    "UPDATE linebot_inbox SET state = CASE state WHEN 'working' THEN 'pending' ELSE state END," \
    " claimed = false, lease_until_ms = NULL"                                                  \
    " WHERE chat_id = $1 AND chat_id <> '' AND kind IS NULL AND claimed AND lease_until_ms <= $2"

/* The chat's oldest claimable row, if no row of the chat is claimed. $1 chat. */
#define SQL_CLAIM_TAKE_CHAT                                                                    \
    "WITH pick AS (SELECT seq FROM linebot_inbox"                                              \
    "  WHERE chat_id = $1 AND state IN ('pending', 'sending') AND NOT claimed"                 \
    "  AND kind IS NULL AND NOT EXISTS (SELECT 1 FROM linebot_inbox AS b"                     \
    "     WHERE b.chat_id = $1 AND b.chat_id <> '' AND b.claimed AND b.kind IS NULL)"          \
    "  ORDER BY timestamp_ms, seq LIMIT 1 FOR UPDATE)"                                         \
    SQL_CLAIM_SET

#define FENCE " WHERE event_id = $1 AND claim_gen = $2 AND claimed"
#define SQL_JOB_SENDING "UPDATE linebot_inbox SET state = 'sending', answer = $3" FENCE
#define SQL_JOB_FINISH                                                                         \
    "UPDATE linebot_inbox SET state = 'done', claimed = false, lease_until_ms = NULL,"         \
    " payload = NULL, answer = NULL, outcome = $3, done_at_ms = $4, model = $5,"               \
    " prompt_tokens = $6, completion_tokens = $7, total_tokens = $8" FENCE                     \
    " RETURNING chat_id"
#define SQL_JOB_PARK                                                                           \
    "UPDATE linebot_inbox SET state = 'waiting', claimed = false, lease_until_ms = NULL,"      \
    " answer = $3" FENCE " AND state = 'working'"
/* FOR UPDATE: a second adopter waits here, then finds the row no longer waiting. */
#define SQL_ADOPT_GET                                                                          \
    "SELECT answer FROM linebot_inbox WHERE event_id = $1 AND state = 'waiting'"                 \
    " AND chat_id = (SELECT chat_id FROM linebot_inbox WHERE event_id = $2) FOR UPDATE"
#define SQL_ADOPT_TAKE                                                                         \
    "UPDATE linebot_inbox SET state = 'done', payload = NULL, answer = NULL, outcome = $2,"    \
    " done_at_ms = $3 WHERE event_id = $1 AND state = 'waiting'"
#define SQL_JOB_RELEASE                                                                        \
    "UPDATE linebot_inbox SET state = CASE state WHEN 'working' THEN 'pending' ELSE state END," \
    " claimed = false, lease_until_ms = NULL" FENCE
#define SQL_JOB_RENEW "UPDATE linebot_inbox SET lease_until_ms = $3" FENCE
/* An adopter holds the row (SQL_ADOPT_GET's FOR UPDATE): the state is
 * checked again after its commit, so the row goes one way only. */
/* A claim holds the row: the state is checked again after it commits. */
#define SQL_INBOX_TAKE                                                                         \
    "UPDATE linebot_inbox SET state = 'done', payload = NULL, answer = NULL, outcome = $2,"    \
    " done_at_ms = $3 WHERE event_id = $1 AND state = 'pending' AND NOT claimed"
#define SQL_JOBS_UNPARK                                                                        \
    "UPDATE linebot_inbox SET state = 'sending', claimed = false WHERE seq IN"                  \
    " (SELECT seq FROM linebot_inbox WHERE state = 'waiting' AND timestamp_ms < $1 LIMIT 100)" \
    " AND state = 'waiting'"

#define SQL_HISTORY_ADD                                                                        \
    "INSERT INTO linebot_history (chat_id, role, speaker, text, message_id, timestamp_ms, user_id)" \
    " VALUES ($1, $2, $3, $4, $5, $6, $7)"
#define SQL_BOT_ADD                                                                            \
    "INSERT INTO linebot_bot_messages (chat_id, message_id, timestamp_ms) VALUES ($1, $2, $3)" \
    " ON CONFLICT (chat_id, message_id) DO UPDATE SET timestamp_ms = excluded.timestamp_ms"
#define SQL_BOT_IS "SELECT 1 FROM linebot_bot_messages WHERE chat_id = $1 AND message_id = $2"
/* The history seq up to which chat $1's summary stands for its turns (0: none). */
#define SQL_SUMMARY_UPTO "coalesce((SELECT upto_seq FROM linebot_summaries WHERE chat_id = $1), 0)"
#define SQL_HISTORY_LOAD                                                                       \
    "SELECT role, speaker, text, message_id, timestamp_ms FROM ("                              \
    " (SELECT seq, role, speaker, text, message_id, timestamp_ms FROM linebot_history"         \
    "   WHERE chat_id = $1 AND role IN ('user', 'assistant') AND seq > " SQL_SUMMARY_UPTO      \
    "   ORDER BY seq DESC LIMIT $2)"                                                           \
    " UNION ALL"                                                                               \
    " (SELECT seq, role, speaker, text, message_id, timestamp_ms FROM linebot_history"         \
    "   WHERE chat_id = $1 AND role = 'context'"                                               \
    "   AND seq > coalesce((SELECT max(seq) FROM linebot_history"                              \
    "                       WHERE chat_id = $1 AND role = 'assistant'), 0)"                    \
    "   ORDER BY seq DESC LIMIT $3)"                                                           \
    ") AS t ORDER BY seq"
#define SQL_CHAT_WAITING                                                                       \
    "SELECT payload FROM linebot_inbox WHERE chat_id = $1 AND state = 'pending'"               \
    " AND kind IS NULL AND payload IS NOT NULL ORDER BY timestamp_ms, seq LIMIT $2"
#define SQL_MSG_TEXT                                                                           \
    "SELECT text FROM linebot_history WHERE chat_id = $1 AND message_id = $2"                  \
    " ORDER BY seq DESC LIMIT 1"
#define SQL_MSG_DELETE "DELETE FROM linebot_history WHERE chat_id = $1 AND message_id = $2"
#define SQL_MSG_UPDATE                                                                         \
    "UPDATE linebot_history SET text = $3 WHERE chat_id = $1 AND message_id = $2"
#define SQL_CONTEXT_TRIM                                                                       \
    "DELETE FROM linebot_history WHERE chat_id = $1 AND role = 'context'"                      \
    " AND seq NOT IN (SELECT seq FROM linebot_history"                                         \
    "  WHERE chat_id = $1 AND role = 'context' ORDER BY seq DESC LIMIT $2)"
#define SQL_HISTORY_CLEAR "DELETE FROM linebot_history WHERE chat_id = $1"
#define SQL_FORGET_BOT "DELETE FROM linebot_bot_messages WHERE chat_id = $1"
#define SQL_FORGET_PROFILES "DELETE FROM linebot_profiles WHERE chat_id = $1"
#define SQL_FORGET_RATE "DELETE FROM linebot_rate WHERE user_id = $1"
#define SQL_FORGET_INBOX                                                                       \
    "UPDATE linebot_inbox SET payload = NULL, answer = NULL"                                   \
    " WHERE state = 'done' AND chat_id = $1 AND (payload IS NOT NULL OR answer IS NOT NULL)"
#define SQL_CHAT_MODEL_GET "SELECT model FROM linebot_chat_models WHERE chat_id = $1"
#define SQL_CHAT_MODEL_SET                                                                     \
    "INSERT INTO linebot_chat_models (chat_id, model, updated_at_ms) VALUES ($1, $2, $3)"      \
    " ON CONFLICT (chat_id) DO UPDATE SET model = excluded.model,"                             \
    " updated_at_ms = excluded.updated_at_ms"
#define SQL_FORGET_CHAT_MODEL "DELETE FROM linebot_chat_models WHERE chat_id = $1"
#define SQL_CHAT_PERSONA_GET "SELECT preset, custom FROM linebot_chat_personas WHERE chat_id = $1"
#define SQL_CHAT_PERSONA_SET                                                                   \
    "INSERT INTO linebot_chat_personas (chat_id, preset, custom, updated_at_ms)"               \
    " VALUES ($1, $2, $3, $4) ON CONFLICT (chat_id) DO UPDATE SET preset = excluded.preset,"   \
    " custom = excluded.custom, updated_at_ms = excluded.updated_at_ms"
#define SQL_FORGET_CHAT_PERSONA "DELETE FROM linebot_chat_personas WHERE chat_id = $1"
/* Budgets: a charge is added once per event (the key). */
#define SQL_USAGE_ADD                                                                          \
    "INSERT INTO linebot_usage (event_id, user_id, chat_id, model, day, prompt_tokens,"        \
    " completion_tokens, estimated, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"        \
    " ON CONFLICT (event_id) DO NOTHING"
#define SQL_USAGE_DAY                                                                          \
    "SELECT (SELECT coalesce(sum(prompt_tokens + completion_tokens), 0)"                       \
    "  FROM linebot_usage WHERE user_id = $1 AND day = $3),"                                   \
    " (SELECT coalesce(sum(prompt_tokens + completion_tokens), 0)"                             \
    "  FROM linebot_usage WHERE chat_id = $2 AND day = $3)"
/* The holder of the day's notice: this event when its insert went in, else
 * the row that was there. A concurrent insert that committed first is not
 * in this statement's snapshot: then no row comes back, which means the
 * same (another event has it). */
#define SQL_NOTICE_TAKE                                                                        \
    "WITH ins AS (INSERT INTO linebot_budget_notices (subject, day, event_id, at_ms)"          \
    " VALUES ($1, $2, $3, $4) ON CONFLICT (subject, day) DO NOTHING RETURNING event_id)"       \
    " SELECT event_id FROM ins UNION ALL"                                                      \
    " SELECT event_id FROM linebot_budget_notices WHERE subject = $1 AND day = $2 LIMIT 1"
#define SQL_PROFILE_GET                                                                        \
    "SELECT display_name, fetched_at_ms, language FROM linebot_profiles"                       \
    " WHERE chat_id = $1 AND user_id = $2"
#define SQL_PROFILE_PUT                                                                        \
    "INSERT INTO linebot_profiles (chat_id, user_id, display_name, fetched_at_ms, language)"   \
    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (chat_id, user_id) DO UPDATE SET"                \
    " display_name = excluded.display_name, fetched_at_ms = excluded.fetched_at_ms,"           \
    " language = excluded.language"
/* One statement: the row lock of ON CONFLICT DO UPDATE serialises concurrent
 * counts of a user, and each sees the one before. A fixed one-minute window:
 * the first message at or after window_start + 60 s opens a new one. */
#define SQL_RATE_COUNT                                                                         \
    "INSERT INTO linebot_rate AS r (user_id, window_start_ms, count, warned)"                  \
    " VALUES ($1, $2, 1, false) ON CONFLICT (user_id) DO UPDATE SET"                           \
    " count = CASE WHEN $2 - r.window_start_ms >= 60000 THEN 1 ELSE r.count + 1 END,"          \
    " window_start_ms = CASE WHEN $2 - r.window_start_ms >= 60000 THEN $2"                     \
    "                        ELSE r.window_start_ms END"                                       \
    " RETURNING count"
#define SQL_RATE_PEEK                                                                          \
    "SELECT CASE WHEN $2 - window_start_ms >= 60000 THEN 0 ELSE count END"                     \
    " FROM linebot_rate WHERE user_id = $1"

/* Memory of the user (issue 11): the same SQL as store_sqlite.c's. */
#define SQL_MEMORY_FACTS                                                                       \
    "SELECT id, fact, chat_id, message_id, created_at_ms, used FROM linebot_memory"            \
    " WHERE user_id = $1 ORDER BY used DESC, id DESC"
/* "C": ASCII case only, as SQLite's lower() (the database's locale would fold more). */
#define SQL_MEMORY_BUMP                                                                        \
    "UPDATE linebot_memory SET used = used + 1 WHERE user_id = $1"                             \
    " AND lower(fact COLLATE \"C\") = lower($2::text COLLATE \"C\")"
#define SQL_MEMORY_INSERT                                                                      \
    "INSERT INTO linebot_memory (user_id, fact, chat_id, message_id, created_at_ms)"           \
    " VALUES ($1, $2, $3, $4, $5)"
#define SQL_MEMORY_TRIM                                                                        \
    "DELETE FROM linebot_memory WHERE user_id = $1 AND id NOT IN (SELECT id FROM linebot_memory" \
    " WHERE user_id = $1 ORDER BY used DESC, id DESC LIMIT $2)"
#define SQL_MEMORY_FORGET_ONE "DELETE FROM linebot_memory WHERE user_id = $1 AND id = $2"
#define SQL_MEMORY_FORGET_ALL "DELETE FROM linebot_memory WHERE user_id = $1"
#define SQL_MEMORY_USER                                                                        \
    "SELECT coalesce(u.opted_out, false)::int, coalesce(u.told, false)::int,"                  \
    " coalesce(u.seen_seq, 0),"                                                                \
    " (SELECT count(*) FROM linebot_history AS h WHERE h.chat_id = $1"                         \
    "  AND h.role = 'user' AND h.seq > coalesce(u.seen_seq, 0)),"                              \
    " (SELECT coalesce(max(h.seq), 0) FROM linebot_history AS h WHERE h.chat_id = $1"          \
    "  AND h.role = 'user' AND h.seq > coalesce(u.seen_seq, 0))"                               \
    " FROM (SELECT 1) AS one LEFT JOIN linebot_memory_users AS u ON u.user_id = $1"
#define SQL_MEMORY_OPT_OUT                                                                     \
    "INSERT INTO linebot_memory_users (user_id, opted_out, updated_at_ms) VALUES ($1, $2, $3)" \
    " ON CONFLICT (user_id) DO UPDATE SET opted_out = excluded.opted_out,"                     \
    " updated_at_ms = excluded.updated_at_ms"
#define SQL_MEMORY_TOLD "SELECT 1 FROM linebot_memory_users WHERE user_id = $1 AND told"
#define SQL_MEMORY_TELL                                                                        \
    "INSERT INTO linebot_memory_users AS u (user_id, told, updated_at_ms) VALUES ($1, true, $2)" \
    " ON CONFLICT (user_id) DO UPDATE SET told = true, updated_at_ms = excluded.updated_at_ms" \
    " WHERE NOT u.told"
#define SQL_MEMORY_SEEN                                                                        \
    "INSERT INTO linebot_memory_users AS u (user_id, seen_seq, updated_at_ms) VALUES ($1, $2, $3)" \
    " ON CONFLICT (user_id) DO UPDATE SET seen_seq = greatest(u.seen_seq, excluded.seen_seq),"  \
    " updated_at_ms = excluded.updated_at_ms"
#define SQL_MEMORY_TURNS                                                                       \
    "SELECT text, message_id, timestamp_ms FROM (SELECT seq, text, message_id, timestamp_ms"   \
    " FROM linebot_history WHERE chat_id = $1 AND role = 'user' AND seq > $2 AND seq <= $3"    \
    " ORDER BY seq DESC LIMIT $4) AS t ORDER BY seq"
#define SQL_MEMORY_IDLE                                                                        \
    "SELECT u.user_id, max(h.seq) FROM linebot_memory_users AS u"                              \
    " JOIN linebot_history AS h ON h.chat_id = u.user_id"                                      \
    " WHERE NOT u.opted_out AND h.role = 'user' AND h.seq > u.seen_seq"                        \
    " GROUP BY u.user_id HAVING max(h.timestamp_ms) < $1 LIMIT $2"
#define SQL_MEMORY_UNSEND "DELETE FROM linebot_memory WHERE chat_id = $1 AND message_id = $2"
#define SQL_FORGET_MEMORY "DELETE FROM linebot_memory WHERE user_id = $1 OR chat_id = $1"
#define SQL_FORGET_MEMORY_USER "DELETE FROM linebot_memory_users WHERE user_id = $1"
#define SQL_SUMMARY_GET "SELECT summary, upto_seq FROM linebot_summaries WHERE chat_id = $1"
#define SQL_SUMMARY_TURNS                                                                      \
    "SELECT seq, role, speaker, text, message_id, timestamp_ms FROM (SELECT seq, role, speaker," \
    " text, message_id, timestamp_ms FROM linebot_history WHERE chat_id = $1"                  \
    " AND role IN ('user', 'assistant') AND seq > " SQL_SUMMARY_UPTO                           \
    " ORDER BY seq DESC LIMIT $2) AS t ORDER BY seq"
#define SQL_SUMMARY_PUT                                                                        \
    "INSERT INTO linebot_summaries AS s (chat_id, summary, upto_seq, updated_at_ms)"           \
    " SELECT $1::text, $2::text, $3::bigint, $4::bigint WHERE EXISTS (SELECT 1"                \
    "  FROM linebot_history WHERE chat_id = $1 AND seq = $3)"                                  \
    " ON CONFLICT (chat_id) DO UPDATE SET summary = excluded.summary,"                         \
    " upto_seq = excluded.upto_seq, updated_at_ms = excluded.updated_at_ms"                    \
    " WHERE s.upto_seq < excluded.upto_seq"
#define SQL_FORGET_SUMMARY "DELETE FROM linebot_summaries WHERE chat_id = $1"

/* Purges, one batch ($2 rows) per statement, each its own transaction. */
static const char *const purge_sql[] = {
    "DELETE FROM linebot_history WHERE seq IN (SELECT seq FROM linebot_history"
    " WHERE timestamp_ms < $1 LIMIT $2)",
    "DELETE FROM linebot_bot_messages WHERE (chat_id, message_id) IN"
    " (SELECT chat_id, message_id FROM linebot_bot_messages WHERE timestamp_ms < $1 LIMIT $2)",
    "DELETE FROM linebot_profiles WHERE (chat_id, user_id) IN"
    " (SELECT chat_id, user_id FROM linebot_profiles WHERE fetched_at_ms < $1 LIMIT $2)",
    "DELETE FROM linebot_rate WHERE user_id IN"
    " (SELECT user_id FROM linebot_rate WHERE window_start_ms < $1 LIMIT $2)",
    "DELETE FROM linebot_usage WHERE event_id IN"
    " (SELECT event_id FROM linebot_usage WHERE at_ms < $1 LIMIT $2)",
    "DELETE FROM linebot_budget_notices WHERE (subject, day) IN"
    " (SELECT subject, day FROM linebot_budget_notices WHERE at_ms < $1 LIMIT $2)",
    /* Dedup window in event time: LINE redelivers relative to the event. */
    "DELETE FROM linebot_inbox WHERE seq IN (SELECT seq FROM linebot_inbox"
    " WHERE state = 'done' AND timestamp_ms < $1 LIMIT $2)",
    /* Parked answers nobody took over ($3 is job_outcome_name(OUTCOME_EXPIRED),
     * $4 the time); after the delete above, so the row stays until the next purge. */
    "UPDATE linebot_inbox SET state = 'done', payload = NULL, answer = NULL, outcome = $3,"
    " done_at_ms = $4"
    " WHERE seq IN (SELECT seq FROM linebot_inbox WHERE state = 'waiting' AND timestamp_ms < $1"
    " LIMIT $2)",
};
#define PURGE_FIRST_INBOX 6 /* purge_sql[6] on go by the dedup cutoff */

/* The knowledge base (issue 12). Every write takes KB_LOCK first, so kb
 * commands never deadlock on the statistics rows they share. BM25 as FTS5's
 * bm25() computes it (k1 1.2, b 0.75; IDF ln((N - n + 0.5) / (n + 0.5)),
 * at least 1e-6; N, n and the average length over every stored chunk), so
 * both backends rank alike. */
#define KB_LOCK_KEY1 0x6c696e65 /* "line" */
#define KB_LOCK_KEY2 0x6b623031 /* "kb01" */
#define SQL_KB_LOCK "SELECT pg_advisory_xact_lock($1::int, $2::int)"
#define SQL_KB_ENSURE                                                                          \
    "INSERT INTO linebot_kb (name, created_at_ms) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
#define SQL_KB_DOC_GET                                                                         \
    "SELECT d.id, d.generation, d.content_hash FROM linebot_kb_docs AS d"                      \
    " JOIN linebot_kb AS k ON k.id = d.kb_id WHERE k.name = $1 AND d.path = $2"
#define SQL_KB_DOC_NEW                                                                         \
    "INSERT INTO linebot_kb_docs (kb_id, path, title, added_at_ms, updated_at_ms)"             \
    " SELECT id, $2, $3, $4, $4 FROM linebot_kb WHERE name = $1 RETURNING id"
/* A batch: parallel arrays, terms and tfs as array literals per chunk. */
#define SQL_KB_CHUNKS_ADD                                                                      \
    "INSERT INTO linebot_kb_chunks (doc_id, generation, position, heading, body, terms, tfs,"  \
    " n_terms) SELECT $1, $2, u.position, u.heading, u.body, u.terms::text[],"                 \
    " u.tfs::integer[], u.n_terms FROM unnest($3::integer[], $4::text[], $5::text[],"          \
    " $6::text[], $7::text[], $8::integer[]) AS u(position, heading, body, terms, tfs, n_terms)"
#define SQL_KB_TERMS_ADD                                                                       \
    "INSERT INTO linebot_kb_terms (term, chunks)"                                              \
    " SELECT t.term, count(*) FROM unnest($1::text[]) AS c(terms),"                            \
    " unnest(c.terms::text[]) AS t(term) GROUP BY t.term ORDER BY t.term"                      \
    " ON CONFLICT (term) DO UPDATE SET chunks = linebot_kb_terms.chunks + excluded.chunks"
#define SQL_KB_STATS_ADD                                                                       \
    "UPDATE linebot_kb_stats SET chunks = chunks + $1, terms = terms + $2 WHERE id = 1"
#define SQL_KB_CHUNKS_DROP                                                                     \
    "WITH del AS (DELETE FROM linebot_kb_chunks WHERE id IN (SELECT id FROM linebot_kb_chunks" \
    "  WHERE doc_id = $1 AND generation <> $2 ORDER BY id LIMIT $3) RETURNING terms, n_terms)," \
    " t AS (SELECT u.term, count(*) AS n FROM del, unnest(del.terms) AS u(term) GROUP BY u.term)," \
    " upd AS (UPDATE linebot_kb_terms AS k SET chunks = k.chunks - t.n FROM t WHERE k.term = t.term)," \
    " stats AS (UPDATE linebot_kb_stats SET chunks = chunks - (SELECT count(*) FROM del),"    \
    "  terms = terms - (SELECT coalesce(sum(n_terms), 0) FROM del) WHERE id = 1)"              \
    " SELECT count(*) FROM del"
#define SQL_KB_SWITCH                                                                          \
    "UPDATE linebot_kb_docs SET generation = $3, title = $4, content_hash = $5, chunks = $6,"  \
    " bytes = $7, updated_at_ms = $8 WHERE id = $1 AND generation = $2"
#define SQL_KB_HIDE "UPDATE linebot_kb_docs SET generation = 0, content_hash = NULL WHERE id = $1"
#define SQL_KB_DOC_DELETE                                                                      \
    "DELETE FROM linebot_kb_docs WHERE id = $1 AND generation = 0"                             \
    " AND NOT EXISTS (SELECT 1 FROM linebot_kb_chunks WHERE doc_id = $1)"
#define SQL_KB_DOCS                                                                            \
    "SELECT d.id, k.name, d.path, d.title, d.chunks, d.bytes, d.added_at_ms, d.updated_at_ms," \
    " d.generation > 0 FROM linebot_kb_docs AS d JOIN linebot_kb AS k ON k.id = d.kb_id"       \
    " WHERE ($1::text IS NULL OR k.name = $1) AND ($2::bigint <= 0 OR d.id = $2)"              \
    " AND ($3::text IS NULL OR d.path = $3) ORDER BY k.name, d.path"
/* $1 kb, $2 the terms, $3 the same as a tsquery ('a' | 'b'), $4 k. */
#define SQL_KB_SEARCH                                                                          \
    "WITH s AS (SELECT chunks::float8 AS n,"                                                   \
    "  CASE WHEN chunks > 0 THEN terms::float8 / chunks ELSE 1 END AS avgdl"                   \
    "  FROM linebot_kb_stats WHERE id = 1),"                                                   \
    " q AS (SELECT t.term, ln((s.n - coalesce(k.chunks, 0) + 0.5) / (coalesce(k.chunks, 0) + 0.5)) AS idf" \
    "  FROM unnest($2::text[]) AS t(term) CROSS JOIN s"                                        \
    "  LEFT JOIN linebot_kb_terms AS k ON k.term = t.term)"                                    \
    " SELECT c.id, d.id, sum(CASE WHEN q.idf <= 0 THEN 1e-6 ELSE q.idf END * (f.tf * 2.2)"     \
    "  / (f.tf + 1.2 * (0.25 + 0.75 * c.n_terms / s.avgdl))) AS score,"                        \
    "  c.position, d.path, d.title, c.heading, c.body"                                         \
    " FROM linebot_kb_chunks AS c"                                                             \
    " JOIN linebot_kb_docs AS d ON d.id = c.doc_id AND d.generation = c.generation"            \
    " JOIN linebot_kb AS kb ON kb.id = d.kb_id"                                                \
    " CROSS JOIN s CROSS JOIN q"                                                               \
    " CROSS JOIN LATERAL (SELECT c.tfs[array_position(c.terms, q.term)]::float8 AS tf) AS f"   \
    " WHERE kb.name = $1 AND array_to_tsvector(c.terms) @@ $3::tsquery AND f.tf IS NOT NULL"   \
    " GROUP BY c.id, d.id, s.avgdl ORDER BY score DESC, c.id LIMIT $4"
/* How many chunks hold each term (kb_terms_within), in the order asked. */
#define SQL_KB_TERM_CHUNKS                                                                     \
    "SELECT coalesce(k.chunks, 0) FROM unnest($1::text[]) WITH ORDINALITY AS t(term, i)"       \
    " LEFT JOIN linebot_kb_terms AS k ON k.term = t.term ORDER BY t.i"
#define SQL_KB_BIND                                                                            \
    "INSERT INTO linebot_kb_bindings (chat_id, kb_id, updated_at_ms)"                          \
    " SELECT $1, id, $3 FROM linebot_kb WHERE name = $2 ON CONFLICT (chat_id)"                 \
    " DO UPDATE SET kb_id = excluded.kb_id, updated_at_ms = excluded.updated_at_ms"
#define SQL_KB_UNBIND "DELETE FROM linebot_kb_bindings WHERE chat_id = $1"
#define SQL_KB_OF_CHAT                                                                         \
    "SELECT coalesce((SELECT k.name FROM linebot_kb_bindings AS b"                             \
    " JOIN linebot_kb AS k ON k.id = b.kb_id WHERE b.chat_id = $1),"                           \
    " (SELECT name FROM linebot_kb WHERE name = '" KB_DEFAULT_NAME "'))"

/* The knowledge base's vectors (issue 12). */
#define SQL_KB_LIVE_CHUNKS                                                                     \
    " FROM linebot_kb AS k JOIN linebot_kb_docs AS d ON d.kb_id = k.id AND d.generation > 0"  \
    " JOIN linebot_kb_chunks AS c ON c.doc_id = d.id AND c.generation = d.generation"
#define SQL_KB_VEC_MODEL                                                                       \
    "SELECT e.model, e.version FROM linebot_kb_embed AS e JOIN linebot_kb AS k ON k.id = e.kb_id" \
    " WHERE k.name = $1"
#define SQL_KB_VEC_CLAIM                                                                       \
    "INSERT INTO linebot_kb_embed (kb_id, model, version) SELECT id, $2, 1 FROM linebot_kb"    \
    " WHERE name = $1 ON CONFLICT (kb_id) DO NOTHING"
#define SQL_KB_VEC_RESET                                                                       \
    "INSERT INTO linebot_kb_embed (kb_id, model, version) SELECT id, $2, 1 FROM linebot_kb"    \
    " WHERE name = $1 ON CONFLICT (kb_id)"                                                     \
    " DO UPDATE SET model = excluded.model, version = linebot_kb_embed.version + 1"
/* A batch as parallel arrays; a row without a chunk id is found by its
 * document, generation and position. */
#define SQL_KB_VEC_PUT                                                                         \
    "WITH u AS (SELECT coalesce(nullif(x.chunk_id, 0), (SELECT c.id FROM linebot_kb_chunks AS c" \
    "  WHERE c.doc_id = x.doc_id AND c.generation = x.generation AND c.position = x.position" \
    "  LIMIT 1)) AS id, x.dims, x.scale, x.hex FROM unnest($2::bigint[], $3::bigint[],"      \
    "  $4::integer[], $5::integer[], $6::integer[], $7::real[], $8::text[])"                   \
    "  AS x(chunk_id, doc_id, generation, position, dims, scale, hex))"                        \
    " INSERT INTO linebot_kb_vectors (chunk_id, model, dims, scale, vec)"                      \
    " SELECT u.id, $1, u.dims, u.scale, decode(u.hex, 'hex') FROM u"                           \
    " WHERE EXISTS (SELECT 1 FROM linebot_kb_chunks AS c WHERE c.id = u.id)"                   \
    " ON CONFLICT (chunk_id) DO UPDATE SET model = excluded.model, dims = excluded.dims,"      \
    " scale = excluded.scale, vec = excluded.vec"
#define SQL_KB_VEC_BUMP                                                                        \
    "UPDATE linebot_kb_embed SET version = version + 1"                                        \
    " WHERE kb_id = (SELECT id FROM linebot_kb WHERE name = $1)"
#define SQL_KB_VEC_DROP                                                                        \
    "DELETE FROM linebot_kb_vectors WHERE chunk_id IN (SELECT id FROM linebot_kb_chunks"       \
    " WHERE doc_id = $1 AND generation <> $2 ORDER BY id LIMIT $3)"
/* In pages (a whole knowledge base as hex text would need twice its size
 * again in libpq's buffer), in one snapshot. */
#define KB_VEC_PAGE 4096
#define SQL_KB_VEC_LOAD                                                                        \
    "SELECT v.chunk_id, v.dims, encode(v.vec, 'hex')" SQL_KB_LIVE_CHUNKS                       \
    " JOIN linebot_kb_embed AS e ON e.kb_id = k.id AND e.model = $2"                           \
    " JOIN linebot_kb_vectors AS v ON v.chunk_id = c.id AND v.model = $2"                      \
    " WHERE k.name = $1 AND v.chunk_id > $3 ORDER BY v.chunk_id LIMIT $4"
#define SQL_KB_CHUNKS_IDS                                                                      \
    "SELECT c.id, d.id, 0, c.position, d.path, d.title, c.heading, c.body" SQL_KB_LIVE_CHUNKS  \
    " WHERE k.name = $1 AND c.id = ANY($2::bigint[])"
#define SQL_KB_CHUNKS_PAGE                                                                     \
    "SELECT c.id, d.id, 0, c.position, d.path, d.title, c.heading, c.body" SQL_KB_LIVE_CHUNKS  \
    " WHERE k.name = $1 AND c.id > $2 ORDER BY c.id LIMIT $3"

/* ---- the handle ---- */

struct pg_store {
    PGconn *conn;
    bool broken;                  /* reconnect before the next statement */
    int64_t retry_at_ms;          /* monotonic: no reconnect attempt before this */
    int64_t backoff_ms;           /* the wait after the next failed attempt */
    char *secrets[MAX_SECRETS];   /* password forms to keep out of messages */
};

static struct pg_store *backend_of(struct store *st)
{
    return st->backend;
}

/* ---- messages without secrets ---- */

/* Copies libpq's message (often several lines) into one line, with every
 * known form of the password replaced by "***". */
static void clean_message(const struct pg_store *h, const char *msg, char *out, size_t outlen)
{
    size_t o = 0;
    bool space = false;

    if (!msg || !*msg)
        msg = "unknown error";
    while (*msg && o + 1 < outlen) {
        bool redacted = false;

        for (int i = 0; h && i < MAX_SECRETS && !redacted; i++) {
            size_t len = h->secrets[i] ? strlen(h->secrets[i]) : 0;
            if (len && strncmp(msg, h->secrets[i], len) == 0) {
                for (const char *r = "***"; *r && o + 1 < outlen; r++)
                    out[o++] = *r;
                msg += len;
                space = false;
                redacted = true;
            }
        }
        if (redacted)
            continue;
        if (isspace((unsigned char)*msg)) {
            space = o > 0;
        } else {
            if (space && o + 2 < outlen)
                out[o++] = ' ';
            space = false;
            out[o++] = *msg;
        }
        msg++;
    }
    out[o] = '\0';
}

/* Decodes %XX escapes (a URL's userinfo) into a malloc'd string. */
static char *percent_decode(const char *s, size_t len)
{
    char *out = xmalloc(len + 1);
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = { s[i + 1], s[i + 2], 0 };
            out[o++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Keeps `secret` (malloc'd, taken over) for clean_message; an empty one is
 * dropped, as is any beyond MAX_SECRETS. */
static void add_secret(struct pg_store *h, char *secret)
{
    for (int i = 0; i < MAX_SECRETS; i++) {
        if (!h->secrets[i] && *secret) {
            h->secrets[i] = secret;
            return;
        }
    }
    free(secret);
}

static void free_secret(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

/* libpq's complaint about a URL it cannot parse, with every quoted part
 * (where it echoes the URL, password included) left out. */
static void elide_quoted(const char *msg, char *out, size_t outlen)
{
    size_t o = 0;
    bool quoted = false;

    for (; msg && *msg && o + 4 < outlen; msg++) {
        if (*msg == '"') {
            quoted = !quoted;
            if (quoted) {
                memcpy(out + o, "...", 3);
                o += 3;
            }
            continue;
        }
        if (!quoted)
            out[o++] = isspace((unsigned char)*msg) ? ' ' : *msg;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

/* Collects the password as written in the URL (raw and decoded) and as libpq
 * parses it (userinfo or ?password=), so messages can be scrubbed of it. */
static void collect_secrets(struct pg_store *h, const char *url, const PQconninfoOption *opts)
{
    const char *auth = strstr(url, "://");

    if (auth) {
        const char *end, *colon;

        auth += 3;
        end = auth + strcspn(auth, "@/");
        colon = memchr(auth, ':', (size_t)(end - auth));
        if (*end == '@' && colon) {
            size_t len = (size_t)(end - colon - 1);

            add_secret(h, xstrndup(colon + 1, len));
            add_secret(h, percent_decode(colon + 1, len));
        }
    }
    for (const PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (o->val && (strcmp(o->keyword, "password") == 0 || strcmp(o->keyword, "sslpassword") == 0))
            add_secret(h, xstrdup(o->val));
    }
}

/* ---- statements ---- */

/* A statement's parameters in libpq's text format; NULL is SQL NULL. */
struct params {
    const char *values[MAX_PARAMS];
    char numbers[MAX_PARAMS][24];
    int n;
};

static void param_text(struct params *p, const char *s)
{
    assert(p->n < MAX_PARAMS);
    p->values[p->n++] = s;
}

static void param_int(struct params *p, int64_t v)
{
    assert(p->n < MAX_PARAMS);
    snprintf(p->numbers[p->n], sizeof p->numbers[p->n], "%" PRId64, v);
    p->values[p->n] = p->numbers[p->n];
    p->n++;
}

static void mark_broken(struct pg_store *h)
{
    if (!h->broken) {
        h->broken = true;
        h->retry_at_ms = clock_monotonic_ms(); /* the first reconnect may happen at once */
        h->backoff_ms = RECONNECT_MIN_MS;
    }
}

/* SQLSTATEs after which the session is gone: connection exceptions (08xxx)
 * and the server shutting the backend down (57P01..57P03). */
static bool sqlstate_ends_session(const char *sqlstate)
{
    return sqlstate && (strncmp(sqlstate, "08", 2) == 0 || strcmp(sqlstate, "57P01") == 0 ||
                        strcmp(sqlstate, "57P02") == 0 || strcmp(sqlstate, "57P03") == 0);
}

/* Records why a statement failed and notices a lost connection. */
static void record_failure(struct store *st, const char *what, const PGresult *res)
{
    struct pg_store *h = backend_of(st);
    const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[200];

    if (PQstatus(h->conn) != CONNECTION_OK || sqlstate_ends_session(sqlstate))
        mark_broken(h);
    if (primary) {
        /* The primary message names objects, never row data (that is in DETAIL). */
        clean_message(h, primary, msg, sizeof msg);
        store_set_error(st, "postgres: %s: %s (SQLSTATE %s)%s", what, msg,
                        sqlstate ? sqlstate : "?", h->broken ? "; will reconnect" : "");
    } else if (res && PQresultStatus(res) != PGRES_FATAL_ERROR &&
               PQresultStatus(res) != PGRES_NONFATAL_ERROR) {
        store_set_error(st, "postgres: %s: unexpected result %s", what,
                        PQresStatus(PQresultStatus(res)));
    } else {
        clean_message(h, PQerrorMessage(h->conn), msg, sizeof msg);
        store_set_error(st, "postgres: %s: %s%s", what, msg,
                        h->broken ? "; will reconnect" : "");
    }
}

/* Runs one statement as an unnamed statement (PQexecParams: nothing named
 * survives the call, which is what transaction-pooling proxies need).
 * Returns the result when its status is `want`, else NULL with the error set. */
static PGresult *exec_params(struct store *st, const char *what, const char *sql,
                             const struct params *p, ExecStatusType want)
{
    struct pg_store *h = backend_of(st);
    int n = p ? p->n : 0;
    PGresult *res;

    for (int i = 0; i < n; i++) {
        if (p->values[i] && !utf8_valid(p->values[i], strlen(p->values[i]))) {
            store_set_error(st, "postgres: %s: a text value is not valid UTF-8;"
                                " PostgreSQL stores text as UTF-8",
                            what);
            return NULL;
        }
    }
    res = PQexecParams(h->conn, sql, n, NULL, n ? p->values : NULL, NULL, NULL, 0);
    if (res && PQresultStatus(res) == want)
        return res;
    record_failure(st, what, res);
    PQclear(res);
    return NULL;
}

/* Runs a statement that returns no rows; `changes` (may be NULL) gets the
 * number of rows it inserted, updated or deleted. */
static int run(struct store *st, const char *what, const char *sql, const struct params *p,
               int64_t *changes)
{
    PGresult *res = exec_params(st, what, sql, p, PGRES_COMMAND_OK);

    if (!res)
        return -1;
    if (changes) {
        const char *n = PQcmdTuples(res);
        *changes = *n ? strtoll(n, NULL, 10) : 0;
    }
    PQclear(res);
    return 0;
}

static PGresult *query(struct store *st, const char *what, const char *sql, const struct params *p)
{
    return exec_params(st, what, sql, p, PGRES_TUPLES_OK);
}

static int64_t get_int(const PGresult *res, int row, int col)
{
    const char *s;
    long long v;

    if (PQgetisnull(res, row, col))
        return 0;
    s = PQgetvalue(res, row, col);
    errno = 0;
    v = strtoll(s, NULL, 10);
    return errno ? 0 : (int64_t)v;
}

static int clamp_int(int64_t v)
{
    return v < INT_MIN ? INT_MIN : v > INT_MAX ? INT_MAX : (int)v;
}

/* Copies a text column into a malloc'd string; NULL for SQL NULL. */
static char *get_dup(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    return xstrndup(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

/* The same for text the schema keeps NOT NULL: "" stands in for SQL NULL, so
 * callers hand out a string in every case. */
static char *get_dup_text(const PGresult *res, int row, int col)
{
    char *text = get_dup(res, row, col);

    return text ? text : xstrdup("");
}

/* ---- connection ---- */

/* True unless the server has closed the idle connection (the socket is
 * readable and reading finds the end, or an error). Never blocks. */
static bool connection_alive(struct pg_store *h)
{
    struct pollfd pfd = { PQsocket(h->conn), POLLIN, 0 };

    if (PQstatus(h->conn) != CONNECTION_OK || pfd.fd < 0)
        return false;
    if (poll(&pfd, 1, 0) <= 0)
        return true;
    return PQconsumeInput(h->conn) == 1 && PQstatus(h->conn) == CONNECTION_OK;
}

static void tx_rollback(struct store *st)
{
    struct pg_store *h = backend_of(st);
    PGTransactionStatusType ts = PQtransactionStatus(h->conn);

    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
        PQclear(PQexecParams(h->conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0));
}

/* Makes sure the handle has a working, idle connection before a call: brings
 * back a broken one, at most as often as the backoff allows, and otherwise
 * fails fast. */
static int pg_ready(struct store *st, const char *what)
{
    struct pg_store *h = backend_of(st);

    if (!h->broken && !connection_alive(h))
        mark_broken(h);
    if (h->broken) {
        int64_t now = clock_monotonic_ms();
        char msg[200];

        if (now < h->retry_at_ms) {
            store_set_error(st, "postgres: %s: no connection to the database"
                                " (next reconnect attempt in %" PRId64 " ms)",
                            what, h->retry_at_ms - now);
            return -1;
        }
        PQreset(h->conn);
        if (PQstatus(h->conn) != CONNECTION_OK) {
            clean_message(h, PQerrorMessage(h->conn), msg, sizeof msg);
            h->retry_at_ms = clock_monotonic_ms() + h->backoff_ms;
            h->backoff_ms = h->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS
                                                                 : h->backoff_ms * 2;
            store_set_error(st, "postgres: %s: cannot reconnect to the database: %s", what, msg);
            return -1;
        }
        h->broken = false;
        h->backoff_ms = RECONNECT_MIN_MS;
    }
    /* A call that failed mid-transaction has already rolled back; this only
     * guards against leaving a transaction open by mistake. */
    if (PQtransactionStatus(h->conn) != PQTRANS_IDLE)
        tx_rollback(st);
    return 0;
}

static int tx_begin(struct store *st, const char *what)
{
    return run(st, what, "BEGIN", NULL, NULL);
}

/* COMMIT, checking that it did commit (a failed transaction "commits" as a
 * ROLLBACK without an error). */
static int tx_commit(struct store *st, const char *what)
{
    struct pg_store *h = backend_of(st);
    PGresult *res;

    if (PQtransactionStatus(h->conn) != PQTRANS_INTRANS) {
        store_set_error(st, "postgres: %s: the transaction failed before commit", what);
        tx_rollback(st);
        return -1;
    }
    res = exec_params(st, what, "COMMIT", NULL, PGRES_COMMAND_OK);
    if (!res) {
        tx_rollback(st);
        return -1;
    }
    if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        store_set_error(st, "postgres: %s: the transaction was rolled back", what);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

/* Libpq prints notices (e.g. a terminated session) to stderr by default: the
 * bot's log is its own, so they are dropped. */
static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* ---- open, migrate, close ---- */

static int run_steps(struct store *st, const char *const *steps, const char *what)
{
    for (size_t i = 0; steps[i]; i++)
        if (run(st, what, steps[i], NULL, NULL) != 0)
            return -1;
    return 0;
}

static int migrate(struct store *st)
{
    struct params p = { .n = 0 };
    PGresult *res;
    int version;

    if (tx_begin(st, "migration") != 0)
        return -1;
    param_int(&p, MIGRATION_LOCK_KEY1);
    param_int(&p, MIGRATION_LOCK_KEY2);
    res = query(st, "migration lock", "SELECT pg_advisory_xact_lock($1::int, $2::int)", &p);
    if (!res)
        goto fail;
    PQclear(res);

    res = query(st, "reading the schema version",
                "SELECT to_regclass('linebot_schema') IS NOT NULL", NULL);
    if (!res)
        goto fail;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0 &&
        run_steps(st, schema_table, "creating the schema table") != 0) {
        PQclear(res);
        goto fail;
    }
    PQclear(res);

    res = query(st, "reading the schema version",
                "SELECT version FROM linebot_schema WHERE id = 1", NULL);
    if (!res)
        goto fail;
    if (PQntuples(res) != 1) {
        PQclear(res);
        store_set_error(st, "postgres: linebot_schema has no version row");
        goto fail;
    }
    version = clamp_int(get_int(res, 0, 0));
    PQclear(res);
    if (version > SCHEMA_VERSION) {
        store_set_error(st, "postgres: the database has schema version %d, newer than this"
                            " linebot knows (%d); upgrade linebot or use another database",
                        version, SCHEMA_VERSION);
        goto fail;
    }
    if (version < 0) {
        store_set_error(st, "postgres: the database has an invalid schema version %d", version);
        goto fail;
    }
    for (; version < SCHEMA_VERSION; version++) {
        struct params bump = { .n = 0 };

        param_int(&bump, version + 1);
        if (run_steps(st, migrations[version], "migration") != 0 ||
            run(st, "migration", "UPDATE linebot_schema SET version = $1 WHERE id = 1", &bump,
                NULL) != 0) {
            char cause[STORE_ERROR_MAX];
            snprintf(cause, sizeof cause, "%s", st->error);
            store_set_error(st, "postgres: migrating the schema to version %d failed: %.180s",
                            version + 1, cause);
            goto fail;
        }
    }
    return tx_commit(st, "migration");

fail:
    tx_rollback(st);
    return -1;
}

static void pg_close(struct store *st)
{
    struct pg_store *h = backend_of(st);

    if (!h)
        return;
    if (h->conn)
        PQfinish(h->conn);
    for (int i = 0; i < MAX_SECRETS; i++)
        free_secret(h->secrets[i]);
    free(h);
    st->backend = NULL;
}

static const struct store_backend_ops pg_ops;

int store_pg_open(struct store *st, const char *url)
{
    /* Defaults first: the URL's own parameters (expanded from dbname) override
     * them. client_encoding comes last, so it always holds. Keepalives and
     * tcp_user_timeout are client-side socket options: they find a dead
     * server while idle or mid-statement, and proxies never see them. */
    static const char *const keywords[] = {
        "connect_timeout", "application_name", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "dbname", "client_encoding", NULL,
    };
    const char *values[sizeof keywords / sizeof keywords[0]] = {
        "5", "linebot", "30", "10", "3", "30000", NULL, "UTF8", NULL,
    };
    struct pg_store *h;
    PQconninfoOption *opts;
    char *normalized, *parse_error = NULL;
    char msg[200];
    size_t scheme_len;

    if (!PQisthreadsafe()) {
        store_set_error(st, "postgres: the libpq library was built without thread support");
        return -1;
    }
    h = xcalloc(1, sizeof *h);
    normalized = xstrdup(url);
    /* libpq only knows the scheme in lower case; "POSTGRES://" would be taken
     * for a database name (and echoed in its errors, password included). */
    scheme_len = strcspn(normalized, ":");
    for (size_t i = 0; i < scheme_len; i++)
        normalized[i] = (char)tolower((unsigned char)normalized[i]);
    st->backend = h;
    st->ops = &pg_ops;
    h->backoff_ms = RECONNECT_MIN_MS;
    opts = PQconninfoParse(normalized, &parse_error);
    if (!opts && !parse_error) /* libpq could not allocate */
        alloc_fail("PQconninfoParse", strlen(normalized));
    if (!opts) {
        elide_quoted(parse_error, msg, sizeof msg);
        store_set_error(st, "postgres: the database URL is malformed: %s", msg);
        PQfreemem(parse_error);
        free_secret(normalized);
        goto fail;
    }
    collect_secrets(h, normalized, opts);
    PQconninfoFree(opts);

    values[6] = normalized;
    h->conn = PQconnectdbParams(keywords, values, 1);
    free_secret(normalized);
    if (!h->conn) /* libpq could not allocate its connection object */
        alloc_fail("PQconnectdbParams", 0);
    if (PQstatus(h->conn) != CONNECTION_OK) {
        clean_message(h, PQerrorMessage(h->conn), msg, sizeof msg);
        store_set_error(st, "postgres: cannot connect to the database: %s", msg);
        goto fail;
    }
    PQsetNoticeProcessor(h->conn, quiet_notices, NULL);
    if (migrate(st) != 0)
        goto fail;
    return 0;

fail:
    pg_close(st);
    st->ops = NULL;
    return -1;
}

/* One statement, so its own transaction: a database that refuses writes (a
 * full disk, a read-only replica after a failover) fails it. */
static int pg_probe_write(struct store *st, int64_t now_ms)
{
    struct params p = { .n = 0 };

    if (pg_ready(st, "health probe") != 0)
        return -1;
    param_int(&p, now_ms);
    return run(st, "health probe", SQL_HEALTH_PROBE, &p, NULL);
}

/* ---- inbox ---- */

static int pg_inbox_add(struct store *st, struct inbox_item *items, size_t n, size_t *n_new)
{
    size_t added = 0;

    /* One event (nearly every webhook) is one statement, atomic on its own:
     * no BEGIN and COMMIT round trips around it. */
    bool tx = n > 1;

    for (size_t i = 0; i < n; i++)
        items[i].added = false;
    if (pg_ready(st, "inbox add") != 0 || (tx && tx_begin(st, "inbox add") != 0))
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct params p = { .n = 0 };
        int64_t changes = 0;

        param_text(&p, items[i].event_id);
        param_text(&p, items[i].chat_id ? items[i].chat_id : "");
        param_int(&p, items[i].timestamp_ms);
        param_text(&p, items[i].payload);
        if (run(st, "inbox add", SQL_INBOX_ADD, &p, &changes) != 0)
            goto fail;
        items[i].added = changes > 0;
        added += changes > 0;
    }
    if (tx && tx_commit(st, "inbox add") != 0)
        goto fail;
    *n_new = added;
    return 0;

fail:
    if (tx)
        tx_rollback(st);
    for (size_t i = 0; i < n; i++)
        items[i].added = false;
    return -1;
}

static int pg_inbox_forget(struct store *st, const char *const *event_ids, size_t n)
{
    if (pg_ready(st, "inbox forget") != 0 || tx_begin(st, "inbox forget") != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct params p = { .n = 0 };

        param_text(&p, event_ids[i]);
        if (run(st, "inbox forget", SQL_INBOX_FORGET, &p, NULL) != 0) {
            tx_rollback(st);
            return -1;
        }
    }
    return tx_commit(st, "inbox forget");
}

static int pg_inbox_depth(struct store *st, int64_t *depth)
{
    PGresult *res;

    if (pg_ready(st, "inbox depth") != 0)
        return -1;
    res = query(st, "inbox depth", SQL_INBOX_DEPTH, NULL);
    if (!res)
        return -1;
    *depth = get_int(res, 0, 0);
    PQclear(res);
    return 0;
}

/* A PostgreSQL array literal ({"a","b"} or {1,2}), kept with its closing
 * brace in a buf of at most ARRAY_LITERAL_MAX bytes. Appends one element;
 * returns -1 when it would not fit (the literal is then unusable). */
static int array_append(struct buf *a, const char *item, bool quote)
{
    if (a->len > 0)
        buf_truncate(a, a->len - 1); /* over the closing brace */
    if (buf_adds(a, a->len ? "," : "{") != 0 || (quote && buf_adds(a, "\"") != 0))
        return -1;
    while (*item) {
        size_t plain = strcspn(item, "\"\\");

        if (buf_add(a, item, plain) != 0)
            return -1;
        item += plain;
        if (*item) { /* a quote or a backslash, escaped */
            if (buf_adds(a, "\\") != 0 || buf_add(a, item, 1) != 0)
                return -1;
            item++;
        }
    }
    if ((quote && buf_adds(a, "\"") != 0) || buf_adds(a, "}") != 0)
        return -1;
    return 0;
}

static const char *array_value(const struct buf *a)
{
    return a->len ? buf_str(a) : "{}";
}

static int skip_too_long(struct store *st)
{
    store_set_error(st, "postgres: claim: the chats and rows to skip exceed %d bytes", ARRAY_LITERAL_MAX);
    return -1;
}

/* Fills `job` from a claim's RETURNING row. */
static void read_job(const PGresult *res, struct job *job)
{
    job->event_id = get_dup_text(res, 0, 0);
    job->chat_id = get_dup_text(res, 0, 1);
    job->payload = get_dup(res, 0, 3);
    job->answer = get_dup(res, 0, 7);
    job->kind = get_dup(res, 0, 8);
    job->timestamp_ms = get_int(res, 0, 2);
    job->state = store_claimed_state(PQgetvalue(res, 0, 4));
    job->claim_gen = get_int(res, 0, 5);
    job->attempts = clamp_int(get_int(res, 0, 6));
}

/* Runs a claim's UPDATE ... RETURNING: 1 claimed (job filled), 0 no row, -1 error. */
static int take(struct store *st, const char *sql, const struct params *p, struct job *job)
{
    PGresult *res = query(st, "claim", sql, p);

    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    read_job(res, job);
    PQclear(res);
    return 1;
}

/* See the top of this file for the protocol and why it keeps one event per
 * chat in progress across instances. */
static int pg_claim_next(struct store *st, int64_t now_ms, struct job *job)
{
    struct buf skip_chats, skip_seqs;
    int64_t lease_until = now_ms > INT64_MAX - STORE_LEASE_MS ? INT64_MAX : now_ms + STORE_LEASE_MS;
    bool in_tx = false;
    int result = 0;

    if (pg_ready(st, "claim") != 0)
        return -1;
    buf_init(&skip_chats, ARRAY_LITERAL_MAX);
    buf_init(&skip_seqs, ARRAY_LITERAL_MAX);
    for (int attempt = 0; attempt < CLAIM_MAX_TRIES && result == 0; attempt++) {
        struct params p = { .n = 0 };
        PGresult *res;
        char *chat_id = NULL, seq[24];
        bool is_task;

        param_int(&p, now_ms);
        param_text(&p, array_value(&skip_chats));
        param_text(&p, array_value(&skip_seqs));
        /* The first look runs outside a transaction: an idle worker's poll
         * is then a single round trip. */
        res = query(st, "claim", SQL_CLAIM_CANDIDATE, &p);
        if (!res)
            goto fail;
        if (PQntuples(res) == 0) {
            PQclear(res);
            break;
        }
        snprintf(seq, sizeof seq, "%s", PQgetvalue(res, 0, 0));
        is_task = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
        chat_id = get_dup_text(res, 0, 1);
        PQclear(res);
        if (!in_tx) {
            if (tx_begin(st, "claim") != 0) {
                free(chat_id);
                goto fail;
            }
            in_tx = true;
        }

        if (!*chat_id || is_task) {
            p.n = 0;
            param_text(&p, seq);
            param_int(&p, now_ms);
            param_int(&p, lease_until);
            result = take(st, SQL_CLAIM_TAKE_ROW, &p, job);
            if (result == 0 && array_append(&skip_seqs, seq, false) != 0)
                result = skip_too_long(st);
        } else {
            p.n = 0;
            param_text(&p, chat_id);
            res = query(st, "claim", SQL_CLAIM_LOCK_CHAT, &p);
            if (!res) {
                result = -1;
            } else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
                PQclear(res); /* another claim of this chat is in flight */
                if (array_append(&skip_chats, chat_id, true) != 0)
                    result = skip_too_long(st);
            } else {
                PQclear(res);
                param_int(&p, now_ms);
                if (run(st, "claim", SQL_CLAIM_REAP, &p, NULL) != 0) {
                    result = -1;
                } else {
                    param_int(&p, lease_until);
                    result = take(st, SQL_CLAIM_TAKE_CHAT, &p, job);
                    if (result == 0 && array_append(&skip_chats, chat_id, true) != 0)
                        result = skip_too_long(st);
                }
            }
        }
        free(chat_id);
        if (result < 0)
            goto fail;
    }
    buf_free(&skip_chats);
    buf_free(&skip_seqs);
    if (result == 1) {
        if (tx_commit(st, "claim") != 0) {
            job_free(job);
            return -1;
        }
        return 1;
    }
    if (in_tx)
        tx_rollback(st); /* maybe reaped expired claims: harmless to undo */
    return 0;

fail:
    buf_free(&skip_chats);
    buf_free(&skip_seqs);
    tx_rollback(st);
    job_free(job);
    return -1;
}

/* The fenced updates: 0 when applied, 1 when the claim is gone, -1 on error. */
static int fenced(struct store *st, const char *what, const char *sql, struct params *p)
{
    int64_t changes = 0;

    if (pg_ready(st, what) != 0 || run(st, what, sql, p, &changes) != 0)
        return -1;
    return changes == 0 ? 1 : 0;
}

static int pg_job_sending(struct store *st, const char *event_id, int64_t claim_gen,
                          const char *answer)
{
    struct params p = { .n = 0 };

    param_text(&p, event_id);
    param_int(&p, claim_gen);
    param_text(&p, answer);
    return fenced(st, "job sending", SQL_JOB_SENDING, &p);
}

static void param_usage(struct params *p, const struct job_finish *f, int64_t value)
{
    if (store_usage_known(f, value))
        param_int(p, value);
    else
        param_text(p, NULL);
}

static int insert_turn(struct store *st, const char *chat_id, const struct turn *turn)
{
    struct params p = { .n = 0 };

    param_text(&p, chat_id);
    param_text(&p, store_role_name(turn->role));
    param_text(&p, turn->speaker);
    param_text(&p, turn->text);
    param_text(&p, turn->message_id);
    param_int(&p, turn->timestamp_ms);
    param_text(&p, turn->user_id);
    return run(st, "history add", SQL_HISTORY_ADD, &p, NULL);
}

/* Inside an open transaction: the charge of `event_id`, once (a charge
 * already there is kept). */
static int insert_charge(struct store *st, const char *event_id, const struct store_charge *c, int64_t at_ms)
{
    struct params p = { .n = 0 };
    param_text(&p, event_id);
    param_text(&p, c->user_id);
    param_text(&p, c->chat_id);
    param_text(&p, c->model);
    param_int(&p, c->day);
    param_int(&p, c->prompt_tokens);
    param_int(&p, c->completion_tokens);
    param_text(&p, c->estimated ? "true" : "false");
    param_int(&p, at_ms);
    return run(st, "usage add", SQL_USAGE_ADD, &p, NULL);
}

/* Inside an open transaction: the fenced finish of the inbox row. 0 done
 * (*chat_id, when asked for, is the row's chat), 1 claim lost, -1 error. */
static int finish_row(struct store *st, const char *event_id, int64_t claim_gen, const struct job_finish *f,
                      int64_t done_at_ms, char **chat_id)
{
    struct params p = { .n = 0 };
    PGresult *res;
    int rc = 0;

    param_text(&p, event_id);
    param_int(&p, claim_gen);
    param_text(&p, job_outcome_name(f->outcome));
    param_int(&p, done_at_ms);
    param_text(&p, f->model);
    param_usage(&p, f, f->usage.prompt_tokens);
    param_usage(&p, f, f->usage.completion_tokens);
    param_usage(&p, f, f->usage.total_tokens);
    res = query(st, "job finish", SQL_JOB_FINISH, &p);
    if (!res)
        return -1;
    if (PQntuples(res) == 0)
        rc = 1;
    else if (chat_id)
        *chat_id = get_dup_text(res, 0, 0);
    PQclear(res);
    return rc;
}

/* One message of `user_id` counted at `at_ms` (in a transaction or not);
 * *count, when asked for, is its number in the window. */
static int rate_add(struct store *st, const char *user_id, int64_t at_ms, int64_t *count)
{
    struct params p = { .n = 0 };
    PGresult *res;

    param_text(&p, user_id);
    param_int(&p, at_ms);
    res = query(st, "rate count", SQL_RATE_COUNT, &p);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        store_set_error(st, "postgres: rate count: no row came back");
        return -1;
    }
    if (count)
        *count = get_int(res, 0, 0);
    PQclear(res);
    return 0;
}

static int pg_job_finish(struct store *st, const char *event_id, int64_t claim_gen, const struct job_finish *f,
                         int64_t done_at_ms)
{
    char *chat_id = NULL;
    int rc;

    if (pg_ready(st, "job finish") != 0 || tx_begin(st, "job finish") != 0)
        return -1;
    rc = finish_row(st, event_id, claim_gen, f, done_at_ms, &chat_id);
    if (rc == 0 && f->charge)
        rc = insert_charge(st, event_id, f->charge, done_at_ms);
    if (rc == 0 && f->rate_user)
        rc = rate_add(st, f->rate_user, f->rate_at_ms, NULL);
    for (size_t i = 0; rc == 0 && i < f->n_turns; i++)
        rc = insert_turn(st, chat_id, &f->turns[i]);
    for (size_t i = 0; rc == 0 && i < f->n_sent; i++) {
        struct params p = { .n = 0 };
        param_text(&p, chat_id);
        param_text(&p, f->sent_ids[i]);
        param_int(&p, f->sent_at_ms);
        rc = run(st, "bot message add", SQL_BOT_ADD, &p, NULL);
    }
    free(chat_id);
    if (rc != 0) {
        tx_rollback(st);
        return rc;
    }
    return tx_commit(st, "job finish");
}

static int pg_context_keep(struct store *st, const char *event_id, int64_t claim_gen, const char *chat_id,
                           const struct turn *turn, int keep, int64_t done_at_ms)
{
    struct job_finish f = { .outcome = OUTCOME_CONTEXT, .usage = { -1, -1, -1 } };
    int rc;

    if (pg_ready(st, "context keep") != 0 || tx_begin(st, "context keep") != 0)
        return -1;
    rc = finish_row(st, event_id, claim_gen, &f, done_at_ms, NULL);
    if (rc == 0)
        rc = insert_turn(st, chat_id, turn);
    if (rc == 0) {
        struct params p = { .n = 0 };
        param_text(&p, chat_id);
        param_int(&p, keep);
        rc = run(st, "context trim", SQL_CONTEXT_TRIM, &p, NULL);
    }
    if (rc != 0) {
        tx_rollback(st);
        return rc;
    }
    return tx_commit(st, "context keep");
}

static int pg_rate_count(struct store *st, const char *user_id, int64_t now_ms, int64_t *count)
{
    if (pg_ready(st, "rate count") != 0)
        return -1;
    return rate_add(st, user_id, now_ms, count);
}

static int pg_rate_peek(struct store *st, const char *user_id, int64_t now_ms, int64_t *count)
{
    struct params p = { .n = 0 };
    PGresult *res;

    param_text(&p, user_id);
    param_int(&p, now_ms);
    if (pg_ready(st, "rate peek") != 0)
        return -1;
    res = query(st, "rate peek", SQL_RATE_PEEK, &p);
    if (!res)
        return -1;
    if (PQntuples(res) == 1)
        *count = get_int(res, 0, 0);
    PQclear(res);
    return 0;
}

static int pg_task_add(struct store *st, const char *event_id, const char *kind, const char *chat_id,
                       const char *payload, int64_t now_ms)
{
    struct params p = { .n = 0 };
    int64_t changes = 0;

    param_text(&p, event_id);
    param_text(&p, kind);
    param_text(&p, chat_id);
    param_int(&p, now_ms);
    param_text(&p, payload);
    if (pg_ready(st, "task add") != 0 || run(st, "task add", SQL_TASK_ADD, &p, &changes) != 0)
        return -1;
    return changes > 0 ? 1 : 0;
}

static int pg_job_park(struct store *st, const char *event_id, int64_t claim_gen, const char *answer)
{
    struct params p = { .n = 0 };

    param_text(&p, event_id);
    param_int(&p, claim_gen);
    param_text(&p, answer);
    return fenced(st, "job park", SQL_JOB_PARK, &p);
}

static int pg_jobs_unpark(struct store *st, int64_t before_ms)
{
    struct params p = { .n = 0 };
    int64_t changes = 0;

    param_int(&p, before_ms);
    if (pg_ready(st, "jobs unpark") != 0 || run(st, "jobs unpark", SQL_JOBS_UNPARK, &p, &changes) != 0)
        return -1;
    return (int)changes;
}

static int pg_inbox_take(struct store *st, const char *event_id, const char *outcome, int64_t done_at_ms)
{
    struct params p = { .n = 0 };
    int64_t changes = 0;

    param_text(&p, event_id);
    param_text(&p, outcome);
    param_int(&p, done_at_ms);
    if (pg_ready(st, "inbox take") != 0 || run(st, "inbox take", SQL_INBOX_TAKE, &p, &changes) != 0)
        return -1;
    return changes > 0 ? 1 : 0;
}

static int pg_job_adopt(struct store *st, const char *event_id, int64_t claim_gen, const char *parked_event_id,
                        int64_t done_at_ms, char **answer)
{
    struct params p = { .n = 0 };
    PGresult *res;
    char *taken = NULL;
    int64_t changes = 0;
    int rc = 0;

    if (pg_ready(st, "job adopt") != 0 || tx_begin(st, "job adopt") != 0)
        return -1;
    param_text(&p, parked_event_id);
    param_text(&p, event_id);
    res = query(st, "job adopt", SQL_ADOPT_GET, &p);
    if (!res)
        goto fail;
    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        tx_rollback(st);
        return 2;
    }
    taken = get_dup(res, 0, 0); /* not NULL: checked above */
    PQclear(res);
    p.n = 0;
    param_text(&p, parked_event_id);
    param_text(&p, job_outcome_name(OUTCOME_HANDED_OVER));
    param_int(&p, done_at_ms);
    if (run(st, "job adopt", SQL_ADOPT_TAKE, &p, NULL) != 0)
        goto fail;
    p.n = 0;
    param_text(&p, event_id);
    param_int(&p, claim_gen);
    param_text(&p, taken);
    if (run(st, "job adopt", SQL_JOB_SENDING, &p, &changes) != 0)
        goto fail;
    if (changes == 0) {
        rc = 1; /* claim lost: the answer stays parked */
        goto fail;
    }
    if (tx_commit(st, "job adopt") != 0) {
        free(taken);
        return -1;
    }
    *answer = taken;
    return 0;

fail:
    tx_rollback(st);
    free(taken);
    return rc ? rc : -1;
}

static int pg_job_release(struct store *st, const char *event_id, int64_t claim_gen)
{
    struct params p = { .n = 0 };

    param_text(&p, event_id);
    param_int(&p, claim_gen);
    return fenced(st, "job release", SQL_JOB_RELEASE, &p);
}

/* Extends the lease, even one that has run out as long as nobody has taken
 * the row over yet (a takeover clears `claimed` under the row lock first). */
static int pg_job_renew(struct store *st, const char *event_id, int64_t claim_gen, int64_t now_ms)
{
    struct params p = { .n = 0 };

    param_text(&p, event_id);
    param_int(&p, claim_gen);
    param_int(&p, now_ms > INT64_MAX - STORE_LEASE_MS ? INT64_MAX : now_ms + STORE_LEASE_MS);
    return fenced(st, "job renew", SQL_JOB_RENEW, &p);
}

/* Nothing to do on a shared store: see store.h. */
static int pg_recover(struct store *st)
{
    (void)st;
    return 0;
}

/* ---- history ---- */

/* One statement on its own (autocommit): 0 or -1. */
static int simple(struct store *st, const char *what, const char *sql, struct params *p)
{
    if (pg_ready(st, what) != 0)
        return -1;
    return run(st, what, sql, p, NULL);
}

/* One lookup: the result with its rows, or NULL on error. */
static PGresult *lookup(struct store *st, const char *what, const char *sql, struct params *p)
{
    if (pg_ready(st, what) != 0)
        return NULL;
    return query(st, what, sql, p);
}

static int pg_bot_message_is(struct store *st, const char *chat_id, const char *message_id)
{
    struct params p = { .n = 0 };
    PGresult *res;
    int found;

    param_text(&p, chat_id);
    param_text(&p, message_id);
    res = lookup(st, "bot message lookup", SQL_BOT_IS, &p);
    if (!res)
        return -1;
    found = PQntuples(res) > 0;
    PQclear(res);
    return found;
}

static int pg_history_load(struct store *st, const char *chat_id, int max_turns, int max_context,
                           struct turn **turns, size_t *n)
{
    struct params p = { .n = 0 };
    struct turn *list;
    PGresult *res;
    int rows;

    param_text(&p, chat_id);
    param_int(&p, max_turns);
    param_int(&p, max_context);
    res = lookup(st, "history load", SQL_HISTORY_LOAD, &p);
    if (!res)
        return -1;
    rows = PQntuples(res);
    if (rows == 0) {
        PQclear(res);
        return 0;
    }
    list = xcalloc((size_t)rows, sizeof *list);
    for (int i = 0; i < rows; i++) {
        struct turn *t = &list[i];

        t->role = store_role_parse(PQgetvalue(res, i, 0));
        t->timestamp_ms = get_int(res, i, 4);
        t->speaker = get_dup(res, i, 1);
        t->text = get_dup_text(res, i, 2);
        t->message_id = get_dup(res, i, 3);
    }
    PQclear(res);
    *turns = list;
    *n = (size_t)rows;
    return 0;
}

/* A single text column of the first row: 1 found (copied), 0 none, -1 error. */
static int lookup_text(struct store *st, const char *what, const char *sql, struct params *p,
                       char **text)
{
    PGresult *res = lookup(st, what, sql, p);

    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    *text = get_dup_text(res, 0, 0);
    PQclear(res);
    return 1;
}

static int pg_chat_waiting_events(struct store *st, const char *chat_id, size_t max, char ***payloads, size_t *n)
{
    struct params p = { .n = 0 };

    param_text(&p, chat_id);
    param_int(&p, (int64_t)max);
    PGresult *res = lookup(st, "waiting events", SQL_CHAT_WAITING, &p);
    if (!res)
        return -1;
    size_t rows = (size_t)PQntuples(res);
    char **list = rows ? xcalloc(rows, sizeof *list) : NULL;
    for (size_t i = 0; i < rows; i++)
        list[i] = get_dup_text(res, (int)i, 0);
    PQclear(res);
    *payloads = list;
    *n = rows;
    return 0;
}

static int pg_message_text(struct store *st, const char *chat_id, const char *message_id,
                           char **text)
{
    struct params p = { .n = 0 };

    param_text(&p, chat_id);
    param_text(&p, message_id);
    return lookup_text(st, "message text", SQL_MSG_TEXT, &p, text);
}

/* The message and the facts remembered from it, in one transaction. */
static int pg_message_delete(struct store *st, const char *chat_id, const char *message_id)
{
    struct params p = { .n = 0 };

    param_text(&p, chat_id);
    param_text(&p, message_id);
    if (pg_ready(st, "message delete") != 0 || tx_begin(st, "message delete") != 0)
        return -1;
    if (run(st, "message delete", SQL_MSG_DELETE, &p, NULL) != 0 ||
        run(st, "message delete", SQL_MEMORY_UNSEND, &p, NULL) != 0) {
        tx_rollback(st);
        return -1;
    }
    return tx_commit(st, "message delete");
}

static int pg_message_update(struct store *st, const char *chat_id, const char *message_id,
                             const char *text)
{
    struct params p = { .n = 0 };

    param_text(&p, chat_id);
    param_text(&p, message_id);
    param_text(&p, text);
    return simple(st, "message update", SQL_MSG_UPDATE, &p);
}

/* The turns and the summary of them, in one transaction. */
static int pg_history_clear(struct store *st, const char *chat_id)
{
    struct params p = { .n = 0 };

    param_text(&p, chat_id);
    if (pg_ready(st, "history clear") != 0 || tx_begin(st, "history clear") != 0)
        return -1;
    if (run(st, "history clear", SQL_HISTORY_CLEAR, &p, NULL) != 0 ||
        run(st, "history clear", SQL_FORGET_SUMMARY, &p, NULL) != 0) {
        tx_rollback(st);
        return -1;
    }
    return tx_commit(st, "history clear");
}

/* One transaction: the chat is forgotten entirely or not at all. Pending
 * events of the chat keep their payloads: they are acknowledged work. */
static int pg_forget_chat(struct store *st, const char *chat_id)
{
    static const char *const steps[] = { SQL_HISTORY_CLEAR, SQL_FORGET_BOT, SQL_FORGET_PROFILES,
                                         SQL_FORGET_RATE, SQL_FORGET_INBOX, SQL_FORGET_CHAT_MODEL,
                                         SQL_FORGET_CHAT_PERSONA,
                                         SQL_FORGET_MEMORY, SQL_FORGET_MEMORY_USER, SQL_FORGET_SUMMARY };

    struct params p = { .n = 0 };

    param_text(&p, chat_id);
    if (pg_ready(st, "forget chat") != 0 || tx_begin(st, "forget chat") != 0)
        return -1;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (run(st, "forget chat", steps[i], &p, NULL) != 0) {
            tx_rollback(st);
            return -1;
        }
    }
    return tx_commit(st, "forget chat");
}

/* ---- profiles ---- */

static int pg_profile_get(struct store *st, const char *chat_id, const char *user_id,
                          int64_t fresh_after_ms, char **display_name, char **language)
{
    struct params p = { .n = 0 };
    PGresult *res;

    param_text(&p, chat_id);
    param_text(&p, user_id);
    res = lookup(st, "profile get", SQL_PROFILE_GET, &p);
    if (!res)
        return -1;
    if (PQntuples(res) == 0 || get_int(res, 0, 1) < fresh_after_ms) {
        PQclear(res);
        return 0;
    }
    *display_name = get_dup_text(res, 0, 0);
    if (language)
        *language = get_dup(res, 0, 2);
    PQclear(res);
    return 1;
}

static int pg_profile_put(struct store *st, const char *chat_id, const char *user_id,
                          const char *display_name, const char *language, int64_t now_ms)
{
    struct params p = { .n = 0 };

    param_text(&p, chat_id);
    param_text(&p, user_id);
    param_text(&p, display_name);
    param_int(&p, now_ms);
    param_text(&p, language);
    return simple(st, "profile put", SQL_PROFILE_PUT, &p);
}

/* ---- the model a chat uses ---- */

static int pg_chat_model_get(struct store *st, const char *chat_id, char **model)
{
    struct params p = { .n = 0 };

    param_text(&p, chat_id);
    return lookup_text(st, "chat model get", SQL_CHAT_MODEL_GET, &p, model);
}

static int pg_chat_model_set(struct store *st, const char *chat_id, const char *model, int64_t now_ms)
{
    struct params p = { .n = 0 };

    param_text(&p, chat_id);
    param_text(&p, model);
    param_int(&p, now_ms);
    return simple(st, "chat model set", SQL_CHAT_MODEL_SET, &p);
}

/* ---- the persona a chat uses ---- */

static int pg_chat_persona_get(struct store *st, const char *chat_id, char **preset, char **custom)
{
    struct params p = { .n = 0 };
    PGresult *res;

    param_text(&p, chat_id);
    res = lookup(st, "chat persona get", SQL_CHAT_PERSONA_GET, &p);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    *preset = get_dup(res, 0, 0);
    *custom = get_dup(res, 0, 1);
    PQclear(res);
    return 1;
}

static int pg_chat_persona_set(struct store *st, const char *chat_id, const char *preset, const char *custom,
                               int64_t now_ms)
{
    struct params p = { .n = 0 };

    param_text(&p, chat_id);
    if (!preset && !custom) /* back to the default */
        return simple(st, "chat persona set", SQL_FORGET_CHAT_PERSONA, &p);
    param_text(&p, preset);
    param_text(&p, custom);
    param_int(&p, now_ms);
    return simple(st, "chat persona set", SQL_CHAT_PERSONA_SET, &p);
}

/* ---- daily token budgets ---- */

static int pg_usage_day(struct store *st, const char *user_id, const char *chat_id, int64_t day,
                        int64_t *user_tokens, int64_t *chat_tokens)
{
    struct params p = { .n = 0 };
    PGresult *res;

    param_text(&p, user_id);
    param_text(&p, chat_id);
    param_int(&p, day);
    if (pg_ready(st, "usage day") != 0)
        return -1;
    res = query(st, "usage day", SQL_USAGE_DAY, &p);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        store_set_error(st, "postgres: usage day: no row came back");
        return -1;
    }
    *user_tokens = get_int(res, 0, 0);
    *chat_tokens = get_int(res, 0, 1);
    PQclear(res);
    return 0;
}

static int pg_budget_notice(struct store *st, const char *subject, int64_t day, const char *event_id,
                            int64_t now_ms)
{
    struct params p = { .n = 0 };
    PGresult *res;
    int mine;

    param_text(&p, subject);
    param_int(&p, day);
    param_text(&p, event_id);
    param_int(&p, now_ms);
    if (pg_ready(st, "budget notice") != 0)
        return -1;
    res = query(st, "budget notice", SQL_NOTICE_TAKE, &p);
    if (!res)
        return -1;
    mine = PQntuples(res) >= 1 && strcmp(PQgetvalue(res, 0, 0), event_id) == 0;
    PQclear(res);
    return mine;
}

/* ---- retention ---- */

/* Deletes in batches, each its own short transaction, so a large purge never
 * holds row locks for long. */
static int pg_purge(struct store *st, int64_t before_ms, int64_t dedup_before_ms, int64_t done_at_ms)
{
    const size_t waiting = sizeof purge_sql / sizeof purge_sql[0] - 1; /* the last: parked answers */
    if (pg_ready(st, "purge") != 0)
        return -1;
    for (size_t i = 0; i < sizeof purge_sql / sizeof purge_sql[0]; i++) {
        bool inbox = i >= PURGE_FIRST_INBOX;
        int64_t changes;

        do {
            struct params p = { .n = 0 };

            param_int(&p, inbox ? dedup_before_ms : before_ms);
            param_int(&p, PURGE_BATCH);
            if (i == waiting) {
                param_text(&p, job_outcome_name(OUTCOME_EXPIRED));
                param_int(&p, done_at_ms);
            }
            if (run(st, "purge", purge_sql[i], &p, &changes) != 0)
                return -1;
        } while (changes >= PURGE_BATCH);
    }
    return 0;
}

/* ---- for the operator (linebot admin) ----
 * The same SQL as store_sqlite.c's ADMIN_STATEMENTS, so the two backends
 * answer alike. */

#define SQL_ADMIN_STATS                                                                        \
    "SELECT timestamp_ms / 86400000 AS day, model, count(*),"                                  \
    " sum(CASE WHEN outcome = 'answered' THEN 1 ELSE 0 END),"                                  \
    " sum(CASE WHEN outcome = 'apologized' THEN 1 ELSE 0 END),"                                \
    " sum(CASE WHEN outcome IN ('failed', 'expired') THEN 1 ELSE 0 END),"                      \
    " coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0),"                   \
    " coalesce(sum(total_tokens), 0)"                                                          \
    " FROM linebot_inbox WHERE kind IS NULL"                                                   \
    " GROUP BY day, model ORDER BY day, model IS NOT NULL, model"
#define SQL_ADMIN_CHATS                                                                        \
    "SELECT c.chat_id, max(c.last_ms), sum(c.turns), sum(c.events),"                           \
    " (SELECT m.model FROM linebot_inbox AS m WHERE m.chat_id = c.chat_id"                     \
    "  AND m.model IS NOT NULL ORDER BY m.timestamp_ms DESC, m.seq DESC LIMIT 1),"             \
    " (SELECT coalesce(p.preset, '(custom)') FROM linebot_chat_personas AS p"                  \
    "  WHERE p.chat_id = c.chat_id)"                                                           \
    " FROM (SELECT chat_id, max(timestamp_ms) AS last_ms, count(*) AS turns, 0 AS events"      \
    "  FROM linebot_history WHERE ($1::text IS NULL OR chat_id = $1) GROUP BY chat_id"         \
    " UNION ALL SELECT chat_id, max(timestamp_ms), 0, count(*) FROM linebot_inbox"             \
    "  WHERE kind IS NULL AND chat_id <> '' AND ($1::text IS NULL OR chat_id = $1)"            \
    "  GROUP BY chat_id) AS c"                                                                 \
    " GROUP BY c.chat_id ORDER BY max(c.last_ms) DESC, c.chat_id"
#define SQL_ADMIN_HISTORY                                                                      \
    "SELECT role, speaker, text, message_id, timestamp_ms FROM linebot_history"                \
    " WHERE chat_id = $1 ORDER BY seq"
/* A turn is the user's by its user id; a turn written before ids were kept,
 * by the display name cached for the user in that chat. */
#define SQL_SPEAKER_IS_USER(h)                                                                 \
    "(" h ".user_id = $1 OR (" h ".user_id IS NULL AND EXISTS (SELECT 1 FROM linebot_profiles AS p" \
    " WHERE p.user_id = $1 AND p.chat_id = " h ".chat_id AND p.display_name = " h ".speaker"      \
    " AND p.display_name <> '')))"
/* The bot's answer is the turn right after the question in its chat (both
 * are written by one store_job_finish, and a chat has one job in progress at
 * a time); before the questions go. */
#define SQL_FORGET_GROUP_ANSWERS                                                               \
    "DELETE FROM linebot_history WHERE role = 'assistant' AND seq IN"                          \
    " (SELECT (SELECT min(a.seq) FROM linebot_history AS a"                                    \
    "   WHERE a.chat_id = h.chat_id AND a.seq > h.seq)"                                        \
    "  FROM linebot_history AS h WHERE h.chat_id <> $1"                                        \
    "  AND h.role = 'user' AND " SQL_SPEAKER_IS_USER("h") ")"
/* A group's summary that covers one of the user's turns tells what they said
 * there: it goes, before the turns do (the next fold writes a new one). */
#define SQL_FORGET_GROUP_SUMMARIES                                                             \
    "DELETE FROM linebot_summaries WHERE chat_id <> $1 AND EXISTS (SELECT 1"                   \
    " FROM linebot_history AS h WHERE h.chat_id = linebot_summaries.chat_id"                   \
    " AND h.seq <= linebot_summaries.upto_seq AND h.role = 'user' AND " SQL_SPEAKER_IS_USER("h") ")"
#define SQL_FORGET_GROUP_TURNS                                                                 \
    "DELETE FROM linebot_history WHERE chat_id <> $1"                                          \
    " AND role IN ('user', 'context') AND " SQL_SPEAKER_IS_USER("linebot_history")
#define SQL_FORGET_USER_PROFILES "DELETE FROM linebot_profiles WHERE chat_id = $1 OR user_id = $1"

static int pg_admin_stats(struct store *st, struct store_day_stats **rows, size_t *n)
{
    PGresult *res = lookup(st, "admin stats", SQL_ADMIN_STATS, NULL);
    int count;

    if (!res)
        return -1;
    count = PQntuples(res);
    if (count > 0) {
        *rows = xcalloc((size_t)count, sizeof **rows);
        for (int i = 0; i < count; i++) {
            (*rows)[i] = (struct store_day_stats){
                .day = get_int(res, i, 0),
                .model = get_dup(res, i, 1),
                .events = get_int(res, i, 2),
                .answered = get_int(res, i, 3),
                .apologized = get_int(res, i, 4),
                .failed = get_int(res, i, 5),
                .prompt_tokens = get_int(res, i, 6),
                .completion_tokens = get_int(res, i, 7),
                .total_tokens = get_int(res, i, 8),
            };
        }
    }
    *n = (size_t)count;
    PQclear(res);
    return 0;
}

static int pg_admin_chats(struct store *st, const char *chat_id, struct store_chat_info **rows, size_t *n)
{
    struct params p = { .n = 0 };
    PGresult *res;
    int count;

    param_text(&p, chat_id);
    res = lookup(st, "admin chats", SQL_ADMIN_CHATS, &p);
    if (!res)
        return -1;
    count = PQntuples(res);
    if (count > 0) {
        *rows = xcalloc((size_t)count, sizeof **rows);
        for (int i = 0; i < count; i++) {
            (*rows)[i] = (struct store_chat_info){
                .chat_id = get_dup_text(res, i, 0),
                .last_active_ms = get_int(res, i, 1),
                .messages = get_int(res, i, 2),
                .events = get_int(res, i, 3),
                .model = get_dup(res, i, 4),
                .persona = get_dup(res, i, 5),
            };
        }
    }
    *n = (size_t)count;
    PQclear(res);
    return 0;
}

static int pg_admin_history(struct store *st, const char *chat_id, struct turn **turns, size_t *n)
{
    struct params p = { .n = 0 };
    PGresult *res;
    int count;

    param_text(&p, chat_id);
    res = lookup(st, "admin history", SQL_ADMIN_HISTORY, &p);
    if (!res)
        return -1;
    count = PQntuples(res);
    if (count > 0) {
        *turns = xcalloc((size_t)count, sizeof **turns);
        for (int i = 0; i < count; i++) {
            (*turns)[i] = (struct turn){
                .role = store_role_parse(PQgetvalue(res, i, 0)),
                .speaker = get_dup(res, i, 1),
                .text = get_dup_text(res, i, 2),
                .message_id = get_dup(res, i, 3),
                .timestamp_ms = get_int(res, i, 4),
            };
        }
    }
    *n = (size_t)count;
    PQclear(res);
    return 0;
}

/* One transaction; the group summaries and turns go first, while the
 * profiles that name the user are still there. */
static int pg_admin_forget(struct store *st, const char *id, struct store_forget_counts *counts)
{
    int64_t budget_rows = 0; /* not reported */
    int64_t settings = 0; /* the user's memory settings, the chat's summary and knowledge base: not reported */
    const struct {
        const char *sql;
        int64_t *count;
    } steps[] = {
        {SQL_FORGET_GROUP_SUMMARIES, &settings},
        {SQL_FORGET_GROUP_ANSWERS, &counts->group_turns},
        {SQL_FORGET_GROUP_TURNS, &counts->group_turns},
        {SQL_HISTORY_CLEAR, &counts->turns},
        {SQL_FORGET_BOT, &counts->bot_messages},
        {SQL_FORGET_USER_PROFILES, &counts->profiles},
        {SQL_FORGET_RATE, &counts->rate_rows},
        /* Finished internal jobs of the chat: their ids name it ("task:summary:<id>:N"). */
        {"DELETE FROM linebot_inbox WHERE state = 'done' AND kind IS NOT NULL AND chat_id = $1", &counts->payloads},
        {SQL_FORGET_INBOX, &counts->payloads},
        {SQL_FORGET_CHAT_MODEL, &counts->choices},
        {SQL_FORGET_CHAT_PERSONA, &counts->personas},
        /* The user's (or chat's) token usage and budget notices (issue 11). */
        {"DELETE FROM linebot_usage WHERE user_id = $1 OR chat_id = $1", &budget_rows},
        {"DELETE FROM linebot_budget_notices WHERE subject = $1", &budget_rows},
        {SQL_FORGET_MEMORY, &counts->memory},
        {SQL_FORGET_MEMORY_USER, &settings},
        {SQL_FORGET_SUMMARY, &settings},
        {SQL_KB_UNBIND, &settings}, /* the knowledge base the operator chose for the chat */
        /* The chat's own knowledge base (io/kb_chat.h: KB_CHAT_PREFIX and the chat id), once
         * kb_chat_forget emptied it: its name holds the id. */
        {"DELETE FROM linebot_kb_embed WHERE kb_id IN (SELECT k.id FROM linebot_kb AS k"
         " WHERE k.name = 'chat:' || $1 AND NOT EXISTS (SELECT 1 FROM linebot_kb_docs AS d WHERE d.kb_id = k.id))",
         &settings},
        {"DELETE FROM linebot_kb AS k WHERE k.name = 'chat:' || $1"
         " AND NOT EXISTS (SELECT 1 FROM linebot_kb_docs AS d WHERE d.kb_id = k.id)",
         &settings},
        /* The words of the documents just removed, which no passage holds any longer
         * (SQL_KB_CHUNKS_DROP only counts them down). Every step is given the id. */
        {"DELETE FROM linebot_kb_terms WHERE chunks <= 0 AND $1::text IS NOT NULL", &settings},
    };
    struct params p = { .n = 0 };

    param_text(&p, id);
    if (pg_ready(st, "admin forget") != 0 || tx_begin(st, "admin forget") != 0)
        return -1;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        int64_t changes = 0;
        if (run(st, "admin forget", steps[i].sql, &p, &changes) != 0) {
            tx_rollback(st);
            memset(counts, 0, sizeof *counts);
            return -1;
        }
        *steps[i].count += changes;
    }
    if (tx_commit(st, "admin forget") != 0) {
        memset(counts, 0, sizeof *counts);
        return -1;
    }
    return 0;
}

/* ---- memory of the user ---- */

static int pg_memory_facts(struct store *st, const char *user_id, struct memory_fact **facts, size_t *n)
{
    struct params p = { .n = 0 };
    PGresult *res;
    int count;

    param_text(&p, user_id);
    res = lookup(st, "memory facts", SQL_MEMORY_FACTS, &p);
    if (!res)
        return -1;
    count = PQntuples(res);
    if (count > 0) {
        *facts = xcalloc((size_t)count, sizeof **facts);
        for (int i = 0; i < count; i++) {
            (*facts)[i] = (struct memory_fact){
                .id = get_int(res, i, 0),
                .text = get_dup_text(res, i, 1),
                .chat_id = get_dup_text(res, i, 2),
                .message_id = get_dup(res, i, 3),
                .created_at_ms = get_int(res, i, 4),
                .used = get_int(res, i, 5),
            };
        }
    }
    *n = (size_t)count;
    PQclear(res);
    return 0;
}

/* Inside an open transaction: a fact said again counts once more, a new one
 * is added; then the user's list is cut to the best MEMORY_KEEP_MAX. */
static int memory_put(struct store *st, const char *user_id, const char *chat_id, const char *message_id,
                      const char *text, int64_t now_ms)
{
    struct params p = { .n = 0 };
    int64_t changes = 0;

    param_text(&p, user_id);
    param_text(&p, text);
    if (run(st, "memory add", SQL_MEMORY_BUMP, &p, &changes) != 0)
        return -1;
    if (changes == 0) {
        param_text(&p, chat_id);
        param_text(&p, message_id);
        param_int(&p, now_ms);
        if (run(st, "memory add", SQL_MEMORY_INSERT, &p, NULL) != 0)
            return -1;
    }
    p.n = 0;
    param_text(&p, user_id);
    param_int(&p, MEMORY_KEEP_MAX);
    return run(st, "memory trim", SQL_MEMORY_TRIM, &p, NULL);
}

static int pg_memory_add(struct store *st, const char *user_id, const char *chat_id, const char *message_id,
                         const char *text, int64_t now_ms)
{
    if (pg_ready(st, "memory add") != 0 || tx_begin(st, "memory add") != 0)
        return -1;
    if (memory_put(st, user_id, chat_id, message_id, text, now_ms) != 0) {
        tx_rollback(st);
        return -1;
    }
    return tx_commit(st, "memory add");
}

static int pg_memory_forget(struct store *st, const char *user_id, int64_t fact_id)
{
    struct params p = { .n = 0 };
    int64_t changes = 0;

    param_text(&p, user_id);
    if (fact_id)
        param_int(&p, fact_id);
    if (pg_ready(st, "memory forget") != 0 ||
        run(st, "memory forget", fact_id ? SQL_MEMORY_FORGET_ONE : SQL_MEMORY_FORGET_ALL, &p, &changes) != 0)
        return -1;
    return clamp_int(changes);
}

static int pg_memory_user(struct store *st, const char *user_id, struct memory_user *out)
{
    struct params p = { .n = 0 };
    PGresult *res;

    param_text(&p, user_id);
    res = lookup(st, "memory user", SQL_MEMORY_USER, &p);
    if (!res)
        return -1;
    if (PQntuples(res) == 1) {
        out->opted_out = get_int(res, 0, 0) != 0;
        out->told = get_int(res, 0, 1) != 0;
        out->seen_seq = get_int(res, 0, 2);
        out->unseen = get_int(res, 0, 3);
        out->last_seq = get_int(res, 0, 4);
    }
    PQclear(res);
    return 0;
}

static int pg_memory_opt_out(struct store *st, const char *user_id, bool opted_out, int64_t now_ms)
{
    struct params p = { .n = 0 };

    param_text(&p, user_id);
    param_text(&p, opted_out ? "true" : "false");
    param_int(&p, now_ms);
    return simple(st, "memory opt out", SQL_MEMORY_OPT_OUT, &p);
}

/* Asked on every answer in a 1:1 chat: a read answers it once the user was
 * told (the upsert's row lock would write to the table every time). */
static int pg_memory_tell(struct store *st, const char *user_id, int64_t now_ms)
{
    struct params p = { .n = 0 };
    int64_t changes = 0;

    param_text(&p, user_id);
    PGresult *res = lookup(st, "memory tell", SQL_MEMORY_TOLD, &p);
    if (!res)
        return -1;
    bool told = PQntuples(res) > 0;
    PQclear(res);
    if (told)
        return 0;
    param_int(&p, now_ms);
    if (run(st, "memory tell", SQL_MEMORY_TELL, &p, &changes) != 0)
        return -1;
    return changes > 0 ? 1 : 0;
}

static int pg_memory_turns(struct store *st, const char *user_id, int64_t after_seq, int64_t upto_seq, int max,
                           struct turn **turns, size_t *n)
{
    struct params p = { .n = 0 };
    PGresult *res;
    int count;

    param_text(&p, user_id);
    param_int(&p, after_seq);
    param_int(&p, upto_seq);
    param_int(&p, max);
    res = lookup(st, "memory turns", SQL_MEMORY_TURNS, &p);
    if (!res)
        return -1;
    count = PQntuples(res);
    if (count > 0) {
        *turns = xcalloc((size_t)count, sizeof **turns);
        for (int i = 0; i < count; i++) {
            (*turns)[i] = (struct turn){
                .role = TURN_USER,
                .text = get_dup_text(res, i, 0),
                .message_id = get_dup(res, i, 1),
                .timestamp_ms = get_int(res, i, 2),
            };
        }
    }
    *n = (size_t)count;
    PQclear(res);
    return 0;
}

static int pg_memory_idle(struct store *st, int64_t idle_before_ms, int max, char ***users, int64_t **last_seqs,
                          size_t *n)
{
    struct params p = { .n = 0 };
    PGresult *res;
    int count;

    param_int(&p, idle_before_ms);
    param_int(&p, max);
    res = lookup(st, "memory idle", SQL_MEMORY_IDLE, &p);
    if (!res)
        return -1;
    count = PQntuples(res);
    if (count > 0) {
        *users = xcalloc((size_t)count, sizeof **users);
        *last_seqs = xcalloc((size_t)count, sizeof **last_seqs);
        for (int i = 0; i < count; i++) {
            (*users)[i] = get_dup_text(res, i, 0);
            (*last_seqs)[i] = get_int(res, i, 1);
        }
    }
    *n = (size_t)count;
    PQclear(res);
    return 0;
}

/* The fence first: a lost claim writes nothing. Extracted facts come from
 * the user's 1:1 chat, whose chat id is the user id. */
static int pg_memory_job_finish(struct store *st, const char *event_id, int64_t claim_gen, const char *user_id,
                                const struct memory_new *facts, size_t n, int64_t upto_seq,
                                const struct job_finish *finish, int64_t done_at_ms)
{
    int rc;

    if (pg_ready(st, "memory job finish") != 0 || tx_begin(st, "memory job finish") != 0)
        return -1;
    rc = finish_row(st, event_id, claim_gen, finish, done_at_ms, NULL);
    if (rc == 0 && finish->charge) /* a background call's tokens, charged once */
        rc = insert_charge(st, event_id, finish->charge, done_at_ms);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = memory_put(st, user_id, user_id, facts[i].message_id, facts[i].text, done_at_ms);
    if (rc == 0) {
        struct params p = { .n = 0 };
        param_text(&p, user_id);
        param_int(&p, upto_seq);
        param_int(&p, done_at_ms);
        rc = run(st, "memory seen", SQL_MEMORY_SEEN, &p, NULL);
    }
    if (rc != 0) {
        tx_rollback(st);
        return rc;
    }
    return tx_commit(st, "memory job finish");
}

/* ---- the rolling summary ---- */

static int pg_summary_get(struct store *st, const char *chat_id, char **summary, int64_t *upto_seq)
{
    struct params p = { .n = 0 };
    PGresult *res;

    param_text(&p, chat_id);
    res = lookup(st, "summary get", SQL_SUMMARY_GET, &p);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    *summary = get_dup_text(res, 0, 0);
    *upto_seq = get_int(res, 0, 1);
    PQclear(res);
    return 1;
}

static int pg_summary_turns(struct store *st, const char *chat_id, int max, struct turn **turns, int64_t **seqs,
                            size_t *n)
{
    struct params p = { .n = 0 };
    PGresult *res;
    int count;

    param_text(&p, chat_id);
    param_int(&p, max);
    res = lookup(st, "summary turns", SQL_SUMMARY_TURNS, &p);
    if (!res)
        return -1;
    count = PQntuples(res);
    if (count > 0) {
        *turns = xcalloc((size_t)count, sizeof **turns);
        *seqs = xcalloc((size_t)count, sizeof **seqs);
        for (int i = 0; i < count; i++) {
            (*seqs)[i] = get_int(res, i, 0);
            (*turns)[i] = (struct turn){
                .role = store_role_parse(PQgetvalue(res, i, 1)),
                .speaker = get_dup(res, i, 2),
                .text = get_dup_text(res, i, 3),
                .message_id = get_dup(res, i, 4),
                .timestamp_ms = get_int(res, i, 5),
            };
        }
    }
    *n = (size_t)count;
    PQclear(res);
    return 0;
}

/* The fence first: a lost claim writes nothing. */
static int pg_summary_job_finish(struct store *st, const char *event_id, int64_t claim_gen, const char *chat_id,
                                 const char *summary, int64_t upto_seq, const struct job_finish *finish,
                                 int64_t done_at_ms)
{
    int rc;

    if (pg_ready(st, "summary job finish") != 0 || tx_begin(st, "summary job finish") != 0)
        return -1;
    rc = finish_row(st, event_id, claim_gen, finish, done_at_ms, NULL);
    if (rc == 0 && finish->charge) /* a background call's tokens, charged once */
        rc = insert_charge(st, event_id, finish->charge, done_at_ms);
    if (rc == 0) {
        struct params p = { .n = 0 };
        param_text(&p, chat_id);
        param_text(&p, summary);
        param_int(&p, upto_seq);
        param_int(&p, done_at_ms);
        rc = run(st, "summary put", SQL_SUMMARY_PUT, &p, NULL);
    }
    if (rc != 0) {
        tx_rollback(st);
        return rc;
    }
    return tx_commit(st, "summary job finish");
}

/* ---- the knowledge base (issue 12) ---- */

#define KB_LITERAL_MAX (256 * 1024 * 1024) /* a batch's array literals: far above KB_BATCH chunks */

/* BEGIN and the knowledge base's write lock. */
static int kb_tx_begin(struct store *st, const char *what)
{
    struct params p = { .n = 0 };
    PGresult *res;

    if (pg_ready(st, what) != 0 || tx_begin(st, what) != 0)
        return -1;
    param_int(&p, KB_LOCK_KEY1);
    param_int(&p, KB_LOCK_KEY2);
    res = query(st, what, SQL_KB_LOCK, &p);
    if (!res) {
        tx_rollback(st);
        return -1;
    }
    PQclear(res);
    return 0;
}

static int pg_kb_begin(struct store *st, const char *kb, const char *path, const char *title, const char *hash,
                       int64_t now_ms, int64_t *doc_id, int *generation, bool *live)
{
    struct params p = { .n = 0 };
    PGresult *res;

    if (kb_tx_begin(st, "kb begin") != 0)
        return -1;
    param_text(&p, kb);
    param_int(&p, now_ms);
    if (run(st, "kb begin", SQL_KB_ENSURE, &p, NULL) != 0)
        goto fail;
    p.n = 0;
    param_text(&p, kb);
    param_text(&p, path);
    res = query(st, "kb begin", SQL_KB_DOC_GET, &p);
    if (!res)
        goto fail;
    if (PQntuples(res) == 1) {
        *doc_id = get_int(res, 0, 0);
        *generation = clamp_int(get_int(res, 0, 1));
        *live = *generation > 0;
        bool same = *live && !PQgetisnull(res, 0, 2) && strcmp(PQgetvalue(res, 0, 2), hash) == 0;
        PQclear(res);
        if (tx_commit(st, "kb begin") != 0)
            return -1;
        return same ? 2 : 0;
    }
    PQclear(res);
    param_text(&p, title);
    param_int(&p, now_ms);
    res = query(st, "kb begin", SQL_KB_DOC_NEW, &p);
    if (!res)
        goto fail;
    if (PQntuples(res) != 1) {
        PQclear(res);
        store_set_error(st, "postgres: kb begin: the knowledge base was not created");
        goto fail;
    }
    *doc_id = get_int(res, 0, 0);
    PQclear(res);
    *generation = 0;
    *live = false;
    return tx_commit(st, "kb begin");

fail:
    tx_rollback(st);
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A chunk's distinct terms and how often each comes, as two array literals
 * appended to the batch's arrays; *n_terms gets the count with repeats. */
static int add_term_arrays(struct buf *terms_arr, struct buf *tfs_arr, const char *joined, int64_t *n_terms)
{
    char *copy = xstrdup(joined);
    char **list = NULL;
    size_t n = 0, cap = 0;
    for (char *save = NULL, *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            list = xrealloc_array(list, cap, sizeof *list);
        }
        list[n++] = t;
    }
    if (n > 0)
        qsort(list, n, sizeof *list, cmp_str);
    struct buf terms, tfs;
    buf_init(&terms, KB_LITERAL_MAX);
    buf_init(&tfs, KB_LITERAL_MAX);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        size_t j = i;
        while (j < n && strcmp(list[j], list[i]) == 0)
            j++;
        char count[24];
        snprintf(count, sizeof count, "%zu", j - i);
        rc = array_append(&terms, list[i], true) | array_append(&tfs, count, false);
        i = j;
    }
    *n_terms = (int64_t)n;
    if (rc == 0)
        rc = array_append(terms_arr, array_value(&terms), true) | array_append(tfs_arr, array_value(&tfs), true);
    buf_free(&terms);
    buf_free(&tfs);
    free(list);
    free(copy);
    return rc;
}

static int pg_kb_chunks_add(struct store *st, int64_t doc_id, int generation, const struct kb_chunk_row *rows,
                            size_t n)
{
    struct buf positions, headings, bodies, terms, tfs, counts;
    int64_t total_terms = 0;
    int rc = 0;

    buf_init(&positions, KB_LITERAL_MAX);
    buf_init(&headings, KB_LITERAL_MAX);
    buf_init(&bodies, KB_LITERAL_MAX);
    buf_init(&terms, KB_LITERAL_MAX);
    buf_init(&tfs, KB_LITERAL_MAX);
    buf_init(&counts, KB_LITERAL_MAX);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char num[24];
        int64_t n_terms = 0;
        snprintf(num, sizeof num, "%d", rows[i].position);
        rc = array_append(&positions, num, false) | array_append(&headings, rows[i].heading, true) |
             array_append(&bodies, rows[i].body, true) | add_term_arrays(&terms, &tfs, rows[i].terms, &n_terms);
        snprintf(num, sizeof num, "%" PRId64, n_terms);
        rc |= array_append(&counts, num, false);
        total_terms += n_terms;
    }
    if (rc != 0) {
        store_set_error(st, "postgres: kb chunks add: the batch is too large");
        rc = -1;
        goto done;
    }
    rc = -1;
    if (kb_tx_begin(st, "kb chunks add") != 0)
        goto done;
    struct params p = { .n = 0 };
    param_int(&p, doc_id);
    param_int(&p, generation);
    param_text(&p, array_value(&positions));
    param_text(&p, array_value(&headings));
    param_text(&p, array_value(&bodies));
    param_text(&p, array_value(&terms));
    param_text(&p, array_value(&tfs));
    param_text(&p, array_value(&counts));
    struct params t = { .n = 0 };
    param_text(&t, array_value(&terms));
    struct params totals = { .n = 0 };
    param_int(&totals, (int64_t)n);
    param_int(&totals, total_terms);
    if (run(st, "kb chunks add", SQL_KB_CHUNKS_ADD, &p, NULL) != 0 ||
        run(st, "kb chunks add", SQL_KB_TERMS_ADD, &t, NULL) != 0 ||
        run(st, "kb chunks add", SQL_KB_STATS_ADD, &totals, NULL) != 0) {
        tx_rollback(st);
        goto done;
    }
    rc = tx_commit(st, "kb chunks add");
done:
    buf_free(&positions);
    buf_free(&headings);
    buf_free(&bodies);
    buf_free(&terms);
    buf_free(&tfs);
    buf_free(&counts);
    return rc;
}

static int pg_kb_chunks_drop(struct store *st, int64_t doc_id, int keep, int limit, int64_t *deleted)
{
    struct params p = { .n = 0 };
    PGresult *res;

    *deleted = 0;
    if (kb_tx_begin(st, "kb chunks drop") != 0)
        return -1;
    param_int(&p, doc_id);
    param_int(&p, keep);
    param_int(&p, limit);
    res = run(st, "kb chunks drop", SQL_KB_VEC_DROP, &p, NULL) == 0
              ? query(st, "kb chunks drop", SQL_KB_CHUNKS_DROP, &p)
              : NULL;
    if (!res) {
        tx_rollback(st);
        return -1;
    }
    int64_t count = PQntuples(res) == 1 ? get_int(res, 0, 0) : 0;
    PQclear(res);
    if (tx_commit(st, "kb chunks drop") != 0)
        return -1;
    *deleted = count;
    return 0;
}

static int pg_kb_switch(struct store *st, int64_t doc_id, int old_generation, int new_generation,
                        const struct kb_put *put, int64_t now_ms)
{
    struct params p = { .n = 0 };
    int64_t changes = 0;

    param_int(&p, doc_id);
    param_int(&p, old_generation);
    param_int(&p, new_generation);
    param_text(&p, put->title);
    param_text(&p, put->content_hash);
    param_int(&p, (int64_t)put->n_chunks);
    param_int(&p, put->bytes);
    param_int(&p, now_ms);
    if (kb_tx_begin(st, "kb switch") != 0)
        return -1;
    if (run(st, "kb switch", SQL_KB_SWITCH, &p, &changes) != 0) {
        tx_rollback(st);
        return -1;
    }
    if (tx_commit(st, "kb switch") != 0)
        return -1;
    return changes == 1 ? 0 : 1;
}

static int pg_kb_hide(struct store *st, int64_t doc_id)
{
    struct params p = { .n = 0 };
    param_int(&p, doc_id);
    return simple(st, "kb hide", SQL_KB_HIDE, &p);
}

static int pg_kb_doc_delete(struct store *st, int64_t doc_id)
{
    struct params p = { .n = 0 };
    param_int(&p, doc_id);
    return simple(st, "kb doc delete", SQL_KB_DOC_DELETE, &p);
}

static int pg_kb_docs(struct store *st, const char *kb, int64_t doc_id, const char *path, struct kb_doc_info **docs,
                      size_t *n)
{
    struct params p = { .n = 0 };
    PGresult *res;

    param_text(&p, kb);
    param_int(&p, doc_id);
    param_text(&p, path);
    res = lookup(st, "kb docs", SQL_KB_DOCS, &p);
    if (!res)
        return -1;
    int count = PQntuples(res);
    if (count > 0) {
        *docs = xcalloc((size_t)count, sizeof **docs);
        for (int i = 0; i < count; i++) {
            (*docs)[i] = (struct kb_doc_info){
                .id = get_int(res, i, 0),
                .kb = get_dup_text(res, i, 1),
                .path = get_dup_text(res, i, 2),
                .title = get_dup_text(res, i, 3),
                .chunks = get_int(res, i, 4),
                .bytes = get_int(res, i, 5),
                .added_at_ms = get_int(res, i, 6),
                .updated_at_ms = get_int(res, i, 7),
                .live = strcmp(PQgetvalue(res, i, 8), "t") == 0,
            };
        }
    }
    *n = (size_t)count;
    PQclear(res);
    return 0;
}

/* The terms as a tsquery literal: 'a' | 'b' (quotes and backslashes doubled). */
static char *kb_tsquery(const char *const *terms, size_t n_terms)
{
    size_t len = 1;
    for (size_t i = 0; i < n_terms; i++)
        len += 2 * strlen(terms[i]) + 5;
    char *q = xmalloc(len), *o = q;
    for (size_t i = 0; i < n_terms; i++) {
        if (i > 0) {
            memcpy(o, " | ", 3);
            o += 3;
        }
        *o++ = '\'';
        for (const char *c = terms[i]; *c; c++) {
            if (*c == '\'' || *c == '\\')
                *o++ = *c;
            *o++ = *c;
        }
        *o++ = '\'';
    }
    *o = '\0';
    return q;
}

static int pg_kb_search(struct store *st, const char *kb, const char *const *terms, size_t n_terms, int k,
                        struct kb_hit **hits, size_t *n)
{
    struct params p = { .n = 0 };
    struct buf arr;
    int rc = 0;

    buf_init(&arr, KB_LITERAL_MAX);
    for (size_t i = 0; i < n_terms && rc == 0; i++)
        rc = array_append(&arr, terms[i], true);
    if (rc != 0) {
        buf_free(&arr);
        store_set_error(st, "postgres: kb search: the question is too long");
        return -1;
    }
    /* The terms it reads: see kb_terms_within. */
    param_text(&p, array_value(&arr));
    PGresult *res = lookup(st, "kb search", SQL_KB_TERM_CHUNKS, &p);
    if (!res) {
        buf_free(&arr);
        return -1;
    }
    const char **within = xcalloc(n_terms, sizeof *within);
    long long *chunks = xcalloc(n_terms, sizeof *chunks);
    for (size_t i = 0; i < n_terms; i++) {
        within[i] = terms[i];
        chunks[i] = (int)i < PQntuples(res) ? get_int(res, (int)i, 0) : 0;
    }
    PQclear(res);
    size_t kept = kb_terms_within(within, chunks, n_terms, KB_SEARCH_POSTINGS);
    free(chunks);
    buf_reset(&arr);
    for (size_t i = 0; i < kept; i++)
        array_append(&arr, within[i], true); /* fewer than before: fits */
    char *tsquery = kb_tsquery(within, kept);
    free(within);
    p = (struct params){ .n = 0 };
    param_text(&p, kb);
    param_text(&p, array_value(&arr));
    param_text(&p, tsquery);
    param_int(&p, k);
    res = lookup(st, "kb search", SQL_KB_SEARCH, &p);
    free(tsquery);
    buf_free(&arr);
    if (!res)
        return -1;
    int count = PQntuples(res);
    if (count > 0) {
        *hits = xcalloc((size_t)count, sizeof **hits);
        for (int i = 0; i < count; i++) {
            (*hits)[i] = (struct kb_hit){
                .chunk_id = get_int(res, i, 0),
                .doc_id = get_int(res, i, 1),
                .score = strtod(PQgetvalue(res, i, 2), NULL),
                .position = clamp_int(get_int(res, i, 3)),
                .path = get_dup_text(res, i, 4),
                .title = get_dup_text(res, i, 5),
                .heading = get_dup_text(res, i, 6),
                .body = get_dup_text(res, i, 7),
            };
        }
    }
    *n = (size_t)count;
    PQclear(res);
    return 0;
}

static int pg_kb_bind(struct store *st, const char *chat_id, const char *kb, int64_t now_ms)
{
    struct params p = { .n = 0 };
    int64_t changes = 0;

    param_text(&p, chat_id);
    param_text(&p, kb);
    param_int(&p, now_ms);
    if (pg_ready(st, "kb bind") != 0 || run(st, "kb bind", SQL_KB_BIND, &p, &changes) != 0)
        return -1;
    return changes > 0 ? 0 : 1;
}

static int pg_kb_unbind(struct store *st, const char *chat_id)
{
    struct params p = { .n = 0 };
    int64_t changes = 0;

    param_text(&p, chat_id);
    if (pg_ready(st, "kb unbind") != 0 || run(st, "kb unbind", SQL_KB_UNBIND, &p, &changes) != 0)
        return -1;
    return changes > 0 ? 1 : 0;
}

static int pg_kb_of_chat(struct store *st, const char *chat_id, char **kb)
{
    struct params p = { .n = 0 };

    param_text(&p, chat_id);
    PGresult *res = lookup(st, "kb of chat", SQL_KB_OF_CHAT, &p);
    if (!res)
        return -1;
    *kb = PQntuples(res) == 1 ? get_dup(res, 0, 0) : NULL;
    PQclear(res);
    return *kb ? 1 : 0;
}

/* ---- the knowledge base's vectors (issue 12) ---- */

static int pg_kb_vec_model(struct store *st, const char *kb, const char *claim, bool reset, int64_t now_ms,
                           char **model, int64_t *version)
{
    struct params p = { .n = 0 };
    PGresult *res;

    if (claim) {
        if (kb_tx_begin(st, "kb vec model") != 0)
            return -1;
        param_text(&p, kb);
        param_int(&p, now_ms);
        struct params c = { .n = 0 };
        param_text(&c, kb);
        param_text(&c, claim);
        if (run(st, "kb vec model", SQL_KB_ENSURE, &p, NULL) != 0 ||
            run(st, "kb vec model", reset ? SQL_KB_VEC_RESET : SQL_KB_VEC_CLAIM, &c, NULL) != 0) {
            tx_rollback(st);
            return -1;
        }
        p.n = 0;
    } else if (pg_ready(st, "kb vec model") != 0) {
        return -1;
    }
    param_text(&p, kb);
    res = query(st, "kb vec model", SQL_KB_VEC_MODEL, &p);
    if (!res) {
        if (claim)
            tx_rollback(st);
        return -1;
    }
    if (PQntuples(res) == 1) {
        *model = get_dup_text(res, 0, 0);
        *version = get_int(res, 0, 1);
    }
    PQclear(res);
    if (claim && tx_commit(st, "kb vec model") != 0) {
        free(*model);
        *model = NULL;
        return -1;
    }
    return 0;
}

static int pg_kb_vec_put(struct store *st, const char *kb, const char *model, const struct kb_vec_row *rows,
                         size_t n)
{
    struct buf arrays[7];
    int rc = 0;

    for (size_t i = 0; i < 7; i++)
        buf_init(&arrays[i], KB_LITERAL_MAX);
    char *hex = xmalloc(2 * VEC_DIMS_MAX + 1);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct kb_vec_row *r = &rows[i];
        char num[6][32];
        snprintf(num[0], sizeof num[0], "%" PRId64, r->chunk_id);
        snprintf(num[1], sizeof num[1], "%" PRId64, r->doc_id);
        snprintf(num[2], sizeof num[2], "%d", r->generation);
        snprintf(num[3], sizeof num[3], "%d", r->position);
        snprintf(num[4], sizeof num[4], "%d", r->dims);
        snprintf(num[5], sizeof num[5], "%.9g", (double)r->scale);
        for (int d = 0; d < r->dims; d++)
            snprintf(hex + 2 * d, 3, "%02x", (unsigned)(uint8_t)r->vec[d]);
        hex[2 * r->dims] = '\0';
        for (size_t a = 0; a < 6; a++)
            rc |= array_append(&arrays[a], num[a], false);
        rc |= array_append(&arrays[6], hex, false);
    }
    free(hex);
    if (rc != 0) {
        store_set_error(st, "postgres: kb vec put: the batch is too large");
        rc = -1;
        goto done;
    }
    rc = -1;
    if (kb_tx_begin(st, "kb vec put") != 0)
        goto done;
    struct params p = { .n = 0 };
    param_text(&p, model);
    for (size_t a = 0; a < 7; a++)
        param_text(&p, array_value(&arrays[a]));
    struct params b = { .n = 0 };
    param_text(&b, kb);
    if (run(st, "kb vec put", SQL_KB_VEC_PUT, &p, NULL) != 0 || run(st, "kb vec put", SQL_KB_VEC_BUMP, &b, NULL) != 0) {
        tx_rollback(st);
        goto done;
    }
    rc = tx_commit(st, "kb vec put");
done:
    for (size_t i = 0; i < 7; i++)
        buf_free(&arrays[i]);
    return rc;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int64_t pg_kb_vec_load(struct store *st, const char *kb, const char *model,
                              void (*row)(void *arg, int64_t chunk_id, int dims, const int8_t *vec), void *arg)
{
    if (pg_ready(st, "kb vec load") != 0 ||
        run(st, "kb vec load", "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", NULL, NULL) != 0)
        return -1;
    int8_t *vec = xmalloc(VEC_DIMS_MAX);
    int64_t count = 0, after = 0;
    for (;;) {
        struct params p = { .n = 0 };
        param_text(&p, kb);
        param_text(&p, model);
        param_int(&p, after);
        param_int(&p, KB_VEC_PAGE);
        PGresult *res = query(st, "kb vec load", SQL_KB_VEC_LOAD, &p);
        if (!res) {
            tx_rollback(st);
            free(vec);
            return -1;
        }
        int rows = PQntuples(res);
        for (int i = 0; i < rows; i++) {
            after = get_int(res, i, 0);
            int64_t dims = get_int(res, i, 1);
            const char *hex = PQgetvalue(res, i, 2);
            /* A row whose bytes are not its dimension is skipped, not believed. */
            if (dims <= 0 || dims > VEC_DIMS_MAX || (size_t)PQgetlength(res, i, 2) != 2 * (size_t)dims)
                continue;
            bool ok = true;
            for (int64_t d = 0; d < dims && ok; d++) {
                int hi = hex_digit(hex[2 * d]), lo = hex_digit(hex[2 * d + 1]);
                ok = hi >= 0 && lo >= 0;
                vec[d] = (int8_t)(uint8_t)(hi * 16 + lo);
            }
            if (ok) {
                row(arg, after, (int)dims, vec);
                count++;
            }
        }
        PQclear(res);
        if (rows < KB_VEC_PAGE)
            break;
    }
    free(vec);
    if (tx_commit(st, "kb vec load") != 0)
        return -1;
    return count;
}

static int pg_kb_chunks(struct store *st, const char *kb, const int64_t *ids, size_t n_ids, int64_t after_id,
                        int limit, struct kb_hit **hits, size_t *n)
{
    struct params p = { .n = 0 };
    struct buf arr;
    int rc = 0;

    buf_init(&arr, KB_LITERAL_MAX);
    param_text(&p, kb);
    if (ids) {
        for (size_t i = 0; i < n_ids && rc == 0; i++) {
            char num[24];
            snprintf(num, sizeof num, "%" PRId64, ids[i]);
            rc = array_append(&arr, num, false);
        }
        if (rc != 0) {
            buf_free(&arr);
            store_set_error(st, "postgres: kb chunks: too many ids");
            return -1;
        }
        param_text(&p, array_value(&arr));
    } else {
        param_int(&p, after_id);
        param_int(&p, limit);
    }
    PGresult *res = lookup(st, "kb chunks", ids ? SQL_KB_CHUNKS_IDS : SQL_KB_CHUNKS_PAGE, &p);
    buf_free(&arr);
    if (!res)
        return -1;
    int count = PQntuples(res);
    if (count > 0) {
        *hits = xcalloc((size_t)count, sizeof **hits);
        for (int i = 0; i < count; i++) {
            (*hits)[i] = (struct kb_hit){
                .chunk_id = get_int(res, i, 0),
                .doc_id = get_int(res, i, 1),
                .position = clamp_int(get_int(res, i, 3)),
                .path = get_dup_text(res, i, 4),
                .title = get_dup_text(res, i, 5),
                .heading = get_dup_text(res, i, 6),
                .body = get_dup_text(res, i, 7),
            };
        }
    }
    *n = (size_t)count;
    PQclear(res);
    return 0;
}

static const struct store_backend_ops pg_ops = {
    .name = "postgres",
    .close = pg_close,
    .probe_write = pg_probe_write,
    .inbox_add = pg_inbox_add,
    .inbox_forget = pg_inbox_forget,
    .inbox_depth = pg_inbox_depth,
    .claim_next = pg_claim_next,
    .job_sending = pg_job_sending,
    .job_finish = pg_job_finish,
    .context_keep = pg_context_keep,
    .rate_count = pg_rate_count,
    .rate_peek = pg_rate_peek,
    .task_add = pg_task_add,
    .job_park = pg_job_park,
    .job_adopt = pg_job_adopt,
    .jobs_unpark = pg_jobs_unpark,
    .inbox_take = pg_inbox_take,
    .job_release = pg_job_release,
    .job_renew = pg_job_renew,
    .recover = pg_recover,
    .bot_message_is = pg_bot_message_is,
    .history_load = pg_history_load,
    .message_text = pg_message_text,
    .chat_waiting_events = pg_chat_waiting_events,
    .message_delete = pg_message_delete,
    .message_update = pg_message_update,
    .history_clear = pg_history_clear,
    .forget_chat = pg_forget_chat,
    .profile_get = pg_profile_get,
    .profile_put = pg_profile_put,
    .chat_model_get = pg_chat_model_get,
    .chat_model_set = pg_chat_model_set,
    .chat_persona_get = pg_chat_persona_get,
    .chat_persona_set = pg_chat_persona_set,
    .purge = pg_purge,
    .usage_day = pg_usage_day,
    .budget_notice = pg_budget_notice,
    .admin_stats = pg_admin_stats,
    .admin_chats = pg_admin_chats,
    .admin_history = pg_admin_history,
    .admin_forget = pg_admin_forget,
    .memory_facts = pg_memory_facts,
    .memory_add = pg_memory_add,
    .memory_forget = pg_memory_forget,
    .memory_user = pg_memory_user,
    .memory_opt_out = pg_memory_opt_out,
    .memory_tell = pg_memory_tell,
    .memory_turns = pg_memory_turns,
    .memory_idle = pg_memory_idle,
    .memory_job_finish = pg_memory_job_finish,
    .summary_get = pg_summary_get,
    .summary_turns = pg_summary_turns,
    .summary_job_finish = pg_summary_job_finish,
    .kb_begin = pg_kb_begin,
    .kb_chunks_add = pg_kb_chunks_add,
    .kb_chunks_drop = pg_kb_chunks_drop,
    .kb_switch = pg_kb_switch,
    .kb_hide = pg_kb_hide,
    .kb_doc_delete = pg_kb_doc_delete,
    .kb_docs = pg_kb_docs,
    .kb_search = pg_kb_search,
    .kb_bind = pg_kb_bind,
    .kb_unbind = pg_kb_unbind,
    .kb_of_chat = pg_kb_of_chat,
    .kb_vec_model = pg_kb_vec_model,
    .kb_vec_put = pg_kb_vec_put,
    .kb_vec_load = pg_kb_vec_load,
    .kb_chunks = pg_kb_chunks,
};
