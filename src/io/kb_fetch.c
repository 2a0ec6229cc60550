/* kb_fetch.c - a knowledge base document fetched from a URL (see
 * kb_fetch.h).
 *
 * The operator names the URL, so it may be on their own network (an
 * intranet wiki): unlike a URL a chat user sends, no address is refused.
 * The server is still someone else's: its Content-Type and its errors reach
 * the operator's terminal only as plain printable text. */
#include "io/kb_fetch.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/sniff.h"
#include "io/http_client.h"

#define TYPE_SHOWN_MAX 60

/* Whether the media type (before any ';', blanks around ignored) is `want`. */
static int media_is(const char *type, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(type, want, len) == 0;
}

/* The kind a file name's ending says, or NULL. */
static const char *kind_of_name(const char *path)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (!dot || strchr(dot, '/'))
        return NULL;
    if (strcasecmp(dot, ".html") == 0 || strcasecmp(dot, ".htm") == 0)
        return ".html";
    if (strcasecmp(dot, ".md") == 0 || strcasecmp(dot, ".markdown") == 0)
        return ".md";
    if (strcasecmp(dot, ".txt") == 0)
        return ".txt";
    if (strcasecmp(dot, ".pdf") == 0)
        return ".pdf";
    return NULL;
}

/* A body that starts (after blanks and a byte order mark) like an HTML page. */
static int looks_like_html(const char *p, size_t len)
{
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
        p += 3;
        len -= 3;
    }
    while (len > 0 && isspace((unsigned char)*p)) {
        p++;
        len--;
    }
    return (len >= 14 && strncasecmp(p, "<!doctype html", 14) == 0) || (len >= 5 && strncasecmp(p, "<html", 5) == 0);
}

const char *kb_fetch_kind(const char *content_type, const char *url_path, const void *data, size_t len)
{
    if (sniff_kind(data, len) == SNIFF_PDF)
        return ".pdf";
    const char *type = content_type ? content_type : "";
    while (*type == ' ' || *type == '\t')
        type++;
    size_t n = strcspn(type, ";");
    while (n > 0 && (type[n - 1] == ' ' || type[n - 1] == '\t'))
        n--;
    if (media_is(type, n, "text/html") || media_is(type, n, "application/xhtml+xml"))
        return ".html";
    if (media_is(type, n, "application/pdf"))
        return ".pdf"; /* without its magic bytes: kb_pdf says it is not a PDF */
    if (media_is(type, n, "text/markdown") || media_is(type, n, "text/x-markdown"))
        return ".md";
    const char *named = kind_of_name(url_path);
    if (media_is(type, n, "text/plain"))
        return named && strcmp(named, ".md") == 0 ? ".md" : ".txt";
    if (n == 0 || media_is(type, n, "application/octet-stream") || media_is(type, n, "binary/octet-stream")) {
        if (named)
            return named;
        return data && looks_like_html(data, len) ? ".html" : NULL;
    }
    return NULL;
}

/* The Content-Type as it may be shown: printable ASCII only, cut short. */
static void shown_type(const char *type, char *out, size_t outlen)
{
    size_t o = 0;
    for (const char *p = type ? type : ""; *p && *p != ';' && o + 1 < outlen && o < TYPE_SHOWN_MAX; p++)
        if (isgraph((unsigned char)*p))
            out[o++] = *p;
    out[o] = '\0';
    if (o == 0)
        snprintf(out, outlen, "of no stated type");
}

int kb_fetch(struct http_client *http, const char *url, struct kb_fetched *out, char *err, size_t errlen)
{
    struct http_url parts;
    memset(out, 0, sizeof *out);
    if (http_url_split(url, &parts, err, errlen) != 0)
        return -1;
    struct http_request req = {
        .method = "GET",
        .url = url,
        .connect_timeout_ms = 10000,
        .timeout_ms = KB_FETCH_TIMEOUT_MS,
        .max_response_bytes = KB_FETCH_MAX_BYTES,
        .follow_redirects = 1,
    };
    struct http_response resp;
    int rc = http_client_do(http, &req, &resp);
    if (rc != 0) {
        if (resp.too_large)
            snprintf(err, errlen, "is larger than %zu MiB", KB_FETCH_MAX_BYTES >> 20);
        else if (resp.timed_out)
            snprintf(err, errlen, "cannot be fetched: no complete answer within %d s", KB_FETCH_TIMEOUT_MS / 1000);
        else
            snprintf(err, errlen, "cannot be fetched: %s", resp.error);
    } else if (resp.status < 200 || resp.status > 299) {
        snprintf(err, errlen, "cannot be fetched: the server answered %ld", resp.status);
        rc = -1;
    } else {
        const char *type = http_client_header(http, "Content-Type");
        out->kind = kb_fetch_kind(type, parts.path, resp.body, resp.body_len);
        if (!out->kind) {
            char shown[TYPE_SHOWN_MAX + 1];
            shown_type(type, shown, sizeof shown);
            snprintf(err, errlen, "is %s, not a page or document that can be added (HTML, text, Markdown, PDF)",
                     shown);
            rc = -1;
        } else {
            /* An empty body is still a document, one without text. */
            out->data = resp.body ? resp.body : xcalloc(1, 1);
            out->len = resp.body_len;
            resp.body = NULL;
        }
    }
    http_response_free(&resp);
    return rc;
}
