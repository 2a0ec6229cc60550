/* test_log.c - what a log line holds: one JSON object, and never a secret.
 *
 * The secrets come the way the binary gets them: config_load on an
 * environment, config_secrets, log_set_secrets. log_write's output (stdout)
 * is caught through a pipe and read back as JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <regex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "obs/log.h"

#define SECRET "chan-secret-0123456789abcdef"
#define TOKEN "access/Token+ABCDEFGHIJ=="
#define KEY "model-key-QWERTYUIOP"
#define AWS_SECRET "aws-secret-zxcvbnm12345"
#define ALI_TOKEN "ali-security-token-poiuy"

static char *env_base[] = {
    "LINE_CHANNEL_SECRET=" SECRET,
    "LINE_CHANNEL_ACCESS_TOKEN=" TOKEN,
    "LLM_PROVIDER=custom",
    "LLM_BASE_URL=http://127.0.0.1:1/v1",
    "LLM_MODEL=m",
    "LLM_API_KEY=" KEY,
    "AWS_ACCESS_KEY_ID=AKIA1234",
    "AWS_SECRET_ACCESS_KEY=" AWS_SECRET,
    "ALIBABA_CLOUD_SECURITY_TOKEN=" ALI_TOKEN,
    NULL,
};

static int setup(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    if (config_load(&cfg, env_base, err, sizeof err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    struct redact_secret s[CONFIG_MAX_SECRETS];
    log_set_secrets(s, config_secrets(&cfg, s, CONFIG_MAX_SECRETS));
    config_free(&cfg); /* log_set_secrets copied them */
    log_init(LOG_DEBUG);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    log_set_secrets(NULL, 0);
    log_clear_request_secrets();
    log_clear_context();
    log_set_format(LOG_FORMAT_JSON, false);
    return 0;
}

/* Runs log_write(level, "%s", msg) with stdout on a pipe; returns the line
 * (malloc'd, without its newline). */
static char *capture(enum log_level level, const char *msg)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fds[1], STDOUT_FILENO) >= 0);
    log_write(level, "%s", msg);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    close(fds[1]);
    size_t cap = 65536, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    ssize_t n;
    while ((n = read(fds[0], out + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    close(fds[0]);
    out[len] = '\0';
    assert_true(len > 0 && out[len - 1] == '\n');
    out[len - 1] = '\0';
    assert_null(strchr(out, '\n'));
    return out;
}

/* The "msg" of a captured line (malloc'd). */
static char *msg_of(const char *line, json_t **root_out)
{
    json_t *root = json_loads(line, 0, NULL);
    if (!root)
        fail_msg("not JSON: %s", line);
    const char *m = json_string_value(json_object_get(root, "msg"));
    assert_non_null(m);
    char *out = strdup(m);
    if (root_out)
        *root_out = root;
    else
        json_decref(root);
    return out;
}

static void test_config_lists_its_secrets(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    assert_int_equal(config_load(&cfg, env_base, err, sizeof err), 0);
    struct redact_secret s[CONFIG_MAX_SECRETS];
    size_t n = config_secrets(&cfg, s, CONFIG_MAX_SECRETS);
    /* In a fixed order; AKIA1234 has the 8 bytes needed, unset ones are absent. */
    const char *want[][2] = {
        {"LINE_CHANNEL_SECRET", SECRET},
        {"LINE_CHANNEL_ACCESS_TOKEN", TOKEN},
        {"LLM_API_KEY", KEY},
        {"AWS_ACCESS_KEY_ID", "AKIA1234"},
        {"AWS_SECRET_ACCESS_KEY", AWS_SECRET},
        {"ALIBABA_CLOUD_SECURITY_TOKEN", ALI_TOKEN},
    };
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(s[i].name, want[i][0]);
        assert_string_equal(s[i].value, want[i][1]);
    }
    /* `max` is respected. */
    assert_int_equal(config_secrets(&cfg, s, 2), 2);
    config_free(&cfg);

    /* A key too short to mask is not listed (it would mask common words). */
    char *short_env[] = {"LINE_CHANNEL_SECRET=" SECRET, "LINE_CHANNEL_ACCESS_TOKEN=" TOKEN,
                         "OPENAI_API_KEY=sk-abc", NULL};
    assert_int_equal(config_load(&cfg, short_env, err, sizeof err), 0);
    n = config_secrets(&cfg, s, CONFIG_MAX_SECRETS);
    assert_int_equal(n, 2);
    config_free(&cfg);
}

/* The password of a PostgreSQL URL, as written and decoded. */
static void test_db_password_is_a_secret(void **state)
{
    (void)state;
    char *env[] = {"LINE_CHANNEL_SECRET=" SECRET, "LINE_CHANNEL_ACCESS_TOKEN=" TOKEN,
                   "OPENAI_API_KEY=sk-abc",
                   "LINEBOT_DB=postgres://bot:p%40ss-w0rd!x@db.example:5432/linebot?sslmode=require", NULL};
    struct config cfg;
    char err[256];
    assert_int_equal(config_load(&cfg, env, err, sizeof err), 0);
    struct redact_secret s[CONFIG_MAX_SECRETS];
    size_t n = config_secrets(&cfg, s, CONFIG_MAX_SECRETS);
    assert_int_equal(n, 4);
    assert_string_equal(s[2].name, "LINEBOT_DB password");
    assert_string_equal(s[2].value, "p@ss-w0rd!x");
    assert_string_equal(s[3].name, "LINEBOT_DB password");
    assert_string_equal(s[3].value, "p%40ss-w0rd!x");
    config_free(&cfg);

    /* SQLite paths and URLs without a password give none. */
    const char *none[] = {"LINEBOT_DB=/var/lib/linebot/db.sqlite", "LINEBOT_DB=postgresql://bot@db/linebot",
                          "LINEBOT_DB=postgres://bot:@db/linebot"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        env[3] = (char *)none[i];
        assert_int_equal(config_load(&cfg, env, err, sizeof err), 0);
        assert_int_equal(config_secrets(&cfg, s, CONFIG_MAX_SECRETS), 2);
        config_free(&cfg);
    }
}

static void test_secrets_masked_in_message(void **state)
{
    (void)state;
    char *line = capture(LOG_ERROR, "llm attempt 1/3 failed: status 401 (provider error: "
                                    "Incorrect API key provided: " KEY ".) token " TOKEN
                                    " secret " SECRET " aws " AWS_SECRET " ali " ALI_TOKEN);
    char *m = msg_of(line, NULL);
    assert_string_equal(m, "llm attempt 1/3 failed: status 401 (provider error: Incorrect API key "
                           "provided: [redacted LLM_API_KEY].) token [redacted "
                           "LINE_CHANNEL_ACCESS_TOKEN] secret [redacted LINE_CHANNEL_SECRET] aws "
                           "[redacted AWS_SECRET_ACCESS_KEY] ali [redacted ALIBABA_CLOUD_SECURITY_TOKEN]");
    free(m);
    free(line);
}

struct other_thread {
    char *line;
};

static void *log_elsewhere(void *arg)
{
    struct other_thread *o = arg;
    o->line = capture(LOG_WARN, "elsewhere: fc-secret-LKJHGFDSA987");
    return NULL;
}

/* Function Compute's per-request credentials: masked in the lines of the
 * thread that serves the request, until it clears them. */
static void test_request_secrets_masked(void **state)
{
    (void)state;
    const struct redact_secret creds[] = {
        {"x-fc-access-key-secret", "fc-secret-LKJHGFDSA987"},
        {"x-fc-security-token", "short"}, /* too short to mask: skipped */
        {"x-fc-access-key-id", NULL},
    };
    log_set_request_secrets(creds, 3);
    char *line = capture(LOG_WARN, "hand-off failed: InvalidAccessKeySecret fc-secret-LKJHGFDSA987 short " SECRET);
    char *m = msg_of(line, NULL);
    assert_string_equal(m, "hand-off failed: InvalidAccessKeySecret [redacted x-fc-access-key-secret] short "
                           "[redacted LINE_CHANNEL_SECRET]");
    free(m);
    free(line);

    /* Another thread serves another request: not its secret. */
    struct other_thread o = {NULL};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, log_elsewhere, &o), 0);
    pthread_join(t, NULL);
    m = msg_of(o.line, NULL);
    assert_string_equal(m, "elsewhere: fc-secret-LKJHGFDSA987");
    free(m);
    free(o.line);

    log_clear_request_secrets();
    line = capture(LOG_WARN, "after: fc-secret-LKJHGFDSA987");
    m = msg_of(line, NULL);
    assert_string_equal(m, "after: fc-secret-LKJHGFDSA987");
    free(m);
    free(line);
}

static void test_key_shapes_masked(void **state)
{
    (void)state;
    char *line = capture(LOG_WARN, "upstream said: Bearer someoneElsesToken123 and sk-0123456789abcdefghij");
    char *m = msg_of(line, NULL);
    assert_string_equal(m, "upstream said: Bearer [redacted] and sk-[redacted]");
    free(m);
    free(line);
}

static void test_context_fields_masked(void **state)
{
    (void)state;
    log_set_request_id("req-" KEY);
    log_set_event("ev-" SECRET, "user");
    char *line = capture(LOG_INFO, "hello");
    assert_null(strstr(line, KEY));
    assert_null(strstr(line, SECRET));
    json_t *root = NULL;
    free(msg_of(line, &root));
    assert_string_equal(json_string_value(json_object_get(root, "request_id")), "req-[redacted LLM_API_KEY]");
    assert_string_equal(json_string_value(json_object_get(root, "event_id")),
                        "ev-[redacted LINE_CHANNEL_SECRET]");
    json_decref(root);
    free(line);
}

/* A secret across the point where a long line is cut is masked before the
 * cut, so no piece of it is written. */
static void test_long_message_cut_after_masking(void **state)
{
    (void)state;
    /* The message is cut a little after 7100 bytes: the key lands on the cut. */
    for (size_t pad = 7060; pad < 7180; pad += 7) {
        char *msg = malloc(pad + sizeof KEY + 16);
        assert_non_null(msg);
        memset(msg, 'x', pad);
        msg[pad] = ' ';
        strcpy(msg + pad + 1, KEY " tail");
        char *line = capture(LOG_ERROR, msg);
        assert_null(strstr(line, "model-key"));
        assert_null(strstr(line, "QWERTY"));
        free(msg_of(line, NULL)); /* still one JSON object */
        free(line);
        free(msg);
    }
}

/* A message longer than the line is cut at a character, and the line keeps
 * its context fields and stays one JSON object. */
static void test_long_message_keeps_the_line_whole(void **state)
{
    (void)state;
    log_set_event("ev-1", "group");
    for (size_t n = 7000; n < 7300; n += 1) {
        char *msg = malloc(n * 3 + 1);
        assert_non_null(msg);
        for (size_t i = 0; i < n; i++)
            memcpy(msg + 3 * i, "\xe6\x96\x99", 3); /* 料 */
        msg[3 * n] = '\0';
        char *line = capture(LOG_WARN, msg);
        json_t *root = NULL;
        char *m = msg_of(line, &root);
        assert_string_equal(json_string_value(json_object_get(root, "event_id")), "ev-1");
        assert_string_equal(json_string_value(json_object_get(root, "chat_type")), "group");
        assert_true(strlen(m) > 6000 && strlen(m) < 3 * n && strlen(m) % 3 == 0);
        json_decref(root);
        free(m);
        free(line);
        free(msg);
        n += 37;
    }
}

/* A context key with no value is left out, not written as null; one that is
 * set is there. The oracle is the parsed object's keys. */
static void test_unset_context_keys_are_left_out(void **state)
{
    (void)state;
    log_clear_context();
    char *line = capture(LOG_INFO, "no context");
    assert_null(strstr(line, "null"));
    json_t *root = NULL;
    free(msg_of(line, &root));
    assert_int_equal(json_object_size(root), 3); /* ts, level, msg */
    assert_non_null(json_object_get(root, "ts"));
    assert_string_equal(json_string_value(json_object_get(root, "level")), "info");
    json_decref(root);
    free(line);

    log_set_request_id("req-1");
    line = capture(LOG_INFO, "a request");
    free(msg_of(line, &root));
    assert_int_equal(json_object_size(root), 4);
    assert_string_equal(json_string_value(json_object_get(root, "request_id")), "req-1");
    assert_null(json_object_get(root, "event_id"));
    assert_null(json_object_get(root, "chat_type"));
    json_decref(root);
    free(line);

    log_set_event("ev-2", "room");
    line = capture(LOG_INFO, "an event");
    free(msg_of(line, &root));
    assert_int_equal(json_object_size(root), 6);
    assert_string_equal(json_string_value(json_object_get(root, "event_id")), "ev-2");
    assert_string_equal(json_string_value(json_object_get(root, "chat_type")), "room");
    json_decref(root);
    free(line);

    log_set_event("", NULL); /* empty counts as unset */
    log_set_request_id(NULL);
    line = capture(LOG_INFO, "after");
    free(msg_of(line, &root));
    assert_int_equal(json_object_size(root), 3);
    json_decref(root);
    free(line);
}

/* `line` matches the extended regular expression `pattern` (whole line). */
static void assert_matches(const char *line, const char *pattern)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&re, line, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        fail_msg("\"%s\" does not match /%s/", line, pattern);
}

static void test_parse_format(void **state)
{
    (void)state;
    enum log_format f = LOG_FORMAT_AUTO;
    assert_int_equal(log_parse_format("text", &f), 0);
    assert_int_equal(f, LOG_FORMAT_TEXT);
    assert_int_equal(log_parse_format("JSON", &f), 0);
    assert_int_equal(f, LOG_FORMAT_JSON);
    assert_int_equal(log_parse_format("logfmt", &f), -1);
    assert_int_equal(log_parse_format("", &f), -1);
    assert_int_equal(f, LOG_FORMAT_JSON);
    /* Not a terminal (the tests' stdout is a file or a pipe), or serverless: JSON. */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(dup2(fds[1], STDOUT_FILENO) >= 0);
    enum log_format picked = log_set_format(LOG_FORMAT_AUTO, false);
    enum log_format serverless = log_set_format(LOG_FORMAT_AUTO, true);
    enum log_format asked = log_set_format(LOG_FORMAT_TEXT, true);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(picked, LOG_FORMAT_JSON);
    assert_int_equal(serverless, LOG_FORMAT_JSON);
    assert_int_equal(asked, LOG_FORMAT_TEXT); /* asked for: kept, even serverless */
}

/* A text line: time, level, the chat when set, the message; no JSON. */
static void test_text_line(void **state)
{
    (void)state;
    log_set_format(LOG_FORMAT_TEXT, false);
    char *line = capture(LOG_INFO, "starting on 0.0.0.0:8080");
    assert_matches(line, "^[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{3} INFO  starting on 0\\.0\\.0\\.0:8080$");
    free(line);

    log_set_event("01FZ74A0TDDPYRVKNK77XKC3ZR", "group");
    log_set_request_id("req-9");
    line = capture(LOG_WARN, "model failed");
    assert_matches(line, "^[0-9:.]{12} WARN  \\[group #77XKC3ZR\\] model failed$");
    free(line);
    line = capture(LOG_DEBUG, "q");
    assert_matches(line, "^[0-9:.]{12} DEBUG \\[group #77XKC3ZR\\] q$");
    free(line);
    log_set_event("ev-7", NULL); /* shorter than the cut: whole */
    line = capture(LOG_ERROR, "x");
    assert_matches(line, "^[0-9:.]{12} ERROR \\[#ev-7\\] x$");
    free(line);

    /* A newline or a control in the message stays inside the one line
     * (capture() checks there is no other newline); quotes stay as they are. */
    log_clear_context();
    line = capture(LOG_INFO, "two\nlines \"quoted\"\x01");
    assert_matches(line, "^[0-9:.]{12} INFO  two\\\\nlines \"quoted\"\\\\u0001$");
    free(line);
}

/* Text lines are masked exactly as JSON lines, context included. */
static void test_text_line_masked(void **state)
{
    (void)state;
    log_set_format(LOG_FORMAT_TEXT, false);
    log_set_event("ev-" SECRET, "user");
    char *line = capture(LOG_ERROR, "provider said: Incorrect API key provided: " KEY " and Bearer abcdefghijk12");
    assert_null(strstr(line, KEY));
    assert_null(strstr(line, "QWERTY"));
    assert_null(strstr(line, "abcdefghijk12"));
    assert_null(strstr(line, "0123456789abcdef"));
    assert_non_null(strstr(line, " provider said: Incorrect API key provided: [redacted LLM_API_KEY] and Bearer [redacted]"));
    assert_non_null(strstr(line, "[user #"));
    free(line);

    /* A long message is cut after masking, at a character, on one line. */
    log_clear_context();
    for (size_t pad = 7060; pad < 7180; pad += 7) {
        char *msg = malloc(pad + sizeof KEY + 16);
        assert_non_null(msg);
        memset(msg, 'x', pad);
        msg[pad] = ' ';
        strcpy(msg + pad + 1, KEY " tail");
        line = capture(LOG_ERROR, msg);
        assert_null(strstr(line, "model-key"));
        assert_null(strstr(line, "QWERTY"));
        assert_true(strlen(line) < 8192);
        free(line);
        free(msg);
    }
}

static void test_no_secrets_set(void **state)
{
    (void)state;
    log_set_secrets(NULL, 0);
    char *line = capture(LOG_ERROR, "key " KEY);
    char *m = msg_of(line, NULL);
    assert_string_equal(m, "key " KEY);
    free(m);
    free(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_lists_its_secrets),
        cmocka_unit_test(test_db_password_is_a_secret),
        cmocka_unit_test_setup_teardown(test_secrets_masked_in_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_secrets_masked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_shapes_masked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_fields_masked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_message_cut_after_masking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_message_keeps_the_line_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unset_context_keys_are_left_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_line_masked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_secrets_set, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
