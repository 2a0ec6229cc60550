/* kb_terms.c - the search terms of a text: NFKC and case folding through
 * utf8proc, CJK bigrams, whole words for everything else (see kb_terms.h). */
#include "core/kb_terms.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "core/alloc.h"
#include "core/utf8.h"

/* Han (with its extensions and compatibility ideographs), kana, Hangul and
 * Bopomofo: the scripts written without spaces between words (Hangul is,
 * but bigrams serve it as well). Only letters and numbers of these blocks
 * count: their punctuation (・ ゠) and spacing marks separate. */
static bool is_cjk(utf8proc_int32_t cp)
{
    bool block = (cp >= 0x3040 && cp <= 0x30ff) ||   /* hiragana, katakana */
                 (cp >= 0x31f0 && cp <= 0x31ff) ||   /* katakana extension */
                 (cp >= 0x3005 && cp <= 0x3007) ||   /* 々 〆 〇 */
                 (cp >= 0x3100 && cp <= 0x312f) ||   /* bopomofo */
                 (cp >= 0x3400 && cp <= 0x4dbf) ||   /* Han extension A */
                 (cp >= 0x4e00 && cp <= 0x9fff) ||   /* Han */
                 (cp >= 0xf900 && cp <= 0xfaff) ||   /* compatibility ideographs */
                 (cp >= 0x1100 && cp <= 0x11ff) ||   /* Hangul jamo */
                 (cp >= 0x3130 && cp <= 0x318f) ||   /* Hangul compatibility jamo */
                 (cp >= 0xac00 && cp <= 0xd7af) ||   /* Hangul syllables */
                 (cp >= 0x20000 && cp <= 0x3134f);   /* Han extensions B.. */
    if (!block)
        return false;
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_LO || c == UTF8PROC_CATEGORY_LM || c == UTF8PROC_CATEGORY_NL ||
           c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NO;
}

static bool is_letter_or_number(utf8proc_int32_t cp)
{
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

static bool is_mark(utf8proc_int32_t cp)
{
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC || c == UTF8PROC_CATEGORY_ME;
}

static void push(struct kb_terms *t, size_t *cap, const char *s, size_t len)
{
    if (t->n == *cap) {
        *cap = *cap ? *cap * 2 : 32;
        t->items = xrealloc_array(t->items, *cap, sizeof *t->items);
    }
    t->items[t->n++] = xstrndup(s, len);
}

/* One code point as decoded: where it starts and how long it is. */
struct cp_at {
    utf8proc_int32_t cp;
    size_t at, len;
};

void kb_terms_of(const char *text, size_t len, struct kb_terms *out)
{
    char *clean = utf8_sanitize(text ? text : "", text ? len : 0);
    utf8proc_uint8_t *norm = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)clean, 0, &norm,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                          UTF8PROC_COMPAT | UTF8PROC_CASEFOLD);
    const char *s = clean;
    size_t slen = strlen(clean);
    if (n >= 0 && norm) {
        s = (const char *)norm;
        slen = (size_t)n;
    } else if (n == UTF8PROC_ERROR_NOMEM) {
        alloc_fail("utf8proc_map", slen);
    }

    size_t cap = 0;
    memset(out, 0, sizeof *out);
    /* The current run: CJK characters (kept to make bigrams) or a word. */
    struct cp_at prev = {0, 0, 0};
    size_t cjk_run = 0;          /* CJK characters in the current run */
    size_t word_at = 0, word_end = 0, word_chars = 0;
    bool in_word = false;
    size_t i = 0;

    for (;;) {
        struct cp_at c = {-1, i, 0};
        if (i < slen) {
            utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(slen - i), &c.cp);
            c.len = l > 0 ? (size_t)l : 1;
            if (l <= 0)
                c.cp = -1;
        }
        bool cjk = c.cp >= 0 && is_cjk(c.cp);
        bool wordish = c.cp >= 0 && !cjk && (is_letter_or_number(c.cp) || (in_word && is_mark(c.cp)));
        /* A mark right after a CJK character (a combining sound mark) stays with it. */
        if (c.cp >= 0 && cjk_run > 0 && is_mark(c.cp)) {
            prev.len += c.len;
            i += c.len;
            continue;
        }
        if (!cjk && cjk_run > 0) {
            if (cjk_run == 1)
                push(out, &cap, s + prev.at, prev.len);
            cjk_run = 0;
        }
        if (!wordish && in_word) {
            push(out, &cap, s + word_at, word_end - word_at);
            in_word = false;
        }
        if (c.cp < 0 && i >= slen)
            break;
        if (cjk) {
            if (cjk_run > 0)
                push(out, &cap, s + prev.at, prev.len + c.len);
            prev = c;
            cjk_run++;
        } else if (wordish) {
            if (!in_word) {
                in_word = true;
                word_at = i;
                word_chars = 0;
            }
            if (word_chars < KB_TERM_MAX_CHARS) {
                word_end = i + c.len;
                word_chars++;
            }
        }
        i += c.len;
    }
    free(norm);
    free(clean);
}

/* A term and its place in the text. */
struct place {
    const char *term;
    size_t at;
};

static int place_cmp(const void *a, const void *b)
{
    const struct place *x = a, *y = b;
    int c = strcmp(x->term, y->term);
    return c ? c : (x->at > y->at) - (x->at < y->at);
}

void kb_terms_dedup(struct kb_terms *t)
{
    /* Sorted by term, then place, each term's repeats follow its first
     * place: O(n log n), where comparing every pair would be millions of
     * strcmp for a long message (a bigram a character) on the worker. */
    if (t->n < 2)
        return;
    struct place *by_term = xcalloc(t->n, sizeof *by_term);
    for (size_t i = 0; i < t->n; i++)
        by_term[i] = (struct place){t->items[i], i};
    qsort(by_term, t->n, sizeof *by_term, place_cmp);
    bool *repeat = xcalloc(t->n, sizeof *repeat);
    for (size_t i = 1; i < t->n; i++)
        repeat[by_term[i].at] = strcmp(by_term[i].term, by_term[i - 1].term) == 0;
    free(by_term);
    size_t kept = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (repeat[i])
            free(t->items[i]);
        else
            t->items[kept++] = t->items[i];
    }
    free(repeat);
    t->n = kept;
}

/* Whether a term is made only of hiragana (U+3041-U+309F: the letters,
 * their iteration marks and the sound marks that follow them). */
static bool only_hiragana(const char *term)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)term;
    utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(term);
    if (left == 0)
        return false;
    while (left > 0) {
        utf8proc_int32_t cp = -1;
        utf8proc_ssize_t l = utf8proc_iterate(p, left, &cp);
        if (l <= 0 || cp < 0x3041 || cp > 0x309f)
            return false;
        p += l;
        left -= l;
    }
    return true;
}

struct term_cost {
    const char *term;
    long long chunks;
    size_t at;
};

static int term_cost_cmp(const void *a, const void *b)
{
    const struct term_cost *x = a, *y = b;
    if (x->chunks != y->chunks)
        return x->chunks < y->chunks ? -1 : 1;
    int c = strcmp(x->term, y->term);
    return c != 0 ? c : (x->at > y->at) - (x->at < y->at);
}

static int term_at_cmp(const void *a, const void *b)
{
    const struct term_cost *x = a, *y = b;
    return (x->at > y->at) - (x->at < y->at);
}

size_t kb_terms_within(const char **terms, long long *chunks, size_t n, long long budget)
{
    if (n == 0)
        return 0;
    struct term_cost *c = xcalloc(n, sizeof *c);
    for (size_t i = 0; i < n; i++)
        c[i] = (struct term_cost){.term = terms[i], .chunks = chunks[i] > 0 ? chunks[i] : 0, .at = i};
    qsort(c, n, sizeof *c, term_cost_cmp);
    size_t kept = 1;
    long long sum = c[0].chunks;
    while (kept < n && c[kept].chunks <= budget - sum)
        sum += c[kept++].chunks;
    qsort(c, kept, sizeof *c, term_at_cmp);
    for (size_t i = 0; i < kept; i++) {
        terms[i] = c[i].term;
        chunks[i] = c[i].chunks;
    }
    free(c);
    return kept;
}

void kb_terms_of_question(const char *text, size_t len, size_t max, struct kb_terms *out)
{
    kb_terms_of(text, len, out);
    kb_terms_dedup(out);
    size_t others = 0;
    for (size_t i = 0; i < out->n; i++)
        others += !only_hiragana(out->items[i]);
    size_t kept = 0;
    for (size_t i = 0; i < out->n; i++) {
        if ((others > 0 && only_hiragana(out->items[i])) || kept >= max)
            free(out->items[i]);
        else
            out->items[kept++] = out->items[i];
    }
    out->n = kept;
}

char *kb_terms_join(const struct kb_terms *t)
{
    size_t total = 1;
    for (size_t i = 0; i < t->n; i++)
        total += strlen(t->items[i]) + 1;
    char *out = xmalloc(total);
    size_t o = 0;
    for (size_t i = 0; i < t->n; i++) {
        size_t l = strlen(t->items[i]);
        if (i > 0)
            out[o++] = ' ';
        memcpy(out + o, t->items[i], l);
        o += l;
    }
    out[o] = '\0';
    return out;
}

void kb_terms_free(struct kb_terms *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->items[i]);
    free(t->items);
    t->items = NULL;
    t->n = 0;
}
