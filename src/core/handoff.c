/* handoff.c - build and read serverless work payloads (see handoff.h). */
#include "core/handoff.h"

#include <assert.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

static json_t *event_object(const struct handoff_event *ev, bool with_event)
{
    json_t *o = json_pack("{s:s, s:s, s:I}", "id", ev->event_id, "chat", ev->chat_id ? ev->chat_id : "", "ts",
                          (json_int_t)ev->timestamp_ms);
    if (o && with_event && ev->event_json)
        json_object_set_new(o, "event", json_string(ev->event_json));
    return o;
}

/* Appends one payload carrying `events`. Packing an array that exists and
 * dumping the result fail only when memory runs out, which aborts. */
static void emit(struct handoff_payloads *out, json_t *events)
{
    json_t *root = json_pack("{s:s, s:O}", "linebot", "work", "events", events);
    char *body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    assert(body != NULL);
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 4;
        out->bodies = xrealloc_array(out->bodies, out->cap, sizeof *out->bodies);
        out->lens = xrealloc_array(out->lens, out->cap, sizeof *out->lens);
    }
    out->bodies[out->n] = body;
    out->lens[out->n] = strlen(body);
    out->n++;
}

int handoff_build(const struct handoff_event *events, size_t n, bool ids_only, size_t max_bytes,
                  struct handoff_payloads *out)
{
    memset(out, 0, sizeof *out);
    static const size_t envelope = 40; /* {"linebot":"work","events":[...]} */
    json_t *batch = json_array();
    size_t batch_bytes = envelope;
    for (size_t i = 0; i < n; i++) {
        bool with_event = !ids_only && events[i].event_json;
        json_t *o = event_object(&events[i], with_event);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        size_t size = s ? strlen(s) + 1 : 0;
        free(s);
        if (!o)
            goto bad; /* an id or chat that is not UTF-8: jansson refuses it */
        if (with_event && size + envelope > max_bytes) {
            json_decref(o); /* too big to travel: the id at least */
            o = event_object(&events[i], false);
            size = strlen(events[i].event_id) + 64;
        }
        if (json_array_size(batch) > 0 && batch_bytes + size > max_bytes) {
            emit(out, batch);
            json_array_clear(batch);
            batch_bytes = envelope;
        }
        json_array_append_new(batch, o);
        batch_bytes += size;
    }
    if (json_array_size(batch) > 0)
        emit(out, batch);
    json_decref(batch);
    return 0;
bad:
    json_decref(batch);
    handoff_payloads_free(out);
    return -1;
}

void handoff_payloads_free(struct handoff_payloads *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->bodies[i]);
    free(p->bodies);
    free(p->lens);
    memset(p, 0, sizeof *p);
}

int handoff_parse(const char *json, size_t len, struct handoff_event **events, size_t *n)
{
    *events = NULL;
    *n = 0;
    json_t *root = json_loadb(json, len, 0, NULL);
    const char *tag = json_string_value(json_object_get(root, "linebot"));
    if (!tag || strcmp(tag, "work") != 0) {
        json_decref(root);
        return 0;
    }
    json_t *arr = json_object_get(root, "events");
    if (!json_is_array(arr)) {
        json_decref(root);
        return -1;
    }
    size_t count = json_array_size(arr);
    struct handoff_event *out = xcalloc(count, sizeof *out);
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
        json_t *o = json_array_get(arr, i);
        const char *id = json_string_value(json_object_get(o, "id"));
        if (!id || !id[0])
            continue;
        const char *chat = json_string_value(json_object_get(o, "chat"));
        const char *ev = json_string_value(json_object_get(o, "event"));
        out[k].event_id = xstrdup(id);
        out[k].chat_id = xstrdup(chat ? chat : "");
        out[k].timestamp_ms = json_integer_value(json_object_get(o, "ts"));
        out[k].event_json = ev ? xstrdup(ev) : NULL;
        k++;
    }
    json_decref(root);
    *events = out;
    *n = k;
    return 1;
}

void handoff_events_free(struct handoff_event *events, size_t n)
{
    for (size_t i = 0; events && i < n; i++) {
        free(events[i].event_id);
        free(events[i].chat_id);
        free(events[i].event_json);
    }
    free(events);
}
