/* json_items.c - the rules shared by the settings that are a JSON array of
 * named items (see json_items.h). */
#include "core/json_items.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

json_t *json_items_load(const char *setting, const char *json, size_t max, const char *noun, char *err,
                        size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loads(json ? json : "", JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "%s is not valid JSON (line %d, column %d): %s", setting, jerr.line, jerr.column,
                 jerr.text);
        return NULL;
    }
    if (!json_is_array(root) || json_array_size(root) == 0 || json_array_size(root) > max) {
        snprintf(err, errlen, "%s must be a JSON array of 1 to %zu %s", setting, max, noun);
        json_decref(root);
        return NULL;
    }
    return root;
}

int json_items_fail(struct json_items *p, const char *field, const char *fmt, ...)
{
    char complaint[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(complaint, sizeof complaint, fmt, ap);
    va_end(ap);
    if (p->name)
        snprintf(p->err, p->errlen, "%s item %zu (\"%s\") field %s: %s", p->setting, p->item, p->name, field,
                 complaint);
    else
        snprintf(p->err, p->errlen, "%s item %zu field %s: %s", p->setting, p->item, field, complaint);
    return -1;
}

bool json_items_name_valid(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

int json_items_string(struct json_items *p, json_t *item, const char *field, bool required, const char **out)
{
    json_t *v = json_object_get(item, field);
    *out = NULL;
    if (!v || json_is_null(v))
        return required ? json_items_fail(p, field, "is required") : 0;
    if (!json_is_string(v))
        return json_items_fail(p, field, "must be a string");
    *out = json_string_value(v);
    if (required && !(*out)[0])
        return json_items_fail(p, field, "must not be empty");
    return 0;
}

void json_items_warn_unknown(const struct json_items *p, json_t *item, const char *const *known, size_t n_known,
                             char ***warnings, size_t *n_warnings)
{
    const char *field;
    json_t *ignored;
    json_object_foreach(item, field, ignored) {
        bool is_known = false;
        for (size_t i = 0; i < n_known && !is_known; i++)
            is_known = strcmp(field, known[i]) == 0;
        if (is_known)
            continue;
        *warnings = xrealloc_array(*warnings, *n_warnings + 1, sizeof **warnings);
        (*warnings)[(*n_warnings)++] = xasprintf("%s item %zu (\"%s\"): unknown field \"%.64s\" is ignored",
                                                 p->setting, p->item, p->name ? p->name : "", field);
    }
}
