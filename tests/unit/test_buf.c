/* test_buf.c - the growable buffer: appends, the size cap (exactly at it,
 * one byte over, and a formatted append over it), take, reset and free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

static void test_empty(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 100);
    assert_null(b.data);
    assert_string_equal(buf_str(&b), "");
    size_t len = 99;
    char *s = buf_take(&b, &len);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
    buf_free(&b);
}

static void test_appends_grow_and_stay_terminated(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_adds(&b, "abc"), 0);
    assert_int_equal(buf_add(&b, "defXX", 3), 0);
    assert_int_equal(buf_add(&b, NULL, 0), 0);
    assert_int_equal(buf_addf(&b, "-%d-%s", 42, "x"), 0);
    assert_string_equal(buf_str(&b), "abcdef-42-x");
    assert_int_equal(b.len, 11);

    /* Many appends, well past the first allocation. */
    char expect[5001];
    for (int i = 0; i < 5000; i++)
        expect[i] = (char)('a' + i % 26);
    expect[5000] = '\0';
    buf_reset(&b);
    assert_string_equal(buf_str(&b), "");
    for (int i = 0; i < 5000; i++)
        assert_int_equal(buf_add(&b, &expect[i], 1), 0);
    assert_int_equal(b.len, 5000);
    assert_true(b.cap > 5000);
    assert_memory_equal(b.data, expect, 5001); /* with the NUL */

    buf_truncate(&b, 3);
    assert_string_equal(buf_str(&b), "abc");
    buf_truncate(&b, 10); /* longer than the content: nothing changes */
    assert_string_equal(buf_str(&b), "abc");

    /* Bytes with NULs are kept: the length is the truth. */
    buf_reset(&b);
    assert_int_equal(buf_add(&b, "a\0b", 3), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b\0", 4);
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void test_cap(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_adds(&b, "0123456789"), 0); /* exactly at the cap */
    assert_true(b.cap <= 11);                        /* never more than max + NUL */
    assert_int_equal(buf_add(&b, "x", 1), -1);       /* one byte over */
    assert_string_equal(buf_str(&b), "0123456789");  /* left as it was */
    assert_int_equal(buf_add(&b, "", 0), 0);         /* nothing more still fits */

    buf_reset(&b);
    assert_int_equal(buf_adds(&b, "12345"), 0);
    assert_int_equal(buf_addf(&b, "%s", "678901"), -1); /* 11 bytes: refused whole */
    assert_string_equal(buf_str(&b), "12345");
    assert_int_equal(buf_addf(&b, "%05d", 7), 0);      /* 10 bytes: fits */
    assert_string_equal(buf_str(&b), "1234500007");

    /* A length that would overflow size_t arithmetic is simply over the cap. */
    assert_int_equal(buf_add(&b, "x", SIZE_MAX), -1);
    buf_free(&b);

    /* Cap 0: only the empty string. */
    buf_init(&b, 0);
    assert_int_equal(buf_add(&b, "", 0), 0);
    assert_int_equal(buf_add(&b, "a", 1), -1);
    assert_string_equal(buf_str(&b), "");
    buf_free(&b);

    /* No cap to speak of: SIZE_MAX is accepted as "the most size_t allows". */
    buf_init(&b, SIZE_MAX);
    assert_int_equal(buf_adds(&b, "ok"), 0);
    assert_int_equal(buf_add(&b, "x", SIZE_MAX), -1);
    assert_string_equal(buf_str(&b), "ok");
    buf_free(&b);
}

static void test_take_hands_over(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(buf_adds(&b, "hello"), 0);
    size_t len = 0;
    char *s = buf_take(&b, &len);
    assert_string_equal(s, "hello");
    assert_int_equal(len, 5);
    assert_null(b.data); /* the buffer no longer owns it */
    assert_int_equal(b.len, 0);
    /* ...and can be used again, with the same cap. */
    assert_int_equal(buf_adds(&b, "again"), 0);
    assert_int_equal(buf_add(&b, "0123456789012345678901234567890123456789012345678901234567890", 60), -1);
    char *t = buf_take(&b, NULL);
    assert_string_equal(t, "again");
    free(s);
    free(t);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_appends_grow_and_stay_terminated),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_take_hands_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
