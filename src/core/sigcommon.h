/* sigcommon.h - building blocks shared by the request signers.
 *
 * core/sigv4.c (AWS SigV4) and core/acs3.c (Alibaba ACS3-HMAC-SHA256) build a
 * canonical request out of the same parts: a string builder with a hard cap,
 * RFC 3986 percent-encoding, lowercase hex, SHA-256 and HMAC-SHA256, a UTC
 * timestamp, and the same checks on hostile input. They live here, once.
 * What differs between the two methods (which headers are signed, how values
 * are trimmed, how the path is canonicalized, the key derivation) stays in
 * each signer.
 *
 * Pure like the signers: no clock, no environment, no I/O. Internal to the
 * signers; the contracts callers rely on are sigv4.h and acs3.h.
 *
 * Errors: the checks below that can fail write "<signer>: <reason>" into
 * err (truncated to errlen, never overrun; err may be NULL) and return -1,
 * so a signer passes its own name ("sigv4", "acs3") and its caller's buffer
 * straight through. Reasons name fields, never their values. */
#ifndef LINEBOT_SIGCOMMON_H
#define LINEBOT_SIGCOMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define SIG_SHA256_LEN 32
#define SIG_SHA256_HEX_LEN (SIG_SHA256_LEN * 2)
/* The most a struct sig_buf holds; no canonical string comes near it. */
#define SIG_BUF_MAX ((size_t)4 * 1024 * 1024)
/* The last second sig_format_utc accepts: 9999-12-31T23:59:59Z. */
#define SIG_EPOCH_MAX INT64_C(253402300799)

/* ---- errors ------------------------------------------------------------- */

/* Writes "<signer>: " and the formatted reason into err (when err is not NULL
 * and errlen > 0), truncating as snprintf does. Always returns -1, so a check
 * can end with `return sig_fail(...)`. */
int sig_fail(const char *signer, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- a string builder with a hard cap ---------------------------------- */

/* A struct buf (core/buf.h) capped at SIG_BUF_MAX, whose first refused append
 * sticks: once an add would pass the cap, `failed` is set and every later add
 * is a no-op, so a signer builds a whole string and checks `failed` once at
 * the end. Memory comes from xrealloc: running out aborts (core/alloc.h), so
 * the cap is the only failure. Start with SIG_BUF_INIT. The text is
 * buf.data[0, buf.len), NUL-terminated once anything was added. */
struct sig_buf {
    struct buf buf;
    bool failed;
};
/* An empty builder: the same as buf_init(&b.buf, SIG_BUF_MAX), failed false. */
#define SIG_BUF_INIT {.buf = {.data = NULL, .len = 0, .cap = 0, .max = SIG_BUF_MAX}, .failed = false}

void sig_buf_add(struct sig_buf *b, const void *p, size_t n);
void sig_buf_addc(struct sig_buf *b, char c);
void sig_buf_adds(struct sig_buf *b, const char *s);
/* Frees the contents and leaves b empty and not failed, ready for reuse. */
void sig_buf_free(struct sig_buf *b);
/* Hands over the string ("" for a buffer never added to) and leaves b empty;
 * after a failure, frees it, clears `failed` and returns NULL. The caller
 * frees the string. */
char *sig_buf_take(struct sig_buf *b);

/* ---- encoding ----------------------------------------------------------- */

/* RFC 3986 unreserved: A-Z a-z 0-9 - _ . ~ */
bool sig_is_unreserved(unsigned char c);

/* Appends n bytes of s percent-encoded: unreserved bytes kept, '/' kept when
 * keep_slash, every other byte as %XX with uppercase hex. */
void sig_buf_percent_encode(struct sig_buf *b, const char *s, size_t n, bool keep_slash);

/* The same into a caller's buffer: writes a NUL-terminated string and returns
 * its length, or returns (size_t)-1 and writes "" (when outlen > 0) if it
 * does not fit, or if in is NULL with len > 0, or out is NULL. */
size_t sig_percent_encode(const char *in, size_t len, bool keep_slash, char *out, size_t outlen);

/* n bytes as 2n lowercase hex digits and a NUL: out holds 2n + 1. */
void sig_hex_lower(const unsigned char *in, size_t n, char *out);

/* ---- the canonical request -------------------------------------------- */

/* A header as it is signed: lowercase name, value already canonical (each
 * method trims its own way). */
struct sig_header {
    const char *name;
    const char *value; /* value[0..value_len) */
    size_t value_len;
};

/* Sorts `headers` by name (byte order; names must be unique) and appends the
 * canonical request both methods define,
 *
 *   method \n uri \n query \n name:value \n ... \n signed_headers \n payload_hash
 *
 * to creq, and the signed header list ("host;x-amz-date") to signed_headers.
 * uri and query are already canonical; NULL stands for "". Check `failed` on
 * both buffers afterwards. */
void sig_canonical_request(const char *method, const char *uri, const char *query,
                           struct sig_header *headers, size_t n_headers, const char *payload_hash,
                           struct sig_buf *creq, struct sig_buf *signed_headers);

/* ---- crypto (OpenSSL) --------------------------------------------------- */

/* hex(SHA-256(data[0..len))); data may be NULL when len is 0. */
bool sig_sha256_hex(const void *data, size_t len, char hex[SIG_SHA256_HEX_LEN + 1]);

/* HMAC-SHA256(key, msg) into out. False on failure, or for a key longer than
 * INT32_MAX bytes. */
bool sig_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                     unsigned char out[SIG_SHA256_LEN]);

/* Zeroes n bytes in a way the compiler does not optimize away: for keys and
 * anything derived from a secret. */
void sig_wipe(void *p, size_t n);

/* ---- time --------------------------------------------------------------- */

enum sig_utc_style {
    SIG_UTC_BASIC,    /* "20150830T123600Z": x-amz-date (ISO 8601 basic) */
    SIG_UTC_EXTENDED, /* "2023-10-26T10:22:32Z": x-acs-date (ISO 8601 extended) */
};
#define SIG_UTC_BASIC_LEN 16
#define SIG_UTC_EXTENDED_LEN 20

/* Formats epoch_s (Unix seconds, UTC, proleptic Gregorian) in `style` into out
 * with a NUL. False, with out untouched, when epoch_s is outside
 * 0..SIG_EPOCH_MAX or out is shorter than the style's length + 1. */
bool sig_format_utc(int64_t epoch_s, enum sig_utc_style style, char *out, size_t outlen);

/* ---- input checks ------------------------------------------------------- */

/* strlen bounded by max: returns max + 1 when s is longer. */
size_t sig_bounded_len(const char *s, size_t max);
/* Whether ok() holds for each of the n bytes of s. */
bool sig_all_chars(const char *s, size_t n, bool (*ok)(unsigned char));

/* Character classes, for sig_all_chars and sig_check_field. */
bool sig_is_upper(unsigned char c);     /* A-Z: methods */
bool sig_is_alnum(unsigned char c);     /* A-Z a-z 0-9 */
bool sig_is_host_char(unsigned char c); /* alnum - . : [ ] */
bool sig_is_printable(unsigned char c); /* visible ASCII, no space: credentials */
bool sig_is_tchar(unsigned char c);     /* RFC 9110 token: header names */
bool sig_is_ws(unsigned char c);        /* space or tab */

/* A required string field: present, non-empty, at most max bytes, every byte
 * ok. 0, or -1 with a reason naming `what`. */
int sig_check_field(const char *signer, const char *s, const char *what, size_t max,
                    bool (*ok)(unsigned char), char *err, size_t errlen);

/* The segments of a path that starts with '/': no empty segment but the last
 * ("//") and no "." or ".." segment, so the path signed is the path sent and
 * no server normalizes it into another. 0, or -1 with a reason. */
int sig_check_segments(const char *signer, const char *path, char *err, size_t errlen);

/* Caller header number i: a token name of at most max_name bytes and a value
 * of at most max_value bytes without control characters (tab allowed). On
 * success writes the lowercased name into lname (max_name + 1 bytes), sets
 * *value_len and returns 0; otherwise -1 with a reason. Which names are
 * reserved for the signer is the signer's to check. */
int sig_check_header(const char *signer, size_t i, const char *name, const char *value,
                     size_t max_name, size_t max_value, char *lname, size_t *value_len, char *err,
                     size_t errlen);

#endif
