/* selfinvoke.h - asynchronous invocation of this same function, so that the
 * webhook invocation can answer LINE at once and the chat work runs in an
 * invocation of its own.
 *
 * AWS Lambda: POST {endpoint}/2015-03-31/functions/{name}/invocations with
 * X-Amz-Invocation-Type: Event, SigV4-signed with the runtime's temporary
 * credentials; 202 means accepted. Alibaba Function Compute 3.0: POST
 * {endpoint}/2023-03-30/functions/{name}/invocations with
 * x-fc-invocation-type: Async, ACS3-HMAC-SHA256-signed as Alibaba's SDK signs
 * it (host, content-type and the x-acs-* headers; the invocation type is sent
 * unsigned); 202 means accepted. The endpoint is parsed with libcurl's URL
 * API, so the Host that is signed is the Host libcurl sends. */
#ifndef LINEBOT_SELFINVOKE_H
#define LINEBOT_SELFINVOKE_H

#include <stddef.h>

#include "config.h"
#include "io/http_client.h"

/* Credentials for Function Compute: the per-request x-fc-* headers when the
 * platform gave them, else the ALIBABA_CLOUD_* settings. */
struct fc_credentials {
    const char *access_key_id;
    const char *access_key_secret;
    const char *security_token; /* may be NULL */
};

/* Returns 0 when the platform accepted the invocation, -1 with `err` set. */
int selfinvoke_lambda(const struct config *cfg, struct http_client *http, const char *payload, size_t len,
                      char *err, size_t errlen);
int selfinvoke_fc(const struct config *cfg, struct http_client *http, const struct fc_credentials *creds,
                  const char *payload, size_t len, char *err, size_t errlen);

/* The Host header and the path that an invoke of `endpoint`
 * ("https://host[:port][/base]") plus `api_path` (percent-encoded) signs and
 * sends: the host as libcurl writes it, ":port" only when not the scheme's
 * default, the base path without a trailing '/' then api_path. 0, or -1
 * with `err` set. */
int selfinvoke_target(const char *endpoint, const char *api_path, char *host, size_t host_cap, char *path,
                      size_t path_cap, char *err, size_t errlen);

#endif
