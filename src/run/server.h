/* server.h - the libmicrohttpd glue: a listener and a route table.
 *
 * A request is matched against a table of routes (method + path, optionally a
 * header value), as h2o walks its handlers per path: the first route that
 * matches gets the request, once its body is in. `linebot serve` uses the
 * server's own routes:
 *
 *   POST /callback   the raw body to ingest (verify, parse, store)
 *   GET  /healthz    200 when the store can be written (store_ping), else 503
 *   GET  /metrics    the Prometheus text
 *
 * A front door (run/fc.c for Function Compute) passes a `struct server_door`:
 * its routes are walked first, so it can take /callback over and add routes
 * of its own, and its hooks frame every request (FC's start and end lines,
 * its request id in the logs, x-fc-status).
 *
 * Everything about one request's answer (status, body, extra headers) lives
 * in its `struct server_request`, created when the request arrives and freed
 * when it is complete; nothing is kept per thread. A path matched with the
 * wrong method gets 405 with Allow; anything else unmatched gets 404. Bodies
 * over a route's cap are not read: the handler sees `too_large`. */
#ifndef LINEBOT_SERVER_H
#define LINEBOT_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "core/buf.h"
#include "run/ingest.h"

#define SERVER_MAX_BODY (1024 * 1024)     /* a LINE webhook */
#define SERVER_MAX_RESPONSE_HEADERS 4

struct server;
struct MHD_Connection;

struct server_header {
    const char *name, *value; /* static strings */
};

/* One request. The server fills the first block; a handler answers with
 * server_reply / server_reply_json and may add headers (server_set_header). */
struct server_request {
    const char *method;
    const char *path;           /* without the query string */
    const char *body;           /* NUL-terminated, "" when none (it may hold NULs: use body_len) */
    size_t body_len;
    bool too_large;             /* over the route's cap: nothing of it was kept */
    struct MHD_Connection *conn;

    /* The answer. A handler that does not reply leaves 500. */
    unsigned int status;
    const char *content_type;
    char *response;             /* malloc'd */
    struct server_header headers[SERVER_MAX_RESPONSE_HEADERS];
    size_t n_headers;

    /* The server's bookkeeping. */
    struct server *server;
    const struct server_route *route;
    void *route_ctx;            /* what the route's handler gets: the door's ctx, or the server */
    struct buf body_buf;        /* holds `body`, capped at the route's max_body */
    char id[32];
};

typedef void (*server_handler)(void *ctx, struct server_request *req);

struct server_route {
    const char *method;         /* "POST", "GET" (HEAD too); NULL: any */
    const char *path;           /* exact; NULL: any */
    const char *header;         /* when set, only requests whose `header` is ... */
    const char *header_value;   /* ... exactly this */
    size_t max_body;            /* the body is read up to this; 0: it is discarded */
    server_handler handler;
};

/* A front door's routes and hooks; `ctx` goes to each. Hooks may be NULL. */
struct server_door {
    const struct server_route *routes;
    size_t n_routes;
    void *ctx;
    void (*begin)(void *ctx, struct server_request *req); /* the request arrived (headers in) */
    void (*enter)(void *ctx, struct server_request *req); /* just before its handler runs */
    void (*end)(void *ctx, struct server_request *req);   /* it is complete (answered or dropped) */
};

/* Listens on cfg->host:cfg->port; `door` may be NULL (serve mode) and must
 * outlive the server. Returns NULL with `err` set on failure. */
struct server *server_start(const struct config *cfg, struct ingest *ingest, const struct server_door *door,
                            char *err, size_t errlen);

/* Stops accepting, waits for requests in progress, frees. NULL is fine. */
void server_stop(struct server *srv);

/* ---- for handlers -------------------------------------------------------- */

/* "req-N": this server's own number for the request, given on first use
 * (webhooks are numbered 1, 2, ... in the logs). */
const char *server_request_id(struct server_request *req);

/* A request header (case-insensitive name), or NULL. */
const char *server_header(const struct server_request *req, const char *name);

/* Answers `status` with `body` (copied). */
void server_reply(struct server_request *req, unsigned int status, const char *content_type, const char *body);
/* Answers {"<key>":"<text>"} (text must need no JSON escaping). */
void server_reply_json(struct server_request *req, unsigned int status, const char *key, const char *text);
/* Adds a response header, or replaces the value of one already set. */
void server_set_header(struct server_request *req, const char *name, const char *value);

/* The answer to a webhook: `status` with {"status":reason} when 200, else
 * {"error":reason}. When the body was over the cap, answers 413 itself and
 * returns false; the handler then has nothing more to do. */
bool server_webhook_fits(struct server_request *req);
void server_reply_webhook(struct server_request *req, int status, const char *reason);

#endif
