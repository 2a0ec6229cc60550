/* acs3.c - Alibaba Cloud signature V3 (ACS3-HMAC-SHA256) for one HTTP request.
 *
 * On Function Compute the webhook request signs its asynchronous
 * self-invocation (InvokeFunction, x-fc-invocation-type: Async) with this;
 * acs3.h has the contract and the header set FC needs.
 *
 * Compared with SigV4 (core/sigv4.c) the method is simpler: no scope, no key
 * derivation (the AccessKey secret is the HMAC key as is), no date in the
 * string to sign (x-acs-date is a signed header instead), the canonical URI is
 * the encoded path as sent, and header values are only trimmed. The
 * percent-encoding is the same RFC 3986 unreserved set with uppercase hex.
 *
 * Everything is built in heap buffers with hard caps. The secret is passed
 * straight to HMAC and not copied. */
#include "core/acs3.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define ALGORITHM "ACS3-HMAC-SHA256"
#define SHA256_LEN 32
#define HEX_LEN (SHA256_LEN * 2)
#define MAX_SECRET 256
#define MAX_KEY_ID 128
#define MAX_ACTION 64
#define MAX_VERSION 32
#define MAX_METHOD 16
#define BUF_MAX ((size_t)4 * 1024 * 1024)
#define EPOCH_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */
/* Caller headers plus host and the seven x-acs-* headers the signer sets. */
#define MAX_CANON_HEADERS (ACS3_MAX_HEADERS + 8)

/* ---- errors ------------------------------------------------------------- */

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        int n = snprintf(err, errlen, "acs3: ");
        if (n > 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

/* ---- a growable string with a hard cap ---------------------------------- */

struct buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed; /* out of memory or over BUF_MAX: every later add is a no-op */
};

static void buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->failed)
        return;
    if (n > BUF_MAX || b->len > BUF_MAX - n) {
        b->failed = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (grown == NULL) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_addc(struct buf *b, char c)
{
    buf_add(b, &c, 1);
}

static void buf_adds(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_free(struct buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* Hands over the string ("" for an empty buffer), or NULL after a failure. */
static char *buf_take(struct buf *b)
{
    if (!b->failed && b->data == NULL)
        buf_add(b, "", 0);
    if (b->failed) {
        buf_free(b);
        return NULL;
    }
    char *s = b->data;
    memset(b, 0, sizeof *b);
    return s;
}

static char *dup_string(const char *s)
{
    struct buf b = {0};
    buf_adds(&b, s);
    return buf_take(&b);
}

/* ---- encoding ----------------------------------------------------------- */

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static const char HEX_UPPER[] = "0123456789ABCDEF";
static const char HEX_LOWER[] = "0123456789abcdef";

static void buf_percent_encode(struct buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c)) {
            buf_addc(b, (char)c);
        } else {
            char esc[3] = {'%', HEX_UPPER[c >> 4], HEX_UPPER[c & 15]};
            buf_add(b, esc, 3);
        }
    }
}

size_t acs3_percent_encode(const char *in, size_t len, char *out, size_t outlen)
{
    if (out == NULL || outlen == 0)
        return (size_t)-1;
    out[0] = '\0';
    if (in == NULL && len > 0)
        return (size_t)-1;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        bool keep = is_unreserved(c);
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

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX_LOWER[in[i] >> 4];
        out[2 * i + 1] = HEX_LOWER[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- crypto (OpenSSL) --------------------------------------------------- */

static bool sha256_hex(const void *data, size_t len, char hex[HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data != NULL ? data : "", len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != SHA256_LEN)
        return false;
    hex_encode(md, SHA256_LEN, hex);
    return true;
}

static bool hmac_sha256_hex(const char *key, const char *msg, char hex[HEX_LEN + 1])
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int outlen = 0;
    size_t keylen = strlen(key);
    assert(keylen <= MAX_SECRET);
    bool ok = HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out,
                   &outlen) != NULL &&
              outlen == SHA256_LEN;
    if (ok)
        hex_encode(out, SHA256_LEN, hex);
    OPENSSL_cleanse(out, sizeof out);
    return ok;
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

/* ISO 8601 in UTC, as x-acs-date wants it: "2023-10-26T10:22:32Z". */
static bool format_acs_date(int64_t t, char out[21])
{
    if (t < 0 || t > EPOCH_MAX)
        return false;
    int64_t days = t / 86400, secs = t % 86400, year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    int n = snprintf(out, 21, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)year, month, day,
                     (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    return n == 20;
}

/* ---- input checks ------------------------------------------------------- */

static size_t bounded_len(const char *s, size_t max)
{
    return strnlen(s, max + 1);
}

static bool all_chars(const char *s, size_t n, bool (*ok)(unsigned char))
{
    for (size_t i = 0; i < n; i++)
        if (!ok((unsigned char)s[i]))
            return false;
    return true;
}

static bool is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_alnum(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_key_id_char(unsigned char c) /* STS key ids look like "STS.NTxxxx" */
{
    return is_alnum(c) || c == '.';
}

static bool is_version_char(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '.';
}

static bool is_nonce_char(unsigned char c)
{
    return is_alnum(c) || c == '-';
}

static bool is_host_char(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '.' || c == ':' || c == '[' || c == ']';
}

static bool is_printable(unsigned char c) /* credentials: visible ASCII */
{
    return c > 0x20 && c < 0x7f;
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static int check_field(const char *s, const char *what, size_t max, bool (*ok)(unsigned char),
                       char *err, size_t errlen)
{
    if (s == NULL || s[0] == '\0')
        return fail(err, errlen, "%s is missing", what);
    size_t n = bounded_len(s, max);
    if (n > max)
        return fail(err, errlen, "%s is longer than %zu bytes", what, max);
    if (!all_chars(s, n, ok))
        return fail(err, errlen, "%s has a character it may not have", what);
    return 0;
}

/* ---- canonical URI: the encoded path, checked --------------------------- */

static int check_path(const char *path, char *err, size_t errlen)
{
    if (path == NULL || path[0] != '/')
        return fail(err, errlen, "path must start with '/'");
    size_t n = bounded_len(path, ACS3_MAX_PATH);
    if (n > ACS3_MAX_PATH)
        return fail(err, errlen, "path is longer than %d bytes", ACS3_MAX_PATH);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c == '%') {
            if (i + 2 >= n || !is_hex((unsigned char)path[i + 1]) || !is_hex((unsigned char)path[i + 2]))
                return fail(err, errlen, "path has a '%%' that is not %%XX with uppercase hex");
            i += 2;
        } else if (!is_unreserved(c) && c != '/') {
            return fail(err, errlen, "path is not percent-encoded (build segments with acs3_percent_encode)");
        }
    }
    const char *seg = path + 1;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if (slash != NULL && len == 0)
            return fail(err, errlen, "path has an empty segment (\"//\")");
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return fail(err, errlen, "path has a \".\" or \"..\" segment");
        if (slash == NULL)
            break;
        seg = slash + 1;
    }
    return 0;
}

/* ---- canonical query ---------------------------------------------------- */

struct raw_param {
    const char *name;
    const char *value;
};

static int compare_params(const void *a, const void *b)
{
    const struct raw_param *pa = a, *pb = b;
    return strcmp(pa->name, pb->name);
}

static int canonical_query(const struct acs3_param *params, size_t n, struct buf *out, char *err,
                           size_t errlen)
{
    if (n == 0)
        return 0;
    if (params == NULL)
        return fail(err, errlen, "params is NULL but n_params is %zu", n);
    if (n > ACS3_MAX_PARAMS)
        return fail(err, errlen, "more than %d query parameters", ACS3_MAX_PARAMS);
    struct raw_param sorted[ACS3_MAX_PARAMS];
    for (size_t i = 0; i < n; i++) {
        const char *name = params[i].name, *value = params[i].value ? params[i].value : "";
        if (name == NULL || name[0] == '\0')
            return fail(err, errlen, "query parameter %zu has no name", i);
        if (bounded_len(name, ACS3_MAX_PARAM_LEN) > ACS3_MAX_PARAM_LEN ||
            bounded_len(value, ACS3_MAX_PARAM_LEN) > ACS3_MAX_PARAM_LEN)
            return fail(err, errlen, "query parameter %zu is longer than %d bytes", i, ACS3_MAX_PARAM_LEN);
        sorted[i] = (struct raw_param){name, value};
    }
    /* Sorted by the unencoded name, byte order (= code point order for
     * UTF-8), as the V3 document and its SDKs do. */
    qsort(sorted, n, sizeof sorted[0], compare_params);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(sorted[i - 1].name, sorted[i].name) == 0)
            return fail(err, errlen, "query parameter name repeated (lists are Name.1, Name.2, ...)");
        if (i > 0)
            buf_addc(out, '&');
        buf_percent_encode(out, sorted[i].name, strlen(sorted[i].name));
        buf_addc(out, '=');
        buf_percent_encode(out, sorted[i].value, strlen(sorted[i].value));
    }
    return 0;
}

/* ---- canonical headers -------------------------------------------------- */

struct canon_header {
    char name[ACS3_MAX_HEADER_NAME + 1]; /* lowercase */
    const char *value;                   /* trimmed: value[0..len) */
    size_t len;
};

struct canon_headers {
    struct canon_header h[MAX_CANON_HEADERS];
    size_t n;
};

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static void headers_add(struct canon_headers *hs, const char *lname, const char *value, size_t vlen)
{
    while (vlen > 0 && is_ws((unsigned char)value[0])) {
        value++;
        vlen--;
    }
    while (vlen > 0 && is_ws((unsigned char)value[vlen - 1]))
        vlen--;
    assert(hs->n < MAX_CANON_HEADERS);
    assert(strlen(lname) <= ACS3_MAX_HEADER_NAME);
    struct canon_header *h = &hs->h[hs->n++];
    strcpy(h->name, lname);
    h->value = value;
    h->len = vlen;
}

static int compare_headers(const void *a, const void *b)
{
    return strcmp(((const struct canon_header *)a)->name, ((const struct canon_header *)b)->name);
}

static const char *const SIGNER_HEADERS[] = {
    "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256",
    "x-acs-accesskey-id", "x-acs-security-token",
};

static bool is_tchar(unsigned char c) /* RFC 9110 token */
{
    return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int add_caller_headers(struct canon_headers *hs, const struct acs3_header *headers, size_t n,
                              char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    if (headers == NULL)
        return fail(err, errlen, "headers is NULL but n_headers is %zu", n);
    if (n > ACS3_MAX_HEADERS)
        return fail(err, errlen, "more than %d headers to sign", ACS3_MAX_HEADERS);
    for (size_t i = 0; i < n; i++) {
        const char *name = headers[i].name, *value = headers[i].value;
        if (name == NULL || name[0] == '\0')
            return fail(err, errlen, "header %zu has no name", i);
        size_t nl = bounded_len(name, ACS3_MAX_HEADER_NAME);
        if (nl > ACS3_MAX_HEADER_NAME || !all_chars(name, nl, is_tchar))
            return fail(err, errlen, "header %zu has an invalid name", i);
        if (value == NULL)
            return fail(err, errlen, "header %zu has no value", i);
        size_t vl = bounded_len(value, ACS3_MAX_HEADER_VALUE);
        if (vl > ACS3_MAX_HEADER_VALUE)
            return fail(err, errlen, "header %zu is longer than %d bytes", i, ACS3_MAX_HEADER_VALUE);
        for (size_t j = 0; j < vl; j++) {
            unsigned char c = (unsigned char)value[j];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return fail(err, errlen, "header %zu has a control character in its value", i);
        }
        char lname[ACS3_MAX_HEADER_NAME + 1];
        for (size_t j = 0; j < nl; j++)
            lname[j] = (name[j] >= 'A' && name[j] <= 'Z') ? (char)(name[j] - 'A' + 'a') : name[j];
        lname[nl] = '\0';
        if (strcmp(lname, "host") == 0 || strcmp(lname, "authorization") == 0)
            return fail(err, errlen, "header %zu (%s) is set by the signer", i, lname);
        for (size_t j = 0; j < sizeof SIGNER_HEADERS / sizeof SIGNER_HEADERS[0]; j++)
            if (strcmp(lname, SIGNER_HEADERS[j]) == 0)
                return fail(err, errlen, "header %zu (%s) is set by the signer", i, SIGNER_HEADERS[j]);
        for (size_t j = 0; j < hs->n; j++)
            if (strcmp(hs->h[j].name, lname) == 0)
                return fail(err, errlen, "header %zu (%s) is repeated", i, lname);
        headers_add(hs, lname, value, vl);
    }
    return 0;
}

/* ---- the signature ------------------------------------------------------ */

static int check_request(const struct acs3_request *req, char *err, size_t errlen)
{
    if (check_field(req->method, "method", MAX_METHOD, is_upper, err, errlen) != 0 ||
        check_field(req->host, "host", ACS3_MAX_HOST, is_host_char, err, errlen) != 0 ||
        check_field(req->action, "action", MAX_ACTION, is_alnum, err, errlen) != 0 ||
        check_field(req->version, "version", MAX_VERSION, is_version_char, err, errlen) != 0 ||
        check_field(req->access_key_id, "access_key_id", MAX_KEY_ID, is_key_id_char, err, errlen) != 0 ||
        check_field(req->access_key_secret, "access_key_secret", MAX_SECRET, is_printable, err,
                    errlen) != 0 ||
        check_field(req->nonce, "nonce", ACS3_MAX_NONCE, is_nonce_char, err, errlen) != 0)
        return -1;
    if (strlen(req->nonce) < ACS3_MIN_NONCE)
        return fail(err, errlen, "nonce is shorter than %d characters", ACS3_MIN_NONCE);
    if (req->security_token != NULL && req->security_token[0] != '\0' &&
        check_field(req->security_token, "security_token", ACS3_MAX_TOKEN, is_printable, err, errlen) != 0)
        return -1;
    if (req->payload == NULL && req->payload_len > 0)
        return fail(err, errlen, "payload is NULL but payload_len is %zu", req->payload_len);
    if (req->payload_len > ACS3_MAX_PAYLOAD)
        return fail(err, errlen, "payload is larger than %zu bytes", ACS3_MAX_PAYLOAD);
    if (req->now_epoch_s < 0 || req->now_epoch_s > EPOCH_MAX)
        return fail(err, errlen, "now_epoch_s is out of range");
    return check_path(req->path, err, errlen);
}

int acs3_sign(const struct acs3_request *req, struct acs3_result *out, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (out == NULL)
        return fail(err, errlen, "no result to fill");
    memset(out, 0, sizeof *out);
    if (req == NULL)
        return fail(err, errlen, "no request");
    if (check_request(req, err, errlen) != 0)
        return -1;

    bool has_token = req->security_token != NULL && req->security_token[0] != '\0';
    char date[21], payload_hash[HEX_LEN + 1];
    if (!format_acs_date(req->now_epoch_s, date))
        return fail(err, errlen, "now_epoch_s is out of range");
    if (!sha256_hex(req->payload, req->payload_len, payload_hash))
        return fail(err, errlen, "SHA-256 failed");

    int rc = -1;
    struct buf query = {0}, signed_headers = {0}, creq = {0}, sts = {0}, auth = {0};
    struct canon_headers *hs = calloc(1, sizeof *hs);
    if (hs == NULL) {
        fail(err, errlen, "out of memory");
        goto done;
    }
    if (canonical_query(req->params, req->n_params, &query, err, errlen) != 0 ||
        add_caller_headers(hs, req->headers, req->n_headers, err, errlen) != 0)
        goto done;
    headers_add(hs, "host", req->host, strlen(req->host));
    headers_add(hs, "x-acs-action", req->action, strlen(req->action));
    headers_add(hs, "x-acs-version", req->version, strlen(req->version));
    headers_add(hs, "x-acs-date", date, strlen(date));
    headers_add(hs, "x-acs-signature-nonce", req->nonce, strlen(req->nonce));
    headers_add(hs, "x-acs-content-sha256", payload_hash, HEX_LEN);
    if (has_token) { /* as Alibaba's SDKs send STS credentials */
        headers_add(hs, "x-acs-accesskey-id", req->access_key_id, strlen(req->access_key_id));
        headers_add(hs, "x-acs-security-token", req->security_token, strlen(req->security_token));
    }
    qsort(hs->h, hs->n, sizeof hs->h[0], compare_headers);

    /* Canonical request. */
    buf_adds(&creq, req->method);
    buf_addc(&creq, '\n');
    buf_adds(&creq, req->path);
    buf_addc(&creq, '\n');
    buf_add(&creq, query.data, query.len);
    buf_addc(&creq, '\n');
    for (size_t i = 0; i < hs->n; i++) {
        buf_adds(&creq, hs->h[i].name);
        buf_addc(&creq, ':');
        buf_add(&creq, hs->h[i].value, hs->h[i].len);
        buf_addc(&creq, '\n');
        if (i > 0)
            buf_addc(&signed_headers, ';');
        buf_adds(&signed_headers, hs->h[i].name);
    }
    buf_addc(&creq, '\n');
    buf_add(&creq, signed_headers.data, signed_headers.len);
    buf_addc(&creq, '\n');
    buf_adds(&creq, payload_hash);
    if (creq.failed || signed_headers.failed || query.failed) {
        fail(err, errlen, "out of memory");
        goto done;
    }

    /* String to sign, and the signature. */
    char creq_hash[HEX_LEN + 1];
    if (!sha256_hex(creq.data, creq.len, creq_hash)) {
        fail(err, errlen, "SHA-256 failed");
        goto done;
    }
    buf_adds(&sts, ALGORITHM "\n");
    buf_adds(&sts, creq_hash);
    if (sts.failed) {
        fail(err, errlen, "out of memory");
        goto done;
    }
    if (!hmac_sha256_hex(req->access_key_secret, sts.data, out->signature)) {
        fail(err, errlen, "HMAC-SHA256 failed");
        goto done;
    }

    buf_adds(&auth, ALGORITHM " Credential=");
    buf_adds(&auth, req->access_key_id);
    buf_adds(&auth, ",SignedHeaders=");
    buf_add(&auth, signed_headers.data, signed_headers.len);
    buf_adds(&auth, ",Signature=");
    buf_adds(&auth, out->signature);

    out->headers[out->n_headers++] = (struct acs3_out_header){"Authorization", buf_take(&auth)};
    out->headers[out->n_headers++] = (struct acs3_out_header){"x-acs-action", dup_string(req->action)};
    out->headers[out->n_headers++] = (struct acs3_out_header){"x-acs-version", dup_string(req->version)};
    out->headers[out->n_headers++] = (struct acs3_out_header){"x-acs-date", dup_string(date)};
    out->headers[out->n_headers++] = (struct acs3_out_header){"x-acs-signature-nonce", dup_string(req->nonce)};
    out->headers[out->n_headers++] = (struct acs3_out_header){"x-acs-content-sha256", dup_string(payload_hash)};
    if (has_token) {
        out->headers[out->n_headers++] =
            (struct acs3_out_header){"x-acs-accesskey-id", dup_string(req->access_key_id)};
        out->headers[out->n_headers++] =
            (struct acs3_out_header){"x-acs-security-token", dup_string(req->security_token)};
    }
    assert(out->n_headers <= ACS3_MAX_OUT_HEADERS);
    out->canonical_query = buf_take(&query);
    out->canonical_request = buf_take(&creq);
    out->string_to_sign = buf_take(&sts);
    out->signed_headers = buf_take(&signed_headers);

    bool complete = out->canonical_query && out->canonical_request && out->string_to_sign &&
                    out->signed_headers;
    for (size_t i = 0; i < out->n_headers; i++)
        complete = complete && out->headers[i].value != NULL;
    if (!complete) {
        fail(err, errlen, "out of memory");
        goto done;
    }
    rc = 0;

done:
    free(hs);
    buf_free(&query);
    buf_free(&signed_headers);
    buf_free(&creq);
    buf_free(&sts);
    buf_free(&auth);
    if (rc != 0)
        acs3_result_free(out);
    return rc;
}

void acs3_result_free(struct acs3_result *out)
{
    if (out == NULL)
        return;
    for (size_t i = 0; i < out->n_headers && i < ACS3_MAX_OUT_HEADERS; i++)
        free(out->headers[i].value);
    free(out->canonical_query);
    free(out->canonical_request);
    free(out->string_to_sign);
    free(out->signed_headers);
    memset(out, 0, sizeof *out);
}
