/* test_sigcommon.c - unit tests for core/sigcommon: the signers' building blocks.
 *
 * The signers' own tests (test_sigv4.c, test_acs3.c) check these parts through
 * the published vectors. This file covers the edges those do not reach: the
 * builder's hard cap and how a failure sticks, the encoding of every byte in
 * both modes, known-answer hashes (FIPS 180-2, RFC 4231), the timestamp at
 * and past its bounds (checked against gmtime_r), and the input checks with
 * their error messages and truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/sigcommon.h"

/* ---- the builder -------------------------------------------------------- */

static void test_buf_builds_and_hands_over(void **state)
{
    (void)state;
    struct sig_buf b = SIG_BUF_INIT;
    char *s = sig_buf_take(&b); /* never added to: "" rather than NULL */
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    assert_null(b.buf.data);

    sig_buf_adds(&b, "abc");
    sig_buf_addc(&b, '/');
    sig_buf_add(&b, "xyz", 2);
    sig_buf_add(&b, NULL, 0); /* nothing to copy: fine */
    assert_false(b.failed);
    assert_int_equal(b.buf.len, 6);
    assert_string_equal(b.buf.data, "abc/xy");

    /* Growth keeps the contents and the NUL. */
    for (int i = 0; i < 5000; i++)
        sig_buf_addc(&b, (char)('a' + i % 26));
    assert_false(b.failed);
    assert_int_equal(b.buf.len, 5006);
    assert_int_equal(strlen(b.buf.data), 5006);
    assert_memory_equal(b.buf.data, "abc/xyabcd", 10);

    s = sig_buf_take(&b);
    assert_non_null(s);
    assert_int_equal(strlen(s), 5006);
    free(s);
    assert_null(b.buf.data);
    assert_int_equal(b.buf.len, 0);
    assert_int_equal(b.buf.cap, 0);
    assert_false(b.failed);

    sig_buf_adds(&b, "again"); /* reusable after a take */
    assert_string_equal(b.buf.data, "again");
    sig_buf_free(&b);
    assert_null(b.buf.data);
    assert_int_equal(b.buf.len, 0);
    sig_buf_free(&b); /* twice is fine */
}

/* The cap is the one failure (running out of memory aborts), and the flag
 * must stick so a signer can check it once at the end. */
static void test_buf_cap_and_sticky_failure(void **state)
{
    (void)state;
    char *big = malloc(SIG_BUF_MAX);
    assert_non_null(big);
    memset(big, 'x', SIG_BUF_MAX);

    struct sig_buf b = SIG_BUF_INIT;
    sig_buf_add(&b, big, SIG_BUF_MAX); /* exactly the cap: fine */
    assert_false(b.failed);
    assert_int_equal(b.buf.len, SIG_BUF_MAX);
    assert_int_equal(b.buf.data[SIG_BUF_MAX], '\0');
    sig_buf_addc(&b, 'y'); /* one past it */
    assert_true(b.failed);
    sig_buf_free(&b);
    assert_false(b.failed); /* free resets the flag too */

    sig_buf_adds(&b, "head");
    sig_buf_add(&b, big, SIG_BUF_MAX - 3); /* len + n = cap + 1 */
    assert_true(b.failed);
    assert_int_equal(b.buf.len, 4); /* nothing of the failed add went in */
    assert_string_equal(b.buf.data, "head");
    sig_buf_adds(&b, "tail"); /* small adds after the failure are no-ops */
    sig_buf_addc(&b, 'c');
    sig_buf_add(&b, "", 0);
    assert_true(b.failed);
    assert_int_equal(b.buf.len, 4);
    assert_null(sig_buf_take(&b)); /* a failed buffer hands over nothing... */
    assert_null(b.buf.data);          /* ...and is freed and reset */
    assert_false(b.failed);
    sig_buf_adds(&b, "fresh");
    assert_string_equal(b.buf.data, "fresh");
    sig_buf_free(&b);

    /* A length that would wrap size_t fails before anything is read. */
    sig_buf_adds(&b, "x");
    sig_buf_add(&b, big, SIZE_MAX);
    assert_true(b.failed);
    sig_buf_free(&b);
    sig_buf_add(&b, big, SIZE_MAX - 1);
    assert_true(b.failed);
    assert_null(sig_buf_take(&b));

    /* Percent-encoding into a full buffer fails the same way. */
    sig_buf_add(&b, big, SIG_BUF_MAX - 2);
    sig_buf_percent_encode(&b, " ", 1, false); /* "%20" is one byte too many */
    assert_true(b.failed);
    sig_buf_free(&b);
    sig_buf_add(&b, big, SIG_BUF_MAX - 3);
    sig_buf_percent_encode(&b, " ", 1, false); /* exactly fits */
    assert_false(b.failed);
    assert_memory_equal(b.buf.data + SIG_BUF_MAX - 3, "%20", 4);
    sig_buf_free(&b);
    free(big);
}

/* ---- encoding ----------------------------------------------------------- */

static bool expect_unreserved(unsigned c)
{
    return c != 0 &&
           strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~", (int)c) != NULL;
}

static void test_percent_encode_every_byte(void **state)
{
    (void)state;
    for (int keep_slash = 0; keep_slash <= 1; keep_slash++) {
        for (unsigned c = 0; c < 256; c++) {
            char expected[16];
            if (expect_unreserved(c) || (keep_slash && c == '/'))
                snprintf(expected, sizeof expected, "%c", (char)c);
            else
                snprintf(expected, sizeof expected, "%%%02X", c); /* uppercase hex */
            assert_int_equal(sig_is_unreserved((unsigned char)c), expect_unreserved(c));

            char in = (char)c, out[4];
            size_t n = sig_percent_encode(&in, 1, keep_slash, out, sizeof out);
            assert_int_equal(n, strlen(expected));
            assert_string_equal(out, expected);

            struct sig_buf b = SIG_BUF_INIT;
            sig_buf_percent_encode(&b, &in, 1, keep_slash);
            assert_false(b.failed);
            assert_int_equal(b.buf.len, strlen(expected));
            assert_memory_equal(b.buf.data, expected, b.buf.len);
            sig_buf_free(&b);
        }
    }

    /* All 256 bytes in one go, NUL included: the two forms agree. */
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    char out[3 * 256 + 1];
    size_t n = sig_percent_encode(all, sizeof all, false, out, sizeof out);
    assert_int_equal(n, 3 * 256 - 2 * 66); /* 66 unreserved bytes stay one byte */
    struct sig_buf b = SIG_BUF_INIT;
    sig_buf_percent_encode(&b, all, sizeof all, false);
    assert_int_equal(b.buf.len, n);
    assert_memory_equal(b.buf.data, out, n + 1);
    sig_buf_free(&b);
    assert_int_equal(sig_percent_encode(all, sizeof all, false, out, n), (size_t)-1); /* no room for NUL */
    assert_string_equal(out, "");
}

static void test_percent_encode_bounds(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(sig_percent_encode("a/b c", 5, true, out, sizeof out), 7);
    assert_string_equal(out, "a/b%20c");
    assert_int_equal(sig_percent_encode("a/b c", 5, false, out, sizeof out), (size_t)-1);
    assert_string_equal(out, ""); /* never a partial string */
    assert_int_equal(sig_percent_encode("abcdefg", 7, false, out, sizeof out), 7); /* exact fit */
    assert_int_equal(sig_percent_encode("abcdefgh", 8, false, out, sizeof out), (size_t)-1);
    assert_int_equal(sig_percent_encode("abcdef ", 7, false, out, sizeof out), (size_t)-1);
    assert_int_equal(sig_percent_encode("", 0, false, out, 1), 0);
    assert_string_equal(out, "");
    assert_int_equal(sig_percent_encode(NULL, 0, false, out, sizeof out), 0);
    assert_int_equal(sig_percent_encode(NULL, 1, false, out, sizeof out), (size_t)-1);
    assert_int_equal(sig_percent_encode("a", 1, false, NULL, 8), (size_t)-1);
    out[0] = 'Z';
    assert_int_equal(sig_percent_encode("a", 1, false, out, 0), (size_t)-1);
    assert_int_equal(out[0], 'Z'); /* outlen 0: not written */
}

static void test_hex_lower(void **state)
{
    (void)state;
    unsigned char in[256];
    for (int i = 0; i < 256; i++)
        in[i] = (unsigned char)i;
    char out[2 * 256 + 1];
    sig_hex_lower(in, sizeof in, out);
    assert_int_equal(strlen(out), 512);
    for (int i = 0; i < 256; i++) {
        char expected[16];
        snprintf(expected, sizeof expected, "%02x", i);
        assert_memory_equal(out + 2 * i, expected, 2);
    }
    sig_hex_lower(in, 0, out);
    assert_string_equal(out, "");
}

/* ---- the canonical request --------------------------------------------- */

static void test_canonical_request(void **state)
{
    (void)state;
    /* Given out of order, one value a slice of a longer string and one empty:
     * sorted by name, each value taken by its length. */
    struct sig_header headers[] = {
        {"x-b", "two-and-more", 3},
        {"host", "example.com", 11},
        {"x-a", "", 0},
    };
    struct sig_buf creq = SIG_BUF_INIT, signed_headers = SIG_BUF_INIT;
    sig_canonical_request("GET", "/p", "a=1&b=2", headers, 3, "HASH", &creq, &signed_headers);
    assert_false(creq.failed);
    assert_false(signed_headers.failed);
    assert_string_equal(creq.buf.data, "GET\n/p\na=1&b=2\nhost:example.com\nx-a:\nx-b:two\n\nhost;x-a;x-b\nHASH");
    assert_string_equal(signed_headers.buf.data, "host;x-a;x-b");
    assert_string_equal(headers[0].name, "host"); /* sorted in place */
    sig_buf_free(&creq);
    sig_buf_free(&signed_headers);

    /* NULL uri and query are empty lines. */
    struct sig_header one[] = {{"host", "h", 1}};
    sig_canonical_request("POST", NULL, NULL, one, 1, "HASH", &creq, &signed_headers);
    assert_string_equal(creq.buf.data, "POST\n\n\nhost:h\n\nhost\nHASH");
    sig_buf_free(&creq);
    sig_buf_free(&signed_headers);

    /* A buffer that has failed stays failed: the caller checks once. */
    creq.failed = true;
    sig_canonical_request("POST", "/", "", one, 1, "HASH", &creq, &signed_headers);
    assert_true(creq.failed);
    assert_null(creq.buf.data);
    assert_string_equal(signed_headers.buf.data, "host");
    sig_buf_free(&creq);
    sig_buf_free(&signed_headers);
}

/* ---- crypto ------------------------------------------------------------- */

static void test_sha256_hex(void **state)
{
    (void)state;
    char hex[SIG_SHA256_HEX_LEN + 1];
    assert_true(sig_sha256_hex("", 0, hex));
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_true(sig_sha256_hex(NULL, 0, hex)); /* no payload */
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_true(sig_sha256_hex("abc", 3, hex));
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_true(sig_sha256_hex("abcdef", 3, hex)); /* the length counts, not the NUL */
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void hmac_hex(const void *key, size_t keylen, const char *msg, char hex[SIG_SHA256_HEX_LEN + 1])
{
    unsigned char mac[SIG_SHA256_LEN];
    assert_true(sig_hmac_sha256(key, keylen, msg, strlen(msg), mac));
    sig_hex_lower(mac, sizeof mac, hex);
}

static void test_hmac_sha256(void **state)
{
    (void)state;
    char hex[SIG_SHA256_HEX_LEN + 1];
    unsigned char key[131];

    memset(key, 0x0b, 20); /* RFC 4231 test case 1 */
    hmac_hex(key, 20, "Hi There", hex);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    hmac_hex("Jefe", 4, "what do ya want for nothing?", hex); /* case 2 */
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(key, 0xaa, sizeof key); /* case 6: a key longer than the block */
    hmac_hex(key, sizeof key, "Test Using Larger Than Block-Size Key - Hash Key First", hex);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    hmac_hex("", 0, "", hex);
    assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");

    /* A key length OpenSSL's int cannot hold is refused before it is read. */
    unsigned char mac[SIG_SHA256_LEN];
    assert_false(sig_hmac_sha256(key, (size_t)INT32_MAX + 1, "m", 1, mac));
    assert_false(sig_hmac_sha256(key, SIZE_MAX, "m", 1, mac));
}

static void test_wipe(void **state)
{
    (void)state;
    unsigned char secret[40];
    memset(secret, 0xA5, sizeof secret);
    sig_wipe(secret, 32);
    for (size_t i = 0; i < 32; i++)
        assert_int_equal(secret[i], 0);
    for (size_t i = 32; i < sizeof secret; i++)
        assert_int_equal(secret[i], 0xA5); /* only what was asked */
    sig_wipe(secret, 0);
}

/* ---- time --------------------------------------------------------------- */

static void expect_utc(int64_t t, const char *basic, const char *extended)
{
    char out[32];
    assert_true(sig_format_utc(t, SIG_UTC_BASIC, out, sizeof out));
    assert_string_equal(out, basic);
    assert_true(sig_format_utc(t, SIG_UTC_EXTENDED, out, sizeof out));
    assert_string_equal(out, extended);
}

static void test_format_utc_known_times(void **state)
{
    (void)state;
    expect_utc(0, "19700101T000000Z", "1970-01-01T00:00:00Z");
    expect_utc(INT64_C(951782400), "20000229T000000Z", "2000-02-29T00:00:00Z"); /* leap century */
    expect_utc(INT64_C(1440938160), "20150830T123600Z", "2015-08-30T12:36:00Z"); /* AWS suite */
    expect_utc(INT64_C(1698315752), "20231026T102232Z", "2023-10-26T10:22:32Z"); /* Alibaba's */
    expect_utc(INT64_C(1709210096), "20240229T123456Z", "2024-02-29T12:34:56Z");
    expect_utc(INT64_C(4107542399), "21000228T235959Z", "2100-02-28T23:59:59Z"); /* 2100: no Feb 29 */
    expect_utc(INT64_C(4107542400), "21000301T000000Z", "2100-03-01T00:00:00Z");
    expect_utc(SIG_EPOCH_MAX, "99991231T235959Z", "9999-12-31T23:59:59Z");
}

static void test_format_utc_bounds(void **state)
{
    (void)state;
    static const int64_t out_of_range[] = {-1, INT64_C(-86400), SIG_EPOCH_MAX + 1, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        char out[32] = "untouched";
        assert_false(sig_format_utc(out_of_range[i], SIG_UTC_BASIC, out, sizeof out));
        assert_false(sig_format_utc(out_of_range[i], SIG_UTC_EXTENDED, out, sizeof out));
        assert_string_equal(out, "untouched");
    }
    char basic[SIG_UTC_BASIC_LEN + 1], extended[SIG_UTC_EXTENDED_LEN + 1];
    assert_true(sig_format_utc(0, SIG_UTC_BASIC, basic, sizeof basic)); /* exact fit */
    assert_int_equal(strlen(basic), SIG_UTC_BASIC_LEN);
    assert_true(sig_format_utc(0, SIG_UTC_EXTENDED, extended, sizeof extended));
    assert_int_equal(strlen(extended), SIG_UTC_EXTENDED_LEN);
    memcpy(basic, "untouched", 10);
    assert_false(sig_format_utc(0, SIG_UTC_BASIC, basic, sizeof basic - 1)); /* one short */
    assert_string_equal(basic, "untouched");
    assert_false(sig_format_utc(0, SIG_UTC_EXTENDED, extended, sizeof extended - 1));
    assert_false(sig_format_utc(0, SIG_UTC_BASIC, NULL, 64));
}

/* Every day from 1970 to 2500 and a spread of seconds up to 9999, against the
 * C library's gmtime_r. */
static void test_format_utc_matches_gmtime(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int64_t t = 0; t <= SIG_EPOCH_MAX; t += (t < INT64_C(16725225600) ? 86400 - 7 : 86400 * 97 + 13)) {
        for (int k = 0; k < 2; k++) {
            int64_t when = t;
            if (k == 1) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                when = (int64_t)(x % (uint64_t)(SIG_EPOCH_MAX + 1));
            }
            time_t tt = (time_t)when;
            struct tm tm;
            assert_non_null(gmtime_r(&tt, &tm));
            char expected[80], out[32];
            snprintf(expected, sizeof expected, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
            assert_true(sig_format_utc(when, SIG_UTC_EXTENDED, out, sizeof out));
            assert_string_equal(out, expected);
        }
    }
}

/* ---- errors and input checks -------------------------------------------- */

static void test_fail_prefix_and_truncation(void **state)
{
    (void)state;
    char err[64];
    assert_int_equal(sig_fail("acs3", err, sizeof err, "%s is %d", "x", 7), -1);
    assert_string_equal(err, "acs3: x is 7");
    char tiny[4];
    assert_int_equal(sig_fail("sigv4", tiny, sizeof tiny, "method is missing"), -1);
    assert_string_equal(tiny, "sig");
    char exact[7]; /* "acs3: " and the NUL: no room for the reason */
    sig_fail("acs3", exact, sizeof exact, "reason");
    assert_string_equal(exact, "acs3: ");
    char eight[8];
    sig_fail("acs3", eight, sizeof eight, "reason");
    assert_string_equal(eight, "acs3: r");
    assert_int_equal(sig_fail("acs3", NULL, 0, "no buffer"), -1);
    err[0] = 'Z';
    assert_int_equal(sig_fail("acs3", err, 0, "no room"), -1);
    assert_int_equal(err[0], 'Z');
}

static void test_char_classes(void **state)
{
    (void)state;
    for (unsigned c = 0; c < 256; c++) {
        unsigned char u = (unsigned char)c;
        bool upper = c >= 'A' && c <= 'Z', lower = c >= 'a' && c <= 'z', digit = c >= '0' && c <= '9';
        assert_int_equal(sig_is_upper(u), upper);
        assert_int_equal(sig_is_alnum(u), upper || lower || digit);
        assert_int_equal(sig_is_host_char(u), upper || lower || digit || (c != 0 && strchr("-.:[]", (int)c)));
        assert_int_equal(sig_is_printable(u), c >= 0x21 && c <= 0x7e);
        assert_int_equal(sig_is_tchar(u),
                         upper || lower || digit || (c != 0 && strchr("!#$%&'*+-.^_`|~", (int)c)));
        assert_int_equal(sig_is_ws(u), c == ' ' || c == '\t');
    }
    assert_int_equal(sig_bounded_len("abc", 5), 3);
    assert_int_equal(sig_bounded_len("abc", 3), 3);
    assert_int_equal(sig_bounded_len("abcdef", 3), 4); /* max + 1: longer */
    assert_true(sig_all_chars("ABC", 3, sig_is_upper));
    assert_false(sig_all_chars("ABc", 3, sig_is_upper));
    assert_true(sig_all_chars("ABc", 2, sig_is_upper));
    assert_true(sig_all_chars("", 0, sig_is_upper));
}

static void test_check_field(void **state)
{
    (void)state;
    char err[128];
    assert_int_equal(sig_check_field("t", "GET", "method", 3, sig_is_upper, err, sizeof err), 0);
    assert_int_equal(sig_check_field("t", NULL, "method", 3, sig_is_upper, err, sizeof err), -1);
    assert_string_equal(err, "t: method is missing");
    assert_int_equal(sig_check_field("t", "", "method", 3, sig_is_upper, err, sizeof err), -1);
    assert_string_equal(err, "t: method is missing");
    assert_int_equal(sig_check_field("t", "POST", "method", 3, sig_is_upper, err, sizeof err), -1);
    assert_string_equal(err, "t: method is longer than 3 bytes");
    assert_int_equal(sig_check_field("t", "GeT", "method", 3, sig_is_upper, err, sizeof err), -1);
    assert_string_equal(err, "t: method has a character it may not have");
    /* The value is never echoed: it may be a secret. */
    assert_int_equal(sig_check_field("t", "s3cr3t value", "secret", 64, sig_is_printable, err, sizeof err),
                     -1);
    assert_null(strstr(err, "s3cr3t"));
}

static void test_check_segments(void **state)
{
    (void)state;
    static const char *const good[] = {"/", "/a", "/a/", "/a/b", "/.a", "/a./b", "/...", "/a/..b/"};
    static const struct {
        const char *path, *err;
    } bad[] = {
        {"//", "t: path has an empty segment (\"//\")"},
        {"/a//b", "t: path has an empty segment (\"//\")"},
        {"/.", "t: path has a \".\" or \"..\" segment"},
        {"/./", "t: path has a \".\" or \"..\" segment"},
        {"/a/..", "t: path has a \".\" or \"..\" segment"},
        {"/../a", "t: path has a \".\" or \"..\" segment"},
    };
    char err[128];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(sig_check_segments("t", good[i], err, sizeof err), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sig_check_segments("t", bad[i].path, err, sizeof err), -1);
        assert_string_equal(err, bad[i].err);
    }
}

static void test_check_header(void **state)
{
    (void)state;
    char err[128], lname[9];
    size_t vlen = 99;
    /* "X-Fc-Type" is one byte over a max_name of 8. */
    assert_int_equal(sig_check_header("t", 0, "X-Fc-Type", "v", 8, 8, lname, &vlen, err, sizeof err), -1);
    assert_string_equal(err, "t: header 0 has an invalid name");
    assert_int_equal(sig_check_header("t", 0, "X-FcType", "\tAsync ", 8, 8, lname, &vlen, err, sizeof err),
                     0);
    assert_string_equal(lname, "x-fctype");
    assert_int_equal(vlen, 7); /* tabs allowed, nothing trimmed here */
    assert_int_equal(sig_check_header("t", 0, "A", "", 8, 8, lname, &vlen, err, sizeof err), 0);
    assert_int_equal(vlen, 0);

    static const struct {
        const char *name, *value, *err;
    } bad[] = {
        {NULL, "v", "t: header 3 has no name"},
        {"", "v", "t: header 3 has no name"},
        {"X A", "v", "t: header 3 has an invalid name"},
        {"X:A", "v", "t: header 3 has an invalid name"},
        {"X\x80", "v", "t: header 3 has an invalid name"},
        {"X-A", NULL, "t: header 3 has no value"},
        {"X-A", "123456789", "t: header 3 is longer than 8 bytes"},
        {"X-A", "a\r\nb", "t: header 3 has a control character in its value"},
        {"X-A", "a\x7f", "t: header 3 has a control character in its value"},
        {"X-A", "\x01", "t: header 3 has a control character in its value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sig_check_header("t", 3, bad[i].name, bad[i].value, 8, 8, lname, &vlen, err,
                                          sizeof err),
                         -1);
        assert_string_equal(err, bad[i].err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_builds_and_hands_over),
        cmocka_unit_test(test_buf_cap_and_sticky_failure),
        cmocka_unit_test(test_percent_encode_every_byte),
        cmocka_unit_test(test_percent_encode_bounds),
        cmocka_unit_test(test_hex_lower),
        cmocka_unit_test(test_canonical_request),
        cmocka_unit_test(test_sha256_hex),
        cmocka_unit_test(test_hmac_sha256),
        cmocka_unit_test(test_wipe),
        cmocka_unit_test(test_format_utc_known_times),
        cmocka_unit_test(test_format_utc_bounds),
        cmocka_unit_test(test_format_utc_matches_gmtime),
        cmocka_unit_test(test_fail_prefix_and_truncation),
        cmocka_unit_test(test_char_classes),
        cmocka_unit_test(test_check_field),
        cmocka_unit_test(test_check_segments),
        cmocka_unit_test(test_check_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
