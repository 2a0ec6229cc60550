/* handoff.h - the payload a serverless webhook invocation hands to the
 * asynchronous invocation of the same function that does the chat work.
 *
 * Pure. {"linebot":"work","events":[{"id":..,"chat":..,"ts":..,"event":..}]}:
 * with a shared store (PostgreSQL) only ids travel, since the events are
 * already in the store; otherwise (SQLite in /tmp, one store per instance) the
 * events themselves travel, and the payload is split to stay under the
 * platform's cap for asynchronous payloads. */
#ifndef LINEBOT_HANDOFF_H
#define LINEBOT_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HANDOFF_MAX_LAMBDA (256 * 1024) /* conservative: older regions cap async payloads at 256 KB */
#define HANDOFF_MAX_FC (128 * 1024)

struct handoff_event {
    char *event_id;
    char *chat_id;
    int64_t timestamp_ms;
    char *event_json; /* NULL when only the id travels */
};

struct handoff_payloads {
    char **bodies;
    size_t *lens;
    size_t n;
    size_t cap; /* room in bodies and lens */
};

/* Builds one or more payloads, each at most `max_bytes`, carrying every event
 * (ids only when `ids_only`). An event too big for a payload of its own is
 * sent as id only (it is in the store when the store is shared; otherwise the
 * work invocation cannot see it and says so). Returns 0, or -1 when an id or
 * chat cannot go into JSON (NULL, or not UTF-8); memory running out aborts. */
int handoff_build(const struct handoff_event *events, size_t n, bool ids_only, size_t max_bytes,
                  struct handoff_payloads *out);
void handoff_payloads_free(struct handoff_payloads *p);

/* Reads a work payload. Returns 1 when it is one (events filled), 0 when the
 * JSON is something else, -1 when it is a malformed work payload. */
int handoff_parse(const char *json, size_t len, struct handoff_event **events, size_t *n);
void handoff_events_free(struct handoff_event *events, size_t n);

#endif
