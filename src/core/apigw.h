/* apigw.h - HTTP requests that arrive as Lambda events.
 *
 * Pure: turns an API Gateway REST API (payload 1.0), HTTP API (1.0 or 2.0)
 * or Lambda Function URL event into a plain request (method, path, headers
 * with case-insensitive lookup, the body with base64 already decoded), and
 * builds the {"statusCode":...} answer those integrations expect. */
#ifndef LINEBOT_APIGW_H
#define LINEBOT_APIGW_H

#include <stddef.h>

struct http_event {
    char *method;        /* "POST" */
    char *path;          /* "/callback" (stage prefix as the integration gives it) */
    char *request_id;    /* requestContext.requestId, may be NULL */
    char **header_names; /* lower-cased */
    char **header_values;
    size_t n_headers;
    char *body;          /* decoded bytes, NUL-terminated for convenience; may contain NULs */
    size_t body_len;
};

enum apigw_result {
    APIGW_HTTP = 0,      /* an HTTP request: `out` is filled */
    APIGW_NOT_HTTP,      /* valid JSON, but not an HTTP event (e.g. our async work payload) */
    APIGW_BAD,           /* not JSON, or an HTTP event that cannot be read (bad base64) */
};

/* Reads an invocation payload. Never fails on hostile input: APIGW_BAD. */
enum apigw_result apigw_parse(const char *json, size_t len, struct http_event *out);
void http_event_free(struct http_event *ev);

/* The header's value (name compared case-insensitively), or NULL. */
const char *http_event_header(const struct http_event *ev, const char *name);

/* {"statusCode":N,"headers":{"content-type":...},"body":...,"isBase64Encoded":false};
 * malloc'd. NULL only when content_type or body is not UTF-8 (JSON cannot
 * carry it); memory running out aborts. */
char *apigw_response(int status, const char *content_type, const char *body);

/* Decodes standard base64 (padding optional, no whitespace). Returns 0 with a
 * malloc'd, NUL-terminated buffer, or -1 when the input is not base64. */
int base64_decode(const char *in, size_t in_len, char **out, size_t *out_len);

#endif
