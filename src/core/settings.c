/* settings.c - the table of settings, credential trimming, and the warnings
 * about variables that look like settings but are none.
 *
 * A typo such as LINE_CHANEL_SECRET used to be ignored without a word, and a
 * token pasted with a CR or quotes reached LINE as it was. Both are caught
 * here, before anything is sent, and said by name only: a warning never
 * holds a value. */
#include "core/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define G_LINE "LINE"
#define G_MODEL "Model"
#define G_SERVER "Server"
#define G_CHAT "Store and chat"
#define G_LOGS "Logs and TLS"
#define G_MEDIA "Images and other content"
#define G_CLOUD "Serverless (AWS Lambda, Alibaba Function Compute)"
#define G_TEST "Test builds"

static const struct setting table[] = {
    /* LINE */
    {"LINE_CHANNEL_SECRET", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_SECRET, G_LINE,
     "channel secret, 32 hexadecimal characters (required)"},
    {"LINE_CHANNEL_ACCESS_TOKEN", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_SECRET, G_LINE,
     "channel access token (required)"},
    {"LINE_ACCESS_TOKEN", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_SECRET, G_LINE,
     "the same, under its older name"},
    {"LINE_API_BASE_URL", SETTING_URL, "https://api.line.me", 0, 0, NULL, 0, G_LINE, "Messaging API base URL"},
    {"LINE_DATA_API_BASE_URL", SETTING_URL, "https://api-data.line.me", 0, 0, NULL, 0, G_LINE,
     "content API base URL"},
    {"LINEBOT_PUSH_FALLBACK", SETTING_BOOL, "0", 0, 0, NULL, 0, G_LINE,
     "push when LINE refuses the reply token (counts against the push quota)"},
    {"LINEBOT_PUSH_RESERVE", SETTING_INT, "0", 0, 1000000000, NULL, 0, G_LINE,
     "no push fallback when fewer messages than this are left in the month's quota (0: push while any is left)"},

    /* Model */
    {"LLM_PROVIDER", SETTING_CHOICE, "openai", 0, 0, "openai | dashscope | dashscope-cn | dashscope-us | ollama | custom",
     0, G_MODEL, "the model provider: sets the base URL, model and key variable"},
    {"LLM_BASE_URL", SETTING_URL, NULL, 0, 0, NULL, 0, G_MODEL,
     "OpenAI-compatible base URL (.../v1); default: the provider's"},
    {"LLM_API_KEY", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_SECRET, G_MODEL,
     "model API key (required except for ollama)"},
    {"OPENAI_API_KEY", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_SECRET, G_MODEL,
     "the key when LLM_API_KEY is unset (openai, custom)"},
    {"DASHSCOPE_API_KEY", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_SECRET, G_MODEL,
     "the key when LLM_API_KEY is unset (dashscope*)"},
    {"LLM_MODEL", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_MODEL, "model id; default: the provider's"},
    {"LLM_SYSTEM_PROMPT", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_MODEL, "replaces the built-in system prompt"},
    {"LLM_TIMEOUT_S", SETTING_INT, "30", 1, 50, NULL, 0, G_MODEL, "seconds per model attempt"},
    {"LINEBOT_MAX_TOKENS", SETTING_INT, "1024", 0, 1000000, NULL, 0, G_MODEL,
     "the answer's token budget, thinking included (0: not sent)"},
    {"LINEBOT_REASONING_EFFORT", SETTING_CHOICE, "low", 0, 0, "minimal | low | medium | high | none", 0, G_MODEL,
     "reasoning_effort for OpenAI's reasoning models"},
    {"LINEBOT_THINKING", SETTING_BOOL, "0", 0, 0, NULL, 0, G_MODEL, "let DashScope's models think"},
    {"LINEBOT_MODELS", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_MODEL,
     "the model catalogue users switch between with /model: a JSON array, or @/path/file.json"},
    {"LINEBOT_DEFAULT_MODEL", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_MODEL,
     "the catalogue's default model by name; default: its first"},
    {"LINEBOT_ADMINS", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_MODEL,
     "user ids (comma-separated) who alone may switch the model or change the persona in groups and rooms"},
    {"LINEBOT_PERSONAS", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_MODEL,
     "persona presets users pick with /persona: a JSON array, or @/path/file.json"},
    {"LINEBOT_MEMORY", SETTING_CHOICE, "auto", 0, 0, "auto | explicit | off", 0, G_MODEL,
     "memory of the user: auto also learns facts from 1:1 chats; explicit only /remember"},
    {"LINEBOT_MEMORY_EVERY", SETTING_INT, "6", 1, 1000, NULL, 0, G_MODEL,
     "new 1:1 messages of a user before facts are extracted from them (or 10 idle minutes)"},
    {"LINEBOT_MEMORY_MODEL", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_MODEL,
     "the catalogue model that extracts facts; default: the cheapest priced one, else the default"},

    /* Server */
    {"HOST", SETTING_TEXT, "0.0.0.0", 0, 0, NULL, 0, G_SERVER, "address to listen on"},
    {"PORT", SETTING_INT, "8080", 1, 65535, NULL, 0, G_SERVER, "port to listen on"},
    {"LINEBOT_MAX_CONN_PER_IP", SETTING_INT, "64", 0, 1000000, NULL, 0, G_SERVER,
     "connections per client address (0: off, as behind a proxy)"},
    {"LINEBOT_MAX_CONNECTIONS", SETTING_INT, "1000", 1, 1000000, NULL, 0, G_SERVER,
     "open connections; the oldest idle one makes room"},
    {"LINEBOT_HEADER_TIMEOUT_S", SETTING_INT, "10", 1, 3600, NULL, 0, G_SERVER, "seconds to receive a request's head"},
    {"LINEBOT_REQUEST_TIMEOUT_S", SETTING_INT, "30", 1, 86400, NULL, 0, G_SERVER,
     "seconds to receive a whole request"},

    /* Store and chat */
    {"LINEBOT_DB", SETTING_TEXT, "./linebot.db", 0, 0, NULL, 0, G_CHAT,
     "SQLite file or postgres:// URL (/tmp/linebot.db on Lambda and FC)"},
    {"LINEBOT_WORKERS", SETTING_INT, "4", 1, 256, NULL, 0, G_CHAT, "worker threads answering messages"},
    {"LINEBOT_TRIGGER", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_CHAT, "word that addresses the bot in groups"},
    {"LINEBOT_GROUP_CONTEXT", SETTING_INT, "0", 0, 100, NULL, 0, G_CHAT,
     "un-addressed group messages kept as context"},
    {"LINEBOT_HISTORY_TURNS", SETTING_INT, "10", 0, 200, NULL, 0, G_CHAT, "past exchanges sent to the model"},
    {"LINEBOT_HISTORY_CHARS", SETTING_INT, "6000", 0, 1000000, NULL, 0, G_CHAT,
     "characters of history sent to the model"},
    {"LINEBOT_SUMMARY", SETTING_BOOL, "1", 0, 0, NULL, 0, G_CHAT,
     "fold turns past the history limits into a rolling summary of the chat (0: drop them)"},
    {"LINEBOT_RETENTION_DAYS", SETTING_INT, "30", 1, 3650, NULL, 0, G_CHAT, "days anything is kept"},
    {"LINEBOT_MAX_EVENT_AGE_S", SETTING_INT, "86400", 60, 3650LL * 86400, NULL, 0, G_CHAT,
     "older events are acknowledged, not answered"},
    {"LINEBOT_RATE_LIMIT", SETTING_INT, "10", 0, 100000, NULL, 0, G_CHAT, "messages per user per minute (0: off)"},
    /* Budgets (issue 11) */
    {"LINEBOT_USER_DAILY_TOKENS", SETTING_INT, "0", 0, 2000000000, NULL, 0, G_CHAT,
     "tokens a user may spend a day, in every chat together (0: no limit)"},
    {"LINEBOT_CHAT_DAILY_TOKENS", SETTING_INT, "0", 0, 2000000000, NULL, 0, G_CHAT,
     "tokens a group or room may spend a day (0: no limit)"},
    {"LINEBOT_TIMEZONE", SETTING_TEXT, "UTC", 0, 0, NULL, 0, G_CHAT,
     "when the budgets' day starts: an IANA zone (Asia/Tokyo) or an offset (+09:00)"},
    {"LINEBOT_GREETING", SETTING_TEXT, "", 0, 0, NULL, 0, G_CHAT, "sent on follow and join (empty: none)"},
    {"LINEBOT_LANG", SETTING_CHOICE, "auto", 0, 0, "auto | en | ja | zh-TW", 0, G_CHAT,
     "language of the bot's own texts; auto: the user's LINE profile, else the message's script"},
    {"LINEBOT_HELP_TEXT", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_CHAT,
     "answer to /help, in every language (default: built in, in the user's language)"},
    {"LINEBOT_RESET_TEXT", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_CHAT,
     "answer to /reset, in every language (default: built in)"},
    {"LINEBOT_MEDIA_TEXT", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_CHAT,
     "answer to images, audio, video, files (default: built in; empty: silence)"},
    {"LINEBOT_ERROR_TEXT", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_CHAT,
     "apology when the model fails (default: built in)"},
    {"LINEBOT_SLOW_DOWN_TEXT", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_CHAT,
     "the rate limit's reply (default: built in; empty: silence)"},
    {"LINEBOT_TRUNCATED_TEXT", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_CHAT,
     "mark at the end of a cut answer (default: built in; empty: none)"},
    /* The knowledge base (issue 12: `linebot kb`). */
    {"LINEBOT_KB_SOURCES_LABEL", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_CHAT,
     "the line over the sources that end an answer from the knowledge base (default: built in)"},
    {"LINEBOT_KB_MIN_SCORE", SETTING_TEXT, "0", 0, 0, NULL, 0, G_CHAT,
     "BM25 score a passage of the knowledge base needs to reach the model"},
    {"LINEBOT_KB_STRICT", SETTING_BOOL, "0", 0, 0, NULL, 0, G_CHAT,
     "no passage reaches LINEBOT_KB_MIN_SCORE: send LINEBOT_KB_UNKNOWN_TEXT, no model call"},
    {"LINEBOT_KB_UNKNOWN_TEXT", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_CHAT,
     "the strict mode's answer, in every language (default: built in)"},
    /* The knowledge base's vectors (issue 12). */
    {"LINEBOT_EMBED_MODEL", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_CHAT,
     "embeddings model for the knowledge base (e.g. text-embedding-3-small); unset: lexical search only"},
    {"LINEBOT_EMBED_BASE_URL", SETTING_URL, NULL, 0, 0, NULL, 0, G_CHAT,
     "OpenAI-compatible base URL of the embeddings; default: the default model's"},
    {"LINEBOT_EMBED_API_KEY_ENV", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_CHAT,
     "the variable that holds the embeddings key; default: the default model's key"},
    {"LINEBOT_KB_MIN_COSINE", SETTING_TEXT, "0.5", 0, 0, NULL, 0, G_CHAT,
     "cosine a passage found by its vector needs to reach the model (with LINEBOT_EMBED_MODEL)"},

    /* Images and other content (issue 13) */
    {"LINEBOT_MAX_CONTENT_MB", SETTING_INT, "10", 1, 100, NULL, 0, G_MEDIA,
     "largest image, voice message or file fetched, in MB"},
    {"LINEBOT_VISION_MODEL", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_MEDIA,
     "catalogue model that reads images; default: the chat's model if it has vision, else the first that has"},
    {"LINEBOT_MAX_IMAGES", SETTING_INT, "4", 1, 20, NULL, 0, G_MEDIA, "images sent to the model in one request"},
    {"LINEBOT_IMAGE_FOLLOWUP_S", SETTING_INT, "600", 0, 86400, NULL, 0, G_MEDIA,
     "seconds a text right after an image is asked together with it (0: never)"},
    {"LINEBOT_TRANSCRIBE_MODEL", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_MEDIA,
     "catalogue model that transcribes voice messages; default: the first with audio"},
    {"LINEBOT_MAX_AUDIO_S", SETTING_INT, "120", 1, 3600, NULL, 0, G_MEDIA,
     "longest voice message transcribed, in seconds (longer: a notice, nothing fetched)"},
    {"LINEBOT_PROGRESS_S", SETTING_INT, "40", 0, 55, NULL, 0, G_MEDIA,
     "seconds after a message at which slow work replies \"still working\" with a button for the answer (0: never)"},
    {"LINEBOT_PROGRESS_WAIT_S", SETTING_INT, "300", 1, 86400, NULL, 0, G_MEDIA,
     "seconds a finished answer waits for its button; then pushed (LINEBOT_PUSH_FALLBACK) or dropped"},

    /* Logs and TLS */
    {"LOG_LEVEL", SETTING_CHOICE, "info", 0, 0, "debug | info | warn | error", 0, G_LOGS,
     "how much is logged; message texts only at debug"},
    {"LOG_FORMAT", SETTING_CHOICE, NULL, 0, 0, "text | json", 0, G_LOGS,
     "log lines; default: text on a terminal, else json (always json on Lambda and FC)"},
    {"SSL_CERT_FILE", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_LOGS,
     "CA bundle for TLS; default: the first of the usual paths"},

    /* Serverless */
    {"LINEBOT_ASYNC", SETTING_CHOICE, "self", 0, 0, "self | inline", 0, G_CLOUD,
     "self: the chat work in an asynchronous invocation; inline: in the webhook's"},
    {"AWS_LAMBDA_RUNTIME_API", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_PLATFORM, G_CLOUD,
     "set by Lambda: starts the Lambda runtime"},
    {"AWS_LAMBDA_FUNCTION_NAME", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_PLATFORM, G_CLOUD,
     "set by Lambda: the function invoked asynchronously"},
    {"AWS_REGION", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_PLATFORM, G_CLOUD, "set by Lambda"},
    {"AWS_DEFAULT_REGION", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_PLATFORM, G_CLOUD, "when AWS_REGION is unset"},
    {"AWS_ACCESS_KEY_ID", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_SECRET | SETTING_PLATFORM, G_CLOUD,
     "set by Lambda: the role's credentials"},
    {"AWS_SECRET_ACCESS_KEY", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_SECRET | SETTING_PLATFORM, G_CLOUD,
     "set by Lambda"},
    {"AWS_SESSION_TOKEN", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_SECRET | SETTING_PLATFORM, G_CLOUD,
     "set by Lambda"},
    {"AWS_ENDPOINT_URL_LAMBDA", SETTING_URL, NULL, 0, 0, NULL, 0, G_CLOUD,
     "endpoint of the asynchronous Lambda Invoke"},
    {"AWS_ENDPOINT_URL", SETTING_URL, NULL, 0, 0, NULL, 0, G_CLOUD, "the same, for every AWS service"},
    {"FC_FUNCTION_NAME", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_PLATFORM, G_CLOUD,
     "set by FC: starts Function Compute mode"},
    {"FC_CUSTOM_LISTEN_PORT", SETTING_INT, "9000", 1, 65535, NULL, SETTING_PLATFORM, G_CLOUD,
     "port of the FC custom runtime"},
    {"FC_ACCOUNT_ID", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_PLATFORM, G_CLOUD, "set by FC"},
    {"FC_REGION", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_PLATFORM, G_CLOUD, "set by FC"},
    {"FC_QUALIFIER", SETTING_TEXT, NULL, 0, 0, NULL, 0, G_CLOUD, "version or alias to invoke"},
    {"LINEBOT_FC_ENDPOINT", SETTING_URL, NULL, 0, 0, NULL, 0, G_CLOUD,
     "InvokeFunction endpoint; default: {account}.{region}.fc.aliyuncs.com"},
    {"ALIBABA_CLOUD_ACCESS_KEY_ID", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_SECRET, G_CLOUD,
     "credentials when FC passes none in its headers"},
    {"ALIBABA_CLOUD_ACCESS_KEY_SECRET", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_SECRET, G_CLOUD, "the same"},
    {"ALIBABA_CLOUD_SECURITY_TOKEN", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_SECRET, G_CLOUD, "the same"},

    /* Test builds (LINEBOT_TESTING) only */
    {"LINEBOT_FAILPOINT", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_HIDDEN, G_TEST, "crash at a named point"},
    {"LINEBOT_TEST_CLOCK_OFFSET_MS", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_HIDDEN, G_TEST, "shift the clock"},
    {"LINEBOT_TEST_DASHSCOPE_HOST", SETTING_TEXT, NULL, 0, 0, NULL, SETTING_HIDDEN, G_TEST,
     "this host counts as DashScope's"},
    {"LINEBOT_TEST_ALLOW_LOOPBACK_CONTENT", SETTING_BOOL, "0", 0, 0, NULL, SETTING_HIDDEN, G_TEST,
     "external content may come from loopback, over http (the e2e fakes)"},
};

/* The tests' own variables (LINEBOT_TEST_PG_URL, ...) reach the binary too. */
static const char test_prefix[] = "LINEBOT_TEST_";

const struct setting *settings_table(size_t *n)
{
    *n = sizeof table / sizeof table[0];
    return table;
}

const struct setting *settings_find(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

const char *settings_env_get(char *const *env, const char *name)
{
    const char *found = NULL;
    size_t n = strlen(name);
    for (char *const *e = env; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            found = *e + n + 1;
    return found;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Narrows [*start, *end) past whitespace at both ends. */
static void trim_spaces(const char **start, const char **end)
{
    while (*start < *end && is_space(**start))
        (*start)++;
    while (*end > *start && is_space((*end)[-1]))
        (*end)--;
}

char *settings_trim_credential(const char *value, bool *changed)
{
    const char *start = value;
    const char *end = value + strlen(value);
    trim_spaces(&start, &end);
    if (end - start >= 2 && (*start == '"' || *start == '\'') && end[-1] == *start) {
        start++;
        end--;
        trim_spaces(&start, &end);
    }
    if (changed)
        *changed = start != value || *end != '\0';
    return xstrndup(start, (size_t)(end - start));
}

/* Optimal string alignment distance (Levenshtein plus swapped neighbours),
 * or `limit` + 1 as soon as it must exceed `limit`. Names are short: a
 * longer one is no typo of a setting. */
#define SUGGEST_MAX_LEN 64
static size_t edit_distance(const char *a, const char *b, size_t limit)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN || (la > lb ? la - lb : lb - la) > limit)
        return limit + 1;
    size_t d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

const char *settings_suggest(const char *name)
{
    const char *best = NULL;
    size_t best_distance = 3; /* at most two edits */
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (table[i].flags & SETTING_HIDDEN)
            continue;
        size_t d = edit_distance(name, table[i].name, best_distance - 1);
        if (d < best_distance) {
            best = table[i].name;
            best_distance = d;
        }
    }
    return best;
}

static bool is_ours(const char *name)
{
    return strncmp(name, "LINE_", 5) == 0 || strncmp(name, "LINEBOT_", 8) == 0 || strncmp(name, "LLM_", 4) == 0;
}

/* The name of an environment entry, made printable: letters, digits and '_'
 * as they are, anything else as '?', at most 80 characters. */
static void printable_name(const char *entry, size_t len, char out[81])
{
    size_t n = len < 80 ? len : 80;
    for (size_t i = 0; i < n; i++) {
        char c = entry[i];
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        out[i] = plain ? c : '?';
    }
    out[n] = '\0';
}

static void check_credential(char *const *env, const char *name, void (*warn)(void *arg, const char *message),
                             void *arg)
{
    const char *value = settings_env_get(env, name);
    bool changed = false;
    if (value)
        free(settings_trim_credential(value, &changed));
    if (!changed)
        return;
    char message[256];
    snprintf(message, sizeof message,
             "%.80s has spaces, line breaks or quotes around it: they are removed (check where it was copied from)",
             name);
    warn(arg, message);
}

static bool is_extra(const char *const *extra, const char *name, size_t len)
{
    for (; extra && *extra; extra++)
        if (strlen(*extra) == len && strncmp(*extra, name, len) == 0)
            return true;
    return false;
}

void settings_check_env(char *const *env, void (*warn)(void *arg, const char *message), void *arg)
{
    settings_check_env_with(env, NULL, warn, arg);
}

void settings_check_env_with(char *const *env, const char *const *extra,
                             void (*warn)(void *arg, const char *message), void *arg)
{
    char message[256];
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].flags & SETTING_SECRET)
            check_credential(env, table[i].name, warn, arg);
    for (const char *const *x = extra; x && *x; x++)
        if (!settings_find(*x))
            check_credential(env, *x, warn, arg);
    for (char *const *e = env; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        char name[81];
        printable_name(*e, len, name);
        if (!is_ours(name) || strncmp(name, test_prefix, sizeof test_prefix - 1) == 0)
            continue;
        if ((len <= 80 && settings_find(name)) || is_extra(extra, *e, len))
            continue;
        bool seen = false; /* a name set twice is one warning */
        for (char *const *p = env; p < e && !seen; p++)
            seen = strncmp(*p, *e, len) == 0 && ((*p)[len] == '=' || (*p)[len] == '\0');
        if (seen)
            continue;
        const char *close = settings_suggest(name);
        if (close)
            snprintf(message, sizeof message, "%s is not a setting of linebot and is ignored: did you mean %s?", name,
                     close);
        else
            snprintf(message, sizeof message,
                     "%s is not a setting of linebot and is ignored (`linebot serve --help` lists them)", name);
        warn(arg, message);
    }
}
