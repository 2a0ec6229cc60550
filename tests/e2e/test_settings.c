/* test_settings.c - settings hygiene at start-up, from outside (issue 14,
 * part 4): pasted credentials with a CR, spaces or quotes work and are
 * warned about by name; a channel secret that is not 32 hex stops the start;
 * typos in setting names get "did you mean"; --env-file (before or after the
 * command) and ./.env supply settings, and real environment variables win;
 * `serve --help` and README.md list every setting of the table.
 *
 * The oracles are the fakes (the Authorization LINE and the model received,
 * the model asked for) and the bot's own output, which must name settings
 * and never hold a value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/settings.h"
#include "harness.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define HOOK_URL "https://bot.example.com/callback"

static char *dup_n(const char *s, size_t n)
{
    struct e2e_buf b = {0};
    e2e_buf_add(&b, s, n);
    return e2e_buf_take(&b);
}

/* What the bot wrote, without the harness's own "==== e2e" lines (which
 * list the environment it was started with). */
static char *bot_output(struct world *w)
{
    char *log = bot_log(w);
    struct e2e_buf b = {0};
    for (const char *line = log; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
        if (strncmp(line, "==== e2e", 8) != 0)
            e2e_buf_add(&b, line, len);
        line += len;
    }
    free(log);
    return e2e_buf_take(&b);
}

/* Every request LINE got carried exactly this token. */
static void assert_line_saw_only(struct world *w, const char *token)
{
    char *want = e2e_printf("Bearer %s", token);
    assert_true(fake_line_request_total(w->line) > 0);
    for (size_t i = 0; i < fake_line_request_total(w->line); i++) {
        struct fake_line_request q;
        assert_true(fake_line_request_at(w->line, i, &q));
        assert_non_null(q.authorization);
        assert_string_equal(q.authorization, want);
    }
    free(want);
}

/* Starts the bot with cwd `dir` (where it looks for ./.env). */
static void bot_start_in(struct world *w, const char *dir, const char *const *extra)
{
    char here[1024];
    assert_non_null(getcwd(here, sizeof here));
    assert_int_equal(chdir(dir), 0);
    bot_start(w, extra);
    assert_int_equal(chdir(here), 0);
}

/* ---- credentials ------------------------------------------------------------ */

static void test_pasted_credentials_work_with_a_warning(void **state)
{
    struct world *w = world_start(state, (const char *[]){
        "LINE_CHANNEL_SECRET= " E2E_CHANNEL_SECRET "\r\n",                 /* a Windows .env line */
        "LINE_CHANNEL_ACCESS_TOKEN=\"" E2E_ACCESS_TOKEN "\" ",             /* quoted */
        "LLM_API_KEY='" E2E_LLM_KEY " '\r",                                  /* both */
        NULL});
    send_text(w, USER_A, "hello"); /* signed with the clean secret: accepted */
    assert_int_equal(world_answers(w, USER_A, 1), 1);
    assert_line_saw_only(w, E2E_ACCESS_TOKEN);
    char *auth = fake_llm_request_auth(w->llm, 0);
    assert_string_equal(auth, "Bearer " E2E_LLM_KEY);
    free(auth);

    char *log = bot_output(w);
    static const char *const named[] = {"LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "LLM_API_KEY", NULL};
    for (const char *const *n = named; *n; n++) {
        char *warning = e2e_printf("%s has spaces, line breaks or quotes around it", *n);
        assert_contains(log, warning);
        free(warning);
    }
    assert_not_contains(log, E2E_CHANNEL_SECRET);
    assert_not_contains(log, E2E_ACCESS_TOKEN);
    free(log);
    world_finish(w);
}

/* Starts serve with `secret` and checks that it refuses, naming the setting
 * and saying `why`, without the value. */
static void assert_secret_refused(void **state, const char *secret, const char *why)
{
    struct world *w = world_new(state, NULL);
    char *setting = e2e_printf("LINE_CHANNEL_SECRET=%s", secret);
    bot_spawn(w, (const char *[]){setting, NULL});
    int status = bot_wait_exit(w, e2e_ms(10000));
    if (status == -1)
        fail_msg("the bot kept running with a bad secret");
    assert_true(WIFEXITED(status));
    assert_int_not_equal(WEXITSTATUS(status), 0);
    char *log = bot_output(w);
    assert_contains(log, "linebot: LINE_CHANNEL_SECRET ");
    assert_contains(log, why);
    assert_not_contains(log, secret);
    assert_int_equal(fake_line_request_total(w->line), 0);
    free(log);
    free(setting);
    world_finish(w);
}

static void test_secret_that_is_not_32_hex_stops_the_start(void **state)
{
    assert_secret_refused(state, "e2e-channel-secret-0123456789abcdef", "is not 32 hexadecimal characters");
    assert_secret_refused(state, "0123456789abcdef0123456789abcde", "is not 32 hexadecimal characters"); /* 31 */
    char token[160];
    memset(token, 'T', sizeof token - 1);
    token[sizeof token - 1] = '\0';
    assert_secret_refused(state, token, "swapped"); /* the token in the secret's place */
}

/* ---- typos ------------------------------------------------------------------- */

static void test_unknown_settings_get_did_you_mean(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINE_CHANEL_SECRET=typo-value-1", "LLM_MODLE=typo-value-2",
                                                          "LINEBOT_NO_SUCH_THING=typo-value-3", NULL});
    char *log = bot_output(w);
    assert_contains(log, "LINE_CHANEL_SECRET is not a setting of linebot and is ignored: did you mean "
                         "LINE_CHANNEL_SECRET?");
    assert_contains(log, "LLM_MODLE is not a setting of linebot and is ignored: did you mean LLM_MODEL?");
    assert_contains(log, "LINEBOT_NO_SUCH_THING is not a setting of linebot");
    assert_not_contains(log, "typo-value");
    assert_not_contains(log, "HOST is not a setting"); /* known ones are quiet */
    free(log);

    /* The other commands say it on stderr. */
    fake_line_set_webhook(w->line, HOOK_URL, true);
    char *out, *err;
    assert_int_equal(bot_run(w, (const char *[]){"webhook", "get", NULL},
                             (const char *[]){"LINE_CHANNEL_ACESS_TOKEN=typo-value-4", NULL}, &out, &err),
                     0);
    assert_contains(err, "linebot: warning: LINE_CHANNEL_ACESS_TOKEN is not a setting of linebot and is ignored: did "
                         "you mean LINE_CHANNEL_ACCESS_TOKEN?");
    assert_not_contains(err, "typo-value");
    assert_contains(out, HOOK_URL);
    free(out);
    free(err);
    world_finish(w);
}

/* A catalogue's api_key_env, and LINEBOT_EMBED_API_KEY_ENV, name settings:
 * never "not a setting", and a value pasted with a CR or quotes is cleaned
 * and warned about by name. */
static void test_catalogue_key_variables_are_settings(void **state)
{
    struct world *w = world_new(state, NULL);
    char *models = e2e_printf("LINEBOT_MODELS=[{\"name\":\"fast\",\"model\":\"" E2E_MODEL "\",\"provider\":\"custom\","
                              "\"base_url\":\"%s\",\"api_key_env\":\"LLM_KEY_FAST\"}]",
                              fake_llm_base_url(w->llm));
    bot_start(w, (const char *[]){models, "LLM_KEY_FAST=\"" E2E_LLM_KEY "\"\r", NULL});
    send_text(w, USER_A, "hello");
    assert_int_equal(world_answers(w, USER_A, 1), 1);
    char *auth = fake_llm_request_auth(w->llm, 0);
    assert_string_equal(auth, "Bearer " E2E_LLM_KEY);
    free(auth);
    char *log = bot_output(w);
    assert_contains(log, "LLM_KEY_FAST has spaces, line breaks or quotes around it");
    assert_not_contains(log, "LLM_KEY_FAST is not a setting");
    assert_not_contains(log, E2E_LLM_KEY);
    free(log);

    /* The other commands know them too (on stderr). */
    char *out, *err;
    fake_line_set_webhook(w->line, HOOK_URL, true);
    assert_int_equal(bot_run(w, (const char *[]){"webhook", "get", NULL},
                             (const char *[]){models, "LLM_KEY_FAST=\"" E2E_LLM_KEY "\"\r", NULL}, &out, &err),
                     0);
    assert_contains(err, "LLM_KEY_FAST has spaces, line breaks or quotes around it");
    assert_not_contains(err, "LLM_KEY_FAST is not a setting");
    assert_not_contains(err, E2E_LLM_KEY);
    free(out);
    free(err);

    /* So is the variable LINEBOT_EMBED_API_KEY_ENV names. */
    assert_int_equal(bot_run(w, (const char *[]){"webhook", "get", NULL},
                             (const char *[]){"LINEBOT_EMBED_MODEL=e2e-embed", "LINEBOT_EMBED_API_KEY_ENV=LLM_EMBED_KEY",
                                              "LLM_EMBED_KEY= " E2E_LLM_KEY, NULL},
                             &out, &err),
                     0);
    assert_contains(err, "LLM_EMBED_KEY has spaces, line breaks or quotes around it");
    assert_not_contains(err, "LLM_EMBED_KEY is not a setting");
    assert_not_contains(err, E2E_LLM_KEY);
    free(out);
    free(err);
    free(models);
    world_finish(w);
}

/* The typo that leaves a required setting unset: the refusal comes with the
 * "did you mean" that explains it. */
static void test_typo_of_a_required_setting_is_explained(void **state)
{
    struct world *w = world_new(state, (const char *[]){"LINE_CHANNEL_SECRET", NULL});
    bot_spawn(w, (const char *[]){"LINE_CHANEL_SECRET=" E2E_CHANNEL_SECRET, NULL});
    int status = bot_wait_exit(w, e2e_ms(10000));
    assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0);
    char *log = bot_output(w);
    assert_contains(log, "linebot: warning: LINE_CHANEL_SECRET is not a setting of linebot and is ignored: did you "
                         "mean LINE_CHANNEL_SECRET?\nlinebot: LINE_CHANNEL_SECRET is not set");
    assert_not_contains(log, E2E_CHANNEL_SECRET);
    free(log);
    world_finish(w);
}

/* ---- .env files ---------------------------------------------------------------- */

/* The usual dotenv syntax, with CRLF line ends as a Windows editor saves them. */
static const char env_file_text[] = "# linebot settings\r\n"
                                    "\r\n"
                                    "export LINE_CHANNEL_ACCESS_TOKEN=\"" E2E_ACCESS_TOKEN "\"\r\n"
                                    "LINE_CHANNEL_SECRET = '" E2E_CHANNEL_SECRET "'  # Basic settings\r\n"
                                    "LLM_API_KEY=" E2E_LLM_KEY "\r\n"
                                    "LLM_MODEL=first-model\r\n" /* given twice: the last one counts */
                                    "LLM_MODEL=\"file \\\"model\\\"\"\r\n";

static void test_env_file_before_or_after_the_command(void **state)
{
    struct world *w = world_new(state, (const char *[]){"LINE_CHANNEL_ACCESS_TOKEN", "LINE_CHANNEL_SECRET", NULL});
    fake_line_set_webhook(w->line, HOOK_URL, true);
    char *path = e2e_printf("%s/settings.env", w->dir);
    assert_true(e2e_write_file(path, env_file_text));
    char *opt = e2e_printf("--env-file=%s", path);
    const char *const *forms[] = {
        (const char *[]){"--env-file", path, "webhook", "get", NULL},
        (const char *[]){"webhook", "get", "--env-file", path, NULL},
        (const char *[]){"webhook", opt, "get", NULL},
        NULL,
    };
    for (const char *const *const *args = forms; *args; args++) {
        char *out, *err;
        int rc = bot_run(w, *args, NULL, &out, &err);
        if (rc != 0)
            fail_msg("exit %d: %s%s", rc, out, err);
        assert_contains(out, "endpoint: " HOOK_URL);
        assert_not_contains(err, "warning");
        free(out);
        free(err);
    }
    assert_int_equal(fake_line_request_count(w->line, NULL, "/v2/bot/channel/webhook/endpoint"), 3);
    assert_line_saw_only(w, E2E_ACCESS_TOKEN);

    /* Without the file, the token is missing. */
    char *out, *err;
    assert_int_equal(bot_run(w, (const char *[]){"webhook", "get", NULL}, NULL, &out, &err), 1);
    assert_contains(err, "LINE_CHANNEL_ACCESS_TOKEN is not set");
    free(out);
    free(err);
    free(opt);
    free(path);
    world_finish(w);
}

static void test_dot_env_in_the_working_directory_and_real_env_wins(void **state)
{
    /* The file gives the secret, the key and the model; the token is in the
     * real environment too, and the real one wins over the file's. */
    struct world *w = world_new(state, (const char *[]){"LINE_CHANNEL_SECRET", "LLM_API_KEY", "LLM_MODEL", NULL});
    char *path = e2e_printf("%s/.env", w->dir);
    char *text = e2e_printf("%sLINE_CHANNEL_ACCESS_TOKEN=not-the-real-one-0123\r\n", env_file_text);
    assert_true(e2e_write_file(path, text));
    bot_start_in(w, w->dir, NULL);
    send_text(w, USER_A, "hello from .env");
    assert_int_equal(world_answers(w, USER_A, 1), 1);
    assert_line_saw_only(w, E2E_ACCESS_TOKEN);
    json_t *req = fake_llm_request_json(w->llm, 0);
    assert_string_equal(json_string_value(json_object_get(req, "model")), "file \"model\"");
    json_decref(req);
    char *auth = fake_llm_request_auth(w->llm, 0);
    assert_string_equal(auth, "Bearer " E2E_LLM_KEY);
    free(auth);
    char *log = bot_output(w);
    assert_not_contains(log, "not-the-real-one");
    free(log);
    free(text);
    free(path);
    world_finish(w);
}

static void test_bad_env_file_names_file_and_line(void **state)
{
    struct world *w = world_new(state, NULL);
    char *path = e2e_printf("%s/bad.env", w->dir);
    assert_true(e2e_write_file(path, "# ok\nLINE_CHANNEL_SECRET=" E2E_CHANNEL_SECRET "\nLINE_CHANNEL_ACCESS_TOKEN " E2E_ACCESS_TOKEN
                     "\n"));
    char *out, *err;
    assert_int_equal(bot_run(w, (const char *[]){"doctor", "--env-file", path, NULL}, NULL, &out, &err), 2);
    char *want = e2e_printf("linebot: %s:3: expected NAME=value", path);
    assert_contains(err, want);
    assert_not_contains(err, E2E_ACCESS_TOKEN);
    assert_not_contains(err, E2E_CHANNEL_SECRET);
    assert_string_equal(out, "");
    free(want);
    free(out);
    free(err);

    /* A file named with --env-file must exist; ./.env need not. */
    char *missing = e2e_printf("%s/missing.env", w->dir);
    assert_int_equal(bot_run(w, (const char *[]){"--env-file", missing, "doctor", NULL}, NULL, &out, &err), 2);
    assert_contains(err, "missing.env: no such file");
    free(out);
    free(err);
    free(missing);

    /* A bad ./.env stops serve too. */
    char *dot = e2e_printf("%s/.env", w->dir);
    assert_true(e2e_write_file(dot, "LLM_MODEL=\"never closed\n"));
    char here[1024];
    assert_non_null(getcwd(here, sizeof here));
    assert_int_equal(chdir(w->dir), 0);
    bot_spawn(w, NULL);
    assert_int_equal(chdir(here), 0);
    int status = bot_wait_exit(w, e2e_ms(10000));
    assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0);
    char *log = bot_output(w);
    assert_contains(log, "linebot: .env:1: the quote that opens the value is never closed");
    assert_not_contains(log, "never closed\n\"");
    free(log);
    free(dot);
    free(path);
    world_finish(w);
}

/* ---- the table, the help and the README ------------------------------------------- */

/* Every setting of the table is in `serve --help` and in a table of README.md's
 * "Settings" section; test-only ones are in neither; and every setting named in
 * those README tables is one of the table's. */
static void test_help_and_readme_list_every_setting(void **state)
{
    struct world *w = world_new(state, NULL);
    char *help, *err;
    assert_int_equal(bot_run(w, (const char *[]){"serve", "--help", NULL}, NULL, &help, &err), 0);
    char *readme = e2e_read_file(FIXTURES_DIR "/../../README.md");
    assert_non_null(readme);
    const char *from = strstr(readme, "\n## Settings\n");
    assert_non_null(from);
    const char *to = strstr(from + 1, "\n## ");
    assert_non_null(to);
    char *section = dup_n(from, (size_t)(to - from));

    /* The rows of the README's settings tables (those headed "| variable"):
     * lines that start with "| `". Other tables (a catalogue's fields) are
     * not settings. */
    struct e2e_buf rows = {0};
    bool in_settings = false;
    for (const char *line = section; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (line[0] != '|')
            in_settings = false;
        else if (strncmp(line, "| variable ", 11) == 0)
            in_settings = true;
        if (in_settings && len > 3 && strncmp(line, "| `", 3) == 0) {
            e2e_buf_add(&rows, line, len);
            e2e_buf_add(&rows, "\n", 1);
        }
    }
    char *table_rows = e2e_buf_take(&rows);

    /* The names in the rows' first cells, each as " `NAME` ", and each one a
     * setting of the table (the other way round). */
    struct e2e_buf names = {0};
    for (const char *row = table_rows; *row; row = strchr(row, '\n') + 1) {
        const char *cell_end = strstr(row + 1, " |");
        for (const char *p = strchr(row, '`'); p && p < cell_end; p = strchr(p, '`')) {
            const char *q = strchr(p + 1, '`');
            assert_non_null(q);
            char *name = dup_n(p + 1, (size_t)(q - p - 1));
            const struct setting *s = settings_find(name);
            if (!s || (s->flags & SETTING_HIDDEN))
                fail_msg("README.md lists %s, which is not in src/core/settings.c", name);
            char *entry = e2e_printf(" `%s` ", name);
            e2e_buf_add(&names, entry, strlen(entry));
            free(entry);
            free(name);
            p = q + 1;
        }
    }
    char *readme_names = e2e_buf_take(&names);

    size_t n;
    const struct setting *t = settings_table(&n);
    for (size_t i = 0; i < n; i++) {
        char *in_help = e2e_printf("\n  %s ", t[i].name);
        char *in_readme = e2e_printf(" `%s` ", t[i].name);
        if (t[i].flags & SETTING_HIDDEN) {
            assert_not_contains(help, t[i].name);
            assert_not_contains(readme, t[i].name);
        } else {
            if (!strstr(help, in_help))
                fail_msg("`linebot serve --help` does not list %s", t[i].name);
            if (!strstr(readme_names, in_readme))
                fail_msg("README.md's settings tables do not list %s in their first column", t[i].name);
        }
        free(in_help);
        free(in_readme);
    }
    free(readme_names);
    free(table_rows);
    free(section);
    free(readme);
    free(help);
    free(err);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_pasted_credentials_work_with_a_warning),
        E2E_TEST(test_secret_that_is_not_32_hex_stops_the_start),
        E2E_TEST(test_unknown_settings_get_did_you_mean),
        E2E_TEST(test_typo_of_a_required_setting_is_explained),
        E2E_TEST(test_catalogue_key_variables_are_settings),
        E2E_TEST(test_env_file_before_or_after_the_command),
        E2E_TEST(test_dot_env_in_the_working_directory_and_real_env_wins),
        E2E_TEST(test_bad_env_file_names_file_and_line),
        E2E_TEST(test_help_and_readme_list_every_setting),
    };
    return E2E_RUN(tests);
}
