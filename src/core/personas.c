/* personas.c - persona presets (see personas.h).
 *
 * LINEBOT_PERSONAS is checked like LINEBOT_MODELS, with the same rules
 * (core/json_items.h): in item order, and the first problem ends the parse
 * with a line that names the item and the field, so that the operator can
 * fix it from the start-up error alone. Unknown fields are only warned about. */
#include "core/personas.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/format.h"
#include "core/json_items.h"
#include "core/postback.h"

static const char *const known_fields[] = {"name", "label", "prompt"};

/* "/persona set" and "/persona reset" are commands: no preset may hide them. */
static const char *const reserved_names[] = {"set", "reset"};

static int parse_item(struct json_items *p, json_t *item, struct persona_catalogue *c, struct persona *out)
{
    const char *name, *label, *prompt;
    if (!json_is_object(item))
        return json_items_fail(p, "(all)",
                               "must be an object such as {\"name\": \"pirate\", \"prompt\": \"Talk like a pirate.\"}");
    if (json_items_string(p, item, "name", true, &name) != 0)
        return -1;
    if (!json_items_name_valid(name, PERSONAS_NAME_MAX))
        return json_items_fail(p, "name", "must be 1 to %d characters of A-Z a-z 0-9 . _ -", PERSONAS_NAME_MAX);
    p->name = name;
    for (size_t i = 0; i < sizeof reserved_names / sizeof reserved_names[0]; i++)
        if (strcasecmp(name, reserved_names[i]) == 0)
            return json_items_fail(p, "name", "must not be \"%s\" (/persona %s is a command)", reserved_names[i],
                                   reserved_names[i]);
    for (size_t i = 0; i < c->n; i++)
        if (strcasecmp(c->items[i].name, name) == 0)
            return json_items_fail(p, "name", "is used twice (also item %zu; names are compared regardless of case)",
                                   i + 1);
    if (json_items_string(p, item, "label", false, &label) != 0 ||
        json_items_string(p, item, "prompt", true, &prompt) != 0)
        return -1;
    if (label && (!label[0] || utf16_len(label, strlen(label)) > PERSONAS_LABEL_MAX))
        return json_items_fail(p, "label", "must be 1 to %d characters (LINE's limit for a button)",
                               PERSONAS_LABEL_MAX);
    if (utf16_len(prompt, strlen(prompt)) > PERSONAS_PROMPT_MAX)
        return json_items_fail(p, "prompt", "must be at most %d characters", PERSONAS_PROMPT_MAX);

    json_items_warn_unknown(p, item, known_fields, sizeof known_fields / sizeof known_fields[0], &c->warnings,
                            &c->n_warnings);
    out->name = xstrdup(name);
    out->label = label ? xstrdup(label) : NULL;
    out->prompt = xstrdup(prompt);
    return 0;
}

int personas_parse(const char *json, struct persona_catalogue *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_t *root = json_items_load("LINEBOT_PERSONAS", json, PERSONAS_MAX, "presets", err, errlen);
    if (!root)
        return -1;
    out->items = xcalloc(json_array_size(root), sizeof *out->items);
    size_t i;
    json_t *item;
    json_array_foreach(root, i, item) {
        struct json_items p = {.setting = "LINEBOT_PERSONAS", .err = err, .errlen = errlen, .item = i + 1};
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
