/* models.c - the model catalogue (see models.h).
 *
 * Every rule of LINEBOT_MODELS is checked here, in item order, and the first
 * problem ends the parse with a line that names the item and the field: the
 * operator should be able to fix a catalogue from the start-up error alone.
 * URLs are read by curl_url() (http_url_split), the parser every transfer
 * uses. Unknown fields are only warned about: a catalogue written for a newer
 * release still starts. */
#include "core/models.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/format.h"
#include "core/json_items.h"
#include "core/postback.h"
#include "core/settings.h"
#include "core/texts.h"
#include "core/utf8.h"
#include "io/http_client.h"

static const char *const known_fields[] = {
    "name", "model", "provider", "base_url", "api_key_env", "label",
    "vision", "audio", "audio_via", "input_price", "output_price",
};

/* The non-empty value of `key` in a KEY=VALUE array, or NULL: an empty
 * variable counts as unset, as config.c reads every setting. */
static const char *env_value(char *const *env, const char *key)
{
    const char *found = settings_env_get(env, key);
    return found && found[0] ? found : NULL;
}

static int get_bool(struct json_items *p, json_t *item, const char *field, bool *out)
{
    json_t *v = json_object_get(item, field);
    *out = false;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return json_items_fail(p, field, "must be true or false");
    *out = json_is_true(v);
    return 0;
}

static int get_price(struct json_items *p, json_t *item, const char *field, double *out)
{
    json_t *v = json_object_get(item, field);
    *out = -1;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0)
        return json_items_fail(p, field, "must be a number of 0 or more (the price per million tokens)");
    *out = json_number_value(v);
    return 0;
}

static const struct model_preset *find_preset(const struct model_preset *presets, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(presets[i].name, name) == 0)
            return &presets[i];
    return NULL;
}

/* The key by the rule of today, per item: api_key_env when given (it must be
 * set), else LLM_API_KEY, else the preset's own variable (custom falls back
 * to OPENAI_API_KEY); ollama and custom may have none. */
static int resolve_key(struct json_items *p, char *const *env, const struct model_preset *preset, const char *key_env,
                       struct model_entry *m)
{
    if (key_env) {
        const char *v = env_value(env, key_env);
        if (!v)
            return json_items_fail(p, "api_key_env", "names %s, which is not set", key_env);
        m->api_key_env = xstrdup(key_env);
        m->api_key = settings_trim_credential(v, NULL); /* as every key: see core/settings.h */
        return 0;
    }
    const char *var = "LLM_API_KEY";
    const char *v = env_value(env, var);
    if (!v && preset->key_env)
        v = env_value(env, var = preset->key_env);
    if (!v && preset->provider == LLM_PROVIDER_CUSTOM)
        v = env_value(env, var = "OPENAI_API_KEY");
    if (!v && preset->provider != LLM_PROVIDER_OLLAMA && preset->provider != LLM_PROVIDER_CUSTOM)
        return json_items_fail(p, "api_key_env",
                               "is not given, and neither LLM_API_KEY nor %s is set: the %s provider needs a key",
                               preset->key_env ? preset->key_env : "a key", preset->name);
    m->api_key_env = v ? xstrdup(var) : NULL;
    m->api_key = settings_trim_credential(v ? v : "", NULL);
    return 0;
}

static void entry_free(struct model_entry *m)
{
    free(m->name);
    free(m->model);
    free(m->base_url);
    free(m->api_key_env);
    if (m->api_key) {
        memset(m->api_key, 0, strlen(m->api_key)); /* the key should not linger on the heap */
        free(m->api_key);
    }
    free(m->label);
    free(m->audio_via);
    memset(m, 0, sizeof *m);
}

static int parse_item(struct json_items *p, json_t *item, char *const *env, const struct model_preset *presets,
                      size_t n_presets, struct model_catalogue *c, struct model_entry *m)
{
    const char *name, *model, *provider, *base_url, *key_env, *label, *audio_via;
    if (!json_is_object(item))
        return json_items_fail(p, "(all)",
                               "must be an object such as {\"name\": \"fast\", \"model\": \"gpt-4o-mini\"}");
    if (json_items_string(p, item, "name", true, &name) != 0)
        return -1;
    if (!json_items_name_valid(name, MODELS_NAME_MAX))
        return json_items_fail(p, "name", "must be 1 to %d characters of A-Z a-z 0-9 . _ -", MODELS_NAME_MAX);
    p->name = name;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].name, name) == 0)
            return json_items_fail(p, "name", "is used twice (also item %zu)", i + 1);
    if (json_items_string(p, item, "model", true, &model) != 0 ||
        json_items_string(p, item, "provider", false, &provider) != 0 ||
        json_items_string(p, item, "base_url", false, &base_url) != 0 ||
        json_items_string(p, item, "api_key_env", false, &key_env) != 0 ||
        json_items_string(p, item, "label", false, &label) != 0 ||
        json_items_string(p, item, "audio_via", false, &audio_via) != 0)
        return -1;

    const struct model_preset *preset = find_preset(presets, n_presets, provider ? provider : "openai");
    if (!preset)
        return json_items_fail(p, "provider",
                               "must be one of the LLM_PROVIDER values (openai, dashscope, dashscope-cn, "
                               "dashscope-us, ollama, custom)");
    if (!base_url || !base_url[0])
        base_url = preset->base_url;
    if (!base_url)
        return json_items_fail(p, "base_url", "is required with provider custom");
    struct http_url parsed;
    char why[128];
    if (http_url_split(base_url, &parsed, why, sizeof why) != 0)
        return json_items_fail(p, "base_url", "must be an http:// or https:// URL with a host (%s)", why);
    if (label && (!label[0] || !utf8_valid(label, strlen(label)) ||
                  utf16_len(label, strlen(label)) > MODELS_LABEL_MAX))
        return json_items_fail(p, "label", "must be 1 to %d characters (LINE's limit for a button)",
                               MODELS_LABEL_MAX);
    if (key_env && !key_env[0])
        return json_items_fail(p, "api_key_env", "must name an environment variable");

    m->name = xstrdup(name);
    m->model = xstrdup(model);
    m->provider = preset->provider;
    m->base_url = xstrdup(base_url);
    size_t n = strlen(m->base_url);
    while (n > 0 && m->base_url[n - 1] == '/')
        m->base_url[--n] = '\0';
    m->label = label ? xstrdup(label) : NULL;
    m->audio_via = audio_via && audio_via[0] ? xstrdup(audio_via) : NULL;
    if (get_bool(p, item, "vision", &m->vision) != 0 || get_bool(p, item, "audio", &m->audio) != 0 ||
        get_price(p, item, "input_price", &m->input_price) != 0 ||
        get_price(p, item, "output_price", &m->output_price) != 0 || resolve_key(p, env, preset, key_env, m) != 0)
        return -1;

    json_items_warn_unknown(p, item, known_fields, sizeof known_fields / sizeof known_fields[0], &c->warnings,
                            &c->n_warnings);
    return 0;
}

int models_parse(const char *json, char *const *env, const struct model_preset *presets, size_t n_presets,
                 const char *default_name, struct model_catalogue *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_t *root = json_items_load("LINEBOT_MODELS", json, MODELS_MAX, "models", err, errlen);
    if (!root)
        return -1;
    out->items = xcalloc(json_array_size(root), sizeof *out->items);
    size_t i;
    json_t *item;
    json_array_foreach(root, i, item) {
        struct json_items p = {.setting = "LINEBOT_MODELS", .err = err, .errlen = errlen, .item = i + 1};
        struct model_entry m = {0};
        if (parse_item(&p, item, env, presets, n_presets, out, &m) != 0) {
            entry_free(&m);
            json_decref(root);
            models_free(out);
            return -1;
        }
        out->items[out->n++] = m;
    }
    json_decref(root);

    /* audio_via: how an `audio` model is called (issue 13): "transcriptions"
     * (OpenAI's /audio/transcriptions, the default) or "chat" (an
     * input_audio part to chat/completions, DashScope's qwen3-asr-flash). */
    for (size_t k = 0; k < out->n; k++) {
        const char *via = out->items[k].audio_via;
        if (via && strcmp(via, "chat") != 0 && strcmp(via, "transcriptions") != 0) {
            snprintf(err, errlen, "LINEBOT_MODELS item %zu (\"%s\") field audio_via: \"%.40s\" is neither \"chat\" "
                                  "nor \"transcriptions\"", k + 1, out->items[k].name, via);
            models_free(out);
            return -1;
        }
    }
    if (default_name && default_name[0]) {
        const struct model_entry *d = models_find(out, default_name);
        if (!d) {
            snprintf(err, errlen, "LINEBOT_DEFAULT_MODEL names \"%.40s\", which is not in LINEBOT_MODELS",
                     default_name);
            models_free(out);
            return -1;
        }
        out->default_index = models_index(out, d);
    }
    return 0;
}

void models_single(struct model_catalogue *out, enum llm_provider provider, const char *model, const char *base_url,
                   const char *api_key)
{
    memset(out, 0, sizeof *out);
    out->items = xcalloc(1, sizeof *out->items);
    out->n = 1;
    struct model_entry *m = &out->items[0];
    m->name = xstrdup(model ? model : "");
    m->model = xstrdup(model ? model : "");
    m->provider = provider;
    m->base_url = xstrdup(base_url ? base_url : "");
    m->api_key = xstrdup(api_key ? api_key : "");
    m->input_price = m->output_price = -1;
}

void models_free(struct model_catalogue *c)
{
    for (size_t i = 0; i < c->n; i++)
        entry_free(&c->items[i]);
    free(c->items);
    for (size_t i = 0; i < c->n_warnings; i++)
        free(c->warnings[i]);
    free(c->warnings);
    memset(c, 0, sizeof *c);
}

const struct model_entry *models_find(const struct model_catalogue *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->n; i++)
        if (strcmp(c->items[i].name, name) == 0)
            return &c->items[i];
    return NULL;
}

const struct model_entry *models_for_chat(const struct model_catalogue *c, const char *stored_name)
{
    const struct model_entry *m = models_find(c, stored_name);
    if (m)
        return m;
    return c && c->n ? &c->items[c->default_index] : NULL;
}

size_t models_index(const struct model_catalogue *c, const struct model_entry *m)
{
    return (size_t)(m - c->items);
}

const char *models_label(const struct model_entry *m)
{
    return m->label ? m->label : m->name;
}

/* ---- the /model answer ---- */

#define MENU_MAX 4000 /* under one LINE text message (5000) with room to spare */

char *models_menu_text(const struct model_catalogue *c, const struct model_entry *current, const char *prefix,
                       enum lang lang)
{
    struct buf b;
    buf_init(&b, MENU_MAX);
    int rc = 0;
    if (prefix)
        rc |= buf_addf(&b, "%s\n", prefix);
    if (current) {
        char *line = texts_fill(texts_builtin(TEXT_MODEL_CURRENT, lang), current->name);
        rc |= buf_addf(&b, "%s\n", line);
        free(line);
    }
    rc |= buf_adds(&b, texts_builtin(TEXT_MODEL_LIST, lang));
    for (size_t i = 0; i < c->n; i++) {
        const struct model_entry *m = &c->items[i];
        rc |= buf_addf(&b, "\n%s %s", m == current ? "*" : "-", m->name);
        if (m->label && strcmp(m->label, m->name) != 0)
            rc |= buf_addf(&b, " (%s)", m->label);
    }
    rc |= buf_addf(&b, "\n%s", texts_builtin(TEXT_MODEL_HOWTO, lang));
    (void)rc; /* at the cap the list is cut: 32 names of 32 characters and labels fit well under it */
    return buf_take(&b, NULL);
}

void models_menu_buttons(const struct model_catalogue *c, struct quick_reply *qr)
{
    memset(qr, 0, sizeof *qr);
    for (size_t i = 0; i < c->n && qr->n < QUICK_REPLY_MAX; i++) {
        const struct model_entry *m = &c->items[i];
        char data[QUICK_REPLY_DATA_MAX + 1];
        if (postback_format(POSTBACK_MODEL, m->name, data, sizeof data) != 0)
            continue; /* a name no button can carry (from LLM_MODEL): it can still be typed */
        /* A catalogue label already fits; a name cut to 20 bytes is at most
         * 20 UTF-16 units too (no character takes fewer bytes than units). */
        char cut[QUICK_REPLY_LABEL_MAX + 1];
        size_t n = utf8_prefix(m->name, strlen(m->name), QUICK_REPLY_LABEL_MAX);
        memcpy(cut, m->name, n);
        cut[n] = '\0';
        char *shown = xasprintf("/model %s", m->name);
        (void)quick_reply_add(qr, m->label ? m->label : cut, data, shown);
        free(shown);
    }
}

char *models_switched_text(const struct model_entry *m, enum lang lang)
{
    char *shown = m->label && strcmp(m->label, m->name) != 0 ? xasprintf("%s (%s)", m->name, m->label)
                                                              : xstrdup(m->name);
    char *text = texts_fill(texts_builtin(TEXT_MODEL_SWITCHED, lang), shown);
    free(shown);
    return text;
}
