/* config.c - the environment -> struct config, and nothing else reads it.
 *
 * Every setting has its row in core/settings.c: the default, the bounds and
 * the help come from there, so `serve --help`, this parser and the README
 * agree. Here each gets a parser that rejects nonsense with a one-line
 * message naming the variable, and no secret ever goes into a message.
 * Credentials are trimmed of what a copy leaves around them (a CR from a
 * Windows .env file, quotes, spaces); start-up warns about that by name
 * (settings_check_env). */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/chat.h"
#include "core/memory.h"
#include "core/models.h"
#include "core/personas.h"
#include "core/settings.h"
#include "io/http_client.h"
#include "obs/log.h"

struct provider_preset {
    const char *name;
    enum llm_provider provider;
    const char *base_url;
    const char *model;
    const char *key_env; /* the provider's own key variable, after LLM_API_KEY */
};

static const struct provider_preset presets[] = {
    {"openai", LLM_PROVIDER_OPENAI, "https://api.openai.com/v1", "gpt-4o-mini", "OPENAI_API_KEY"},
    {"dashscope", LLM_PROVIDER_DASHSCOPE, "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
     "qwen-plus", "DASHSCOPE_API_KEY"},
    {"dashscope-cn", LLM_PROVIDER_DASHSCOPE_CN, "https://dashscope.aliyuncs.com/compatible-mode/v1",
     "qwen-plus", "DASHSCOPE_API_KEY"},
    {"dashscope-us", LLM_PROVIDER_DASHSCOPE_US, "https://dashscope-us.aliyuncs.com/compatible-mode/v1",
     "qwen-plus", "DASHSCOPE_API_KEY"},
    {"ollama", LLM_PROVIDER_OLLAMA, "http://localhost:11434/v1", "llama3.2", NULL},
    {"custom", LLM_PROVIDER_CUSTOM, NULL, NULL, NULL},
};

const char *config_provider_name(enum llm_provider p)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (presets[i].provider == p)
            return presets[i].name;
    return "unknown";
}

/* The row of a setting this file reads. A name missing from the table is a
 * bug that would let the help and the README drift: it stops every test that
 * loads a configuration. */
static const struct setting *row_of(const char *key)
{
    const struct setting *row = settings_find(key);
    if (!row) {
        fprintf(stderr, "linebot: bug: %s is read but has no row in src/core/settings.c\n", key);
        abort();
    }
    return row;
}

/* Looks `key` up in a KEY=VALUE array; the last occurrence wins, as in a shell. */
static const char *env_get(char *const *env, const char *key)
{
    row_of(key);
    return settings_env_get(env, key);
}

/* A variable that is set to a non-empty value, else NULL. */
static const char *env_nonempty(char *const *env, const char *key)
{
    const char *v = env_get(env, key);
    return v && v[0] ? v : NULL;
}

const char *config_lookup(char *const *env, const char *name) { return env_nonempty(env, name); }

int config_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

struct loader {
    char *const *env;
    char *err;
    size_t errlen;
    int failed;
};

/* Records the first problem as "<NAME> <complaint>". */
static void fail(struct loader *l, const char *name, const char *complaint)
{
    if (!l->failed)
        snprintf(l->err, l->errlen, "%s %s", name, complaint);
    l->failed = 1;
}

/* LOG_LEVEL and LOG_FORMAT, read alike by every subcommand. */
static void get_log_settings(struct loader *l, struct config *cfg)
{
    cfg->log_level = LOG_INFO;
    const char *level = env_nonempty(l->env, "LOG_LEVEL");
    if (level && log_parse_level(level, &cfg->log_level) != 0)
        fail(l, "LOG_LEVEL", "must be one of debug, info, warn, error");
    cfg->log_format = LOG_FORMAT_AUTO;
    const char *format = env_nonempty(l->env, "LOG_FORMAT");
    if (format && log_parse_format(format, &cfg->log_format) != 0)
        fail(l, "LOG_FORMAT", "must be text or json");
}

/* A copy of `s`, "" for NULL (never NULL: allocation failure aborts). */
static char *dup_str(const char *s)
{
    return xstrdup(s ? s : "");
}

/* A text setting; unset: its default ("" when it has none). */
static char *get_str(struct loader *l, const char *name)
{
    const char *v = env_get(l->env, name);
    return dup_str(v ? v : row_of(name)->def);
}

/* A whole number within the row's bounds; unset or empty: its default. */
static int get_int(struct loader *l, const char *name)
{
    const struct setting *row = row_of(name);
    assert(row->type == SETTING_INT && row->def && row->max <= INT_MAX && row->min >= INT_MIN);
    int def = (int)strtol(row->def, NULL, 10);
    const char *v = env_nonempty(l->env, name);
    if (!v)
        return def;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end != '\0' || n < row->min || n > row->max) {
        char complaint[96];
        snprintf(complaint, sizeof complaint, "must be a whole number from %lld to %lld", row->min, row->max);
        fail(l, name, complaint);
        return def;
    }
    return (int)n;
}

static bool get_bool(struct loader *l, const char *name)
{
    const struct setting *row = row_of(name);
    assert(row->type == SETTING_BOOL && row->def);
    bool b = false;
    config_parse_bool(row->def, &b);
    const char *v = env_nonempty(l->env, name);
    if (v && config_parse_bool(v, &b) != 0)
        fail(l, name, "must be one of 1, 0, true, false");
    return b;
}

/* A credential without the spaces, line breaks and quotes a copy leaves
 * around it; NULL when unset or nothing is left. */
static char *get_credential(char *const *env, const char *name)
{
    assert(row_of(name)->flags & SETTING_SECRET);
    const char *v = env_get(env, name);
    if (!v)
        return NULL;
    bool changed;
    char *trimmed = settings_trim_credential(v, &changed);
    if (!trimmed[0]) {
        free(trimmed);
        return NULL;
    }
    return trimmed;
}

/* The first of `names` (NULL-terminated) that holds a credential. */
static char *first_credential(char *const *env, const char *const *names)
{
    for (const char *const *n = names; *n; n++) {
        char *v = get_credential(env, *n);
        if (v)
            return v;
    }
    return NULL;
}

/* A variable's value when set and non-empty, else NULL. */
static char *opt_str(struct loader *l, char *const *env, const char *name)
{
    const char *v = env_nonempty(env, name);
    return v ? dup_str(v) : NULL;
}

/* LINEBOT_REASONING_EFFORT: "low" when unset, NULL (not sent) for "none" or
 * empty. The values are OpenAI's; the model decides whether it is sent
 * (completion_takes_reasoning_effort). */
static const char *get_reasoning_effort(struct loader *l)
{
    static const char *const efforts[] = {"minimal", "low", "medium", "high"};
    const char *v = env_get(l->env, "LINEBOT_REASONING_EFFORT");
    if (!v)
        return "low";
    if (!v[0] || strcasecmp(v, "none") == 0)
        return NULL;
    for (size_t i = 0; i < sizeof efforts / sizeof efforts[0]; i++)
        if (strcasecmp(v, efforts[i]) == 0)
            return efforts[i];
    fail(l, "LINEBOT_REASONING_EFFORT", "must be one of minimal, low, medium, high, none");
    return NULL;
}

/* Accepts http:// and https:// URLs with a host only, as curl_url() reads
 * them (the parser every transfer uses, through http_url_split), and strips
 * trailing slashes so that paths can be appended. */
static char *get_url_or(struct loader *l, const char *name, const char *def)
{
    const char *v = env_nonempty(l->env, name);
    if (!v)
        v = def;
    if (!v)
        return NULL;
    struct http_url parsed;
    char why[128];
    if (http_url_split(v, &parsed, why, sizeof why) != 0) {
        char complaint[192];
        snprintf(complaint, sizeof complaint, "must be an http:// or https:// URL with a host (%s)", why);
        fail(l, name, complaint);
        return NULL;
    }
    char *d = xstrdup(v);
    size_t n = strlen(d);
    while (n > 0 && d[n - 1] == '/')
        d[--n] = '\0';
    return d;
}

/* A URL setting, its row's default when unset. */
static char *get_url(struct loader *l, const char *name)
{
    return get_url_or(l, name, row_of(name)->def);
}

/* A copy of a part of the URL held in `u`, or NULL when it has none. */
static char *url_part(CURLU *u, CURLUPart part, unsigned int flags)
{
    char *v = NULL;
    if (curl_url_get(u, part, &v, flags) != CURLUE_OK || !v)
        return NULL;
    char *out = xstrdup(v);
    curl_free(v);
    return out;
}

/* The password of a postgres:// LINEBOT_DB, as written and decoded, so that
 * the log can mask it wherever it turns up. libpq's URIs are URLs that
 * curl_url() reads (all but several comma-separated hosts). */
static void db_password(struct config *cfg)
{
    if (strncasecmp(cfg->db, "postgres://", 11) != 0 && strncasecmp(cfg->db, "postgresql://", 13) != 0)
        return;
    CURLU *u = curl_url();
    if (!u)
        alloc_fail("curl_url", 0);
    if (curl_url_set(u, CURLUPART_URL, cfg->db, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
        cfg->db_password_url = url_part(u, CURLUPART_PASSWORD, 0);
        cfg->db_password = url_part(u, CURLUPART_PASSWORD, CURLU_URLDECODE);
    }
    curl_url_cleanup(u);
}

/* LINEBOT_DB, with its default. On Lambda and Function Compute only /tmp is writable. */
static void get_db(struct config *cfg, char *const *env)
{
    const char *default_db = env_nonempty(env, "AWS_LAMBDA_RUNTIME_API") || env_nonempty(env, "FC_FUNCTION_NAME")
                                 ? "/tmp/linebot.db"
                                 : row_of("LINEBOT_DB")->def;
    const char *db = env_nonempty(env, "LINEBOT_DB");
    cfg->db = dup_str(db ? db : default_db);
    db_password(cfg);
}

/* LINE_CHANNEL_ACCESS_TOKEN, else its older name LINE_ACCESS_TOKEN; required. */
static void get_access_token(struct loader *l, struct config *cfg)
{
    static const char *const names[] = {"LINE_CHANNEL_ACCESS_TOKEN", "LINE_ACCESS_TOKEN", NULL};
    char *token = first_credential(l->env, names);
    if (!token)
        fail(l, "LINE_CHANNEL_ACCESS_TOKEN", "is not set: issue a long-lived channel access token in the LINE Developers Console (Messaging API tab)");
    cfg->access_token = token ? token : dup_str("");
}

const char *config_channel_secret_problem(const char *secret)
{
    size_t n = strlen(secret);
    if (n == 32 && strspn(secret, "0123456789abcdefABCDEF") == 32)
        return NULL;
    if (n > 100)
        return "is not a channel secret (32 hexadecimal characters) but looks like an access token: are "
               "LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN swapped?";
    return "is not 32 hexadecimal characters: copy the Channel secret from the Basic settings tab of the LINE "
           "Developers Console";
}

/* ---- models in the chat (issue 11): LINEBOT_MODELS, LINEBOT_DEFAULT_MODEL,
 * LINEBOT_ADMINS ---- */

#define SETTING_FILE_MAX ((size_t)1024 * 1024)

/* A JSON setting's text (LINEBOT_MODELS, LINEBOT_PERSONAS): the value, or
 * the file named after an '@'. */
static char *setting_text_or_file(struct loader *l, const char *value, const char *setting)
{
    if (value[0] != '@')
        return xstrdup(value);
    FILE *f = fopen(value + 1, "rb");
    if (!f) {
        char complaint[160];
        snprintf(complaint, sizeof complaint, "names a file that cannot be read (%s)", strerror(errno));
        fail(l, setting, complaint);
        return NULL;
    }
    struct buf b;
    buf_init(&b, SETTING_FILE_MAX);
    char chunk[4096];
    size_t n;
    int too_big = 0;
    while (!too_big && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        too_big = buf_add(&b, chunk, n) != 0;
    int read_err = ferror(f);
    fclose(f);
    if (too_big || read_err) {
        fail(l, setting, too_big ? "names a file over 1 MiB" : "names a file that cannot be read");
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b, NULL);
}

/* The catalogue, and with one given, the llm_* fields set to its default
 * model (what `linebot doctor` and the start-up line show). */
static void load_models(struct loader *l, struct config *cfg)
{
    cfg->models = xcalloc(1, sizeof *cfg->models);
    const char *value = env_nonempty(l->env, "LINEBOT_MODELS");
    const char *default_name = env_nonempty(l->env, "LINEBOT_DEFAULT_MODEL");
    if (!value) {
        if (default_name && cfg->llm_model && strcmp(default_name, cfg->llm_model) != 0)
            fail(l, "LINEBOT_DEFAULT_MODEL", "names a model, but LINEBOT_MODELS is not set");
        models_single(cfg->models, cfg->provider, cfg->llm_model, cfg->llm_base_url, cfg->llm_api_key);
    } else {
        char *text = setting_text_or_file(l, value, "LINEBOT_MODELS");
        struct model_preset table[sizeof presets / sizeof presets[0]];
        for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
            table[i] = (struct model_preset){presets[i].name, presets[i].provider, presets[i].base_url,
                                             presets[i].key_env};
        char why[384];
        if (text && models_parse(text, l->env, table, sizeof table / sizeof table[0], default_name, cfg->models,
                                 why, sizeof why) != 0 && !l->failed) {
            snprintf(l->err, l->errlen, "%s", why); /* names the item and the field */
            l->failed = 1;
        }
        free(text);
        if (cfg->models->n) {
            const struct model_entry *d = &cfg->models->items[cfg->models->default_index];
            free(cfg->llm_model);
            free(cfg->llm_base_url);
            free(cfg->llm_api_key);
            cfg->provider = d->provider;
            cfg->llm_model = xstrdup(d->model);
            cfg->llm_base_url = xstrdup(d->base_url);
            cfg->llm_api_key = xstrdup(d->api_key);
        }
    }
    /* LINEBOT_ADMINS: comma-separated user ids, blanks around them ignored. */
    const char *admins = env_nonempty(l->env, "LINEBOT_ADMINS");
    for (const char *p = admins; p && *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        size_t len = n;
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len > 0) {
            cfg->admins = xrealloc_array(cfg->admins, cfg->n_admins + 1, sizeof *cfg->admins);
            cfg->admins[cfg->n_admins++] = xstrndup(p, len);
        }
        p += n;
    }
}

/* ---- personas (issue 11): LINEBOT_PERSONAS ---- */

static void load_personas(struct loader *l, struct config *cfg)
{
    cfg->personas = xcalloc(1, sizeof *cfg->personas);
    const char *value = env_nonempty(l->env, "LINEBOT_PERSONAS");
    if (!value)
        return;
    char *text = setting_text_or_file(l, value, "LINEBOT_PERSONAS");
    char why[384];
    if (text && personas_parse(text, cfg->personas, why, sizeof why) != 0 && !l->failed) {
        snprintf(l->err, l->errlen, "%s", why); /* names the item and the field */
        l->failed = 1;
    }
    free(text);
}

static void free_personas(struct config *cfg)
{
    if (cfg->personas)
        personas_free(cfg->personas);
    free(cfg->personas);
    cfg->personas = NULL;
}

/* ---- images and other content (issue 13) ---- */
static void load_content(struct loader *l, struct config *cfg)
{
    cfg->max_content_mb = get_int(l, "LINEBOT_MAX_CONTENT_MB");
    cfg->max_images = get_int(l, "LINEBOT_MAX_IMAGES");
    cfg->image_followup_s = get_int(l, "LINEBOT_IMAGE_FOLLOWUP_S");
    cfg->progress_s = get_int(l, "LINEBOT_PROGRESS_S");
    cfg->progress_wait_s = get_int(l, "LINEBOT_PROGRESS_WAIT_S");
    const char *name = env_nonempty(l->env, "LINEBOT_VISION_MODEL");
    if (!name || !cfg->models)
        return;
    const struct model_entry *m = models_find(cfg->models, name);
    if (!m)
        fail(l, "LINEBOT_VISION_MODEL", "names no model of the catalogue (LINEBOT_MODELS)");
    else if (!m->vision)
        fail(l, "LINEBOT_VISION_MODEL", "names a model without \"vision\": true in LINEBOT_MODELS");
    else
        cfg->vision_model = m;
}

/* Voice (issue 13): the transcription model, named or the first with audio. */
static void load_voice(struct loader *l, struct config *cfg)
{
    cfg->max_audio_s = get_int(l, "LINEBOT_MAX_AUDIO_S");
    const char *name = env_nonempty(l->env, "LINEBOT_TRANSCRIBE_MODEL");
    if (!name) {
        for (size_t i = 0; cfg->models && i < cfg->models->n && !cfg->transcribe_model; i++)
            if (cfg->models->items[i].audio)
                cfg->transcribe_model = &cfg->models->items[i];
        return;
    }
    if (!cfg->models)
        return;
    const struct model_entry *m = models_find(cfg->models, name);
    if (!m)
        fail(l, "LINEBOT_TRANSCRIBE_MODEL", "names no model of the catalogue (LINEBOT_MODELS)");
    else if (!m->audio)
        fail(l, "LINEBOT_TRANSCRIBE_MODEL", "names a model without \"audio\": true in LINEBOT_MODELS");
    else
        cfg->transcribe_model = m;
}

/* ---- memory of the user and long chats (issue 11): LINEBOT_MEMORY,
 * LINEBOT_MEMORY_EVERY, LINEBOT_MEMORY_MODEL (after the catalogue, which the
 * model is taken from), LINEBOT_SUMMARY ---- */
static void load_memory(struct loader *l, struct config *cfg)
{
    cfg->memory = MEMORY_AUTO;
    const char *mode = env_nonempty(l->env, "LINEBOT_MEMORY");
    if (mode && strcasecmp(mode, "explicit") == 0)
        cfg->memory = MEMORY_EXPLICIT;
    else if (mode && strcasecmp(mode, "off") == 0)
        cfg->memory = MEMORY_OFF;
    else if (mode && strcasecmp(mode, "auto") != 0)
        fail(l, "LINEBOT_MEMORY", "must be auto, explicit or off");
    cfg->memory_every = get_int(l, "LINEBOT_MEMORY_EVERY");
    const char *name = env_nonempty(l->env, "LINEBOT_MEMORY_MODEL");
    const struct model_entry *m = cfg->models->n ? memory_pick_model(cfg->models, name) : NULL;
    if (name && !m)
        fail(l, "LINEBOT_MEMORY_MODEL", "names no model of the catalogue (LINEBOT_MODELS, or LLM_MODEL without it)");
    cfg->memory_model = m ? xstrdup(m->name) : NULL;
    cfg->summary = get_bool(l, "LINEBOT_SUMMARY");
}

static void free_models(struct config *cfg)
{
    if (cfg->models)
        models_free(cfg->models);
    free(cfg->models);
    cfg->models = NULL;
    for (size_t i = 0; i < cfg->n_admins; i++)
        free(cfg->admins[i]);
    free(cfg->admins);
    cfg->admins = NULL;
    cfg->n_admins = 0;
}

/* The catalogue's keys, named by their variables, after the fixed secrets;
 * a key shared by several models, or the default model's (listed as
 * LLM_API_KEY), is listed once. */
static size_t model_secrets(const struct config *cfg, struct redact_secret *out, size_t n, size_t max)
{
    for (size_t i = 0; cfg->models && i < cfg->models->n && n < max; i++) {
        const struct model_entry *m = &cfg->models->items[i];
        bool listed = cfg->llm_api_key && strcmp(cfg->llm_api_key, m->api_key) == 0;
        for (size_t k = 0; k < n; k++)
            listed = listed || (out[k].value && strcmp(out[k].value, m->api_key) == 0);
        if (!listed && m->api_key && m->api_key[0])
            out[n++] = (struct redact_secret){m->api_key_env ? m->api_key_env : "LLM_API_KEY", m->api_key};
    }
    return n;
}

/* The model provider, its base URL, model and key (before the catalogue). */
static void get_llm(struct loader *l, struct config *cfg)
{
    /* LLM provider, then what depends on it. */
    const struct provider_preset *preset = &presets[0];
    const char *pname = env_nonempty(l->env, "LLM_PROVIDER");
    if (pname) {
        preset = NULL;
        for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
            if (strcasecmp(pname, presets[i].name) == 0)
                preset = &presets[i];
        if (!preset) {
            fail(l, "LLM_PROVIDER", "must be one of openai, dashscope, dashscope-cn, dashscope-us, ollama, custom");
            preset = &presets[0];
        }
    }
    cfg->provider = preset->provider;
    cfg->llm_base_url = get_url_or(l, "LLM_BASE_URL", preset->base_url);
    if (!cfg->llm_base_url && !l->failed)
        fail(l, "LLM_BASE_URL", "is required when LLM_PROVIDER=custom");
    const char *model = env_nonempty(l->env, "LLM_MODEL");
    if (!model)
        model = preset->model;
    if (!model && !l->failed)
        fail(l, "LLM_MODEL", "is required when LLM_PROVIDER=custom");
    cfg->llm_model = dup_str(model);

    const char *key_names[] = {"LLM_API_KEY",
                               preset->key_env                           ? preset->key_env
                               : preset->provider == LLM_PROVIDER_CUSTOM ? "OPENAI_API_KEY"
                                                                         : NULL,
                               NULL};
    char *key = first_credential(l->env, key_names);
    if (!key && preset->provider != LLM_PROVIDER_OLLAMA && preset->provider != LLM_PROVIDER_CUSTOM &&
        !env_nonempty(l->env, "LINEBOT_MODELS")) { /* a catalogue names each model's key (load_models) */
        if (preset->key_env && strcmp(preset->key_env, "DASHSCOPE_API_KEY") == 0)
            fail(l, "LLM_API_KEY", "is not set (or DASHSCOPE_API_KEY): the model provider needs an API key");
        else
            fail(l, "LLM_API_KEY", "is not set (or OPENAI_API_KEY): the model provider needs an API key");
    }
    cfg->llm_api_key = key ? key : dup_str("");
}

/* The knowledge base's embeddings (issue 12): LINEBOT_EMBED_MODEL, at
 * LINEBOT_EMBED_BASE_URL with the key in the variable
 * LINEBOT_EMBED_API_KEY_ENV names, else at the default model's base URL
 * with its key. Unset model: none of it is read. */
static void get_embed(struct loader *l, struct config *cfg)
{
    const char *model = env_nonempty(l->env, "LINEBOT_EMBED_MODEL");
    if (!model)
        return;
    cfg->embed_model = dup_str(model);
    char *min_cosine = get_str(l, "LINEBOT_KB_MIN_COSINE"), *end = NULL;
    cfg->kb_min_cosine = strtod(min_cosine, &end);
    if (end == min_cosine || *end || !(cfg->kb_min_cosine >= -1 && cfg->kb_min_cosine <= 1))
        fail(l, "LINEBOT_KB_MIN_COSINE", "must be a number from -1 to 1");
    free(min_cosine);
    cfg->embed_base_url = get_url_or(l, "LINEBOT_EMBED_BASE_URL", cfg->llm_base_url);
    if (!cfg->embed_base_url && !l->failed)
        fail(l, "LINEBOT_EMBED_BASE_URL", "is required: the model provider has no base URL");
    const char *key_env = env_nonempty(l->env, "LINEBOT_EMBED_API_KEY_ENV");
    if (!key_env) {
        cfg->embed_api_key = dup_str(cfg->llm_api_key);
        return;
    }
    const char *v = settings_env_get(l->env, key_env); /* any name: not a row of the table */
    bool changed;
    cfg->embed_api_key = v ? settings_trim_credential(v, &changed) : NULL;
    if ((!cfg->embed_api_key || !cfg->embed_api_key[0]) && !l->failed)
        fail(l, "LINEBOT_EMBED_API_KEY_ENV", "names a variable that is not set");
}

int config_load_embed(struct config *cfg, char *const *env, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    struct loader l = {.env = env, .err = err, .errlen = errlen, .failed = 0};
    if (errlen)
        err[0] = '\0';
    get_db(cfg, env);
    cfg->ca_file = opt_str(&l, env, "SSL_CERT_FILE");
    if (env_nonempty(env, "LINEBOT_EMBED_MODEL")) {
        /* The model's settings give the defaults; both set, they are not needed. */
        if (!env_nonempty(env, "LINEBOT_EMBED_BASE_URL") || !env_nonempty(env, "LINEBOT_EMBED_API_KEY_ENV")) {
            get_llm(&l, cfg);
            load_models(&l, cfg);
        }
        get_embed(&l, cfg);
    }
    if (l.failed) {
        config_free(cfg);
        return -1;
    }
    return 0;
}

int config_load(struct config *cfg, char *const *env, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    struct loader l = {.env = env, .err = err, .errlen = errlen, .failed = 0};
    if (errlen)
        err[0] = '\0';

    /* Required secrets first: the most common mistake gets the clearest message. */
    cfg->channel_secret = get_credential(env, "LINE_CHANNEL_SECRET");
    if (!cfg->channel_secret) {
        fail(&l, "LINE_CHANNEL_SECRET", "is not set: copy the channel secret from the LINE Developers Console (Basic settings)");
        cfg->channel_secret = dup_str("");
    }
    get_access_token(&l, cfg);

    cfg->host = get_str(&l, "HOST");
    if (!cfg->host[0]) {
        free(cfg->host);
        cfg->host = dup_str(row_of("HOST")->def);
    }
    cfg->port = get_int(&l, "PORT");
    cfg->max_conn_per_ip = get_int(&l, "LINEBOT_MAX_CONN_PER_IP");
    cfg->max_connections = get_int(&l, "LINEBOT_MAX_CONNECTIONS");
    cfg->header_timeout_s = get_int(&l, "LINEBOT_HEADER_TIMEOUT_S");
    cfg->request_timeout_s = get_int(&l, "LINEBOT_REQUEST_TIMEOUT_S");
    if (cfg->request_timeout_s < cfg->header_timeout_s)
        fail(&l, "LINEBOT_REQUEST_TIMEOUT_S", "must not be below LINEBOT_HEADER_TIMEOUT_S (the whole request includes its head)");
    cfg->line_api_base = get_url(&l, "LINE_API_BASE_URL");
    cfg->line_data_api_base = get_url(&l, "LINE_DATA_API_BASE_URL");
    cfg->push_fallback = get_bool(&l, "LINEBOT_PUSH_FALLBACK");

    get_llm(&l, cfg);

    const char *prompt = env_nonempty(env, "LLM_SYSTEM_PROMPT");
    cfg->system_prompt = dup_str(prompt ? prompt : chat_default_system_prompt);
    cfg->llm_timeout_s = get_int(&l, "LLM_TIMEOUT_S");
    cfg->thinking = get_bool(&l, "LINEBOT_THINKING");
    cfg->llm_max_tokens = get_int(&l, "LINEBOT_MAX_TOKENS");
    cfg->reasoning_effort = get_reasoning_effort(&l);
    load_models(&l, cfg);
    get_embed(&l, cfg);
    load_personas(&l, cfg);
    load_content(&l, cfg);
    load_voice(&l, cfg);
    load_memory(&l, cfg);

    get_db(cfg, env);
    cfg->workers = get_int(&l, "LINEBOT_WORKERS");

    const char *trigger = env_nonempty(env, "LINEBOT_TRIGGER");
    cfg->trigger = trigger ? dup_str(trigger) : NULL;
    cfg->group_context = get_int(&l, "LINEBOT_GROUP_CONTEXT");
    cfg->history_turns = get_int(&l, "LINEBOT_HISTORY_TURNS");
    cfg->history_chars = get_int(&l, "LINEBOT_HISTORY_CHARS");
    cfg->retention_days = get_int(&l, "LINEBOT_RETENTION_DAYS");
    /* An event older than its id's dedup record could be a replay of one
     * already answered and purged: refused rather than quietly shortened. */
    cfg->max_event_age_s = get_int(&l, "LINEBOT_MAX_EVENT_AGE_S");
    if ((long long)cfg->max_event_age_s > (long long)cfg->retention_days * 86400)
        fail(&l, "LINEBOT_MAX_EVENT_AGE_S",
             "must not be longer than LINEBOT_RETENTION_DAYS: a replayed event older than its purged id would be "
             "answered again");
    cfg->rate_limit = get_int(&l, "LINEBOT_RATE_LIMIT");
    cfg->user_daily_tokens = get_int(&l, "LINEBOT_USER_DAILY_TOKENS");
    cfg->chat_daily_tokens = get_int(&l, "LINEBOT_CHAT_DAILY_TOKENS");
    cfg->timezone = get_str(&l, "LINEBOT_TIMEZONE");
    cfg->push_reserve = get_int(&l, "LINEBOT_PUSH_RESERVE");
    cfg->greeting = get_str(&l, "LINEBOT_GREETING");
    /* Languages and fixed texts: unset is NULL, the built-in text in the
     * user's language (core/texts.c). An empty help, reset or apology is
     * unset too: a command and a failure always get an answer. */
    cfg->lang = LANG_AUTO;
    const char *lang = env_nonempty(env, "LINEBOT_LANG");
    if (lang && texts_parse_lang(lang, &cfg->lang) != 0)
        fail(&l, "LINEBOT_LANG", "must be auto, en, ja or zh-TW");
    const char *v;
    cfg->media_text = (v = env_get(env, "LINEBOT_MEDIA_TEXT")) ? dup_str(v) : NULL;
    cfg->slow_down_text = (v = env_get(env, "LINEBOT_SLOW_DOWN_TEXT")) ? dup_str(v) : NULL;
    cfg->truncated_text = (v = env_get(env, "LINEBOT_TRUNCATED_TEXT")) ? dup_str(v) : NULL;
    cfg->error_text = (v = env_nonempty(env, "LINEBOT_ERROR_TEXT")) ? dup_str(v) : NULL;
    cfg->help_text = (v = env_nonempty(env, "LINEBOT_HELP_TEXT")) ? dup_str(v) : NULL;
    cfg->reset_text = (v = env_nonempty(env, "LINEBOT_RESET_TEXT")) ? dup_str(v) : NULL;
    /* The knowledge base (issue 12). */
    cfg->kb_sources_label = (v = env_nonempty(env, "LINEBOT_KB_SOURCES_LABEL")) ? dup_str(v) : NULL;
    cfg->kb_unknown_text = (v = env_nonempty(env, "LINEBOT_KB_UNKNOWN_TEXT")) ? dup_str(v) : NULL;
    cfg->kb_strict = get_bool(&l, "LINEBOT_KB_STRICT");
    char *min_score = get_str(&l, "LINEBOT_KB_MIN_SCORE"), *min_end = NULL;
    cfg->kb_min_score = strtod(min_score, &min_end);
    if (min_end == min_score || *min_end || !(cfg->kb_min_score >= 0 && cfg->kb_min_score <= 1000))
        fail(&l, "LINEBOT_KB_MIN_SCORE", "must be a number from 0 to 1000");
    free(min_score);

    /* Serverless platforms announce themselves through their own variables. */
    cfg->platform = env_nonempty(env, "AWS_LAMBDA_RUNTIME_API")   ? PLATFORM_LAMBDA
                    : env_nonempty(env, "FC_FUNCTION_NAME")      ? PLATFORM_FC
                                                                  : PLATFORM_SERVER;
    cfg->async_mode = ASYNC_SELF;
    const char *async = env_nonempty(env, "LINEBOT_ASYNC");
    if (async && strcasecmp(async, "inline") == 0)
        cfg->async_mode = ASYNC_INLINE;
    else if (async && strcasecmp(async, "self") != 0)
        fail(&l, "LINEBOT_ASYNC", "must be self or inline");
    /* Behind Function Compute every request comes from its own proxy, so a
     * per-address limit would only throttle FC itself. */
    if (cfg->platform == PLATFORM_FC)
        cfg->max_conn_per_ip = 0;
    cfg->lambda_runtime_api = opt_str(&l, env, "AWS_LAMBDA_RUNTIME_API");
    if (cfg->platform == PLATFORM_FC) {
        cfg->function_name = opt_str(&l, env, "FC_FUNCTION_NAME");
        cfg->region = opt_str(&l, env, "FC_REGION");
    } else {
        cfg->function_name = opt_str(&l, env, "AWS_LAMBDA_FUNCTION_NAME");
        cfg->region = opt_str(&l, env, env_nonempty(env, "AWS_REGION") ? "AWS_REGION" : "AWS_DEFAULT_REGION");
    }
    cfg->aws_access_key_id = get_credential(env, "AWS_ACCESS_KEY_ID");
    cfg->aws_secret_access_key = get_credential(env, "AWS_SECRET_ACCESS_KEY");
    cfg->aws_session_token = get_credential(env, "AWS_SESSION_TOKEN");
    if (env_nonempty(env, "AWS_ENDPOINT_URL_LAMBDA"))
        cfg->lambda_endpoint = get_url(&l, "AWS_ENDPOINT_URL_LAMBDA");
    else if (env_nonempty(env, "AWS_ENDPOINT_URL"))
        cfg->lambda_endpoint = get_url(&l, "AWS_ENDPOINT_URL");
    cfg->fc_listen_port = get_int(&l, "FC_CUSTOM_LISTEN_PORT");
    cfg->fc_account_id = opt_str(&l, env, "FC_ACCOUNT_ID");
    cfg->fc_qualifier = opt_str(&l, env, "FC_QUALIFIER");
    if (env_nonempty(env, "LINEBOT_FC_ENDPOINT"))
        cfg->fc_endpoint = get_url(&l, "LINEBOT_FC_ENDPOINT");
    cfg->alibaba_access_key_id = get_credential(env, "ALIBABA_CLOUD_ACCESS_KEY_ID");
    cfg->alibaba_access_key_secret = get_credential(env, "ALIBABA_CLOUD_ACCESS_KEY_SECRET");
    cfg->alibaba_security_token = get_credential(env, "ALIBABA_CLOUD_SECURITY_TOKEN");

    cfg->ca_file = opt_str(&l, env, "SSL_CERT_FILE");

    get_log_settings(&l, cfg);

#ifdef LINEBOT_TESTING
    const char *fp = env_nonempty(env, "LINEBOT_FAILPOINT");
    cfg->failpoint = fp ? dup_str(fp) : NULL;
    const char *off = env_nonempty(env, "LINEBOT_TEST_CLOCK_OFFSET_MS");
    if (off) {
        char *end;
        errno = 0;
        cfg->clock_offset_ms = strtoll(off, &end, 10);
        if (errno || *end)
            fail(&l, "LINEBOT_TEST_CLOCK_OFFSET_MS", "must be a whole number");
    }
    cfg->test_dashscope_host = opt_str(&l, env, "LINEBOT_TEST_DASHSCOPE_HOST");
    cfg->test_allow_loopback_content = get_bool(&l, "LINEBOT_TEST_ALLOW_LOOPBACK_CONTENT");
#endif

    if (l.failed) {
        config_free(cfg);
        return -1;
    }
    return 0;
}

int config_load_store(struct config *cfg, char *const *env, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    if (err && errlen)
        err[0] = '\0';
    get_db(cfg, env);
    cfg->ca_file = opt_str(NULL, env, "SSL_CERT_FILE"); /* `kb add URL` fetches */
    return 0;
}

int config_load_line(struct config *cfg, char *const *env, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    struct loader l = {.env = env, .err = err, .errlen = errlen, .failed = 0};
    if (errlen)
        err[0] = '\0';
    get_access_token(&l, cfg);
    cfg->line_api_base = get_url(&l, "LINE_API_BASE_URL");
    cfg->line_data_api_base = get_url(&l, "LINE_DATA_API_BASE_URL");
    cfg->ca_file = opt_str(&l, env, "SSL_CERT_FILE");
    get_log_settings(&l, cfg);
    if (l.failed) {
        config_free(cfg);
        return -1;
    }
    return 0;
}

/* Every setting that holds a credential, set or not, with its value. */
#define SECRET_SETTINGS 12
static void secret_settings(const struct config *cfg, struct redact_secret all[SECRET_SETTINGS])
{
    const struct redact_secret list[SECRET_SETTINGS] = {
        {"LINE_CHANNEL_SECRET", cfg->channel_secret},
        {"LINE_CHANNEL_ACCESS_TOKEN", cfg->access_token},
        {"LLM_API_KEY", cfg->llm_api_key},
        {"AWS_ACCESS_KEY_ID", cfg->aws_access_key_id},
        {"AWS_SECRET_ACCESS_KEY", cfg->aws_secret_access_key},
        {"AWS_SESSION_TOKEN", cfg->aws_session_token},
        {"ALIBABA_CLOUD_ACCESS_KEY_ID", cfg->alibaba_access_key_id},
        {"ALIBABA_CLOUD_ACCESS_KEY_SECRET", cfg->alibaba_access_key_secret},
        {"ALIBABA_CLOUD_SECURITY_TOKEN", cfg->alibaba_security_token},
        {"LINEBOT_DB password", cfg->db_password},
        {"LINEBOT_DB password", cfg->db_password_url},
        {"LINEBOT_EMBED_API_KEY_ENV's variable", cfg->embed_api_key},
    };
    memcpy(all, list, sizeof list);
}

size_t config_secrets(const struct config *cfg, struct redact_secret *out, size_t max)
{
    struct redact_secret all[SECRET_SETTINGS];
    _Static_assert(SECRET_SETTINGS + MODELS_MAX <= CONFIG_MAX_SECRETS, "raise CONFIG_MAX_SECRETS");
    secret_settings(cfg, all);
    size_t n = 0;
    for (size_t i = 0; i < SECRET_SETTINGS && n < max; i++)
        if (redact_is_maskable(all[i].value))
            out[n++] = all[i];
    struct redact_secret keys[MODELS_MAX];
    size_t n_keys = model_secrets(cfg, keys, 0, MODELS_MAX);
    for (size_t i = 0; i < n_keys && n < max; i++)
        if (redact_is_maskable(keys[i].value))
            out[n++] = keys[i];
    return n;
}

size_t config_unmaskable_secrets(const struct config *cfg, const char **names, size_t max)
{
    struct redact_secret all[SECRET_SETTINGS];
    secret_settings(cfg, all);
    size_t n = 0;
    for (size_t i = 0; i < SECRET_SETTINGS && n < max; i++) {
        if (!all[i].value || !all[i].value[0] || redact_is_maskable(all[i].value))
            continue;
        if (n > 0 && strcmp(names[n - 1], all[i].name) == 0)
            continue; /* the DB password as written and decoded: one name */
        names[n++] = all[i].name;
    }
    struct redact_secret keys[MODELS_MAX];
    size_t n_keys = model_secrets(cfg, keys, 0, MODELS_MAX);
    for (size_t i = 0; i < n_keys && n < max; i++)
        if (!redact_is_maskable(keys[i].value))
            names[n++] = keys[i].name;
    return n;
}

void config_free(struct config *cfg)
{
    free_models(cfg);
    free_personas(cfg);
    free(cfg->memory_model);
    cfg->memory_model = NULL;
    char **strings[] = {
        &cfg->host, &cfg->channel_secret, &cfg->access_token, &cfg->line_api_base,
        &cfg->line_data_api_base, &cfg->llm_base_url, &cfg->llm_api_key, &cfg->llm_model,
        &cfg->system_prompt, &cfg->db, &cfg->trigger, &cfg->greeting, &cfg->media_text,
        &cfg->error_text, &cfg->slow_down_text, &cfg->help_text, &cfg->reset_text, &cfg->truncated_text,
        &cfg->kb_sources_label, &cfg->kb_unknown_text, &cfg->embed_model, &cfg->embed_base_url, &cfg->embed_api_key,
        &cfg->failpoint, &cfg->lambda_runtime_api,
        &cfg->function_name, &cfg->region, &cfg->aws_access_key_id, &cfg->aws_secret_access_key,
        &cfg->aws_session_token, &cfg->lambda_endpoint, &cfg->fc_account_id, &cfg->fc_endpoint,
        &cfg->fc_qualifier, &cfg->alibaba_access_key_id, &cfg->alibaba_access_key_secret,
        &cfg->alibaba_security_token, &cfg->ca_file, &cfg->db_password, &cfg->db_password_url,
        &cfg->test_dashscope_host, &cfg->timezone,
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        free(*strings[i]);
        *strings[i] = NULL;
    }
}
