/* settings.h - the table of every setting linebot reads, and the checks that
 * need nothing but the table.
 *
 * One row per environment variable: its name, its default, its bounds, one
 * line of help, and whether it holds a credential. config.c parses with the
 * defaults and bounds from here, `linebot serve --help` prints the rows, and
 * a test holds README.md's settings tables to them, so none of the three can
 * drift from the others.
 *
 * Pure: the environment is passed in as a NULL-terminated "KEY=VALUE" array,
 * warnings go to a callback, nothing is read or written. */
#ifndef LINEBOT_CORE_SETTINGS_H
#define LINEBOT_CORE_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

enum setting_type {
    SETTING_TEXT,   /* any text */
    SETTING_INT,    /* a whole number within [min, max] */
    SETTING_BOOL,   /* 1/0/true/false/yes/no/on/off */
    SETTING_URL,    /* an http:// or https:// URL */
    SETTING_CHOICE, /* one of the words in `choices` */
};

enum setting_flag {
    SETTING_SECRET = 1 << 0,   /* a credential: trimmed (settings_trim_credential), never printed */
    SETTING_HIDDEN = 1 << 1,   /* test builds only: known, but not in the help or the README */
    SETTING_PLATFORM = 1 << 2, /* set by AWS Lambda or Function Compute, not by hand */
};

struct setting {
    const char *name;
    enum setting_type type;
    const char *def;     /* the default as it would be written in the environment;
                            NULL when there is none or it is worked out (the help says how) */
    long long min, max;  /* SETTING_INT only */
    const char *choices; /* SETTING_CHOICE only: "a | b | c", as the help shows them */
    unsigned flags;
    const char *group;   /* the heading it is listed under in `serve --help` */
    const char *help;    /* one short line */
};

/* The whole table, in the order the help lists it; *n gets its length. */
const struct setting *settings_table(size_t *n);
/* The row of `name`, or NULL when linebot has no such setting. */
const struct setting *settings_find(const char *name);

/* The value of `name` in `env` (the last occurrence wins, as in a shell), or
 * NULL when it is not there. */
const char *settings_env_get(char *const *env, const char *name);

/* What a copy from a .env file or a web page leaves around a credential:
 * outer whitespace (CR and LF included), then one pair of matching quotes,
 * then whitespace again, are removed. Returns a copy (never NULL); *changed
 * (when `changed` is not NULL) says whether anything was removed. */
char *settings_trim_credential(const char *value, bool *changed);

/* The known setting closest to an unknown `name` (at most two edits away:
 * a letter missing, extra, wrong, or two swapped), or NULL. */
const char *settings_suggest(const char *name);

/* Calls `warn` once per problem in `env` that does not stop the start:
 * - a credential with spaces, line breaks or quotes around it (they are
 *   removed when the configuration is read);
 * - a LINE_*, LINEBOT_* or LLM_* variable that is no setting, with the
 *   closest one ("did you mean ...?").
 * A message names the variable and never holds a value. `message` lives only
 * during the call. */
void settings_check_env(char *const *env, void (*warn)(void *arg, const char *message), void *arg);
/* The same, knowing `extra` too (NULL-terminated, may be NULL): variables
 * that other settings name, such as a model catalogue's api_key_env. They
 * are credentials: checked for spaces and quotes like the table's. */
void settings_check_env_with(char *const *env, const char *const *extra,
                             void (*warn)(void *arg, const char *message), void *arg);

#endif
