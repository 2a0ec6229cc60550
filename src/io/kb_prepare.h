/* kb_prepare.h - a document's bytes made ready for the knowledge base: its
 * kind, its title and its chunks with their terms (issue 12; issue 13's
 * files sent in chats).
 *
 * Shared by `linebot kb add` (cli/kb.c) and the bot, for files users send
 * (run/stage_files.c), so that a document reads the same either way. Text
 * and Markdown must be UTF-8 without NUL bytes (a byte order mark is
 * skipped); HTML goes through core/kb_html.h (libxml2, loaded at run time),
 * PDF through io/kb_pdf.h (pdftotext). Thread-safe. */
#ifndef LINEBOT_KB_PREPARE_H
#define LINEBOT_KB_PREPARE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/kb_chunk.h"
#include "io/store.h"

enum kb_doc_kind { KB_DOC_TEXT, KB_DOC_MARKDOWN, KB_DOC_HTML, KB_DOC_PDF, KB_DOC_UNSUPPORTED };

/* The kind a file's name says (.txt, .md/.markdown, .html/.htm, .pdf, in
 * any case); KB_DOC_UNSUPPORTED for any other name. */
enum kb_doc_kind kb_doc_kind_of(const char *name);

/* A document read and cut: what store_kb_put takes (rows point into it). */
struct kb_prepared {
    char *title;
    struct kb_pieces pieces;
    struct kb_chunk_row *rows; /* pieces.n of them */
    char **terms;
};
void kb_prepared_free(struct kb_prepared *p);

/* Why a document could not be prepared. */
enum kb_prepare_fail {
    KB_PREPARE_OK,
    KB_PREPARE_NO_READER,  /* this machine lacks the reader (libxml2, pdftotext) */
    KB_PREPARE_UNREADABLE, /* the document itself cannot be read as its kind */
};

/* Reads data[0, len) of `kind` into `out`: its title (from the document,
 * else `name`), its chunks and their terms. NULL, or a static one-line reason
 * that reads after the document's name ("is not UTF-8 text"), with *fail
 * (may be NULL) saying whose fault; `out` is then empty. */
const char *kb_prepare(const char *data, size_t len, enum kb_doc_kind kind, const char *name,
                       struct kb_prepared *out, enum kb_prepare_fail *fail);

#endif
