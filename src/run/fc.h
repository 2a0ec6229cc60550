/* fc.h - the Alibaba Function Compute 3.0 front door (custom runtime), as
 * run/lambda.c is AWS Lambda's.
 *
 * FC runs `linebot serve` as an HTTP server on FC_CUSTOM_LISTEN_PORT and
 * tells requests apart by x-fc-control-path. This door registers its routes
 * with run/server.c:
 *
 *   x-fc-control-path: /initialize   the initializer: 200 (any body is ignored)
 *   x-fc-control-path: /invoke       an event invocation: the hand-off payload
 *                                    of an earlier webhook; its events are
 *                                    stored and answered within the invocation
 *   POST /callback                   the HTTP trigger's LINE webhook: verify,
 *                                    store, then hand the events to an
 *                                    asynchronous invocation of this function
 *                                    (LINEBOT_ASYNC=self) or answer them in
 *                                    the request itself (inline)
 *
 * and frames every request as FC's console and Simple Log Service expect:
 * "FC Invoke Start/End RequestId: <id>" lines around it, x-fc-request-id in
 * every log line written for it, and x-fc-status on the answer: 200 when
 * the function did its job (even when that job was refusing a bad webhook),
 * 404 when it failed and FC should retry an asynchronous invocation.
 *
 * An FC instance may be frozen as soon as a response is out, so nothing is
 * left to background threads: all work happens inside a request. */
#ifndef LINEBOT_FC_H
#define LINEBOT_FC_H

#include <stddef.h>

#include "config.h"
#include "run/ingest.h"
#include "run/server.h"

#define FC_MAX_EVENT_BODY (6 * 1024 * 1024) /* FC's synchronous payload limit */

struct fc;

/* The door for `cfg` (platform FC) over `ingest`; both must outlive it.
 * Never NULL (allocation failure aborts, core/alloc.h). */
struct fc *fc_new(const struct config *cfg, struct ingest *ingest);

/* Its routes and hooks, for server_start. Valid until fc_free. */
const struct server_door *fc_door(struct fc *fc);

/* After server_stop. NULL is fine. */
void fc_free(struct fc *fc);

#endif
