/* kb_pdf.h - the text of a PDF, through poppler's pdftotext run as a child
 * process (issue 12).
 *
 * Not linked: poppler-glib would pull about 30 libraries (GLib, cairo...)
 * into every start of the bot and into the serverless zips, and a PDF is
 * hostile input that is better read by a process of its own. pdftotext
 * (Debian: poppler-utils) is started without a shell and without the bot's
 * environment (which holds its keys); the PDF goes to it on stdin and its
 * text comes back on stdout, through pipes, under a time limit and an
 * output cap. Nothing is written to disk.
 *
 * Used by `linebot kb add` and meant for PDFs users send in chats too, so
 * it knows nothing of the CLI. Thread-safe (posix_spawn); it blocks the
 * calling thread for at most the time limit. */
#ifndef LINEBOT_KB_PDF_H
#define LINEBOT_KB_PDF_H

#include <stdbool.h>
#include <stddef.h>

#define KB_PDF_PROGRAM "pdftotext"
#define KB_PDF_TIMEOUT_MS 30000                 /* pdftotext is stopped (SIGKILL) after this */
#define KB_PDF_TEXT_MAX ((size_t)32 * 1024 * 1024) /* bytes of text at most */

/* The text of the PDF data[0, len): a malloc'd, NUL-terminated string of
 * valid UTF-8 (*out_len bytes; any NUL or invalid byte pdftotext wrote is
 * U+FFFD). Pages end with a form feed ('\f'), as pdftotext writes them: a
 * caller that cuts the text into passages treats it as a paragraph break.
 *
 * NULL when there is no text, with *why set to a static one-line reason
 * that reads after the document's name ("guide.pdf: is not a PDF"):
 * not a PDF (it must start with %PDF-), pdftotext not installed (it names
 * the Debian package), damaged, copy-protected, too slow, too much text, or
 * no text at all (scanned pages). */
char *kb_pdf_text(const char *data, size_t len, size_t *out_len, const char **why);

/* True when `why` (from kb_pdf_text) says pdftotext is not installed: no
 * PDF can be read here, which is not the document's fault. */
bool kb_pdf_missing(const char *why);

/* kb_pdf_text with another program, time limit and cap: for tests, which
 * stand in a slow or chatty program for pdftotext. `program` is looked up
 * in PATH when it has no '/'; it gets the arguments pdftotext gets. */
struct kb_pdf_limits {
    const char *program;
    int timeout_ms;
    size_t text_max;
};
char *kb_pdf_text_with(const struct kb_pdf_limits *limits, const char *data, size_t len, size_t *out_len,
                       const char **why);

#endif
