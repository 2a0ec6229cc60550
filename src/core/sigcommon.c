/* sigcommon.c - building blocks shared by the request signers (see sigcommon.h).
 *
 * Moved here from sigv4.c and acs3.c, where they were written twice, without
 * a change in behaviour: the signers' published vectors and hostile-input
 * tests pin it, and tests/unit/test_sigcommon.c covers the edges. */
#include "core/sigcommon.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* ---- errors ------------------------------------------------------------- */

int sig_fail(const char *signer, char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        int n = snprintf(err, errlen, "%s: ", signer);
        if (n > 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

/* ---- a string builder with a hard cap ---------------------------------- */

void sig_buf_add(struct sig_buf *b, const void *p, size_t n)
{
    if (!b->failed && buf_add(&b->buf, p, n) != 0)
        b->failed = true;
}

void sig_buf_addc(struct sig_buf *b, char c)
{
    sig_buf_add(b, &c, 1);
}

void sig_buf_adds(struct sig_buf *b, const char *s)
{
    sig_buf_add(b, s, strlen(s));
}

void sig_buf_free(struct sig_buf *b)
{
    buf_free(&b->buf);
    b->failed = false;
}

char *sig_buf_take(struct sig_buf *b)
{
    if (b->failed) {
        sig_buf_free(b);
        return NULL;
    }
    return buf_take(&b->buf, NULL);
}

/* ---- encoding ----------------------------------------------------------- */

static const char HEX_UPPER[] = "0123456789ABCDEF";
static const char HEX_LOWER[] = "0123456789abcdef";

bool sig_is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static bool kept(unsigned char c, bool keep_slash)
{
    return sig_is_unreserved(c) || (keep_slash && c == '/');
}

void sig_buf_percent_encode(struct sig_buf *b, const char *s, size_t n, bool keep_slash)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (kept(c, keep_slash)) {
            sig_buf_addc(b, (char)c);
        } else {
            char esc[3] = {'%', HEX_UPPER[c >> 4], HEX_UPPER[c & 15]};
            sig_buf_add(b, esc, 3);
        }
    }
}

size_t sig_percent_encode(const char *in, size_t len, bool keep_slash, char *out, size_t outlen)
{
    if (out == NULL || outlen == 0)
        return (size_t)-1;
    out[0] = '\0';
    if (in == NULL && len > 0)
        return (size_t)-1;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        bool keep = kept(c, keep_slash);
        size_t need = keep ? 1 : 3;
        if (outlen - n <= need) { /* room for these and the NUL */
            out[0] = '\0';
            return (size_t)-1;
        }
        if (keep) {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = HEX_UPPER[c >> 4];
            out[n++] = HEX_UPPER[c & 15];
        }
    }
    out[n] = '\0';
    return n;
}

void sig_hex_lower(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX_LOWER[in[i] >> 4];
        out[2 * i + 1] = HEX_LOWER[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- the canonical request -------------------------------------------- */

static int compare_headers(const void *a, const void *b)
{
    return strcmp(((const struct sig_header *)a)->name, ((const struct sig_header *)b)->name);
}

void sig_canonical_request(const char *method, const char *uri, const char *query,
                           struct sig_header *headers, size_t n_headers, const char *payload_hash,
                           struct sig_buf *creq, struct sig_buf *signed_headers)
{
    qsort(headers, n_headers, sizeof headers[0], compare_headers);
    sig_buf_adds(creq, method);
    sig_buf_addc(creq, '\n');
    sig_buf_adds(creq, uri != NULL ? uri : "");
    sig_buf_addc(creq, '\n');
    sig_buf_adds(creq, query != NULL ? query : "");
    sig_buf_addc(creq, '\n');
    for (size_t i = 0; i < n_headers; i++) {
        sig_buf_adds(creq, headers[i].name);
        sig_buf_addc(creq, ':');
        sig_buf_add(creq, headers[i].value, headers[i].value_len);
        sig_buf_addc(creq, '\n');
        if (i > 0)
            sig_buf_addc(signed_headers, ';');
        sig_buf_adds(signed_headers, headers[i].name);
    }
    sig_buf_addc(creq, '\n');
    sig_buf_add(creq, signed_headers->buf.data, signed_headers->buf.len);
    sig_buf_addc(creq, '\n');
    sig_buf_adds(creq, payload_hash);
}

/* ---- crypto (OpenSSL) --------------------------------------------------- */

bool sig_sha256_hex(const void *data, size_t len, char hex[SIG_SHA256_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data != NULL ? data : "", len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != SIG_SHA256_LEN)
        return false;
    sig_hex_lower(md, SIG_SHA256_LEN, hex);
    return true;
}

bool sig_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                     unsigned char out[SIG_SHA256_LEN])
{
    unsigned int outlen = 0;
    if (keylen > (size_t)INT32_MAX)
        return false;
    if (HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &outlen) == NULL ||
        outlen != SIG_SHA256_LEN)
        return false;
    return true;
}

void sig_wipe(void *p, size_t n)
{
    OPENSSL_cleanse(p, n);
}

/* ---- time --------------------------------------------------------------- */

/* Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
 * civil_from_days). Pure integer arithmetic: no time zone, no locale. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

bool sig_format_utc(int64_t epoch_s, enum sig_utc_style style, char *out, size_t outlen)
{
    size_t want = style == SIG_UTC_BASIC ? SIG_UTC_BASIC_LEN : SIG_UTC_EXTENDED_LEN;
    if (epoch_s < 0 || epoch_s > SIG_EPOCH_MAX || out == NULL || outlen < want + 1)
        return false;
    int64_t days = epoch_s / 86400, secs = epoch_s % 86400, year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    int hour = (int)(secs / 3600), minute = (int)(secs / 60 % 60), second = (int)(secs % 60);
    int n;
    if (style == SIG_UTC_BASIC)
        n = snprintf(out, outlen, "%04d%02u%02uT%02d%02d%02dZ", (int)year, month, day, hour, minute,
                     second);
    else
        n = snprintf(out, outlen, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)year, month, day, hour,
                     minute, second);
    assert(n == (int)want); /* years 1970..9999 are four digits */
    return n == (int)want;
}

/* ---- input checks ------------------------------------------------------- */

size_t sig_bounded_len(const char *s, size_t max)
{
    return strnlen(s, max + 1);
}

bool sig_all_chars(const char *s, size_t n, bool (*ok)(unsigned char))
{
    for (size_t i = 0; i < n; i++)
        if (!ok((unsigned char)s[i]))
            return false;
    return true;
}

bool sig_is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

bool sig_is_alnum(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool sig_is_host_char(unsigned char c)
{
    return sig_is_alnum(c) || c == '-' || c == '.' || c == ':' || c == '[' || c == ']';
}

bool sig_is_printable(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

bool sig_is_tchar(unsigned char c)
{
    return sig_is_alnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool sig_is_ws(unsigned char c)
{
    return c == ' ' || c == '\t';
}

int sig_check_field(const char *signer, const char *s, const char *what, size_t max,
                    bool (*ok)(unsigned char), char *err, size_t errlen)
{
    if (s == NULL || s[0] == '\0')
        return sig_fail(signer, err, errlen, "%s is missing", what);
    size_t n = sig_bounded_len(s, max);
    if (n > max)
        return sig_fail(signer, err, errlen, "%s is longer than %zu bytes", what, max);
    if (!sig_all_chars(s, n, ok))
        return sig_fail(signer, err, errlen, "%s has a character it may not have", what);
    return 0;
}

int sig_check_segments(const char *signer, const char *path, char *err, size_t errlen)
{
    assert(path != NULL && path[0] == '/');
    const char *seg = path + 1;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if (slash != NULL && len == 0)
            return sig_fail(signer, err, errlen, "path has an empty segment (\"//\")");
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return sig_fail(signer, err, errlen, "path has a \".\" or \"..\" segment");
        if (slash == NULL)
            return 0;
        seg = slash + 1;
    }
}

int sig_check_header(const char *signer, size_t i, const char *name, const char *value,
                     size_t max_name, size_t max_value, char *lname, size_t *value_len, char *err,
                     size_t errlen)
{
    if (name == NULL || name[0] == '\0')
        return sig_fail(signer, err, errlen, "header %zu has no name", i);
    size_t nl = sig_bounded_len(name, max_name);
    if (nl > max_name || !sig_all_chars(name, nl, sig_is_tchar))
        return sig_fail(signer, err, errlen, "header %zu has an invalid name", i);
    if (value == NULL)
        return sig_fail(signer, err, errlen, "header %zu has no value", i);
    size_t vl = sig_bounded_len(value, max_value);
    if (vl > max_value)
        return sig_fail(signer, err, errlen, "header %zu is longer than %zu bytes", i, max_value);
    for (size_t j = 0; j < vl; j++) {
        unsigned char c = (unsigned char)value[j];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return sig_fail(signer, err, errlen, "header %zu has a control character in its value", i);
    }
    for (size_t j = 0; j < nl; j++)
        lname[j] = (name[j] >= 'A' && name[j] <= 'Z') ? (char)(name[j] - 'A' + 'a') : name[j];
    lname[nl] = '\0';
    *value_len = vl;
    return 0;
}
