/* event_cache.c - events ingest has just parsed, handed to the worker that
 * claims them, so that an event is parsed once.
 *
 * In a server the webhook and its work are in one process: ingest parses the
 * body, stores each event's canonical JSON in the inbox, and puts the parsed
 * event here; the worker that claims the row takes it back by id instead of
 * parsing the stored JSON again. The inbox stays the truth: ingest puts only
 * events it has just inserted (so an entry is exactly what the row holds),
 * and a miss (a restart, another process, a backlog longer than the ring)
 * costs one parse of the stored payload, as before.
 *
 * A ring of EVENT_CACHE_SLOTS under one mutex: a put overwrites the oldest
 * slot, a take scans for the id. Both are short next to the inbox commit and
 * the HTTP exchanges around them. */
#include "run/event_cache.h"

#include <string.h>

void event_cache_init(struct event_cache *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
}

void event_cache_destroy(struct event_cache *c)
{
    for (unsigned i = 0; i < EVENT_CACHE_SLOTS; i++)
        line_event_free(&c->slots[i]);
    pthread_mutex_destroy(&c->lock);
}

void event_cache_put(struct event_cache *c, struct line_event *ev)
{
    if (!ev->event_id) {
        line_event_free(ev);
        return;
    }
    struct line_event old;
    pthread_mutex_lock(&c->lock);
    old = c->slots[c->next];
    c->slots[c->next] = *ev;
    c->next = (c->next + 1) % EVENT_CACHE_SLOTS;
    pthread_mutex_unlock(&c->lock);
    memset(ev, 0, sizeof *ev);
    line_event_free(&old); /* outside the lock */
}

bool event_cache_take(struct event_cache *c, const char *event_id, struct line_event *out)
{
    bool found = false;
    pthread_mutex_lock(&c->lock);
    for (unsigned i = 0; i < EVENT_CACHE_SLOTS; i++) {
        struct line_event *slot = &c->slots[i];
        if (slot->event_id && slot->event_id[0] == event_id[0] && strcmp(slot->event_id, event_id) == 0) {
            *out = *slot;
            memset(slot, 0, sizeof *slot);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}
