/* kb_fetch.h - a document of the knowledge base fetched from an http(s) URL
 * (issue 12: `linebot kb add URL`).
 *
 * One GET through io/http_client.c: redirects followed (at most 3, http
 * and https only), a size cap and a time limit. What the document is (HTML,
 * PDF, Markdown or plain text) is decided by its content: a PDF by its
 * magic bytes, else by the Content-Type header, else by the URL's file
 * name, else by whether it starts like an HTML page. Nothing here logs. */
#ifndef LINEBOT_KB_FETCH_H
#define LINEBOT_KB_FETCH_H

#include <stddef.h>

struct http_client;

#define KB_FETCH_MAX_BYTES ((size_t)16 * 1024 * 1024) /* a larger answer is refused */
#define KB_FETCH_TIMEOUT_MS 60000                     /* the whole transfer, redirects included */

struct kb_fetched {
    char *data;       /* the body, malloc'd, NUL after it (it may hold NULs) */
    size_t len;
    const char *kind; /* ".html", ".pdf", ".md" or ".txt": a file name's ending */
};

/* Fetches `url` with `http`. Returns 0 (free out->data), or -1 with a
 * one-line reason in `err` that reads after the URL ("cannot be fetched:
 * the server answered 404"): unreachable, a status other than 2xx, too
 * large, too slow, or not a kind of document the knowledge base takes. */
int kb_fetch(struct http_client *http, const char *url, struct kb_fetched *out, char *err, size_t errlen);

/* Pure: the kind of a fetched body, as above, from its Content-Type header
 * (may be NULL), the URL's path (may be NULL) and its first bytes. NULL when
 * it is none of the four. */
const char *kb_fetch_kind(const char *content_type, const char *url_path, const void *data, size_t len);

#endif
