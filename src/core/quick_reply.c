/* quick_reply.c - LINE quick reply buttons within LINE's limits (see
 * quick_reply.h). */
#include "core/quick_reply.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/format.h"
#include "core/utf8.h"

static bool fits(const char *s, size_t max)
{
    if (!s || !s[0])
        return false;
    size_t len = strlen(s);
    return utf8_valid(s, len) && utf16_len(s, len) <= max;
}

int quick_reply_add(struct quick_reply *qr, const char *label, const char *data, const char *display_text)
{
    if (qr->n >= QUICK_REPLY_MAX || !fits(label, QUICK_REPLY_LABEL_MAX) || !fits(data, QUICK_REPLY_DATA_MAX) ||
        !fits(display_text, QUICK_REPLY_TEXT_MAX))
        return -1;
    struct quick_reply_item *it = &qr->items[qr->n++];
    it->label = xstrdup(label);
    it->data = xstrdup(data);
    it->display_text = xstrdup(display_text);
    return 0;
}

void quick_reply_free(struct quick_reply *qr)
{
    for (size_t i = 0; i < qr->n; i++) {
        free(qr->items[i].label);
        free(qr->items[i].data);
        free(qr->items[i].display_text);
    }
    memset(qr, 0, sizeof *qr);
}

void quick_reply_copy(struct quick_reply *to, const struct quick_reply *from)
{
    memset(to, 0, sizeof *to);
    for (size_t i = 0; i < from->n; i++)
        (void)quick_reply_add(to, from->items[i].label, from->items[i].data, from->items[i].display_text);
}

json_t *quick_reply_json(const struct quick_reply *qr)
{
    if (!qr || qr->n == 0)
        return NULL;
    json_t *items = json_array();
    for (size_t i = 0; i < qr->n; i++) {
        const struct quick_reply_item *it = &qr->items[i];
        json_array_append_new(items, json_pack("{s:s, s:{s:s, s:s, s:s, s:s}}", "type", "action", "action",
                                               "type", "postback", "label", it->label, "data", it->data,
                                               "displayText", it->display_text));
    }
    return json_pack("{s:o}", "items", items);
}

void quick_reply_from_json(const json_t *json, struct quick_reply *qr)
{
    memset(qr, 0, sizeof *qr);
    const json_t *items = json_object_get(json, "items");
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item) {
        const json_t *action = json_object_get(item, "action");
        (void)quick_reply_add(qr, json_string_value(json_object_get(action, "label")),
                              json_string_value(json_object_get(action, "data")),
                              json_string_value(json_object_get(action, "displayText")));
    }
}
