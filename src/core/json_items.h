/* json_items.h - the rules shared by the settings that are a JSON array of
 * named items (LINEBOT_MODELS, LINEBOT_PERSONAS).
 *
 * Both are checked the same way: in item order, and the first problem ends
 * the parse with one line that names the setting, the item and the field
 * ("LINEBOT_MODELS item 2 (\"fast\") field base_url: ..."), so that the
 * operator can fix the setting from the start-up error alone. Unknown fields
 * are only warned about: a setting written for a newer release still starts. */
#ifndef LINEBOT_JSON_ITEMS_H
#define LINEBOT_JSON_ITEMS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Where a parse is, for its messages. */
struct json_items {
    const char *setting; /* "LINEBOT_MODELS" */
    char *err;
    size_t errlen;
    size_t item;         /* 1-based */
    const char *name;    /* the item's name once it is known, else NULL */
};

/* The array in `json` (NULL reads as ""), or NULL with one line in `err`:
 * not JSON, or not an array of 1 to `max` items (`noun` names them, as in
 * "a JSON array of 1 to 32 models"). The caller json_decref's it. */
json_t *json_items_load(const char *setting, const char *json, size_t max, const char *noun, char *err,
                        size_t errlen);

/* Writes "SETTING item N ("name") field F: complaint" into p->err; returns -1. */
int json_items_fail(struct json_items *p, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A name users type: 1 to `max` characters of A-Z a-z 0-9 . _ - */
bool json_items_name_valid(const char *s, size_t max);

/* A string field into *out (NULL when absent or null). Returns 0, or -1
 * (json_items_fail) when it is not a string, or `required` and absent or "". */
int json_items_string(struct json_items *p, json_t *item, const char *field, bool required, const char **out);

/* Appends one warning (malloc'd) to *warnings for each field of `item` that
 * is not in `known`. */
void json_items_warn_unknown(const struct json_items *p, json_t *item, const char *const *known, size_t n_known,
                             char ***warnings, size_t *n_warnings);

#endif
