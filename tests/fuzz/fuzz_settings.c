/* fuzz_settings.c - libFuzzer target for the .env parser (core/dotenv.c),
 * credential trimming and the start-up warnings (core/settings.c).
 *
 * A .env file is typed by hand, saved by any editor, and may be anything.
 * The input goes whole into dotenv_parse; each result must hold:
 *   - on success, every name is a valid variable name ([A-Za-z_][A-Za-z0-9_]*)
 *     and every value holds no NUL (it goes to setenv);
 *   - on failure, the line is within the input, and no entry is left.
 * Then the input, cut at newlines into "KEY=VALUE" entries, is an
 * environment for settings_check_env, and each entry's value goes through
 * settings_trim_credential:
 *   - a warning never holds a byte outside [A-Za-z0-9_ ?:`,.()-] and the
 *     fixed text, so a value (which may hold anything) cannot reach a log;
 *   - a trimmed value is a verbatim piece of the value, and `changed` says
 *     exactly whether it differs. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/dotenv.h"
#include "core/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_warning(void *arg, const char *message)
{
    (void)arg;
    for (const char *p = message; *p; p++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_ ?:`,.()-", *p))
            abort();
}

static bool valid_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct dotenv d;
    size_t line = 0;
    char err[160];
    if (dotenv_parse(text, size, &d, &line, err, sizeof err) == 0) {
        for (size_t i = 0; i < d.n; i++)
            if (!valid_name(d.entries[i].name))
                abort();
        dotenv_free(&d);
    } else {
        size_t lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        if (line < 1 || line > lines || d.n != 0 || d.entries)
            abort();
    }

    /* The input as an environment: one entry per line, without NULs. */
    char *copy = xstrndup(text, size);
    size_t n = 1;
    for (char *p = copy; *p; p++)
        n += *p == '\n';
    char **env = xcalloc(n + 1, sizeof *env);
    size_t k = 0;
    for (char *save = NULL, *tok = strtok_r(copy, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save))
        env[k++] = tok;
    settings_check_env(env, check_warning, NULL);
    for (size_t i = 0; i < k; i++) {
        const char *value = strchr(env[i], '=');
        value = value ? value + 1 : env[i];
        bool changed;
        char *t = settings_trim_credential(value, &changed);
        if (!memmem(value, strlen(value), t, strlen(t)) || changed != (strcmp(t, value) != 0))
            abort();
        free(t);
    }
    free(env);
    free(copy);
    return 0;
}
