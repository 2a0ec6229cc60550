/* test_kb_fetch.c - what a fetched body is (kb_fetch_kind): a PDF by its
 * magic bytes whatever the header says, else the Content-Type (parameters
 * and case ignored), else the URL's file name, else whether it starts like
 * an HTML page; anything else (an image, JSON) is refused. The fetch itself
 * is tested end to end (tests/e2e/test_kb.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "io/kb_fetch.h"

#define KIND(type, path, body) kb_fetch_kind(type, path, body, strlen(body))

static void test_by_content_type(void **state)
{
    (void)state;
    assert_string_equal(KIND("text/html; charset=utf-8", "/a", "hello"), ".html");
    assert_string_equal(KIND("  TEXT/HTML ", "/a.txt", "hello"), ".html");
    assert_string_equal(KIND("application/xhtml+xml", NULL, "<html/>"), ".html");
    assert_string_equal(KIND("text/plain;charset=UTF-8", "/notes", "hello"), ".txt");
    assert_string_equal(KIND("text/plain", "/README.md", "# hello"), ".md"); /* servers often say text/plain */
    assert_string_equal(KIND("text/markdown", "/x", "# hello"), ".md");
    assert_string_equal(KIND("application/pdf", "/x", "not really"), ".pdf");
    assert_null(KIND("image/png", "/x.html", "\x89PNG\r\n\x1a\n"));
    assert_null(KIND("application/json", "/x.txt", "{}"));
    assert_null(KIND("text/csv", "/x", "a,b"));
}

static void test_pdf_by_magic_bytes(void **state)
{
    (void)state;
    assert_string_equal(KIND("text/html", "/page.html", "%PDF-1.7\n"), ".pdf");
    assert_string_equal(KIND(NULL, NULL, "%PDF-1.4\n"), ".pdf");
    assert_string_equal(KIND("application/octet-stream", "/download", "%PDF-1.4\n"), ".pdf");
}

static void test_without_a_type(void **state)
{
    (void)state;
    assert_string_equal(KIND(NULL, "/docs/guide.md", "# Guide"), ".md");
    assert_string_equal(KIND("", "/docs/guide.HTM", "x"), ".html");
    assert_string_equal(KIND("application/octet-stream", "/a/notes.txt", "x"), ".txt");
    assert_string_equal(KIND(NULL, "/", "\xef\xbb\xbf\n  <!DOCTYPE HTML><title>x</title>"), ".html");
    assert_string_equal(KIND(NULL, "/", "<html lang=ja>"), ".html");
    assert_null(KIND(NULL, "/", "plain words"));
    assert_null(KIND(NULL, "/v1.2/data", "plain words")); /* a dot in a folder is no file name */
    assert_null(KIND(NULL, "/photo.jpg", "\xff\xd8\xff"));
    assert_null(kb_fetch_kind(NULL, NULL, NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_content_type),
        cmocka_unit_test(test_pdf_by_magic_bytes),
        cmocka_unit_test(test_without_a_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
