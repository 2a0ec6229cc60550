/* models.h - the model catalogue: the models a chat may switch between.
 *
 * LINEBOT_MODELS is a JSON array of models; config.c reads the text (or the
 * file it names) and hands it here. Without it the catalogue is the one model
 * of LLM_PROVIDER/LLM_MODEL, named after LLM_MODEL (models_single), so
 * nothing changes for existing set-ups. Pure: the environment comes in as
 * the same KEY=VALUE array config_load reads, and the provider presets as a
 * table, so tests pass their own. What users see of the catalogue (the /model
 * list and its buttons) is built here too. */
#ifndef LINEBOT_MODELS_H
#define LINEBOT_MODELS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "core/quick_reply.h"

#define MODELS_MAX 32          /* items in a catalogue */
#define MODELS_NAME_MAX 32     /* a name: 1..32 of [A-Za-z0-9._-] */
#define MODELS_LABEL_MAX 20    /* a button's label, LINE's limit (UTF-16 units) */

/* One provider preset, as config.c knows them (LLM_PROVIDER). */
struct model_preset {
    const char *name;          /* "openai", "dashscope", ..., "custom" */
    enum llm_provider provider;
    const char *base_url;      /* NULL for custom */
    const char *key_env;       /* the provider's own key variable after LLM_API_KEY; NULL: none */
};

/* One model of the catalogue. All strings owned. */
struct model_entry {
    char *name;                /* what users type and what the store keeps */
    char *model;               /* the provider's model id */
    enum llm_provider provider;
    char *base_url;            /* without trailing slashes */
    char *api_key_env;         /* the variable the key came from; NULL: none needed or set */
    char *api_key;             /* "" when the server takes none (Ollama) */
    char *label;               /* button text; NULL: the name */
    bool vision, audio;        /* for the images-and-voice issue */
    char *audio_via;           /* "chat" or "transcriptions" (NULL: transcriptions) */
    double input_price;        /* per million tokens; < 0: not set */
    double output_price;
};

struct model_catalogue {
    struct model_entry *items;
    size_t n;
    size_t default_index;      /* the first, or LINEBOT_DEFAULT_MODEL */
    char **warnings;           /* unknown fields: logged at start, not fatal */
    size_t n_warnings;
};

/* Parses LINEBOT_MODELS' JSON text. `env` answers api_key_env and the default
 * key rule (LLM_API_KEY, else the preset's own variable; ollama and custom
 * need none). `default_name` (LINEBOT_DEFAULT_MODEL, may be NULL) picks the
 * default. Returns 0, or -1 with one line in `err` that names the item and
 * the field ("LINEBOT_MODELS item 2 (\"fast\") field base_url: ..."); never a
 * key's value. */
int models_parse(const char *json, char *const *env, const struct model_preset *presets, size_t n_presets,
                 const char *default_name, struct model_catalogue *out, char *err, size_t errlen);

/* The one-model catalogue of today's settings: `name` and model id `model`,
 * with the given provider, base URL and key (copied). */
void models_single(struct model_catalogue *out, enum llm_provider provider, const char *model,
                   const char *base_url, const char *api_key);

void models_free(struct model_catalogue *c);

/* The entry called `name` (exact match), or NULL. */
const struct model_entry *models_find(const struct model_catalogue *c, const char *name);
/* The entry a chat uses: its stored choice when that is still in the
 * catalogue, else the default. Never NULL for a non-empty catalogue. */
const struct model_entry *models_for_chat(const struct model_catalogue *c, const char *stored_name);
/* The index of `m` in `c`. */
size_t models_index(const struct model_catalogue *c, const struct model_entry *m);

/* What a button shows: the label, else the name cut to LINE's limit. */
const char *models_label(const struct model_entry *m);

/* ---- the /model answer ---- */

/* "Current model: X" and every model, one a line, in `lang` (malloc'd).
 * `current` may be NULL. `prefix` (may be NULL) comes first, e.g. "I don't
 * know the model "x"." */
char *models_menu_text(const struct model_catalogue *c, const struct model_entry *current, const char *prefix,
                       enum lang lang);
/* Buttons for the first QUICK_REPLY_MAX models (postback data v1|m|NAME);
 * items that would break LINE's limits are left out. */
void models_menu_buttons(const struct model_catalogue *c, struct quick_reply *qr);
/* The confirmation of a switch, in `lang` (malloc'd). */
char *models_switched_text(const struct model_entry *m, enum lang lang);

#endif
