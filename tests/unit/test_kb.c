/* test_kb.c - the knowledge base's pure parts: search terms (NFKC, case
 * folding, CJK bigrams, words), documents read into headings and
 * paragraphs (text, Markdown, HTML), titles, and chunking (structure
 * first, sentence ends in every script, size and overlap). The expected
 * terms and chunks are written out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kb_answer.h"
#include "core/kb_chunk.h"
#include "core/kb_html.h"
#include "core/kb_terms.h"
#include "io/kb_prepare.h"

/* The terms of `text`, joined by spaces, compared with `want`. */
static void expect_terms(const char *text, const char *want)
{
    struct kb_terms t;
    kb_terms_of(text, strlen(text), &t);
    char *got = kb_terms_join(&t);
    if (strcmp(got, want) != 0)
        fail_msg("terms of \"%s\":\n  got  \"%s\"\n  want \"%s\"", text, got, want);
    free(got);
    kb_terms_free(&t);
}

static void test_terms_cjk_bigrams(void **state)
{
    (void)state;
    expect_terms("営業時間", "営業 業時 時間");
    expect_terms("料金", "料金");
    expect_terms("猫", "猫");                    /* a CJK character alone is a term */
    expect_terms("價格表", "價格 格表");          /* Traditional Chinese */
    expect_terms("料金、時間。", "料金 時間");    /* CJK punctuation separates */
    expect_terms("東京・大阪", "東京 大阪");      /* so does the middle dot */
    expect_terms("한국어", "한국 국어");           /* Hangul */
    expect_terms("", "");
    expect_terms("。、！", "");
}

/* A question's terms (kb_terms_of_question), joined, compared with `want`. */
static void expect_question(const char *text, size_t max, const char *want)
{
    struct kb_terms t;
    kb_terms_of_question(text, strlen(text), max, &t);
    char *got = kb_terms_join(&t);
    if (strcmp(got, want) != 0)
        fail_msg("question terms of \"%s\":\n  got  \"%s\"\n  want \"%s\"", text, got, want);
    free(got);
    kb_terms_free(&t);
}

/* A search reads the rarest terms within the budget, in their first order. */
static void test_terms_within(void **state)
{
    (void)state;
    const char *t[] = {"の", "営業", "時間", "料金", "は"};
    long long c[] = {9000, 300, 2500, 40, 9000};
    /* rarest first: 料金 40, 営業 300 (340), 時間 2500 (2840); の would make 11840 */
    assert_int_equal(kb_terms_within(t, c, 5, 4000), 3);
    assert_string_equal(t[0], "営業");
    assert_string_equal(t[1], "時間");
    assert_string_equal(t[2], "料金");
    assert_true(c[0] == 300 && c[1] == 2500 && c[2] == 40);

    /* The rarest one is kept however common; ties go by the term's bytes. */
    const char *u[] = {"b", "a"};
    long long d[] = {5000, 5000};
    assert_int_equal(kb_terms_within(u, d, 2, 4000), 1);
    assert_string_equal(u[0], "a");

    /* Unknown terms cost nothing; a negative count reads as 0; within budget all stay. */
    const char *v[] = {"x", "y", "z"};
    long long e[] = {-1, 0, 4000};
    assert_int_equal(kb_terms_within(v, e, 3, 4000), 3);
    assert_string_equal(v[0], "x");
    assert_true(e[0] == 0);
    assert_int_equal(kb_terms_within(v, e, 0, 4000), 0);
}

static void test_terms_of_question(void **state)
{
    (void)state;
    /* Pairs of hiragana only go when anything else is left; mixed pairs stay. */
    expect_question("犬と一緒に入れますか", 64, "犬と と一 一緒 緒に に入 入れ");
    expect_question("東京の天気", 64, "東京 京の の天 天気");
    expect_question("東京 の 天気", 64, "東京 天気");           /* the particle alone too */
    expect_question("Wi-Fiはありますか", 64, "wi fi");
    expect_question("らーめんはありますか", 64, "らー ーめ");   /* ー is not hiragana */
    expect_question("ｶﾌｪはどこですか", 64, "カフ フェ ェは"); /* NFKC first */
    /* Nothing else: hiragana is all the question has. */
    expect_question("おすすめは？", 64, "おす すす すめ めは");
    /* Repeats removed, then at most `max`, the first ones. */
    expect_question("price price of the price list", 64, "price of the list");
    expect_question("price price of the price list", 2, "price of");
    expect_question("料金料金", 64, "料金 金料");
    expect_question("", 64, "");
    expect_question("ですか", 0, "");
}

static void test_terms_nfkc_and_case(void **state)
{
    (void)state;
    expect_terms("ﾗｰﾒﾝ", "ラー ーメ メン");       /* half-width katakana folds */
    expect_terms("らーめん", "らー ーめ めん");   /* hiragana stays hiragana */
    expect_terms("ＡＢＣ１２３", "abc123");        /* full-width Latin and digits */
    expect_terms("Hello WORLD", "hello world");
    expect_terms("Straße", "strasse");             /* case folding, not only lower case */
    expect_terms("cafe\xcc\x81 caf\xc3\xa9", "caf\xc3\xa9 caf\xc3\xa9"); /* composed either way */
    expect_terms("ｶﾞｲﾄﾞ", "ガイ イド");           /* a half-width sound mark composes */
}

static void test_terms_latin_and_mixed(void **state)
{
    (void)state;
    expect_terms("The shop opens at 9:30, doesn't it?", "the shop opens at 9 30 doesn t it");
    expect_terms("iPhone 15の料金", "iphone 15 の料 料金");
    expect_terms("2024年の営業", "2024 年の の営 営業");
    expect_terms("Wi-Fiパスワード", "wi fi パス スワ ワー ード");
    expect_terms("猫 is cute", "猫 is cute");
    /* Invalid bytes separate; nothing else breaks. */
    expect_terms("ab\xff" "cd \xe6\x96", "ab cd");
    /* A word is cut to KB_TERM_MAX_CHARS characters. */
    char long_word[200];
    memset(long_word, 'x', 150);
    long_word[150] = '\0';
    struct kb_terms t;
    kb_terms_of(long_word, strlen(long_word), &t);
    assert_int_equal(t.n, 1);
    assert_int_equal(strlen(t.items[0]), KB_TERM_MAX_CHARS);
    kb_terms_free(&t);
}

static void test_terms_dedup(void **state)
{
    (void)state;
    struct kb_terms t;
    const char *q = "料金 料金 price Price 料金表";
    kb_terms_of(q, strlen(q), &t);
    assert_int_equal(t.n, 6);
    kb_terms_dedup(&t);
    char *joined = kb_terms_join(&t);
    assert_string_equal(joined, "料金 price 金表");
    free(joined);
    kb_terms_free(&t);
    /* Each term where it first came, not in sorted order. */
    q = "zeta alpha zeta beta alpha gamma beta zeta";
    kb_terms_of(q, strlen(q), &t);
    kb_terms_dedup(&t);
    joined = kb_terms_join(&t);
    assert_string_equal(joined, "zeta alpha beta gamma");
    free(joined);
    kb_terms_free(&t);
}

/* ---- documents and chunks ---- */

static void chunk_text(const char *text, bool markdown, size_t target, size_t overlap, struct kb_pieces *out)
{
    struct kb_doc doc;
    kb_doc_from_text(text, strlen(text), markdown, &doc);
    kb_chunk(&doc, target, overlap, out);
    kb_doc_free(&doc);
}

static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void test_markdown_headings_kept(void **state)
{
    (void)state;
    const char *md = "# Guide\n"
                     "\n"
                     "Welcome to the shop.\n"
                     "\n"
                     "## Prices\r\n"
                     "\r\n"
                     "大人は1000円です。子どもは500円です。\n"
                     "\n"
                     "### Discounts ###\n"
                     "Students pay half.\n"
                     "\n"
                     "## Hours\n"
                     "\n"
                     "```\n"
                     "# not a heading\n"
                     "```\n"
                     "\n"
                     "Open\n"
                     "===\n"
                     "\n"
                     "Every day.\n";
    struct kb_pieces p;
    chunk_text(md, true, 500, 80, &p);
    assert_int_equal(p.n, 5);
    assert_string_equal(p.items[0].heading, "Guide");
    assert_string_equal(p.items[0].text, "Welcome to the shop.");
    assert_string_equal(p.items[1].heading, "Guide > Prices");
    assert_string_equal(p.items[1].text, "大人は1000円です。子どもは500円です。");
    assert_string_equal(p.items[2].heading, "Guide > Prices > Discounts");
    assert_string_equal(p.items[2].text, "Students pay half.");
    assert_string_equal(p.items[3].heading, "Guide > Hours");
    assert_string_equal(p.items[3].text, "```\n# not a heading\n```");
    /* A setext heading starts a section of its own (level 1: the path restarts). */
    assert_string_equal(p.items[4].heading, "Open");
    assert_string_equal(p.items[4].text, "Every day.");
    for (size_t i = 0; i < p.n; i++)
        assert_int_equal(p.items[i].position, (int)i);
    kb_pieces_free(&p);
}

/* A long Japanese paragraph is cut at 。 and never inside a sentence; the
 * next chunk starts with the last sentence of the one before. */
static void test_cjk_sentence_ends(void **state)
{
    (void)state;
    char text[8192] = "";
    char sentence[128];
    for (int i = 0; i < 40; i++) {
        /* 20 characters each: "第01文は料金と時間の説明です。" and so on */
        snprintf(sentence, sizeof sentence, "第%02d文は料金と時間の説明をします。", i);
        strcat(text, sentence);
    }
    struct kb_pieces p;
    chunk_text(text, false, 100, 30, &p);
    assert_true(p.n >= 8);
    for (size_t i = 0; i < p.n; i++) {
        const char *t = p.items[i].text;
        size_t len = strlen(t);
        assert_true(chars(t) <= 100);
        /* Ends at a sentence end, starts at a sentence start. */
        assert_true(len >= 3 && strcmp(t + len - 3, "。") == 0);
        assert_true(strncmp(t, "第", 3) == 0);
        if (i > 0) {
            /* The overlap: the previous chunk's last sentence starts this one. */
            const char *prev = p.items[i - 1].text;
            const char *last = prev + strlen(prev);
            last -= 3; /* over the last 。 */
            while (last > prev && strncmp(last - 3, "。", 3) != 0)
                last--;
            assert_true(strncmp(t, last, strlen(last)) == 0);
        }
    }
    /* Every sentence is in some chunk, whole. */
    for (int i = 0; i < 40; i++) {
        snprintf(sentence, sizeof sentence, "第%02d文は料金と時間の説明をします。", i);
        bool found = false;
        for (size_t c = 0; c < p.n && !found; c++)
            found = strstr(p.items[c].text, sentence) != NULL;
        assert_true(found);
    }
    kb_pieces_free(&p);
}

static void test_sentence_ends_every_script(void **state)
{
    (void)state;
    struct kb_pieces p;
    /* Chinese ！ and ？, Latin . ! ?, and newlines: with 12 characters a chunk, the two
     * Chinese sentences share one, the others are cut at their ends. */
    chunk_text("價格是多少？一百元！\nIs it open? Yes. Pi is 3.14 exactly!", false, 12, 0, &p);
    const char *want[] = {"價格是多少？一百元！", "Is it open?", "Yes.", "Pi is 3.14", "exactly!"};
    assert_int_equal(p.n, 5);
    for (size_t i = 0; i < p.n; i++)
        assert_string_equal(p.items[i].text, want[i]);
    kb_pieces_free(&p);

    /* 3.14 is no sentence end: with room, it stays in one piece. */
    chunk_text("Pi is 3.14 exactly! Next one.", false, 20, 0, &p);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.items[0].text, "Pi is 3.14 exactly!");
    assert_string_equal(p.items[1].text, "Next one.");
    kb_pieces_free(&p);
}

/* A sentence longer than a chunk is cut, and its parts overlap. */
static void test_long_sentence_cut(void **state)
{
    (void)state;
    char text[4000] = "";
    for (int i = 0; i < 300; i++)
        strcat(text, i % 2 ? "料" : "金");
    struct kb_pieces p;
    chunk_text(text, false, 100, 20, &p);
    assert_true(p.n >= 3);
    size_t total = 0;
    for (size_t i = 0; i < p.n; i++) {
        assert_true(chars(p.items[i].text) <= 100);
        total += chars(p.items[i].text);
    }
    assert_true(total > 300); /* overlapping */
    kb_pieces_free(&p);
}

static void test_paragraphs_packed(void **state)
{
    (void)state;
    struct kb_pieces p;
    chunk_text("One.\n\nTwo.\n\n\nThree.", false, 500, 80, &p);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].text, "One.\nTwo.\nThree.");
    assert_string_equal(p.items[0].heading, "");
    kb_pieces_free(&p);
    chunk_text("", false, 500, 80, &p);
    assert_int_equal(p.n, 0);
    kb_pieces_free(&p);
}

static void test_titles(void **state)
{
    (void)state;
    struct kb_doc doc;
    char *t;

    kb_doc_from_text("Intro line\n\n# Real title\n", strlen("Intro line\n\n# Real title\n"), true, &doc);
    t = kb_doc_title(&doc, "file.md");
    assert_string_equal(t, "Real title");
    free(t);
    kb_doc_free(&doc);

    kb_doc_from_text("\n\n  営業案内  \n本文", strlen("\n\n  営業案内  \n本文"), false, &doc);
    t = kb_doc_title(&doc, "file.txt");
    assert_string_equal(t, "営業案内");
    free(t);
    kb_doc_free(&doc);

    kb_doc_from_text("\n\n", 2, false, &doc);
    t = kb_doc_title(&doc, "empty.txt");
    assert_string_equal(t, "empty.txt");
    free(t);
    kb_doc_free(&doc);
}

static void test_html(void **state)
{
    (void)state;
    const char *html = "<!DOCTYPE html><html><head><title> 料金表\n   2024 </title><style>p{color:red}</style>"
                       "<script>var secret = 1;</script></head><body><nav>Menu</nav>"
                       "<h1>料金</h1><p>大人 <b>1000</b>円\n   です。</p>"
                       "<ul><li>Student</li><li>Child<br>free</li></ul>"
                       "<h2>Hours &amp; days</h2><pre>Mon  9-17\nTue  9-17</pre>"
                       "<table><tr><td>Sat</td><td>closed</td></tr></table></body></html>";
    struct kb_doc doc;
    assert_int_equal(kb_doc_from_html(html, strlen(html), &doc), 0);
    char *title = kb_doc_title(&doc, "x.html");
    assert_string_equal(title, "料金表 2024"); /* white space collapsed, as a browser shows it */
    free(title);
    const struct {
        enum kb_block_kind kind;
        const char *text;
    } want[] = {
        {KB_BLOCK_HEADING, "料金"},        {KB_BLOCK_PARAGRAPH, "大人 1000円 です。"},
        {KB_BLOCK_PARAGRAPH, "Student"},   {KB_BLOCK_PARAGRAPH, "Child\nfree"},
        {KB_BLOCK_HEADING, "Hours & days"}, {KB_BLOCK_PARAGRAPH, "Mon  9-17\nTue  9-17"},
        {KB_BLOCK_PARAGRAPH, "Sat closed"},
    };
    assert_int_equal(doc.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < doc.n; i++) {
        assert_int_equal(doc.blocks[i].kind, want[i].kind);
        assert_string_equal(doc.blocks[i].text, want[i].text);
    }
    kb_doc_free(&doc);

    /* No title, a heading: the heading. Garbage: still a document. */
    const char *bare = "<h3>Only</h3>text";
    assert_int_equal(kb_doc_from_html(bare, strlen(bare), &doc), 0);
    title = kb_doc_title(&doc, "x.html");
    assert_string_equal(title, "Only");
    free(title);
    kb_doc_free(&doc);
    const char junk[] = "<<<>>\xff\xfe<p";
    assert_int_equal(kb_doc_from_html(junk, sizeof junk - 1, &doc) == 0 || doc.n == 0, 1);
    kb_doc_free(&doc);
}

/* ---- answering: sources in the prompt, the list at the end ---- */

static const struct kb_source sources[] = {
    {"営業案内", "営業案内 > 料金", "大人の料金は1200円です。"},
    {"FAQ", "", "Parking is free."},
    {"服務說明", "價格", "成人票價格為三百元。"},
    {"Extra", "", "More text."},
};

static void test_answer_cited(void **state)
{
    (void)state;
    bool cited[4];
    assert_int_equal(kb_answer_cited("It costs 1200 yen [1]. Parking is free [2][1].", 4, cited), 2);
    assert_true(cited[0] && cited[1] && !cited[2] && !cited[3]);
    assert_int_equal(kb_answer_cited("See [1, 3] and ［４］.", 4, cited), 3);
    assert_true(cited[0] && !cited[1] && cited[2] && cited[3]);
    assert_int_equal(kb_answer_cited("[9] [0] [x] [ ] [2", 4, cited), 0);
    assert_int_equal(kb_answer_cited("", 4, cited), 0);
    assert_int_equal(kb_answer_cited(NULL, 4, cited), 0);
    assert_int_equal(kb_answer_cited("[99999999999999999999]", 4, cited), 0);
}

static void test_answer_footer(void **state)
{
    (void)state;
    char *f = kb_answer_footer("Sources", sources, 4, "1200 yen [1]; free parking [2].");
    assert_string_equal(f, "\n\nSources\n[1] 営業案内\n[2] FAQ");
    free(f);
    /* Nothing cited: the first three given. */
    f = kb_answer_footer("出典", sources, 4, "I think so.");
    assert_string_equal(f, "\n\n出典\n[1] 営業案内\n[2] FAQ\n[3] 服務說明");
    free(f);
    f = kb_answer_footer("資料來源", sources, 4, "[3]");
    assert_string_equal(f, "\n\n資料來源\n[3] 服務說明");
    free(f);
    /* No sources, no list. */
    f = kb_answer_footer("Sources", sources, 0, "[1]");
    assert_string_equal(f, "");
    free(f);
}

static void test_answer_context(void **state)
{
    (void)state;
    /* All four fit; 20 characters keep the first only (14 + 16 > 20), 30 the first two. */
    assert_int_equal(kb_answer_pick(sources, 4, 4000), 4);
    assert_int_equal(kb_answer_pick(sources, 4, 20), 1);
    assert_int_equal(kb_answer_pick(sources, 4, 30), 2);
    assert_int_equal(kb_answer_pick(sources, 0, 30), 0);
    char *c = kb_answer_context(sources, 4, 30);
    assert_non_null(strstr(c, "Cite the sources you use as [1]"));
    assert_non_null(strstr(c, "\n[1] 営業案内 > 料金\n大人の料金は1200円です。\n"));
    assert_non_null(strstr(c, "\n[2] FAQ\nParking is free.\n"));
    assert_null(strstr(c, "[3]"));
    free(c);
    /* A first passage longer than the budget is cut to it. */
    c = kb_answer_context(sources, 1, 5);
    assert_non_null(strstr(c, "\n[1] 営業案内 > 料金\n大人の料金\n"));
    free(c);
}

/* The kinds file names say (io/kb_prepare.c): the bot and kb add agree. */
static void test_doc_kind_of(void **state)
{
    (void)state;
    assert_int_equal(kb_doc_kind_of("notes.TXT"), KB_DOC_TEXT);
    assert_int_equal(kb_doc_kind_of("README.md"), KB_DOC_MARKDOWN);
    assert_int_equal(kb_doc_kind_of("a.markdown"), KB_DOC_MARKDOWN);
    assert_int_equal(kb_doc_kind_of("page.htm"), KB_DOC_HTML);
    assert_int_equal(kb_doc_kind_of("Guide.Pdf"), KB_DOC_PDF);
    assert_int_equal(kb_doc_kind_of("sheet.xlsx"), KB_DOC_UNSUPPORTED);
    assert_int_equal(kb_doc_kind_of("dir.txt/file"), KB_DOC_UNSUPPORTED);
    assert_int_equal(kb_doc_kind_of(""), KB_DOC_UNSUPPORTED);
    assert_int_equal(kb_doc_kind_of("pdf"), KB_DOC_UNSUPPORTED);
}

/* Text must be UTF-8 without NUL bytes; a byte order mark is skipped. */
static void test_prepare_text(void **state)
{
    (void)state;
    struct kb_prepared p;
    enum kb_prepare_fail fail;
    assert_non_null(kb_prepare("caf\xe9", 4, KB_DOC_TEXT, "x.txt", &p, &fail));
    assert_int_equal(fail, KB_PREPARE_UNREADABLE);
    assert_non_null(kb_prepare("a\0b", 3, KB_DOC_MARKDOWN, "x.md", &p, &fail));
    assert_int_equal(fail, KB_PREPARE_UNREADABLE);
    assert_non_null(kb_prepare("%PDF-", 5, KB_DOC_UNSUPPORTED, "x", &p, &fail));
    const char doc[] = "\xef\xbb\xbf# Title\n\nThe lemon tree is watered on Tuesdays.\n";
    assert_null(kb_prepare(doc, sizeof doc - 1, KB_DOC_MARKDOWN, "x.md", &p, &fail));
    assert_int_equal(fail, KB_PREPARE_OK);
    assert_string_equal(p.title, "Title");
    assert_int_equal(p.pieces.n, 1);
    assert_non_null(strstr(p.rows[0].terms, "lemon"));
    kb_prepared_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terms_cjk_bigrams),
        cmocka_unit_test(test_terms_of_question),
        cmocka_unit_test(test_terms_within),
        cmocka_unit_test(test_terms_nfkc_and_case),
        cmocka_unit_test(test_terms_latin_and_mixed),
        cmocka_unit_test(test_terms_dedup),
        cmocka_unit_test(test_markdown_headings_kept),
        cmocka_unit_test(test_cjk_sentence_ends),
        cmocka_unit_test(test_sentence_ends_every_script),
        cmocka_unit_test(test_long_sentence_cut),
        cmocka_unit_test(test_paragraphs_packed),
        cmocka_unit_test(test_titles),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_answer_cited),
        cmocka_unit_test(test_answer_footer),
        cmocka_unit_test(test_answer_context),
        cmocka_unit_test(test_doc_kind_of),
        cmocka_unit_test(test_prepare_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
