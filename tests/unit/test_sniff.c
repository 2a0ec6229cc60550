/* test_sniff.c - magic bytes: each kind from its real signature, the near
 * misses that must not pass (a truncated signature, GIF88a, a RIFF that is
 * WAVE, an ftyp box too small), and what lies in a header cannot change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/sniff.h"

#define KIND(lit) sniff_kind(lit, sizeof lit - 1)

static void test_each_kind(void **state)
{
    (void)state;
    assert_int_equal(KIND("\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), SNIFF_PNG);
    assert_int_equal(KIND("\xff\xd8\xff\xe0\0\x10JFIF"), SNIFF_JPEG);
    assert_int_equal(KIND("\xff\xd8\xff\xe1\0\x10" "Exif"), SNIFF_JPEG);
    assert_int_equal(KIND("GIF87a\1\0\1\0"), SNIFF_GIF);
    assert_int_equal(KIND("GIF89a\1\0\1\0"), SNIFF_GIF);
    assert_int_equal(KIND("RIFF\x24\0\0\0WEBPVP8 "), SNIFF_WEBP);
    assert_int_equal(KIND("\0\0\0\x20" "ftypM4A \0\0\0\0"), SNIFF_MP4);
    assert_int_equal(KIND("\0\0\0\x18" "ftypmp42"), SNIFF_MP4);
    assert_int_equal(KIND("%PDF-1.7\n"), SNIFF_PDF);
    assert_true(sniff_is_image(SNIFF_PNG) && sniff_is_image(SNIFF_JPEG) && sniff_is_image(SNIFF_GIF) &&
                sniff_is_image(SNIFF_WEBP));
    assert_false(sniff_is_image(SNIFF_MP4) || sniff_is_image(SNIFF_PDF) || sniff_is_image(SNIFF_UNKNOWN));
    assert_string_equal(sniff_mime(SNIFF_PNG), "image/png");
    assert_string_equal(sniff_mime(SNIFF_JPEG), "image/jpeg");
    assert_string_equal(sniff_mime(SNIFF_WEBP), "image/webp");
    assert_string_equal(sniff_mime(SNIFF_MP4), "audio/mp4");
    assert_string_equal(sniff_mime(SNIFF_UNKNOWN), "application/octet-stream");
}

static void test_near_misses(void **state)
{
    (void)state;
    assert_int_equal(KIND("\x89PNG\r\n\x1a"), SNIFF_UNKNOWN);      /* one byte short */
    assert_int_equal(KIND("\x89PNG\n\n\x1a\n"), SNIFF_UNKNOWN);    /* a line ending rewritten in transit */
    assert_int_equal(KIND("\xff\xd8"), SNIFF_UNKNOWN);
    assert_int_equal(KIND("GIF88a\1\0"), SNIFF_UNKNOWN);
    assert_int_equal(KIND("RIFF\x24\0\0\0WAVEfmt "), SNIFF_UNKNOWN); /* audio in the same container */
    assert_int_equal(KIND("RIFF\x24\0\0\0WEB"), SNIFF_UNKNOWN);
    assert_int_equal(KIND("\0\0\0\x04" "ftypM4A "), SNIFF_UNKNOWN); /* a box smaller than its header */
    assert_int_equal(KIND("%PDF"), SNIFF_UNKNOWN);
    assert_int_equal(KIND("<!DOCTYPE html><title>image.png</title>"), SNIFF_UNKNOWN);
    assert_int_equal(KIND("image/png"), SNIFF_UNKNOWN);
    assert_int_equal(sniff_kind(NULL, 0), SNIFF_UNKNOWN);
    assert_int_equal(sniff_kind("", 0), SNIFF_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_kind),
        cmocka_unit_test(test_near_misses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
