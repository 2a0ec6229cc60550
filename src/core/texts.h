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
    /* /persona (core/personas.c builds the answer from these; none has a
     * setting). "{}" marks where a name, a text or a number goes. */
    TEXT_PERSONA_REFUSED,    /* a non-admin tried to change it in a group */
    TEXT_PERSONA_CURRENT,    /* "Current persona: {}" (a preset's name) */
    TEXT_PERSONA_CUSTOM,     /* "Current persona (your own): {}" (the text, cut) */
    TEXT_PERSONA_NONE,       /* no persona: the default */
    TEXT_PERSONA_LIST,       /* the heading of the presets */
    TEXT_PERSONA_HOWTO_PICK, /* how to pick a preset, under the list */
    TEXT_PERSONA_HOWTO_SET,  /* how to set one's own, and to reset */
    TEXT_PERSONA_UNKNOWN,    /* "I don't know the persona "{}"." */
    TEXT_PERSONA_PICKED,     /* "OK, my persona in this chat is now {}." */
    TEXT_PERSONA_SET,        /* a custom persona was set */
    TEXT_PERSONA_RESET,      /* back to the default */
    TEXT_PERSONA_TOO_LONG,   /* "... at most {} characters." */
    /* Budgets (issue 11; no setting). "{}" in order: the reset time
     * (budget_clock_text), the tokens, the limit. */
    TEXT_BUDGET_USER,     /* the user's budget is spent: "... resets at {}." */
    TEXT_BUDGET_CHAT,     /* the group's or room's budget is spent: "... resets at {}." */
    TEXT_BUDGET_CHEAPER,  /* under the notice: "Or try a cheaper model: {}" */
    TEXT_USAGE,           /* /usage: tokens {}, limit {}, reset {} */
    TEXT_USAGE_UNLIMITED, /* /usage without a limit: tokens {} */
    /* Content a user sent that could not be used (issue 13; no setting):
     * each names its reason. */
    TEXT_CONTENT_EXPIRED,   /* LINE no longer has it (404) */
    TEXT_CONTENT_TOO_LARGE, /* over LINEBOT_MAX_CONTENT_MB: "{}" is the limit in MB */
    TEXT_CONTENT_NOT_HTTPS, /* an external URL that is not https */
    TEXT_CONTENT_BLOCKED,   /* an external URL at a private or local address */
    TEXT_CONTENT_MISMATCH,  /* the bytes are not an image (whatever the header said) */
    TEXT_CONTENT_FAILED,    /* could not be downloaded in time */
    TEXT_TRANSCODE_FAILED,  /* LINE could not transcode the audio or video */
    TEXT_IMAGE_REJECTED,    /* the vision model refused the image (400) */
    /* Memory of the user (run/stage_memory.c; no setting). */
    TEXT_MEMORY_NOTICE,     /* that the bot remembers, and how to make it forget */
    TEXT_MEMORY_REMEMBERED, /* /remember */
    TEXT_MEMORY_LIST,       /* the heading of /memory's numbered list */
    TEXT_MEMORY_EMPTY,      /* /memory with nothing remembered */
    TEXT_MEMORY_FORGOT,     /* /forget N: "{}" is the fact */
    TEXT_MEMORY_FORGOT_ALL, /* /forget all */
    TEXT_MEMORY_NO_SUCH,    /* /forget N without a fact N: "{}" is N */
    TEXT_MEMORY_OFF,        /* /memory off */
    TEXT_MEMORY_ON,         /* /memory on */
    TEXT_MEMORY_OPTED_OUT,  /* /remember while opted out */
    TEXT_MEMORY_PRIVATE,    /* a memory command in a group or room */
    TEXT_MEMORY_DISABLED,   /* a memory command with LINEBOT_MEMORY=off */
    TEXT_MEMORY_USAGE,      /* a memory command with a wrong argument */
    TEXT_MEMORY_TOO_LONG,   /* /remember over the limit: "{}" is the limit */
    /* The knowledge base (issue 12). */
    TEXT_KB_SOURCES,     /* the line over the sources that end an answer */
    TEXT_KB_UNKNOWN,     /* strict mode: the documents do not say */
    /* Voice messages that could not be used (issue 13; no setting). */
    TEXT_VOICE_TOO_LONG, /* over LINEBOT_MAX_AUDIO_S: "{}" is the limit in seconds */
    TEXT_VOICE_MISMATCH, /* the bytes are no m4a recording (whatever the header said) */
    TEXT_VOICE_REFUSED,  /* the transcription service refused the recording (4xx) */
    TEXT_VOICE_FAILED,   /* the transcription service did not answer in time */
    TEXT_VOICE_EMPTY,    /* the transcript is empty: no words were heard */
    /* Slow answers (issue 13 part 5, run/stage_progress.c). */
    TEXT_PROGRESS,        /* the work outlasts the reply token: "still working" */
    TEXT_PROGRESS_BUTTON, /* the quick reply button under it (LINE: at most 20 characters) */
    /* Files sent to the bot, the chat's own documents (run/stage_files.c; no setting). */
    TEXT_FILES_ADDED,       /* "{}" the file's name, then "{}" its passages */
    TEXT_FILES_UNCHANGED,   /* the same file again: "{}" its name */
    TEXT_FILES_UNSUPPORTED, /* a file of another type */
    TEXT_FILES_UNREADABLE,  /* a .txt/.md/.html that is no UTF-8 text or no HTML: "{}" its name */
    TEXT_FILES_BAD_PDF,     /* a PDF that does not parse (damaged, locked, no text): "{}" its name */
    TEXT_FILES_NO_PDF,      /* pdftotext (or libxml2 for HTML) is missing here */
    TEXT_FILES_FAILED,      /* the store could not keep it */
    TEXT_FILES_LIST,        /* /files: "{}" the numbered list */
    TEXT_FILES_EMPTY,       /* /files without documents */
    TEXT_FILES_CLEARED,     /* /files clear: "{}" how many were removed */
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
