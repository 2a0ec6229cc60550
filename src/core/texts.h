/* texts.h - the fixed texts the bot sends users (help, reset, the media
 * notice, the apology, slow down, truncated), in English, Japanese and
 * Traditional Chinese, and how a user's language is chosen.
 *
 * Pure. One table holds every built-in text in every language; a setting
 * (LINEBOT_HELP_TEXT, ...) overrides a text in all languages at once. The
 * language comes from LINEBOT_LANG, else from the user's LINE profile
 * (`language`, e.g. "ja", "zh-TW"), else from the script the user writes in. */
#ifndef LINEBOT_TEXTS_H
#define LINEBOT_TEXTS_H

#include <stdbool.h>

struct config;

/* LANG_AUTO is only a setting (LINEBOT_LANG=auto): never a text's language. */
enum lang { LANG_AUTO = -1, LANG_EN, LANG_JA, LANG_ZH_TW, LANG_COUNT };

enum text_id {
    TEXT_NONE,      /* no fixed text: the model answers (or nothing is sent) */
    TEXT_HELP,      /* /help, and an empty message that addresses the bot */
    TEXT_RESET,     /* /reset */
    TEXT_MEDIA,     /* an image, video, audio or file in a 1:1 chat */
    TEXT_APOLOGY,   /* the model failed */
    TEXT_SLOW_DOWN, /* the first message over the rate limit */
    TEXT_TRUNCATED, /* ends an answer cut at LINE's limits (after a newline) */
    TEXT_GREETING,  /* follow and join: LINEBOT_GREETING only, no built-in */
    /* /model (core/models.c builds the answer from these; none has a
     * setting). "{}" marks where a model's name goes (texts_fill). */
    TEXT_MODEL_REFUSED,  /* a non-admin tried to switch in a group */
    TEXT_MODEL_CURRENT,  /* "Current model: {}" */
    TEXT_MODEL_LIST,     /* the heading of the list */
    TEXT_MODEL_HOWTO,    /* how to switch, under the list */
    TEXT_MODEL_UNKNOWN,  /* "I don't know the model "{}"." */
    TEXT_MODEL_SWITCHED, /* "OK, this chat now uses {}." */
    /* The knowledge base (issue 12). */
    TEXT_KB_SOURCES,     /* the line over the sources that end an answer */
    TEXT_KB_UNKNOWN,     /* strict mode: the documents do not say */
    TEXT_COUNT
};

/* The built-in text `id` in `lang` (a static string; "" for TEXT_NONE and
 * TEXT_GREETING). */
const char *texts_builtin(enum text_id id, enum lang lang);

/* `text` with its first "{}" replaced by `value` (malloc'd; `text` as is
 * when it has none). */
char *texts_fill(const char *text, const char *value);

/* The setting that overrides `id` in every language, or NULL when it is not
 * set (then the built-in text applies). May be "": see the setting. */
const char *texts_override(const struct config *cfg, enum text_id id);

/* What the user gets for `id` in `lang`: the override, else the built-in
 * text. Never NULL; points into cfg or static storage. */
const char *texts_get(const struct config *cfg, enum text_id id, enum lang lang);

/* True when sending `id` depends on the user's language: no override and
 * LINEBOT_LANG=auto. Otherwise no profile needs to be asked. */
bool texts_need_lang(const struct config *cfg, enum text_id id);

/* LINEBOT_LANG's values: "auto", "en", "ja", "zh-TW" (any case; "zh" and
 * "zh-Hant" also mean Traditional Chinese). 0, or -1 for anything else. */
int texts_parse_lang(const char *s, enum lang *out);
const char *texts_lang_name(enum lang lang); /* "en", "ja", "zh-TW" */

/* The language of a LINE profile's `language` (BCP 47, e.g. "ja", "zh-TW",
 * "en-US"): ja... is Japanese, zh... Traditional Chinese, anything else
 * English. LANG_AUTO when the profile says nothing (NULL or ""): the user has
 * not consented to share it. */
enum lang texts_lang_of_profile(const char *language);

/* The language of the script `text` is written in (NULL: none): any kana is
 * Japanese, else any Han ideograph Traditional Chinese, else English. */
enum lang texts_lang_of_script(const char *text);

#endif
