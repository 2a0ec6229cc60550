/* test_cli_admin.c - `linebot admin` on data the real bot made.
 *
 * The bot serves a conversation against the fake LINE and LLM: Alice talks to
 * it one to one and in a group, Bob in the same group (questions, and
 * messages kept as context). Then `admin stats`, `chats`, `history` and
 * `export` must show exactly that conversation, and `admin forget ALICE` must
 * leave nothing of her: the oracle opens the database itself (sqlite3 or
 * libpq, never the bot's store code) and looks for her id, her name and her
 * words in every table, while Bob's turns stay. Her events' ids stay too, so
 * LINE's redelivery of her message is still not answered twice. A second
 * conversation fills the tables issues 11 to 13 added (model and persona,
 * memory, usage and budget notices, summaries, a document she sent), checks
 * each holds her data, and that `forget` of her and then of the group leaves
 * none of it. Runs on
 * SQLite, and on PostgreSQL when LINEBOT_TEST_PG_URL is set. */
#include <inttypes.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "pg_scratch.h"

#define GROUP "Ce2e000000000000000000000000admin"
#define ALICE "Ue2e00000000000000000000000alice"
#define BOB "Ue2e000000000000000000000000bob0"
#define BOT_ID "Ue2ebot00000000000000000000000000"

static const char *pg_url; /* LINEBOT_TEST_PG_URL; NULL: the PostgreSQL case is skipped */

/* The database under test, opened by the oracle on its own. */
struct db {
    const char *sqlite_path; /* SQLite: the file; else PostgreSQL */
    char schema[64];         /* PostgreSQL: the case's own schema */
};

/* ---- the oracle: the database read without the bot's code ---- */

static char *db_text(const struct db *db, const char *sql)
{
    char *v = NULL;

    if (db->sqlite_path) {
        sqlite3 *conn = NULL;
        sqlite3_stmt *s = NULL;
        if (sqlite3_open_v2(db->sqlite_path, &conn, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(conn, sql, -1, &s, NULL) != SQLITE_OK)
            fail_msg("%s: %s", sql, sqlite3_errmsg(conn));
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            v = e2e_strdup(sqlite3_column_text(s, 0) ? (const char *)sqlite3_column_text(s, 0) : "");
        else if (rc != SQLITE_DONE)
            fail_msg("%s: %s", sql, sqlite3_errmsg(conn));
        sqlite3_finalize(s);
        sqlite3_close(conn);
    } else {
        PGconn *c = PQconnectdb(pg_url);
        if (PQstatus(c) != CONNECTION_OK)
            fail_msg("cannot connect to LINEBOT_TEST_PG_URL: %s", PQerrorMessage(c));
        char *path = e2e_printf("SET search_path TO %s", db->schema);
        PQclear(PQexec(c, path));
        free(path);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            fail_msg("%s: %s", sql, PQerrorMessage(c));
        if (PQntuples(r) > 0)
            v = e2e_strdup(PQgetvalue(r, 0, 0));
        PQclear(r);
        PQfinish(c);
    }
    return v ? v : e2e_strdup("");
}

static long long db_count(const struct db *db, const char *sql)
{
    char *v = db_text(db, sql);
    long long n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

/* Waits until the inbox has events and all of them are done. */
static void wait_all_done(const struct db *db, long long events)
{
    int64_t deadline = e2e_mono_ms() + e2e_ms(E2E_WAIT_MS);
    for (;;) {
        long long all = db_count(db, "SELECT count(*) FROM linebot_inbox WHERE kind IS NULL");
        long long open = db_count(db, "SELECT count(*) FROM linebot_inbox WHERE state <> 'done'");
        if (all >= events && open == 0)
            return;
        if (e2e_mono_ms() > deadline)
            fail_msg("%lld of %lld event(s) still not done", open, all);
        e2e_sleep_ms(50);
    }
}

/* ---- the conversation ---- */

static json_t *group_text(struct world *w, const char *user, const char *text, bool to_bot)
{
    struct ev o = {.user = user, .group = GROUP, .text = text};
    if (to_bot) {
        o.mentions[0] = mention_of(text, "@Bot", true);
        o.mentions[0].user_id = BOT_ID;
        o.n_mentions = 1;
    }
    return send_event(w, ev_message(w, &o));
}

/* Alice one to one, then Alice and Bob in the group: 5 webhook events, 3
 * answered by the model (20 tokens each at the fake: 10 + 10), 2 kept as
 * context. Returns Alice's one-to-one event. */
static json_t *converse(struct world *w, const struct db *db)
{
    fake_line_set_name(w->line, GROUP, ALICE, "Alice");
    fake_line_set_name(w->line, GROUP, BOB, "Bob");
    json_t *own = send_text(w, ALICE, "my secret is pineapple");
    assert_answers(w, ALICE, 1);
    group_text(w, ALICE, "@Bot alice asks kiwi", true);
    assert_answers(w, GROUP, 1);
    group_text(w, BOB, "@Bot bob asks mango", true);
    assert_answers(w, GROUP, 2);
    group_text(w, ALICE, "alice chats papaya", false);
    /* A terminal escape in a message: a table must not pass it on. */
    group_text(w, BOB, "bob chats grape \x1b[2J\x1b]0;owned\x07", false);
    wait_all_done(db, 5);
    return own;
}

/* Runs `linebot admin ARGS...`; returns the exit status, stdout in *out. */
static int admin(struct world *w, const char *const *args, char **out)
{
    const char *argv[8] = {"admin"};
    for (size_t i = 0; args[i]; i++) {
        assert_true(i + 2 < sizeof argv / sizeof argv[0]);
        argv[i + 1] = args[i];
    }
    char *err = NULL;
    int rc = bot_run(w, argv, NULL, out, &err);
    if (rc != 0)
        fprintf(stderr, "linebot admin %s: exit %d: %s\n", args[0] ? args[0] : "", rc, err);
    free(err);
    return rc;
}

static json_t *admin_json(struct world *w, const char *const *args)
{
    char *out = NULL;
    assert_int_equal(admin(w, args, &out), 0);
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    if (!j)
        fail_msg("not JSON (%s):\n%s", e.text, out);
    free(out);
    return j;
}

/* The object of `list` whose `key` is the string `value` (NULL: null). */
static json_t *find(json_t *list, const char *key, const char *value)
{
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o) {
        const char *v = json_string_value(json_object_get(o, key));
        if (value ? v && strcmp(v, value) == 0 : json_is_null(json_object_get(o, key)))
            return o;
    }
    fail_msg("no object with %s = %s", key, value ? value : "null");
    return NULL;
}

static long long int_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", key);
    return (long long)json_integer_value(v);
}

static void check_stats(struct world *w)
{
    char today[16], *out = NULL;
    time_t now = time(NULL);
    strftime(today, sizeof today, "%Y-%m-%d", gmtime(&now));

    json_t *days = admin_json(w, (const char *[]){"stats", "--json", NULL});
    json_t *model = find(days, "model", E2E_MODEL);
    assert_string_equal(json_string_value(json_object_get(model, "day")), today);
    assert_int_equal(int_of(model, "events"), 3);
    assert_int_equal(int_of(model, "answered"), 3);
    assert_int_equal(int_of(model, "apologies"), 0);
    assert_int_equal(int_of(model, "failed"), 0);
    assert_int_equal(int_of(model, "prompt_tokens"), 30);
    assert_int_equal(int_of(model, "completion_tokens"), 30);
    assert_int_equal(int_of(model, "total_tokens"), 60);
    json_t *none = find(days, "model", NULL); /* the two kept as context */
    assert_int_equal(int_of(none, "events"), 2);
    assert_int_equal(int_of(none, "answered"), 0);
    assert_int_equal(json_array_size(days), 2);
    json_decref(days);

    assert_int_equal(admin(w, (const char *[]){"stats", NULL}, &out), 0);
    assert_contains(out, "DAY (UTC)");
    assert_contains(out, "TOTAL TOKENS");
    assert_contains(out, today);
    assert_contains(out, E2E_MODEL);
    assert_contains(out, "60\n");
    assert_contains(out, "total");
    free(out);
}

static void check_chats_history_export(struct world *w)
{
    char *out = NULL;
    json_t *chats = admin_json(w, (const char *[]){"--json", "chats", NULL});
    assert_int_equal(json_array_size(chats), 2);
    json_t *group = find(chats, "chat_id", GROUP), *alice = find(chats, "chat_id", ALICE);
    assert_string_equal(json_string_value(json_object_get(group, "type")), "group");
    assert_int_equal(int_of(group, "messages"), 6); /* 2 questions, 2 answers, 2 kept as context */
    assert_int_equal(int_of(group, "events"), 4);
    assert_string_equal(json_string_value(json_object_get(alice, "type")), "user");
    assert_int_equal(int_of(alice, "messages"), 2);
    assert_string_equal(json_string_value(json_object_get(alice, "model")), E2E_MODEL);
    assert_true(json_is_null(json_object_get(alice, "persona")));
    assert_non_null(json_string_value(json_object_get(alice, "last_activity")));
    json_decref(chats);

    assert_int_equal(admin(w, (const char *[]){"chats", NULL}, &out), 0);
    assert_contains(out, "CHAT ID");
    assert_contains(out, "PERSONA");
    assert_contains(out, GROUP);
    assert_contains(out, ALICE);
    assert_contains(out, "  group  ");
    assert_contains(out, "  user   ");
    free(out);

    json_t *turns = admin_json(w, (const char *[]){"history", GROUP, "--json", NULL});
    assert_int_equal(json_array_size(turns), 6);
    json_t *first = json_array_get(turns, 0);
    assert_string_equal(json_string_value(json_object_get(first, "role")), "user");
    assert_string_equal(json_string_value(json_object_get(first, "speaker")), "Alice");
    assert_contains(json_string_value(json_object_get(first, "text")), "alice asks kiwi");
    assert_string_equal(json_string_value(json_object_get(json_array_get(turns, 1), "role")), "assistant");
    json_t *last = json_array_get(turns, 5);
    assert_string_equal(json_string_value(json_object_get(last, "role")), "context");
    assert_contains(json_string_value(json_object_get(last, "text")), "\x1b[2J"); /* JSON keeps it, escaped */
    json_decref(turns);

    assert_int_equal(admin(w, (const char *[]){"history", GROUP, NULL}, &out), 0);
    assert_contains(out, "TIME (UTC)");
    assert_contains(out, "bob asks mango");
    assert_contains(out, "Alice");
    assert_contains(out, "bob chats grape");
    assert_not_contains(out, "\x1b");
    assert_not_contains(out, "\x07");
    free(out);

    json_t *exp = admin_json(w, (const char *[]){"export", ALICE, NULL});
    assert_string_equal(json_string_value(json_object_get(exp, "chat_id")), ALICE);
    assert_int_equal(int_of(exp, "messages"), 2);
    json_t *history = json_object_get(exp, "history");
    assert_int_equal(json_array_size(history), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(history, 0), "text")),
                        "my secret is pineapple");
    json_decref(exp);
}

/* Every text column of every table the store has, found from the database's
 * own catalogue, holds nothing of Alice (her id, her name, her words): a
 * table added later that keeps what she said, and that `forget` misses,
 * fails here without this list naming it. The one exception is the inbox's
 * chat_id, kept with her events' ids for deduplication. */
static void check_no_trace_in_any_table(const struct db *db)
{
    const char *columns_sql =
        db->sqlite_path
            ? "SELECT group_concat(m.name || '.' || p.name, ' ') FROM sqlite_master m, pragma_table_info(m.name) p"
              " WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND (p.type LIKE '%TEXT%' OR"
              " p.type LIKE '%CHAR%' OR p.type LIKE '%JSON%' OR p.type = '')"
            : "SELECT string_agg(table_name || '.' || column_name, ' ') FROM information_schema.columns"
              " WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying', 'json',"
              " 'jsonb')";
    char *columns = db_text(db, columns_sql);
    size_t checked = 0;
    for (char *save = NULL, *col = strtok_r(columns, " ", &save); col; col = strtok_r(NULL, " ", &save)) {
        if (strcmp(col, "linebot_inbox.chat_id") == 0)
            continue;
        char *dot = strchr(col, '.');
        assert_non_null(dot);
        *dot = '\0';
        char *sql = e2e_printf("SELECT count(*) FROM %s WHERE CAST(%s AS TEXT) LIKE '%%" ALICE "%%' OR"
                               " CAST(%s AS TEXT) LIKE '%%Alice%%' OR CAST(%s AS TEXT) LIKE '%%pineapple%%' OR"
                               " CAST(%s AS TEXT) LIKE '%%kiwi%%' OR CAST(%s AS TEXT) LIKE '%%papaya%%'",
                               col, dot + 1, dot + 1, dot + 1, dot + 1, dot + 1);
        long long n = db_count(db, sql);
        if (n != 0)
            fail_msg("%lld row(s) of %s.%s still hold something of Alice: %s", n, col, dot + 1, sql);
        free(sql);
        checked++;
    }
    if (checked < 20)
        fail_msg("only %zu text columns found; is the catalogue query broken? (%s)", checked, columns_sql);
    free(columns);
}

/* Nothing of Alice anywhere; Bob's turns and name stay. */
static void check_forgotten(const struct db *db)
{
    static const char *const none[] = {
        "SELECT count(*) FROM linebot_history WHERE chat_id = '" ALICE "'",
        "SELECT count(*) FROM linebot_history WHERE speaker = 'Alice'",
        "SELECT count(*) FROM linebot_history WHERE user_id = '" ALICE "'",
        "SELECT count(*) FROM linebot_history WHERE text LIKE '%pineapple%' OR text LIKE '%kiwi%'"
        " OR text LIKE '%papaya%' OR text LIKE '%Alice%'",
        "SELECT count(*) FROM linebot_profiles WHERE user_id = '" ALICE "' OR chat_id = '" ALICE "'",
        "SELECT count(*) FROM linebot_rate WHERE user_id = '" ALICE "'",
        "SELECT count(*) FROM linebot_bot_messages WHERE chat_id = '" ALICE "'",
        "SELECT count(*) FROM linebot_inbox WHERE payload LIKE '%" ALICE "%' OR answer LIKE '%" ALICE "%'"
        " OR payload LIKE '%pineapple%' OR answer LIKE '%pineapple%' OR payload LIKE '%kiwi%'",
    };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        long long n = db_count(db, none[i]);
        if (n != 0)
            fail_msg("%lld row(s) left: %s", n, none[i]);
    }
    /* Bob's question, the answer to it and his context stay; so does his name. */
    assert_int_equal(db_count(db, "SELECT count(*) FROM linebot_history WHERE chat_id = '" GROUP "'"), 3);
    assert_int_equal(db_count(db, "SELECT count(*) FROM linebot_history WHERE text LIKE '%mango%'"), 2);
    assert_int_equal(db_count(db, "SELECT count(*) FROM linebot_history WHERE text LIKE '%grape%'"), 1);
    assert_int_equal(db_count(db, "SELECT count(*) FROM linebot_profiles WHERE user_id = '" BOB "'"), 1);
    /* Her events' ids stay, for deduplication. */
    assert_int_equal(db_count(db, "SELECT count(*) FROM linebot_inbox WHERE chat_id = '" ALICE "'"), 1);
    check_no_trace_in_any_table(db);
}

static void run_case(struct world *w, const struct db *db)
{
    json_t *own = converse(w, db);
    check_stats(w);
    check_chats_history_export(w);

    char *out = NULL;
    json_t *forgot = admin_json(w, (const char *[]){"forget", ALICE, "--json", NULL});
    json_t *removed = json_object_get(forgot, "removed");
    assert_int_equal(int_of(removed, "turns"), 2);
    assert_int_equal(int_of(removed, "group_turns"), 3); /* her question, its answer, her context */
    assert_int_equal(int_of(removed, "profiles"), 1);
    assert_int_equal(int_of(removed, "bot_messages"), 1);
    json_decref(forgot);
    check_forgotten(db);

    /* Again: nothing is left to remove, and the table says so. */
    assert_int_equal(admin(w, (const char *[]){"forget", ALICE, NULL}, &out), 0);
    assert_contains(out, "Forgot " ALICE);
    assert_contains(out, "REMOVED");
    assert_not_contains(out, " 1\n");
    assert_not_contains(out, " 2\n");
    free(out);
    assert_int_equal(admin(w, (const char *[]){"history", ALICE, NULL}, &out), 0);
    assert_contains(out, "No history kept for " ALICE);
    free(out);

    /* Exactly once still holds: LINE's redelivery of her message is not answered again. */
    send_event(w, ev_redelivered(w, own));
    world_quiet(w);
    assert_int_equal(fake_line_delivery_count(w->line, ALICE), 1);
}

/* ---- what issues 11 to 13 keep: forgotten too ---- */

/* Polls `sql` (a count) until it is at least 1. */
static void wait_for_rows(const struct db *db, const char *sql)
{
    int64_t deadline = e2e_mono_ms() + e2e_ms(E2E_WAIT_MS);
    while (db_count(db, sql) < 1) {
        if (e2e_mono_ms() > deadline)
            fail_msg("no rows in time: %s", sql);
        e2e_sleep_ms(50);
    }
}

/* Alice leaves a trace in every table the later issues added: her chat's
 * model and persona, a fact remembered, her memory setting, token usage and
 * a budget notice, a document she sent (its passages in the knowledge
 * base), and summaries of her chat and of the group. Before the forget each
 * is there (a test whose data is missing could not fail); after it the
 * catalogue scan finds nothing of her, and the forget of the group leaves
 * nothing of the group either. */
static void run_later_tables_case(struct world *w, const struct db *db)
{
    fake_line_set_name(w->line, GROUP, ALICE, "Alice");
    fake_line_set_name(w->line, GROUP, BOB, "Bob");
    size_t answers = 0;
    const char *commands[] = {("/model " E2E_MODEL), "/persona set Talk about pineapple", "/remember I love pineapple",
                              "/memory off", "/memory on"};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        send_text(w, ALICE, commands[i]);
        assert_answers(w, ALICE, ++answers);
    }
    static const char doc[] = "# Pineapple notes\n\nThe pineapple field is behind the school.\n";
    fake_line_set_content(w->line, "alice-file-1", doc, strlen(doc), "text/plain", 0);
    json_t *file = ev_message(w, &(struct ev){.user = ALICE, .message_type = "file", .message_id = "alice-file-1"});
    json_object_set_new(json_object_get(file, "message"), "fileName", json_string("pineapple.txt"));
    json_object_set_new(json_object_get(file, "message"), "fileSize", json_integer((json_int_t)strlen(doc)));
    send_event(w, file);
    assert_answers(w, ALICE, ++answers);
    char *texts = world_texts(w, ALICE);
    assert_contains(texts, "pineapple.txt");
    free(texts);

    size_t in_group = 0;
    const struct {
        const char *user, *text;
        bool to_bot;
    } group[] = {
        {ALICE, "@Bot alice asks kiwi", true},   {BOB, "@Bot bob asks mango", true},
        {ALICE, "alice chats papaya", false},    {BOB, "@Bot bob asks lime", true},
        {BOB, "@Bot bob asks melon", true},
    };
    for (size_t i = 0; i < sizeof group / sizeof group[0]; i++) {
        group_text(w, group[i].user, group[i].text, group[i].to_bot);
        if (group[i].to_bot)
            assert_answers(w, GROUP, ++in_group);
    }
    /* Bob's next question gets the apology (the model fails), and the one
     * after it is never delivered (LINE refuses the reply and the push). */
    fake_llm_set_always(w->llm, 400, "{\"error\":{\"message\":\"e2e: refused\"}}");
    group_text(w, BOB, "@Bot bob asks plum", true);
    assert_answers(w, GROUP, ++in_group);
    fake_llm_set_always(w->llm, 0, NULL);
    fake_line_fail_next(w->line, "/v2/bot/message/reply", 400, 1);
    fake_line_fail_next(w->line, "/v2/bot/message/push", 400, 1);
    group_text(w, BOB, "@Bot bob asks pear", true);
    /* Done failing before anything else is sent: the scripted failures are for it alone. */
    wait_for_rows(db, "SELECT count(*) FROM linebot_inbox WHERE outcome IN ('failed', 'expired')");
    /* Questions until her daily tokens are spent and the notice is sent. */
    for (int i = 0; i < 10; i++) {
        send_text(w, ALICE, "what about pineapple?");
        assert_answers(w, ALICE, ++answers);
        if (db_count(db, "SELECT count(*) FROM linebot_budget_notices WHERE subject = '" ALICE "'") > 0)
            break;
    }
    wait_for_rows(db, "SELECT count(*) FROM linebot_summaries WHERE chat_id = '" GROUP "'");
    wait_for_rows(db, "SELECT count(*) FROM linebot_summaries WHERE chat_id = '" ALICE "'");
    int64_t deadline = e2e_mono_ms() + e2e_ms(E2E_WAIT_MS);
    while (db_count(db, "SELECT count(*) FROM linebot_inbox WHERE state <> 'done'") > 0) {
        if (e2e_mono_ms() > deadline)
            fail_msg("the inbox did not drain");
        e2e_sleep_ms(50);
    }

    /* stats and chats, against the inbox read by the oracle. */
    json_t *days = admin_json(w, (const char *[]){"stats", "--json", NULL});
    json_t *by_model = find(days, "model", E2E_MODEL), *none = find(days, "model", NULL);
    long long answered = db_count(db, "SELECT count(*) FROM linebot_inbox WHERE kind IS NULL AND outcome = 'answered'"
                                      " AND model = '" E2E_MODEL "'");
    assert_true(answered >= 5);
    assert_int_equal(int_of(by_model, "answered"), answered);
    assert_int_equal(int_of(by_model, "total_tokens"), 20 * answered); /* the fake reports 10 + 10 */
    assert_int_equal(int_of(none, "apologies"), 1);
    assert_int_equal(int_of(none, "failed") + int_of(by_model, "failed"), 1);
    assert_int_equal(int_of(none, "events") + int_of(by_model, "events"),
                     db_count(db, "SELECT count(*) FROM linebot_inbox WHERE kind IS NULL"));
    json_decref(days);
    json_t *chats = admin_json(w, (const char *[]){"chats", "--json", NULL});
    json_t *alice = find(chats, "chat_id", ALICE);
    assert_string_equal(json_string_value(json_object_get(alice, "persona")), "(custom)");
    assert_string_equal(json_string_value(json_object_get(alice, "model")), E2E_MODEL);
    json_decref(chats);

    static const char *const there[] = {
        "SELECT count(*) FROM linebot_chat_models WHERE chat_id = '" ALICE "'",
        "SELECT count(*) FROM linebot_chat_personas WHERE custom LIKE '%pineapple%'",
        "SELECT count(*) FROM linebot_memory WHERE user_id = '" ALICE "' AND fact LIKE '%pineapple%'",
        "SELECT count(*) FROM linebot_memory_users WHERE user_id = '" ALICE "'",
        "SELECT count(*) FROM linebot_usage WHERE user_id = '" ALICE "' AND chat_id = '" ALICE "'",
        "SELECT count(*) FROM linebot_usage WHERE user_id = '" ALICE "' AND chat_id = '" GROUP "'",
        "SELECT count(*) FROM linebot_budget_notices WHERE subject = '" ALICE "'",
        "SELECT count(*) FROM linebot_kb_docs WHERE path LIKE '%pineapple%'",
        "SELECT count(*) FROM linebot_kb_chunks WHERE body LIKE '%pineapple field%'",
        "SELECT count(*) FROM linebot_kb WHERE name LIKE '%" ALICE "%'",
        "SELECT count(*) FROM linebot_summaries WHERE chat_id = '" GROUP "'",
        "SELECT count(*) FROM linebot_summaries WHERE chat_id = '" ALICE "'",
        "SELECT count(*) FROM linebot_profiles WHERE user_id = '" ALICE "'",
    };
    for (size_t i = 0; i < sizeof there / sizeof there[0]; i++)
        if (db_count(db, there[i]) < 1)
            fail_msg("the conversation left no row to forget: %s", there[i]);

    json_t *forgot = admin_json(w, (const char *[]){"forget", ALICE, "--json", NULL});
    json_t *removed = json_object_get(forgot, "removed");
    assert_int_equal(int_of(removed, "choices"), 1);
    assert_int_equal(int_of(removed, "personas"), 1);
    assert_int_equal(int_of(removed, "memory"), 1);
    assert_int_equal(int_of(removed, "documents"), 1);
    json_decref(forgot);
    static const char *const gone[] = {
        "SELECT count(*) FROM linebot_memory_users WHERE user_id = '" ALICE "'",
        "SELECT count(*) FROM linebot_usage WHERE user_id = '" ALICE "'",
        "SELECT count(*) FROM linebot_budget_notices WHERE subject = '" ALICE "'",
        "SELECT count(*) FROM linebot_kb_chunks WHERE body LIKE '%pineapple%'",
        "SELECT count(*) FROM linebot_summaries WHERE chat_id IN ('" ALICE "', '" GROUP "')",
    };
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        if (db_count(db, gone[i]) != 0)
            fail_msg("left after forget %s: %s", ALICE, gone[i]);
    check_no_trace_in_any_table(db);
    /* Bob's part of the group stays, until the group itself is forgotten. */
    assert_true(db_count(db, "SELECT count(*) FROM linebot_history WHERE chat_id = '" GROUP "'") > 0);
    assert_true(db_count(db, "SELECT count(*) FROM linebot_usage WHERE user_id = '" BOB "'") > 0);

    json_decref(admin_json(w, (const char *[]){"forget", GROUP, "--json", NULL}));
    static const char *const group_gone[] = {
        "SELECT count(*) FROM linebot_history WHERE chat_id = '" GROUP "'",
        "SELECT count(*) FROM linebot_bot_messages WHERE chat_id = '" GROUP "'",
        "SELECT count(*) FROM linebot_profiles WHERE chat_id = '" GROUP "'",
        "SELECT count(*) FROM linebot_usage WHERE chat_id = '" GROUP "'",
        "SELECT count(*) FROM linebot_summaries WHERE chat_id = '" GROUP "'",
        "SELECT count(*) FROM linebot_inbox WHERE chat_id = '" GROUP "' AND (payload IS NOT NULL OR answer IS NOT NULL)",
    };
    for (size_t i = 0; i < sizeof group_gone / sizeof group_gone[0]; i++)
        if (db_count(db, group_gone[i]) != 0)
            fail_msg("left after forget %s: %s", GROUP, group_gone[i]);
}

static const char *const later_settings[] = {"LINEBOT_GROUP_CONTEXT=5", "LINEBOT_MEMORY=explicit",
                                             "LINEBOT_HISTORY_TURNS=1", "LINEBOT_USER_DAILY_TOKENS=120",
                                             "LINEBOT_RATE_LIMIT=100", "LINEBOT_SUMMARY=1", NULL};

static void test_forget_later_tables_on_sqlite(void **state)
{
    struct world *w = world_new(state, later_settings);
    struct db db = {.sqlite_path = w->db_path};
    bot_start(w, NULL);
    run_later_tables_case(w, &db);
    world_finish(w);
}

static void test_forget_later_tables_on_postgres(void **state)
{
    if (!pg_url) {
        skip();
        return;
    }
    struct db db = {.sqlite_path = NULL};
    char *setting = pg_scratch_db(pg_url, "admin_later", db.schema, sizeof db.schema);
    const char *settings[8];
    size_t n = 0;
    for (; later_settings[n]; n++)
        settings[n] = later_settings[n];
    settings[n++] = setting;
    settings[n] = NULL;
    struct world *w = world_new(state, settings);
    bot_start(w, NULL);
    run_later_tables_case(w, &db);
    world_finish(w);
    pg_scratch_drop(pg_url, db.schema);
    free(setting);
}

/* Usage errors exit 2 with the usage; a store that cannot be opened exits 1. */
static void test_usage_and_store_errors(void **state)
{
    struct world *w = world_new(state, NULL);
    char *out = NULL, *err = NULL;
    const char *const *const bad[] = {
        (const char *[]){"admin", NULL},
        (const char *[]){"admin", "bogus", NULL},
        (const char *[]){"admin", "history", NULL},
        (const char *[]){"admin", "forget", "U1", "U2", NULL},
        (const char *[]){"admin", "export", "U1;DROP TABLE", NULL},
        (const char *[]){"admin", "stats", "--yaml", NULL},
        (const char *[]){"admin", "chats", "extra", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(bot_run(w, bad[i], NULL, &out, &err), 2);
        assert_contains(err, "Usage: linebot admin");
        assert_string_equal(out, "");
        free(out);
        free(err);
    }
    assert_int_equal(bot_run(w, (const char *[]){"admin", "--help", NULL}, NULL, &out, &err), 0);
    assert_contains(out, "forget ID");
    free(out);
    free(err);

    /* No database at LINEBOT_DB: refused, and none is created. */
    char *missing = e2e_printf("%s/missing.db", w->dir);
    char *setting = e2e_printf("LINEBOT_DB=%s", missing);
    assert_int_equal(bot_run(w, (const char *[]){"admin", "stats", NULL}, (const char *[]){setting, NULL}, &out, &err),
                     1);
    assert_contains(err, "no database at");
    assert_int_equal(access(missing, F_OK), -1);
    free(out);
    free(err);
    /* A PostgreSQL server that is not there: exit 1, and the password is never printed. */
    assert_int_equal(bot_run(w, (const char *[]){"admin", "chats", NULL},
                             (const char *[]){"LINEBOT_DB=postgres://u:hunter2secret@127.0.0.1:1/db", NULL}, &out,
                             &err),
                     1);
    assert_contains(err, "cannot open the store");
    assert_not_contains(err, "hunter2secret");
    assert_not_contains(out, "hunter2secret");
    free(out);
    free(err);
    free(setting);
    free(missing);
    world_finish(w);
}

/* Rows the bot would never write (another tool, a damaged file): invalid
 * UTF-8, terminal escapes, a bidirectional override. JSON still parses and
 * keeps the row; a table shows none of the raw bytes. */
static void test_hostile_rows(void **state)
{
    struct world *w = world_start(state, NULL);
    bot_stop(w); /* the schema exists now */
    sqlite3 *conn = NULL;
    assert_int_equal(sqlite3_open(w->db_path, &conn), SQLITE_OK);
    assert_int_equal(sqlite3_exec(conn,
                                  "INSERT INTO linebot_history (chat_id, role, speaker, text, timestamp_ms)"
                                  " VALUES ('Chostile', 'user', 'Eve' || char(8238) || 'gpj.exe',"
                                  " CAST(X'6f6bff0a1b5b33316d7265641b5d303b7469746c6507' AS TEXT), 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(conn);

    json_t *turns = admin_json(w, (const char *[]){"history", "Chostile", "--json", NULL});
    assert_int_equal(json_array_size(turns), 1);
    const char *text = json_string_value(json_object_get(json_array_get(turns, 0), "text"));
    assert_non_null(text);
    assert_string_equal(text, "ok\xEF\xBF\xBD\n\x1b[31mred\x1b]0;title\x07");
    json_decref(turns);

    char *out = NULL;
    assert_int_equal(admin(w, (const char *[]){"history", "Chostile", NULL}, &out), 0);
    assert_contains(out, "ok\xEF\xBF\xBD\n");
    assert_contains(out, "[31mred");
    assert_not_contains(out, "\xff");
    assert_not_contains(out, "\x1b");
    assert_not_contains(out, "\x07");
    assert_not_contains(out, "\xE2\x80\xAE"); /* U+202E */
    free(out);
    world_finish(w);
}

static void test_admin_on_sqlite(void **state)
{
    struct world *w = world_new(state, (const char *[]){"LINEBOT_GROUP_CONTEXT=5", NULL});
    struct db db = {.sqlite_path = w->db_path};
    bot_start(w, NULL);
    run_case(w, &db);
    world_finish(w);
}

static void test_admin_on_postgres(void **state)
{
    if (!pg_url) {
        skip();
        return;
    }
    struct db db = {.sqlite_path = NULL};
    char *setting = pg_scratch_db(pg_url, "admin", db.schema, sizeof db.schema);
    struct world *w = world_new(state, (const char *[]){"LINEBOT_GROUP_CONTEXT=5", setting, NULL});
    bot_start(w, NULL);
    run_case(w, &db);
    world_finish(w);
    pg_scratch_drop(pg_url, db.schema);
    free(setting);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_usage_and_store_errors),
        E2E_TEST(test_hostile_rows),
        E2E_TEST(test_admin_on_sqlite),
        E2E_TEST(test_admin_on_postgres),
        E2E_TEST(test_forget_later_tables_on_sqlite),
        E2E_TEST(test_forget_later_tables_on_postgres),
    };
    pg_url = pg_scratch_url();
    if (!pg_url) {
        fprintf(stderr, "[  SKIPPED ] test_admin_on_postgres: LINEBOT_TEST_PG_URL is not set\n");
    }
    return E2E_RUN(tests);
}
