/* test_kb.c - `linebot kb` (issue 12), the real binary on a real store.
 *
 * Japanese, Chinese and English documents (tests/fixtures/kb: Markdown,
 * HTML, plain text) are added; `kb search` must then find the right passage
 * for two-character CJK questions (料金, 價格) and English words, with its
 * title and heading. Also: `sync` mirrors a folder and is idempotent (added,
 * unchanged, replaced, removed), `bind`/`unbind` (read back from the
 * database file by the oracle, without the bot's code), a bad path (one
 * clear line, exit 1, the other files still added), usage errors, and that
 * piped output has no progress line in it. PDFs (through pdftotext) and
 * URLs (from a loopback fake) are added and answered from; a damaged PDF,
 * a missing pdftotext, an unreachable URL and a 404 are one line each. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_http.h"
#include "harness.h"
#include "media.h"

#define FIX FIXTURES_DIR "/kb/"
#define GROUP "Ce2e0000000000000000000000000kb01"
#define USER_ZH "Ue2e00000000000000000000000000zh1"

static int kb(struct world *w, const char *const *args, char **out, char **err)
{
    const char *argv[16] = {"kb"};
    size_t i = 0;
    for (; args[i] && i < 14; i++)
        argv[i + 1] = args[i];
    argv[i + 1] = NULL;
    return bot_run(w, argv, NULL, out, err);
}

/* The lines of `text` (malloc'd copies), at most `max`. */
static size_t lines_of(const char *text, char **lines, size_t max)
{
    size_t n = 0;
    while (*text && n < max) {
        size_t len = strcspn(text, "\n");
        lines[n] = e2e_printf("%.*s", (int)len, text);
        n++;
        text += len + (text[len] == '\n');
    }
    return n;
}

/* Field `i` (0-based) of a tab-separated line (malloc'd). */
static char *field_of(const char *line, int i)
{
    for (; i > 0 && line; i--) {
        line = strchr(line, '\t');
        if (line)
            line++;
    }
    if (!line)
        return e2e_strdup("");
    size_t len = strcspn(line, "\t");
    return e2e_printf("%.*s", (int)len, line);
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
}

static char *real(const char *path)
{
    char buf[4096];
    assert_non_null(realpath(path, buf));
    return e2e_strdup(buf);
}

/* Expects one result line `id status chunks path` for `path`, returns the id. */
static long expect_line(const char *out, const char *status, const char *path)
{
    char *lines[32];
    size_t n = lines_of(out, lines, 32);
    long id = -1;
    for (size_t i = 0; i < n && id < 0; i++) {
        char *p = field_of(lines[i], 3), *s = field_of(lines[i], 1), *chunks = field_of(lines[i], 2);
        if (strcmp(p, path) == 0) {
            assert_string_equal(s, status);
            if (strcmp(status, "unchanged") != 0)
                assert_true(atoi(chunks) >= 1);
            id = atol(lines[i]);
        }
        free(p);
        free(s);
        free(chunks);
    }
    free_lines(lines, n);
    if (id < 0)
        fail_msg("no line for %s (%s) in:\n%s", path, status, out);
    return id;
}

/* The first hit of a search: its fields. */
static void expect_top(struct world *w, const char *const *args, long doc_id, const char *title, const char *heading,
                       const char *snippet_start)
{
    char *out = NULL, *err = NULL;
    assert_int_equal(kb(w, args, &out, &err), 0);
    char *lines[8];
    size_t n = lines_of(out, lines, 8);
    if (n == 0)
        fail_msg("no hit for %s:\n%s", args[1], err);
    char *rank = field_of(lines[0], 0), *score = field_of(lines[0], 1), *id = field_of(lines[0], 2),
         *t = field_of(lines[0], 3), *h = field_of(lines[0], 4), *s = field_of(lines[0], 5);
    assert_string_equal(rank, "1");
    assert_true(strtod(score, NULL) > 0);
    assert_int_equal(atol(id), doc_id);
    assert_string_equal(t, title);
    assert_string_equal(h, heading);
    if (strncmp(s, snippet_start, strlen(snippet_start)) != 0)
        fail_msg("snippet \"%s\" does not start with \"%s\"", s, snippet_start);
    free(rank);
    free(score);
    free(id);
    free(t);
    free(h);
    free(s);
    free_lines(lines, n);
    free(out);
    free(err);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = e2e_printf("%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            rm_tree(p);
        else
            unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

/* The oracle: one value from the database file, without the bot's code. */
static char *db_text(struct world *w, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    char *v = NULL;
    if (sqlite3_open_v2(w->db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        v = e2e_strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v ? v : e2e_strdup("");
}

static void test_add_and_search(void **state)
{
    struct world *w = world_new(state, NULL);
    char *ja = real(FIX "ja-guide.md"), *zh = real(FIX "zh-info.html"), *en = real(FIX "en-faq.txt");
    char *out = NULL, *err = NULL;

    assert_int_equal(kb(w, (const char *[]){"add", ja, zh, en, NULL}, &out, &err), 0);
    long ja_id = expect_line(out, "added", ja), zh_id = expect_line(out, "added", zh),
         en_id = expect_line(out, "added", en);
    /* Piped: the result lines only, no progress line. */
    assert_not_contains(out, "\r");
    assert_not_contains(err, "\r");
    assert_not_contains(out, "\033");
    free(out);
    free(err);

    /* Two-character questions in Japanese and Chinese, and English words. */
    expect_top(w, (const char *[]){"search", "料金", NULL}, ja_id, "営業案内", "営業案内 > 料金",
               "大人の料金は1200円");
    expect_top(w, (const char *[]){"search", "價格", NULL}, zh_id, "服務說明", "價格", "成人票價格為三百元");
    expect_top(w, (const char *[]){"search", "定休日", NULL}, ja_id, "営業案内", "営業案内 > 営業時間",
               "午前10時から");
    expect_top(w, (const char *[]){"search", "Parking", "free", NULL}, en_id, "Frequently asked questions", "-",
               "Frequently asked questions");
    expect_top(w, (const char *[]){"search", "-k", "1", "--kb", "default", "ＤＯＧＳ", NULL}, en_id,
               "Frequently asked questions", "-", "Frequently asked questions");
    /* The HTML's script and navigation were not indexed. */
    assert_int_equal(kb(w, (const char *[]){"search", "索引", NULL}, &out, &err), 0);
    assert_string_equal(out, "");
    free(out);
    free(err);

    /* Adding again changes nothing; list shows the three. */
    assert_int_equal(kb(w, (const char *[]){"add", FIX "ja-guide.md", NULL}, &out, &err), 0);
    assert_int_equal(expect_line(out, "unchanged", ja), ja_id);
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"list", NULL}, &out, &err), 0);
    char *lines[8];
    size_t n = lines_of(out, lines, 8);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        char *path = field_of(lines[i], 1), *title = field_of(lines[i], 2), *added = field_of(lines[i], 4);
        assert_true(strcmp(path, ja) == 0 || strcmp(path, zh) == 0 || strcmp(path, en) == 0);
        if (strcmp(path, zh) == 0)
            assert_string_equal(title, "服務說明");
        assert_int_equal(strlen(added), 20); /* 2026-12-07T09:29:17Z */
        free(path);
        free(title);
        free(added);
    }
    free_lines(lines, n);
    free(out);
    free(err);

    /* Remove by id, then by path. */
    char *id = e2e_printf("%ld", zh_id);
    assert_int_equal(kb(w, (const char *[]){"remove", id, NULL}, &out, &err), 0);
    expect_line(out, "removed", zh);
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"search", "價格", NULL}, &out, &err), 0);
    assert_string_equal(out, "");
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"remove", FIX "en-faq.txt", NULL}, &out, &err), 0);
    expect_line(out, "removed", en);
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"remove", id, NULL}, &out, &err), 1);
    assert_contains(err, "no such document");
    free(out);
    free(err);
    free(id);
    free(ja);
    free(zh);
    free(en);
    world_finish(w);
}

static void test_sync(void **state)
{
    struct world *w = world_new(state, NULL);
    char *dir = e2e_printf("%s/docs", w->dir), *sub = e2e_printf("%s/docs/more", w->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(mkdir(sub, 0700), 0);
    char *ja = e2e_printf("%s/ja-guide.md", dir), *zh = e2e_printf("%s/more/zh-info.html", dir),
         *en = e2e_printf("%s/en-faq.txt", dir), *hidden = e2e_printf("%s/.secret.txt", dir),
         *other = e2e_printf("%s/notes.docx", dir);
    copy_file(FIX "ja-guide.md", ja);
    copy_file(FIX "zh-info.html", zh);
    copy_file(FIX "en-faq.txt", en);
    assert_true(e2e_write_file(hidden, "hidden words\n"));
    assert_true(e2e_write_file(other, "PK\3\4 a Word file\n"));
    char *rdir = real(dir), *rja = real(ja), *rzh = real(zh), *ren = real(en);
    char *out = NULL, *err = NULL;

    assert_int_equal(kb(w, (const char *[]){"sync", "--kb", "shop", dir, NULL}, &out, &err), 0);
    expect_line(out, "added", rja);
    expect_line(out, "added", rzh);
    long en_id = expect_line(out, "added", ren);
    assert_not_contains(out, "secret");
    assert_not_contains(out, "notes.docx");
    free(out);
    free(err);
    /* Again: nothing changes. */
    assert_int_equal(kb(w, (const char *[]){"sync", "--kb", "shop", dir, NULL}, &out, &err), 0);
    expect_line(out, "unchanged", rja);
    expect_line(out, "unchanged", rzh);
    expect_line(out, "unchanged", ren);
    assert_not_contains(out, "removed");
    free(out);
    free(err);
    /* The knowledge base is its own: `default` has nothing. */
    assert_int_equal(kb(w, (const char *[]){"search", "料金", NULL}, &out, &err), 0);
    assert_string_equal(out, "");
    free(out);
    free(err);

    /* A changed file and a deleted one. */
    assert_true(e2e_write_file(en, "Opening hours\n\nWe are open every day from nine to five.\n"));
    assert_int_equal(unlink(zh), 0);
    assert_int_equal(kb(w, (const char *[]){"sync", "--kb", "shop", dir, NULL}, &out, &err), 0);
    assert_int_equal(expect_line(out, "replaced", ren), en_id);
    expect_line(out, "unchanged", rja);
    expect_line(out, "removed", rzh);
    free(out);
    free(err);
    expect_top(w, (const char *[]){"search", "--kb", "shop", "open", "every", "day", NULL}, en_id, "Opening hours",
               "-", "Opening hours");
    assert_int_equal(kb(w, (const char *[]){"search", "--kb", "shop", "parking", NULL}, &out, &err), 0);
    assert_string_equal(out, "");
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"sync", "--kb", "shop", dir, NULL}, &out, &err), 0);
    assert_not_contains(out, "removed");
    assert_not_contains(out, "replaced");
    assert_not_contains(out, "added");
    free(out);
    free(err);

    rm_tree(dir);
    free(dir);
    free(sub);
    free(ja);
    free(zh);
    free(en);
    free(hidden);
    free(other);
    free(rdir);
    free(rja);
    free(rzh);
    free(ren);
    world_finish(w);
}

static void test_bind_unbind(void **state)
{
    struct world *w = world_new(state, NULL);
    char *out = NULL, *err = NULL;

    /* No such knowledge base yet. */
    assert_int_equal(kb(w, (const char *[]){"bind", "shop", GROUP, NULL}, &out, &err), 1);
    assert_contains(err, "no knowledge base shop");
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"add", "--kb", "shop", FIX "en-faq.txt", NULL}, &out, &err), 0);
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"bind", "shop", GROUP, NULL}, &out, &err), 0);
    free(out);
    free(err);
    char *bound = db_text(w, "SELECT k.name FROM linebot_kb_bindings AS b JOIN linebot_kb AS k ON k.id = b.kb_id"
                             " WHERE b.chat_id = '" GROUP "'");
    assert_string_equal(bound, "shop");
    free(bound);
    /* Reserved names and bad ids are usage errors. */
    assert_int_equal(kb(w, (const char *[]){"bind", "chat:" GROUP, GROUP, NULL}, &out, &err), 2);
    assert_contains(err, "reserved");
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"bind", "shop", "not an id", NULL}, &out, &err), 2);
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"unbind", GROUP, NULL}, &out, &err), 0);
    free(out);
    free(err);
    bound = db_text(w, "SELECT count(*) FROM linebot_kb_bindings");
    assert_string_equal(bound, "0");
    free(bound);
    world_finish(w);
}

static void test_bad_path_and_usage(void **state)
{
    struct world *w = world_new(state, NULL);
    char *out = NULL, *err = NULL;
    char *bad_utf8 = e2e_printf("%s/sjis.txt", w->dir);
    assert_true(e2e_write_file(bad_utf8, "\x97\xbf\x8b\xe0\n")); /* 料金 in Shift_JIS */
    char *ja = real(FIX "ja-guide.md"), *en = real(FIX "en-faq.txt");

    assert_int_equal(kb(w, (const char *[]){"add", FIX "ja-guide.md", "/nonexistent/file.txt", bad_utf8,
                                            FIX "en-faq.txt", FIX, NULL},
                        &out, &err),
                     1);
    expect_line(out, "added", ja);
    expect_line(out, "added", en);
    assert_contains(err, "linebot kb: /nonexistent/file.txt: No such file or directory\n");
    assert_contains(err, "is not UTF-8 text");
    assert_contains(err, "is a folder");
    /* One line per problem. */
    size_t lines = 0;
    for (const char *p = err; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 3);
    free(out);
    free(err);
    /* The documents that worked stay added. */
    assert_int_equal(kb(w, (const char *[]){"list", NULL}, &out, &err), 0);
    char *l[8];
    size_t n = lines_of(out, l, 8);
    assert_int_equal(n, 2);
    free_lines(l, n);
    free(out);
    free(err);

    /* Usage errors: exit 2 with the usage; --help on every command. */
    const char *const *bad[] = {
        (const char *[]){NULL},
        (const char *[]){"frobnicate", NULL},
        (const char *[]){"add", NULL},
        (const char *[]){"search", NULL},
        (const char *[]){"search", "-k", "0", "x", NULL},
        (const char *[]){"list", "extra", NULL},
        (const char *[]){"add", "--kb", "chat:U1", FIX "en-faq.txt", NULL},
        (const char *[]){"add", "--bogus", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(kb(w, bad[i], &out, &err), 2);
        assert_contains(err, "Usage: linebot kb");
        assert_string_equal(out, "");
        free(out);
        free(err);
    }
    const char *cmds[] = {"add", "sync", "list", "remove", "search", "bind", "unbind"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        assert_int_equal(kb(w, (const char *[]){cmds[i], "--help", NULL}, &out, &err), 0);
        char *want = e2e_printf("Usage: linebot kb %s", cmds[i]);
        assert_contains(out, want);
        free(want);
        free(out);
        free(err);
    }
    assert_int_equal(kb(w, (const char *[]){"--help", NULL}, &out, &err), 0);
    assert_contains(out, "search [--kb NAME] [-k N] QUERY");
    free(out);
    free(err);

    /* Reading commands never create a database. */
    char *missing = e2e_printf("LINEBOT_DB=%s/missing.db", w->dir);
    assert_int_equal(bot_run(w, (const char *[]){"kb", "list", NULL}, (const char *[]){missing, NULL}, &out, &err), 1);
    assert_contains(err, "no database at");
    free(out);
    free(err);
    free(missing);
    free(bad_utf8);
    free(ja);
    free(en);
    world_finish(w);
}

/* Answering through the webhook: the question's passage goes to the model as
 * a numbered source, the reply ends with the sources; a question the
 * documents do not answer goes to the model without them; a bound chat uses
 * its own knowledge base; strict mode answers "I don't know" without the
 * model. */
static void test_answer_from_documents(void **state)
{
    struct world *w = world_new(state, (const char *[]){"LINEBOT_LANG=ja", NULL});
    char *out = NULL, *err = NULL;
    assert_int_equal(kb(w, (const char *[]){"add", FIX "ja-guide.md", FIX "zh-info.html", NULL}, &out, &err), 0);
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"add", "--kb", "shop", FIX "en-faq.txt", NULL}, &out, &err), 0);
    free(out);
    free(err);
    bot_start(w, NULL);

    fake_llm_set_fixed_answer(w->llm, "大人は1200円です [1]。");
    send_text(w, E2E_USER, "料金はいくらですか");
    assert_answers(w, E2E_USER, 1);
    char *tr = fake_llm_request_transcript(w->llm, 0);
    assert_contains(tr, "[1] 営業案内 > 料金\n大人の料金は1200円、子どもは600円です。");
    assert_contains(tr, "Cite the sources");
    assert_not_contains(tr, "成人票"); /* the Chinese page does not answer it */
    free(tr);
    char *texts = world_texts(w, E2E_USER);
    assert_contains(texts, "大人は1200円です [1]。\n\n出典\n[1] 営業案内");
    free(texts);

    /* Nothing in the documents: the model answers as it would without them. */
    fake_llm_set_fixed_answer(w->llm, "こんにちは！");
    send_text(w, E2E_USER, "こんにちは");
    assert_answers(w, E2E_USER, 2);
    tr = fake_llm_request_transcript(w->llm, 1);
    assert_not_contains(tr, "Cite the sources");
    free(tr);
    texts = world_texts(w, E2E_USER);
    assert_contains(texts, "こんにちは！");
    assert_not_contains(strstr(texts, "こんにちは！"), "出典");
    free(texts);

    /* A group bound to `shop` answers from it (a document added while the bot runs). */
    assert_int_equal(kb(w, (const char *[]){"bind", "shop", GROUP, NULL}, &out, &err), 0);
    free(out);
    free(err);
    fake_llm_set_fixed_answer(w->llm, "Yes, parking is free.");
    char *mention = e2e_printf("@bot is there parking?");
    json_t *ev = ev_message(w, &(struct ev){.group = GROUP, .text = mention,
                                            .mentions = {mention_of(mention, "@bot", true)}, .n_mentions = 1});
    send_event(w, ev);
    assert_answers(w, GROUP, 1);
    tr = fake_llm_request_transcript(w->llm, 2);
    assert_contains(tr, "[1] Frequently asked questions\n");
    assert_contains(tr, "Parking is free for guests");
    free(tr);
    texts = world_texts(w, GROUP);
    /* Nothing cited: the sources given are listed. */
    assert_contains(texts, "Yes, parking is free.\n\n出典\n[1] Frequently asked questions");
    free(texts);
    free(mention);
    assert_true(bot_metric(w, "linebot_kb_retrieval_seconds_count") >= 3);
    char *log = bot_log(w);
    assert_contains(log, "knowledge base default: ");
    assert_contains(log, "knowledge base shop: 1 passage(s) found, 1 given to the model, in ");
    free(log);

    /* A question in Chinese finds the Chinese page (its text, not its script). */
    fake_llm_set_fixed_answer(w->llm, "成人票三百元 [1]。");
    send_text(w, USER_ZH, "成人票多少錢？");
    assert_answers(w, USER_ZH, 1);
    tr = fake_llm_request_transcript(w->llm, 3);
    assert_contains(tr, "三百元");
    assert_not_contains(tr, "1200円");
    assert_not_contains(tr, "不要索引");
    free(tr);
    texts = world_texts(w, USER_ZH);
    assert_contains(texts, "成人票三百元 [1]。\n\n出典\n[1] ");
    free(texts);

    /* Strict: no passage, no model call, the built-in "I don't know". */
    bot_restart(w, (const char *[]){"LINEBOT_KB_STRICT=1", NULL});
    size_t asked = fake_llm_request_count(w->llm);
    send_text(w, E2E_USER, "明日の天気");
    assert_answers(w, E2E_USER, 3);
    texts = world_texts(w, E2E_USER);
    assert_contains(texts, "手元の資料には、その答えが見つかりませんでした。");
    free(texts);
    assert_int_equal(fake_llm_request_count(w->llm), asked);
    world_finish(w);
}

/* On a terminal, `kb add` shows its progress on one line that rewrites
 * itself (carriage return, erase line), batch by batch; the result line is
 * still printed whole. */
static void test_progress_on_a_terminal(void **state)
{
    struct world *w = world_new(state, NULL);
    char *path = e2e_printf("%s/big.txt", w->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 2000; i++) /* 2000 paragraphs of ~65 characters: more than 128 chunks, three batches */
        fprintf(f, "Paragraph %d of the big document, about opening hours and prices.\n\n", i);
    assert_int_equal(fclose(f), 0);
    char *db = e2e_printf("LINEBOT_DB=%s", w->db_path);
    char *const env[] = {db, "PATH=/usr/bin:/bin", NULL};
    const char *bin = getenv("E2E_LINEBOT_BIN") ? getenv("E2E_LINEBOT_BIN") : LINEBOT_BIN;
    int fd = -1;
    struct winsize ws = {.ws_row = 40, .ws_col = 200};
    pid_t pid = forkpty(&fd, NULL, NULL, &ws);
    if (pid < 0) { /* no pseudo-terminal here (a build root without /dev/pts) */
        free(db);
        world_finish(w);
        skip();
    }
    if (pid == 0) {
        execle(bin, "linebot", "kb", "add", path, (char *)NULL, env);
        _exit(127);
    }
    struct e2e_buf seen = {0};
    int64_t until = e2e_mono_ms() + e2e_ms(30000);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 200) < 0 && errno != EINTR)
            break;
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0)
            e2e_buf_add(&seen, buf, (size_t)n);
        else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            break; /* EIO: the program ended and closed the terminal */
        if (e2e_mono_ms() > until) {
            kill(pid, SIGKILL);
            break;
        }
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(fd);
    char *out = e2e_buf_take(&seen);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_contains(out, "\r\033[Kkb: files 0/1, chunks 64");
    assert_contains(out, "\r\033[Kkb: files 0/1, chunks 128");
    assert_contains(out, "\r\033[Kkb: files 1/1, chunks ");
    assert_contains(out, "\tadded\t");
    assert_contains(out, "big.txt");
    free(out);
    free(db);
    free(path);
    world_finish(w);
}

/* A 5 MB document added while the bot serves on SQLite: every webhook in the
 * meantime is still acknowledged within 1 s (the add holds the write lock a
 * batch at a time), and the document is searchable afterwards. */
static void test_large_add_while_serving(void **state)
{
    struct world *w = world_start(state, NULL);
    char *path = e2e_printf("%s/large.md", w->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    size_t written = 0;
    for (int i = 0; written < 5 * 1024 * 1024; i++) {
        if (i % 50 == 0)
            written += (size_t)fprintf(f, "## 第%d章 Section %d\n\n", i / 50, i / 50);
        written += (size_t)fprintf(f, "第%d段落：営業時間と料金についての長い説明です。Paragraph %d explains the opening"
                                      " hours and the prices of the shop in some detail, again and again.\n\n",
                                   i, i);
    }
    assert_int_equal(fclose(f), 0);
    char *db = e2e_printf("LINEBOT_DB=%s", w->db_path);
    char *const env[] = {db, "PATH=/usr/bin:/bin", NULL};
    const char *bin = getenv("E2E_LINEBOT_BIN") ? getenv("E2E_LINEBOT_BIN") : LINEBOT_BIN;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        execle(bin, "linebot", "kb", "add", path, (char *)NULL, env);
        _exit(127);
    }
    int status = 0, posted = 0;
    int64_t slowest = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        char *body = webhook_body(ev_message(w, &(struct ev){.text = "hello"}), NULL);
        int64_t ms = 0;
        assert_int_equal(bot_post_webhook_timed(w, body, &ms), 200);
        free(body);
        posted++;
        if (ms > slowest)
            slowest = ms;
        e2e_sleep_ms(20);
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    fprintf(stderr, "%d webhook(s) during the add, the slowest acknowledged in %lld ms\n", posted,
            (long long)slowest);
    assert_true(posted >= 3);
    assert_true(slowest < e2e_ms(1000));
    char *out = NULL, *err = NULL;
    assert_int_equal(kb(w, (const char *[]){"search", "-k", "1", "第4321段落", NULL}, &out, &err), 0);
    assert_contains(out, "第4321段落");
    free(out);
    free(err);
    free(db);
    free(path);
    world_finish(w);
}

/* ---- PDFs and URLs ---- */

static void write_bytes(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static const char *const guide_pages[] = {
    "Aquarium visitor guide\nThe otters are fed at three in the afternoon.",
    "Tickets\nA day ticket costs nine euros.",
};

/* A PDF is added through pdftotext (its first line the title), asked about
 * through the webhook; a damaged one and a missing pdftotext are one line. */
static void test_pdf(void **state)
{
    if (!media_have_pdftotext())
        skip();
    struct world *w = world_new(state, NULL);
    size_t len = 0;
    char *pdf = media_pdf(guide_pages, 2, &len);
    char *path = e2e_printf("%s/guide.pdf", w->dir), *broken = e2e_printf("%s/broken.pdf", w->dir);
    write_bytes(path, pdf, len);
    write_bytes(broken, pdf, len / 3); /* cut short: no objects, no xref */
    char *rpath = real(path), *en = real(FIX "en-faq.txt");
    char *out = NULL, *err = NULL;

    assert_int_equal(kb(w, (const char *[]){"add", path, broken, FIX "en-faq.txt", FIX "ja-guide.md", NULL}, &out, &err),
                     1);
    long id = expect_line(out, "added", rpath);
    expect_line(out, "added", en);
    char *want = e2e_printf("linebot kb: %s: cannot be read as a PDF (it is damaged, or locked with a password)\n",
                            broken);
    assert_string_equal(err, want);
    free(want);
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"list", NULL}, &out, &err), 0);
    char *line = e2e_printf("%ld\t%s\tAquarium visitor guide\t", id, rpath);
    assert_contains(out, line);
    free(line);
    free(out);
    free(err);
    /* The second page's words are found too. */
    expect_top(w, (const char *[]){"search", "ticket", "euros", NULL}, id, "Aquarium visitor guide", "-",
               "Aquarium visitor guide");

    /* No pdftotext: the package to install. */
    assert_int_equal(
        bot_run(w, (const char *[]){"kb", "add", broken, NULL}, (const char *[]){"PATH=/nonexistent", NULL}, &out, &err),
        1);
    assert_contains(err, "broken.pdf: is a PDF, which needs pdftotext (Debian: apt-get install poppler-utils)\n");
    free(out);
    free(err);

    bot_start(w, NULL);
    fake_llm_set_fixed_answer(w->llm, "At three in the afternoon [1].");
    send_text(w, E2E_USER, "When are the otters fed?");
    assert_answers(w, E2E_USER, 1);
    char *tr = fake_llm_request_transcript(w->llm, 0);
    assert_contains(tr, "The otters are fed at three in the afternoon.");
    free(tr);
    char *texts = world_texts(w, E2E_USER);
    assert_contains(texts, "At three in the afternoon [1].\n\n");
    assert_contains(texts, "\n[1] Aquarium visitor guide");
    free(texts);
    free(pdf);
    free(path);
    free(broken);
    free(rpath);
    free(en);
    world_finish(w);
}

/* The loopback site the URLs come from. */
struct site {
    struct fake_http *http;
    atomic_int version; /* the news page's: 1, then 2 */
    char *pdf;
    size_t pdf_len;
};

static void site_handler(void *ctx, const struct fake_http_request *req, struct fake_http_response *resp)
{
    struct site *s = ctx;
    if (strcmp(req->path, "/news.html") == 0) {
        resp->content_type = "text/html; charset=utf-8";
        fake_http_respond(resp, 200,
                          atomic_load(&s->version) == 1
                              ? "<!doctype html><html><head><title>Aquarium news</title></head><body><nav>Home</nav>"
                                "<h1>Penguins</h1><p>The penguin parade starts at noon every Sunday.</p></body></html>"
                              : "<!doctype html><html><head><title>Aquarium news</title></head><body>"
                                "<h1>Penguins</h1><p>The penguin parade starts at one every Sunday.</p></body></html>");
    } else if (strcmp(req->path, "/old") == 0) {
        fake_http_response_header(resp, "Location", "/news.html");
        fake_http_respond(resp, 301, "moved");
    } else if (strcmp(req->path, "/download") == 0 && s->pdf) {
        fake_http_respond_bytes(resp, 200, s->pdf, s->pdf_len, "application/octet-stream");
    } else if (strcmp(req->path, "/photo") == 0) {
        fake_http_respond_bytes(resp, 200, "\x89PNG\r\n\x1a\n", 8, "image/png");
    } else {
        resp->content_type = "text/html";
        fake_http_respond(resp, 404, "<h1>Not found</h1>");
    }
}

static void site_stop(void *arg)
{
    struct site *s = arg;
    fake_http_stop(s->http);
    free(s->pdf);
    free(s);
}

/* URLs: a page is added by its URL (added, unchanged, replaced), listed,
 * searched, answered from, removed; a redirect is followed; a PDF is known
 * by its bytes; a 404, an unreachable server and an image are one line
 * each, and the others stay added. */
static void test_urls(void **state)
{
    struct world *w = world_new(state, NULL);
    struct site *s = calloc(1, sizeof *s);
    assert_non_null(s);
    atomic_store(&s->version, 1);
    bool pdf = media_have_pdftotext();
    if (pdf)
        s->pdf = media_pdf(guide_pages, 2, &s->pdf_len);
    s->http = fake_http_start(site_handler, s, 4096);
    assert_non_null(s->http);
    world_add_fake(w, NULL, site_stop, s);
    int port = fake_http_port(s->http);
    char *news = e2e_printf("http://127.0.0.1:%d/news.html", port), *old = e2e_printf("http://127.0.0.1:%d/old", port),
         *missing = e2e_printf("http://127.0.0.1:%d/missing.html", port),
         *photo = e2e_printf("http://127.0.0.1:%d/photo", port),
         *download = e2e_printf("http://127.0.0.1:%d/download", port),
         *gone = e2e_printf("http://127.0.0.1:%d/", e2e_free_port());
    char *out = NULL, *err = NULL;

    /* Other documents, so that BM25 finds the page's words rare. */
    assert_int_equal(kb(w, (const char *[]){"add", FIX "ja-guide.md", FIX "zh-info.html", FIX "en-faq.txt", NULL}, &out,
                        &err),
                     0);
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"add", news, missing, gone, old, photo, pdf ? download : NULL, NULL},
                        &out, &err),
                     1);
    long id = expect_line(out, "added", news);
    expect_line(out, "added", old);
    long pdf_id = pdf ? expect_line(out, "added", download) : -1;
    char *want = e2e_printf("linebot kb: %s: cannot be fetched: the server answered 404\n", missing);
    assert_contains(err, want);
    free(want);
    want = e2e_printf("linebot kb: %s: cannot be fetched: ", gone);
    assert_contains(err, want);
    free(want);
    want = e2e_printf("linebot kb: %s: is image/png, not a page or document that can be added", photo);
    assert_contains(err, want);
    free(want);
    size_t lines = 0;
    for (const char *p = err; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 3);
    free(out);
    free(err);

    expect_top(w, (const char *[]){"search", "penguin", "parade", NULL}, id, "Aquarium news", "Penguins",
               "The penguin parade starts at noon");
    if (pdf)
        expect_top(w, (const char *[]){"search", "otters", NULL}, pdf_id, "Aquarium visitor guide", "-",
                   "Aquarium visitor guide");
    assert_int_equal(kb(w, (const char *[]){"list", NULL}, &out, &err), 0);
    char *line = e2e_printf("%ld\t%s\tAquarium news\t", id, news);
    assert_contains(out, line);
    free(line);
    free(out);
    free(err);

    /* Fetched again: unchanged, then replaced when the page changed. */
    assert_int_equal(kb(w, (const char *[]){"add", news, NULL}, &out, &err), 0);
    assert_int_equal(expect_line(out, "unchanged", news), id);
    free(out);
    free(err);
    atomic_store(&s->version, 2);
    assert_int_equal(kb(w, (const char *[]){"add", news, NULL}, &out, &err), 0);
    assert_int_equal(expect_line(out, "replaced", news), id);
    free(out);
    free(err);
    assert_int_equal(kb(w, (const char *[]){"remove", old, NULL}, &out, &err), 0);
    expect_line(out, "removed", old);
    free(out);
    free(err);

    bot_start(w, NULL);
    fake_llm_set_fixed_answer(w->llm, "At one, every Sunday [1].");
    send_text(w, E2E_USER, "When does the penguin parade start?");
    assert_answers(w, E2E_USER, 1);
    char *tr = fake_llm_request_transcript(w->llm, 0);
    assert_contains(tr, "The penguin parade starts at one every Sunday.");
    assert_not_contains(tr, "at noon");
    free(tr);
    char *texts = world_texts(w, E2E_USER);
    assert_contains(texts, "\n[1] Aquarium news");
    free(texts);
    free(news);
    free(old);
    free(missing);
    free(photo);
    free(download);
    free(gone);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_add_and_search),
        E2E_TEST(test_sync),
        E2E_TEST(test_bind_unbind),
        E2E_TEST(test_bad_path_and_usage),
        E2E_TEST(test_answer_from_documents),
        E2E_TEST(test_progress_on_a_terminal),
        E2E_TEST(test_large_add_while_serving),
        E2E_TEST(test_pdf),
        E2E_TEST(test_urls),
    };
    return E2E_RUN(tests);
}
