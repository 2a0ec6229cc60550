/* personas.h - persona presets, and what a chat's persona adds to the prompt.
 *
 * LINEBOT_PERSONAS is a JSON array of presets {"name", "label", "prompt"};
 * config.c reads the text (or the file it names) and hands it here. A chat
 * has at most one persona: a preset, chosen by name (/persona NAME or its
 * button), or a custom text (/persona set TEXT). The store keeps the
 * preset's name, not its prompt, so that an operator's edit of a preset
 * reaches every chat that uses it. /persona reset goes back to the default:
 * no persona, the system prompt alone. Pure; what users see of the presets
 * (the /persona answer and its buttons) is built here too. */
#ifndef LINEBOT_PERSONAS_H
#define LINEBOT_PERSONAS_H

#include <stddef.h>

#include "core/quick_reply.h"
#include "core/texts.h"

#define PERSONAS_MAX 32          /* presets in LINEBOT_PERSONAS */
#define PERSONAS_NAME_MAX 32     /* a name: 1..32 of [A-Za-z0-9._-], not "set" nor "reset" */
#define PERSONAS_LABEL_MAX 20    /* a button's label, LINE's limit (UTF-16 units) */
#define PERSONAS_PROMPT_MAX 4000 /* a preset's prompt (UTF-16 units) */
#define PERSONAS_CUSTOM_MAX 1000 /* /persona set TEXT (UTF-16 units, as LINE counts characters) */

/* One preset. Strings owned. */
struct persona {
    char *name;   /* what users type and what the store keeps */
    char *label;  /* button text; NULL: the name */
    char *prompt; /* what the system prompt gets */
};

struct persona_catalogue {
    struct persona *items; /* NULL when n is 0 (LINEBOT_PERSONAS unset) */
    size_t n;
    char **warnings;       /* unknown fields: logged at start, not fatal */
    size_t n_warnings;
};

/* Parses LINEBOT_PERSONAS' JSON text. Returns 0, or -1 with one line in
 * `err` that names the item and the field ("LINEBOT_PERSONAS item 2
 * (\"pirate\") field prompt: ..."). */
int personas_parse(const char *json, struct persona_catalogue *out, char *err, size_t errlen);
void personas_free(struct persona_catalogue *c);

/* The preset called `name`, in any case ("Pirate" finds "pirate": names
 * are unique regardless of case), or NULL. `c` and `name` may be NULL. */
const struct persona *personas_find(const struct persona_catalogue *c, const char *name);

/* The persona text a chat's stored choice gives the prompt: the preset's
 * prompt when `preset` is still in the catalogue, else `custom`; NULL for
 * none (a preset the operator removed falls back to the default). */
const char *personas_prompt(const struct persona_catalogue *c, const char *preset, const char *custom);

/* ---- the /persona answer ---- */

/* The chat's persona ("Current persona: ...", a custom one shown cut) and
 * the presets, one a line, with how to pick, set and reset, in `lang`
 * (malloc'd). `prefix` (may be NULL) comes first. */
char *personas_menu_text(const struct persona_catalogue *c, const char *preset, const char *custom,
                         const char *prefix, enum lang lang);
/* Buttons for the first QUICK_REPLY_MAX presets (postback data v1|p|NAME). */
void personas_menu_buttons(const struct persona_catalogue *c, struct quick_reply *qr);
/* The confirmation of a preset picked, in `lang` (malloc'd). */
char *personas_picked_text(const struct persona *p, enum lang lang);

#endif
