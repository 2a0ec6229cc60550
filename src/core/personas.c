/* personas.c - persona presets (see personas.h).
 *
 * LINEBOT_PERSONAS is checked like LINEBOT_MODELS: in item order, and the
 * first problem ends the parse with a line that names the item and the
 * field, so that the operator can fix it from the start-up error alone.
 * Unknown fields are only warned about. */
#include "core/personas.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/format.h"
#include "core/postback.h"

static const char *const known_fields[] = {"name", "label", "prompt"};

/* "/persona set" and "/persona reset" are commands: no preset may hide them. */
static const char *const reserved_names[] = {"set", "reset"};

struct parse {
    char *err;
    size_t errlen;
    size_t item;      /* 1-based, for messages */
    const char *name; /* the item's name when known */
};

__attribute__((format(printf, 3, 4))) static int fail(struct parse *p, const char *field, const char *fmt, ...)
{
    char complaint[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(complaint, sizeof complaint, fmt, ap);
    va_end(ap);
    if (p->name)
        snprintf(p->err, p->errlen, "LINEBOT_PERSONAS item %zu (\"%s\") field %s: %s", p->item, p->name, field,
                 complaint);
    else
        snprintf(p->err, p->errlen, "LINEBOT_PERSONAS item %zu field %s: %s", p->item, field, complaint);
    return -1;
}

static bool name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PERSONAS_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* A string field: NULL when absent; -1 when present but not a string. */
static int get_string(struct parse *p, json_t *item, const char *field, bool required, const char **out)
{
    json_t *v = json_object_get(item, field);
    *out = NULL;
    if (!v || json_is_null(v))
        return required ? fail(p, field, "is required") : 0;
    if (!json_is_string(v))
        return fail(p, field, "must be a string");
    *out = json_string_value(v);
    if (required && !(*out)[0])
        return fail(p, field, "must not be empty");
    return 0;
}

static void warn(struct persona_catalogue *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct persona_catalogue *c, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->warnings = xrealloc_array(c->warnings, c->n_warnings + 1, sizeof *c->warnings);
    c->warnings[c->n_warnings++] = xstrdup(line);
}

static int parse_item(struct parse *p, json_t *item, struct persona_catalogue *c, struct persona *out)
{
    const char *name, *label, *prompt;
    if (!json_is_object(item))
        return fail(p, "(all)", "must be an object such as {\"name\": \"pirate\", \"prompt\": \"Talk like a pirate.\"}");
    if (get_string(p, item, "name", true, &name) != 0)
        return -1;
    if (!name_valid(name))
        return fail(p, "name", "must be 1 to %d characters of A-Z a-z 0-9 . _ -", PERSONAS_NAME_MAX);
    p->name = name;
    for (size_t i = 0; i < sizeof reserved_names / sizeof reserved_names[0]; i++)
        if (strcasecmp(name, reserved_names[i]) == 0)
            return fail(p, "name", "must not be \"%s\" (/persona %s is a command)", reserved_names[i],
                        reserved_names[i]);
    for (size_t i = 0; i < c->n; i++)
        if (strcasecmp(c->items[i].name, name) == 0)
            return fail(p, "name", "is used twice (also item %zu; names are compared regardless of case)", i + 1);
    if (get_string(p, item, "label", false, &label) != 0 || get_string(p, item, "prompt", true, &prompt) != 0)
        return -1;
    if (label && (!label[0] || utf16_len(label, strlen(label)) > PERSONAS_LABEL_MAX))
        return fail(p, "label", "must be 1 to %d characters (LINE's limit for a button)", PERSONAS_LABEL_MAX);
    if (utf16_len(prompt, strlen(prompt)) > PERSONAS_PROMPT_MAX)
        return fail(p, "prompt", "must be at most %d characters", PERSONAS_PROMPT_MAX);

    const char *field;
    json_t *ignored;
    json_object_foreach(item, field, ignored) {
        bool known = false;
        for (size_t i = 0; i < sizeof known_fields / sizeof known_fields[0]; i++)
            known = known || strcmp(field, known_fields[i]) == 0;
        if (!known)
            warn(c, "LINEBOT_PERSONAS item %zu (\"%s\"): unknown field \"%.64s\" is ignored", p->item, name, field);
    }
    out->name = xstrdup(name);
    out->label = label ? xstrdup(label) : NULL;
    out->prompt = xstrdup(prompt);
    return 0;
}

int personas_parse(const char *json, struct persona_catalogue *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_loads(json ? json : "", JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "LINEBOT_PERSONAS is not valid JSON (line %d, column %d): %s", jerr.line,
                 jerr.column, jerr.text);
        return -1;
    }
    if (!json_is_array(root) || json_array_size(root) == 0 || json_array_size(root) > PERSONAS_MAX) {
        snprintf(err, errlen, "LINEBOT_PERSONAS must be a JSON array of 1 to %d presets", PERSONAS_MAX);
        json_decref(root);
        return -1;
    }
    out->items = xcalloc(json_array_size(root), sizeof *out->items);
    size_t i;
    json_t *item;
    json_array_foreach(root, i, item) {
        struct parse p = {.err = err, .errlen = errlen, .item = i + 1};
        struct persona one = {0};
        if (parse_item(&p, item, out, &one) != 0) {
            json_decref(root);
            personas_free(out);
            return -1;
        }
        out->items[out->n++] = one;
    }
    json_decref(root);
    return 0;
}

void personas_free(struct persona_catalogue *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->items[i].name);
        free(c->items[i].label);
        free(c->items[i].prompt);
    }
    free(c->items);
    for (size_t i = 0; i < c->n_warnings; i++)
        free(c->warnings[i]);
    free(c->warnings);
    memset(c, 0, sizeof *c);
}

const struct persona *personas_find(const struct persona_catalogue *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->n; i++)
        if (strcasecmp(c->items[i].name, name) == 0)
            return &c->items[i];
    return NULL;
}

const char *personas_prompt(const struct persona_catalogue *c, const char *preset, const char *custom)
{
    if (preset) {
        const struct persona *p = personas_find(c, preset);
        return p ? p->prompt : NULL;
    }
    return custom && custom[0] ? custom : NULL;
}

/* ---- the /persona answer ---- */

#define MENU_MAX 4500    /* under one LINE text message (5000) */
#define SHOWN_CUSTOM 200 /* a custom persona is shown back this far (UTF-16 units) */

char *personas_menu_text(const struct persona_catalogue *c, const char *preset, const char *custom,
                         const char *prefix, enum lang lang)
{
    struct buf b;
    buf_init(&b, MENU_MAX);
    int rc = 0;
    if (prefix)
        rc |= buf_addf(&b, "%s\n", prefix);
    const struct persona *current = preset ? personas_find(c, preset) : NULL;
    char *line;
    if (current) {
        line = texts_fill(texts_builtin(TEXT_PERSONA_CURRENT, lang), current->name);
    } else if (!preset && custom && custom[0]) {
        size_t cut = utf16_to_byte_offset(custom, strlen(custom), SHOWN_CUSTOM);
        char *shown = xasprintf("%.*s%s", (int)cut, custom, custom[cut] ? "..." : "");
        line = texts_fill(texts_builtin(TEXT_PERSONA_CUSTOM, lang), shown);
        free(shown);
    } else {
        line = xstrdup(texts_builtin(TEXT_PERSONA_NONE, lang));
    }
    rc |= buf_adds(&b, line);
    free(line);
    if (c && c->n) {
        rc |= buf_addf(&b, "\n%s", texts_builtin(TEXT_PERSONA_LIST, lang));
        for (size_t i = 0; i < c->n; i++) {
            const struct persona *p = &c->items[i];
            rc |= buf_addf(&b, "\n%s %s", p == current ? "*" : "-", p->name);
            if (p->label && strcmp(p->label, p->name) != 0)
                rc |= buf_addf(&b, " (%s)", p->label);
        }
        rc |= buf_addf(&b, "\n%s", texts_builtin(TEXT_PERSONA_HOWTO_PICK, lang));
    }
    rc |= buf_addf(&b, "\n%s", texts_builtin(TEXT_PERSONA_HOWTO_SET, lang));
    (void)rc; /* 32 names and labels and a cut custom text fit well under the cap */
    return buf_take(&b, NULL);
}

void personas_menu_buttons(const struct persona_catalogue *c, struct quick_reply *qr)
{
    memset(qr, 0, sizeof *qr);
    for (size_t i = 0; c && i < c->n && qr->n < QUICK_REPLY_MAX; i++) {
        const struct persona *p = &c->items[i];
        char data[QUICK_REPLY_DATA_MAX + 1];
        if (postback_format(POSTBACK_PERSONA, p->name, data, sizeof data) != 0)
            continue; /* cannot happen: a valid name always fits */
        /* A name is ASCII of at most 32: cut to LINE's 20 for the label. */
        char cut[QUICK_REPLY_LABEL_MAX + 1];
        snprintf(cut, sizeof cut, "%s", p->name);
        char *shown = xasprintf("/persona %s", p->name);
        (void)quick_reply_add(qr, p->label ? p->label : cut, data, shown);
        free(shown);
    }
}

char *personas_picked_text(const struct persona *p, enum lang lang)
{
    char *shown = p->label && strcmp(p->label, p->name) != 0 ? xasprintf("%s (%s)", p->name, p->label)
                                                              : xstrdup(p->name);
    char *text = texts_fill(texts_builtin(TEXT_PERSONA_PICKED, lang), shown);
    free(shown);
    return text;
}
