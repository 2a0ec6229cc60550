/* test_format.c - unit tests for core/format: UTF-16 counting, Markdown to
 * LINE text, and splitting into LINE-sized messages.
 *
 * Every split result goes through check_parts(), which holds the contract
 * LINE enforces: valid UTF-8, at most the limit in UTF-16 units, nothing
 * empty, no whitespace at the ends. check_lossless() then walks the input to
 * show that only whitespace between pieces was dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/format.h"

#define MARK "\n(truncated)"

/* ------------------------------------------------------------- helpers */

/* Strict UTF-8 check: no overlong forms, no surrogates, nothing past U+10FFFF. */
static int utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + n > len)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n;
    }
    return 1;
}

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void check_parts(const struct text_parts *p, size_t max_units, size_t max_parts)
{
    assert_true(p->n <= max_parts);
    for (size_t i = 0; i < p->n; i++) {
        const char *s = p->parts[i];
        size_t len = strlen(s);
        assert_true(len > 0);
        assert_true(utf8_valid(s, len));
        assert_true(utf16_len(s, len) <= max_units);
        /* Leading whitespace only as the base of a cluster (" \u0301"). */
        assert_true(!is_ws((unsigned char)s[0]) || (unsigned char)s[1] >= 0x80);
        assert_false(is_ws((unsigned char)s[len - 1]));
    }
}

/* The pieces appear in `text` in order, separated only by whitespace; the
 * text before the first and after the last is whitespace too. */
static void check_lossless(const char *text, const struct text_parts *p)
{
    size_t len = strlen(text);
    size_t pos = 0;
    for (size_t i = 0; i < p->n; i++) {
        while (pos < len && is_ws((unsigned char)text[pos]))
            pos++;
        size_t n = strlen(p->parts[i]);
        assert_true(pos + n <= len);
        assert_memory_equal(text + pos, p->parts[i], n);
        pos += n;
    }
    while (pos < len && is_ws((unsigned char)text[pos]))
        pos++;
    assert_int_equal(pos, len);
}

/* Offset of the end of piece `i` in `text` (pieces must be lossless). */
static size_t piece_end_offset(const char *text, const struct text_parts *p, size_t i)
{
    size_t pos = 0;
    for (size_t k = 0; k <= i; k++) {
        while (is_ws((unsigned char)text[pos]))
            pos++;
        pos += strlen(p->parts[k]);
    }
    return pos;
}

static char *repeat(const char *unit, size_t times)
{
    size_t n = strlen(unit);
    char *s = malloc(n * times + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * n, unit, n);
    s[n * times] = '\0';
    return s;
}

static char *concat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    assert_non_null(s);
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc);
    s[la + lb + lc] = '\0';
    return s;
}

static struct text_parts split(const char *text, size_t max_units, size_t max_parts)
{
    struct text_parts p;
    assert_int_equal(format_split(text, strlen(text), max_units, max_parts, MARK, &p), 0);
    check_parts(&p, max_units, max_parts);
    return p;
}

static void assert_md(const char *md, const char *want)
{
    char *got = format_markdown_to_text(md, strlen(md));
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* ------------------------------------------------------------ UTF-16 */

static void test_utf16_len_ascii(void **state)
{
    (void)state;
    assert_int_equal(utf16_len("", 0), 0);
    assert_int_equal(utf16_len("hello", 5), 5);
    assert_int_equal(utf16_len("hello", 3), 3);
}

static void test_utf16_len_cjk(void **state)
{
    (void)state;
    const char *s = "日本語のテキスト";
    assert_int_equal(utf16_len(s, strlen(s)), 8);
    assert_int_equal(utf16_len("é", strlen("é")), 1);
}

static void test_utf16_len_emoji(void **state)
{
    (void)state;
    assert_int_equal(utf16_len("😀", strlen("😀")), 2);
    assert_int_equal(utf16_len("a😀b", strlen("a😀b")), 4);
    /* four people (2 units each) and three ZWJs */
    const char *family = "👨‍👩‍👧‍👦";
    assert_int_equal(utf16_len(family, strlen(family)), 11);
    assert_int_equal(utf16_len("🇯🇵", strlen("🇯🇵")), 4);
}

static void test_utf16_len_invalid(void **state)
{
    (void)state;
    assert_int_equal(utf16_len("\xFF", 1), 1);
    assert_int_equal(utf16_len("a\xFE" "b", 3), 3);
    /* a truncated sequence: each byte on its own */
    assert_int_equal(utf16_len("a\xE3\x81", 3), 3);
    /* a lone continuation byte, an overlong '/', an encoded surrogate */
    assert_int_equal(utf16_len("\x80", 1), 1);
    assert_int_equal(utf16_len("\xC0\xAF", 2), 2);
    assert_int_equal(utf16_len("\xED\xA0\x80", 3), 3);
    /* an emoji cut short, then valid text */
    assert_int_equal(utf16_len("\xF0\x9F\x98" "ok", 5), 5);
}

static void test_utf16_to_byte_offset(void **state)
{
    (void)state;
    const char *s = "a😀b"; /* bytes: a=0, emoji=1..4, b=5 */
    size_t len = strlen(s);
    assert_int_equal(utf16_to_byte_offset(s, len, 0), 0);
    assert_int_equal(utf16_to_byte_offset(s, len, 1), 1);
    assert_int_equal(utf16_to_byte_offset(s, len, 2), 1); /* inside the pair */
    assert_int_equal(utf16_to_byte_offset(s, len, 3), 5);
    assert_int_equal(utf16_to_byte_offset(s, len, 4), 6);
    assert_int_equal(utf16_to_byte_offset(s, len, 1000), 6);

    const char *cjk = "日本語";
    assert_int_equal(utf16_to_byte_offset(cjk, strlen(cjk), 1), 3);
    assert_int_equal(utf16_to_byte_offset(cjk, strlen(cjk), 2), 6);
    assert_int_equal(utf16_to_byte_offset("", 0, 5), 0);
    /* invalid bytes are one unit and one byte */
    assert_int_equal(utf16_to_byte_offset("\xFF\xFFz", 3, 2), 2);
    /* a LINE mention: "@Bot hi" after an emoji */
    const char *m = "😀@Bot hi";
    assert_int_equal(utf16_to_byte_offset(m, strlen(m), 2), 4);
    assert_int_equal(utf16_to_byte_offset(m, strlen(m), 2 + 4), 8);
}

/* ------------------------------------------------------------- split */

static void test_split_short(void **state)
{
    (void)state;
    struct text_parts p = split("hello, world", 5000, 5);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.parts[0], "hello, world");
    text_parts_free(&p);

    p = split("  \n hello \n\n", 5000, 5);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.parts[0], "hello");
    text_parts_free(&p);
}

static void test_split_exact_boundary(void **state)
{
    (void)state;
    char *s = repeat("a", 5000);
    struct text_parts p = split(s, 5000, 5);
    assert_int_equal(p.n, 1);
    assert_int_equal(strlen(p.parts[0]), 5000);
    text_parts_free(&p);
    free(s);

    s = repeat("a", 5001);
    p = split(s, 5000, 5);
    assert_int_equal(p.n, 2);
    assert_int_equal(strlen(p.parts[0]), 5000);
    assert_string_equal(p.parts[1], "a");
    check_lossless(s, &p);
    text_parts_free(&p);
    free(s);

    /* 4999 + an emoji = 5001 units: the emoji moves to the next piece */
    char *a = repeat("a", 4999);
    s = concat3(a, "😀", "");
    p = split(s, 5000, 5);
    assert_int_equal(p.n, 2);
    assert_int_equal(strlen(p.parts[0]), 4999);
    assert_string_equal(p.parts[1], "😀");
    text_parts_free(&p);
    free(s);
    free(a);
}

/* 30,000 characters of prose in paragraphs of varying length. */
static char *make_prose(size_t target)
{
    static const char *const sentences[] = {
        "The quick brown fox jumps over the lazy dog. ",
        "LINE counts message length in UTF-16 code units! ",
        "Is this sentence long enough to matter? ",
        "Splitting text well means cutting where a reader pauses. ",
    };
    char *s = malloc(target + 2048);
    assert_non_null(s);
    size_t len = 0, k = 0;
    while (len < target) {
        size_t nsent = 3 + (k * 7) % 11;
        for (size_t i = 0; i < nsent; i++) {
            const char *t = sentences[(k + i) % 4];
            memcpy(s + len, t, strlen(t));
            len += strlen(t);
        }
        len--; /* no space before the paragraph break */
        memcpy(s + len, "\n\n", 2);
        len += 2;
        k++;
    }
    s[len] = '\0';
    return s;
}

static void test_split_paragraphs(void **state)
{
    (void)state;
    char *s = make_prose(30000);
    struct text_parts p = split(s, 5000, 20);
    assert_true(p.n >= 7);
    check_lossless(s, &p);
    for (size_t i = 0; i + 1 < p.n; i++) {
        size_t end = piece_end_offset(s, &p, i);
        assert_memory_equal(s + end, "\n\n", 2);
        assert_true(utf16_len(p.parts[i], strlen(p.parts[i])) > 5000 / 3);
        assert_null(strstr(p.parts[i], "(truncated)"));
    }
    text_parts_free(&p);
    free(s);
}

static void test_split_cjk_sentences(void **state)
{
    (void)state;
    /* 31,000 characters, no spaces or newlines at all */
    char *s = repeat("これは日本語の文章です。次の文は少し長めになっています！本当？", 1000);
    assert_int_equal(utf16_len(s, strlen(s)), 31000);
    struct text_parts p = split(s, 5000, 10);
    assert_true(p.n >= 6);
    check_lossless(s, &p);
    for (size_t i = 0; i < p.n; i++) {
        const char *t = p.parts[i];
        size_t n = strlen(t);
        const char *last = t + n - 3; /* every CJK full stop here is 3 bytes */
        assert_true(strcmp(last, "。") == 0 || strcmp(last, "！") == 0 ||
                    strcmp(last, "？") == 0);
    }
    text_parts_free(&p);
    free(s);
}

static void test_split_emoji_only(void **state)
{
    (void)state;
    char *s = repeat("😀", 3000);
    assert_int_equal(utf16_len(s, strlen(s)), 6000);
    struct text_parts p = split(s, 5000, 5);
    assert_int_equal(p.n, 2);
    assert_int_equal(utf16_len(p.parts[0], strlen(p.parts[0])), 5000);
    assert_int_equal(utf16_len(p.parts[1], strlen(p.parts[1])), 1000);
    check_lossless(s, &p);
    text_parts_free(&p);

    /* an odd limit cannot be filled with pairs: 4999 -> 4998 */
    p = split(s, 4999, 5);
    assert_int_equal(utf16_len(p.parts[0], strlen(p.parts[0])), 4998);
    check_lossless(s, &p);
    text_parts_free(&p);
    free(s);
}

/* `cluster` placed so that it straddles the 5000-unit limit stays whole. */
static void check_cluster_at_cut(const char *cluster)
{
    size_t units = utf16_len(cluster, strlen(cluster));
    assert_true(units >= 2);
    char *before = repeat("a", 5000 - units + 1);
    char *s = concat3(before, cluster, "bbbbbbbbbb");
    struct text_parts p = split(s, 5000, 5);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.parts[0], before);
    assert_int_equal(strncmp(p.parts[1], cluster, strlen(cluster)), 0);
    check_lossless(s, &p);
    text_parts_free(&p);
    free(s);
    free(before);
}

static void test_split_keeps_graphemes(void **state)
{
    (void)state;
    check_cluster_at_cut("👨‍👩‍👧‍👦");     /* ZWJ family */
    check_cluster_at_cut("🇯🇵");                    /* flag: two regional indicators */
    check_cluster_at_cut("👍🏽");                     /* skin tone modifier */
    check_cluster_at_cut("e\xCC\x81\xCC\x82");      /* e + two combining marks */
    check_cluster_at_cut("🏳️‍🌈");                 /* flag + VS16 + ZWJ */

    /* a space that carries a combining mark is part of a character: kept */
    struct text_parts q = split("aaaa \xCC\x81" "bbb", 5, 5);
    assert_int_equal(q.n, 2);
    assert_string_equal(q.parts[0], "aaaa");
    assert_string_equal(q.parts[1], " \xCC\x81" "bbb");
    text_parts_free(&q);

    /* many flags in a row pair up as flags, never as halves */
    char *flags = repeat("🇯🇵", 1500);
    struct text_parts p = split(flags, 5000, 5);
    for (size_t i = 0; i < p.n; i++)
        assert_int_equal(utf16_len(p.parts[i], strlen(p.parts[i])) % 4, 0);
    check_lossless(flags, &p);
    text_parts_free(&p);
    free(flags);
}

static void test_split_truncates(void **state)
{
    (void)state;
    char *s = repeat("word ", 8000); /* 40,000 units: needs 8 pieces */
    struct text_parts p = split(s, 5000, 5);
    assert_int_equal(p.n, 5);
    for (size_t i = 0; i < 4; i++)
        assert_null(strstr(p.parts[i], "truncated"));
    const char *last = p.parts[4];
    size_t n = strlen(last);
    assert_true(n > strlen(MARK));
    assert_string_equal(last + n - strlen(MARK), MARK);
    assert_true(utf16_len(last, n) <= 5000);
    assert_true(utf16_len(last, n) > 4900);
    text_parts_free(&p);
    free(s);

    /* exactly five full pieces: no mark */
    s = repeat("a", 25000);
    p = split(s, 5000, 5);
    assert_int_equal(p.n, 5);
    assert_null(strstr(p.parts[4], "truncated"));
    check_lossless(s, &p);
    text_parts_free(&p);
    free(s);

    /* one unit too many: the mark appears */
    s = repeat("a", 25001);
    p = split(s, 5000, 5);
    assert_int_equal(p.n, 5);
    assert_non_null(strstr(p.parts[4], MARK));
    text_parts_free(&p);
    free(s);
}

/* Found by fuzz_format: the mark shrinks the last piece's budget below a
 * grapheme that fits a piece of its own, and the code point last resort cut
 * the family emoji in two before the mark. The mark alone is shown instead. */
static void test_split_truncation_keeps_graphemes(void **state)
{
    (void)state;
    struct text_parts p;
    /* family = U+1F468 ZWJ U+1F469 ZWJ U+1F467: one grapheme, 8 UTF-16 units */
    const char *family = "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7 and more";
    assert_int_equal(format_split(family, strlen(family), 10, 1, "\n(t)", &p), 0);
    check_parts(&p, 10, 1);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.parts[0], "(t)");
    text_parts_free(&p);

    /* The fuzzer's input as it found it: two bytes choose 17 units and 6
     * parts, the rest is the text (invalid bytes and NULs included). */
    static const unsigned char crash[] = {
        0x10, 0x05, 0x46, 0x6c, 0x61, 0x67, 0x73, 0x20, 0x05, 0x46, 0x6c, 0x61, 0x67, 0x73, 0x20,
        0xf0, 0x9f, 0x87, 0xaf, 0xf0, 0x2e, 0x9f, 0x87, 0xb5, 0xf0, 0x9f, 0x87, 0xaf, 0xf0, 0x9f,
        0x87, 0x4b, 0xd7, 0x66, 0x61, 0x6d, 0x69, 0x6c, 0x79, 0x1f, 0x00, 0x20, 0xf0, 0x9f, 0x91,
        0xa8, 0xe2, 0x80, 0x8d, 0xf0, 0x9f, 0x91, 0xa9, 0xe2, 0x80, 0x8d, 0xf0, 0x9f, 0x91, 0xa7,
        0x20, 0x65, 0xcc, 0x81, 0xcc, 0x41, 0x00, 0x00, 0xf0, 0x9f, 0x87, 0xaf, 0xf0, 0x2e, 0x9f,
        0x87, 0xb5, 0xf0, 0x9f, 0x87, 0xaf, 0xf0, 0x9f, 0x87, 0x4b, 0xd7, 0x66, 0x61, 0x6d, 0x69,
        0x6c, 0x79, 0x1f, 0x00, 0x20, 0xf0, 0x9f, 0x91, 0xa8, 0xe2, 0x80, 0x8d, 0xf0, 0x9f, 0x91,
        0xa9, 0xe2, 0x80, 0x8d, 0xf0, 0x9f, 0x91, 0xa7, 0x20, 0x65, 0xcc, 0x81, 0xcc, 0x41, 0x00,
        0x00, 0x00, 0x64, 0x6f, 0x6e, 0x65, 0x2e};
    assert_int_equal(format_split((const char *)crash + 2, sizeof crash - 2, 17, 6, "\n(truncated)", &p), 0);
    check_parts(&p, 17, 6);
    assert_int_equal(p.n, 6);
    assert_string_equal(p.parts[5], "(truncated)");
    text_parts_free(&p);
}

/* Found by fuzz_format (once; it did not repeat on replay): md4c handed the
 * text callback a span that ended one byte past this 427-byte document, which
 * ends in a raw HTML tag cut short. md4c now parses a padded copy, and a span
 * is clamped to the document's end. The input is given in an exact-size
 * buffer, so that ASan (SANITIZE=1) sees any read past it. */
static void test_md_span_past_end(void **state)
{
    (void)state;
    static const unsigned char crash[] = {
        0x07, 0x3e, 0x0a, 0x0a, 0x31, 0x2e, 0x20, 0x66, 0x69, 0x72, 0x73, 0x74, 0x00, 0x00, 0x00,
        0x80, 0x73, 0x65, 0x63, 0x6f, 0x6e, 0x64, 0x0a, 0x0a, 0x60, 0x2a, 0x62, 0x6f, 0x6c, 0x24,
        0x2a, 0x2a, 0x20, 0x61, 0x6e, 0x64, 0x20, 0x2a, 0x69, 0x74, 0x61, 0x6c, 0x65, 0x0a, 0x0a,
        0x53, 0x6f, 0x6d, 0x65, 0x20, 0x2a, 0x69, 0x63, 0x2a, 0x20, 0x74, 0x65, 0x78, 0x74, 0x20,
        0x77, 0x69, 0x74, 0x68, 0x20, 0x61, 0x20, 0x5b, 0x6c, 0x69, 0x6e, 0x6b, 0x5d, 0x28, 0x68,
        0x74, 0x74, 0x70, 0x73, 0x3a, 0x2f, 0x2f, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e,
        0x63, 0x6f, 0x6d, 0x29, 0x2e, 0x0a, 0x0a, 0x2d, 0x20, 0x6f, 0x6e, 0x65, 0x0a, 0x2d, 0x20,
        0x74, 0x77, 0x6f, 0x0a, 0x0a, 0x31, 0x2e, 0x20, 0x66, 0x69, 0x72, 0x73, 0x74, 0x00, 0x00,
        0x00, 0x80, 0x73, 0x65, 0x63, 0x6f, 0x6e, 0x64, 0x0a, 0x0a, 0x60, 0x2a, 0x62, 0x6f, 0x6c,
        0x64, 0x2a, 0x2a, 0x20, 0x61, 0x6e, 0x64, 0x20, 0x2a, 0x69, 0x74, 0x61, 0x6c, 0x69, 0x63,
        0x2a, 0x20, 0x74, 0x65, 0x78, 0x74, 0x20, 0x77, 0x69, 0x74, 0x68, 0x20, 0x61, 0x20, 0x5b,
        0x6c, 0x69, 0x6e, 0x6b, 0x5d, 0x28, 0x68, 0x74, 0x74, 0x70, 0x73, 0x3a, 0x2f, 0x20, 0x2a,
        0x69, 0x63, 0x2a, 0x20, 0x74, 0x65, 0x78, 0x74, 0x20, 0x77, 0x69, 0x74, 0x68, 0x20, 0x61,
        0x20, 0x5b, 0x6c, 0x69, 0x6e, 0x6b, 0x5d, 0x28, 0x68, 0x23, 0x23, 0x74, 0x74, 0x70, 0x73,
        0x3a, 0x2f, 0x2f, 0x65, 0x88, 0x9e, 0x92, 0x8f, 0x93, 0x9a, 0xd1, 0x94, 0x6f, 0x6d, 0x29,
        0x2e, 0x0a, 0x0a, 0x2d, 0x20, 0x6f, 0x6e, 0x65, 0x0a, 0x2d, 0xe2, 0x00, 0x20, 0x74, 0x77,
        0x6f, 0x0a, 0x0a, 0x31, 0x2e, 0x20, 0x66, 0x69, 0x72, 0x73, 0x74, 0x00, 0x00, 0x00, 0x80,
        0x73, 0x65, 0x63, 0x6f, 0x6e, 0x64, 0x0a, 0x0a, 0x60, 0x2a, 0x62, 0x6f, 0x6c, 0x64, 0x2a,
        0x2a, 0x20, 0x61, 0x6e, 0x64, 0x20, 0x2a, 0x69, 0x74, 0x61, 0x6c, 0x65, 0x0a, 0x0a, 0x53,
        0x6f, 0x6d, 0x65, 0x20, 0x2a, 0x69, 0x63, 0x2a, 0x20, 0x74, 0x65, 0x78, 0x74, 0x20, 0x77,
        0x69, 0x74, 0x68, 0x20, 0x61, 0x20, 0x5b, 0x6c, 0x69, 0x6e, 0x6b, 0x5d, 0x28, 0x68, 0x74,
        0x74, 0x70, 0x73, 0x31, 0x3a, 0x2f, 0x2f, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e,
        0x63, 0x6f, 0x6d, 0x29, 0x2e, 0x0a, 0x0a, 0x2d, 0x20, 0x6f, 0x6e, 0x65, 0x0a, 0x2d, 0x20,
        0x74, 0x77, 0x6f, 0x0a, 0x0a, 0x31, 0x2e, 0x20, 0x66, 0x69, 0x72, 0x73, 0x74, 0x00, 0x00,
        0x00, 0x80, 0x73, 0x65, 0x63, 0x6f, 0x6e, 0x64, 0x0a, 0x0a, 0x60, 0x2a, 0x62, 0x6f, 0x6c,
        0x64, 0x2a, 0x2a, 0x20, 0x61, 0x6e, 0x64, 0x20, 0x2a, 0x69, 0x74, 0x61, 0x6c, 0x69, 0x63,
        0x2a, 0x20, 0x74, 0x65, 0x78, 0x74, 0x20, 0x77, 0x69, 0x74, 0x68, 0x20, 0x61, 0x20, 0x5b,
        0x6c, 0x69, 0x6e, 0x6b, 0x5d, 0x28, 0x68, 0x74, 0x74, 0x70, 0xfa, 0xff, 0xb6, 0xff, 0xff,
        0xff, 0xff, 0x3c, 0x74, 0x68, 0x2a, 0x2a};
    char *md = malloc(sizeof crash);
    assert_non_null(md);
    memcpy(md, crash, sizeof crash);
    char *text = format_markdown_to_text(md, sizeof crash);
    assert_non_null(text);
    size_t n = strlen(text);
    assert_true(n > 0 && n <= 4 * sizeof crash);
    /* the cut tag stays as text, and nothing after the document follows it */
    assert_true(n >= 5 && memcmp(text + n - 5, "<th**", 5) == 0);
    free(text);

    struct text_parts p;
    assert_int_equal(format_answer(md, sizeof crash, &p), 0);
    check_parts(&p, LINE_TEXT_MAX_UTF16, LINE_MAX_MESSAGES);
    text_parts_free(&p);
    free(md);
}

static void test_split_truncated_mark_edge_cases(void **state)
{
    (void)state;
    struct text_parts p;
    /* a mark that leaves no room for text: the mark alone */
    assert_int_equal(format_split("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 30, 10, 1, "\n(cut)", &p), 0);
    check_parts(&p, 10, 1);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.parts[0], "aaaa\n(cut)");
    text_parts_free(&p);

    assert_int_equal(format_split("aaaaaaaaaaaaaaaaaaaa", 20, 5, 1, "\n(truncated)", &p), 0);
    check_parts(&p, 5, 1);
    assert_int_equal(p.n, 0);
    text_parts_free(&p);

    /* no mark given */
    assert_int_equal(format_split("aaaa bbbb cccc", 14, 5, 1, NULL, &p), 0);
    check_parts(&p, 5, 1);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.parts[0], "aaaa");
    text_parts_free(&p);

    /* no parts allowed, or a zero limit: nothing */
    assert_int_equal(format_split("abc", 3, 5, 0, MARK, &p), 0);
    assert_int_equal(p.n, 0);
    text_parts_free(&p);
    assert_int_equal(format_split("abc", 3, 0, 5, MARK, &p), 0);
    assert_int_equal(p.n, 0);
    text_parts_free(&p);
}

static void test_split_whitespace_only(void **state)
{
    (void)state;
    struct text_parts p = split("", 5000, 5);
    assert_int_equal(p.n, 0);
    text_parts_free(&p);
    p = split(" \n\t\r\n  \n", 5000, 5);
    assert_int_equal(p.n, 0);
    text_parts_free(&p);
    p = split("\xE3\x80\x80 \xE3\x80\x80", 5000, 5); /* ideographic spaces */
    assert_int_equal(p.n, 0);
    text_parts_free(&p);
    assert_int_equal(format_split(NULL, 0, 5000, 5, MARK, &p), 0);
    assert_int_equal(p.n, 0);
    text_parts_free(&p);
}

static void test_split_giant_grapheme(void **state)
{
    (void)state;
    /* "e" and 10,000 combining acute accents: one grapheme, 10,001 units */
    char *marks = repeat("\xCC\x81", 10000);
    char *s = concat3("e", marks, "");
    struct text_parts p = split(s, 5000, 5);
    assert_int_equal(p.n, 3);
    check_lossless(s, &p);
    text_parts_free(&p);

    /* ... and when it does not fit in the parts allowed */
    p = split(s, 5000, 2);
    assert_int_equal(p.n, 2);
    assert_non_null(strstr(p.parts[1], MARK));
    text_parts_free(&p);
    free(s);
    free(marks);
}

static void test_split_preferences(void **state)
{
    (void)state;
    struct text_parts p;
    /* a line break beats a later word boundary */
    p = split("one two three\nfour five six seven", 25, 5);
    assert_string_equal(p.parts[0], "one two three");
    assert_string_equal(p.parts[1], "four five six seven");
    text_parts_free(&p);

    /* a sentence end beats a later word boundary */
    p = split("First one. Second sentence here now", 25, 5);
    assert_string_equal(p.parts[0], "First one.");
    text_parts_free(&p);

    /* a paragraph beats a later line break */
    p = split("aaaa bbbb cccc\n\ndddd\neeee ffff gggg hhhh", 30, 5);
    assert_string_equal(p.parts[0], "aaaa bbbb cccc");
    text_parts_free(&p);

    /* a paragraph break in the first third is too early: take the words */
    p = split("Hi\n\nthis is a much longer paragraph of words", 30, 5);
    assert_int_equal(strncmp(p.parts[0], "Hi\n\nthis is", 11), 0);
    assert_true(strlen(p.parts[0]) > 20);
    text_parts_free(&p);

    /* a CJK full stop needs no space; a closing bracket stays with it */
    p = split("これは文です。「次です。」さらに続く長い文章", 14, 5);
    assert_string_equal(p.parts[0], "これは文です。「次です。」");
    text_parts_free(&p);

    /* no boundaries at all: cut at a grapheme */
    p = split("abcdefghij", 4, 5);
    assert_int_equal(p.n, 3);
    assert_string_equal(p.parts[0], "abcd");
    assert_string_equal(p.parts[2], "ij");
    text_parts_free(&p);
}

static void test_split_invalid_utf8(void **state)
{
    (void)state;
    const char s[] = "ok \xFF\xFE bytes \xE3\x81 end";
    struct text_parts p = split(s, 5000, 5);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.parts[0], "ok \xEF\xBF\xBD\xEF\xBF\xBD bytes "
                                    "\xEF\xBF\xBD\xEF\xBF\xBD end");
    assert_int_equal(utf16_len(p.parts[0], strlen(p.parts[0])), utf16_len(s, strlen(s)));
    text_parts_free(&p);

    /* an embedded NUL does not cut the piece short */
    assert_int_equal(format_split("a\0b", 3, 10, 5, MARK, &p), 0);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.parts[0], "a\xEF\xBF\xBD" "b");
    text_parts_free(&p);
}

static void test_split_large_input_is_fast(void **state)
{
    (void)state;
    /* 2 MB in 400+ pieces: quadratic rescans would take minutes */
    char *s = make_prose(2000000);
    struct text_parts p = split(s, 5000, 100000);
    assert_true(p.n >= 400);
    check_lossless(s, &p);
    text_parts_free(&p);
    free(s);

    s = repeat("x", 2000000);
    p = split(s, 5000, 100000);
    assert_int_equal(p.n, 400);
    text_parts_free(&p);
    free(s);
}

/* ---------------------------------------------------------- Markdown */

static void test_md_headings(void **state)
{
    (void)state;
    assert_md("# Title\n\nBody text.", "Title\n\nBody text.");
    assert_md("## Sub\nright after", "Sub\n\nright after");
    assert_md("Intro\n\n### Deep ###\n\nMore", "Intro\n\nDeep\n\nMore");
    assert_md("Setext\n======\n\nx", "Setext\n\nx");
}

static void test_md_emphasis(void **state)
{
    (void)state;
    assert_md("**bold** and _italic_ and *em* and __strong__",
              "bold and italic and em and strong");
    assert_md("~~gone~~ ***both***", "gone both");
    assert_md("snake_case_name stays", "snake_case_name stays");
}

static void test_md_lists(void **state)
{
    (void)state;
    assert_md("- a\n- b\n  - c\n    - d\n- e",
              "\xE2\x80\xA2 a\n\xE2\x80\xA2 b\n  \xE2\x80\xA2 c\n    \xE2\x80\xA2 d\n"
              "\xE2\x80\xA2 e");
    assert_md("Intro:\n\n* one\n* two\n\nAfter.",
              "Intro:\n\n\xE2\x80\xA2 one\n\xE2\x80\xA2 two\n\nAfter.");
    assert_md("1. first\n   - sub\n2. second",
              "1. first\n  \xE2\x80\xA2 sub\n2. second");
    assert_md("- one\n  continued", "\xE2\x80\xA2 one\n  continued");
}

static void test_md_ordered_start(void **state)
{
    (void)state;
    assert_md("3. three\n4. four\n5. five", "3. three\n4. four\n5. five");
    assert_md("3. x\n1. y", "3. x\n4. y");
    assert_md("1) a\n2) b", "1. a\n2. b");
}

static void test_md_links(void **state)
{
    (void)state;
    assert_md("see [the docs](https://example.com/docs) now",
              "see the docs (https://example.com/docs) now");
    assert_md("[https://example.com](https://example.com)", "https://example.com");
    assert_md("<https://example.com/a>", "https://example.com/a");
    assert_md("go to https://example.com/x today", "go to https://example.com/x today");
    assert_md("or www.example.com", "or www.example.com");
    assert_md("mail me@example.com", "mail me@example.com");
    assert_md("[a &amp; b](https://e.com/?a=1&amp;b=2)", "a & b (https://e.com/?a=1&b=2)");
    assert_md("![a cat](cat.png)", "a cat");
    assert_md("[![logo](l.png)](https://home.example)", "logo (https://home.example)");
}

static void test_md_code(void **state)
{
    (void)state;
    assert_md("use `a*b*c` and `` `x` `` here", "use a*b*c and `x` here");
    const char *md =
        "Intro\n"
        "\n"
        "```c\n"
        "int main(void) {\n"
        "    if (x)\n"
        "\n"
        "        return **0**;  // keep * and _\n"
        "}\n"
        "```\n"
        "\n"
        "After";
    assert_md(md,
              "Intro\n"
              "\n"
              "int main(void) {\n"
              "    if (x)\n"
              "\n"
              "        return **0**;  // keep * and _\n"
              "}\n"
              "\n"
              "After");
    assert_md("~~~\n# not a heading\n- not a list\n~~~", "# not a heading\n- not a list");
    assert_md("    indented\n      code", "indented\n  code");
}

static void test_md_table(void **state)
{
    (void)state;
    assert_md("| a | b |\n|---|---|\n| 1 | 2 |\n| **x** | `y` |",
              "a | b\n1 | 2\nx | y");
    assert_md("Before\n\n| h |\n|:-:|\n| v |\n\nAfter", "Before\n\nh\nv\n\nAfter");
}

static void test_md_entities(void **state)
{
    (void)state;
    assert_md("&amp; &lt; &gt; &quot; &#65; &#x42; &#X43; &#x1F600; &copy;",
              "& < > \" A B C \xF0\x9F\x98\x80 \xC2\xA9");
    assert_md("&#0; &unknownentity;", "\xEF\xBF\xBD &unknownentity;");
}

static void test_md_blocks(void **state)
{
    (void)state;
    assert_md("> quoted\n> lines", "> quoted\n> lines");
    assert_md("a\n\n---\n\nb", "a\n\n\xE2\x80\x94\xE2\x80\x94\xE2\x80\x94\n\nb");
    assert_md("soft\nbreak and hard  \nbreak", "soft\nbreak and hard\nbreak");
    assert_md("one\n\n\n\ntwo", "one\n\ntwo");
    assert_md("trailing   \n\n\n   ", "trailing");
    assert_md("a<br>b <b>c</b> List<String>", "a\nb c List<String>");
}

static void test_md_empty(void **state)
{
    (void)state;
    assert_md("", "");
    assert_md("   \n\n  ", "");
    char *t = format_markdown_to_text(NULL, 0);
    assert_non_null(t);
    assert_string_equal(t, "");
    free(t);
}

static void test_md_garbage(void **state)
{
    (void)state;
    static const char *const tokens[] = {
        "#", "*", "_", "~", "`", "[", "]", "(", ")", "!", "<", ">", "|", "-", "\n",
        "\n\n", " ", "1.", "&amp;", "&#x1F600;", "https://a.b", "```", "    ", "\t",
        "&", "\\", "a", "日本", "😀", "\xCC\x81", "<br>", "---", "> ", "- ",
    };
    size_t ntok = sizeof tokens / sizeof tokens[0];
    uint32_t seed = 12345;
    char *buf = malloc(200000);
    assert_non_null(buf);
    for (int round = 0; round < 20; round++) {
        size_t len = 0;
        while (len < 100000) {
            seed = seed * 1103515245u + 12345u;
            if (round % 2 == 0) {
                const char *t = tokens[(seed >> 16) % ntok];
                memcpy(buf + len, t, strlen(t));
                len += strlen(t);
            } else {
                buf[len++] = (char)(seed >> 16); /* raw bytes, NULs included */
            }
        }
        char *t = format_markdown_to_text(buf, len);
        assert_non_null(t);
        free(t);
        struct text_parts p;
        assert_int_equal(format_answer(buf, len, &p), 0);
        check_parts(&p, LINE_TEXT_MAX_UTF16, LINE_MAX_MESSAGES);
        text_parts_free(&p);
    }
    free(buf);

    /* deep nesting */
    char *deep = repeat("> - ", 5000);
    char *t = format_markdown_to_text(deep, strlen(deep));
    assert_non_null(t);
    free(t);
    free(deep);
    deep = repeat("[", 50000);
    t = format_markdown_to_text(deep, strlen(deep));
    assert_non_null(t);
    assert_int_equal(strlen(t), 50000);
    free(t);
    free(deep);
}

static void test_format_answer(void **state)
{
    (void)state;
    struct text_parts p;
    const char *md = "# Hi\n\n**Hello** there.";
    assert_int_equal(format_answer(md, strlen(md), &p), 0);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.parts[0], "Hi\n\nHello there.");
    text_parts_free(&p);

    assert_int_equal(format_answer("", 0, &p), 0);
    assert_int_equal(p.n, 0);
    text_parts_free(&p);

    char *long_md = repeat("Some **text** that goes on and on. ", 3000); /* ~81k units */
    assert_int_equal(format_answer(long_md, strlen(long_md), &p), 0);
    check_parts(&p, LINE_TEXT_MAX_UTF16, LINE_MAX_MESSAGES);
    assert_int_equal(p.n, LINE_MAX_MESSAGES);
    const char *last = p.parts[p.n - 1];
    assert_string_equal(last + strlen(last) - strlen("\n(truncated)"), "\n(truncated)");
    assert_null(strstr(p.parts[0], "**"));
    text_parts_free(&p);
    free(long_md);
}

/* True when the last line of `part` (before `mark`, when it ends so) is one
 * of the headings the test wrote: they, and only they, read "Heading ". */
static bool ends_with_heading(const char *part, const char *mark)
{
    size_t len = strlen(part), mlen = strlen(mark);
    if (mlen && len >= mlen && strcmp(part + len - mlen, mark) == 0)
        len -= mlen;
    size_t start = len;
    while (start > 0 && part[start - 1] != '\n')
        start--;
    return strncmp(part + start, "Heading ", 8) == 0;
}

/* A message never ends with a heading whose section starts in the next one:
 * the cut goes before the heading instead. */
static void test_split_keeps_heading_with_section(void **state)
{
    (void)state;
    struct text_parts p;
    /* 41 units of intro, a heading, 80 of section: the best paragraph cut
     * within 100 units would be right after the heading. */
    const char *md = "An introduction that is forty-one units.\n\n## Heading two\n\n"
                     "The section body, eighty units long: it does not fit beside the heading above.";
    assert_int_equal(format_answer_split(md, strlen(md), 100, 5, MARK, &p), 0);
    check_parts(&p, 100, 5);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.parts[0], "An introduction that is forty-one units.");
    assert_true(strncmp(p.parts[1], "Heading two\n\nThe section body", 29) == 0);
    assert_false(p.truncated);
    text_parts_free(&p);

    /* Many sections of varied length, at several budgets, cut short or not. */
    char md_many[16384] = "";
    size_t used = 0;
    for (int i = 0; i < 40; i++) {
        int words = (i * 37) % 23 + 1;
        used += (size_t)snprintf(md_many + used, sizeof md_many - used, "%s# Heading %d\n\n", i ? "\n\n" : "", i);
        for (int w = 0; w < words; w++)
            used += (size_t)snprintf(md_many + used, sizeof md_many - used, "word%d%s", w, w % 7 == 6 ? ".\n\n" : " ");
        assert_true(used < sizeof md_many - 256);
    }
    char *text = format_markdown_to_text(md_many, used);
    size_t budgets[] = {60, 97, 150, 240, 400};
    for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
        for (size_t max_parts = 3; max_parts <= 100; max_parts += 97) {
            assert_int_equal(format_answer_split(md_many, used, budgets[b], max_parts, MARK, &p), 0);
            check_parts(&p, budgets[b], max_parts);
            assert_int_equal(p.truncated, max_parts == 3);
            if (!p.truncated)
                check_lossless(text, &p);
            for (size_t i = 0; i + 1 < p.n || (p.truncated && i < p.n); i++)
                assert_false(ends_with_heading(p.parts[i], MARK));
            text_parts_free(&p);
        }
    }
    free(text);

    /* format_split knows nothing of headings: plain text is cut as before. */
    const char *plain = "An introduction that is forty-one units.\n\nHeading two\n\n"
                        "The section body, eighty units long: it does not fit beside the heading above.";
    p = split(plain, 100, 5);
    assert_string_equal(p.parts[0], "An introduction that is forty-one units.\n\nHeading two");
    text_parts_free(&p);
}

/* A reference link used many times prints its URL at every use: 20,000
 * uses of a 1,000-byte URL would render to over 20 MB. The text is cut at
 * the cap (4 x input + 256 KiB), and what is kept is the rendering, not the
 * raw Markdown. */
static void test_md_expansion_is_capped(void **state)
{
    (void)state;
    const size_t uses = 20000, url_len = 1000;
    size_t cap = uses * 7 + url_len + 64;
    char *md = malloc(cap);
    size_t n = 0;
    for (size_t i = 0; i < uses; i++) {
        memcpy(md + n, "[a][r] ", 7);
        n += 7;
    }
    n += (size_t)sprintf(md + n, "\n\n[r]: http://x.example/");
    memset(md + n, 'u', url_len);
    n += url_len;
    md[n] = '\0';

    char *text = format_markdown_to_text(md, n);
    size_t len = strlen(text);
    assert_true(len <= 4 * n + 256 * 1024);
    assert_true(len > 4 * n + 256 * 1024 - 2 * url_len); /* cut near the cap, not early */
    assert_true(strncmp(text, "a (http://x.example/uuu", 23) == 0);
    assert_null(strstr(text, "[a][r]"));

    /* The answer still fills LINE's five messages, the last marked as cut. */
    struct text_parts parts;
    assert_int_equal(format_answer(md, n, &parts), 0);
    assert_int_equal(parts.n, LINE_MAX_MESSAGES);
    const char *last = parts.parts[parts.n - 1];
    assert_string_equal(last + strlen(last) - 12, "\n(truncated)");
    text_parts_free(&parts);
    free(text);
    free(md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf16_len_ascii),
        cmocka_unit_test(test_utf16_len_cjk),
        cmocka_unit_test(test_utf16_len_emoji),
        cmocka_unit_test(test_utf16_len_invalid),
        cmocka_unit_test(test_utf16_to_byte_offset),
        cmocka_unit_test(test_split_short),
        cmocka_unit_test(test_split_exact_boundary),
        cmocka_unit_test(test_split_paragraphs),
        cmocka_unit_test(test_split_cjk_sentences),
        cmocka_unit_test(test_split_emoji_only),
        cmocka_unit_test(test_split_keeps_graphemes),
        cmocka_unit_test(test_split_truncates),
        cmocka_unit_test(test_split_truncated_mark_edge_cases),
        cmocka_unit_test(test_split_whitespace_only),
        cmocka_unit_test(test_split_giant_grapheme),
        cmocka_unit_test(test_split_preferences),
        cmocka_unit_test(test_split_invalid_utf8),
        cmocka_unit_test(test_split_truncation_keeps_graphemes),
        cmocka_unit_test(test_split_large_input_is_fast),
        cmocka_unit_test(test_md_headings),
        cmocka_unit_test(test_md_emphasis),
        cmocka_unit_test(test_md_lists),
        cmocka_unit_test(test_md_ordered_start),
        cmocka_unit_test(test_md_links),
        cmocka_unit_test(test_md_code),
        cmocka_unit_test(test_md_table),
        cmocka_unit_test(test_md_entities),
        cmocka_unit_test(test_md_blocks),
        cmocka_unit_test(test_md_empty),
        cmocka_unit_test(test_md_garbage),
        cmocka_unit_test(test_md_span_past_end),
        cmocka_unit_test(test_format_answer),
        cmocka_unit_test(test_split_keeps_heading_with_section),
        cmocka_unit_test(test_md_expansion_is_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
