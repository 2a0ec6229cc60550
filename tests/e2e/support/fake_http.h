/* fake_http.h - the little HTTP server under every fake (LINE, the LLM, Lambda, FC).
 *
 * libmicrohttpd on 127.0.0.1 with an ephemeral port and one thread per
 * connection, so a fake that delays one answer (a slow LLM) never holds up
 * another connection. The server collects the whole body, then calls the
 * fake's handler once per request; the handler fills in a response, which may
 * ask for a delay. fake_http_stop() interrupts delays, so a test never waits
 * for a fake to finish sleeping.
 *
 * The only user of libmicrohttpd among the fakes: headers, the query string
 * and the body of a request, and the answers, go through the helpers below. */
#ifndef E2E_FAKE_HTTP_H
#define E2E_FAKE_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct fake_http;

struct fake_http_request {
    const char *method;
    const char *path;  /* without the query string */
    const char *body;  /* NUL-terminated copy of the body ("" when none) */
    size_t body_len;
    void *conn;        /* for fake_http_header() */
};

/* Value of request header `name` (case-insensitive), or NULL. */
const char *fake_http_header(const struct fake_http_request *req, const char *name);

/* True when the client has closed its end (a long poll whose caller died). */
bool fake_http_peer_gone(const struct fake_http_request *req);

/* True when the request carries "Authorization: Bearer <token>". */
bool fake_http_has_bearer(const struct fake_http_request *req, const char *token);

/* A query string argument as received (decoded); value NULL for "?name". */
struct fake_http_arg {
    const char *name;
    const char *value;
};

/* Fills out with up to max arguments of the query string, in the order
 * received; returns how many. They live as long as the request. */
size_t fake_http_query(const struct fake_http_request *req, struct fake_http_arg *out, size_t max);
/* Value of query argument `name`, or NULL. */
const char *fake_http_query_value(const struct fake_http_request *req, const char *name);

/* A malloc'd copy of the body with a NUL after it (it may hold NULs), to keep
 * beyond the request. */
char *fake_http_body_dup(const struct fake_http_request *req);

#define FAKE_HTTP_MAX_HEADERS 8

struct fake_http_response {
    int status;               /* 0 is answered as 500 */
    char *body;               /* malloc'd, owned by the server after the handler returns */
    size_t body_len;          /* bytes of body; 0: strlen(body) (set for binary bodies) */
    const char *content_type; /* static string; default application/json */
    char *header_names[FAKE_HTTP_MAX_HEADERS];
    char *header_values[FAKE_HTTP_MAX_HEADERS];
    int n_headers;
    int delay_ms;             /* answer only after this long (cut short by stop) */
};

/* Adds a response header (copied). */
void fake_http_response_header(struct fake_http_response *r, const char *name, const char *value);

/* Sets the status and a copy of `body`. */
void fake_http_respond(struct fake_http_response *r, int status, const char *body);
/* Sets the status and a copy of `len` bytes (they may hold NULs) of type
 * `content_type` (a static string). */
void fake_http_respond_bytes(struct fake_http_response *r, int status, const void *data, size_t len,
                             const char *content_type);
/* Sets the status and `body` as compact JSON; takes the reference to body. */
void fake_http_respond_json(struct fake_http_response *r, int status, json_t *body);
/* Drops the body and the headers set so far (status, type and delay stay), so
 * a handler can answer something else after all. */
void fake_http_response_clear(struct fake_http_response *r);

typedef void (*fake_http_handler)(void *ctx, const struct fake_http_request *req,
                                  struct fake_http_response *resp);

/* Starts a server. Bodies above `max_body` bytes are answered 413 by the server
 * itself, without calling the handler. Returns NULL on failure. */
struct fake_http *fake_http_start(fake_http_handler handler, void *ctx, size_t max_body);
int fake_http_port(const struct fake_http *s);
void fake_http_stop(struct fake_http *s);

#endif
