/* fuzz_format.c - libFuzzer target for the Markdown formatter and the
 * splitter (format_answer, format_split, format_answer_split).
 *
 * The input goes twice through the code: whole, as a model's Markdown answer,
 * into format_answer (LINE's limits: 5 messages of 5000 UTF-16 units); and,
 * after its first two bytes (which pick a budget of 1..64 units and 1..8
 * parts), as plain text into format_split, so that small budgets make every
 * cut path run on short inputs. Each result must hold the invariants LINE and
 * users rely on:
 *   - no more parts than asked, none empty, none over the budget;
 *   - every part valid UTF-8 (core/utf8.h);
 *   - no part starts or ends inside a grapheme cluster, unless that cluster
 *     alone is over the budget (then code points are the last resort), or
 *     the cut is at whitespace the splitter drops. Each part is found in
 *     the text it was cut from (parts are verbatim pieces of it, less the
 *     truncation mark), and its ends must be grapheme boundaries as
 *     utf8proc's stateful break computes them over that whole text. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "core/alloc.h"
#include "core/format.h"
#include "core/utf8.h"

#define FUZZ_MARK "\n(truncated)"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* boundary[i] is true when byte offset i of s lies between two grapheme
 * clusters (0 and len included). An invalid byte stands alone. */
static bool *grapheme_boundaries(const char *s, size_t len)
{
    bool *boundary = xcalloc(len + 1, sizeof(*boundary));
    int32_t prev = -1, state = UTF8PROC_BOUNDCLASS_START;
    size_t p = 0;
    while (p < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + p, (utf8proc_ssize_t)(len - p), &cp);
        if (n <= 0) {
            boundary[p] = true;
            prev = -1;
            state = UTF8PROC_BOUNDCLASS_START;
            p++;
            continue;
        }
        if (prev < 0)
            boundary[p] = true;
        else if (utf8proc_grapheme_break_stateful(prev, cp, &state)) {
            boundary[p] = true;
        }
        prev = cp;
        p += (size_t)n;
    }
    boundary[len] = true;
    return boundary;
}

/* A cut at `at` is fine on a grapheme boundary; inside a cluster only when
 * that cluster alone is over the budget (the splitter's last resort is then
 * a code point boundary). */
/* Whitespace the splitter drops at a cut: ASCII blanks and U+3000
 * IDEOGRAPHIC SPACE (E3 80 80), starting at s[at] or ending at s[at - 1]. */
static bool space_at_cut(const char *s, size_t len, size_t at)
{
    const unsigned char *u = (const unsigned char *)s;
    bool after = at < len && (u[at] == ' ' || u[at] == '\n' || u[at] == '\t' || u[at] == '\r' ||
                              (at + 3 <= len && u[at] == 0xE3 && u[at + 1] == 0x80 && u[at + 2] == 0x80));
    bool before = at > 0 && (u[at - 1] == ' ' || u[at - 1] == '\n' || u[at - 1] == '\t' ||
                             u[at - 1] == '\r' ||
                             (at >= 3 && u[at - 3] == 0xE3 && u[at - 2] == 0x80 && u[at - 1] == 0x80));
    return after || before;
}

static bool cut_allowed(const char *s, size_t len, const bool *boundary, size_t at, size_t max_units)
{
    /* Whitespace at a cut is dropped, even when a Prepend character (such as
     * U+0603) joins it to the character before: nothing visible is split. */
    if (boundary[at] || space_at_cut(s, len, at))
        return true;
    size_t a = at, b = at;
    while (!boundary[a])
        a--;
    while (!boundary[b])
        b++;
    return utf16_len(s + a, b - a) > max_units;
}

static void check_parts(const char *text, size_t len, const struct text_parts *tp, size_t max_units,
                        size_t max_parts)
{
    if (tp->n > max_parts)
        abort();
    bool *boundary = grapheme_boundaries(text, len);
    size_t from = 0;
    for (size_t i = 0; i < tp->n; i++) {
        const char *part = tp->parts[i];
        size_t n = strlen(part);
        if (n == 0 || utf16_len(part, n) > max_units || !utf8_valid(part, n))
            abort();
        /* The last part may end with the mark: what precedes it is verbatim. */
        size_t mark = strlen(FUZZ_MARK);
        if (i + 1 == tp->n && n >= mark && memcmp(part + n - mark, FUZZ_MARK, mark) == 0)
            n -= mark;
        if (n == 0 || (i + 1 == tp->n && strcmp(part, &FUZZ_MARK[1]) == 0))
            continue; /* the mark alone, when no text fits beside it */
        const char *at = memmem(text + from, len - from, part, n);
        if (at == NULL)
            abort();
        size_t start = (size_t)(at - text);
        if (!cut_allowed(text, len, boundary, start, max_units) ||
            !cut_allowed(text, len, boundary, start + n, max_units))
            abort();
        from = start + n;
    }
    free(boundary);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool started;
    if (!started) {
        alloc_init();
        started = true;
    }
    char *md = xmalloc(size ? size : 1);
    memcpy(md, data, size);

    /* format_answer is markdown conversion, then the split: check the split
     * against the converted text. */
    struct text_parts tp;
    if (format_answer(md, size, &tp) != 0)
        abort();
    /* The converted text may keep invalid bytes, which the parts carry as
     * U+FFFD (the splitter reads them so too): compare with it sanitized. */
    char *raw = format_markdown_to_text(md, size);
    char *text = utf8_sanitize(raw, strlen(raw));
    check_parts(text, strlen(text), &tp, LINE_TEXT_MAX_UTF16, LINE_MAX_MESSAGES);
    free(text);
    free(raw);
    text_parts_free(&tp);

    if (size >= 2) {
        size_t max_units = 1 + data[0] % 64;
        size_t max_parts = 1 + data[1] % 8;
        /* Sanitized as the converted Markdown is, so parts (which are
         * sanitized) can be found in it again. */
        char *plain = utf8_sanitize(md + 2, size - 2);
        size_t len = strlen(plain);
        if (format_split(plain, len, max_units, max_parts, FUZZ_MARK, &tp) != 0)
            abort();
        /* The mark may not fit a small budget, so it is only checked where it fits. */
        check_parts(plain, len, &tp, max_units, max_parts);
        text_parts_free(&tp);
        free(plain);

        /* The answer's split (headings kept with their section) under the
         * same small budgets, against the converted text. */
        if (format_answer_split(md + 2, size - 2, max_units, max_parts, FUZZ_MARK, &tp) != 0)
            abort();
        raw = format_markdown_to_text(md + 2, size - 2);
        text = utf8_sanitize(raw, strlen(raw));
        check_parts(text, strlen(text), &tp, max_units, max_parts);
        free(text);
        free(raw);
        text_parts_free(&tp);
    }
    free(md);
    return 0;
}
