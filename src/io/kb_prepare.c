/* kb_prepare.c - a document's bytes made ready for the knowledge base (see
 * kb_prepare.h): the structure by core/kb_html.c or kb_chunk.c, a PDF's text
 * by io/kb_pdf.c, the chunks by kb_chunk.c, each chunk's terms by
 * kb_terms.c. */
#include "io/kb_prepare.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/kb_html.h"
#include "core/kb_terms.h"
#include "core/utf8.h"
#include "io/kb_pdf.h"

enum kb_doc_kind kb_doc_kind_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    const char *slash = strrchr(name, '/');
    if (!dot || (slash && dot < slash))
        return KB_DOC_UNSUPPORTED;
    if (strcasecmp(dot, ".txt") == 0)
        return KB_DOC_TEXT;
    if (strcasecmp(dot, ".md") == 0 || strcasecmp(dot, ".markdown") == 0)
        return KB_DOC_MARKDOWN;
    if (strcasecmp(dot, ".html") == 0 || strcasecmp(dot, ".htm") == 0)
        return KB_DOC_HTML;
    if (strcasecmp(dot, ".pdf") == 0)
        return KB_DOC_PDF;
    return KB_DOC_UNSUPPORTED;
}

void kb_prepared_free(struct kb_prepared *p)
{
    for (size_t i = 0; i < p->pieces.n; i++)
        free(p->terms[i]);
    free(p->terms);
    free(p->rows);
    kb_pieces_free(&p->pieces);
    free(p->title);
    memset(p, 0, sizeof *p);
}

static const char *failed(enum kb_prepare_fail *fail, enum kb_prepare_fail why_kind, const char *why)
{
    if (fail)
        *fail = why_kind;
    return why;
}

const char *kb_prepare(const char *data, size_t len, enum kb_doc_kind kind, const char *name,
                       struct kb_prepared *out, enum kb_prepare_fail *fail)
{
    struct kb_doc doc;

    memset(out, 0, sizeof *out);
    if (fail)
        *fail = KB_PREPARE_OK;
    if (kind == KB_DOC_HTML) {
        int rc = kb_doc_from_html(data, len, &doc);
        if (rc == -2)
            return failed(fail, KB_PREPARE_NO_READER, "is HTML, which needs libxml2 (Debian: apt-get install libxml2)");
        if (rc != 0)
            return failed(fail, KB_PREPARE_UNREADABLE, "cannot be read as HTML");
    } else if (kind == KB_DOC_PDF) {
        const char *why = NULL;
        size_t text_len = 0;
        char *text = kb_pdf_text(data, len, &text_len, &why);
        if (!text)
            return failed(fail, kb_pdf_missing(why) ? KB_PREPARE_NO_READER : KB_PREPARE_UNREADABLE, why);
        for (char *p = text; (p = memchr(p, '\f', text_len - (size_t)(p - text))); p++)
            *p = '\n'; /* a page ends a paragraph (pdftotext ends it with a line break) */
        kb_doc_from_text(text, text_len, false, &doc);
        free(text);
    } else if (kind == KB_DOC_TEXT || kind == KB_DOC_MARKDOWN) {
        if (memchr(data, '\0', len))
            return failed(fail, KB_PREPARE_UNREADABLE, "is not a text file (it has NUL bytes)");
        if (!utf8_valid(data, len))
            return failed(fail, KB_PREPARE_UNREADABLE,
                          "is not UTF-8 text (convert it first, e.g. iconv -f SHIFT_JIS -t UTF-8)");
        if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) { /* a byte order mark */
            data += 3;
            len -= 3;
        }
        kb_doc_from_text(data, len, kind == KB_DOC_MARKDOWN, &doc);
    } else {
        return failed(fail, KB_PREPARE_UNREADABLE, "is not a supported file type (.txt, .md, .html, .pdf)");
    }
    out->title = kb_doc_title(&doc, name);
    kb_chunk(&doc, KB_CHUNK_TARGET, KB_CHUNK_OVERLAP, &out->pieces);
    kb_doc_free(&doc);
    out->rows = xcalloc(out->pieces.n + 1, sizeof *out->rows);
    out->terms = xcalloc(out->pieces.n + 1, sizeof *out->terms);
    for (size_t i = 0; i < out->pieces.n; i++) {
        const struct kb_piece *piece = &out->pieces.items[i];
        /* The heading path is searched with the passage under it. */
        char *text = xasprintf("%s\n%s", piece->heading, piece->text);
        struct kb_terms t;
        kb_terms_of(text, strlen(text), &t);
        out->terms[i] = kb_terms_join(&t);
        kb_terms_free(&t);
        free(text);
        out->rows[i] = (struct kb_chunk_row){piece->position, piece->heading, piece->text, out->terms[i]};
    }
    return NULL;
}
