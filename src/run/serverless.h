/* serverless.h - what the Lambda and Function Compute front doors share: the
 * asynchronous hand-off of a webhook's events, the work invocation that
 * answers them, and the housekeeping that rides on invocations (there is no
 * background thread between them). */
#ifndef LINEBOT_SERVERLESS_H
#define LINEBOT_SERVERLESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "core/handoff.h"
#include "io/http_client.h"
#include "run/ingest.h"
#include "run/selfinvoke.h"

/* Hands `added` to asynchronous invocations of this function (Lambda or FC by
 * cfg->platform; `fc_creds` only for FC). With a shared store only ids travel.
 * When a payload is not accepted, its events are taken out of the inbox again,
 * so LINE's redelivery is not dropped as a duplicate. Returns 0 when every
 * event was handed off. */
int serverless_hand_off(const struct config *cfg, struct http_client *http, struct ingest *ingest,
                        const struct ingest_added *added, const struct fc_credentials *fc_creds);

/* The work invocation: stores the events that travelled (deduplicated), then
 * drains the inbox within `deadline_ms` (clock_monotonic_ms; 0 = none).
 * Returns 0, or -1 when the events could not be stored (the platform retries). */
int serverless_work(const struct config *cfg, struct ingest *ingest, const struct handoff_event *events, size_t n,
                    int64_t deadline_ms, const char *request_id);

/* Drains the inbox within `deadline_ms` (0 = none), after the housekeeping
 * a server's pool does in the background: parked answers nobody asked for
 * within LINEBOT_PROGRESS_WAIT_S go back to the inbox, and this drain pushes
 * them (or drops them, push fallback off). The housekeeping runs at most
 * once a second per instance; the retention purge and the memory
 * extractions of idle users every ten minutes (worker_retention). Call it only where the answer to the caller
 * may wait for the drain: a work invocation, an inline webhook, a schedule.
 * Returns worker_pool_drain's result. */
int serverless_drain(const struct config *cfg, struct ingest *ingest, int64_t deadline_ms, const char *request_id);

/* Whether an invocation's payload is a schedule's: an EventBridge
 * "Scheduled Event" (Lambda) or a timer trigger's (FC: triggerTime and
 * triggerName). Any bytes. */
bool serverless_is_schedule(const char *body, size_t len);

#endif
