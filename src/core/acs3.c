/* acs3.c - Alibaba Cloud signature V3 (ACS3-HMAC-SHA256) for one HTTP request.
 *
 * On Function Compute the webhook request signs its asynchronous
 * self-invocation (InvokeFunction; x-fc-invocation-type: Async goes unsigned,
 * as with Alibaba's SDK) with this;
 * acs3.h has the contract and the header set FC needs.
 *
 * Compared with SigV4 (core/sigv4.c) the method is simpler: no scope, no key
 * derivation (the AccessKey secret is the HMAC key as is), no date in the
 * string to sign (x-acs-date is a signed header instead), the canonical URI is
 * the encoded path as sent, and header values are only trimmed. The
 * percent-encoding is the same RFC 3986 unreserved set with uppercase hex.
 *
 * Everything is built in heap buffers with hard caps (core/sigcommon.h has
 * the builder, the encoding, the hashes and the input checks this shares with
 * sigv4.c). The secret is passed straight to HMAC and not copied. */
#include "core/acs3.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/sigcommon.h"

#define SIGNER "acs3"
#define ALGORITHM "ACS3-HMAC-SHA256"
#define HEX_LEN SIG_SHA256_HEX_LEN
#define MAX_SECRET 256
#define MAX_KEY_ID 128
#define MAX_ACTION 64
#define MAX_VERSION 32
#define MAX_METHOD 16
/* Caller headers plus host and the seven x-acs-* headers the signer sets. */
#define MAX_CANON_HEADERS (ACS3_MAX_HEADERS + 8)

/* Every error message starts "acs3: ". */
#define fail(err, errlen, ...) sig_fail(SIGNER, err, errlen, __VA_ARGS__)

/* ---- encoding and crypto ------------------------------------------------ */

size_t acs3_percent_encode(const char *in, size_t len, char *out, size_t outlen)
{
    return sig_percent_encode(in, len, false, out, outlen); /* '/' too: the V3 rules */
}

/* hex(HMAC-SHA256(secret, msg)): V3 uses the AccessKey secret as the key as is. */
static bool hmac_sha256_hex(const char *key, const char *msg, char hex[HEX_LEN + 1])
{
    unsigned char out[SIG_SHA256_LEN];
    size_t keylen = strlen(key);
    assert(keylen <= MAX_SECRET);
    bool ok = sig_hmac_sha256(key, keylen, msg, strlen(msg), out);
    if (ok)
        sig_hex_lower(out, SIG_SHA256_LEN, hex);
    sig_wipe(out, sizeof out);
    return ok;
}

/* ---- input checks ------------------------------------------------------- */

static bool is_key_id_char(unsigned char c) /* STS key ids look like "STS.NTxxxx" */
{
    return sig_is_alnum(c) || c == '.';
}

static bool is_version_char(unsigned char c)
{
    return sig_is_alnum(c) || c == '-' || c == '.';
}

static bool is_nonce_char(unsigned char c)
{
    return sig_is_alnum(c) || c == '-';
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* ---- canonical URI: the encoded path, checked --------------------------- */

static int check_path(const char *path, char *err, size_t errlen)
{
    if (path == NULL || path[0] != '/')
        return fail(err, errlen, "path must start with '/'");
    size_t n = sig_bounded_len(path, ACS3_MAX_PATH);
    if (n > ACS3_MAX_PATH)
        return fail(err, errlen, "path is longer than %d bytes", ACS3_MAX_PATH);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c == '%') {
            if (i + 2 >= n || !is_hex((unsigned char)path[i + 1]) || !is_hex((unsigned char)path[i + 2]))
                return fail(err, errlen, "path has a '%%' that is not %%XX with uppercase hex");
            i += 2;
        } else if (!sig_is_unreserved(c) && c != '/') {
            return fail(err, errlen, "path is not percent-encoded (build segments with acs3_percent_encode)");
        }
    }
    return sig_check_segments(SIGNER, path, err, errlen);
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

static int canonical_query(const struct acs3_param *params, size_t n, struct sig_buf *out,
                           char *err, size_t errlen)
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
        if (sig_bounded_len(name, ACS3_MAX_PARAM_LEN) > ACS3_MAX_PARAM_LEN ||
            sig_bounded_len(value, ACS3_MAX_PARAM_LEN) > ACS3_MAX_PARAM_LEN)
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
            sig_buf_addc(out, '&');
        sig_buf_percent_encode(out, sorted[i].name, strlen(sorted[i].name), false);
        sig_buf_addc(out, '=');
        sig_buf_percent_encode(out, sorted[i].value, strlen(sorted[i].value), false);
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

static void headers_add(struct canon_headers *hs, const char *lname, const char *value, size_t vlen)
{
    while (vlen > 0 && sig_is_ws((unsigned char)value[0])) {
        value++;
        vlen--;
    }
    while (vlen > 0 && sig_is_ws((unsigned char)value[vlen - 1]))
        vlen--;
    assert(hs->n < MAX_CANON_HEADERS);
    assert(strlen(lname) <= ACS3_MAX_HEADER_NAME);
    struct canon_header *h = &hs->h[hs->n++];
    strcpy(h->name, lname);
    h->value = value;
    h->len = vlen;
}

static const char *const SIGNER_HEADERS[] = {
    "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256",
    "x-acs-accesskey-id", "x-acs-security-token",
};

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
        char lname[ACS3_MAX_HEADER_NAME + 1];
        size_t vl;
        if (sig_check_header(SIGNER, i, headers[i].name, headers[i].value, ACS3_MAX_HEADER_NAME,
                             ACS3_MAX_HEADER_VALUE, lname, &vl, err, errlen) != 0)
            return -1;
        if (strcmp(lname, "host") == 0 || strcmp(lname, "authorization") == 0)
            return fail(err, errlen, "header %zu (%s) is set by the signer", i, lname);
        for (size_t j = 0; j < sizeof SIGNER_HEADERS / sizeof SIGNER_HEADERS[0]; j++)
            if (strcmp(lname, SIGNER_HEADERS[j]) == 0)
                return fail(err, errlen, "header %zu (%s) is set by the signer", i, SIGNER_HEADERS[j]);
        for (size_t j = 0; j < hs->n; j++)
            if (strcmp(hs->h[j].name, lname) == 0)
                return fail(err, errlen, "header %zu (%s) is repeated", i, lname);
        headers_add(hs, lname, headers[i].value, vl);
    }
    return 0;
}

/* ---- the signature ------------------------------------------------------ */

static int check_request(const struct acs3_request *req, char *err, size_t errlen)
{
    if (sig_check_field(SIGNER, req->method, "method", MAX_METHOD, sig_is_upper, err, errlen) != 0 ||
        sig_check_field(SIGNER, req->host, "host", ACS3_MAX_HOST, sig_is_host_char, err, errlen) != 0 ||
        sig_check_field(SIGNER, req->action, "action", MAX_ACTION, sig_is_alnum, err, errlen) != 0 ||
        sig_check_field(SIGNER, req->version, "version", MAX_VERSION, is_version_char, err,
                        errlen) != 0 ||
        sig_check_field(SIGNER, req->access_key_id, "access_key_id", MAX_KEY_ID, is_key_id_char, err,
                        errlen) != 0 ||
        sig_check_field(SIGNER, req->access_key_secret, "access_key_secret", MAX_SECRET,
                        sig_is_printable, err, errlen) != 0 ||
        sig_check_field(SIGNER, req->nonce, "nonce", ACS3_MAX_NONCE, is_nonce_char, err, errlen) != 0)
        return -1;
    if (strlen(req->nonce) < ACS3_MIN_NONCE)
        return fail(err, errlen, "nonce is shorter than %d characters", ACS3_MIN_NONCE);
    if (req->security_token != NULL && req->security_token[0] != '\0' &&
        sig_check_field(SIGNER, req->security_token, "security_token", ACS3_MAX_TOKEN,
                        sig_is_printable, err, errlen) != 0)
        return -1;
    if (req->payload == NULL && req->payload_len > 0)
        return fail(err, errlen, "payload is NULL but payload_len is %zu", req->payload_len);
    if (req->payload_len > ACS3_MAX_PAYLOAD)
        return fail(err, errlen, "payload is larger than %zu bytes", ACS3_MAX_PAYLOAD);
    if (req->now_epoch_s < 0 || req->now_epoch_s > SIG_EPOCH_MAX)
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
    char date[SIG_UTC_EXTENDED_LEN + 1], payload_hash[HEX_LEN + 1];
    if (!sig_format_utc(req->now_epoch_s, SIG_UTC_EXTENDED, date, sizeof date))
        return fail(err, errlen, "now_epoch_s is out of range");
    if (!sig_sha256_hex(req->payload, req->payload_len, payload_hash))
        return fail(err, errlen, "SHA-256 failed");

    int rc = -1;
    struct sig_buf query = SIG_BUF_INIT, signed_headers = SIG_BUF_INIT, creq = SIG_BUF_INIT,
                   sts = SIG_BUF_INIT, auth = SIG_BUF_INIT;
    struct canon_headers *hs = xcalloc(1, sizeof *hs);
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

    /* Canonical request: the path as sent is the canonical URI. */
    struct sig_header signed_view[MAX_CANON_HEADERS];
    for (size_t i = 0; i < hs->n; i++)
        signed_view[i] = (struct sig_header){hs->h[i].name, hs->h[i].value, hs->h[i].len};
    sig_canonical_request(req->method, req->path, query.buf.data, signed_view, hs->n, payload_hash,
                          &creq, &signed_headers);
    /* The input limits (acs3.h) keep every string well below SIG_BUF_MAX,
     * and memory running out aborts; a builder that failed anyway is a
     * broken limit, refused rather than signed. */
    if (creq.failed || signed_headers.failed || query.failed) {
        fail(err, errlen, "the canonical request is longer than %zu bytes", SIG_BUF_MAX);
        goto done;
    }

    /* String to sign, and the signature. */
    char creq_hash[HEX_LEN + 1];
    if (!sig_sha256_hex(creq.buf.data, creq.buf.len, creq_hash)) {
        fail(err, errlen, "SHA-256 failed");
        goto done;
    }
    sig_buf_adds(&sts, ALGORITHM "\n");
    sig_buf_adds(&sts, creq_hash);
    assert(!sts.failed);
    if (!hmac_sha256_hex(req->access_key_secret, sts.buf.data, out->signature)) {
        fail(err, errlen, "HMAC-SHA256 failed");
        goto done;
    }

    sig_buf_adds(&auth, ALGORITHM " Credential=");
    sig_buf_adds(&auth, req->access_key_id);
    sig_buf_adds(&auth, ",SignedHeaders=");
    sig_buf_add(&auth, signed_headers.buf.data, signed_headers.buf.len);
    sig_buf_adds(&auth, ",Signature=");
    sig_buf_adds(&auth, out->signature);
    assert(!auth.failed);

    out->headers[out->n_headers++] = (struct acs3_out_header){"Authorization", sig_buf_take(&auth)};
    out->headers[out->n_headers++] = (struct acs3_out_header){"x-acs-action", xstrdup(req->action)};
    out->headers[out->n_headers++] = (struct acs3_out_header){"x-acs-version", xstrdup(req->version)};
    out->headers[out->n_headers++] = (struct acs3_out_header){"x-acs-date", xstrdup(date)};
    out->headers[out->n_headers++] = (struct acs3_out_header){"x-acs-signature-nonce", xstrdup(req->nonce)};
    out->headers[out->n_headers++] = (struct acs3_out_header){"x-acs-content-sha256", xstrdup(payload_hash)};
    if (has_token) {
        out->headers[out->n_headers++] =
            (struct acs3_out_header){"x-acs-accesskey-id", xstrdup(req->access_key_id)};
        out->headers[out->n_headers++] =
            (struct acs3_out_header){"x-acs-security-token", xstrdup(req->security_token)};
    }
    assert(out->n_headers <= ACS3_MAX_OUT_HEADERS);
    out->canonical_query = sig_buf_take(&query);
    out->canonical_request = sig_buf_take(&creq);
    out->string_to_sign = sig_buf_take(&sts);
    out->signed_headers = sig_buf_take(&signed_headers);
    rc = 0;

done:
    free(hs);
    sig_buf_free(&query);
    sig_buf_free(&signed_headers);
    sig_buf_free(&creq);
    sig_buf_free(&sts);
    sig_buf_free(&auth);
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
