/* event_cache.h - events ingest has just parsed, handed to the worker that
 * claims them, so that an event is parsed once (see event_cache.c). */
#ifndef LINEBOT_EVENT_CACHE_H
#define LINEBOT_EVENT_CACHE_H

#include <pthread.h>
#include <stdbool.h>

#include "core/webhook.h"

#define EVENT_CACHE_SLOTS 128

struct event_cache {
    pthread_mutex_t lock;
    struct line_event slots[EVENT_CACHE_SLOTS]; /* event_id NULL: free */
    unsigned next;                              /* the slot the next put overwrites */
};

void event_cache_init(struct event_cache *c);
void event_cache_destroy(struct event_cache *c);

/* Keeps `ev` (its fields are moved: *ev is left zeroed), replacing the
 * oldest entry when full. `ev` must be exactly the event the inbox row with
 * its id stores. */
void event_cache_put(struct event_cache *c, struct line_event *ev);

/* Moves the event with this id into *out (and forgets it): true. False when
 * it is not kept (another process ingested it, a restart, or it was pushed
 * out), and the caller parses the stored payload instead. */
bool event_cache_take(struct event_cache *c, const char *event_id, struct line_event *out);

#endif
