/* config.h - every setting of the bot, read once from the environment.
 *
 * config_load() is the only place that looks at environment variables. It takes
 * the environment as a NULL-terminated "KEY=VALUE" array (like `environ`), so
 * tests pass their own. The rest of the program receives a `struct config` and
 * never calls getenv(). */
#ifndef LINEBOT_CONFIG_H
#define LINEBOT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/redact.h"
#include "core/texts.h"

enum llm_provider {
    LLM_PROVIDER_OPENAI,
    LLM_PROVIDER_DASHSCOPE,    /* international (Singapore) */
    LLM_PROVIDER_DASHSCOPE_CN, /* mainland China (Beijing) */
    LLM_PROVIDER_DASHSCOPE_US, /* US (Virginia) */
    LLM_PROVIDER_OLLAMA,
    LLM_PROVIDER_CUSTOM,       /* any other OpenAI-compatible server (vLLM, ...) */
};

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
/* How a log line is written (obs/log.h). AUTO: LOG_FORMAT unset, decided at
 * start from where stdout goes and the platform. */
enum log_format { LOG_FORMAT_AUTO, LOG_FORMAT_JSON, LOG_FORMAT_TEXT };

/* Where the binary runs, from the environment the platform sets. */
enum platform {
    PLATFORM_SERVER,  /* linebot serve */
    PLATFORM_LAMBDA,  /* AWS_LAMBDA_RUNTIME_API is set */
    PLATFORM_FC,      /* FC_FUNCTION_NAME is set (Alibaba Function Compute 3.0) */
};

/* Serverless only: where the chat work of a webhook happens. */
enum async_mode {
    ASYNC_SELF,   /* acknowledge, then invoke this same function asynchronously */
    ASYNC_INLINE, /* do the work inside the webhook invocation */
};

struct model_catalogue; /* core/models.h */
struct persona_catalogue; /* core/personas.h */
struct model_entry;

/* LINEBOT_MEMORY (issue 11): what the bot remembers about a user. */
enum memory_mode {
    MEMORY_AUTO,     /* /remember, and facts the model extracts from 1:1 chats */
    MEMORY_EXPLICIT, /* only what users say with /remember */
    MEMORY_OFF,      /* nothing: the commands say memory is off */
};

struct config {
    /* Front door */
    char *host;                 /* HOST, default 0.0.0.0 */
    int port;                   /* PORT, default 8080 */
    int max_conn_per_ip;        /* LINEBOT_MAX_CONN_PER_IP, default 64; 0 = off (always off on FC) */
    int max_connections;        /* LINEBOT_MAX_CONNECTIONS, default 1000 */
    int header_timeout_s;       /* LINEBOT_HEADER_TIMEOUT_S, default 10 */
    int request_timeout_s;      /* LINEBOT_REQUEST_TIMEOUT_S, default 30; never below the header's */

    /* LINE */
    char *channel_secret;       /* LINE_CHANNEL_SECRET (required) */
    char *access_token;         /* LINE_CHANNEL_ACCESS_TOKEN or LINE_ACCESS_TOKEN (required) */
    char *line_api_base;        /* LINE_API_BASE_URL, default https://api.line.me */
    char *line_data_api_base;   /* LINE_DATA_API_BASE_URL, default https://api-data.line.me */
    bool push_fallback;         /* LINEBOT_PUSH_FALLBACK, default false */

    /* LLM */
    enum llm_provider provider; /* LLM_PROVIDER, default openai */
    char *llm_base_url;         /* LLM_BASE_URL, default from the provider */
    char *llm_api_key;          /* LLM_API_KEY, else OPENAI_API_KEY / DASHSCOPE_API_KEY */
    char *llm_model;            /* LLM_MODEL, default from the provider */
    char *system_prompt;        /* LLM_SYSTEM_PROMPT, default: chat_default_system_prompt */
    int llm_timeout_s;          /* LLM_TIMEOUT_S, per attempt, default 30 */
    bool thinking;              /* LINEBOT_THINKING, default false */
    int llm_max_tokens;         /* LINEBOT_MAX_TOKENS, default 1024; 0 = do not send */
    const char *reasoning_effort; /* LINEBOT_REASONING_EFFORT: minimal, low (default), medium, high;
                                     NULL = not sent ("none" or empty). A static string */

    /* Store and workers */
    char *db;                   /* LINEBOT_DB, default ./linebot.db */
    int workers;                /* LINEBOT_WORKERS, default 4 */

    /* Chat rules */
    char *trigger;              /* LINEBOT_TRIGGER, NULL when unset or empty */
    int group_context;          /* LINEBOT_GROUP_CONTEXT, default 0 */
    int history_turns;          /* LINEBOT_HISTORY_TURNS, default 10 */
    int history_chars;          /* LINEBOT_HISTORY_CHARS, default 6000 */
    int retention_days;         /* LINEBOT_RETENTION_DAYS, default 30 */
    int max_event_age_s;        /* LINEBOT_MAX_EVENT_AGE_S, default 86400; never above the retention */
    int rate_limit;             /* LINEBOT_RATE_LIMIT per user per minute, default 10; 0 = off */
    /* Budgets (issue 11): tokens a day; 0 = off. The day follows `timezone`
     * (io/timezone.h resolves it at start). */
    int user_daily_tokens;      /* LINEBOT_USER_DAILY_TOKENS: a user, in every chat together */
    int chat_daily_tokens;      /* LINEBOT_CHAT_DAILY_TOKENS: a group or room */
    char *timezone;             /* LINEBOT_TIMEZONE: IANA name or offset; NULL/"" = UTC */
    int push_reserve;           /* LINEBOT_PUSH_RESERVE: no push with fewer messages left */
    char *greeting;             /* LINEBOT_GREETING, "" = none */

    /* Languages and fixed texts (core/texts.h). A text left NULL is the
     * built-in one in the user's language; a set one applies in every language. */
    enum lang lang;             /* LINEBOT_LANG: auto (default), en, ja, zh-TW */
    char *media_text;           /* LINEBOT_MEDIA_TEXT, "" = silence */
    char *error_text;           /* LINEBOT_ERROR_TEXT ("" = unset: there is always an apology) */
    char *slow_down_text;       /* LINEBOT_SLOW_DOWN_TEXT, "" = silence */
    char *help_text;            /* LINEBOT_HELP_TEXT ("" = unset) */
    char *reset_text;           /* LINEBOT_RESET_TEXT ("" = unset) */
    char *truncated_text;       /* LINEBOT_TRUNCATED_TEXT, "" = no mark */
    /* The knowledge base (issue 12); the texts NULL: built in, per language. */
    char *kb_sources_label;     /* LINEBOT_KB_SOURCES_LABEL */
    double kb_min_score;        /* LINEBOT_KB_MIN_SCORE, default 0: any match */
    bool kb_strict;             /* LINEBOT_KB_STRICT */
    char *kb_unknown_text;      /* LINEBOT_KB_UNKNOWN_TEXT */
    char *embed_model;          /* LINEBOT_EMBED_MODEL; NULL: lexical search only */
    char *embed_base_url;       /* LINEBOT_EMBED_BASE_URL, else the default model's base URL */
    char *embed_api_key;        /* the variable LINEBOT_EMBED_API_KEY_ENV names, else the model's key */
    double kb_min_cosine;       /* LINEBOT_KB_MIN_COSINE, default 0.5 */

    /* Serverless */
    enum platform platform;
    enum async_mode async_mode; /* LINEBOT_ASYNC: self (default) | inline */
    char *lambda_runtime_api;   /* AWS_LAMBDA_RUNTIME_API (host:port) */
    char *function_name;        /* AWS_LAMBDA_FUNCTION_NAME or FC_FUNCTION_NAME */
    char *region;               /* AWS_REGION (or AWS_DEFAULT_REGION) / FC_REGION */
    char *aws_access_key_id;    /* AWS_ACCESS_KEY_ID (the runtime's temporary credentials) */
    char *aws_secret_access_key;/* AWS_SECRET_ACCESS_KEY */
    char *aws_session_token;    /* AWS_SESSION_TOKEN, may be NULL */
    char *lambda_endpoint;      /* AWS_ENDPOINT_URL_LAMBDA, else AWS_ENDPOINT_URL, else NULL (the regional endpoint) */
    int fc_listen_port;         /* FC_CUSTOM_LISTEN_PORT, default 9000 */
    char *fc_account_id;        /* FC_ACCOUNT_ID */
    char *fc_endpoint;          /* LINEBOT_FC_ENDPOINT, else https://{account}.{region}.fc.aliyuncs.com */
    char *fc_qualifier;         /* FC_QUALIFIER (version or alias), may be NULL */
    char *alibaba_access_key_id;     /* ALIBABA_CLOUD_ACCESS_KEY_ID (per-request x-fc-* headers win) */
    char *alibaba_access_key_secret; /* ALIBABA_CLOUD_ACCESS_KEY_SECRET */
    char *alibaba_security_token;    /* ALIBABA_CLOUD_SECURITY_TOKEN */

    char *ca_file;              /* SSL_CERT_FILE: CA bundle for TLS (else found at the known paths) */
    char *db_password;          /* the password of a postgres:// LINEBOT_DB, decoded (for masking in logs) */
    char *db_password_url;      /* the same as written in the URL (percent-encoded); NULL each when none */

    /* Observability */
    enum log_level log_level;   /* LOG_LEVEL: debug, info, warn, error; default info */
    enum log_format log_format; /* LOG_FORMAT: text | json; AUTO when unset */

    /* Models in the chat (issue 11). */
    struct model_catalogue *models; /* LINEBOT_MODELS (core/models.h), else the one model of LLM_MODEL;
                                       never NULL nor empty after config_load. With a catalogue, the
                                       llm_* fields above hold its default model */
    char **admins;              /* LINEBOT_ADMINS: user ids that may switch in groups and rooms */
    size_t n_admins;            /* 0: everyone may */
    struct persona_catalogue *personas; /* LINEBOT_PERSONAS (core/personas.h); never NULL after
                                           config_load, empty when unset */

    /* Images and other content (issue 13). */
    int max_content_mb;         /* LINEBOT_MAX_CONTENT_MB, default 10 */
    const struct model_entry *vision_model; /* LINEBOT_VISION_MODEL (an item of `models`, checked to
                                       have vision); NULL: the chat's model if it has vision, else the
                                       first that has */
    int max_images;             /* LINEBOT_MAX_IMAGES, default 4 */
    int image_followup_s;       /* LINEBOT_IMAGE_FOLLOWUP_S, default 600 */
    /* Voice messages (issue 13, run/stage_transcribe.c). */
    const struct model_entry *transcribe_model; /* LINEBOT_TRANSCRIBE_MODEL, else the catalogue's first with
                                       "audio": true; NULL: none (voice gets the media text) */
    int max_audio_s;            /* LINEBOT_MAX_AUDIO_S, default 120 */
    /* Slow answers (issue 13 part 5, run/stage_progress.c). */
    int progress_s;             /* LINEBOT_PROGRESS_S, default 40 (0: no "still working" message) */
    int progress_wait_s;        /* LINEBOT_PROGRESS_WAIT_S, default 300 */

    /* Memory of the user (issue 11, run/stage_memory.c). */
    enum memory_mode memory;    /* LINEBOT_MEMORY: auto (default) | explicit | off */
    int memory_every;           /* LINEBOT_MEMORY_EVERY: new 1:1 turns per extraction, default 6 */
    char *memory_model;         /* LINEBOT_MEMORY_MODEL, else the cheapest priced model, else the
                                   default: always a catalogue name after config_load */
    bool summary;               /* LINEBOT_SUMMARY: fold turns past the history limits into a rolling
                                   summary (default), or drop them as before */

    /* Test builds only (LINEBOT_TESTING): crash at a named point, shift the clock. */
    char *failpoint;            /* LINEBOT_FAILPOINT */
    long long clock_offset_ms;  /* LINEBOT_TEST_CLOCK_OFFSET_MS */
    char *test_dashscope_host;  /* LINEBOT_TEST_DASHSCOPE_HOST: this host counts as DashScope's,
                                   so a loopback fake gets the DashScope rules; NULL in release builds */
    bool test_allow_loopback_content; /* LINEBOT_TEST_ALLOW_LOOPBACK_CONTENT: external content from a
                                         loopback fake, over http; false in release builds */
};

/* Fills `cfg` from `env`. Returns 0, or -1 with a one-line message in `err`
 * that names the offending variable. Never puts a secret's value in `err`.
 * Credentials come without the spaces, line breaks and one pair of quotes
 * around them (settings_trim_credential); defaults and bounds are the rows
 * of core/settings.c. */
int config_load(struct config *cfg, char *const *env, char *err, size_t errlen);
void config_free(struct config *cfg);
/* NULL when `secret` has the shape of a LINE channel secret (32 hexadecimal
 * characters), else what is wrong with it, to follow "LINE_CHANNEL_SECRET ".
 * config_load does not refuse it, so that `linebot doctor` can still run its
 * other checks; every command that verifies signatures refuses to start. A
 * swapped secret and token are caught here. Never quotes the value. */
const char *config_channel_secret_problem(const char *secret);

/* Only what a call to LINE's Messaging API needs (`linebot webhook`): the
 * access token (required), LINE_API_BASE_URL, LINE_DATA_API_BASE_URL,
 * SSL_CERT_FILE, LOG_LEVEL and LOG_FORMAT. Nothing else is read or required (no model,
 * store or port settings); the other fields stay zero. Same contract as
 * config_load. */
int config_load_line(struct config *cfg, char *const *env, char *err, size_t errlen);
/* Only the store (`linebot admin`, `linebot kb`): LINEBOT_DB with its
 * default, and SSL_CERT_FILE; the other fields stay zero. Same contract as config_load (nothing can fail yet). */
int config_load_store(struct config *cfg, char *const *env, char *err, size_t errlen);
/* `linebot kb`: the store, and with LINEBOT_EMBED_MODEL set the embeddings
 * settings (with the model settings their defaults come from); the other
 * fields stay zero. Same contract as config_load. */
int config_load_embed(struct config *cfg, char *const *env, char *err, size_t errlen);

/* The configured secrets, named by their settings, for masking in logs
 * (obs/log.c): the channel secret and access token, the model key, the
 * AWS and Alibaba Cloud credentials, and the password of a postgres://
 * LINEBOT_DB (as written and decoded; a URL curl_url() cannot read, such as
 * libpq's several hosts, gives none), and the catalogue's other model keys.
 * Fills out[0..max) with pointers into `cfg` (valid while it lives) and returns how many it filled; unset ones and
 * values too short to mask (redact.h) are left out. CONFIG_MAX_SECRETS is
 * always enough. */
#define CONFIG_MAX_SECRETS 48
size_t config_secrets(const struct config *cfg, struct redact_secret *out, size_t max);

/* The names of the credentials that are set but too short to be masked in
 * logs (REDACT_MIN_LEN): start-up warns about each, since a real credential
 * is longer and a short one would show in a log line as it is. */
size_t config_unmaskable_secrets(const struct config *cfg, const char **names, size_t max);

/* The non-empty value of `name` in `env`, or NULL. For the one decision made
 * before the configuration is read: whether this process is a Lambda start. */
const char *config_lookup(char *const *env, const char *name);

/* Parses "1/0/true/false/yes/no/on/off" (any case). Returns 0 or -1. */
int config_parse_bool(const char *s, bool *out);

const char *config_provider_name(enum llm_provider p);

#endif
