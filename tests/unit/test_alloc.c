/* test_alloc.c - the out-of-memory policy: an allocation that fails aborts
 * the process with a message (checked in a child process), and jansson is
 * switched to the aborting allocator by alloc_init(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"

/* Under AddressSanitizer a huge malloc would stop the process with ASan's own
 * report; this makes it return NULL as glibc does, so the test sees ours. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* Runs `fn` in a child with stderr captured; returns its wait status and
 * copies what it wrote to stderr into `err`. */
static int run_child(void (*fn)(void), char *err, size_t errlen)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fn();
        _exit(0); /* not reached when fn aborts */
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < errlen && (n = read(fds[0], err + got, errlen - 1 - got)) > 0)
        got += (size_t)n;
    err[got] = '\0';
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void assert_aborted(void (*fn)(void), const char *what)
{
    char err[512];
    int status = run_child(fn, err, sizeof err);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(err, "linebot: out of memory ("));
    assert_non_null(strstr(err, what));
}

static volatile size_t huge = SIZE_MAX - 4096; /* volatile: the compiler must not fold the call */

static void child_malloc(void) { free(xmalloc(huge)); }
static void child_calloc_overflow(void) { free(xcalloc(huge, 16)); }
static void child_realloc(void) { free(xrealloc(NULL, huge)); }
static void child_realloc_array_overflow(void) { free(xrealloc_array(NULL, 3, huge / 2)); }

static void child_jansson(void)
{
    alloc_init();
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    free(m(huge));
}

static void test_failure_aborts_with_message(void **state)
{
    (void)state;
    assert_aborted(child_malloc, "malloc of ");
    assert_aborted(child_calloc_overflow, "calloc (size overflow)");
    assert_aborted(child_realloc, "realloc of ");
    assert_aborted(child_realloc_array_overflow, "realloc (size overflow)");
    assert_aborted(child_jansson, "malloc of ");
}

static void test_normal_use(void **state)
{
    (void)state;
    char *p = xmalloc(0); /* a unique pointer, not NULL */
    assert_non_null(p);
    free(p);
    int *z = xcalloc(4, sizeof *z);
    assert_int_equal(z[0] + z[1] + z[2] + z[3], 0);
    z = xrealloc_array(z, 8, sizeof *z);
    z[7] = 7;
    assert_int_equal(z[7], 7);
    free(z);

    char *s = xstrdup("hello");
    assert_string_equal(s, "hello");
    free(s);
    s = xstrndup("hello", 3);
    assert_string_equal(s, "hel");
    free(s);
    s = xstrndup("hi", 10); /* shorter than n: no read past the NUL */
    assert_string_equal(s, "hi");
    free(s);
    s = xasprintf("%s-%d", "id", 42);
    assert_string_equal(s, "id-42");
    free(s);
}

static void test_jansson_uses_the_aborting_allocator(void **state)
{
    (void)state;
    alloc_init();
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    assert_true(m != malloc);
    assert_true(f == free);
    json_t *j = json_pack("{s:s}", "a", "b"); /* still works through it */
    char *dump = json_dumps(j, JSON_COMPACT);
    assert_string_equal(dump, "{\"a\":\"b\"}");
    free(dump);
    json_decref(j);
    json_set_alloc_funcs(malloc, free);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failure_aborts_with_message),
        cmocka_unit_test(test_normal_use),
        cmocka_unit_test(test_jansson_uses_the_aborting_allocator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
