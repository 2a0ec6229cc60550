/* apigw.c - Lambda HTTP events in, {"statusCode":...} out (see apigw.h).
 *
 * Payload 2.0 (HTTP API, Function URLs) has "version":"2.0", rawPath and
 * requestContext.http.method; 1.0 (REST API, HTTP API 1.0) has httpMethod,
 * path, headers and multiValueHeaders. Header names may come in any case. */
#include "core/apigw.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"

int base64_decode(const char *in, size_t in_len, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    size_t pad = 0;
    while (in_len > 0 && in[in_len - 1] == '=' && pad < 2) {
        in_len--;
        pad++;
    }
    for (size_t i = 0; i < in_len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (!(isalnum(c) || c == '+' || c == '/'))
            return -1;
    }
    if (in_len % 4 == 1)
        return -1;
    /* EVP_DecodeBlock wants whole quanta: re-pad. */
    size_t padded = (in_len + 3) / 4 * 4;
    char *tmp = xmalloc(padded + 1);
    char *buf = xmalloc(padded / 4 * 3 + 1);
    memcpy(tmp, in, in_len);
    memset(tmp + in_len, '=', padded - in_len);
    int n = padded ? EVP_DecodeBlock((unsigned char *)buf, (const unsigned char *)tmp, (int)padded) : 0;
    free(tmp);
    if (n < 0) {
        free(buf);
        return -1;
    }
    size_t len = (size_t)n - (padded - in_len); /* EVP_DecodeBlock counts the padding as zero bytes */
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

static char *dup_string(json_t *v)
{
    const char *s = json_string_value(v);
    return s ? xstrdup(s) : NULL;
}

/* The arrays hold every header read_headers may add (sized there, once). */
static void add_header(struct http_event *ev, const char *name, const char *value)
{
    char *n = xstrdup(name), *v = xstrdup(value);
    for (char *p = n; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    ev->header_names[ev->n_headers] = n;
    ev->header_values[ev->n_headers] = v;
    ev->n_headers++;
}

const char *http_event_header(const struct http_event *ev, const char *name)
{
    for (size_t i = 0; i < ev->n_headers; i++)
        if (strcasecmp(ev->header_names[i], name) == 0)
            return ev->header_values[i];
    return NULL;
}

static void read_headers(struct http_event *ev, json_t *headers, json_t *multi)
{
    size_t most = json_object_size(headers) + json_object_size(multi); /* 0 for a non-object */
    if (most == 0)
        return;
    ev->header_names = xcalloc(most, sizeof *ev->header_names);
    ev->header_values = xcalloc(most, sizeof *ev->header_values);
    const char *name;
    json_t *value;
    json_object_foreach(headers, name, value) {
        if (json_is_string(value))
            add_header(ev, name, json_string_value(value));
    }
    /* REST API events may carry a header only in multiValueHeaders. */
    json_object_foreach(multi, name, value) {
        json_t *first = json_array_get(value, 0);
        if (json_is_string(first) && !http_event_header(ev, name))
            add_header(ev, name, json_string_value(first));
    }
}

enum apigw_result apigw_parse(const char *json, size_t len, struct http_event *out)
{
    memset(out, 0, sizeof *out);
    json_t *root = json_loadb(json, len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return APIGW_BAD;
    }
    json_t *ctx = json_object_get(root, "requestContext");
    json_t *http = json_object_get(ctx, "http");
    const char *version = json_string_value(json_object_get(root, "version"));
    bool v2 = version && strcmp(version, "2.0") == 0 && json_is_object(http);
    bool v1 = !v2 && json_is_string(json_object_get(root, "httpMethod"));
    if (!v1 && !v2) {
        json_decref(root);
        return APIGW_NOT_HTTP;
    }

    enum apigw_result result = APIGW_BAD;
    out->method = dup_string(v2 ? json_object_get(http, "method") : json_object_get(root, "httpMethod"));
    out->path = dup_string(v2 ? json_object_get(root, "rawPath") : json_object_get(root, "path"));
    if (v2 && !out->path)
        out->path = dup_string(json_object_get(http, "path"));
    out->request_id = dup_string(json_object_get(ctx, "requestId"));
    if (!out->method || !out->path)
        goto done;
    read_headers(out, json_object_get(root, "headers"), v1 ? json_object_get(root, "multiValueHeaders") : NULL);

    json_t *body = json_object_get(root, "body");
    const char *text = json_is_string(body) ? json_string_value(body) : "";
    size_t text_len = json_is_string(body) ? json_string_length(body) : 0;
    if (json_is_true(json_object_get(root, "isBase64Encoded"))) {
        if (base64_decode(text, text_len, &out->body, &out->body_len) != 0)
            goto done;
    } else {
        out->body = xmalloc(text_len + 1); /* not xstrdup: the text may hold NULs */
        memcpy(out->body, text, text_len);
        out->body[text_len] = '\0';
        out->body_len = text_len;
    }
    result = APIGW_HTTP;
done:
    json_decref(root);
    if (result != APIGW_HTTP)
        http_event_free(out);
    return result;
}

void http_event_free(struct http_event *ev)
{
    for (size_t i = 0; i < ev->n_headers; i++) {
        free(ev->header_names[i]);
        free(ev->header_values[i]);
    }
    free(ev->header_names);
    free(ev->header_values);
    free(ev->method);
    free(ev->path);
    free(ev->request_id);
    free(ev->body);
    memset(ev, 0, sizeof *ev);
}

char *apigw_response(int status, const char *content_type, const char *body)
{
    json_t *root = json_pack("{s:i, s:{s:s}, s:s, s:b}", "statusCode", status, "headers", "content-type",
                             content_type ? content_type : "application/json", "body", body ? body : "",
                             "isBase64Encoded", 0);
    if (!root) /* a body or content type that is not UTF-8 */
        return NULL;
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}
