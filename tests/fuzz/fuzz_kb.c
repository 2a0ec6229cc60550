/* fuzz_kb.c - libFuzzer target for the knowledge base's pure parts (issue
 * 12): search terms (core/kb_terms.c), documents read as text, Markdown
 * and HTML and cut into chunks (core/kb_chunk.c, core/kb_html.c), and the
 * citations of an answer (core/kb_answer.c).
 *
 * The first byte picks a chunk size (8..263 characters) and an overlap; the
 * rest is the document. Invariants:
 *   - every term is non-empty, valid UTF-8, at most KB_TERM_MAX_CHARS
 *     characters (a CJK bigram: 2), and has no space or ASCII punctuation
 *     (FTS5's unicode61 must read the joined terms back as they are);
 *   - every chunk is non-empty valid UTF-8, has no white space at its ends,
 *     and its positions count 0, 1, 2...; its heading is one line;
 *   - the title is one line of valid UTF-8;
 *   - the citations found are within 1..n. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/kb_answer.h"
#include "core/kb_chunk.h"
#include "core/kb_html.h"
#include "core/kb_terms.h"
#include "core/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_terms(const char *s, size_t len)
{
    struct kb_terms t;
    kb_terms_of(s, len, &t);
    for (size_t i = 0; i < t.n; i++) {
        const char *term = t.items[i];
        size_t n = strlen(term), chars = 0;
        if (n == 0 || !utf8_valid(term, n))
            abort();
        for (size_t k = 0; k < n; k++) {
            unsigned char c = (unsigned char)term[k];
            if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')))
                abort(); /* ASCII in a term is only lower-case letters and digits */
            chars += (c & 0xc0) != 0x80;
        }
        if (chars > KB_TERM_MAX_CHARS)
            abort();
    }
    kb_terms_dedup(&t);
    for (size_t i = 0; i < t.n; i++)
        for (size_t j = i + 1; j < t.n; j++)
            if (strcmp(t.items[i], t.items[j]) == 0)
                abort();
    kb_terms_free(&t);
    /* A question's terms: some of the text's distinct terms, in their
     * order, at most the cap, and never none when the text has any. */
    struct kb_terms all, q;
    kb_terms_of(s, len, &all);
    kb_terms_dedup(&all);
    kb_terms_of_question(s, len, 8, &q);
    if (q.n > 8 || q.n > all.n || (all.n > 0 && q.n == 0))
        abort();
    for (size_t i = 0, j = 0; i < q.n; i++, j++) {
        while (j < all.n && strcmp(all.items[j], q.items[i]) != 0)
            j++;
        if (j == all.n)
            abort(); /* in the same order as the text's terms */
    }
    kb_terms_free(&all);
    kb_terms_free(&q);
}

static void check_doc(const struct kb_doc *doc, size_t target, size_t overlap)
{
    char *title = kb_doc_title(doc, "fallback.txt");
    if (!utf8_valid(title, strlen(title)) || strchr(title, '\n'))
        abort();
    free(title);
    struct kb_pieces p;
    kb_chunk(doc, target, overlap, &p);
    for (size_t i = 0; i < p.n; i++) {
        const char *t = p.items[i].text;
        size_t n = strlen(t);
        if (n == 0 || !utf8_valid(t, n) || t[0] == ' ' || t[0] == '\n' || t[n - 1] == ' ' || t[n - 1] == '\n')
            abort();
        if (p.items[i].position != (int)i || strchr(p.items[i].heading, '\n'))
            abort();
        check_terms(t, n);
    }
    kb_pieces_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t target = 8 + data[0], overlap = data[0] % 64;
    const char *s = (const char *)data + 1;
    size_t len = size - 1;

    check_terms(s, len);
    if (utf8_valid(s, len) && !memchr(s, '\0', len)) {
        for (int markdown = 0; markdown < 2; markdown++) {
            struct kb_doc doc;
            kb_doc_from_text(s, len, markdown, &doc);
            check_doc(&doc, target, overlap);
            kb_doc_free(&doc);
        }
    }
    struct kb_doc html;
    if (kb_doc_from_html(s, len, &html) == 0)
        check_doc(&html, target, overlap);
    kb_doc_free(&html);

    char *answer = malloc(len + 1);
    if (!answer)
        return 0;
    memcpy(answer, s, len);
    answer[len] = '\0';
    bool cited[KB_SOURCES_MAX];
    size_t n = kb_answer_cited(answer, KB_SOURCES_MAX, cited), count = 0;
    for (size_t i = 0; i < KB_SOURCES_MAX; i++)
        count += cited[i];
    if (count != n)
        abort();
    free(answer);
    return 0;
}
