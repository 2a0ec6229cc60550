/* test_store.c - unit tests of the store (io/store.h), for every backend.
 *
 * Each test gets a fresh, empty database from its backend (see `backends`
 * below) and an open handle on it: a temporary SQLite file, or a scratch
 * schema on the PostgreSQL server named by LINEBOT_TEST_PG_URL (the
 * PostgreSQL group is skipped, saying so, when that is unset;
 * scripts/pg-test-server.sh starts a server for it). Each scratch schema has
 * its own name, so several test programs can share one server at once.
 * Poolers such as PgBouncer drop the startup option that selects the schema:
 * behind one, set LINEBOT_TEST_PG_DATABASES=1 for a fresh database per test
 * instead (the role needs CREATEDB).
 * Tests that look inside the SQLite file itself (schema versions, URL forms)
 * skip on other backends; tests of what only a shared store does (races
 * between instances, reconnecting) skip on SQLite. A small TCP proxy between
 * the store and PostgreSQL injects the network faults; failing writes are
 * injected with RLIMIT_FSIZE on SQLite (the file system refuses to grow the
 * files: a full disk as SQLite sees it) and with a trigger on PostgreSQL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/clock.h"
#include "core/memory.h"
#include "io/store.h"

struct fixture;
struct proxy;
static struct proxy *running_proxy; /* a fault-injecting proxy a failed test left running */
static void proxy_stop(struct proxy *px);

struct backend {
    const char *name;
    bool is_sqlite;
    bool shared;        /* many instances share it: claims are leases, recover does nothing */
    bool text_is_bytes; /* stores any bytes (SQLite); PostgreSQL text must be UTF-8 */
    int (*create)(struct fixture *fx);   /* a fresh empty database: fills fx->url */
    void (*destroy)(struct fixture *fx); /* removes it */
};

struct fixture {
    struct backend *backend;
    char path[64];   /* SQLite: the file */
    char schema[64]; /* PostgreSQL: the scratch schema */
    char url[1024];
    struct store *st;
};

/* ---- backends ---- */

static int sqlite_create(struct fixture *fx)
{
    int fd;

    snprintf(fx->path, sizeof fx->path, "/tmp/linebot-test-store-XXXXXX");
    fd = mkstemp(fx->path);
    if (fd < 0)
        return -1;
    close(fd);
    snprintf(fx->url, sizeof fx->url, "%s", fx->path);
    return 0;
}

static void sqlite_destroy(struct fixture *fx)
{
    static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
    char name[96];

    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(name, sizeof name, "%s%s", fx->path, suffixes[i]);
        unlink(name);
    }
}

/* PostgreSQL: each test gets a fresh schema on LINEBOT_TEST_PG_URL, and the
 * store finds it through search_path (the URL's options parameter); or, with
 * LINEBOT_TEST_PG_DATABASES=1, a fresh database of that name. */
static const char *pg_base_url; /* LINEBOT_TEST_PG_URL */
static PGconn *pg_admin;        /* the test's own connection: schemas, faults */
static bool pg_per_database;    /* LINEBOT_TEST_PG_DATABASES=1 */

/* A URL for the fixture's schema, with `extra` query parameters (may be NULL). */
static void pg_url_for(const struct fixture *fx, const char *extra, char *out, size_t len)
{
    snprintf(out, len, "%s%s%s%s%s%s", pg_base_url, strchr(pg_base_url, '?') ? "&" : "?",
             pg_per_database ? "dbname=" : "options=-csearch_path%3D", fx->schema,
             extra ? "&" : "", extra ? extra : "");
}

/* The fixture's schema as seen from the admin connection, for qualified
 * names: "<schema>." or, with a database per test, nothing (the admin
 * connection cannot see into that database: such tests skip). */
static bool pg_admin_sees(const struct fixture *fx)
{
    (void)fx;
    return !pg_per_database;
}

/* Runs SQL on the admin connection: true when it worked. */
static bool pg_admin_ok(const char *sql)
{
    PGresult *res = PQexec(pg_admin, sql);
    ExecStatusType status = PQresultStatus(res);
    bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;

    if (!ok)
        fprintf(stderr, "admin SQL failed: %s: %s", sql, PQerrorMessage(pg_admin));
    PQclear(res);
    return ok;
}

static int pg_create(struct fixture *fx)
{
    static unsigned counter;
    char sql[128];

    snprintf(fx->schema, sizeof fx->schema, "linebot_test_%ld_%u", (long)getpid(), counter++);
    snprintf(sql, sizeof sql, "CREATE %s %s", pg_per_database ? "DATABASE" : "SCHEMA", fx->schema);
    if (!pg_admin_ok(sql))
        return -1;
    pg_url_for(fx, NULL, fx->url, sizeof fx->url);
    return 0;
}

static void pg_destroy(struct fixture *fx)
{
    char sql[128];

    if (pg_per_database)
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", fx->schema);
    else
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", fx->schema);
    pg_admin_ok(sql);
}

static struct backend backends[] = {
    { "store/sqlite", true, false, true, sqlite_create, sqlite_destroy },
    { "store/postgres", false, true, false, pg_create, pg_destroy },
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    char err[256];

    if (!fx)
        return -1;
    fx->backend = *state;
    if (fx->backend->create(fx) != 0) {
        free(fx);
        return -1;
    }
    fx->st = store_open(fx->url, err, sizeof err);
    if (!fx->st) {
        fprintf(stderr, "store_open: %s\n", err);
        fx->backend->destroy(fx);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static void fsize_restore(void);

static int teardown(void **state)
{
    struct fixture *fx = *state;

    fsize_restore(); /* a storage-fault test that failed half way */

    if (running_proxy)
        proxy_stop(running_proxy);
    store_close(fx->st);
    fx->backend->destroy(fx);
    free(fx);
    return 0;
}

/* ---- helpers ---- */

static struct store *reopen(struct fixture *fx)
{
    char err[256];
    struct store *st = store_open(fx->url, err, sizeof err);

    if (!st)
        fail_msg("store_open: %s", err);
    return st;
}

static void payload_of(const char *event_id, char *buf, size_t len)
{
    snprintf(buf, len, "{\"webhookEventId\":\"%s\"}", event_id);
}

static void add_event(struct store *st, const char *event_id, const char *chat_id, int64_t ts)
{
    char payload[128];
    struct inbox_item it = { event_id, chat_id, ts, payload };
    size_t n_new = 99;

    payload_of(event_id, payload, sizeof payload);
    assert_int_equal(store_inbox_add(st, &it, 1, &n_new), 0);
    assert_int_equal(n_new, 1);
}

/* Claims and checks which event came out; the job stays filled. */
static void claim_expect(struct store *st, const char *event_id, struct job *job)
{
    char payload[128];

    assert_int_equal(store_claim_next(st, 1000, job), 1);
    assert_string_equal(job->event_id, event_id);
    payload_of(event_id, payload, sizeof payload);
    assert_non_null(job->payload);
    assert_string_equal(job->payload, payload);
}

static void claim_none(struct store *st)
{
    struct job job;

    assert_int_equal(store_claim_next(st, 1000, &job), 0);
    assert_null(job.event_id);
}

/* store_job_finish with nothing but the outcome "answered". */
static int job_done(struct store *st, const char *event_id, int64_t claim_gen)
{
    struct job_finish f = { .outcome = OUTCOME_ANSWERED, .usage = { -1, -1, -1 } };
    return store_job_finish(st, event_id, claim_gen, &f);
}

static void finish_job(struct store *st, struct job *job)
{
    assert_int_equal(job_done(st, job->event_id, job->claim_gen), 0);
    job_free(job);
}

static int64_t depth_of(struct store *st)
{
    int64_t depth = -1;

    assert_int_equal(store_inbox_depth(st, &depth), 0);
    return depth;
}

/* Adds an internal job of kind "test" in `chat_id` and claims it: the inbox
 * must hold no claimable webhook event (they go first). */
static void claim_task(struct store *st, const char *chat_id, struct job *job)
{
    static unsigned counter;
    char key[32];

    snprintf(key, sizeof key, "k%u", counter++);
    assert_int_equal(store_task_add(st, "test", key, chat_id, "{}", 1), 1);
    if (store_claim_next(st, 1000, job) != 1)
        fail_msg("claim of a test task: %s", store_last_error(st));
    assert_non_null(job->kind);
    assert_string_equal(job->kind, "test");
    assert_string_equal(job->chat_id, chat_id);
}

/* Writes history turns and bot message ids of a chat the one way the store
 * allows: as what a job finishes with (here an internal job's). */
static void finish_with(struct store *st, const char *chat_id, const struct turn *turns, size_t n,
                        const char *const *ids, size_t n_ids, int64_t sent_at_ms)
{
    struct job job;
    struct job_finish f = { OUTCOME_ANSWERED, turns, n, ids, n_ids, sent_at_ms, NULL, { -1, -1, -1 } };

    claim_task(st, chat_id, &job);
    if (store_job_finish(st, job.event_id, job.claim_gen, &f) != 0)
        fail_msg("job finish: %s", store_last_error(st));
    job_free(&job);
}

static void add_turn(struct store *st, const char *chat_id, enum turn_role role,
                     const char *text, const char *message_id, int64_t ts)
{
    struct turn t = { role, NULL, (char *)text, (char *)message_id, ts };

    if (role == TURN_CONTEXT)
        t.speaker = (char *)"Alice";
    finish_with(st, chat_id, &t, 1, NULL, 0, 0);
}

static void add_bot_id(struct store *st, const char *chat_id, const char *message_id, int64_t ts)
{
    finish_with(st, chat_id, NULL, 0, &message_id, 1, ts);
}

/* PostgreSQL: the admin connection, or with a database per test one of its
 * own into the fixture's database (closed by admin_done). */
static PGconn *admin_pg(const struct fixture *fx)
{
    char url[1024];
    PGconn *conn;

    if (pg_admin_sees(fx))
        return pg_admin;
    pg_url_for(fx, NULL, url, sizeof url);
    conn = PQconnectdb(url);
    if (PQstatus(conn) != CONNECTION_OK)
        fail_msg("admin connection: %s", PQerrorMessage(conn));
    return conn;
}

static void admin_done(PGconn *conn)
{
    if (conn != pg_admin)
        PQfinish(conn);
}

static void admin_format(const struct fixture *fx, const char *sql, char *out, size_t len)
{
    char prefix[80] = "";

    size_t o = 0;

    if (!fx->backend->is_sqlite && pg_admin_sees(fx))
        snprintf(prefix, sizeof prefix, "%s.", fx->schema);
    /* Every "%s" is the prefix. */
    for (const char *p = sql; *p && o + 1 < len; p++) {
        if (p[0] == '%' && p[1] == 's') {
            for (const char *q = prefix; *q && o + 1 < len; q++)
                out[o++] = *q;
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

/* SQL on the fixture's database behind the store's back (the oracle for what
 * the store wrote, and the way to inject faults), with "%s" in `sql` standing
 * for the tables' schema prefix. */
static void admin_exec(const struct fixture *fx, const char *sql)
{
    char text[2048];

    admin_format(fx, sql, text, sizeof text);
    if (fx->backend->is_sqlite) {
        sqlite3 *db;
        char *msg = NULL;
        assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
            fail_msg("admin SQL failed: %s: %s", text, msg);
        sqlite3_close(db);
    } else {
        PGconn *conn = admin_pg(fx);
        PGresult *res = PQexec(conn, text);
        ExecStatusType status = PQresultStatus(res);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
            fail_msg("admin SQL failed: %s: %s", text, PQerrorMessage(conn));
        PQclear(res);
        admin_done(conn);
    }
}

/* The first column of the first row as a malloc'd string; NULL for SQL NULL
 * or no row. */
static char *admin_text(const struct fixture *fx, const char *sql)
{
    char text[2048];
    char *out = NULL;

    admin_format(fx, sql, text, sizeof text);
    if (fx->backend->is_sqlite) {
        sqlite3 *db;
        sqlite3_stmt *s;
        assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        assert_int_equal(sqlite3_prepare_v2(db, text, -1, &s, NULL), SQLITE_OK);
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
            out = strdup((const char *)sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
        sqlite3_close(db);
    } else {
        PGconn *conn = admin_pg(fx);
        PGresult *res = PQexec(conn, text);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            fail_msg("admin SQL failed: %s: %s", text, PQerrorMessage(conn));
        if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
            out = strdup(PQgetvalue(res, 0, 0));
        PQclear(res);
        admin_done(conn);
    }
    return out;
}

static void expect_admin_text(const struct fixture *fx, const char *sql, const char *expected)
{
    char *got = admin_text(fx, sql);

    if (!expected)
        assert_null(got);
    else if (!got)
        fail_msg("%s: no value, expected %s", sql, expected);
    else
        assert_string_equal(got, expected);
    free(got);
}

/* Loads and checks the texts, oldest first, as one "|"-joined string. */
static void expect_history(struct store *st, const char *chat_id, int max_turns,
                           int max_context, const char *expected)
{
    struct turn *turns = NULL;
    size_t n = 0;
    char joined[512] = "";

    if (store_history_load(st, chat_id, max_turns, max_context, &turns, &n) != 0)
        fail_msg("history load: %s", store_last_error(st));
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(joined, "|");
        assert_non_null(turns[i].text);
        assert_true(strlen(joined) + strlen(turns[i].text) < sizeof joined - 2);
        strcat(joined, turns[i].text);
    }
    assert_string_equal(joined, expected);
    if (n == 0)
        assert_null(turns);
    turns_free(turns, n);
}

/* SQLite only: reads or writes PRAGMA user_version behind the store's back. */
static int sqlite_user_version(const char *path, int set_to)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    char sql[64];
    int version = -1;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (set_to >= 0) {
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", set_to);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return version;
}

/* ---- lifecycle ---- */

static void test_open_close_reopen(void **state)
{
    struct fixture *fx = *state;
    struct store *st;

    assert_int_equal(store_ping(fx->st), 0);
    add_event(fx->st, "e1", "chatA", 1);
    store_close(fx->st);

    fx->st = reopen(fx);
    assert_int_equal(store_ping(fx->st), 0);
    assert_int_equal(depth_of(fx->st), 1);

    st = reopen(fx); /* a second handle on the same database */
    assert_int_equal(depth_of(st), 1);
    store_close(st);
    store_close(NULL);
}

static void test_open_errors(void **state)
{
    char err[256];
    (void)state;

    /* PostgreSQL that is not there (port 1 refuses at once), or a URL it
     * cannot use: a clear error that never shows the password, in any form. */
    static const char *const pg_urls[] = {
        "postgres://bot:s3cret@127.0.0.1:1/linebot",
        "postgresql://bot:s3cret@127.0.0.1:1/linebot",
        "POSTGRES://bot:s3cret@127.0.0.1:1/linebot",
        "postgres://bot:s%33cret@127.0.0.1:1/linebot",
        "postgres://127.0.0.1:1/linebot?password=s3cret",
        "postgres://bot:s3cret@127.0.0.1:notaport/linebot",
        "postgres://bot:s3cret@127.0.0.1:1/linebot?sslmode=s3cret",
        "postgres://bot:s3cret@127.0.0.1:1/linebot?nosuchoption=1",
        "postgres://bot:s3cret@[::1/linebot",
        "postgres://bot:s3cret@127.0.0.1:1/linebot?%zz=1",
    };
    for (size_t i = 0; i < sizeof pg_urls / sizeof pg_urls[0]; i++) {
        assert_null(store_open(pg_urls[i], err, sizeof err));
        assert_non_null(strstr(err, "postgres"));
        assert_null(strstr(err, "s3cret"));
        assert_null(strstr(err, "s%33cret"));
        assert_null(strstr(err, "://"));
    }
    assert_non_null(strstr(err, "malformed"));
    assert_null(store_open("mysql://bot:s3cret@db.example/linebot", err, sizeof err));
    assert_null(strstr(err, "s3cret"));
    assert_true(strlen(err) > 0);
    assert_null(store_open("", err, sizeof err));
    assert_true(strlen(err) > 0);
    assert_null(store_open(NULL, err, sizeof err));
    assert_null(store_open("sqlite:", err, sizeof err));
    assert_null(store_open("/nonexistent-dir/linebot/x.db", err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
    assert_null(store_open(NULL, NULL, 0)); /* no error buffer: still no crash */
}

static void test_sqlite_url_forms(void **state)
{
    struct fixture *fx = *state;
    const char *prefixes[] = { "sqlite:", "sqlite://", "file:" };
    char url[160], err[256];

    if (!fx->backend->is_sqlite)
        skip();
    add_event(fx->st, "e1", "chatA", 1);
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        struct store *st;

        snprintf(url, sizeof url, "%s%s", prefixes[i], fx->path);
        st = store_open(url, err, sizeof err);
        if (!st)
            fail_msg("%s: %s", url, err);
        assert_int_equal(depth_of(st), 1);
        store_close(st);
    }
    /* An in-memory database works too (one handle only, nothing durable). */
    {
        struct store *st = store_open("file::memory:", err, sizeof err);
        if (!st)
            fail_msg("memory: %s", err);
        add_event(st, "m1", "chatA", 1);
        assert_int_equal(depth_of(st), 1);
        store_close(st);
    }
}

static void test_sqlite_schema_versions(void **state)
{
    struct fixture *fx = *state;
    char err[256];
    int version;

    if (!fx->backend->is_sqlite)
        skip();
    add_event(fx->st, "e1", "chatA", 1);
    store_close(fx->st);
    fx->st = NULL;

    version = sqlite_user_version(fx->path, -1);
    assert_true(version >= 1);

    /* A newer schema than this binary knows is refused, and left alone. */
    sqlite_user_version(fx->path, version + 1);
    assert_null(store_open(fx->url, err, sizeof err));
    assert_non_null(strstr(err, "newer"));
    assert_int_equal(sqlite_user_version(fx->path, -1), version + 1);

    /* Back at the current version it opens and keeps its data. */
    sqlite_user_version(fx->path, version);
    fx->st = reopen(fx);
    assert_int_equal(depth_of(fx->st), 1);
}

static void test_sqlite_migrates_older_file(void **state)
{
    struct fixture *fx = *state;
    sqlite3 *db;

    if (!fx->backend->is_sqlite)
        skip();
    store_close(fx->st);
    fx->st = NULL;
    sqlite_destroy(fx);

    /* A database at version 0 that already holds something else. */
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE unrelated (x); INSERT INTO unrelated VALUES (1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(sqlite_user_version(fx->path, -1), 0);

    fx->st = reopen(fx);
    assert_true(sqlite_user_version(fx->path, -1) >= 1);
    add_event(fx->st, "e1", "chatA", 1);
    assert_int_equal(depth_of(fx->st), 1);
}

struct lock_holder {
    sqlite3 *db;
    int hold_ms;
};

static void *release_lock_later(void *arg)
{
    struct lock_holder *lh = arg;

    usleep((useconds_t)lh->hold_ms * 1000);
    sqlite3_exec(lh->db, "COMMIT", NULL, NULL, NULL);
    return NULL;
}

/* The file is in WAL mode, and a writer that finds the database locked waits
 * (busy_timeout) instead of failing the webhook. */
static void test_sqlite_wal_and_busy_wait(void **state)
{
    struct fixture *fx = *state;
    struct lock_holder lh = { NULL, 300 };
    pthread_t thread;
    sqlite3_stmt *s;

    if (!fx->backend->is_sqlite)
        skip();
    assert_int_equal(sqlite3_open(fx->path, &lh.db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(lh.db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);

    assert_int_equal(sqlite3_exec(lh.db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(pthread_create(&thread, NULL, release_lock_later, &lh), 0);
    add_event(fx->st, "e1", "chatA", 1); /* waits about 300 ms, then commits */
    pthread_join(thread, NULL);
    sqlite3_close(lh.db);
    assert_int_equal(depth_of(fx->st), 1);
}

/* ---- the durable group commit (SQLite) ---- */

#define DW_THREADS 8

struct dw_arg {
    const char *url;
    int index;
    int64_t claim_gen;     /* even threads: the claim of event dw<index> */
    atomic_int *go;
    int rc;
    size_t n_new;
};

/* Even threads record an answer before a send, odd ones add an event, each
 * on its own handle, as the workers and ingest do. */
static void *dw_thread(void *arg)
{
    struct dw_arg *a = arg;
    char err[256], id[16], answer[32], payload[64];
    struct store *st = store_open(a->url, err, sizeof err);

    a->rc = -2;
    if (!st)
        return NULL;
    if (a->index % 2 == 0)
        store_relax_durability(st);
    while (!atomic_load(a->go))
        usleep(100);
    if (a->index % 2 == 0) {
        snprintf(id, sizeof id, "dw%d", a->index);
        snprintf(answer, sizeof answer, "{\"parts\":[\"a%d\"]}", a->index);
        a->rc = store_job_sending(st, id, a->claim_gen, answer);
    } else {
        snprintf(id, sizeof id, "new%d", a->index);
        payload_of(id, payload, sizeof payload);
        struct inbox_item it = {id, "chatNew", a->index, payload};
        a->rc = store_inbox_add(st, &it, 1, &a->n_new);
    }
    store_close(st);
    return NULL;
}

/* WAL frames written since the log was last truncated. */
static long wal_frames(const struct fixture *fx, sqlite3 *db)
{
    char wal[600];
    struct stat sb;
    sqlite3_stmt *s;
    long page = 0;

    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    page = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    snprintf(wal, sizeof wal, "%s-wal", fx->path);
    if (stat(wal, &sb) != 0 || sb.st_size <= 32)
        return 0;
    return (long)((sb.st_size - 32) / (page + 24));
}

static void wal_truncate(sqlite3 *db)
{
    assert_int_equal(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
}

/* Durable writes (answer records, inbox adds) that come while another one
 * commits share the next commit: fewer commits than writes, each write with
 * its own result (a lost claim among them is still told apart), and all of
 * them in the store. The oracle is the WAL's size: a commit writes each
 * page it changed once, so separate commits write far more frames. */
static void test_sqlite_durable_writes_share_a_commit(void **state)
{
    struct fixture *fx = *state;
    struct dw_arg args[DW_THREADS];
    pthread_t threads[DW_THREADS];
    atomic_int go = 0;
    struct lock_holder lh = {NULL, 150};
    pthread_t holder;
    struct job job;

    if (!fx->backend->is_sqlite)
        skip();
    for (int i = 0; i < DW_THREADS; i += 2) {
        char id[16], chat[16];
        snprintf(id, sizeof id, "dw%d", i);
        snprintf(chat, sizeof chat, "chat%d", i);
        add_event(fx->st, id, chat, i);
    }
    add_event(fx->st, "lone1", "chatL1", 100);
    add_event(fx->st, "lone2", "chatL2", 101);
    memset(args, 0, sizeof args);
    for (int i = 0; i < DW_THREADS / 2 + 2; i++) {
        assert_int_equal(store_claim_next(fx->st, 1000, &job), 1);
        if (strncmp(job.event_id, "dw", 2) == 0)
            args[atoi(job.event_id + 2)].claim_gen = job.claim_gen;
        if (strcmp(job.event_id, "lone1") == 0)
            args[1].claim_gen = job.claim_gen; /* borrowed for the lone write below */
        job_free(&job);
    }
    args[0].claim_gen += 1; /* a lost claim: nothing written for it */

    /* What one write commits alone, of each kind. */
    assert_int_equal(sqlite3_open(fx->path, &lh.db), SQLITE_OK);
    sqlite3_busy_timeout(lh.db, 5000);
    wal_truncate(lh.db);
    assert_int_equal(store_job_sending(fx->st, "lone1", args[1].claim_gen, "{}"), 0);
    long lone_send = wal_frames(fx, lh.db);
    wal_truncate(lh.db);
    add_event(fx->st, "lone3", "chatL3", 102);
    long lone_add = wal_frames(fx, lh.db);
    wal_truncate(lh.db);
    assert_true(lone_send >= 1 && lone_add >= 1);
    args[1].claim_gen = 0;

    /* All of them come while the file is locked: the first waits for the
     * lock, the others wait for it. */
    assert_int_equal(sqlite3_exec(lh.db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < DW_THREADS; i++) {
        args[i].url = fx->url;
        args[i].index = i;
        args[i].go = &go;
        assert_int_equal(pthread_create(&threads[i], NULL, dw_thread, &args[i]), 0);
    }
    atomic_store(&go, 1);
    assert_int_equal(pthread_create(&holder, NULL, release_lock_later, &lh), 0);
    for (int i = 0; i < DW_THREADS; i++)
        pthread_join(threads[i], NULL);
    pthread_join(holder, NULL);

    long frames = wal_frames(fx, lh.db);
    long separate = (DW_THREADS / 2) * (lone_send + lone_add);
    print_message("durable writes: %ld WAL frames for %d writes (one alone: %ld answer record, %ld inbox add)\n",
                  frames, DW_THREADS, lone_send, lone_add);
    assert_true(frames >= 1);
    assert_true(frames * 2 <= separate);
    sqlite3_close(lh.db);

    assert_int_equal(args[0].rc, 1); /* the lost claim */
    for (int i = 1; i < DW_THREADS; i++) {
        assert_int_equal(args[i].rc, 0);
        if (i % 2)
            assert_int_equal(args[i].n_new, 1);
    }
    expect_admin_text(fx, "SELECT count(*) FROM %slinebot_inbox WHERE event_id LIKE 'new%'", "4");
    expect_admin_text(fx, "SELECT answer FROM %slinebot_inbox WHERE event_id = 'dw6'", "{\"parts\":[\"a6\"]}");
    expect_admin_text(fx, "SELECT count(*) FROM %slinebot_inbox WHERE state = 'sending' AND event_id LIKE 'dw%'",
                      "3");
    expect_admin_text(fx, "SELECT state FROM %slinebot_inbox WHERE event_id = 'dw0'", "working");
}

/* The write-ahead log is copied back into the database by the store's own
 * checkpointer thread (SQLite's automatic checkpoint inside a commit is off):
 * it must still happen, or the log would grow without end. 3000 commits
 * write about 12000 frames; the log restarts from its start after each
 * complete checkpoint, so it stays a fraction of that. */
static void test_sqlite_log_is_checkpointed(void **state)
{
    struct fixture *fx = *state;
    char wal[600];
    struct stat sb;

    if (!fx->backend->is_sqlite)
        skip();
    assert_int_equal(stat(fx->path, &sb), 0);
    off_t before = sb.st_size;
    for (int i = 0; i < 3000; i++) {
        char id[32];
        snprintf(id, sizeof id, "ck%05d", i);
        add_event(fx->st, id, id, i); /* a chat each: the inbox's pages spread */
        if (i % 100 == 99)
            usleep(20000); /* the checkpointer runs between bursts */
    }
    usleep(200000);
    snprintf(wal, sizeof wal, "%s-wal", fx->path);
    assert_int_equal(stat(wal, &sb), 0);
    long frames = (long)(sb.st_size / (4096 + 24));
    print_message("write-ahead log: %ld frames after 3000 commits\n", frames);
    assert_true(frames < 4000);
    assert_int_equal(stat(fx->path, &sb), 0);
    print_message("database file: %lld bytes before, %lld after\n", (long long)before, (long long)sb.st_size);
    assert_true(sb.st_size > before + 50 * 4096); /* the rows reached the database file */
    assert_int_equal(depth_of(fx->st), 3000);
}

/* ---- inbox ---- */

static void test_inbox_dedup(void **state)
{
    struct fixture *fx = *state;
    struct inbox_item batch1[] = {
        { "e1", "chatA", 1, "{}" },
        { "e2", "chatA", 2, "{}" },
        { "e1", "chatA", 1, "{}" }, /* the same event twice in one batch */
    };
    struct inbox_item batch2[] = {
        { "e2", "chatA", 2, "{}" }, /* known from the first batch */
        { "e3", NULL, 3, "{}" },    /* no chat */
    };
    struct inbox_item bad[] = {
        { "e4", "chatA", 4, "{}" },
        { NULL, "chatA", 5, "{}" },
    };
    size_t n_new = 99;

    assert_int_equal(store_inbox_add(fx->st, batch1, 3, &n_new), 0);
    assert_int_equal(n_new, 2);
    assert_int_equal(store_inbox_add(fx->st, batch2, 2, &n_new), 0);
    assert_int_equal(n_new, 1);
    assert_int_equal(store_inbox_add(fx->st, batch2, 2, NULL), 0);
    assert_int_equal(store_inbox_add(fx->st, NULL, 0, &n_new), 0);
    assert_int_equal(n_new, 0);
    assert_int_equal(depth_of(fx->st), 3);

    /* A bad item fails the whole batch: nothing of it is committed. */
    assert_int_equal(store_inbox_add(fx->st, bad, 2, &n_new), -1);
    assert_int_equal(n_new, 0);
    assert_true(strlen(store_last_error(fx->st)) > 0);
    assert_int_equal(depth_of(fx->st), 3);
    bad[1].payload = NULL;
    bad[1].event_id = "e5";
    assert_int_equal(store_inbox_add(fx->st, bad, 2, &n_new), -1);
    assert_int_equal(store_inbox_add(fx->st, NULL, 2, &n_new), -1);
    assert_int_equal(depth_of(fx->st), 3);

    /* A done event is still known. */
    {
        struct job job;
        while (store_claim_next(fx->st, 1, &job) == 1)
            finish_job(fx->st, &job);
    }
    assert_int_equal(depth_of(fx->st), 0);
    assert_int_equal(store_inbox_add(fx->st, batch1, 3, &n_new), 0);
    assert_int_equal(n_new, 0);
}

static void test_claim_order(void **state)
{
    struct fixture *fx = *state;
    struct job job;

    add_event(fx->st, "a-300", "chatA", 300);
    add_event(fx->st, "a-100-first", "chatA", 100);
    add_event(fx->st, "b-150", "chatB", 150);
    add_event(fx->st, "a-100-second", "chatA", 100);
    add_event(fx->st, "a-200", "chatA", 200);

    /* Oldest timestamp first; equal timestamps in arrival order. */
    claim_expect(fx->st, "a-100-first", &job);
    assert_int_equal(job.state, JOB_PENDING);
    assert_int_equal(job.attempts, 1);
    assert_string_equal(job.chat_id, "chatA");
    assert_int_equal(job.timestamp_ms, 100);
    assert_null(job.answer);
    finish_job(fx->st, &job);
    claim_expect(fx->st, "a-100-second", &job);
    finish_job(fx->st, &job);
    claim_expect(fx->st, "b-150", &job);
    finish_job(fx->st, &job);
    claim_expect(fx->st, "a-200", &job);
    finish_job(fx->st, &job);
    claim_expect(fx->st, "a-300", &job);
    finish_job(fx->st, &job);
    claim_none(fx->st);
}

static void test_claim_chat_exclusive(void **state)
{
    struct fixture *fx = *state;
    struct store *other = reopen(fx);
    struct job a1, b1, a2;

    add_event(fx->st, "a1", "chatA", 1);
    add_event(fx->st, "a2", "chatA", 2);
    add_event(fx->st, "b1", "chatB", 3);

    claim_expect(fx->st, "a1", &a1);
    claim_expect(other, "b1", &b1); /* not a2: chat A is busy */
    claim_none(other);
    claim_none(fx->st);
    finish_job(fx->st, &a1);
    claim_expect(other, "a2", &a2);
    finish_job(other, &a2);
    finish_job(fx->st, &b1);
    claim_none(fx->st);
    store_close(other);
}

/* The events of a chat that wait behind the one in progress (an imageSet's
 * other images): pending webhook events only, oldest first, capped. */
static void test_chat_waiting_events(void **state)
{
    struct fixture *fx = *state;
    struct job a1;
    char **payloads;
    size_t n;

    add_event(fx->st, "w3", "chatW", 3);
    add_event(fx->st, "w1", "chatW", 1);
    add_event(fx->st, "w2", "chatW", 2);
    add_event(fx->st, "x1", "chatX", 1);
    assert_int_equal(store_task_add(fx->st, "memory", "chatW:1", "chatW", "{\"task\":1}", 1), 1);
    claim_expect(fx->st, "w1", &a1); /* in progress: not waiting */

    assert_int_equal(store_chat_waiting_events(fx->st, "chatW", 10, &payloads, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(payloads[0], "{\"webhookEventId\":\"w2\"}");
    assert_string_equal(payloads[1], "{\"webhookEventId\":\"w3\"}");
    for (size_t i = 0; i < n; i++)
        free(payloads[i]);
    free(payloads);

    assert_int_equal(store_chat_waiting_events(fx->st, "chatW", 1, &payloads, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(payloads[0], "{\"webhookEventId\":\"w2\"}");
    free(payloads[0]);
    free(payloads);

    assert_int_equal(store_chat_waiting_events(fx->st, "nobody", 10, &payloads, &n), 0);
    assert_int_equal(n, 0);
    assert_null(payloads);
    assert_int_equal(store_chat_waiting_events(fx->st, NULL, 10, &payloads, &n), -1);
    finish_job(fx->st, &a1);
}

static void test_claim_empty_chat_never_blocks(void **state)
{
    struct fixture *fx = *state;
    struct job e1, e2, e3, a1;

    add_event(fx->st, "e1", NULL, 1);
    add_event(fx->st, "e2", "", 2);
    add_event(fx->st, "a1", "chatA", 3);
    add_event(fx->st, "e3", NULL, 4);

    claim_expect(fx->st, "e1", &e1);
    assert_string_equal(e1.chat_id, "");
    claim_expect(fx->st, "e2", &e2);
    claim_expect(fx->st, "a1", &a1);
    claim_expect(fx->st, "e3", &e3);
    claim_none(fx->st);
    finish_job(fx->st, &e1);
    finish_job(fx->st, &e2);
    finish_job(fx->st, &e3);
    finish_job(fx->st, &a1);
}

static void test_fencing(void **state)
{
    struct fixture *fx = *state;
    struct job job, again;
    int64_t gen;

    add_event(fx->st, "e1", "chatA", 1);
    claim_expect(fx->st, "e1", &job);
    gen = job.claim_gen;

    assert_int_equal(store_job_sending(fx->st, "e1", gen + 1, "{\"x\":1}"), 1);
    assert_int_equal(job_done(fx->st, "e1", gen - 1), 1);
    assert_int_equal(store_job_release(fx->st, "e1", gen + 7), 1);
    assert_int_equal(job_done(fx->st, "nope", gen), 1);
    /* Nothing changed: still held, still working. */
    claim_none(fx->st);
    assert_int_equal(depth_of(fx->st), 1);

    /* After a release the old claim is dead even with the right gen... */
    assert_int_equal(store_job_release(fx->st, "e1", gen), 0);
    assert_int_equal(store_job_release(fx->st, "e1", gen), 1);
    assert_int_equal(store_job_sending(fx->st, "e1", gen, "{}"), 1);
    assert_int_equal(job_done(fx->st, "e1", gen), 1);

    /* ...and the next claim has a new one. */
    claim_expect(fx->st, "e1", &again);
    assert_true(again.claim_gen > gen);
    assert_int_equal(again.attempts, 2);
    assert_int_equal(job_done(fx->st, "e1", gen), 1);
    assert_int_equal(store_job_sending(fx->st, "e1", again.claim_gen, "{\"x\":2}"), 0);
    assert_int_equal(job_done(fx->st, "e1", again.claim_gen), 0);
    assert_int_equal(job_done(fx->st, "e1", again.claim_gen), 1);
    assert_int_equal(depth_of(fx->st), 0);
    job_free(&job);
    job_free(&again);
}

/* When a crashed instance's claims become claimable again: at once after
 * store_recover on SQLite; on a shared store (where recover does nothing)
 * once their lease, taken at 1000 by claim_expect, has run out. */
static int64_t after_crash_ms(const struct fixture *fx)
{
    return fx->backend->shared ? 1000 + STORE_LEASE_MS + 1 : 1000;
}

static void claim_expect_at(struct store *st, int64_t now_ms, const char *event_id, struct job *job)
{
    char payload[128];

    if (store_claim_next(st, now_ms, job) != 1)
        fail_msg("expected to claim %s: %s", event_id, store_last_error(st));
    assert_string_equal(job->event_id, event_id);
    payload_of(event_id, payload, sizeof payload);
    assert_non_null(job->payload);
    assert_string_equal(job->payload, payload);
}

static void test_sending_survives_crash(void **state)
{
    struct fixture *fx = *state;
    const char *answer = "{\"messages\":[\"hello\"],\"sent\":0}";
    struct job job, after;

    add_event(fx->st, "e1", "chatA", 1);
    add_event(fx->st, "e2", "chatA", 2);
    claim_expect(fx->st, "e1", &job);
    assert_int_equal(store_job_sending(fx->st, "e1", job.claim_gen, answer), 0);
    store_close(fx->st); /* the process dies mid-send */

    fx->st = reopen(fx);
    claim_none(fx->st); /* still held until recovery (or the lease's end) */
    assert_int_equal(store_recover(fx->st), 0);
    if (fx->backend->shared)
        claim_none(fx->st); /* recover does nothing: the lease is still live */

    claim_expect_at(fx->st, after_crash_ms(fx), "e1", &after);
    assert_int_equal(after.state, JOB_SENDING);
    assert_non_null(after.answer);
    assert_string_equal(after.answer, answer);
    assert_int_equal(after.attempts, 2);
    assert_true(after.claim_gen > job.claim_gen);
    claim_none(fx->st); /* chat A is busy again */
    assert_int_equal(job_done(fx->st, "e1", job.claim_gen), 1);
    finish_job(fx->st, &after);
    job_free(&job);

    claim_expect(fx->st, "e2", &job);
    assert_int_equal(job.state, JOB_PENDING);
    finish_job(fx->st, &job);
    assert_int_equal(depth_of(fx->st), 0);
}

static void test_working_crash_goes_back_to_pending(void **state)
{
    struct fixture *fx = *state;
    struct job job, after;

    add_event(fx->st, "e1", "chatA", 1);
    claim_expect(fx->st, "e1", &job);
    store_close(fx->st);

    fx->st = reopen(fx);
    assert_int_equal(store_recover(fx->st), 0);
    assert_int_equal(store_recover(fx->st), 0); /* idempotent */
    assert_int_equal(depth_of(fx->st), 1);
    claim_expect_at(fx->st, after_crash_ms(fx), "e1", &after);
    assert_int_equal(after.state, JOB_PENDING);
    assert_int_equal(after.attempts, 2);
    assert_null(after.answer);
    assert_int_equal(job_done(fx->st, "e1", job.claim_gen), 1);
    assert_int_equal(store_job_sending(fx->st, "e1", job.claim_gen, "{}"), 1);
    finish_job(fx->st, &after);
    job_free(&job);
}

static void test_release(void **state)
{
    struct fixture *fx = *state;
    struct job job;

    add_event(fx->st, "e1", "chatA", 1);
    add_event(fx->st, "e2", "chatA", 2);

    claim_expect(fx->st, "e1", &job);
    assert_int_equal(store_job_release(fx->st, "e1", job.claim_gen), 0);
    job_free(&job);
    assert_int_equal(depth_of(fx->st), 2);
    claim_expect(fx->st, "e1", &job); /* first in line again */
    assert_int_equal(job.state, JOB_PENDING);
    assert_int_equal(job.attempts, 2);

    /* A job in `sending` stays in sending, and can be claimed to finish it. */
    assert_int_equal(store_job_sending(fx->st, "e1", job.claim_gen, "{\"a\":1}"), 0);
    assert_int_equal(store_job_release(fx->st, "e1", job.claim_gen), 0);
    job_free(&job);
    claim_expect(fx->st, "e1", &job);
    assert_int_equal(job.state, JOB_SENDING);
    assert_string_equal(job.answer, "{\"a\":1}");
    finish_job(fx->st, &job);
    claim_expect(fx->st, "e2", &job);
    finish_job(fx->st, &job);
}

static void test_depth(void **state)
{
    struct fixture *fx = *state;
    struct job j1, j2;

    assert_int_equal(depth_of(fx->st), 0);
    add_event(fx->st, "e1", "chatA", 1);
    add_event(fx->st, "e2", "chatB", 2);
    add_event(fx->st, "e3", "chatC", 3);
    assert_int_equal(depth_of(fx->st), 3);
    claim_expect(fx->st, "e1", &j1);
    claim_expect(fx->st, "e2", &j2);
    assert_int_equal(depth_of(fx->st), 3); /* pending + working */
    assert_int_equal(store_job_sending(fx->st, "e2", j2.claim_gen, "{}"), 0);
    assert_int_equal(depth_of(fx->st), 3); /* + sending */
    finish_job(fx->st, &j1);
    assert_int_equal(depth_of(fx->st), 2);
    finish_job(fx->st, &j2);
    assert_int_equal(depth_of(fx->st), 1);
    assert_int_equal(store_inbox_depth(fx->st, NULL), -1);
}

/* ---- history ---- */

static void test_history_load(void **state)
{
    struct fixture *fx = *state;
    struct turn *turns = NULL;
    size_t n = 0;

    add_turn(fx->st, "chatA", TURN_USER, "u1", "m1", 1);
    add_turn(fx->st, "chatA", TURN_ASSISTANT, "a1", "s1", 2);
    add_turn(fx->st, "chatA", TURN_CONTEXT, "c1", "m2", 3);
    add_turn(fx->st, "chatA", TURN_CONTEXT, "c2", "m3", 4);
    add_turn(fx->st, "chatA", TURN_USER, "u2", "m4", 5);
    add_turn(fx->st, "chatA", TURN_ASSISTANT, "a2", NULL, 6);
    add_turn(fx->st, "chatA", TURN_CONTEXT, "c3", "m5", 7);
    add_turn(fx->st, "chatA", TURN_CONTEXT, "c4", "m6", 8);
    add_turn(fx->st, "chatA", TURN_CONTEXT, "c5", "m7", 9);
    add_turn(fx->st, "chatB", TURN_USER, "other chat", "m8", 10);

    /* Context older than the last answer is left out: the model saw it. */
    expect_history(fx->st, "chatA", 10, 10, "u1|a1|u2|a2|c3|c4|c5");
    expect_history(fx->st, "chatA", 2, 2, "u2|a2|c4|c5");
    expect_history(fx->st, "chatA", 3, 0, "a1|u2|a2");
    expect_history(fx->st, "chatA", 0, 1, "c5");
    expect_history(fx->st, "chatA", 0, 0, "");
    expect_history(fx->st, "chatA", -5, -1, "");
    expect_history(fx->st, "chatB", 10, 10, "other chat");
    expect_history(fx->st, "nobody", 10, 10, "");

    /* Without any answer yet: the newest context. */
    add_turn(fx->st, "chatC", TURN_CONTEXT, "x1", NULL, 1);
    add_turn(fx->st, "chatC", TURN_CONTEXT, "x2", NULL, 2);
    add_turn(fx->st, "chatC", TURN_CONTEXT, "x3", NULL, 3);
    add_turn(fx->st, "chatC", TURN_USER, "q", NULL, 4);
    expect_history(fx->st, "chatC", 5, 2, "x2|x3|q");

    /* Every field comes back. */
    assert_int_equal(store_history_load(fx->st, "chatA", 2, 1, &turns, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(turns[0].role, TURN_USER);
    assert_null(turns[0].speaker);
    assert_string_equal(turns[0].message_id, "m4");
    assert_int_equal(turns[0].timestamp_ms, 5);
    assert_int_equal(turns[1].role, TURN_ASSISTANT);
    assert_null(turns[1].message_id);
    assert_int_equal(turns[2].role, TURN_CONTEXT);
    assert_string_equal(turns[2].speaker, "Alice");
    assert_string_equal(turns[2].text, "c5");
    turns_free(turns, n);

    /* An empty text is kept as empty text; a NULL text or a bad role is
     * refused, and nothing of that finish is written. */
    {
        struct turn t = { TURN_USER, NULL, (char *)"", NULL, 11 };
        struct job job;
        struct job_finish f = { OUTCOME_ANSWERED, &t, 1, NULL, 0, 0, NULL, { -1, -1, -1 } };

        finish_with(fx->st, "chatD", &t, 1, NULL, 0, 0);
        expect_history(fx->st, "chatD", 5, 5, "");
        assert_int_equal(store_history_load(fx->st, "chatD", 5, 5, &turns, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(turns[0].text, "");
        turns_free(turns, n);
        claim_task(fx->st, "chatD", &job);
        t.role = (enum turn_role)42;
        assert_int_equal(store_job_finish(fx->st, job.event_id, job.claim_gen, &f), -1);
        t.role = TURN_USER;
        t.text = NULL;
        assert_int_equal(store_job_finish(fx->st, job.event_id, job.claim_gen, &f), -1);
        f.n_turns = 2;
        f.turns = NULL;
        assert_int_equal(store_job_finish(fx->st, job.event_id, job.claim_gen, &f), -1);
        assert_int_equal(store_job_finish(fx->st, job.event_id, job.claim_gen, NULL), -1);
        assert_int_equal(store_job_finish(fx->st, NULL, job.claim_gen, &f), -1);
        f.n_turns = 0;
        f.outcome = (enum job_outcome)99;
        assert_int_equal(store_job_finish(fx->st, job.event_id, job.claim_gen, &f), -1);
        f.outcome = OUTCOME_IGNORED;
        assert_int_equal(store_job_finish(fx->st, job.event_id, job.claim_gen, &f), 0);
        expect_history(fx->st, "chatD", 5, 5, "");
        job_free(&job);
    }
}

static void test_message_text_update_delete(void **state)
{
    struct fixture *fx = *state;
    char *text = (char *)"untouched";

    add_turn(fx->st, "chatA", TURN_USER, "hello", "m1", 1);
    add_turn(fx->st, "chatA", TURN_CONTEXT, "side remark", "m2", 2);
    add_turn(fx->st, "chatA", TURN_ASSISTANT, "hi there", "s1", 3);
    add_turn(fx->st, "chatB", TURN_USER, "same id, other chat", "m1", 4);

    assert_int_equal(store_message_text(fx->st, "chatA", "m1", &text), 1);
    assert_string_equal(text, "hello");
    free(text);
    assert_int_equal(store_message_text(fx->st, "chatA", "s1", &text), 1);
    assert_string_equal(text, "hi there");
    free(text);
    assert_int_equal(store_message_text(fx->st, "chatA", "nope", &text), 0);
    assert_null(text);
    assert_int_equal(store_message_text(fx->st, "chatA", NULL, &text), 0);

    assert_int_equal(store_message_update(fx->st, "chatA", "m2", "edited remark"), 0);
    assert_int_equal(store_message_text(fx->st, "chatA", "m2", &text), 1);
    assert_string_equal(text, "edited remark");
    free(text);
    assert_int_equal(store_message_update(fx->st, "chatA", "nope", "x"), 0);
    assert_int_equal(store_message_update(fx->st, "chatA", NULL, "x"), 0);

    assert_int_equal(store_message_delete(fx->st, "chatA", "m1"), 0);
    assert_int_equal(store_message_text(fx->st, "chatA", "m1", &text), 0);
    assert_int_equal(store_message_text(fx->st, "chatB", "m1", &text), 1);
    assert_string_equal(text, "same id, other chat");
    free(text);
    assert_int_equal(store_message_delete(fx->st, "chatA", "s1"), 0);
    assert_int_equal(store_message_delete(fx->st, "chatA", NULL), 0);
    expect_history(fx->st, "chatA", 10, 10, "edited remark");
}

static void test_bot_message_ids(void **state)
{
    struct fixture *fx = *state;

    add_bot_id(fx->st, "chatA", "s1", 1);
    add_bot_id(fx->st, "chatA", "s1", 2); /* again: fine */
    add_bot_id(fx->st, "chatA", "s2", 2);
    assert_int_equal(store_bot_message_is(fx->st, "chatA", "s1"), 1);
    assert_int_equal(store_bot_message_is(fx->st, "chatA", "s2"), 1);
    assert_int_equal(store_bot_message_is(fx->st, "chatB", "s1"), 0);
    assert_int_equal(store_bot_message_is(fx->st, "chatA", "s3"), 0);
    assert_int_equal(store_bot_message_is(fx->st, "chatA", NULL), 0);
    {
        /* A NULL id is refused (nothing written); ids land in the job's own chat. */
        const char *ids[] = { "s3", NULL };
        struct job job;
        struct job_finish f = { OUTCOME_ANSWERED, NULL, 0, ids, 2, 5, NULL, { -1, -1, -1 } };
        claim_task(fx->st, "chatB", &job);
        assert_int_equal(store_job_finish(fx->st, job.event_id, job.claim_gen, &f), -1);
        f.n_sent = 1;
        assert_int_equal(store_job_finish(fx->st, job.event_id, job.claim_gen, &f), 0);
        assert_int_equal(store_bot_message_is(fx->st, "chatB", "s3"), 1);
        assert_int_equal(store_bot_message_is(fx->st, "chatA", "s3"), 0);
        job_free(&job);
    }
}

/* store_context_keep: the turn, the trim to the newest `keep` context turns
 * and "done" (outcome context), together; a lost claim writes nothing. */
static void test_context_keep(void **state)
{
    struct fixture *fx = *state;
    struct job job;
    char id[16];

    add_turn(fx->st, "chatA", TURN_USER, "u1", NULL, 1);
    add_turn(fx->st, "chatB", TURN_CONTEXT, "b1", NULL, 2);
    for (int i = 1; i <= 4; i++) {
        struct turn t = { TURN_CONTEXT, (char *)"Alice", NULL, NULL, 10 + i };
        char text[8];
        snprintf(id, sizeof id, "g%d", i);
        snprintf(text, sizeof text, "c%d", i);
        t.text = text;
        add_event(fx->st, id, "chatA", 10 + i);
        claim_expect(fx->st, id, &job);
        assert_int_equal(store_context_keep(fx->st, job.event_id, job.claim_gen, "chatA", &t, 2), 0);
        job_free(&job);
    }
    expect_history(fx->st, "chatA", 10, 10, "u1|c3|c4");
    expect_history(fx->st, "chatB", 10, 10, "b1");
    assert_int_equal(depth_of(fx->st), 0);
    expect_admin_text(fx, "SELECT outcome FROM %slinebot_inbox WHERE event_id = 'g4'", "context");

    /* A lost claim: no turn, no trim, the row untouched. */
    add_event(fx->st, "g5", "chatA", 20);
    claim_expect(fx->st, "g5", &job);
    {
        struct turn t = { TURN_CONTEXT, NULL, (char *)"lost", NULL, 20 };
        assert_int_equal(store_context_keep(fx->st, "g5", job.claim_gen + 1, "chatA", &t, 0), 1);
        expect_history(fx->st, "chatA", 10, 10, "u1|c3|c4");
        assert_int_equal(depth_of(fx->st), 1);
        /* keep <= 0 keeps no context at all; a NULL text is kept as "". */
        t.text = NULL;
        assert_int_equal(store_context_keep(fx->st, "g5", job.claim_gen, "chatA", &t, -3), 0);
        expect_history(fx->st, "chatA", 10, 10, "u1");
        assert_int_equal(store_context_keep(fx->st, "g5", job.claim_gen, "chatA", &t, 2), 1);
        assert_int_equal(store_context_keep(fx->st, NULL, 1, "chatA", &t, 2), -1);
        assert_int_equal(store_context_keep(fx->st, "g5", 1, NULL, &t, 2), -1);
        assert_int_equal(store_context_keep(fx->st, "g5", 1, "chatA", NULL, 2), -1);
        assert_int_equal(store_context_keep(NULL, "g5", 1, "chatA", &t, 2), -1);
        t.role = (enum turn_role)7;
        assert_int_equal(store_context_keep(fx->st, "g5", 1, "chatA", &t, 2), -1);
    }
    job_free(&job);
}

static void test_history_clear(void **state)
{
    struct fixture *fx = *state;

    add_turn(fx->st, "chatA", TURN_USER, "u1", "m1", 1);
    add_turn(fx->st, "chatA", TURN_ASSISTANT, "a1", "s1", 2);
    add_turn(fx->st, "chatA", TURN_CONTEXT, "c1", "m2", 3);
    add_turn(fx->st, "chatB", TURN_USER, "b1", "m3", 4);
    add_bot_id(fx->st, "chatA", "s1", 2);

    assert_int_equal(store_history_clear(fx->st, "chatA"), 0);
    expect_history(fx->st, "chatA", 10, 10, "");
    expect_history(fx->st, "chatB", 10, 10, "b1");
    assert_int_equal(store_bot_message_is(fx->st, "chatA", "s1"), 1);
}

static void test_forget_chat(void **state)
{
    struct fixture *fx = *state;
    char *name = NULL;
    struct job job;
    int64_t count;

    add_turn(fx->st, "U1", TURN_USER, "u1", "m1", 1);
    add_turn(fx->st, "U2", TURN_USER, "other", "m2", 1);
    add_bot_id(fx->st, "U1", "s1", 2);
    add_bot_id(fx->st, "U2", "s2", 2);
    assert_int_equal(store_profile_put(fx->st, "U1", "U1", "Alice", NULL, 10), 0);
    assert_int_equal(store_profile_put(fx->st, "U2", "U2", "Bob", NULL, 10), 0);
    assert_int_equal(store_rate_count(fx->st, "U1", 1000, &count), 0);
    assert_int_equal(store_rate_count(fx->st, "U2", 1000, &count), 0);
    add_event(fx->st, "done-1", "U1", 1);
    claim_expect(fx->st, "done-1", &job);
    finish_job(fx->st, &job);
    add_event(fx->st, "pending-1", "U1", 2);

    assert_int_equal(store_forget_chat(fx->st, "U1"), 0);

    expect_history(fx->st, "U1", 10, 10, "");
    assert_int_equal(store_bot_message_is(fx->st, "U1", "s1"), 0);
    assert_int_equal(store_profile_get(fx->st, "U1", "U1", 0, &name, NULL), 0);
    assert_int_equal(store_rate_count(fx->st, "U1", 1000, &count), 0);
    assert_int_equal(count, 1); /* its counter was gone */

    /* Other chats are untouched. */
    expect_history(fx->st, "U2", 10, 10, "other");
    assert_int_equal(store_bot_message_is(fx->st, "U2", "s2"), 1);
    assert_int_equal(store_profile_get(fx->st, "U2", "U2", 0, &name, NULL), 1);
    free(name);
    assert_int_equal(store_rate_count(fx->st, "U2", 1000, &count), 0);
    assert_int_equal(count, 2);

    /* The done event still deduplicates; the pending one is still there to work on. */
    {
        struct inbox_item again = { "done-1", "U1", 1, "{}" };
        size_t n_new = 9;
        assert_int_equal(store_inbox_add(fx->st, &again, 1, &n_new), 0);
        assert_int_equal(n_new, 0);
    }
    claim_expect(fx->st, "pending-1", &job);
    finish_job(fx->st, &job);
}

/* ---- for the operator (linebot admin) ---- */

#define DAY_MS 86400000LL

/* Claims the event `event_id` and finishes it with `outcome`, `model` and usage. */
static void finish_event(struct store *st, const char *event_id, enum job_outcome outcome, const char *model,
                         int64_t prompt, int64_t completion, const struct turn *turns, size_t n_turns)
{
    struct job job;
    struct job_finish f = { outcome, turns, n_turns, NULL, 0, 0, model, { prompt, completion, prompt + completion } };

    claim_expect(st, event_id, &job);
    if (store_job_finish(st, job.event_id, job.claim_gen, &f) != 0)
        fail_msg("job finish: %s", store_last_error(st));
    job_free(&job);
}

static char *joined_history(struct store *st, const char *chat_id)
{
    struct turn *turns = NULL;
    size_t n = 0;
    char joined[512] = "";

    if (store_admin_history(st, chat_id, &turns, &n) != 0)
        fail_msg("admin history: %s", store_last_error(st));
    for (size_t i = 0; i < n; i++) {
        assert_true(strlen(joined) + strlen(turns[i].text) < sizeof joined - 2);
        if (i)
            strcat(joined, "|");
        strcat(joined, turns[i].text);
    }
    turns_free(turns, n);
    return strdup(joined);
}

static void test_admin_reads(void **state)
{
    struct fixture *fx = *state;
    struct turn group_turns[] = {
        { TURN_USER, (char *)"Alice", (char *)"q1", (char *)"m1", 2 * DAY_MS + 5 },
        { TURN_ASSISTANT, NULL, (char *)"a1", (char *)"s1", 2 * DAY_MS + 6 },
    };
    struct turn user_turns[] = {
        { TURN_USER, NULL, (char *)"q2", (char *)"m2", 3 * DAY_MS },
        { TURN_ASSISTANT, NULL, (char *)"a2", (char *)"s2", 3 * DAY_MS + 1 },
    };
    struct store_day_stats *days = NULL;
    struct store_chat_info *chats = NULL;
    size_t n = 0;
    char *text;

    add_event(fx->st, "e1", "G1", 2 * DAY_MS + 5);
    add_event(fx->st, "e2", "U1", 2 * DAY_MS + 10);
    add_event(fx->st, "e3", "U1", 3 * DAY_MS);
    finish_event(fx->st, "e1", OUTCOME_ANSWERED, "m-a", 10, 5, group_turns, 2);
    finish_event(fx->st, "e2", OUTCOME_APOLOGIZED, NULL, -1, -1, NULL, 0);
    finish_event(fx->st, "e3", OUTCOME_ANSWERED, "m-a", 1, 1, user_turns, 2);
    add_turn(fx->st, "G1", TURN_CONTEXT, "ctx", "m3", 2 * DAY_MS + 7); /* an internal job: not an event */

    assert_int_equal(store_admin_stats(fx->st, &days, &n), 0);
    assert_int_equal(n, 3);
    assert_true(days[0].day == 2 && days[0].model == NULL && days[0].events == 1 && days[0].apologized == 1 &&
                days[0].answered == 0 && days[0].total_tokens == 0);
    assert_true(days[1].day == 2 && days[1].model && strcmp(days[1].model, "m-a") == 0 && days[1].events == 1 &&
                days[1].answered == 1 && days[1].prompt_tokens == 10 && days[1].completion_tokens == 5 &&
                days[1].total_tokens == 15);
    assert_true(days[2].day == 3 && days[2].answered == 1 && days[2].total_tokens == 2 && days[2].failed == 0);
    store_day_stats_free(days, n);

    assert_int_equal(store_admin_chats(fx->st, NULL, &chats, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(chats[0].chat_id, "U1"); /* the most recently active first */
    assert_int_equal(chats[0].last_active_ms, 3 * DAY_MS + 1);
    assert_int_equal(chats[0].messages, 2);
    assert_int_equal(chats[0].events, 2);
    assert_string_equal(chats[0].model, "m-a");
    assert_string_equal(chats[1].chat_id, "G1");
    assert_int_equal(chats[1].messages, 3);
    assert_int_equal(chats[1].events, 1);
    store_chat_info_free(chats, n);
    assert_int_equal(store_admin_chats(fx->st, "G1", &chats, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(chats[0].chat_id, "G1");
    store_chat_info_free(chats, n);
    assert_int_equal(store_admin_chats(fx->st, "nobody", &chats, &n), 0);
    assert_int_equal(n, 0);
    assert_null(chats);

    text = joined_history(fx->st, "G1"); /* every role, oldest first */
    assert_string_equal(text, "q1|a1|ctx");
    free(text);
}

/* A user's group turns are found by user id, even when another member shows
 * the same display name (matching by name would take both). */
static void test_admin_forget_by_user_id(void **state)
{
    struct fixture *fx = *state;
    struct turn u1[] = {
        { TURN_USER, (char *)"Alex", (char *)"first alex asks", (char *)"m1", 1, (char *)"U1" },
        { TURN_ASSISTANT, NULL, (char *)"answer 1", (char *)"s1", 2, NULL },
    };
    struct turn u2[] = {
        { TURN_USER, (char *)"Alex", (char *)"second alex asks", (char *)"m2", 3, (char *)"U2" },
        { TURN_ASSISTANT, NULL, (char *)"answer 2", (char *)"s2", 4, NULL },
    };
    struct turn chatter[] = {
        { TURN_CONTEXT, (char *)"Alex", (char *)"first alex chats", (char *)"m3", 5, (char *)"U1" },
    };
    struct store_forget_counts c;

    assert_int_equal(store_profile_put(fx->st, "G1", "U1", "Alex", NULL, 10), 0);
    assert_int_equal(store_profile_put(fx->st, "G1", "U2", "Alex", NULL, 10), 0);
    finish_with(fx->st, "G1", u1, 2, NULL, 0, 0);
    finish_with(fx->st, "G1", u2, 2, NULL, 0, 0);
    finish_with(fx->st, "G1", chatter, 1, NULL, 0, 0);
    assert_int_equal(store_admin_forget(fx->st, "U1", &c), 0);
    assert_int_equal(c.group_turns, 3);
    char *text = joined_history(fx->st, "G1");
    assert_string_equal(text, "second alex asks|answer 2");
    free(text);
}

static void test_admin_forget(void **state)
{
    struct fixture *fx = *state;
    struct turn alice[] = {
        { TURN_USER, (char *)"Alice", (char *)"alice asks", (char *)"m1", 1 },
        { TURN_ASSISTANT, NULL, (char *)"answer to alice", (char *)"s1", 2 },
    };
    struct turn bob[] = {
        { TURN_USER, (char *)"Bob", (char *)"bob asks", (char *)"m2", 3 },
        { TURN_ASSISTANT, NULL, (char *)"answer to bob", (char *)"s2", 4 },
    };
    struct turn ctx[] = {
        { TURN_CONTEXT, (char *)"Alice", (char *)"alice chats", (char *)"m3", 5 },
        { TURN_CONTEXT, (char *)"Bob", (char *)"bob chats", (char *)"m4", 6 },
    };
    struct turn own[] = {
        { TURN_USER, NULL, (char *)"hi", (char *)"m5", 7 },
        { TURN_ASSISTANT, NULL, (char *)"hello", (char *)"s5", 8 },
    };
    const char *sent = "s5";
    struct store_forget_counts c;
    char *text, *name = NULL;
    int64_t count;

    assert_int_equal(store_profile_put(fx->st, "G1", "U1", "Alice", NULL, 10), 0);
    assert_int_equal(store_profile_put(fx->st, "G1", "U2", "Bob", NULL, 10), 0);
    assert_int_equal(store_rate_count(fx->st, "U1", 1000, &count), 0);
    assert_int_equal(store_rate_count(fx->st, "U2", 1000, &count), 0);
    finish_with(fx->st, "G1", alice, 2, NULL, 0, 0);
    finish_with(fx->st, "G1", bob, 2, NULL, 0, 0);
    finish_with(fx->st, "G1", ctx, 2, NULL, 0, 0);
    finish_with(fx->st, "U1", own, 2, &sent, 1, 8);
    add_event(fx->st, "pending-1", "U1", 1);
    assert_int_equal(store_chat_model_set(fx->st, "U1", "smart", 9), 0);
    assert_int_equal(store_chat_model_set(fx->st, "G1", "fast", 9), 0);

    assert_int_equal(store_admin_forget(fx->st, "U1", &c), 0);
    assert_int_equal(c.choices, 1); /* her 1:1 chat's model, not the group's */
    char *model = NULL;
    assert_int_equal(store_chat_model_get(fx->st, "U1", &model), 0);
    assert_int_equal(store_chat_model_get(fx->st, "G1", &model), 1);
    assert_string_equal(model, "fast");
    free(model);
    assert_int_equal(c.turns, 2);
    assert_int_equal(c.group_turns, 3);
    assert_int_equal(c.bot_messages, 1);
    assert_int_equal(c.profiles, 1);
    assert_int_equal(c.rate_rows, 1);
    text = joined_history(fx->st, "G1");
    assert_string_equal(text, "bob asks|answer to bob|bob chats");
    free(text);
    text = joined_history(fx->st, "U1");
    assert_string_equal(text, "");
    free(text);
    char *lang = NULL;
    assert_int_equal(store_profile_get(fx->st, "G1", "U1", 0, &name, &lang), 0);
    assert_int_equal(store_profile_get(fx->st, "G1", "U2", 0, &name, &lang), 1);
    free(name);
    free(lang);
    assert_int_equal(store_bot_message_is(fx->st, "U1", "s5"), 0);
    assert_int_equal(store_rate_count(fx->st, "U2", 1000, &count), 0);
    assert_int_equal(count, 2); /* Bob's counter stayed */

    /* The pending event is acknowledged work: it stays, with its payload. */
    {
        struct job job;
        claim_expect(fx->st, "pending-1", &job);
        finish_job(fx->st, &job);
    }

    /* A chat: its history and everyone's names in it. */
    assert_int_equal(store_admin_forget(fx->st, "G1", &c), 0);
    assert_int_equal(c.turns, 3);
    assert_int_equal(c.group_turns, 0);
    assert_int_equal(c.profiles, 1);
    assert_int_equal(store_admin_forget(fx->st, "nobody", &c), 0);
    assert_true(c.turns == 0 && c.group_turns == 0 && c.bot_messages == 0 && c.profiles == 0 && c.rate_rows == 0 &&
                c.payloads == 0);
    assert_int_equal(store_admin_forget(fx->st, "", &c), -1);
}

/* Issue 15's list for a user beyond the history: the summary (hers, and a
 * group's that covers her words), the model and persona choices, the memory
 * and its settings, the usage rows and budget notices, and the chat's
 * knowledge base binding all go; another user's and the group's stay.
 * Counted by SQL behind the store's back. */
static void test_admin_forget_everything(void **state)
{
    struct fixture *fx = *state;
    struct store_charge mine = { "U1", "G1", "big", 100, 10, 5, false };
    struct store_charge other = { "U2", "G1", "big", 100, 3, 4, false };
    struct job_finish f = { .outcome = OUTCOME_ANSWERED, .usage = { -1, -1, -1 }, .charge = &mine };
    struct store_forget_counts c;
    struct job job;

    add_event(fx->st, "e1", "G1", 1);
    add_event(fx->st, "e2", "G1", 2);
    claim_expect(fx->st, "e1", &job);
    assert_int_equal(store_job_finish(fx->st, "e1", job.claim_gen, &f), 0);
    job_free(&job);
    claim_expect(fx->st, "e2", &job);
    f.charge = &other;
    assert_int_equal(store_job_finish(fx->st, "e2", job.claim_gen, &f), 0);
    job_free(&job);
    assert_int_equal(store_budget_notice(fx->st, "U1", 100, "e1", 1), 1);
    assert_int_equal(store_budget_notice(fx->st, "G1", 100, "e2", 1), 1);
    assert_int_equal(store_chat_persona_set(fx->st, "U1", "pirate", NULL, 1), 0);
    assert_int_equal(store_memory_add(fx->st, "U1", "U1", NULL, "Likes tea", 1), 0);
    assert_int_equal(store_memory_opt_out(fx->st, "U1", true, 1), 0);
    assert_int_equal(store_memory_opt_out(fx->st, "U2", true, 1), 0);
    add_turn(fx->st, "U1", TURN_USER, "hi", "m1", 1);
    add_turn(fx->st, "G1", TURN_USER, "hello all", "m2", 2);
    struct turn said[] = {
        { TURN_USER, (char *)"Alice", (char *)"my address is", (char *)"m3", 3, (char *)"U1" },
        { TURN_ASSISTANT, NULL, (char *)"noted", (char *)"s3", 4, NULL },
    };
    finish_with(fx->st, "G2", said, 2, NULL, 0, 0); /* G2's summary will cover her words */
    admin_exec(fx, "INSERT INTO %slinebot_summaries (chat_id, summary, upto_seq, updated_at_ms)"
                   " SELECT chat_id, 'what was said', max(seq), 1 FROM %slinebot_history GROUP BY chat_id");
    admin_exec(fx, "INSERT INTO %slinebot_kb (name, created_at_ms) VALUES ('docs', 1)");
    assert_int_equal(store_kb_bind(fx->st, "U1", "docs", 1), 0);
    assert_int_equal(store_kb_bind(fx->st, "G1", "docs", 1), 0);

    assert_int_equal(store_admin_forget(fx->st, "U1", &c), 0);
    assert_int_equal(c.personas, 1);
    assert_int_equal(c.memory, 1);
    expect_admin_text(fx, "SELECT count(*) FROM %slinebot_chat_personas", "0");
    expect_admin_text(fx, "SELECT count(*) FROM %slinebot_memory", "0");
    expect_admin_text(fx, "SELECT count(*) || ':' || min(user_id) FROM %slinebot_memory_users", "1:U2");
    expect_admin_text(fx, "SELECT count(*) || ':' || min(user_id) FROM %slinebot_usage", "1:U2");
    expect_admin_text(fx, "SELECT count(*) || ':' || min(subject) FROM %slinebot_budget_notices", "1:G1");
    expect_admin_text(fx, "SELECT count(*) || ':' || min(chat_id) FROM %slinebot_summaries", "1:G1");
    expect_admin_text(fx, "SELECT count(*) || ':' || min(chat_id) FROM %slinebot_kb_bindings", "1:G1");
}

/* ---- profiles, rate limits, retention ---- */

static void test_profiles(void **state)
{
    struct fixture *fx = *state;
    char *name = NULL;

    assert_int_equal(store_profile_get(fx->st, "G1", "U1", 0, &name, NULL), 0);
    assert_null(name);
    assert_int_equal(store_profile_put(fx->st, "G1", "U1", "Alice", NULL, 1000), 0);
    assert_int_equal(store_profile_get(fx->st, "G1", "U1", 1000, &name, NULL), 1);
    assert_string_equal(name, "Alice");
    free(name);
    name = NULL;
    assert_int_equal(store_profile_get(fx->st, "G1", "U1", 1001, &name, NULL), 0); /* stale */
    assert_null(name);
    assert_int_equal(store_profile_get(fx->st, "G2", "U1", 0, &name, NULL), 0);

    assert_int_equal(store_profile_put(fx->st, "G1", "U1", "Alice B.", NULL, 2000), 0);
    assert_int_equal(store_profile_get(fx->st, "G1", "U1", 1500, &name, NULL), 1);
    assert_string_equal(name, "Alice B.");
    free(name);

    assert_int_equal(store_profile_put(fx->st, "G1", "U2", NULL, NULL, 2000), 0);
    assert_int_equal(store_profile_get(fx->st, "G1", "U2", 0, &name, NULL), 1);
    assert_string_equal(name, "");
    free(name);
    assert_int_equal(store_profile_get(fx->st, "G1", NULL, 0, &name, NULL), -1);
    assert_int_equal(store_profile_get(fx->st, "G1", "U1", 0, NULL, NULL), -1);
}

/* A 1:1 profile keeps its language: "" when LINE gave none (the user has not
 * consented), NULL when not known (a group member's name), so that only an
 * unknown one is asked again. */
static void test_profile_language(void **state)
{
    struct fixture *fx = *state;
    char *name = NULL, *language = (char *)"unset";

    assert_int_equal(store_profile_put(fx->st, "U1", "U1", "Aiko", "ja", 1000), 0);
    assert_int_equal(store_profile_get(fx->st, "U1", "U1", 0, &name, &language), 1);
    assert_string_equal(name, "Aiko");
    assert_string_equal(language, "ja");
    free(name);
    free(language);
    assert_int_equal(store_profile_put(fx->st, "U1", "U1", "Aiko", "", 2000), 0);
    assert_int_equal(store_profile_get(fx->st, "U1", "U1", 0, &name, &language), 1);
    assert_string_equal(language, "");
    free(name);
    free(language);
    assert_int_equal(store_profile_put(fx->st, "G1", "U1", "Aiko", NULL, 2000), 0);
    assert_int_equal(store_profile_get(fx->st, "G1", "U1", 0, &name, &language), 1);
    assert_null(language);
    free(name);
    /* Stale: neither is handed out. */
    language = (char *)"unset";
    assert_int_equal(store_profile_get(fx->st, "U1", "U1", 2001, &name, &language), 0);
    assert_null(name);
    assert_null(language);
}

/* The model a chat chose (issue 11): one row per chat, replaced by a new
 * choice, kept by a reopened store (a restart), dropped when the chat is
 * forgotten. */
/* Budgets (issue 11): a finish charges its event's tokens once, summed per
 * user across chats and per chat for a day; the day's notice goes to one
 * event (asked again by it: still its); purge removes both. */
static void test_budgets(void **state)
{
    struct fixture *fx = *state;
    struct job job;
    int64_t by_user = -1, in_chat = -1;
    struct store_charge c1 = { "U1", "U1", "big", 100, 10, 5, false };
    struct store_charge c2 = { "U1", "G1", "small", 100, 3, 4, true };
    struct job_finish f = { .outcome = OUTCOME_ANSWERED, .usage = { -1, -1, -1 }, .charge = &c1 };

    add_event(fx->st, "e1", "U1", 1);
    add_event(fx->st, "e2", "G1", 2);
    claim_expect(fx->st, "e1", &job);
    assert_int_equal(store_job_finish(fx->st, "e1", job.claim_gen + 1, &f), 1); /* lost: no charge */
    assert_int_equal(store_usage_day(fx->st, "U1", "U1", 100, &by_user, &in_chat), 0);
    assert_int_equal(by_user, 0);
    assert_int_equal(in_chat, 0);
    assert_int_equal(store_job_finish(fx->st, "e1", job.claim_gen, &f), 0);
    job_free(&job);
    claim_expect(fx->st, "e2", &job);
    f.charge = &c2;
    assert_int_equal(store_job_finish(fx->st, "e2", job.claim_gen, &f), 0);
    job_free(&job);
    expect_admin_text(fx, "SELECT user_id || ',' || chat_id || ',' || model || ',' || day || ',' || prompt_tokens"
                          " || ',' || completion_tokens FROM %slinebot_usage WHERE event_id = 'e2'",
                      "U1,G1,small,100,3,4");

    assert_int_equal(store_usage_day(fx->st, "U1", "G1", 100, &by_user, &in_chat), 0);
    assert_int_equal(by_user, 22); /* both chats */
    assert_int_equal(in_chat, 7);  /* the group's only */
    assert_int_equal(store_usage_day(fx->st, "U2", "G1", 100, &by_user, &in_chat), 0);
    assert_int_equal(by_user, 0);
    assert_int_equal(in_chat, 7);
    assert_int_equal(store_usage_day(fx->st, "U1", "G1", 101, &by_user, &in_chat), 0);
    assert_int_equal(by_user + in_chat, 0); /* another day */

    assert_int_equal(store_budget_notice(fx->st, "U1", 100, "e3", 1000), 1);
    assert_int_equal(store_budget_notice(fx->st, "U1", 100, "e3", 1001), 1); /* the same event again */
    assert_int_equal(store_budget_notice(fx->st, "U1", 100, "e4", 1002), 0);
    assert_int_equal(store_budget_notice(fx->st, "U1", 101, "e4", 1003), 1);
    assert_int_equal(store_budget_notice(fx->st, "G1", 100, "e4", 1004), 1);

    /* Retention: the notices (at 1000...) and the usage (at now) go. */
    assert_int_equal(store_purge(fx->st, clock_now_ms() + 3600000, 0), 0);
    assert_int_equal(store_usage_day(fx->st, "U1", "G1", 100, &by_user, &in_chat), 0);
    assert_int_equal(by_user + in_chat, 0);
    assert_int_equal(store_budget_notice(fx->st, "U1", 100, "e5", 2000), 1);
}

static void test_chat_models(void **state)
{
    struct fixture *fx = *state;
    char *model = NULL;
    char err[256];

    assert_int_equal(store_chat_model_get(fx->st, "U1", &model), 0);
    assert_null(model);
    assert_int_equal(store_chat_model_set(fx->st, "U1", "fast", 1000), 0);
    assert_int_equal(store_chat_model_set(fx->st, "G1", "smart", 1000), 0);
    assert_int_equal(store_chat_model_get(fx->st, "U1", &model), 1);
    assert_string_equal(model, "fast");
    free(model);
    assert_int_equal(store_chat_model_set(fx->st, "U1", "smart", 2000), 0);

    store_close(fx->st);
    fx->st = store_open(fx->url, err, sizeof err);
    assert_non_null(fx->st);
    assert_int_equal(store_chat_model_get(fx->st, "U1", &model), 1);
    assert_string_equal(model, "smart");
    free(model);
    assert_int_equal(store_chat_model_get(fx->st, "G1", &model), 1);
    assert_string_equal(model, "smart");
    free(model);

    assert_int_equal(store_forget_chat(fx->st, "U1"), 0);
    assert_int_equal(store_chat_model_get(fx->st, "U1", &model), 0);
    assert_null(model);
    assert_int_equal(store_chat_model_get(fx->st, "G1", &model), 1); /* another chat keeps its choice */
    free(model);

    assert_int_equal(store_chat_model_get(fx->st, NULL, &model), -1);
    assert_int_equal(store_chat_model_get(fx->st, "U1", NULL), -1);
    assert_int_equal(store_chat_model_set(fx->st, NULL, "fast", 1), -1);
    assert_int_equal(store_chat_model_set(fx->st, "U1", NULL, 1), -1);
    assert_int_equal(store_chat_model_get(NULL, "U1", &model), -1);
}

/* The persona a chat chose (issue 11): a preset's name or the chat's own
 * text, one row per chat, replaced by a new choice, gone on reset, kept by a
 * reopened store (a restart), shown by `admin chats`, dropped when the chat
 * is forgotten and by `admin forget`. */
static void test_chat_personas(void **state)
{
    struct fixture *fx = *state;
    char *preset = (char *)"unset", *custom = (char *)"unset";
    char err[256];

    assert_int_equal(store_chat_persona_get(fx->st, "U1", &preset, &custom), 0);
    assert_null(preset);
    assert_null(custom);
    assert_int_equal(store_chat_persona_set(fx->st, "U1", "pirate", NULL, 1000), 0);
    assert_int_equal(store_chat_persona_set(fx->st, "G1", NULL, "Speak softly.\nAlways.", 1000), 0);
    assert_int_equal(store_chat_persona_set(fx->st, "R1", "teacher", NULL, 1000), 0);
    assert_int_equal(store_chat_persona_get(fx->st, "U1", &preset, &custom), 1);
    assert_string_equal(preset, "pirate");
    assert_null(custom);
    free(preset);
    /* A custom text replaces the preset, and the other way round. */
    assert_int_equal(store_chat_persona_set(fx->st, "U1", NULL, "Be brief.", 2000), 0);
    assert_int_equal(store_chat_persona_set(fx->st, "G1", "chef", NULL, 2000), 0);

    store_close(fx->st);
    fx->st = store_open(fx->url, err, sizeof err);
    assert_non_null(fx->st);
    assert_int_equal(store_chat_persona_get(fx->st, "U1", &preset, &custom), 1);
    assert_null(preset);
    assert_string_equal(custom, "Be brief.");
    free(custom);
    assert_int_equal(store_chat_persona_get(fx->st, "G1", &preset, &custom), 1);
    assert_string_equal(preset, "chef");
    assert_null(custom);
    free(preset);

    /* `admin chats` names the persona of a chat it lists. */
    struct store_chat_info *chats = NULL;
    size_t n = 0;
    add_event(fx->st, "e1", "U1", 10);
    add_event(fx->st, "e2", "G1", 20);
    assert_int_equal(store_admin_chats(fx->st, "U1", &chats, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(chats[0].persona, "(custom)");
    store_chat_info_free(chats, n);
    assert_int_equal(store_admin_chats(fx->st, "G1", &chats, &n), 0);
    assert_string_equal(chats[0].persona, "chef");
    store_chat_info_free(chats, n);

    /* Reset: the default again, and no row left. */
    assert_int_equal(store_chat_persona_set(fx->st, "G1", NULL, NULL, 3000), 0);
    assert_int_equal(store_chat_persona_get(fx->st, "G1", &preset, &custom), 0);
    assert_int_equal(store_admin_chats(fx->st, "G1", &chats, &n), 0);
    assert_null(chats[0].persona);
    store_chat_info_free(chats, n);
    assert_int_equal(store_chat_persona_set(fx->st, "G1", NULL, NULL, 3000), 0); /* twice is fine */

    assert_int_equal(store_forget_chat(fx->st, "U1"), 0);
    assert_int_equal(store_chat_persona_get(fx->st, "U1", &preset, &custom), 0);
    assert_int_equal(store_chat_persona_get(fx->st, "R1", &preset, &custom), 1); /* another chat keeps its own */
    free(preset);
    struct store_forget_counts c;
    assert_int_equal(store_admin_forget(fx->st, "R1", &c), 0);
    assert_int_equal(c.personas, 1);
    assert_int_equal(store_chat_persona_get(fx->st, "R1", &preset, &custom), 0);
    assert_int_equal(store_admin_forget(fx->st, "R1", &c), 0);
    assert_int_equal(c.personas, 0);

    assert_int_equal(store_chat_persona_get(fx->st, NULL, &preset, &custom), -1);
    assert_int_equal(store_chat_persona_get(fx->st, "U1", NULL, &custom), -1);
    assert_int_equal(store_chat_persona_set(fx->st, NULL, "pirate", NULL, 1), -1);
    assert_int_equal(store_chat_persona_set(fx->st, "U1", "pirate", "both", 1), -1);
    assert_int_equal(store_chat_persona_get(NULL, "U1", &preset, &custom), -1);
}

/* store_rate_count: a fixed one-minute window per user, counted in SQL. */
static void test_rate_count(void **state)
{
    struct fixture *fx = *state;
    const int64_t t = 1700000000000;
    int64_t count = -1;

    assert_int_equal(store_rate_count(fx->st, "U1", t, &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(store_rate_count(fx->st, "U1", t + 1000, &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(store_rate_count(fx->st, "U2", t + 1000, &count), 0);
    assert_int_equal(count, 1); /* every user has a counter of their own */
    assert_int_equal(store_rate_count(fx->st, "U1", t + 59999, &count), 0);
    assert_int_equal(count, 3);
    /* 60 s after the window opened a new one opens, starting at 1 ... */
    assert_int_equal(store_rate_count(fx->st, "U1", t + 60000, &count), 0);
    assert_int_equal(count, 1);
    /* ... and runs from there (not from the first message of the old one). */
    assert_int_equal(store_rate_count(fx->st, "U1", t + 119999, &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(store_rate_count(fx->st, "U1", t + 120000, &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(chat_rate_verdict(count, 1), RATE_ALLOW);
}

/* store_rate_peek reads the window without counting; a finish with a
 * rate_user counts the message once, in its transaction: a release, or a
 * finish whose claim was lost, counts nothing. */
static void test_rate_counted_by_finish(void **state)
{
    struct fixture *fx = *state;
    const int64_t t = 1700000000000;
    int64_t count = -1;
    struct job job;

    assert_int_equal(store_rate_peek(fx->st, "U1", t, &count), 0);
    assert_int_equal(count, 0); /* no row yet */
    add_event(fx->st, "e1", "chatA", 1);
    claim_expect(fx->st, "e1", &job);
    int64_t first_gen = job.claim_gen;
    assert_int_equal(store_job_release(fx->st, "e1", job.claim_gen), 0);
    job_free(&job);
    assert_int_equal(store_rate_peek(fx->st, "U1", t, &count), 0);
    assert_int_equal(count, 0); /* the released claim counted nothing */
    claim_expect(fx->st, "e1", &job);
    struct job_finish f = { .outcome = OUTCOME_RATE_LIMITED, .usage = { -1, -1, -1 },
                            .rate_user = "U1", .rate_at_ms = t };
    assert_int_equal(store_job_finish(fx->st, "e1", first_gen, &f), 1); /* a stale claim: nothing */
    assert_int_equal(store_rate_peek(fx->st, "U1", t, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(store_job_finish(fx->st, "e1", job.claim_gen, &f), 0);
    assert_int_equal(store_job_finish(fx->st, "e1", job.claim_gen, &f), 1); /* done: not again */
    job_free(&job);
    assert_int_equal(store_rate_peek(fx->st, "U1", t + 59999, &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(store_rate_peek(fx->st, "U2", t, &count), 0);
    assert_int_equal(count, 0); /* another user's window */
    /* The same window as store_rate_count's: it goes on from the finish's count ... */
    assert_int_equal(store_rate_count(fx->st, "U1", t + 1000, &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(store_rate_peek(fx->st, "U1", t + 1000, &count), 0);
    assert_int_equal(count, 2);
    /* ... and a peek 60 s after the window opened sees the new one, empty. */
    assert_int_equal(store_rate_peek(fx->st, "U1", t + 60000, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(store_rate_peek(fx->st, NULL, t, &count), -1);
}

#define RC_THREADS 4
#define RC_EACH 25
#define RC_TOTAL (RC_THREADS * RC_EACH)

struct rc_arg {
    const char *url;
    int64_t counts[RC_EACH];
    atomic_int *errors;
};

static void *rc_worker(void *p)
{
    struct rc_arg *a = p;
    char err[256];
    struct store *st = store_open(a->url, err, sizeof err);

    if (!st) {
        atomic_fetch_add(a->errors, 1);
        return NULL;
    }
    for (int i = 0; i < RC_EACH; i++) {
        if (store_rate_count(st, "U-busy", 5000, &a->counts[i]) != 0) {
            fprintf(stderr, "rate count: %s\n", store_last_error(st));
            atomic_fetch_add(a->errors, 1);
        }
    }
    store_close(st);
    return NULL;
}

/* Every count handed out is in 1..RC_TOTAL and none twice; the next one at
 * `now_ms` (same window) is RC_TOTAL + 1. */
static void rc_check(struct store *st, const int64_t *counts, int64_t now_ms)
{
    bool seen[RC_TOTAL + 1] = { false };
    int64_t count;

    for (int i = 0; i < RC_TOTAL; i++) {
        assert_true(counts[i] >= 1 && counts[i] <= RC_TOTAL);
        assert_false(seen[counts[i]]);
        seen[counts[i]] = true;
    }
    assert_int_equal(store_rate_count(st, "U-busy", now_ms, &count), 0);
    assert_int_equal(count, RC_TOTAL + 1);
}

/* Concurrent counts of one user, each with its own handle: every one lands,
 * so the counts handed out are exactly 1..N, each once. First threads (on
 * SQLite they share the process's connection), then processes (on SQLite
 * each its own connection, serialised only by the database's locks). */
static void test_rate_count_concurrent(void **state)
{
    struct fixture *fx = *state;
    pthread_t threads[RC_THREADS];
    struct rc_arg args[RC_THREADS];
    atomic_int errors = 0;
    int64_t counts[RC_TOTAL];
    int64_t *shared = mmap(NULL, RC_TOTAL * sizeof *shared, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pids[RC_THREADS];

    for (int i = 0; i < RC_THREADS; i++) {
        args[i] = (struct rc_arg){ .url = fx->url, .errors = &errors };
        assert_int_equal(pthread_create(&threads[i], NULL, rc_worker, &args[i]), 0);
    }
    for (int i = 0; i < RC_THREADS; i++)
        pthread_join(threads[i], NULL);
    assert_int_equal(atomic_load(&errors), 0);
    for (int i = 0; i < RC_THREADS; i++)
        memcpy(counts + i * RC_EACH, args[i].counts, sizeof args[i].counts);
    rc_check(fx->st, counts, 5000);

    /* Processes, in the next window (5000 + 60 s): it starts again at 1. */
    assert_true(shared != MAP_FAILED);
    for (int i = 0; i < RC_THREADS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            char err[256];
            struct store *st = store_open(fx->url, err, sizeof err);
            int failed = !st;
            for (int j = 0; st && j < RC_EACH; j++)
                failed |= store_rate_count(st, "U-busy", 65000, &shared[i * RC_EACH + j]) != 0;
            store_close(st);
            _exit(failed);
        }
    }
    for (int i = 0; i < RC_THREADS; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    rc_check(fx->st, shared, 65000);
    munmap(shared, RC_TOTAL * sizeof *shared);
}

/* store_job_finish: outcome, model, usage, turns and ids in one transaction. */
static void test_job_finish(void **state)
{
    struct fixture *fx = *state;
    struct turn turns[] = {
        { TURN_USER, NULL, (char *)"question", (char *)"m1", 10 },
        { TURN_ASSISTANT, NULL, (char *)"answer", (char *)"s1", 11 },
    };
    const char *ids[] = { "s1", "s2" };
    struct job_finish f = { OUTCOME_APOLOGIZED, turns, 2, ids, 2, 12, "model-x", { 10, 5, 15 } };
    struct job job;

    add_event(fx->st, "e1", "chatA", 1);
    add_event(fx->st, "e2", "chatA", 2);
    claim_expect(fx->st, "e1", &job);
    assert_null(job.kind); /* a webhook event */

    /* A lost claim writes nothing at all. */
    assert_int_equal(store_job_finish(fx->st, "e1", job.claim_gen + 1, &f), 1);
    assert_int_equal(store_job_finish(fx->st, "nope", job.claim_gen, &f), 1);
    expect_history(fx->st, "chatA", 10, 10, "");
    assert_int_equal(store_bot_message_is(fx->st, "chatA", "s1"), 0);
    assert_int_equal(depth_of(fx->st), 2);
    claim_none(fx->st); /* still held */
    expect_admin_text(fx, "SELECT outcome FROM %slinebot_inbox WHERE event_id = 'e1'", NULL);

    assert_int_equal(store_job_finish(fx->st, "e1", job.claim_gen, &f), 0);
    expect_history(fx->st, "chatA", 10, 10, "question|answer");
    assert_int_equal(store_bot_message_is(fx->st, "chatA", "s1"), 1);
    assert_int_equal(store_bot_message_is(fx->st, "chatA", "s2"), 1);
    assert_int_equal(depth_of(fx->st), 1);
    expect_admin_text(fx, "SELECT outcome FROM %slinebot_inbox WHERE event_id = 'e1'", "apologized");
    expect_admin_text(fx, "SELECT model FROM %slinebot_inbox WHERE event_id = 'e1'", "model-x");
    expect_admin_text(fx,
                      "SELECT prompt_tokens || ',' || completion_tokens || ',' || total_tokens"
                      " FROM %slinebot_inbox WHERE event_id = 'e1'",
                      "10,5,15");
    expect_admin_text(fx, "SELECT payload FROM %slinebot_inbox WHERE event_id = 'e1'", NULL);
    /* Finished once: a second finish is a lost claim, and adds nothing. */
    assert_int_equal(store_job_finish(fx->st, "e1", job.claim_gen, &f), 1);
    expect_history(fx->st, "chatA", 10, 10, "question|answer");
    job_free(&job);

    /* No model: no usage is recorded, whatever the numbers say. */
    claim_expect(fx->st, "e2", &job);
    f = (struct job_finish){ .outcome = OUTCOME_IGNORED, .usage = { 0, 0, 0 } };
    assert_int_equal(store_job_finish(fx->st, "e2", job.claim_gen, &f), 0);
    expect_admin_text(fx, "SELECT outcome FROM %slinebot_inbox WHERE event_id = 'e2'", "ignored");
    expect_admin_text(fx, "SELECT total_tokens FROM %slinebot_inbox WHERE event_id = 'e2'", NULL);
    expect_admin_text(fx, "SELECT model FROM %slinebot_inbox WHERE event_id = 'e2'", NULL);
    job_free(&job);

    /* The names of the outcomes, both ways. */
    for (int o = OUTCOME_ANSWERED; o <= OUTCOME_UNSUPPORTED; o++) {
        enum job_outcome back;
        assert_int_equal(job_outcome_parse(job_outcome_name((enum job_outcome)o), &back), 0);
        assert_int_equal(back, o);
    }
    assert_string_equal(job_outcome_name(OUTCOME_RATE_LIMITED), "rate_limited");
    assert_string_equal(job_outcome_name(OUTCOME_HANDED_OVER), "handed_over");
    {
        enum job_outcome back;
        assert_int_equal(job_outcome_parse("nonsense", &back), -1);
        assert_int_equal(job_outcome_parse(NULL, &back), -1);
    }
}

/* A failure in the middle of a finish (the test's own connection makes the
 * insert of bot message ids fail, after the inbox row and the turns were
 * written) leaves nothing half-written, and the claim still held. */
static void test_job_finish_atomic(void **state)
{
    struct fixture *fx = *state;
    struct turn turns[] = { { TURN_USER, NULL, (char *)"q", NULL, 10 },
                            { TURN_ASSISTANT, NULL, (char *)"a", NULL, 11 } };
    const char *ids[] = { "s1" };
    struct job_finish f = { OUTCOME_ANSWERED, turns, 2, ids, 1, 12, "m", { 1, 2, 3 } };
    struct job job;

    if (fx->backend->is_sqlite) {
        admin_exec(fx, "CREATE TRIGGER test_fail BEFORE INSERT ON linebot_bot_messages"
                       " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    } else {
        admin_exec(fx, "CREATE FUNCTION %stest_fail() RETURNS trigger LANGUAGE plpgsql AS"
                       " $$BEGIN RAISE EXCEPTION 'injected failure'; END$$;"
                       "CREATE TRIGGER test_fail BEFORE INSERT ON %slinebot_bot_messages"
                       " FOR EACH ROW EXECUTE FUNCTION %stest_fail()");
    }
    add_event(fx->st, "e1", "chatA", 1);
    claim_expect(fx->st, "e1", &job);
    assert_int_equal(store_job_finish(fx->st, "e1", job.claim_gen, &f), -1);
    assert_non_null(strstr(store_last_error(fx->st), "injected"));
    expect_history(fx->st, "chatA", 10, 10, "");
    assert_int_equal(depth_of(fx->st), 1);
    expect_admin_text(fx, "SELECT state FROM %slinebot_inbox WHERE event_id = 'e1'", "working");
    expect_admin_text(fx, "SELECT outcome FROM %slinebot_inbox WHERE event_id = 'e1'", NULL);

    /* The same in store_context_keep: the trim fails after the turn and the finish. */
    if (fx->backend->is_sqlite)
        admin_exec(fx, "CREATE TRIGGER test_fail_trim BEFORE DELETE ON linebot_history"
                       " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    else
        admin_exec(fx, "CREATE TRIGGER test_fail_trim BEFORE DELETE ON %slinebot_history"
                       " FOR EACH ROW EXECUTE FUNCTION %stest_fail()");
    add_turn(fx->st, "chatA", TURN_CONTEXT, "old", NULL, 2);
    {
        struct turn t = { TURN_CONTEXT, NULL, (char *)"new", NULL, 3 };
        assert_int_equal(store_context_keep(fx->st, "e1", job.claim_gen, "chatA", &t, 0), -1);
    }
    expect_history(fx->st, "chatA", 10, 10, "old");
    expect_admin_text(fx, "SELECT state FROM %slinebot_inbox WHERE event_id = 'e1'", "working");

    /* Once the fault is gone the same claim finishes, all of it. */
    if (fx->backend->is_sqlite)
        admin_exec(fx, "DROP TRIGGER test_fail_trim; DROP TRIGGER test_fail");
    else
        admin_exec(fx, "DROP TRIGGER test_fail_trim ON %slinebot_history;"
                       "DROP TRIGGER test_fail ON %slinebot_bot_messages");
    assert_int_equal(store_job_finish(fx->st, "e1", job.claim_gen, &f), 0);
    expect_history(fx->st, "chatA", 10, 10, "q|a");
    assert_int_equal(store_bot_message_is(fx->st, "chatA", "s1"), 1);
    assert_int_equal(depth_of(fx->st), 0);
    job_free(&job);
}

/* Internal jobs: deduplicated by (kind, key), claimed only when no webhook
 * event is claimable, and never holding their chat. */
static void test_tasks(void **state)
{
    struct fixture *fx = *state;
    struct job job, task;

    assert_int_equal(store_task_add(fx->st, "memory", "chatA:1", "chatA", "{\"n\":1}", 1), 1);
    assert_int_equal(store_task_add(fx->st, "memory", "chatA:1", "chatA", "{\"n\":2}", 2), 0);
    assert_int_equal(store_task_add(fx->st, "summary", "chatA:1", "chatA", "{\"n\":3}", 3), 1);
    assert_int_equal(store_task_add(fx->st, "memory", "x", NULL, "{}", 4), 1); /* no chat */
    add_event(fx->st, "e1", "chatA", 100); /* newer than every task, still first */
    add_event(fx->st, "e2", "chatB", 200);
    assert_int_equal(depth_of(fx->st), 5);

    claim_expect(fx->st, "e1", &job);
    /* chatA is busy; e2 is claimable, so it goes before any task. */
    claim_expect(fx->st, "e2", &task);
    finish_job(fx->st, &task);

    /* Only tasks left claimable: the oldest. */
    assert_int_equal(store_claim_next(fx->st, 1000, &task), 1);
    assert_string_equal(task.kind, "memory");
    assert_string_equal(task.event_id, "task:memory:chatA:1");
    assert_string_equal(task.chat_id, "chatA"); /* while e1 of chatA is in progress */
    assert_string_equal(task.payload, "{\"n\":1}");
    assert_int_equal(task.state, JOB_PENDING);
    finish_job(fx->st, &job);

    /* A task in progress does not hold its chat for events. */
    add_event(fx->st, "e3", "chatA", 300);
    claim_expect(fx->st, "e3", &job);
    finish_job(fx->st, &job);
    assert_int_equal(job_done(fx->st, task.event_id, task.claim_gen), 0);
    job_free(&task);

    assert_int_equal(store_claim_next(fx->st, 1000, &task), 1);
    assert_string_equal(task.kind, "summary");
    finish_job(fx->st, &task);
    assert_int_equal(store_claim_next(fx->st, 1000, &task), 1);
    assert_string_equal(task.event_id, "task:memory:x");
    assert_string_equal(task.chat_id, "");
    finish_job(fx->st, &task);
    claim_none(fx->st);

    /* Done, it still deduplicates. */
    assert_int_equal(store_task_add(fx->st, "memory", "chatA:1", "chatA", "{}", 5), 0);
    assert_int_equal(depth_of(fx->st), 0);

    /* A task whose holder died is taken over like an event: after its lease
     * on a shared store, after store_recover on SQLite. */
    assert_int_equal(store_task_add(fx->st, "memory", "late", "chatA", "{}", 6), 1);
    assert_int_equal(store_claim_next(fx->st, 1000, &task), 1);
    assert_string_equal(task.event_id, "task:memory:late");
    claim_none(fx->st);
    store_close(fx->st);
    fx->st = reopen(fx);
    assert_int_equal(store_recover(fx->st), 0);
    assert_int_equal(store_claim_next(fx->st, after_crash_ms(fx), &job), 1);
    assert_string_equal(job.event_id, "task:memory:late");
    assert_string_equal(job.kind, "memory");
    assert_int_equal(job.attempts, 2);
    assert_int_equal(job_done(fx->st, task.event_id, task.claim_gen), 1); /* the old claim is dead */
    job_free(&task);
    finish_job(fx->st, &job);
}

/* Memory of the user (issue 11): facts ranked and capped; forgotten one by
 * one, all, by unsending their message, by forget_chat and by the operator;
 * the user's settings and unseen turns; and an extraction's facts written
 * with its job's fenced finish, all or nothing. */
static size_t facts_of(struct store *st, const char *user, struct memory_fact **facts)
{
    size_t n = 99;

    if (store_memory_facts(st, user, facts, &n) != 0)
        fail_msg("memory facts: %s", store_last_error(st));
    return n;
}

static void test_memory(void **state)
{
    struct fixture *fx = *state;
    struct memory_fact *facts;
    struct memory_user u;
    struct job job;
    size_t n;

    assert_int_equal(facts_of(fx->st, "U1", &facts), 0);
    assert_null(facts);
    assert_int_equal(store_memory_user(fx->st, "U1", &u), 0);
    assert_false(u.opted_out);
    assert_false(u.told);
    assert_int_equal(u.unseen, 0);
    assert_int_equal(u.last_seq, 0);

    assert_int_equal(store_memory_add(fx->st, "U1", "U1", "m1", "Is vegetarian", 10), 0);
    assert_int_equal(store_memory_add(fx->st, "U1", "U1", NULL, "Is called Taro", 11), 0);
    assert_int_equal(store_memory_add(fx->st, "U2", "U2", "m1", "Likes tea", 12), 0);
    assert_int_equal(facts_of(fx->st, "U1", &facts), 2);
    assert_string_equal(facts[0].text, "Is called Taro"); /* newest first */
    assert_null(facts[0].message_id);
    assert_string_equal(facts[1].message_id, "m1");
    assert_string_equal(facts[1].chat_id, "U1");
    assert_int_equal(facts[1].created_at_ms, 10);
    memory_facts_free(facts, 2);
    /* Said again (case aside): counted, and ranked first. */
    assert_int_equal(store_memory_add(fx->st, "U1", "U1", "m9", "IS VEGETARIAN", 13), 0);
    assert_int_equal(facts_of(fx->st, "U1", &facts), 2);
    assert_string_equal(facts[0].text, "Is vegetarian");
    assert_int_equal(facts[0].used, 2);
    memory_facts_free(facts, 2);
    /* ASCII case only, on every backend (PostgreSQL's lower() follows the locale). */
    assert_int_equal(store_memory_add(fx->st, "U3", "U3", NULL, "Lives in \xc3\x85lesund", 13), 0);
    assert_int_equal(store_memory_add(fx->st, "U3", "U3", NULL, "LIVES IN \xc3\xa5lesund", 14), 0);
    assert_int_equal(facts_of(fx->st, "U3", &facts), 2);
    memory_facts_free(facts, 2);
    /* At most MEMORY_KEEP_MAX: the lowest ranked (the oldest of the least said) go. */
    for (int i = 0; i < MEMORY_KEEP_MAX + 5; i++) {
        char text[32];
        snprintf(text, sizeof text, "fact %d", i);
        assert_int_equal(store_memory_add(fx->st, "U1", "U1", NULL, text, 20 + i), 0);
    }
    n = facts_of(fx->st, "U1", &facts);
    assert_int_equal(n, MEMORY_KEEP_MAX);
    assert_string_equal(facts[0].text, "Is vegetarian");
    assert_string_equal(facts[1].text, "fact 54");
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(facts[i].text, "Is called Taro");
    int64_t first = facts[0].id;
    memory_facts_free(facts, n);
    assert_int_equal(store_memory_forget(fx->st, "U2", first), 0); /* not U2's */
    assert_int_equal(store_memory_forget(fx->st, "U1", first), 1);
    assert_int_equal(store_memory_forget(fx->st, "U1", first), 0);
    assert_int_equal(store_memory_forget(fx->st, "U1", 0), MEMORY_KEEP_MAX - 1);
    assert_int_equal(facts_of(fx->st, "U1", &facts), 0);

    /* Unsending the message takes its fact, in that chat only. */
    assert_int_equal(store_memory_add(fx->st, "U1", "U1", "m1", "Lives in Osaka", 30), 0);
    assert_int_equal(store_message_delete(fx->st, "U1", "m1"), 0);
    assert_int_equal(facts_of(fx->st, "U1", &facts), 0);
    assert_int_equal(facts_of(fx->st, "U2", &facts), 1);
    memory_facts_free(facts, 1);

    /* The notice is given once; the opt-out is kept. */
    assert_int_equal(store_memory_tell(fx->st, "U1", 40), 1);
    assert_int_equal(store_memory_tell(fx->st, "U1", 41), 0);
    if (!fx->backend->is_sqlite) { /* asked on every answer: once told, a read, no write */
        admin_exec(fx, "CREATE FUNCTION %sno_writes() RETURNS trigger LANGUAGE plpgsql AS"
                       " $$BEGIN RAISE EXCEPTION 'memory tell wrote'; END$$;"
                       "CREATE TRIGGER no_writes BEFORE INSERT OR UPDATE ON %slinebot_memory_users"
                       " FOR EACH STATEMENT EXECUTE FUNCTION %sno_writes();");
        assert_int_equal(store_memory_tell(fx->st, "U1", 41), 0);
        assert_int_equal(store_memory_tell(fx->st, "U9", 41), -1); /* the oracle: a write fails */
        admin_exec(fx, "DROP FUNCTION %sno_writes() CASCADE");
    }
    assert_int_equal(store_memory_opt_out(fx->st, "U1", true, 42), 0);
    assert_int_equal(store_memory_user(fx->st, "U1", &u), 0);
    assert_true(u.told);
    assert_true(u.opted_out);
    assert_int_equal(store_memory_opt_out(fx->st, "U1", false, 43), 0);
    assert_int_equal(store_memory_user(fx->st, "U1", &u), 0);
    assert_false(u.opted_out);

    /* Unseen turns: the user's own, in their 1:1 chat. */
    add_turn(fx->st, "U1", TURN_USER, "hello", "h1", 50);
    add_turn(fx->st, "U1", TURN_ASSISTANT, "hi!", NULL, 51);
    add_turn(fx->st, "U1", TURN_USER, "I never eat meat", "h2", 52);
    add_turn(fx->st, "C1", TURN_USER, "in a group", "g1", 53);
    assert_int_equal(store_memory_user(fx->st, "U1", &u), 0);
    assert_int_equal(u.unseen, 2);
    assert_true(u.last_seq > 0);
    int64_t upto = u.last_seq;
    struct turn *turns;
    assert_int_equal(store_memory_turns(fx->st, "U1", 0, upto, 30, &turns, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(turns[0].text, "hello");
    assert_string_equal(turns[1].text, "I never eat meat");
    assert_string_equal(turns[1].message_id, "h2");
    turns_free(turns, n);
    assert_int_equal(store_memory_turns(fx->st, "U1", 0, upto, 1, &turns, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(turns[0].text, "I never eat meat");
    turns_free(turns, n);

    /* Idle: the newest unseen turn older than the cut. */
    char **users;
    int64_t *seqs;
    assert_int_equal(store_memory_idle(fx->st, 52, 10, &users, &seqs, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_memory_idle(fx->st, 53, 10, &users, &seqs, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(users[0], "U1");
    assert_int_equal(seqs[0], upto);
    memory_due_free(users, seqs, n);

    /* The extraction's finish: fenced, and all together. */
    claim_task(fx->st, "U1", &job);
    struct memory_new got[] = {{"Is vegetarian", "h2"}, {"Says hello", "h1"}};
    struct job_finish f = { .outcome = OUTCOME_ANSWERED, .model = "cheap", .usage = { 1, 2, 3 } };
    assert_int_equal(store_memory_job_finish(fx->st, job.event_id, job.claim_gen + 1, "U1", got, 2, upto, &f), 1);
    assert_int_equal(facts_of(fx->st, "U1", &facts), 0);
    /* A charge the usage table cannot take is refused, nothing written. */
    struct store_charge bad = { "U1", "U1", NULL, 100, 1, 2, false };
    f.charge = &bad;
    assert_int_equal(store_memory_job_finish(fx->st, job.event_id, job.claim_gen, "U1", got, 2, upto, &f), -1);
    bad.model = "cheap";
    bad.prompt_tokens = -1;
    assert_int_equal(store_memory_job_finish(fx->st, job.event_id, job.claim_gen, "U1", got, 2, upto, &f), -1);
    assert_int_equal(facts_of(fx->st, "U1", &facts), 0);
    f.charge = NULL;
    assert_int_equal(store_memory_job_finish(fx->st, job.event_id, job.claim_gen, "U1", got, 2, upto, &f), 0);
    assert_int_equal(job_done(fx->st, job.event_id, job.claim_gen), 1); /* it is finished */
    assert_int_equal(store_memory_job_finish(fx->st, job.event_id, job.claim_gen, "U1", got, 2, upto, &f), 1);
    job_free(&job);
    assert_int_equal(facts_of(fx->st, "U1", &facts), 2);
    assert_string_equal(facts[1].text, "Is vegetarian");
    assert_string_equal(facts[1].chat_id, "U1");
    assert_string_equal(facts[1].message_id, "h2");
    memory_facts_free(facts, 2);
    assert_int_equal(store_memory_user(fx->st, "U1", &u), 0);
    assert_int_equal(u.seen_seq, upto);
    assert_int_equal(u.unseen, 0);
    assert_int_equal(store_memory_idle(fx->st, 1000, 10, &users, &seqs, &n), 0);
    assert_int_equal(n, 0);

    /* unfollow: the memory and the settings go with the 1:1 chat. */
    assert_int_equal(store_forget_chat(fx->st, "U1"), 0);
    assert_int_equal(facts_of(fx->st, "U1", &facts), 0);
    assert_int_equal(store_memory_user(fx->st, "U1", &u), 0);
    assert_false(u.told);
    /* The operator's forget counts the facts. */
    struct store_forget_counts counts;
    assert_int_equal(store_admin_forget(fx->st, "U2", &counts), 0);
    assert_int_equal(counts.memory, 1);
    assert_int_equal(facts_of(fx->st, "U2", &facts), 0);
}

/* The rolling summary (issue 11): it stands for the turns up to its seq,
 * which history_load then leaves out; written with its job's fenced finish,
 * not over a /reset, never backwards; dropped by /reset and forget. */
static void test_summary(void **state)
{
    struct fixture *fx = *state;
    struct turn *turns;
    int64_t *seqs;
    size_t n;
    char *summary = (char *)"untouched";
    int64_t upto = -1;
    struct job job;
    struct job_finish f = { .outcome = OUTCOME_ANSWERED, .model = "cheap", .usage = { 1, 2, 3 } };

    assert_int_equal(store_summary_get(fx->st, "chatA", &summary, &upto), 0);
    assert_null(summary);
    add_turn(fx->st, "chatA", TURN_USER, "q1", "m1", 1);
    add_turn(fx->st, "chatA", TURN_ASSISTANT, "a1", NULL, 2);
    add_turn(fx->st, "chatA", TURN_USER, "q2", "m2", 3);
    add_turn(fx->st, "chatA", TURN_ASSISTANT, "a2", NULL, 4);
    add_turn(fx->st, "chatA", TURN_CONTEXT, "chatter", NULL, 5);
    assert_int_equal(store_summary_turns(fx->st, "chatA", 100, &turns, &seqs, &n), 0);
    assert_int_equal(n, 4); /* not the context turn */
    assert_string_equal(turns[0].text, "q1");
    assert_int_equal(turns[1].role, TURN_ASSISTANT);
    int64_t a1 = seqs[1], a2 = seqs[3];
    assert_true(a1 < a2);
    turns_free(turns, n);
    free(seqs);

    /* Fenced; then the summary covers q1 and a1. */
    claim_task(fx->st, "chatA", &job);
    assert_int_equal(store_summary_job_finish(fx->st, job.event_id, job.claim_gen + 1, "chatA", "S1", a1, &f), 1);
    assert_int_equal(store_summary_get(fx->st, "chatA", &summary, &upto), 0);
    struct store_charge bad = { NULL, "chatA", "cheap", 100, 1, 2, false };
    f.charge = &bad;
    assert_int_equal(store_summary_job_finish(fx->st, job.event_id, job.claim_gen, "chatA", "S1", a1, &f), -1);
    bad.user_id = "";
    bad.completion_tokens = -5;
    assert_int_equal(store_summary_job_finish(fx->st, job.event_id, job.claim_gen, "chatA", "S1", a1, &f), -1);
    assert_int_equal(store_summary_get(fx->st, "chatA", &summary, &upto), 0);
    f.charge = NULL;
    assert_int_equal(store_summary_job_finish(fx->st, job.event_id, job.claim_gen, "chatA", "S1", a1, &f), 0);
    job_free(&job);
    assert_int_equal(store_summary_get(fx->st, "chatA", &summary, &upto), 1);
    assert_string_equal(summary, "S1");
    assert_int_equal(upto, a1);
    free(summary);
    assert_int_equal(store_summary_turns(fx->st, "chatA", 100, &turns, &seqs, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(turns[0].text, "q2");
    turns_free(turns, n);
    free(seqs);
    assert_int_equal(store_history_load(fx->st, "chatA", 10, 10, &turns, &n), 0);
    assert_int_equal(n, 3); /* q2, a2 and the context */
    assert_string_equal(turns[0].text, "q2");
    turns_free(turns, n);

    /* Never backwards: an older fold does not replace a newer summary. */
    claim_task(fx->st, "chatA", &job);
    assert_int_equal(store_summary_job_finish(fx->st, job.event_id, job.claim_gen, "chatA", "S2", a2, &f), 0);
    job_free(&job);
    claim_task(fx->st, "chatA", &job);
    assert_int_equal(store_summary_job_finish(fx->st, job.event_id, job.claim_gen, "chatA", "old", a1, &f), 0);
    job_free(&job);
    assert_int_equal(store_summary_get(fx->st, "chatA", &summary, &upto), 1);
    assert_string_equal(summary, "S2");
    free(summary);

    /* /reset drops it; a fold of the turns that are gone writes nothing. */
    assert_int_equal(store_history_clear(fx->st, "chatA"), 0);
    assert_int_equal(store_summary_get(fx->st, "chatA", &summary, &upto), 0);
    claim_task(fx->st, "chatA", &job);
    assert_int_equal(store_summary_job_finish(fx->st, job.event_id, job.claim_gen, "chatA", "late", a2, &f), 0);
    job_free(&job);
    assert_int_equal(store_summary_get(fx->st, "chatA", &summary, &upto), 0);

    /* forget_chat drops it too. */
    add_turn(fx->st, "chatB", TURN_USER, "q", "m", 10);
    assert_int_equal(store_summary_turns(fx->st, "chatB", 100, &turns, &seqs, &n), 0);
    assert_int_equal(n, 1);
    int64_t q = seqs[0];
    turns_free(turns, n);
    free(seqs);
    claim_task(fx->st, "chatB", &job);
    assert_int_equal(store_summary_job_finish(fx->st, job.event_id, job.claim_gen, "chatB", "S", q, &f), 0);
    job_free(&job);
    assert_int_equal(store_summary_get(fx->st, "chatB", &summary, &upto), 1);
    free(summary);
    assert_int_equal(store_forget_chat(fx->st, "chatB"), 0);
    assert_int_equal(store_summary_get(fx->st, "chatB", &summary, &upto), 0);
}

/* The wait of parked answers ends (store_jobs_unpark): rows of events older
 * than the cut become `sending` again and are claimed with their answer; a
 * row adopted first is never unparked, and one unparked is never adopted. */
static void test_unpark(void **state)
{
    struct fixture *fx = *state;
    const char *answer = "{\"messages\":[\"ready\"]}";
    struct job job, postback;
    char *got = NULL;

    add_event(fx->st, "e1", "chatA", 100);
    claim_expect(fx->st, "e1", &job);
    assert_int_equal(store_job_park(fx->st, "e1", job.claim_gen, answer), 0);
    job_free(&job);
    add_event(fx->st, "e2", "chatB", 200);
    claim_expect(fx->st, "e2", &job);
    assert_int_equal(store_job_park(fx->st, "e2", job.claim_gen, answer), 0);
    job_free(&job);

    assert_int_equal(store_jobs_unpark(fx->st, 100), 0); /* not older than the cut */
    claim_none(fx->st);
    /* chatB's answer is adopted first: the unpark leaves it alone. */
    add_event(fx->st, "p2", "chatB", 300);
    claim_expect(fx->st, "p2", &postback);
    assert_int_equal(store_job_adopt(fx->st, "p2", postback.claim_gen, "e2", &got), 0);
    free(got);
    got = NULL;
    finish_job(fx->st, &postback);
    assert_int_equal(store_jobs_unpark(fx->st, 1000), 1);
    assert_int_equal(store_jobs_unpark(fx->st, 1000), 0); /* once */
    expect_admin_text(fx, "SELECT state FROM %slinebot_inbox WHERE event_id = 'e2'", "done");

    /* e1 is claimed like a job a crash left sending, with its answer. */
    assert_int_equal(store_claim_next(fx->st, 5000, &job), 1);
    assert_string_equal(job.event_id, "e1");
    assert_int_equal(job.state, JOB_SENDING);
    assert_string_equal(job.answer, answer);
    finish_job(fx->st, &job);
    /* A late tap finds nothing. */
    add_event(fx->st, "p1", "chatA", 400);
    claim_expect(fx->st, "p1", &postback);
    assert_int_equal(store_job_adopt(fx->st, "p1", postback.claim_gen, "e1", &got), 2);
    assert_null(got);
    finish_job(fx->st, &postback);
}

/* store_inbox_take: only a pending, unclaimed event is taken, once; a
 * taken event is never claimed. */
static void test_inbox_take(void **state)
{
    struct fixture *fx = *state;
    struct job job;

    add_event(fx->st, "t1", "chatA", 100);
    add_event(fx->st, "t2", "chatB", 200);
    assert_int_equal(store_inbox_take(fx->st, "nope", OUTCOME_ANSWERED), 0);
    assert_int_equal(store_inbox_take(fx->st, "t1", OUTCOME_ANSWERED), 1);
    assert_int_equal(store_inbox_take(fx->st, "t1", OUTCOME_ANSWERED), 0);
    expect_admin_text(fx, "SELECT outcome FROM %slinebot_inbox WHERE event_id = 't1'", "answered");
    claim_expect(fx->st, "t2", &job); /* t1 is not claimed */
    assert_int_equal(store_inbox_take(fx->st, "t2", OUTCOME_ANSWERED), 0); /* the claimer's */
    finish_job(fx->st, &job);
    claim_none(fx->st);
    assert_int_equal(store_inbox_take(NULL, "t1", OUTCOME_ANSWERED), -1);
    assert_int_equal(store_inbox_take(fx->st, NULL, OUTCOME_ANSWERED), -1);
}

/* Parked answers: never claimed; exactly one adopter takes the answer over. */
static void test_park_adopt(void **state)
{
    struct fixture *fx = *state;
    const char *answer = "{\"messages\":[\"ready\"]}";
    struct job job, postback;
    char *got = (char *)"untouched";

    add_event(fx->st, "e1", "chatA", 1);
    claim_expect(fx->st, "e1", &job);
    assert_int_equal(store_job_park(fx->st, "e1", job.claim_gen + 1, answer), 1); /* fenced */
    assert_int_equal(store_job_park(fx->st, "e1", job.claim_gen, answer), 0);
    assert_int_equal(store_job_park(fx->st, "e1", job.claim_gen, answer), 1); /* the claim ended */
    assert_int_equal(job_done(fx->st, "e1", job.claim_gen), 1);
    claim_none(fx->st); /* never claimed again */
    assert_int_equal(depth_of(fx->st), 0);
    job_free(&job);

    /* Nothing waiting under other ids. */
    add_event(fx->st, "p1", "chatA", 2); /* the postback; chatA is not held by the parked row */
    claim_expect(fx->st, "p1", &postback);
    assert_int_equal(store_job_adopt(fx->st, "p1", postback.claim_gen, "nope", &got), 2);
    assert_null(got);
    assert_int_equal(store_job_adopt(fx->st, "p1", postback.claim_gen, "p1", &got), 2);

    /* An event of another chat never gets the answer: it stays parked. */
    struct job stranger;
    add_event(fx->st, "x1", "chatB", 3);
    claim_expect(fx->st, "x1", &stranger);
    assert_int_equal(store_job_adopt(fx->st, "x1", stranger.claim_gen, "e1", &got), 2);
    assert_null(got);
    expect_admin_text(fx, "SELECT state FROM %slinebot_inbox WHERE event_id = 'e1'", "waiting");
    finish_job(fx->st, &stranger);

    /* A lost claim adopts nothing: the answer stays parked. */
    assert_int_equal(store_job_adopt(fx->st, "p1", postback.claim_gen + 1, "e1", &got), 1);
    assert_null(got);
    expect_admin_text(fx, "SELECT state FROM %slinebot_inbox WHERE event_id = 'e1'", "waiting");

    assert_int_equal(store_job_adopt(fx->st, "p1", postback.claim_gen, "e1", &got), 0);
    assert_non_null(got);
    assert_string_equal(got, answer);
    free(got);
    assert_int_equal(store_job_adopt(fx->st, "p1", postback.claim_gen, "e1", &got), 2); /* once */
    expect_admin_text(fx, "SELECT outcome FROM %slinebot_inbox WHERE event_id = 'e1'", "handed_over");
    expect_admin_text(fx, "SELECT answer FROM %slinebot_inbox WHERE event_id = 'e1'", NULL);
    /* The adopter is in `sending` with the answer recorded, as after
     * store_job_sending: released (or crashed), it comes back to be finished. */
    assert_int_equal(store_job_release(fx->st, "p1", postback.claim_gen), 0);
    job_free(&postback);
    claim_expect(fx->st, "p1", &postback);
    assert_int_equal(postback.state, JOB_SENDING);
    assert_string_equal(postback.answer, answer);
    /* A job in `sending` cannot be parked (its answer may be out already). */
    assert_int_equal(store_job_park(fx->st, "p1", postback.claim_gen, answer), 1);
    finish_job(fx->st, &postback);
    assert_int_equal(depth_of(fx->st), 0);
}

struct adopt_arg {
    const char *url;
    const char *event_id;
    int64_t claim_gen;
    const char *parked;
    pthread_barrier_t *start;
    int rc;
    char *answer;
};

static void *adopt_worker(void *p)
{
    struct adopt_arg *a = p;
    char err[256];
    struct store *st = store_open(a->url, err, sizeof err);

    pthread_barrier_wait(a->start);
    a->rc = st ? store_job_adopt(st, a->event_id, a->claim_gen, a->parked, &a->answer) : -1;
    store_close(st);
    return NULL;
}

/* Two adopters, each with its own handle, race for one parked answer:
 * exactly one gets it, every time. Two events of one chat are never claimed
 * at once, so the racers are internal jobs of the parked answer's chat (they
 * do not hold its order), the closest a store can come to two claimants. */
static void test_adopt_race(void **state)
{
    struct fixture *fx = *state;

    for (int round = 0; round < 8; round++) {
        char parked[16], ida[16], idb[16], chat[16];
        struct job job, a, b;
        pthread_t ta, tb;
        pthread_barrier_t start;

        snprintf(parked, sizeof parked, "park%d", round);
        snprintf(ida, sizeof ida, "task:race:a%d", round);
        snprintf(idb, sizeof idb, "task:race:b%d", round);
        snprintf(chat, sizeof chat, "chat%d", round);
        add_event(fx->st, parked, chat, 1);
        claim_expect(fx->st, parked, &job);
        assert_int_equal(store_job_park(fx->st, parked, job.claim_gen, "{\"won\":true}"), 0);
        assert_int_equal(store_task_add(fx->st, "race", ida + strlen("task:race:"), chat, "{}", 2), 1);
        assert_int_equal(store_task_add(fx->st, "race", idb + strlen("task:race:"), chat, "{}", 3), 1);
        assert_int_equal(store_claim_next(fx->st, 1000, &a), 1);
        assert_string_equal(a.event_id, ida);
        assert_int_equal(store_claim_next(fx->st, 1000, &b), 1);
        assert_string_equal(b.event_id, idb);

        struct adopt_arg aa = { fx->url, ida, a.claim_gen, parked, &start, -9, NULL };
        struct adopt_arg ab = { fx->url, idb, b.claim_gen, parked, &start, -9, NULL };
        pthread_barrier_init(&start, NULL, 2);
        assert_int_equal(pthread_create(&ta, NULL, adopt_worker, &aa), 0);
        assert_int_equal(pthread_create(&tb, NULL, adopt_worker, &ab), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        pthread_barrier_destroy(&start);

        assert_true((aa.rc == 0 && ab.rc == 2) || (aa.rc == 2 && ab.rc == 0));
        assert_string_equal(aa.rc == 0 ? aa.answer : ab.answer, "{\"won\":true}");
        assert_null(aa.rc == 0 ? ab.answer : aa.answer);
        free(aa.answer);
        free(ab.answer);
        finish_job(fx->st, &a);
        finish_job(fx->st, &b);
        job_free(&job);
    }
    assert_int_equal(depth_of(fx->st), 0);
}

/* A parked answer nobody takes over expires with the dedup window. */
static void test_purge_expires_parked(void **state)
{
    struct fixture *fx = *state;
    struct job job, other;
    char *got = NULL;
    size_t n_new = 9;

    add_event(fx->st, "old", "chatA", 100);
    add_event(fx->st, "new", "chatB", 5000);
    claim_expect(fx->st, "old", &job);
    assert_int_equal(store_job_park(fx->st, "old", job.claim_gen, "{}"), 0);
    job_free(&job);
    claim_expect(fx->st, "new", &job);
    assert_int_equal(store_job_park(fx->st, "new", job.claim_gen, "{\"a\":1}"), 0);
    job_free(&job);

    clock_set_offset_ms(86400000); /* a clock a day ahead: the store's, not the database's */
    int64_t before = clock_now_ms();
    assert_int_equal(store_purge(fx->st, 1000, 1000), 0);
    int64_t after = clock_now_ms();
    clock_set_offset_ms(0);
    expect_admin_text(fx, "SELECT outcome FROM %slinebot_inbox WHERE event_id = 'old'", "expired");
    /* done at the store's clock (store.c's, the same on both backends) */
    char *done = admin_text(fx, "SELECT done_at_ms FROM %slinebot_inbox WHERE event_id = 'old'");
    assert_non_null(done);
    assert_true(strtoll(done, NULL, 10) >= before && strtoll(done, NULL, 10) <= after);
    free(done);
    expect_admin_text(fx, "SELECT state FROM %slinebot_inbox WHERE event_id = 'new'", "waiting");
    add_event(fx->st, "p", "chatA", 6000);
    claim_expect(fx->st, "p", &other);
    assert_int_equal(store_job_adopt(fx->st, "p", other.claim_gen, "old", &got), 2);
    assert_null(got);
    finish_job(fx->st, &other);
    {
        /* Expired, it still deduplicates until the next purge removes it. */
        struct inbox_item again = { "old", "chatA", 100, "{}" };
        assert_int_equal(store_inbox_add(fx->st, &again, 1, &n_new), 0);
        assert_int_equal(n_new, 0);
        assert_int_equal(store_purge(fx->st, 1000, 1000), 0);
        assert_int_equal(store_inbox_add(fx->st, &again, 1, &n_new), 0);
        assert_int_equal(n_new, 1);
    }
    assert_int_equal(store_claim_next(fx->st, 1000, &job), 1); /* the redelivery, a new event now */
    assert_string_equal(job.event_id, "old");
    finish_job(fx->st, &job);
    add_event(fx->st, "q", "chatB", 6001);
    claim_expect(fx->st, "q", &other);
    assert_int_equal(store_job_adopt(fx->st, "q", other.claim_gen, "new", &got), 0);
    assert_string_equal(got, "{\"a\":1}");
    free(got);
    finish_job(fx->st, &other);
}

/* The schema of the SQLite file at `path`, one line per table and index in
 * name order, with SQLite's quotes around renamed tables dropped and runs of
 * blanks made one: what a migration and a fresh create can be compared by. */
static char *sqlite_schema_of(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    size_t len = 0, cap = 4096;
    char *out = malloc(cap);

    assert_non_null(out);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT type, name, tbl_name, sql FROM sqlite_master"
                                            " WHERE name LIKE 'linebot%' ORDER BY name",
                                        -1, &s, NULL),
                     SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        for (int col = 0; col < 4; col++) {
            const char *v = (const char *)sqlite3_column_text(s, col);
            bool blank = false;
            for (; v && *v; v++) {
                if (*v == '"')
                    continue;
                bool is_blank = *v == ' ' || *v == '\n' || *v == '\t';
                if (is_blank && blank)
                    continue;
                blank = is_blank;
                if (len + 3 > cap) {
                    cap *= 2;
                    out = realloc(out, cap);
                    assert_non_null(out);
                }
                out[len++] = is_blank ? ' ' : *v;
            }
            out[len++] = col == 3 ? '\n' : '|';
        }
    }
    out[len] = '\0';
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
}

static char *read_fixture(const char *path)
{
    FILE *f = fopen(path, "rb");
    long len;
    char *text;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    return text;
}

/* Replaces the fixture's database with the release-1 fixture (schema
 * version 1, tables without the linebot_ prefix), with no store open on it. */
static void load_release_v1(struct fixture *fx)
{
    sqlite3 *db;
    char *sql;

    store_close(fx->st);
    fx->st = NULL;
    sqlite_destroy(fx);
    sql = read_fixture(FIXTURES_DIR "/store/store-v1.sql");
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    free(sql);
}

/* A new database gets the newest schema in one step (schema_fresh in
 * store_sqlite.c); it must be exactly what the migrations make of the
 * release-1 fixture, table for table and index for index. */
static void test_sqlite_fresh_schema_is_migrated(void **state)
{
    struct fixture *fx = *state;
    char *fresh, *migrated;

    if (!fx->backend->is_sqlite)
        skip();
    fresh = sqlite_schema_of(fx->path);
    assert_non_null(strstr(fresh, "table|linebot_inbox|"));
    int fresh_version = sqlite_user_version(fx->path, -1);
    assert_true(fresh_version >= 3);
    load_release_v1(fx);
    fx->st = reopen(fx);
    migrated = sqlite_schema_of(fx->path);
    assert_string_equal(fresh, migrated);
    assert_int_equal(sqlite_user_version(fx->path, -1), fresh_version);
    free(fresh);
    free(migrated);
}

/* A database made by the release before issue 9 (schema version 1, tables
 * without the linebot_ prefix; tests/fixtures/store/store-v1.sql) upgrades
 * in place: its pending events come out in order, the one caught mid-send
 * with its recorded answer, and its history, ids, profile and counter stay. */
static void test_sqlite_opens_release_v1(void **state)
{
    struct fixture *fx = *state;
    struct job job;
    char *name = NULL;
    int64_t count;
    size_t n_new = 9;

    if (!fx->backend->is_sqlite)
        skip();
    load_release_v1(fx);
    assert_int_equal(sqlite_user_version(fx->path, -1), 1);

    fx->st = reopen(fx);
    assert_true(sqlite_user_version(fx->path, -1) >= 2);
    expect_admin_text(fx, "SELECT count(*) FROM sqlite_master WHERE name = 'inbox'", "0");
    expect_admin_text(fx, "SELECT count(*) FROM sqlite_master WHERE name = 'linebot_inbox'", "1");
    assert_int_equal(store_recover(fx->st), 0); /* what a worker does at start-up */
    assert_int_equal(depth_of(fx->st), 4);

    assert_int_equal(store_claim_next(fx->st, 20000, &job), 1);
    assert_string_equal(job.event_id, "ev-sending");
    assert_int_equal(job.state, JOB_SENDING);
    assert_string_equal(job.answer, "{\"text\":\"the recorded answer\"}");
    assert_string_equal(job.payload, "{\"type\":\"message\",\"n\":0}");
    assert_int_equal(job.attempts, 2);
    assert_null(job.kind);
    finish_job(fx->st, &job);
    assert_int_equal(store_claim_next(fx->st, 20000, &job), 1);
    assert_string_equal(job.event_id, "ev-1");
    assert_int_equal(job.state, JOB_PENDING);
    finish_job(fx->st, &job);
    assert_int_equal(store_claim_next(fx->st, 20000, &job), 1);
    assert_string_equal(job.event_id, "ev-2");
    finish_job(fx->st, &job);
    assert_int_equal(store_claim_next(fx->st, 20000, &job), 1);
    assert_string_equal(job.event_id, "ev-3");
    finish_job(fx->st, &job);
    claim_none(fx->st);

    expect_history(fx->st, "C1", 10, 10, "hello|hi there|chatter");
    assert_int_equal(store_bot_message_is(fx->st, "C1", "b1"), 1);
    {
        char *language = (char *)"unset";
        assert_int_equal(store_profile_get(fx->st, "C1", "Uann", 0, &name, &language), 1);
        assert_null(language); /* not known before schema version 4 */
    }
    assert_string_equal(name, "Ann");
    free(name);
    assert_int_equal(store_rate_count(fx->st, "Uann", 6000, &count), 0);
    assert_int_equal(count, 4); /* 3 in the window that opened at 5000 */
    {
        struct inbox_item again = { "ev-done", "U2", 500, "{}" };
        assert_int_equal(store_inbox_add(fx->st, &again, 1, &n_new), 0);
        assert_int_equal(n_new, 0); /* done before the upgrade: still a duplicate */
    }
    expect_admin_text(fx, "SELECT outcome FROM linebot_inbox WHERE event_id = 'ev-done'", "answered");
}

static void test_purge(void **state)
{
    struct fixture *fx = *state;
    int64_t count;
    char *name = NULL;
    struct job job;
    size_t n_new;

    add_turn(fx->st, "chatA", TURN_USER, "old", "m1", 100);
    add_turn(fx->st, "chatA", TURN_USER, "new", "m2", 5000);
    add_bot_id(fx->st, "chatA", "s-old", 100);
    add_bot_id(fx->st, "chatA", "s-new", 5000);
    assert_int_equal(store_profile_put(fx->st, "chatA", "U-old", "Old", NULL, 100), 0);
    assert_int_equal(store_profile_put(fx->st, "chatA", "U-new", "New", NULL, 5000), 0);
    assert_int_equal(store_rate_count(fx->st, "U-old", 100, &count), 0);
    assert_int_equal(store_rate_count(fx->st, "U-new", 5000, &count), 0);

    add_event(fx->st, "done-old", "c1", 100);
    add_event(fx->st, "done-new", "c2", 5000);
    add_event(fx->st, "pending-old", "c3", 50);
    claim_expect(fx->st, "pending-old", &job);
    assert_int_equal(store_job_release(fx->st, job.event_id, job.claim_gen), 0);
    job_free(&job);
    claim_expect(fx->st, "pending-old", &job); /* hold c3 so the others come next */
    {
        struct job j2;
        claim_expect(fx->st, "done-old", &j2);
        finish_job(fx->st, &j2);
        claim_expect(fx->st, "done-new", &j2);
        finish_job(fx->st, &j2);
    }
    assert_int_equal(store_job_release(fx->st, job.event_id, job.claim_gen), 0);
    job_free(&job);

    assert_int_equal(store_purge(fx->st, 1000, 1000), 0);

    expect_history(fx->st, "chatA", 10, 10, "new");
    assert_int_equal(store_bot_message_is(fx->st, "chatA", "s-old"), 0);
    assert_int_equal(store_bot_message_is(fx->st, "chatA", "s-new"), 1);
    assert_int_equal(store_profile_get(fx->st, "chatA", "U-old", 0, &name, NULL), 0);
    assert_int_equal(store_profile_get(fx->st, "chatA", "U-new", 0, &name, NULL), 1);
    free(name);
    assert_int_equal(store_rate_count(fx->st, "U-old", 200, &count), 0);
    assert_int_equal(count, 1); /* a new counter: the old one was purged */
    assert_int_equal(store_rate_count(fx->st, "U-new", 5001, &count), 0);
    assert_int_equal(count, 2);

    /* Old done events are forgotten (they would be new again); recent done
     * events and undone events of any age stay. */
    {
        struct inbox_item items[] = {
            { "done-old", "c1", 100, "{}" },
            { "done-new", "c2", 5000, "{}" },
            { "pending-old", "c3", 50, "{}" },
        };
        assert_int_equal(store_inbox_add(fx->st, items, 3, &n_new), 0);
        assert_int_equal(n_new, 1);
    }
    assert_int_equal(depth_of(fx->st), 2);
}

static void test_purge_many(void **state)
{
    struct fixture *fx = *state;
    enum { N = 1100 }; /* more than one purge batch (1000) */
    struct inbox_item *items = calloc(N, sizeof *items);
    char (*ids)[16] = calloc(N, sizeof *ids);
    size_t n_new;

    struct turn *turns = calloc(N, sizeof *turns);

    assert_non_null(items);
    assert_non_null(ids);
    assert_non_null(turns);
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "t%d", i);
        turns[i] = (struct turn){ TURN_CONTEXT, NULL, ids[i], NULL, i };
        items[i] = (struct inbox_item){ ids[i], "", i, "{}" };
    }
    finish_with(fx->st, "chatA", turns, N, NULL, 0, 0);
    free(turns);
    assert_int_equal(store_inbox_add(fx->st, items, N, &n_new), 0);
    assert_int_equal(n_new, N);
    assert_int_equal(store_purge(fx->st, N - 1, 0), 0);
    expect_history(fx->st, "chatA", 0, N, "t1099");
    assert_int_equal(depth_of(fx->st), N); /* undone: never purged */
    free(items);
    free(ids);
}

/* ---- hostile input ---- */

static void test_hostile_input(void **state)
{
    struct fixture *fx = *state;
    const char *evil = "x'); DROP TABLE inbox; --";
    const char bad_utf8[] = { 'a', (char)0xff, (char)0xc3, '"', '\\', 'z', 0 };
    /* Valid UTF-8 that is still awkward: control bytes, quotes, 4-byte forms. */
    const char odd_utf8[] = "a\x01\"\\z \xe3\x81\x82 \xf0\x9f\x98\x80 \x7f";
    /* Bytes that are not UTF-8 round-trip where text is bytes (SQLite). */
    const char *odd = fx->backend->text_is_bytes ? bad_utf8 : odd_utf8;
    size_t odd_size = strlen(odd) + 1;
    struct inbox_item it = { evil, evil, 1, odd };
    struct turn t = { TURN_USER, (char *)evil, (char *)odd, (char *)evil, 1 };
    struct job job;
    struct turn *turns = NULL;
    size_t n;
    char *text;
    int64_t depth;

    assert_int_equal(store_inbox_add(fx->st, &it, 1, &n), 0);
    assert_int_equal(store_claim_next(fx->st, 1, &job), 1);
    assert_string_equal(job.event_id, evil);
    assert_string_equal(job.chat_id, evil);
    assert_memory_equal(job.payload, odd, odd_size);
    finish_job(fx->st, &job);

    finish_with(fx->st, evil, &t, 1, &evil, 1, 1);
    assert_int_equal(store_bot_message_is(fx->st, evil, evil), 1);
    assert_int_equal(store_message_text(fx->st, evil, evil, &text), 1);
    assert_memory_equal(text, odd, odd_size);
    free(text);

    /* Where text must be UTF-8, anything else is refused with a clear error
     * (the whole batch, as with any bad item), and the handle goes on. */
    if (!fx->backend->text_is_bytes) {
        struct inbox_item bad[] = { { "ok-1", "chatA", 1, "{}" }, { "bad-1", "chatA", 2, bad_utf8 } };
        struct turn bad_turn = { TURN_USER, NULL, (char *)bad_utf8, NULL, 1 };

        assert_int_equal(store_inbox_add(fx->st, bad, 2, &n), -1);
        assert_non_null(strstr(store_last_error(fx->st), "UTF-8"));
        assert_null(strstr(store_last_error(fx->st), "\xff"));
        assert_int_equal(depth_of(fx->st), 0);
        struct job_finish f = { OUTCOME_ANSWERED, &bad_turn, 1, NULL, 0, 0, NULL, { -1, -1, -1 } };
        claim_task(fx->st, "chatA", &job);
        assert_int_equal(store_job_finish(fx->st, job.event_id, job.claim_gen, &f), -1);
        expect_history(fx->st, "chatA", 10, 10, "");
        assert_int_equal(job_done(fx->st, job.event_id, job.claim_gen), 0);
        job_free(&job);
        assert_int_equal(store_task_add(fx->st, "test", "k", bad_utf8, "{}", 1), -1);
        assert_int_equal(store_task_add(fx->st, "test", bad_utf8, "c", "{}", 1), -1);
        assert_int_equal(store_rate_count(fx->st, bad_utf8, 1, &depth), -1);
        assert_int_equal(store_message_text(fx->st, bad_utf8, "m", &text), -1);
        assert_int_equal(store_ping(fx->st), 0);
    }

    /* NULL everywhere: errors, never crashes. */
    assert_int_equal(store_ping(NULL), -1);
    assert_non_null(store_last_error(NULL));
    assert_int_equal(store_inbox_add(NULL, &it, 1, &n), -1);
    assert_int_equal(store_inbox_depth(NULL, &depth), -1);
    assert_int_equal(store_claim_next(NULL, 1, &job), -1);
    assert_int_equal(store_claim_next(fx->st, 1, NULL), -1);
    assert_int_equal(store_job_sending(NULL, "e", 1, "{}"), -1);
    assert_int_equal(store_job_sending(fx->st, NULL, 1, "{}"), -1);
    assert_int_equal(store_job_sending(fx->st, "e", 1, NULL), -1);
    assert_int_equal(job_done(NULL, "e", 1), -1);
    assert_int_equal(job_done(fx->st, NULL, 1), -1);
    assert_int_equal(store_job_release(NULL, "e", 1), -1);
    assert_int_equal(store_job_release(fx->st, NULL, 1), -1);
    assert_int_equal(store_recover(NULL), -1);
    assert_int_equal(job_done(NULL, "e", 1), -1);
    assert_int_equal(job_done(fx->st, NULL, 1), -1);
    assert_int_equal(store_bot_message_is(NULL, "c", "m"), -1);
    assert_int_equal(store_bot_message_is(fx->st, NULL, "m"), -1);
    assert_int_equal(store_history_load(NULL, "c", 1, 1, &turns, &n), -1);
    assert_int_equal(store_history_load(fx->st, NULL, 1, 1, &turns, &n), -1);
    assert_int_equal(store_history_load(fx->st, "c", 1, 1, NULL, &n), -1);
    assert_int_equal(store_history_load(fx->st, "c", 1, 1, &turns, NULL), -1);
    assert_int_equal(store_message_text(NULL, "c", "m", &text), -1);
    assert_int_equal(store_message_text(fx->st, NULL, "m", &text), -1);
    assert_int_equal(store_message_text(fx->st, "c", "m", NULL), -1);
    assert_int_equal(store_message_delete(NULL, "c", "m"), -1);
    assert_int_equal(store_message_delete(fx->st, NULL, "m"), -1);
    assert_int_equal(store_message_update(NULL, "c", "m", "t"), -1);
    assert_int_equal(store_message_update(fx->st, NULL, "m", "t"), -1);
    assert_int_equal(store_message_update(fx->st, evil, evil, NULL), 0);
    assert_int_equal(store_history_clear(NULL, "c"), -1);
    assert_int_equal(store_history_clear(fx->st, NULL), -1);
    assert_int_equal(store_forget_chat(NULL, "c"), -1);
    assert_int_equal(store_forget_chat(fx->st, NULL), -1);
    assert_int_equal(store_profile_get(NULL, "c", "u", 0, &text, NULL), -1);
    assert_int_equal(store_profile_put(NULL, "c", "u", "n", NULL, 0), -1);
    assert_int_equal(store_profile_put(fx->st, NULL, "u", "n", NULL, 0), -1);
    assert_int_equal(store_profile_put(fx->st, "c", NULL, "n", NULL, 0), -1);
    assert_int_equal(store_rate_count(NULL, "u", 1, &depth), -1);
    assert_int_equal(store_rate_count(fx->st, NULL, 1, &depth), -1);
    assert_int_equal(store_rate_count(fx->st, "u", 1, NULL), -1);
    assert_int_equal(store_task_add(NULL, "k", "k", "c", "{}", 1), -1);
    assert_int_equal(store_task_add(fx->st, NULL, "k", "c", "{}", 1), -1);
    assert_int_equal(store_task_add(fx->st, "", "k", "c", "{}", 1), -1);
    assert_int_equal(store_task_add(fx->st, "a:b", "k", "c", "{}", 1), -1);
    assert_int_equal(store_task_add(fx->st, "k", NULL, "c", "{}", 1), -1);
    assert_int_equal(store_task_add(fx->st, "k", "k", "c", NULL, 1), -1);
    assert_int_equal(store_job_park(NULL, "e", 1, "{}"), -1);
    assert_int_equal(store_jobs_unpark(NULL, 1), -1);
    assert_int_equal(store_job_park(fx->st, NULL, 1, "{}"), -1);
    assert_int_equal(store_job_park(fx->st, "e", 1, NULL), -1);
    assert_int_equal(store_job_adopt(NULL, "e", 1, "p", &text), -1);
    assert_int_equal(store_job_adopt(fx->st, NULL, 1, "p", &text), -1);
    assert_int_equal(store_job_adopt(fx->st, "e", 1, NULL, &text), -1);
    assert_int_equal(store_job_adopt(fx->st, "e", 1, "p", NULL), -1);
    assert_int_equal(store_purge(NULL, 0, 0), -1);
    job_free(NULL);
    turns_free(NULL, 3);

    /* The message says what is wrong, without echoing data. */
    assert_int_equal(store_forget_chat(fx->st, NULL), -1);
    assert_non_null(strstr(store_last_error(fx->st), "chat_id"));
    assert_int_equal(store_ping(fx->st), 0);
}

/* ---- concurrency ---- */

#define CC_EVENTS 200
#define CC_CHATS 20
#define CC_WORKERS 4

/* Shared by the workers; for processes it lives in a shared mapping (the
 * atomics are lock-free, so they work across processes too). */
struct cc_shared {
    const char *url;
    atomic_int in_progress[CC_CHATS];
    atomic_int claims[CC_EVENTS];
    atomic_llong last_ts[CC_CHATS];
    atomic_int done;
    atomic_int overlaps;     /* two events of one chat in progress at once */
    atomic_int out_of_order; /* a chat's events not in timestamp order */
    atomic_int errors;
};

static void cc_fill(struct fixture *fx, struct cc_shared *sh)
{
    struct inbox_item items[CC_EVENTS];
    char ids[CC_EVENTS][16], chats[CC_CHATS][16], payloads[CC_EVENTS][64];
    size_t n_new;

    memset(sh, 0, sizeof *sh);
    sh->url = fx->url;
    for (int c = 0; c < CC_CHATS; c++) {
        snprintf(chats[c], sizeof chats[c], "chat%02d", c);
        atomic_init(&sh->last_ts[c], -1);
    }
    for (int i = 0; i < CC_EVENTS; i++) {
        snprintf(ids[i], sizeof ids[i], "ev%03d", i);
        payload_of(ids[i], payloads[i], sizeof payloads[i]);
        items[i] = (struct inbox_item){ ids[i], chats[i % CC_CHATS], i, payloads[i] };
    }
    assert_int_equal(store_inbox_add(fx->st, items, CC_EVENTS, &n_new), 0);
    assert_int_equal(n_new, CC_EVENTS);
}

static void cc_work(struct cc_shared *sh)
{
    char err[256];
    struct store *st = store_open(sh->url, err, sizeof err);
    time_t give_up = time(NULL) + 60;

    if (!st) {
        atomic_fetch_add(&sh->errors, 1);
        return;
    }
    while (atomic_load(&sh->done) < CC_EVENTS && time(NULL) < give_up) {
        struct job job;
        int rc = store_claim_next(st, 1, &job);
        int event, chat;

        if (rc != 1) {
            if (rc < 0)
                atomic_fetch_add(&sh->errors, 1);
            usleep(500);
            continue;
        }
        event = atoi(job.event_id + 2);
        chat = atoi(job.chat_id + 4);
        if (event < 0 || event >= CC_EVENTS || chat != event % CC_CHATS) {
            atomic_fetch_add(&sh->errors, 1);
            job_free(&job);
            continue;
        }
        if (atomic_fetch_add(&sh->in_progress[chat], 1) != 0)
            atomic_fetch_add(&sh->overlaps, 1);
        atomic_fetch_add(&sh->claims[event], 1);
        if (atomic_exchange(&sh->last_ts[chat], job.timestamp_ms) >= job.timestamp_ms)
            atomic_fetch_add(&sh->out_of_order, 1);
        usleep(200); /* "work", so claims overlap */
        /* Leave before done commits: after that the chat is free to claim. */
        atomic_fetch_sub(&sh->in_progress[chat], 1);
        if (job_done(st, job.event_id, job.claim_gen) != 0)
            atomic_fetch_add(&sh->errors, 1);
        atomic_fetch_add(&sh->done, 1);
        job_free(&job);
    }
    store_close(st);
}

static void cc_check(struct fixture *fx, struct cc_shared *sh)
{
    assert_int_equal(atomic_load(&sh->errors), 0);
    assert_int_equal(atomic_load(&sh->overlaps), 0);
    assert_int_equal(atomic_load(&sh->out_of_order), 0);
    assert_int_equal(atomic_load(&sh->done), CC_EVENTS);
    for (int i = 0; i < CC_EVENTS; i++)
        assert_int_equal(atomic_load(&sh->claims[i]), 1);
    assert_int_equal(depth_of(fx->st), 0);
    claim_none(fx->st);
}

static void *cc_thread(void *arg)
{
    cc_work(arg);
    return NULL;
}

static void test_concurrent_threads(void **state)
{
    struct fixture *fx = *state;
    struct cc_shared *sh = calloc(1, sizeof *sh);
    pthread_t threads[CC_WORKERS];

    assert_non_null(sh);
    cc_fill(fx, sh);
    for (int i = 0; i < CC_WORKERS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, cc_thread, sh), 0);
    for (int i = 0; i < CC_WORKERS; i++)
        pthread_join(threads[i], NULL);
    cc_check(fx, sh);
    free(sh);
}

static void test_concurrent_processes(void **state)
{
    struct fixture *fx = *state;
    struct cc_shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pids[CC_WORKERS];

    assert_true(sh != MAP_FAILED);
    cc_fill(fx, sh);
    for (int i = 0; i < CC_WORKERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            cc_work(sh);
            _exit(0);
        }
    }
    for (int i = 0; i < CC_WORKERS; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    cc_check(fx, sh);
    munmap(sh, sizeof *sh);
}

/* Several processes opening (creating, migrating) the same new database at once. */
static void test_concurrent_open(void **state)
{
    struct fixture *fx = *state;
    pid_t pids[CC_WORKERS];

    store_close(fx->st);
    fx->st = NULL;
    fx->backend->destroy(fx);
    assert_int_equal(fx->backend->create(fx), 0);
    for (int i = 0; i < CC_WORKERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            char err[256], id[16];
            struct store *st = store_open(fx->url, err, sizeof err);
            struct inbox_item it = { id, "chatA", i, "{}" };
            size_t n_new = 0;

            snprintf(id, sizeof id, "open%d", i);
            if (!st) {
                fprintf(stderr, "child store_open: %s\n", err);
                _exit(1);
            }
            if (store_inbox_add(st, &it, 1, &n_new) != 0 || n_new != 1) {
                fprintf(stderr, "child inbox add: %s\n", store_last_error(st));
                _exit(1);
            }
            store_close(st);
            _exit(0);
        }
    }
    for (int i = 0; i < CC_WORKERS; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    fx->st = reopen(fx);
    assert_int_equal(depth_of(fx->st), CC_WORKERS);
}

/* ---- leases: on every backend, a claim whose lease ran out is taken over ---- */

static void test_lease_takeover(void **state)
{
    struct fixture *fx = *state;
    const int64_t t = 1000;
    struct store *other;
    struct job job, again, next;

    other = reopen(fx); /* another instance; on SQLite, another worker */
    add_event(fx->st, "e1", "chatA", 1);
    add_event(fx->st, "e2", "chatA", 2);
    claim_expect_at(fx->st, t, "e1", &job);

    /* While the lease runs, the chat is busy for every instance. */
    assert_int_equal(store_claim_next(other, t + STORE_LEASE_MS - 1, &again), 0);
    /* Once it has run out, another instance takes the event over from the start. */
    claim_expect_at(other, t + STORE_LEASE_MS + 1, "e1", &again);
    assert_int_equal(again.state, JOB_PENDING);
    assert_int_equal(again.attempts, 2);
    assert_true(again.claim_gen > job.claim_gen);
    assert_null(again.answer);

    /* The old holder is fenced off from every write. */
    assert_int_equal(store_job_renew(fx->st, "e1", job.claim_gen, t + 10), 1);
    assert_int_equal(store_job_sending(fx->st, "e1", job.claim_gen, "{}"), 1);
    assert_int_equal(store_job_release(fx->st, "e1", job.claim_gen), 1);
    assert_int_equal(job_done(fx->st, "e1", job.claim_gen), 1);

    /* The chat now belongs to the new holder: e2 waits for it. */
    assert_int_equal(store_claim_next(fx->st, t + STORE_LEASE_MS + 2, &next), 0);
    assert_int_equal(job_done(other, "e1", again.claim_gen), 0);
    claim_expect_at(fx->st, t + STORE_LEASE_MS + 3, "e2", &next);
    assert_int_equal(next.attempts, 1);
    finish_job(fx->st, &next);
    assert_int_equal(depth_of(fx->st), 0);
    job_free(&job);
    job_free(&again);
    store_close(other);
}

/* A job that died in `sending` is taken over as JOB_SENDING with its answer. */
static void test_lease_takeover_sending(void **state)
{
    struct fixture *fx = *state;
    const char *answer = "{\"mode\":\"reply\",\"parts\":[\"hi\"]}";
    const int64_t t = 5000;
    struct store *other;
    struct job job, again;

    other = reopen(fx);
    add_event(fx->st, "e1", "", 1); /* chat "": taken over row by row */
    add_event(fx->st, "e2", "chatB", 2);
    claim_expect_at(fx->st, t, "e1", &job);
    assert_int_equal(store_job_sending(fx->st, "e1", job.claim_gen, answer), 0);
    job_free(&job);
    claim_expect_at(fx->st, t, "e2", &job);
    assert_int_equal(store_job_sending(fx->st, "e2", job.claim_gen, answer), 0);
    /* The instance dies; its handle stays open, as if it hung. */

    claim_expect_at(other, t + STORE_LEASE_MS + 1, "e1", &again);
    assert_int_equal(again.state, JOB_SENDING);
    assert_string_equal(again.answer, answer);
    finish_job(other, &again);
    claim_expect_at(other, t + STORE_LEASE_MS + 1, "e2", &again);
    assert_int_equal(again.state, JOB_SENDING);
    assert_string_equal(again.answer, answer);
    assert_int_equal(again.attempts, 2);
    assert_int_equal(store_job_sending(fx->st, "e2", job.claim_gen, answer), 1);
    assert_int_equal(job_done(fx->st, "e2", job.claim_gen), 1);
    finish_job(other, &again);
    job_free(&job);
    assert_int_equal(depth_of(fx->st), 0);
    store_close(other);
}

/* An expired claim no longer holds its chat: an older event that arrived
 * meanwhile goes first, and the expired one is worked on again later. */
static void test_expired_claim_frees_chat(void **state)
{
    struct fixture *fx = *state;
    const int64_t t = 1000;
    struct store *other;
    struct job job, older, again;

    other = reopen(fx);
    add_event(fx->st, "a2", "chatA", 20);
    claim_expect_at(fx->st, t, "a2", &job);
    add_event(fx->st, "a1", "chatA", 10); /* late, but older */

    claim_expect_at(other, t + STORE_LEASE_MS + 1, "a1", &older);
    assert_int_equal(store_job_sending(fx->st, "a2", job.claim_gen, "{}"), 1);
    assert_int_equal(store_claim_next(other, t + STORE_LEASE_MS + 1, &again), 0);
    finish_job(other, &older);
    claim_expect_at(other, t + STORE_LEASE_MS + 2, "a2", &again);
    assert_int_equal(again.state, JOB_PENDING);
    assert_int_equal(again.attempts, 2);
    finish_job(other, &again);
    job_free(&job);
    store_close(other);
}

static void test_renew_prevents_takeover(void **state)
{
    struct fixture *fx = *state;
    const int64_t t = 1000;
    struct store *other, *keeper;
    struct job job, again;

    other = reopen(fx);
    keeper = reopen(fx); /* the lease keeper renews with a handle of its own */
    add_event(fx->st, "e1", "chatA", 1);
    claim_expect_at(fx->st, t, "e1", &job);

    assert_int_equal(store_job_renew(keeper, "e1", job.claim_gen, t + STORE_LEASE_MS - 1000), 0);
    assert_int_equal(store_claim_next(other, t + STORE_LEASE_MS + 1, &again), 0);
    assert_int_equal(store_claim_next(other, t + 2 * STORE_LEASE_MS - 1001, &again), 0);
    /* Even a renew after the lease ran out keeps the job while nobody has
     * taken it over yet (the holder was slow, not dead). */
    assert_int_equal(store_job_renew(keeper, "e1", job.claim_gen, t + 2 * STORE_LEASE_MS), 0);
    assert_int_equal(store_claim_next(other, t + 2 * STORE_LEASE_MS + 1, &again), 0);
    assert_int_equal(store_job_sending(fx->st, "e1", job.claim_gen, "{}"), 0);
    /* Renewals stop: the lease runs out and the job is taken over. */
    claim_expect_at(other, t + 3 * STORE_LEASE_MS + 1, "e1", &again);
    assert_int_equal(again.state, JOB_SENDING);
    assert_int_equal(store_job_renew(keeper, "e1", job.claim_gen, t + 3 * STORE_LEASE_MS + 2), 1);
    assert_int_equal(store_job_renew(keeper, "e1", again.claim_gen, t + 3 * STORE_LEASE_MS + 2), 0);
    finish_job(other, &again);
    job_free(&job);
    store_close(keeper);
    store_close(other);
}

/* ---- storage faults ---- */

/* Makes every write of the store fail, or work again. SQLite: the process
 * may not write to any file (RLIMIT_FSIZE 0, SIGXFSZ ignored), so SQLite's
 * writes fail with an I/O error, even where it would reuse its log's space.
 * PostgreSQL: a trigger refuses every write to the inbox and the health row
 * with the message of a full disk. */
static struct rlimit saved_fsize;
static bool fsize_limited;

static void fsize_restore(void)
{
    if (!fsize_limited)
        return;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved_fsize), 0);
    signal(SIGXFSZ, SIG_DFL);
    fsize_limited = false;
}

static void writes_fail(const struct fixture *fx, bool fail)
{
    if (fx->backend->is_sqlite) {
        if (fail) {
            assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved_fsize), 0);
            struct rlimit none = { 0, saved_fsize.rlim_max };
            signal(SIGXFSZ, SIG_IGN);
            assert_int_equal(setrlimit(RLIMIT_FSIZE, &none), 0);
            fsize_limited = true;
        } else {
            fsize_restore();
        }
        return;
    }
    if (fail) {
        admin_exec(fx, "CREATE FUNCTION %sdisk_full() RETURNS trigger LANGUAGE plpgsql AS"
                       " $$BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'"
                       " USING ERRCODE = '53100'; END$$;"
                       "CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE OR DELETE ON %slinebot_inbox"
                       " FOR EACH STATEMENT EXECUTE FUNCTION %sdisk_full();"
                       "CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE OR DELETE ON %slinebot_health"
                       " FOR EACH STATEMENT EXECUTE FUNCTION %sdisk_full();");
    } else {
        admin_exec(fx, "DROP FUNCTION %sdisk_full() CASCADE");
    }
}

/* /healthz's probe: a real write, at most once per STORE_PROBE_EVERY_MS of the
 * caller's clock, the result (and its message) kept in between. */
static void test_probe_write(void **state)
{
    struct fixture *fx = *state;
    const int64_t t = 50000;

    add_event(fx->st, "e1", "chatA", 1);
    assert_int_equal(store_probe_write(fx->st, t), 0);
    expect_admin_text(fx, "SELECT count(*) FROM %slinebot_health", "1");
    writes_fail(fx, true);
    assert_int_equal(store_probe_write(fx->st, t + STORE_PROBE_EVERY_MS - 1), 0); /* not probed yet */
    assert_int_equal(store_probe_write(fx->st, t + STORE_PROBE_EVERY_MS), -1);
    char *first = strdup(store_last_error(fx->st));
    assert_true(strlen(first) > 0);
    writes_fail(fx, false);

    /* Until the next probe is due, the failure stands, with its message even
     * after another call set a different one. */
    assert_int_equal(store_forget_chat(fx->st, NULL), -1);
    assert_int_equal(store_probe_write(fx->st, t + 2 * STORE_PROBE_EVERY_MS - 1), -1);
    assert_string_equal(store_last_error(fx->st), first);
    assert_int_equal(store_probe_write(fx->st, t + 2 * STORE_PROBE_EVERY_MS), 0);

    /* A write of this handle that failed since the probe is news about the
     * store: unhealthy, with that message, until the next probe. */
    writes_fail(fx, true);
    struct inbox_item it = { "e2", "chatA", 2, "{}" };
    size_t n_new;
    assert_int_equal(store_inbox_add(fx->st, &it, 1, &n_new), -1);
    char *failed = strdup(store_last_error(fx->st));
    writes_fail(fx, false);
    assert_int_equal(store_probe_write(fx->st, t + 3 * STORE_PROBE_EVERY_MS - 1), -1);
    assert_string_equal(store_last_error(fx->st), failed);
    int64_t next = t + 3 * STORE_PROBE_EVERY_MS;
    if (fx->backend->is_sqlite) {
        /* SQLite's next probe reports that failed write once more: see
         * test_sqlite_probe_sees_failed_writes. */
        assert_int_equal(store_probe_write(fx->st, next), -1);
        next += STORE_PROBE_EVERY_MS;
    }
    assert_int_equal(store_probe_write(fx->st, next), 0);
    assert_int_equal(store_probe_write(fx->st, next + 1), 0);
    free(failed);
    char *probes = admin_text(fx, "SELECT probes FROM %slinebot_health");
    assert_non_null(probes);
    assert_true(atoi(probes) >= 3); /* every probe wrote */
    free(probes);
    /* A clock that went back probes again at once. */
    assert_int_equal(store_probe_write(fx->st, 0), 0);
    assert_int_equal(store_ping(fx->st), 0);
    assert_int_equal(store_probe_write(NULL, t), -1);
    assert_int_equal(depth_of(fx->st), 1);
    free(first);
}

/* Issue 16: the answer record failed on a full disk and the worker gave up
 * on the job, holding its claim (it could not even give it back). Once the
 * store can be written, the job is not held forever: when its lease runs
 * out, the next claim takes it up again, from the start, and the old claim
 * can write nothing. /healthz says 503 meanwhile. */
static void test_claim_abandoned_after_failed_write(void **state)
{
    struct fixture *fx = *state;
    const int64_t t = 1000;
    struct job job, again, next;

    add_event(fx->st, "e1", "chatA", 1);
    add_event(fx->st, "e2", "chatA", 2);
    claim_expect_at(fx->st, t, "e1", &job);
    assert_int_equal(store_probe_write(fx->st, 0), 0);

    writes_fail(fx, true);
    assert_int_equal(store_job_sending(fx->st, "e1", job.claim_gen, "{\"parts\":[\"hi\"]}"), -1);
    if (fx->backend->is_sqlite)
        assert_non_null(strstr(store_last_error(fx->st), "job sending"));
    else
        assert_non_null(strstr(store_last_error(fx->st), "No space left"));
    assert_int_equal(store_job_release(fx->st, "e1", job.claim_gen), -1);
    assert_int_equal(store_job_renew(fx->st, "e1", job.claim_gen, t + 10), -1);
    assert_int_equal(store_probe_write(fx->st, STORE_PROBE_EVERY_MS), -1);
    writes_fail(fx, false);
    assert_int_equal(store_probe_write(fx->st, 2 * STORE_PROBE_EVERY_MS), 0);

    /* The lease still runs: the chat is busy. */
    assert_int_equal(store_claim_next(fx->st, t + STORE_LEASE_MS - 1, &again), 0);
    claim_expect_at(fx->st, t + STORE_LEASE_MS, "e1", &again);
    assert_int_equal(again.state, JOB_PENDING);
    assert_int_equal(again.attempts, 2);
    assert_null(again.answer);
    assert_true(again.claim_gen > job.claim_gen);
    assert_int_equal(store_job_sending(fx->st, "e1", job.claim_gen, "{}"), 1);
    assert_int_equal(job_done(fx->st, "e1", job.claim_gen), 1);
    assert_int_equal(store_job_renew(fx->st, "e1", job.claim_gen, t + STORE_LEASE_MS), 1);
    assert_int_equal(store_claim_next(fx->st, t + STORE_LEASE_MS, &next), 0); /* e1 holds chatA */
    finish_job(fx->st, &again);
    claim_expect_at(fx->st, t + STORE_LEASE_MS, "e2", &next);
    finish_job(fx->st, &next);
    assert_int_equal(depth_of(fx->st), 0);
    job_free(&job);
}

/* The same after the answer was recorded: "done" failed. The job is taken
 * up as JOB_SENDING with its answer, for the exactly-once rules of
 * run/stage_deliver.c. */
static void test_claim_abandoned_while_sending(void **state)
{
    struct fixture *fx = *state;
    const char *answer = "{\"mode\":\"reply\",\"parts\":[\"hi\"]}";
    const int64_t t = 7000;
    struct job job, again;

    add_event(fx->st, "e1", "chatA", 1);
    claim_expect_at(fx->st, t, "e1", &job);
    assert_int_equal(store_job_sending(fx->st, "e1", job.claim_gen, answer), 0);
    writes_fail(fx, true);
    assert_int_equal(job_done(fx->st, "e1", job.claim_gen), -1);
    writes_fail(fx, false);

    assert_int_equal(store_claim_next(fx->st, t + STORE_LEASE_MS - 1, &again), 0);
    claim_expect_at(fx->st, t + STORE_LEASE_MS, "e1", &again);
    assert_int_equal(again.state, JOB_SENDING);
    assert_non_null(again.answer);
    assert_string_equal(again.answer, answer);
    assert_int_equal(job_done(fx->st, "e1", job.claim_gen), 1);
    finish_job(fx->st, &again);
    assert_int_equal(depth_of(fx->st), 0);
    job_free(&job);
}

/* SQLite reuses its log's space, so a one-row probe may fit where a larger
 * write no longer does: a write that failed for want of space since the
 * last probe fails the next probe too, and only that one. */
static void test_sqlite_probe_sees_failed_writes(void **state)
{
    struct fixture *fx = *state;
    struct job job;

    if (!fx->backend->is_sqlite)
        skip();
    add_event(fx->st, "e1", "chatA", 1);
    claim_expect(fx->st, "e1", &job);
    assert_int_equal(store_probe_write(fx->st, 0), 0);
    writes_fail(fx, true);
    assert_int_equal(store_job_sending(fx->st, "e1", job.claim_gen, "{}"), -1);
    writes_fail(fx, false);
    assert_int_equal(store_probe_write(fx->st, STORE_PROBE_EVERY_MS), -1);
    assert_non_null(strstr(store_last_error(fx->st), "a write failed since the last health check"));
    assert_non_null(strstr(store_last_error(fx->st), "job sending"));
    assert_int_equal(store_probe_write(fx->st, 2 * STORE_PROBE_EVERY_MS), 0);
    assert_int_equal(store_job_sending(fx->st, "e1", job.claim_gen, "{}"), 0);
    finish_job(fx->st, &job);
}

static void sleep_past_check(void)
{
    usleep((STORE_PROBE_EVERY_MS + 100) * 1000);
}

static void expect_moved_error(struct fixture *fx)
{
    const char *err = store_last_error(fx->st);
    if (!strstr(err, "was deleted or moved while the bot was running; restart it") || !strstr(err, fx->path) ||
        strncmp(err, "LINEBOT_DB: ", 12) != 0)
        fail_msg("unexpected error: %s", err);
}

/* Issue 16: a database file deleted (or moved) while the bot runs. SQLite
 * would go on writing into the lost file; instead every write fails, at the
 * latest one check (a second) later, saying what happened. */
static void test_sqlite_file_deleted_or_moved(void **state)
{
    struct fixture *fx = *state;
    char moved[96];
    struct job job;
    struct inbox_item it = { "e2", "chatA", 2, "{}" };
    size_t n_new = 5;

    if (!fx->backend->is_sqlite)
        skip();
    add_event(fx->st, "e1", "chatA", 1);

    /* Moved away: writes fail; moved back: they work again. */
    snprintf(moved, sizeof moved, "%s.moved", fx->path);
    assert_int_equal(rename(fx->path, moved), 0);
    sleep_past_check();
    assert_int_equal(store_inbox_add(fx->st, &it, 1, &n_new), -1);
    assert_int_equal(n_new, 0);
    expect_moved_error(fx);
    assert_int_equal(rename(moved, fx->path), 0);
    sleep_past_check();
    add_event(fx->st, "e2", "chatA", 2);

    /* Deleted: every write fails, reads still answer from the open file. */
    assert_int_equal(unlink(fx->path), 0);
    sleep_past_check();
    it.event_id = "e3";
    assert_int_equal(store_inbox_add(fx->st, &it, 1, &n_new), -1);
    expect_moved_error(fx);
    assert_int_equal(store_claim_next(fx->st, 1000, &job), -1);
    expect_moved_error(fx);
    assert_null(job.event_id);
    assert_int_equal(store_probe_write(fx->st, 0), -1);
    expect_moved_error(fx);
    assert_int_equal(store_task_add(fx->st, "test", "k", "chatA", "{}", 1), -1);
    assert_int_equal(store_recover(fx->st), -1);
    assert_int_equal(depth_of(fx->st), 2);

    /* A new file at the path is not the one the store has open either. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    sleep_past_check();
    assert_int_equal(store_inbox_add(fx->st, &it, 1, &n_new), -1);
    expect_moved_error(fx);
}

/* ---- shared store only (PostgreSQL): schema, races, reconnects ---- */

static void test_pg_schema_versions(void **state)
{
    struct fixture *fx = *state;
    char sql[160], err[256];

    if (fx->backend->is_sqlite || !pg_admin_sees(fx))
        skip();
    add_event(fx->st, "e1", "chatA", 1);
    store_close(fx->st);
    fx->st = NULL;

    /* A newer schema than this binary knows is refused, and left alone. */
    snprintf(sql, sizeof sql, "UPDATE %s.linebot_schema SET version = version + 1", fx->schema);
    assert_true(pg_admin_ok(sql));
    assert_null(store_open(fx->url, err, sizeof err));
    assert_non_null(strstr(err, "newer"));
    snprintf(sql, sizeof sql, "UPDATE %s.linebot_schema SET version = version - 1", fx->schema);
    assert_true(pg_admin_ok(sql));
    fx->st = reopen(fx);
    assert_int_equal(depth_of(fx->st), 1);
}

static void test_pg_inbox_forget(void **state)
{
    struct fixture *fx = *state;
    const char *ids[] = { "e1", "e2", "unknown" };
    struct inbox_item again = { "e2", "chatB", 2, "{\"webhookEventId\":\"e2\"}" };
    struct job job;
    size_t n_new;

    if (fx->backend->is_sqlite)
        skip(); /* the SQLite side is tested with the serverless hand-off */
    add_event(fx->st, "e1", "chatA", 1);
    add_event(fx->st, "e2", "chatB", 2);
    claim_expect(fx->st, "e1", &job);
    assert_int_equal(store_inbox_forget(fx->st, ids, 3), 0);
    assert_int_equal(depth_of(fx->st), 1); /* claimed: kept */
    assert_int_equal(store_inbox_add(fx->st, &again, 1, &n_new), 0);
    assert_int_equal(n_new, 1);
    assert_true(again.added);
    finish_job(fx->st, &job);
}

/* A chat whose claim is in flight elsewhere (its advisory lock held) is
 * skipped, and the claim goes on to the next chat. The skipped chats travel
 * to the server as an array literal, so their ids here carry what that
 * literal must escape (quotes, backslashes, commas, braces): a wrong escape
 * either breaks the statement or fails to skip, and then nothing is claimed. */
static void test_pg_claim_skips_busy_chats(void **state)
{
    struct fixture *fx = *state;
    static const char *const busy[] = { "a\"b\\c,{}", "d\\\"e f'g" };
    /* The same ids as SQL literals ('' for ', backslashes as they are). */
    static const char *const busy_sql[] = { "a\"b\\c,{}", "d\\\"e f''g" };
    PGconn *conn;
    struct job job;

    if (!fx->backend->shared)
        skip();
    add_event(fx->st, "e1", busy[0], 1);
    add_event(fx->st, "e2", busy[1], 2);
    add_event(fx->st, "e3", "chatC", 3);
    conn = admin_pg(fx);
    PQclear(PQexec(conn, "BEGIN"));
    for (int i = 0; i < 2; i++) {
        char sql[512], text[512];
        PGresult *res;

        snprintf(sql, sizeof sql,
                 "SELECT pg_advisory_xact_lock(hashtextextended('%s',"
                 " '%%slinebot_inbox'::regclass::oid::bigint))",
                 busy_sql[i]);
        admin_format(fx, sql, text, sizeof text);
        res = PQexec(conn, text);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            fail_msg("admin SQL failed: %s: %s", text, PQerrorMessage(conn));
        PQclear(res);
    }
    claim_expect(fx->st, "e3", &job);
    finish_job(fx->st, &job);
    PQclear(PQexec(conn, "COMMIT"));
    admin_done(conn);
    claim_expect(fx->st, "e1", &job);
    assert_string_equal(job.chat_id, busy[0]);
    finish_job(fx->st, &job);
    claim_expect(fx->st, "e2", &job);
    assert_string_equal(job.chat_id, busy[1]);
    finish_job(fx->st, &job);
}

/* Two handles claim at the same moment, again and again: never two events
 * of one chat, never the newer one first, and a chat-less event only once. */
#define RACE_ROUNDS 150

struct race {
    const char *url;
    pthread_barrier_t go, done;
    struct job jobs[2];
    int rc[2];
    atomic_int errors;
};

struct race_arg {
    struct race *race;
    int index;
};

static void *race_thread(void *arg)
{
    struct race_arg *ra = arg;
    struct race *r = ra->race;
    char err[256];
    struct store *st = store_open(r->url, err, sizeof err);

    if (!st)
        atomic_fetch_add(&r->errors, 1);
    for (int round = 0; round < RACE_ROUNDS; round++) {
        pthread_barrier_wait(&r->go);
        r->rc[ra->index] = st ? store_claim_next(st, 1000, &r->jobs[ra->index]) : -1;
        pthread_barrier_wait(&r->done);
    }
    store_close(st);
    return NULL;
}

static void test_pg_claim_race(void **state)
{
    struct fixture *fx = *state;
    struct race r = { .url = fx->url };
    struct race_arg args[2] = { { &r, 0 }, { &r, 1 } };
    pthread_t threads[2];

    if (!fx->backend->shared)
        skip();
    pthread_barrier_init(&r.go, NULL, 3);
    pthread_barrier_init(&r.done, NULL, 3);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, race_thread, &args[i]), 0);
    /* No assert until the threads are joined: they wait on the barriers. */
    for (int round = 0; round < RACE_ROUNDS; round++) {
        char first[32], second[32], chat[32];
        bool empty_chat = round % 3 == 2;
        struct inbox_item items[2] = { { first, empty_chat ? "" : chat, round * 10, "{}" },
                                       { second, chat, round * 10 + 1, "{}" } };
        size_t n_new = 0;
        int claimed = 0;

        snprintf(first, sizeof first, "r%d-first", round);
        snprintf(second, sizeof second, "r%d-second", round);
        snprintf(chat, sizeof chat, "chat%d", round % 4);
        if (store_inbox_add(fx->st, items, empty_chat ? 1 : 2, &n_new) != 0)
            atomic_fetch_add(&r.errors, 1);
        pthread_barrier_wait(&r.go);
        pthread_barrier_wait(&r.done);
        for (int i = 0; i < 2; i++) {
            if (r.rc[i] < 0)
                atomic_fetch_add(&r.errors, 1);
            if (r.rc[i] == 1) {
                claimed++;
                if (strcmp(r.jobs[i].event_id, first) != 0)
                    atomic_fetch_add(&r.errors, 1);
                if (job_done(fx->st, r.jobs[i].event_id, r.jobs[i].claim_gen) != 0)
                    atomic_fetch_add(&r.errors, 1);
                job_free(&r.jobs[i]);
            }
        }
        if (claimed != 1)
            atomic_fetch_add(&r.errors, 1);
        if (!empty_chat) {
            struct job job;
            if (store_claim_next(fx->st, 1000, &job) != 1 || strcmp(job.event_id, second) != 0 ||
                job_done(fx->st, job.event_id, job.claim_gen) != 0)
                atomic_fetch_add(&r.errors, 1);
            job_free(&job);
        }
    }
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    assert_int_equal(atomic_load(&r.errors), 0);
    pthread_barrier_destroy(&r.go);
    pthread_barrier_destroy(&r.done);
    assert_int_equal(depth_of(fx->st), 0);
}

/* -- faults: a TCP proxy between the store and PostgreSQL -- */

#define PROXY_PAIRS 16


struct proxy {
    int listen_fd;
    int port;
    struct sockaddr_storage upstream;
    socklen_t upstream_len;
    int pairs[PROXY_PAIRS][2]; /* client, server; -1 when free */
    atomic_int refuse;   /* accept and close at once: "the database is down" */
    atomic_int kill;     /* close every relayed connection, then clear */
    atomic_int accepted; /* connections attempted through the proxy */
    atomic_int stop;
    pthread_t thread;
};

static void proxy_close_pair(struct proxy *px, int i)
{
    for (int k = 0; k < 2; k++) {
        if (px->pairs[i][k] >= 0)
            close(px->pairs[i][k]);
        px->pairs[i][k] = -1;
    }
}

static bool write_all(int fd, const char *buf, ssize_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        buf += w;
        len -= w;
    }
    return true;
}

static void proxy_accept(struct proxy *px)
{
    int client = accept(px->listen_fd, NULL, NULL), server, slot = -1;

    if (client < 0)
        return;
    atomic_fetch_add(&px->accepted, 1);
    for (int i = 0; i < PROXY_PAIRS && slot < 0; i++)
        if (px->pairs[i][0] < 0)
            slot = i;
    if (atomic_load(&px->refuse) || slot < 0) {
        close(client);
        return;
    }
    server = socket(px->upstream.ss_family, SOCK_STREAM, 0);
    if (server < 0 || connect(server, (struct sockaddr *)&px->upstream, px->upstream_len) != 0) {
        if (server >= 0)
            close(server);
        close(client);
        return;
    }
    px->pairs[slot][0] = client;
    px->pairs[slot][1] = server;
}

static void *proxy_main(void *arg)
{
    struct proxy *px = arg;
    char buf[16384];

    while (!atomic_load(&px->stop)) {
        struct pollfd fds[1 + 2 * PROXY_PAIRS];
        int n = 0;

        if (atomic_exchange(&px->kill, 0))
            for (int i = 0; i < PROXY_PAIRS; i++)
                proxy_close_pair(px, i);
        fds[n++] = (struct pollfd){ px->listen_fd, POLLIN, 0 };
        for (int i = 0; i < PROXY_PAIRS; i++)
            for (int k = 0; k < 2; k++)
                fds[n++] = (struct pollfd){ px->pairs[i][k], POLLIN, 0 }; /* -1: ignored */
        if (poll(fds, (nfds_t)n, 20) <= 0)
            continue;
        if (fds[0].revents & POLLIN)
            proxy_accept(px);
        for (int i = 0; i < PROXY_PAIRS; i++) {
            for (int k = 0; k < 2; k++) {
                struct pollfd *f = &fds[1 + 2 * i + k];
                ssize_t got;

                if (f->fd < 0 || f->fd != px->pairs[i][k] || !(f->revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                got = recv(f->fd, buf, sizeof buf, 0);
                if (got <= 0 || !write_all(px->pairs[i][1 - k], buf, got)) {
                    proxy_close_pair(px, i);
                    break;
                }
            }
        }
    }
    for (int i = 0; i < PROXY_PAIRS; i++)
        proxy_close_pair(px, i);
    close(px->listen_fd);
    return NULL;
}

/* Starts a proxy to the server of LINEBOT_TEST_PG_URL; NULL when that is not
 * a TCP address (the test then skips). A test that fails leaves it running
 * for teardown to stop. */
static struct proxy *proxy_start(void)
{
    struct proxy *px = calloc(1, sizeof *px);
    PQconninfoOption *opts = PQconninfoParse(pg_base_url, NULL);
    const char *host = "localhost", *port = "5432";
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    bool ok;

    assert_non_null(px);
    memset(px->pairs, -1, sizeof px->pairs);
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (o->val && *o->val && strcmp(o->keyword, "host") == 0)
            host = o->val;
        if (o->val && *o->val && strcmp(o->keyword, "port") == 0)
            port = o->val;
    }
    ok = host[0] != '/' && getaddrinfo(host, port, &hints, &ai) == 0 && ai;
    if (ok) {
        memcpy(&px->upstream, ai->ai_addr, ai->ai_addrlen);
        px->upstream_len = ai->ai_addrlen;
    }
    if (ai)
        freeaddrinfo(ai);
    PQconninfoFree(opts);
    if (!ok) {
        free(px);
        return NULL;
    }
    px->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(px->listen_fd >= 0);
    assert_int_equal(bind(px->listen_fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(px->listen_fd, 16), 0);
    assert_int_equal(getsockname(px->listen_fd, (struct sockaddr *)&addr, &len), 0);
    px->port = ntohs(addr.sin_port);
    assert_int_equal(pthread_create(&px->thread, NULL, proxy_main, px), 0);
    running_proxy = px;
    return px;
}

static void proxy_stop(struct proxy *px)
{
    atomic_store(&px->stop, 1);
    pthread_join(px->thread, NULL);
    if (px == running_proxy)
        running_proxy = NULL;
    free(px);
}

/* A handle on the fixture's schema, through the proxy. */
static struct store *open_via_proxy(struct fixture *fx, struct proxy *px)
{
    char extra[96], url[sizeof fx->url + 96], err[256];
    struct store *st;

    snprintf(extra, sizeof extra, "host=127.0.0.1&port=%d&sslmode=disable", px->port);
    pg_url_for(fx, extra, url, sizeof url);
    st = store_open(url, err, sizeof err);
    if (!st)
        fail_msg("store_open via proxy: %s", err);
    return st;
}

static int64_t now_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The error says what happened, and never shows the URL or its password. */
static void expect_connection_error(struct store *st)
{
    const char *msg = store_last_error(st);

    assert_true(strlen(msg) > 0);
    assert_non_null(strstr(msg, "postgres"));
    assert_null(strstr(msg, "://"));
    assert_null(strstr(msg, "linebot:linebot"));
}

/* A connection the server (or a proxy) closed while the handle was idle is
 * replaced before the next call, which therefore works. */
static void test_pg_reconnect_idle_drop(void **state)
{
    struct fixture *fx = *state;
    struct proxy *px = NULL;
    struct store *st;
    int accepted;

    if (!fx->backend->shared || !(px = proxy_start()))
        skip();
    st = open_via_proxy(fx, px);
    add_event(st, "e1", "chatA", 1);
    accepted = atomic_load(&px->accepted);
    atomic_store(&px->kill, 1);
    usleep(200 * 1000);
    assert_int_equal(depth_of(st), 1);
    assert_int_equal(atomic_load(&px->accepted), accepted + 1);
    store_close(st);
    proxy_stop(px);
}

struct blocked_call {
    struct store *st;
    int rc;
};

static void *call_depth(void *arg)
{
    struct blocked_call *bc = arg;
    int64_t depth;

    bc->rc = store_inbox_depth(bc->st, &depth);
    return NULL;
}

/* The server ends the session in the middle of a call (pg_terminate_backend
 * while it waits on a lock): that call fails, and the next one reconnects. */
static void test_pg_terminated_mid_call(void **state)
{
    struct fixture *fx = *state;
    struct blocked_call bc = { NULL, 99 };
    pthread_t thread;
    char sql[256];
    int pid = 0;

    if (!fx->backend->shared || !pg_admin_sees(fx))
        skip();
    bc.st = reopen(fx);
    assert_int_equal(depth_of(bc.st), 0);
    assert_true(pg_admin_ok("BEGIN"));
    snprintf(sql, sizeof sql, "LOCK TABLE %s.linebot_inbox IN ACCESS EXCLUSIVE MODE", fx->schema);
    assert_true(pg_admin_ok(sql));
    assert_int_equal(pthread_create(&thread, NULL, call_depth, &bc), 0);
    for (int tries = 0; tries < 500 && pid == 0; tries++) {
        PGresult *res = PQexec(pg_admin, "SELECT pid FROM pg_stat_activity"
                                         " WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid))");
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            pid = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
        if (pid == 0)
            usleep(10 * 1000);
    }
    assert_true(pid > 0);
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", pid);
    assert_true(pg_admin_ok(sql));
    pthread_join(thread, NULL);
    assert_true(pg_admin_ok("ROLLBACK"));

    assert_int_equal(bc.rc, -1);
    expect_connection_error(bc.st);
    add_event(bc.st, "e1", "chatA", 1); /* the next call reconnects */
    assert_int_equal(depth_of(bc.st), 1);
    store_close(bc.st);
}

/* While the database is unreachable, calls fail fast and reconnect attempts
 * back off (100 ms doubling); once it is back, the handle works again. */
static void test_pg_reconnect_backoff(void **state)
{
    struct fixture *fx = *state;
    struct proxy *px = NULL;
    struct store *st;
    int64_t start, slowest = 0, recovered_after = -1;
    int attempts, calls = 0, failures = 0;

    if (!fx->backend->shared || !(px = proxy_start()))
        skip();
    st = open_via_proxy(fx, px);
    assert_int_equal(store_ping(st), 0);

    atomic_store(&px->refuse, 1);
    atomic_store(&px->kill, 1);
    usleep(100 * 1000);
    attempts = atomic_load(&px->accepted);
    start = now_mono_ms();
    while (now_mono_ms() - start < 1500) {
        int64_t before = now_mono_ms();
        int64_t depth;
        struct inbox_item it = { "e1", "chatA", 1, "{}" };
        size_t n_new = 7;

        calls++;
        if (store_inbox_add(st, &it, 1, &n_new) != 0) {
            failures++;
            assert_int_equal(n_new, 0);
            expect_connection_error(st);
        }
        assert_int_equal(store_inbox_depth(st, &depth), -1);
        if (now_mono_ms() - before > slowest)
            slowest = now_mono_ms() - before;
        usleep(5 * 1000);
    }
    attempts = atomic_load(&px->accepted) - attempts;
    assert_int_equal(failures, calls);
    assert_true(slowest < 500);
    /* 0, 100, 300, 700, 1500 ms: about five attempts, not one per call. */
    assert_true(attempts >= 2);
    assert_true(attempts <= 8);
    assert_non_null(strstr(store_last_error(st), "reconnect"));

    atomic_store(&px->refuse, 0);
    start = now_mono_ms();
    while (now_mono_ms() - start < 8000) {
        if (store_ping(st) == 0) {
            recovered_after = now_mono_ms() - start;
            break;
        }
        usleep(20 * 1000);
    }
    assert_true(recovered_after >= 0);
    add_event(st, "e1", "chatA", 1);
    assert_int_equal(depth_of(st), 1);
    store_close(st);
    proxy_stop(px);
}

/* ---- runner ---- */

#define STORE_TEST(fn) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, b)

static int run_backend(struct backend *b)
{
    const struct CMUnitTest tests[] = {
        STORE_TEST(test_open_close_reopen),
        STORE_TEST(test_open_errors),
        STORE_TEST(test_sqlite_url_forms),
        STORE_TEST(test_sqlite_schema_versions),
        STORE_TEST(test_sqlite_migrates_older_file),
        STORE_TEST(test_sqlite_fresh_schema_is_migrated),
        STORE_TEST(test_sqlite_wal_and_busy_wait),
        STORE_TEST(test_sqlite_durable_writes_share_a_commit),
        STORE_TEST(test_sqlite_log_is_checkpointed),
        STORE_TEST(test_inbox_dedup),
        STORE_TEST(test_claim_order),
        STORE_TEST(test_claim_chat_exclusive),
        STORE_TEST(test_chat_waiting_events),
        STORE_TEST(test_claim_empty_chat_never_blocks),
        STORE_TEST(test_fencing),
        STORE_TEST(test_sending_survives_crash),
        STORE_TEST(test_working_crash_goes_back_to_pending),
        STORE_TEST(test_release),
        STORE_TEST(test_depth),
        STORE_TEST(test_history_load),
        STORE_TEST(test_message_text_update_delete),
        STORE_TEST(test_bot_message_ids),
        STORE_TEST(test_context_keep),
        STORE_TEST(test_history_clear),
        STORE_TEST(test_forget_chat),
        STORE_TEST(test_admin_reads),
        STORE_TEST(test_admin_forget),
        STORE_TEST(test_admin_forget_by_user_id),
        STORE_TEST(test_admin_forget_everything),
        STORE_TEST(test_profiles),
        STORE_TEST(test_profile_language),
        STORE_TEST(test_chat_models),
        STORE_TEST(test_chat_personas),
        STORE_TEST(test_budgets),
        STORE_TEST(test_rate_count),
        STORE_TEST(test_rate_counted_by_finish),
        STORE_TEST(test_rate_count_concurrent),
        STORE_TEST(test_job_finish),
        STORE_TEST(test_job_finish_atomic),
        STORE_TEST(test_tasks),
        STORE_TEST(test_memory),
        STORE_TEST(test_summary),
        STORE_TEST(test_park_adopt),
        STORE_TEST(test_unpark),
        STORE_TEST(test_inbox_take),
        STORE_TEST(test_adopt_race),
        STORE_TEST(test_purge_expires_parked),
        STORE_TEST(test_sqlite_opens_release_v1),
        STORE_TEST(test_purge),
        STORE_TEST(test_purge_many),
        STORE_TEST(test_hostile_input),
        STORE_TEST(test_concurrent_threads),
        STORE_TEST(test_concurrent_processes),
        STORE_TEST(test_concurrent_open),
        STORE_TEST(test_lease_takeover),
        STORE_TEST(test_lease_takeover_sending),
        STORE_TEST(test_expired_claim_frees_chat),
        STORE_TEST(test_renew_prevents_takeover),
        STORE_TEST(test_probe_write),
        STORE_TEST(test_claim_abandoned_after_failed_write),
        STORE_TEST(test_claim_abandoned_while_sending),
        STORE_TEST(test_sqlite_probe_sees_failed_writes),
        STORE_TEST(test_sqlite_file_deleted_or_moved),
        STORE_TEST(test_pg_schema_versions),
        STORE_TEST(test_pg_inbox_forget),
        STORE_TEST(test_pg_claim_race),
        STORE_TEST(test_pg_claim_skips_busy_chats),
        STORE_TEST(test_pg_reconnect_idle_drop),
        STORE_TEST(test_pg_terminated_mid_call),
        STORE_TEST(test_pg_reconnect_backoff),
    };
    return cmocka_run_group_tests_name(b->name, tests, NULL, NULL);
}

/* The PostgreSQL group needs a server: LINEBOT_TEST_PG_URL. Unset, it is
 * skipped with a message (returns -1); set but unreachable, it fails. */
static int run_postgres(struct backend *b)
{
    const char *url = getenv("LINEBOT_TEST_PG_URL");
    int failed;

    if (!url || !*url) {
        fprintf(stderr, "[  SKIPPED ] %s: LINEBOT_TEST_PG_URL is not set (start a server with"
                        " scripts/pg-test-server.sh start; export"
                        " LINEBOT_TEST_PG_URL=$(scripts/pg-test-server.sh url))\n",
                b->name);
        return -1;
    }
    pg_base_url = url;
    pg_per_database = getenv("LINEBOT_TEST_PG_DATABASES") &&
                      strcmp(getenv("LINEBOT_TEST_PG_DATABASES"), "1") == 0;
    pg_admin = PQconnectdb(url);
    if (PQstatus(pg_admin) != CONNECTION_OK) {
        fprintf(stderr, "[  FAILED  ] %s: cannot connect to LINEBOT_TEST_PG_URL: %s\n", b->name,
                PQerrorMessage(pg_admin));
        PQfinish(pg_admin);
        return 1;
    }
    PQclear(PQexec(pg_admin, "SET client_min_messages = warning")); /* no NOTICEs of drops */
    failed = run_backend(b);
    PQfinish(pg_admin);
    pg_admin = NULL;
    return failed;
}

/* `test_store [sqlite|postgres]`: one backend, or both without an argument.
 * ctest runs each backend as a test of its own, so that a PostgreSQL group
 * without a server is reported as skipped: exit 77 (SKIP_RETURN_CODE) when
 * every backend asked for was skipped. */
int main(int argc, char **argv)
{
    int failed = 0, ran = 0;

    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        struct backend *b = &backends[i];
        if (argc > 1 && strcmp(strchr(b->name, '/') + 1, argv[1]) != 0)
            continue;
        int rc = b->is_sqlite ? run_backend(b) : run_postgres(b);
        if (rc < 0)
            continue;
        ran++;
        failed += rc;
    }
    if (argc > 1 && ran == 0 && strcmp(argv[1], "sqlite") != 0 && strcmp(argv[1], "postgres") != 0) {
        fprintf(stderr, "usage: %s [sqlite|postgres]\n", argv[0]);
        return 2;
    }
    return failed ? 1 : ran ? 0 : 77;
}
