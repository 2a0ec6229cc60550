/* test_kb_pdf.c - io/kb_pdf.c's child process, with small shell programs
 * standing in for pdftotext: the PDF reaches it whole on stdin while its
 * output is read (a few MB each way, so neither pipe may block the other),
 * it gets no environment, a slow one is stopped at the time limit, a chatty
 * one at the cap, one that quits without reading does not take us down with
 * SIGPIPE, and each exit status gives its reason. The real pdftotext on a
 * real PDF is tested end to end (tests/e2e/test_kb.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/kb_pdf.h"

static char dir[] = "/tmp/test_kb_pdf.XXXXXX";
static char path[4096];

/* A program in `dir` that runs `body` under /bin/sh; its path in `path`. */
static const char *program(const char *name, const char *body)
{
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, 0700), 0);
    return path;
}

static char *run(const char *prog, int timeout_ms, size_t max, const char *data, size_t len, size_t *out_len,
                 const char **why)
{
    const struct kb_pdf_limits limits = {prog, timeout_ms, max};
    return kb_pdf_text_with(&limits, data, len, out_len, why);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define PDF "%PDF-1.4\n"

static void test_text_comes_back(void **state)
{
    (void)state;
    size_t n = 0;
    const char *why = "unset";
    const char *p = program("pages", "cat >/dev/null; printf 'Guide\\n\\n\\fPage two\\n\\f'; echo noise >&2");
    char *text = run(p, 5000, 1024, PDF, strlen(PDF), &n, &why);
    assert_non_null(text);
    assert_null(why);
    assert_string_equal(text, "Guide\n\n\fPage two\n\f"); /* stderr is not text */
    assert_int_equal(n, strlen(text));
    free(text);

    /* Not UTF-8, or a NUL: repaired, one U+FFFD a byte. */
    p = program("latin1", "cat >/dev/null; printf 'caf\\351 \\000ok'");
    text = run(p, 5000, 1024, PDF, strlen(PDF), &n, &why);
    assert_non_null(text);
    assert_string_equal(text, "caf\xef\xbf\xbd \xef\xbf\xbdok");
    assert_int_equal(n, strlen(text));
    free(text);
}

/* Megabytes both ways: the input is written while the output is read. */
static void test_large_input_and_output(void **state)
{
    (void)state;
    size_t len = 3 * 1024 * 1024;
    char *data = malloc(len);
    assert_non_null(data);
    memcpy(data, PDF, strlen(PDF));
    for (size_t i = strlen(PDF); i < len; i++)
        data[i] = (char)('a' + i % 26);
    size_t n = 0;
    const char *why = NULL;
    char *text = run(program("cat", "exec cat"), 20000, len, data, len, &n, &why);
    assert_non_null(text);
    assert_int_equal(n, len);
    assert_memory_equal(text, data, len);
    free(text);

    /* One byte over the cap: refused, the child stopped. */
    text = run(path, 20000, len - 1, data, len, &n, &why);
    assert_null(text);
    assert_non_null(strstr(why, "more text than can be taken"));
    free(data);
}

static void test_limits(void **state)
{
    (void)state;
    size_t n = 0;
    const char *why = NULL;
    int64_t t0 = now_ms();
    assert_null(run(program("slow", "exec sleep 20"), 300, 1024, PDF, strlen(PDF), &n, &why));
    assert_non_null(strstr(why, "did not finish reading in time"));
    assert_true(now_ms() - t0 < 5000);

    /* Closes its output but lingers: still stopped at the limit. */
    t0 = now_ms();
    assert_null(run(program("linger", "exec >&-; sleep 20"), 300, 1024, PDF, strlen(PDF), &n, &why));
    assert_non_null(strstr(why, "did not finish reading in time"));
    assert_true(now_ms() - t0 < 5000);

    assert_null(run(program("chatty", "exec yes 'all work and no play'"), 10000, 65536, PDF, strlen(PDF), &n, &why));
    assert_non_null(strstr(why, "more text than can be taken"));
    assert_int_equal(n, 0);
}

/* Each exit status its reason. A child that quits before reading a large
 * input makes our writes fail (EPIPE), and must not kill this process. */
static void test_exit_statuses(void **state)
{
    (void)state;
    size_t len = 2 * 1024 * 1024, n = 0;
    char *data = calloc(1, len);
    assert_non_null(data);
    memcpy(data, PDF, strlen(PDF));
    const char *why = NULL;
    assert_null(run(program("damaged", "exit 1"), 5000, 1024, data, len, &n, &why));
    assert_non_null(strstr(why, "cannot be read as a PDF"));
    assert_null(run(program("locked", "exit 3"), 5000, 1024, data, len, &n, &why));
    assert_non_null(strstr(why, "does not allow copying"));
    assert_null(run(program("other", "exit 99"), 5000, 1024, data, len, &n, &why));
    assert_non_null(strstr(why, "failed to read"));
    assert_null(run(program("crash", "kill -SEGV $$"), 5000, 1024, data, len, &n, &why));
    assert_non_null(strstr(why, "failed to read"));
    assert_null(run(program("blank", "cat >/dev/null; printf '\\n\\f \\n\\f'"), 5000, 1024, data, len, &n, &why));
    assert_non_null(strstr(why, "without text"));
    free(data);
}

static void test_refusals(void **state)
{
    (void)state;
    size_t n = 1;
    const char *why = NULL;
    /* Not installed: the Debian package to install. */
    assert_null(run("/nonexistent/pdftotext", 5000, 1024, PDF, strlen(PDF), &n, &why));
    assert_non_null(strstr(why, "apt-get install poppler-utils"));
    assert_int_equal(n, 0);
    /* Not a PDF: no child at all (this one would say otherwise). */
    const char *p = program("says-yes", "printf 'yes'");
    assert_null(run(p, 5000, 1024, "<html>", 6, &n, &why));
    assert_non_null(strstr(why, "is not a PDF"));
    assert_null(run(p, 5000, 1024, "%PDF", 4, &n, &why));
    assert_null(run(p, 5000, 1024, "", 0, &n, &why));
    assert_non_null(strstr(why, "is not a PDF"));
}

/* The bot's environment (its keys) is not passed on. */
static void test_no_environment(void **state)
{
    (void)state;
    setenv("LINEBOT_TEST_SECRET", "s3cr3t-value", 1);
    size_t n = 0;
    const char *why = NULL;
    char *text = run(program("env", "cat >/dev/null; echo begin; env; echo end"), 5000, 65536, PDF, strlen(PDF), &n,
                     &why);
    unsetenv("LINEBOT_TEST_SECRET");
    assert_non_null(text);
    assert_non_null(strstr(text, "begin\n"));
    assert_null(strstr(text, "s3cr3t"));
    free(text);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    const char *names[] = {"pages", "latin1", "cat", "slow", "linger", "chatty", "damaged", "locked",
                           "other", "crash", "blank", "says-yes", "env"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_comes_back),
        cmocka_unit_test(test_large_input_and_output),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_exit_statuses),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_no_environment),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
