/* kb_html.h - an HTML page read into headings and paragraphs for the
 * knowledge base (issue 12), with libxml2's HTML parser.
 *
 * Pure: the page is parsed from memory, never fetched, and the parser is
 * told not to touch the network (HTML_PARSE_NONET). The title is <title>;
 * h1..h6 are headings; block elements (p, li, div, tr, pre, ...) and <br>
 * end paragraphs; script, style, template, noscript, head (but its title),
 * nav and svg are left out. White space is collapsed as a browser does,
 * except in <pre>. Bytes that are valid UTF-8 are read as UTF-8; other
 * pages as their <meta charset> says (libxml2's own detection). */
#ifndef LINEBOT_KB_HTML_H
#define LINEBOT_KB_HTML_H

#include <stdbool.h>
#include <stddef.h>

#include "core/kb_chunk.h"

/* Fills `doc` (free with kb_doc_free). Returns 0, -1 when libxml2 could
 * not read it at all (then `doc` is empty), or -2 when libxml2 is not
 * installed (see kb_html_available). */
int kb_doc_from_html(const char *html, size_t len, struct kb_doc *doc);

/* libxml2 is loaded at run time, the first time HTML is read, rather than
 * linked: the bot never reads HTML while it serves, and linking it would
 * put libxml2, ICU (about 30 MB) and a libstdc++ newer than Lambda's glibc
 * into every start of the bot and into the serverless zips. True when
 * libxml2.so.2 is there (Debian: libxml2). */
bool kb_html_available(void);

#endif
