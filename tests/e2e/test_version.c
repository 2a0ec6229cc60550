/* test_version.c - `linebot version`: the version, the commit and the
 * versions of the libraries the binary loaded, one "name version" per line.
 *
 * The shape is checked with regular expressions; the library versions are
 * checked against what the same libraries tell this test process, which
 * loads them from the same system (the binary's own code is not the oracle). */
#include "harness.h"

#include <microhttpd.h>
#include <regex.h>
#include <sqlite3.h>
#include <stdlib.h>

static bool matches(const char *s, const char *pattern)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB | REG_NEWLINE) != 0)
        fail_msg("bad pattern /%s/", pattern);
    bool ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static void test_version_names_commit_and_libraries(void **state)
{
    struct world *w = world_new(state, NULL);
    char *out = NULL;
    assert_int_equal(bot_run(w, (const char *[]){"version", NULL}, NULL, &out, NULL), 0);
    const char *const lines[] = {
        "^linebot [0-9]+\\.[0-9]+\\.[0-9]+$",
        "^commit ([0-9a-f]{7,40}|unknown)$",
        "^libcurl [0-9]+\\.[0-9]+\\.[0-9]+ \\([^)]+\\)$",
        "^OpenSSL [0-9]+\\.[0-9]+",
        "^SQLite [0-9]+\\.[0-9]+\\.[0-9]+$",
        "^libpq [0-9]+\\.[0-9]+$",
        "^libmicrohttpd [0-9]+\\.[0-9]+\\.[0-9]+$",
        "^jansson [0-9]+\\.[0-9]+",
        "^utf8proc [0-9]+\\.[0-9]+\\.[0-9]+$",
    };
    /* The lines, in this order, and nothing else. */
    char *copy = strdup(out), *save = NULL;
    size_t n = 0;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save), n++) {
        if (n >= sizeof lines / sizeof lines[0])
            fail_msg("an extra line \"%s\" in:\n%s", l, out);
        if (!matches(l, lines[n]))
            fail_msg("line %zu \"%s\" does not match /%s/ in:\n%s", n + 1, l, lines[n], out);
    }
    assert_int_equal(n, sizeof lines / sizeof lines[0]);
    free(copy);

    char *want = e2e_printf("\nSQLite %s\n", sqlite3_libversion());
    assert_contains(out, want);
    free(want);
    want = e2e_printf("\nlibmicrohttpd %s\n", MHD_get_version());
    assert_contains(out, want);
    free(want);
    /* `--version` is the same. */
    char *again = NULL;
    assert_int_equal(bot_run(w, (const char *[]){"--version", NULL}, NULL, &again, NULL), 0);
    assert_string_equal(again, out);
    free(again);
    free(out);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_version_names_commit_and_libraries),
    };
    return E2E_RUN(tests);
}
