/* test_docs.c - the Japanese and Traditional Chinese READMEs name only what exists.
 *
 * README.ja.md and README.zh-TW.md are short translations of README.md
 * (issue 15). They drift silently when a command, an option or a setting is
 * renamed, so this test reads them and checks, against the real binary and
 * the settings table:
 * - every setting-like name (LINE_..., LLM_..., LINEBOT_..., OPENAI_API_KEY)
 *   is a setting of src/core/settings.c (DATABASE_URL, a deployment variable
 *   of deploy/alicloud, is the one exception, and an upper-case word after
 *   `linebot ` on a command line is a placeholder such as USER_ID);
 * - every `linebot COMMAND` runs `linebot COMMAND --help` with status 0, and
 *   every word or --option after it on that line that the help should know
 *   (a subcommand such as `webhook set`, an option such as `chat --db`)
 *   appears in that help;
 * - every relative link points at a file of the repository, and every link
 *   into a section of README.md at one of its headings (GitHub's anchors);
 * - every chat command (`/model ...`) is one README.md names too;
 * - both link back to README.md and to each other. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/settings.h"
#include "harness.h"

#define REPO FIXTURES_DIR "/../.."

static char *read_doc(const char *name)
{
    char *path = e2e_printf("%s/%s", REPO, name);
    char *text = e2e_read_file(path);
    if (!text)
        fail_msg("%s cannot be read", path);
    free(path);
    return text;
}

static bool is_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Every run of [A-Z0-9_] with an underscore, starting with a letter and not
 * inside a longer word (TF_VAR_line_... is Terraform's, lower case). */
static void check_settings(const char *doc, const char *text)
{
    size_t checked = 0;
    for (const char *p = text; *p; p++) {
        if (!(*p >= 'A' && *p <= 'Z') || (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_')))
            continue;
        const char *q = p;
        while (is_name_char(*q))
            q++;
        if (isalnum((unsigned char)*q) || memchr(p, '_', (size_t)(q - p)) == NULL || q[-1] == '_') {
            p = q - 1;
            continue;
        }
        char *name = e2e_printf("%.*s", (int)(q - p), p);
        /* On a command line after "linebot ", upper case is a placeholder
         * (`linebot admin forget USER_ID`), not a setting. */
        const char *line = p;
        while (line > text && line[-1] != '\n')
            line--;
        char *before = e2e_printf("%.*s", (int)(p - line), line);
        bool placeholder = strstr(before, "linebot ") != NULL;
        free(before);
        if (!placeholder && strcmp(name, "DATABASE_URL") != 0 && strncmp(name, "TF_VAR_", 7) != 0) {
            const struct setting *s = settings_find(name);
            if (!s || (s->flags & SETTING_HIDDEN))
                fail_msg("%s names %s, which is not a setting (src/core/settings.c)", doc, name);
            checked++;
        }
        free(name);
        p = q - 1;
    }
    if (checked < 5)
        fail_msg("%s: only %zu settings found; is the scan broken?", doc, checked);
}

/* `linebot CMD rest-of-line`: CMD --help exits 0 and knows the words after it. */
static void check_commands(struct world *w, const char *doc, const char *text)
{
    size_t checked = 0;
    for (const char *p = strstr(text, "linebot "); p; p = strstr(p + 1, "linebot ")) {
        if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '-' || p[-1] == '_'))
            continue; /* e.g. "deploy/linebot ..." is a path, "linebot-fc.zip" a file */
        const char *cmd = p + strlen("linebot ");
        size_t n = strspn(cmd, "abcdefghijklmnopqrstuvwxyz");
        if (n == 0)
            continue;
        char *name = e2e_printf("%.*s", (int)n, cmd);
        char *out = NULL, *err = NULL;
        int status = bot_run(w, (const char *[]){name, "--help", NULL}, NULL, &out, &err);
        if (status != 0)
            fail_msg("%s names `linebot %s`, but `linebot %s --help` exits %d:\n%s%s", doc, name, name, status,
                     out ? out : "", err ? err : "");
        char *help = e2e_printf("%s\n%s", out ? out : "", err ? err : "");
        /* The words after the command on this line, up to a comment or the
         * end of the code span: subcommands (lower-case words) and options. */
        const char *end = cmd + n;
        const char *stop = end + strcspn(end, "\n`#（");
        for (const char *t = end; t < stop;) {
            t += strspn(t, " ");
            size_t len = strcspn(t, " \n`#（");
            if (t + len > stop)
                len = (size_t)(stop - t);
            if (len == 0)
                break;
            char *word = e2e_printf("%.*s", (int)len, t);
            bool option = word[0] == '-' && word[1] == '-';
            bool sub = strspn(word, "abcdefghijklmnopqrstuvwxyz") == len;
            if ((option || sub) && !strstr(help, word))
                fail_msg("%s: `linebot %s ... %s`, but `linebot %s --help` does not mention %s:\n%s", doc, name, word,
                         name, word, help);
            free(word);
            t += len;
        }
        checked++;
        free(help);
        free(out);
        free(err);
        free(name);
    }
    if (checked < 4)
        fail_msg("%s: only %zu `linebot` commands found; is the scan broken?", doc, checked);
}

/* Markdown links "](target)" that are not URLs or anchors name files. */
static void check_links(const char *doc, const char *text)
{
    for (const char *p = strstr(text, "]("); p; p = strstr(p + 2, "](")) {
        const char *t = p + 2;
        size_t len = strcspn(t, ")#");
        if (len == 0 || strncmp(t, "http://", 7) == 0 || strncmp(t, "https://", 8) == 0)
            continue;
        char *path = e2e_printf("%s/%.*s", REPO, (int)len, t);
        struct stat st;
        if (stat(path, &st) != 0)
            fail_msg("%s links to %.*s, which does not exist", doc, (int)len, t);
        free(path);
    }
}

/* GitHub's anchor of a heading: lower case; letters, digits, '_' and '-'
 * kept (and bytes of other scripts), spaces become '-', the rest dropped. */
static char *heading_anchor(const char *heading, size_t len)
{
    char *out = malloc(len + 1);
    assert_non_null(out);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)heading[i];
        if (c >= 0x80 || isalnum(c) || c == '_' || c == '-')
            out[o++] = (char)tolower(c);
        else if (c == ' ')
            out[o++] = '-';
    }
    out[o] = '\0';
    return out;
}

/* Every link into README.md ("](README.md#anchor)") names one of its headings. */
static void check_anchors(const char *doc, const char *text)
{
    char *english = read_doc("README.md");
    size_t checked = 0;
    for (const char *p = strstr(text, "](README.md#"); p; p = strstr(p + 1, "](README.md#")) {
        const char *a = p + strlen("](README.md#");
        char *anchor = e2e_printf("%.*s", (int)strcspn(a, ")"), a);
        bool found = false;
        for (const char *line = english; *line && !found; line += strcspn(line, "\n"), line += *line == '\n') {
            if (*line != '#')
                continue;
            const char *h = line + strspn(line, "#");
            h += strspn(h, " ");
            char *slug = heading_anchor(h, strcspn(h, "\n"));
            found = strcmp(slug, anchor) == 0;
            free(slug);
        }
        if (!found)
            fail_msg("%s links to README.md#%s, but README.md has no such heading", doc, anchor);
        free(anchor);
        checked++;
    }
    if (checked < 5)
        fail_msg("%s: only %zu links into README.md's sections; is the scan broken?", doc, checked);
    free(english);
}

/* Every chat command a translation names in code ("`/model", not a path
 * such as "`/code/bootstrap") is one the English README names too: its
 * table of chat commands, and `linebot chat`'s own (/quit, /as). */
static void check_chat_commands(const char *doc, const char *text)
{
    char *english = read_doc("README.md");
    size_t checked = 0;
    for (const char *p = strstr(text, "`/"); p; p = strstr(p + 1, "`/")) {
        size_t n = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz");
        if (n == 0 || p[2 + n] == '/')
            continue;
        char *command = e2e_printf("`/%.*s", (int)n, p + 2);
        char *as_word = e2e_printf("%s ", command), *alone = e2e_printf("%s`", command);
        if (!strstr(english, as_word) && !strstr(english, alone))
            fail_msg("%s names the chat command %s`, which README.md does not", doc, command);
        free(command);
        free(as_word);
        free(alone);
        checked++;
    }
    if (checked < 10)
        fail_msg("%s: only %zu chat commands found; is the scan broken?", doc, checked);
    free(english);
}

static void check_doc(struct world *w, const char *doc, const char *other)
{
    char *text = read_doc(doc);
    check_settings(doc, text);
    check_commands(w, doc, text);
    check_links(doc, text);
    check_anchors(doc, text);
    check_chat_commands(doc, text);
    char *back = e2e_printf("](%s)", "README.md");
    assert_contains(text, back);
    char *to_other = e2e_printf("](%s)", other);
    assert_contains(text, to_other);
    free(back);
    free(to_other);
    free(text);
}

static void test_japanese_readme_names_what_exists(void **state)
{
    struct world *w = world_new(state, NULL);
    check_doc(w, "README.ja.md", "README.zh-TW.md");
    world_finish(w);
}

static void test_chinese_readme_names_what_exists(void **state)
{
    struct world *w = world_new(state, NULL);
    check_doc(w, "README.zh-TW.md", "README.ja.md");
    world_finish(w);
}

static void test_english_readme_links_the_translations(void **state)
{
    (void)state;
    char *text = read_doc("README.md");
    assert_contains(text, "](README.ja.md)");
    assert_contains(text, "](README.zh-TW.md)");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_japanese_readme_names_what_exists),
        E2E_TEST(test_chinese_readme_names_what_exists),
        cmocka_unit_test(test_english_readme_links_the_translations),
    };
    return E2E_RUN(tests);
}
