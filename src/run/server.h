/* server.h - the HTTP front door of `linebot serve` (libmicrohttpd).
 *
 * POST /callback hands the raw body to ingest; GET /healthz checks the store;
 * GET /metrics renders the Prometheus text. Bodies over 1 MiB get 413. */
#ifndef LINEBOT_SERVER_H
#define LINEBOT_SERVER_H

#include "config.h"
#include "run/ingest.h"

#define SERVER_MAX_BODY (1024 * 1024)

struct server;

/* Listens on cfg->host:cfg->port. Returns NULL with `err` set on failure. */
struct server *server_start(const struct config *cfg, struct ingest *ingest, char *err, size_t errlen);

/* Stops accepting, waits for requests in progress, frees. */
void server_stop(struct server *srv);

#endif
