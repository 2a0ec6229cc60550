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

#include <stddef.h>

#include "core/kb_chunk.h"

/* Fills `doc` (free with kb_doc_free). Returns 0, or -1 when libxml2 could
 * not read it at all (then `doc` is empty). */
int kb_doc_from_html(const char *html, size_t len, struct kb_doc *doc);

#endif
