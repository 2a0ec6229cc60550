/* test_store_kb.c - the knowledge base in the store (io/store.h, issue 12),
 * on every backend: add, unchanged, replace (atomic while written in
 * batches), remove, a sync by hand, BM25 ranking, bindings, hostile input.
 * The PostgreSQL run also loads the same documents into SQLite and asserts
 * the same top 3, with the same scores, for every question: the two
 * backends rank alike.
 *
 * Each test gets a fresh database: a temporary SQLite file, or a scratch
 * schema on LINEBOT_TEST_PG_URL (skipped, saying so, when unset). The
 * expected rankings are written out by hand from the documents' words
 * (more of the question's words, more often, in a shorter passage, first). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/kb_terms.h"
#include "io/store.h"

struct fixture {
    bool sqlite;
    char path[64];
    char schema[64];
    char url[1024];
    struct store *st;
};

static const char *pg_base_url;
static PGconn *pg_admin;
static bool run_pg; /* this run is PostgreSQL's */

static bool admin_ok(const char *sql)
{
    PGresult *res = PQexec(pg_admin, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "admin SQL failed: %s: %s", sql, PQerrorMessage(pg_admin));
    PQclear(res);
    return ok;
}

static int make_db(struct fixture *fx, bool sqlite)
{
    static unsigned counter;
    char err[256];

    fx->sqlite = sqlite;
    if (sqlite) {
        snprintf(fx->path, sizeof fx->path, "/tmp/linebot-test-kb-XXXXXX");
        int fd = mkstemp(fx->path);
        if (fd < 0)
            return -1;
        close(fd);
        snprintf(fx->url, sizeof fx->url, "%s", fx->path);
    } else {
        char sql[128];
        snprintf(fx->schema, sizeof fx->schema, "linebot_test_kb_%ld_%u", (long)getpid(), counter++);
        snprintf(sql, sizeof sql, "CREATE SCHEMA %s", fx->schema);
        if (!admin_ok(sql))
            return -1;
        snprintf(fx->url, sizeof fx->url, "%s%soptions=-csearch_path%%3D%s", pg_base_url,
                 strchr(pg_base_url, '?') ? "&" : "?", fx->schema);
    }
    fx->st = store_open(fx->url, err, sizeof err);
    if (!fx->st) {
        fprintf(stderr, "store_open: %s\n", err);
        return -1;
    }
    return 0;
}

static void drop_db(struct fixture *fx)
{
    store_close(fx->st);
    fx->st = NULL;
    if (fx->sqlite) {
        static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
        char name[96];
        for (size_t i = 0; i < 4; i++) {
            snprintf(name, sizeof name, "%s%s", fx->path, suffixes[i]);
            unlink(name);
        }
    } else {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", fx->schema);
        admin_ok(sql);
    }
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (!fx || make_db(fx, !run_pg) != 0) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    drop_db(fx);
    free(fx);
    return 0;
}

/* ---- helpers ---- */

/* A document of `n` passages (body[i], under heading[i] or ""), with terms
 * as the commands make them. */
struct doc {
    const char *kb, *path, *title, *hash;
    const char *const *bodies;
    size_t n;
};

static int64_t put_doc(struct store *st, const struct doc *d, enum kb_put_status want)
{
    struct kb_chunk_row *rows = calloc(d->n + 1, sizeof *rows);
    char **terms = calloc(d->n + 1, sizeof *terms);
    assert_non_null(rows);
    for (size_t i = 0; i < d->n; i++) {
        struct kb_terms t;
        kb_terms_of(d->bodies[i], strlen(d->bodies[i]), &t);
        terms[i] = kb_terms_join(&t);
        kb_terms_free(&t);
        rows[i] = (struct kb_chunk_row){(int)i, "", d->bodies[i], terms[i]};
    }
    struct kb_put put = {d->kb ? d->kb : "default", d->path, d->title, d->hash, 100, rows, d->n, NULL, NULL};
    int64_t id = 0;
    enum kb_put_status status;
    if (store_kb_put(st, &put, 1000, &id, &status) != 0)
        fail_msg("store_kb_put %s: %s", d->path, store_last_error(st));
    assert_int_equal(status, want);
    assert_true(id > 0);
    for (size_t i = 0; i < d->n; i++)
        free(terms[i]);
    free(terms);
    free(rows);
    return id;
}

/* The hits for a question, as "path#position" joined by spaces. */
static char *search(struct store *st, const char *kb, const char *question, int k, double *scores)
{
    struct kb_terms t;
    kb_terms_of(question, strlen(question), &t);
    kb_terms_dedup(&t);
    struct kb_hit *hits = NULL;
    size_t n = 0;
    if (store_kb_search(st, kb, (const char *const *)t.items, t.n, k, &hits, &n) != 0)
        fail_msg("store_kb_search: %s", store_last_error(st));
    kb_terms_free(&t);
    char *out = calloc(1, 4096);
    for (size_t i = 0; i < n; i++) {
        char one[300];
        snprintf(one, sizeof one, "%s%s#%d", i ? " " : "", hits[i].path, hits[i].position);
        strcat(out, one);
        if (scores)
            scores[i] = hits[i].score;
        assert_true(hits[i].score > 0);
        assert_true(i == 0 || hits[i].score <= hits[i - 1].score);
    }
    kb_hits_free(hits, n);
    return out;
}

static void expect_search(struct store *st, const char *kb, const char *question, int k, const char *want)
{
    char *got = search(st, kb, question, k, NULL);
    if (strcmp(got, want) != 0)
        fail_msg("search \"%s\":\n  got  \"%s\"\n  want \"%s\"", question, got, want);
    free(got);
}

/* ---- the corpus of the ranking tests ---- */

static const char *const ja_prices[] = {
    "料金は大人1000円、子ども500円です。料金は現金のみでお支払いください。",
    "駐車場は建物の裏にあります。",
};
static const char *const ja_hours[] = {
    "営業時間と料金についてのご案内です。",
    "営業時間は午前9時から午後6時までです。定休日は水曜日です。",
};
static const char *const ja_faq[] = {
    "よくある質問。料金表は受付で配布しています。予約は電話で承ります。キャンセルは前日までにご連絡ください。"
    "当日のキャンセルはキャンセル料がかかります。",
    "ペットの同伴はできません。",
};
static const char *const zh_prices[] = {
    "價格：成人一百元，兒童五十元。價格含稅。",
    "營業時間為上午十點至晚上八點。",
};
static const char *const zh_misc[] = {
    "本店的價格與服務說明如下，歡迎洽詢。",
    "停車場位於大樓後方。",
};
static const char *const en_guide[] = {
    "Opening hours: Monday to Friday, 9 am to 6 pm. Opening hours on holidays differ.",
    "The price of a ticket is 10 dollars for adults.",
    "Parking is behind the building.",
};
static const char *const en_more[] = {
    "Our hours are posted at the entrance, together with the price list and the rules of the house.",
    "Pets are not allowed inside.",
};

static const struct doc corpus[] = {
    {NULL, "/kb/ja/prices.md", "料金", "h1", ja_prices, 2},
    {NULL, "/kb/ja/hours.md", "営業時間", "h2", ja_hours, 2},
    {NULL, "/kb/ja/faq.md", "よくある質問", "h3", ja_faq, 2},
    {NULL, "/kb/zh/prices.md", "價格", "h4", zh_prices, 2},
    {NULL, "/kb/zh/misc.md", "說明", "h5", zh_misc, 2},
    {NULL, "/kb/en/guide.md", "Guide", "h6", en_guide, 3},
    {NULL, "/kb/en/more.md", "More", "h7", en_more, 2},
};

static void load_corpus(struct store *st)
{
    for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++)
        put_doc(st, &corpus[i], KB_ADDED);
}

/* Questions and their expected top 3 (see the corpus: tf, then length). */
static const struct {
    const char *question;
    const char *top;
} rankings[] = {
    /* 料金 twice; once in a short passage; once in a long one. */
    {"料金", "/kb/ja/prices.md#0 /kb/ja/hours.md#0 /kb/ja/faq.md#0"},
    {"價格", "/kb/zh/prices.md#0 /kb/zh/misc.md#0"},
    /* "opening" and "hours" twice each; then "hours" alone. */
    {"opening hours", "/kb/en/guide.md#0 /kb/en/more.md#0"},
    {"ticket price", "/kb/en/guide.md#1 /kb/en/more.md#0"},
    /* All three bigrams, shorter first; then the Chinese 營業時間 (業時 and 時間 only). */
    {"営業時間", "/kb/ja/hours.md#0 /kb/ja/hours.md#1 /kb/zh/prices.md#1"},
    {"キャンセル", "/kb/ja/faq.md#0"},
    {"parking", "/kb/en/guide.md#2"},
    /* 停車 and 車場; then the Japanese 駐車場 (車場). */
    {"停車場", "/kb/zh/misc.md#1 /kb/ja/prices.md#1"},
    {"nothing matches this", ""},
};

/* ---- tests ---- */

static void test_add_search_list(void **state)
{
    struct fixture *fx = *state;
    load_corpus(fx->st);
    for (size_t i = 0; i < sizeof rankings / sizeof rankings[0]; i++)
        expect_search(fx->st, "default", rankings[i].question, 3, rankings[i].top);

    struct kb_doc_info *docs = NULL;
    size_t n = 0;
    assert_int_equal(store_kb_docs(fx->st, "default", 0, NULL, &docs, &n), 0);
    assert_int_equal(n, 7);
    assert_string_equal(docs[0].path, "/kb/en/guide.md"); /* by path */
    assert_string_equal(docs[0].title, "Guide");
    assert_int_equal(docs[0].chunks, 3);
    assert_true(docs[0].live);
    assert_string_equal(docs[0].kb, "default");
    kb_doc_infos_free(docs, n);
    /* One by path, one by id, none in another knowledge base. */
    assert_int_equal(store_kb_docs(fx->st, "default", 0, "/kb/ja/hours.md", &docs, &n), 0);
    assert_int_equal(n, 1);
    int64_t id = docs[0].id;
    kb_doc_infos_free(docs, n);
    assert_int_equal(store_kb_docs(fx->st, "default", id, NULL, &docs, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(docs[0].path, "/kb/ja/hours.md");
    kb_doc_infos_free(docs, n);
    assert_int_equal(store_kb_docs(fx->st, "other", 0, NULL, &docs, &n), 0);
    assert_int_equal(n, 0);
    expect_search(fx->st, "other", "料金", 3, "");
    /* k limits. */
    expect_search(fx->st, "default", "料金", 1, "/kb/ja/prices.md#0");
}

/* More of the question's words, more often, in a shorter passage, and rarer words weigh more. */
static void test_ranking_sanity(void **state)
{
    struct fixture *fx = *state;
    static const char *const a[] = {"apple banana", "apple", "apple apple", "banana", "durian", "elderberry", "fig",
                                    "grape", "cherry banana kiwi kiwi kiwi kiwi kiwi kiwi", "apple cherry"};
    struct doc d = {NULL, "/fruit", "Fruit", "f1", a, 10};
    put_doc(fx->st, &d, KB_ADDED);
    /* tf 2 first; then the shortest; then a tie, by chunk id. */
    expect_search(fx->st, "default", "apple", 3, "/fruit#2 /fruit#1 /fruit#0");
    /* Both words beat one. */
    expect_search(fx->st, "default", "apple banana", 1, "/fruit#0");
    /* The rarer word weighs more: "cherry" (2 passages) beats the shorter "banana" (3). */
    expect_search(fx->st, "default", "banana cherry", 2, "/fruit#9 /fruit#3");
}

static void test_unchanged_and_replace(void **state)
{
    struct fixture *fx = *state;
    static const char *const v1[] = {"The old price was 5 dollars."};
    static const char *const v2[] = {"The new fee is 7 dollars.", "Ask at the desk."};
    struct doc d = {NULL, "/doc", "Doc", "hash-1", v1, 1};
    int64_t id = put_doc(fx->st, &d, KB_ADDED);
    assert_int_equal(put_doc(fx->st, &d, KB_UNCHANGED), id);
    expect_search(fx->st, "default", "price", 3, "/doc#0");
    struct doc d2 = {NULL, "/doc", "Doc 2", "hash-2", v2, 2};
    assert_int_equal(put_doc(fx->st, &d2, KB_REPLACED), id);
    expect_search(fx->st, "default", "price", 3, "");
    expect_search(fx->st, "default", "fee desk", 3, "/doc#1 /doc#0"); /* the shorter first */
    struct kb_doc_info *docs = NULL;
    size_t n = 0;
    assert_int_equal(store_kb_docs(fx->st, NULL, id, NULL, &docs, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(docs[0].title, "Doc 2");
    assert_int_equal(docs[0].chunks, 2);
    kb_doc_infos_free(docs, n);
    /* Back to the first version: replaced again (the hash differs from the stored one). */
    put_doc(fx->st, &d, KB_REPLACED);
    expect_search(fx->st, "default", "price fee", 3, "/doc#0");
}

/* While a large document is replaced batch by batch, a search on another
 * handle sees only the old version; once it is done, only the new one. */
struct during {
    const char *url;
    int calls;
};

static void check_during(void *arg, size_t written)
{
    struct during *d = arg;
    char err[256];
    struct store *other = store_open(d->url, err, sizeof err);
    if (!other)
        fail_msg("store_open: %s", err);
    d->calls++;
    assert_true(written > 0 && written <= 150);
    char *old = search(other, "default", "oldword", 200, NULL);
    char *new = search(other, "default", "newword", 200, NULL);
    assert_string_equal(new, "");
    assert_int_equal(strlen(old) > 0, 1);
    /* All 150 old passages, none of the new ones. */
    size_t hits = 0;
    for (const char *p = old; *p; p++)
        hits += *p == '#';
    assert_int_equal(hits, 150);
    free(old);
    free(new);
    store_close(other);
}

static void test_replace_in_batches_is_atomic(void **state)
{
    struct fixture *fx = *state;
    enum { N = 150 };
    static char bodies_old[N][64], bodies_new[N][64];
    const char *old_p[N], *new_p[N];
    for (int i = 0; i < N; i++) {
        snprintf(bodies_old[i], sizeof bodies_old[i], "oldword passage %d", i);
        snprintf(bodies_new[i], sizeof bodies_new[i], "newword passage %d", i);
        old_p[i] = bodies_old[i];
        new_p[i] = bodies_new[i];
    }
    struct doc d = {NULL, "/big", "Big", "old", old_p, N};
    put_doc(fx->st, &d, KB_ADDED);

    struct kb_chunk_row rows[N];
    char *terms[N];
    for (int i = 0; i < N; i++) {
        struct kb_terms t;
        kb_terms_of(new_p[i], strlen(new_p[i]), &t);
        terms[i] = kb_terms_join(&t);
        kb_terms_free(&t);
        rows[i] = (struct kb_chunk_row){i, "", new_p[i], terms[i]};
    }
    struct during during = {fx->url, 0};
    struct kb_put put = {"default", "/big", "Big", "new", 100, rows, N, check_during, &during};
    int64_t id;
    enum kb_put_status status;
    assert_int_equal(store_kb_put(fx->st, &put, 2000, &id, &status), 0);
    assert_int_equal(status, KB_REPLACED);
    assert_int_equal(during.calls, (N + KB_BATCH - 1) / KB_BATCH);
    char *old = search(fx->st, "default", "oldword", 200, NULL);
    assert_string_equal(old, "");
    free(old);
    char *new = search(fx->st, "default", "newword", 200, NULL);
    size_t hits = 0;
    for (const char *p = new; *p; p++)
        hits += *p == '#';
    assert_int_equal(hits, N);
    free(new);
    for (int i = 0; i < N; i++)
        free(terms[i]);
}

static void test_remove(void **state)
{
    struct fixture *fx = *state;
    load_corpus(fx->st);
    struct kb_doc_info gone;
    assert_int_equal(store_kb_remove(fx->st, "default", 0, "/kb/ja/prices.md", &gone), 1);
    assert_string_equal(gone.path, "/kb/ja/prices.md");
    assert_int_equal(gone.chunks, 2);
    int64_t id = gone.id;
    kb_doc_info_clear(&gone);
    expect_search(fx->st, "default", "料金", 3, "/kb/ja/hours.md#0 /kb/ja/faq.md#0");
    assert_int_equal(store_kb_remove(fx->st, "default", id, NULL, NULL), 0);
    assert_int_equal(store_kb_remove(fx->st, "default", 0, "/nowhere", NULL), 0);
    /* By id; and an id of another knowledge base is not found in this one. */
    struct kb_doc_info *docs = NULL;
    size_t n = 0;
    assert_int_equal(store_kb_docs(fx->st, "default", 0, "/kb/en/more.md", &docs, &n), 0);
    assert_int_equal(n, 1);
    id = docs[0].id;
    kb_doc_infos_free(docs, n);
    assert_int_equal(store_kb_remove(fx->st, "other", id, NULL, NULL), 0);
    assert_int_equal(store_kb_remove(fx->st, "default", id, NULL, NULL), 1);
    expect_search(fx->st, "default", "opening hours", 3, "/kb/en/guide.md#0");
    assert_int_equal(store_kb_docs(fx->st, "default", 0, NULL, &docs, &n), 0);
    assert_int_equal(n, 5);
    kb_doc_infos_free(docs, n);
}

/* What `kb sync` does with the store: unchanged, replaced, added, and a
 * document whose file is gone removed; twice the same changes nothing. */
static void test_sync_by_hand(void **state)
{
    struct fixture *fx = *state;
    static const char *const a[] = {"alpha text"}, *const b[] = {"beta text"}, *const c[] = {"gamma text"},
                             *const c2[] = {"gamma changed"}, *const dd[] = {"delta text"};
    struct doc da = {"docs", "/d/a.txt", "a", "ha", a, 1}, db = {"docs", "/d/b.txt", "b", "hb", b, 1},
               dc = {"docs", "/d/c.txt", "c", "hc", c, 1}, dc2 = {"docs", "/d/c.txt", "c", "hc2", c2, 1},
               dd_ = {"docs", "/d/d.txt", "d", "hd", dd, 1};
    put_doc(fx->st, &da, KB_ADDED);
    put_doc(fx->st, &db, KB_ADDED);
    put_doc(fx->st, &dc, KB_ADDED);
    for (int round = 0; round < 2; round++) {
        /* The folder now has a, c (changed) and d; b is gone. */
        put_doc(fx->st, &da, KB_UNCHANGED);
        put_doc(fx->st, &dc2, round == 0 ? KB_REPLACED : KB_UNCHANGED);
        put_doc(fx->st, &dd_, round == 0 ? KB_ADDED : KB_UNCHANGED);
        assert_int_equal(store_kb_remove(fx->st, "docs", 0, "/d/b.txt", NULL), round == 0 ? 1 : 0);
    }
    expect_search(fx->st, "docs", "text", 5, "/d/a.txt#0 /d/d.txt#0");
    expect_search(fx->st, "docs", "gamma", 5, "/d/c.txt#0");
    expect_search(fx->st, "docs", "beta", 5, "");
}

static void test_bindings(void **state)
{
    struct fixture *fx = *state;
    char *kb = NULL;
    const char *chat = "C0123456789abcdef0123456789abcdef";

    assert_int_equal(store_kb_of_chat(fx->st, chat, &kb), 0);
    assert_null(kb);
    assert_int_equal(store_kb_bind(fx->st, chat, "shop", 1), 1); /* no such knowledge base */
    static const char *const body[] = {"hello"};
    struct doc shop = {"shop", "/s", "S", "h", body, 1}, def = {"default", "/d", "D", "h", body, 1};
    put_doc(fx->st, &shop, KB_ADDED);
    assert_int_equal(store_kb_of_chat(fx->st, chat, &kb), 0); /* no default yet */
    put_doc(fx->st, &def, KB_ADDED);
    assert_int_equal(store_kb_of_chat(fx->st, chat, &kb), 1);
    assert_string_equal(kb, "default");
    free(kb);
    assert_int_equal(store_kb_bind(fx->st, chat, "shop", 2), 0);
    assert_int_equal(store_kb_bind(fx->st, chat, "shop", 3), 0); /* again: still fine */
    assert_int_equal(store_kb_of_chat(fx->st, chat, &kb), 1);
    assert_string_equal(kb, "shop");
    free(kb);
    assert_int_equal(store_kb_of_chat(fx->st, "Uother", &kb), 1);
    assert_string_equal(kb, "default");
    free(kb);
    assert_int_equal(store_kb_unbind(fx->st, chat), 1);
    assert_int_equal(store_kb_unbind(fx->st, chat), 0);
    assert_int_equal(store_kb_of_chat(fx->st, chat, &kb), 1);
    assert_string_equal(kb, "default");
    free(kb);
}

static void test_hostile_input(void **state)
{
    struct fixture *fx = *state;
    static const char *const body[] = {"quote \" and ' and \\ backslash; NEAR OR AND NOT * ^ : ( )"};
    struct doc d = {NULL, "/h'\"", "T'\"", "h", body, 1};
    put_doc(fx->st, &d, KB_ADDED);
    const char *terms[] = {"a\"b", "'", "\\", "OR", "NEAR(", "near", "or", ":*"};
    struct kb_hit *hits = NULL;
    size_t n = 0;
    assert_int_equal(store_kb_search(fx->st, "default", terms, sizeof terms / sizeof terms[0], 5, &hits, &n), 0);
    assert_int_equal(n, 1); /* "near" and "or" are words of the passage */
    assert_string_equal(hits[0].path, "/h'\"");
    kb_hits_free(hits, n);
    /* Names the store refuses; empty questions find nothing. */
    /* A refusal is about the arguments, not the store: /healthz stays healthy. */
    assert_int_equal(store_probe_write(fx->st, 1000), 0);
    struct kb_put put = {"bad\nname", "/x", "x", "h", 1, NULL, 0, NULL, NULL};
    int64_t id;
    enum kb_put_status status;
    assert_int_equal(store_kb_put(fx->st, &put, 1, &id, &status), -1);
    assert_non_null(strstr(store_last_error(fx->st), "knowledge base name"));
    assert_int_equal(store_kb_search(fx->st, "default", NULL, 0, 5, &hits, &n), 0);
    assert_int_equal(n, 0);
    const char *empty[] = {""};
    assert_int_equal(store_kb_search(fx->st, "default", empty, 1, 5, &hits, &n), -1);
    assert_int_equal(store_kb_bind(fx->st, "", "default", 1), -1);
    assert_int_equal(store_probe_write(fx->st, 1001), 0);
}

/* PostgreSQL and SQLite rank alike: the same documents in both, the same
 * top 3 with the same scores for every question. */
static void test_same_top3_as_sqlite(void **state)
{
    struct fixture *fx = *state;
    if (fx->sqlite)
        skip();
    struct fixture lite = {0};
    assert_int_equal(make_db(&lite, true), 0);
    load_corpus(fx->st);
    load_corpus(lite.st);
    for (size_t i = 0; i < sizeof rankings / sizeof rankings[0]; i++) {
        double pg_scores[8] = {0}, sq_scores[8] = {0};
        char *pg = search(fx->st, "default", rankings[i].question, 3, pg_scores);
        char *sq = search(lite.st, "default", rankings[i].question, 3, sq_scores);
        assert_string_equal(pg, sq);
        assert_string_equal(pg, rankings[i].top);
        for (size_t s = 0; s < 3; s++)
            assert_true(fabs(pg_scores[s] - sq_scores[s]) <= 1e-9 * (1 + fabs(sq_scores[s])));
        free(pg);
        free(sq);
    }
    drop_db(&lite);
}

/* ---- vectors (issue 12) ---- */

struct vec_put_ctx {
    struct kb_chunk_row *rows;
    size_t n;
    int8_t (*vecs)[4];
    int calls;
    bool fail;
};

/* put.embed: each row's vector is {position, -127, 127, 7} (row 0: all 1s). */
static int fake_embed(void *arg, char *err, size_t errlen)
{
    struct vec_put_ctx *c = arg;
    c->calls++;
    if (c->fail) {
        snprintf(err, errlen, "the embeddings server cannot be reached: test");
        return -1;
    }
    for (size_t i = 0; i < c->n; i++) {
        int8_t v[4] = {(int8_t)c->rows[i].position, -127, 127, 7};
        if (i == 0)
            memset(v, 1, sizeof v);
        memcpy(c->vecs[i], v, 4);
        c->rows[i].vec = c->vecs[i];
        c->rows[i].vec_scale = 0.5f;
    }
    return 0;
}

static int vec_put_doc(struct store *st, const char *path, const char *hash, const char *const *bodies, size_t n,
                       struct vec_put_ctx *c, enum kb_put_status *status)
{
    struct kb_chunk_row rows[8] = {{0}};
    int8_t vecs[8][4];
    for (size_t i = 0; i < n; i++)
        rows[i] = (struct kb_chunk_row){(int)i, "", bodies[i], "x"};
    c->rows = rows;
    c->n = n;
    c->vecs = vecs;
    struct kb_put put = {.kb = "default", .path = path, .title = "T", .content_hash = hash, .bytes = 1,
                         .chunks = rows, .n_chunks = n, .embed = fake_embed, .embed_arg = c,
                         .embed_model = "m1", .embed_dims = 4};
    int64_t id = 0;
    return store_kb_put(st, &put, 1000, &id, status);
}

struct loaded {
    int64_t ids[16];
    int8_t vecs[16][4];
    int dims[16];
    size_t n;
};

static void on_vec(void *arg, int64_t chunk_id, int dims, const int8_t *vec)
{
    struct loaded *l = arg;
    assert_true(l->n < 16);
    l->ids[l->n] = chunk_id;
    l->dims[l->n] = dims;
    memcpy(l->vecs[l->n], vec, dims < 4 ? (size_t)dims : 4);
    l->n++;
}

static void test_vectors(void **state)
{
    struct store *st = ((struct fixture *)*state)->st;
    char *model = NULL;
    int64_t v1 = 0, v2 = 0;

    /* The first claim wins (and creates the knowledge base); another is told. */
    assert_int_equal(store_kb_vec_model(st, "default", NULL, false, 1000, &model, &v1), 0);
    assert_null(model);
    assert_int_equal(store_kb_vec_model(st, "default", "m1", false, 1000, &model, &v1), 0);
    assert_string_equal(model, "m1");
    free(model);
    assert_int_equal(store_kb_vec_model(st, "default", "m2", false, 1000, &model, &v2), 0);
    assert_string_equal(model, "m1");
    assert_int_equal(v2, v1);
    free(model);

    /* A put embeds once, before its chunks, and the vectors come back as written. */
    static const char *const three[] = {"one", "two", "three"};
    struct vec_put_ctx c = {0};
    enum kb_put_status status;
    assert_int_equal(vec_put_doc(st, "/v/a.md", "ha", three, 3, &c, &status), 0);
    assert_int_equal(status, KB_ADDED);
    assert_int_equal(c.calls, 1);
    struct loaded l = {0};
    assert_int_equal(store_kb_vec_load(st, "default", "m1", on_vec, &l), 3);
    assert_int_equal(l.n, 3);
    static const int8_t want1[4] = {1, 1, 1, 1}, want2[4] = {2, -127, 127, 7};
    assert_memory_equal(l.vecs[0], want1, 4);
    assert_memory_equal(l.vecs[2], want2, 4);
    assert_int_equal(l.dims[0], 4);
    assert_true(l.ids[0] < l.ids[1] && l.ids[1] < l.ids[2]);
    assert_int_equal(store_kb_vec_model(st, "default", NULL, false, 0, &model, &v2), 0);
    assert_true(v2 > v1);
    free(model);

    /* The chunks by id, in the order asked; ids gone or unknown left out. */
    struct kb_hit *hits = NULL;
    size_t n = 0;
    int64_t ask[3] = {l.ids[2], 999999, l.ids[0]};
    assert_int_equal(store_kb_chunks(st, "default", ask, 3, 0, 0, &hits, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(hits[0].body, "three");
    assert_string_equal(hits[1].body, "one");
    assert_string_equal(hits[1].path, "/v/a.md");
    kb_hits_free(hits, n);
    assert_int_equal(store_kb_chunks(st, "default", NULL, 0, l.ids[0], 10, &hits, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(hits[0].chunk_id, l.ids[1]);
    kb_hits_free(hits, n);
    assert_int_equal(store_kb_chunks(st, "other", ask, 3, 0, 0, &hits, &n), 0);
    assert_int_equal(n, 0);

    /* Unchanged: no embedding. Replaced: the old version's vectors are gone. */
    assert_int_equal(vec_put_doc(st, "/v/a.md", "ha", three, 3, &c, &status), 0);
    assert_int_equal(status, KB_UNCHANGED);
    assert_int_equal(c.calls, 1);
    assert_int_equal(vec_put_doc(st, "/v/a.md", "hb", three, 2, &c, &status), 0);
    assert_int_equal(status, KB_REPLACED);
    memset(&l, 0, sizeof l);
    assert_int_equal(store_kb_vec_load(st, "default", "m1", on_vec, &l), 2);
    assert_int_equal(store_kb_vec_load(st, "default", "m2", on_vec, &l), 0);

    /* A failed embedding: nothing of the document is seen, the reason is told. */
    c.fail = true;
    assert_int_equal(vec_put_doc(st, "/v/b.md", "hc", three, 1, &c, &status), -1);
    assert_non_null(strstr(store_last_error(st), "cannot be reached"));
    c.fail = false;
    memset(&l, 0, sizeof l);
    assert_int_equal(store_kb_vec_load(st, "default", "m1", on_vec, &l), 2);

    /* A new model (reembed): the old vectors are not loaded as the new
     * model's; rewritten by chunk id, they are. */
    assert_int_equal(store_kb_vec_model(st, "default", "m2", true, 1000, &model, &v1), 0);
    assert_string_equal(model, "m2");
    free(model);
    assert_int_equal(store_kb_vec_load(st, "default", "m1", on_vec, &l), 0);
    assert_int_equal(store_kb_vec_load(st, "default", "m2", on_vec, &l), 0);
    int8_t q[4] = {-1, -2, -3, -4};
    struct kb_vec_row rows[2] = {{.chunk_id = l.ids[1], .dims = 4, .scale = 1, .vec = q},
                                 {.chunk_id = l.ids[0], .dims = 4, .scale = 1, .vec = q}};
    assert_int_equal(store_kb_vec_put(st, "default", "m2", rows, 2), 0);
    memset(&l, 0, sizeof l);
    assert_int_equal(store_kb_vec_load(st, "default", "m2", on_vec, &l), 2);
    assert_memory_equal(l.vecs[1], q, 4);
    assert_int_equal(store_kb_vec_model(st, "default", NULL, false, 0, &model, &v2), 0);
    assert_true(v2 > v1);
    free(model);

    /* Hostile rows are refused; removing the document removes its vectors. */
    rows[0].dims = 0;
    assert_int_equal(store_kb_vec_put(st, "default", "m2", rows, 1), -1);
    rows[0].dims = 4;
    rows[0].chunk_id = 0;
    assert_int_equal(store_kb_vec_put(st, "default", "m2", rows, 1), -1);
    assert_int_equal(store_kb_remove(st, "default", 0, "/v/a.md", NULL), 1);
    memset(&l, 0, sizeof l);
    assert_int_equal(store_kb_vec_load(st, "default", "m2", on_vec, &l), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_search_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranking_sanity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unchanged_and_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_in_batches_is_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bindings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_top3_as_sqlite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vectors, setup, teardown),
    };
    const char *which = argc > 1 ? argv[1] : "sqlite";
    if (strcmp(which, "sqlite") == 0)
        return cmocka_run_group_tests_name("store_kb/sqlite", tests, NULL, NULL) ? 1 : 0;
    if (strcmp(which, "postgres") != 0) {
        fprintf(stderr, "usage: %s [sqlite|postgres]\n", argv[0]);
        return 2;
    }
    pg_base_url = getenv("LINEBOT_TEST_PG_URL");
    if (!pg_base_url || !*pg_base_url) {
        fprintf(stderr, "[  SKIPPED ] store_kb/postgres: LINEBOT_TEST_PG_URL is not set\n");
        return 77;
    }
    pg_admin = PQconnectdb(pg_base_url);
    if (PQstatus(pg_admin) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect to LINEBOT_TEST_PG_URL: %s\n", PQerrorMessage(pg_admin));
        return 1;
    }
    PQclear(PQexec(pg_admin, "SET client_min_messages = warning"));
    run_pg = true;
    int failed = cmocka_run_group_tests_name("store_kb/postgres", tests, NULL, NULL);
    PQfinish(pg_admin);
    return failed ? 1 : 0;
}
