/* acs3.h - Alibaba Cloud signature V3 (ACS3-HMAC-SHA256) for one HTTP request.
 *
 * Used to sign the Function Compute 3.0 InvokeFunction call with which the
 * webhook request hands its events to an asynchronous invocation of the same
 * function. FC 3.0's API (version 2023-03-30) is ROA-style and is signed with
 * Alibaba Cloud's V3 method, as its official SDKs do (their default path,
 * OpenApiClient.doRequest). The request, as documented (InvokeFunction) and
 * as the SDK sends it:
 *
 *   POST /2023-03-30/functions/{functionName}/invocations[?qualifier=...]
 *   Host: {accountId}.{regionId}.fc.aliyuncs.com
 *   Content-Type: application/octet-stream    (the SDK's choice for the raw event)
 *   x-fc-invocation-type: Async
 *   x-acs-action: InvokeFunction, x-acs-version: 2023-03-30, x-acs-date,
 *   x-acs-signature-nonce, x-acs-content-sha256, and with STS credentials
 *   x-acs-accesskey-id and x-acs-security-token; then Authorization.
 *   Body: the event, raw.
 *
 * Which headers are signed is the signer's choice, named in SignedHeaders.
 * The V3 document's steps sign host, content-type and the x-acs-* headers,
 * and Alibaba's official SDK (the Tea OpenApiClient behind the FC 3.0
 * client) signs exactly those for InvokeFunction; x-fc-invocation-type goes
 * out unsigned. We sign the required ones plus every header the caller
 * passes: for FC, pass content-type only, and send x-fc-invocation-type
 * beside the signature, so that FC sees the request its own SDK sends.
 * Headers not passed (accept, user-agent) go unsigned.
 *
 * Pure: no clock, no environment, no network, no randomness. The caller
 * passes the time, the nonce, the credentials and the request parts; the
 * signer returns the headers to add. The algorithm is the one of "Request
 * syntax and signature method V3" and is checked against that document's
 * worked example (tests/unit/test_acs3.c):
 *
 *   CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n
 *                      CanonicalHeaders \n SignedHeaders \n hex(SHA256(body))
 *   StringToSign     = "ACS3-HMAC-SHA256" \n hex(SHA256(CanonicalRequest))
 *   Signature        = hex(HMAC-SHA256(AccessKeySecret, StringToSign))
 *   Authorization: ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<...>,Signature=<...>
 *
 * Canonicalization, and what a caller must do to match it:
 *  - path: give it exactly as it goes on the wire, already percent-encoded
 *    (build segments with acs3_percent_encode); it is the canonical URI as
 *    is, so only unreserved characters, '/' and %XX (uppercase hex) are
 *    accepted. "." / ".." and empty segments are refused. RPC-style APIs
 *    use "/".
 *  - query: give the parameters unencoded; names and values are
 *    percent-encoded (RFC 3986: A-Z a-z 0-9 - _ . ~ kept, every other byte
 *    %XX, so a space is %20, '*' is %2A) and sorted by name. A repeated name
 *    is refused: Alibaba APIs spell lists as Name.1, Name.2. The result,
 *    out->canonical_query, is also the query to send.
 *  - headers: host and the x-acs-* headers above are always signed, plus
 *    every header in req->headers (content-type, ...).
 *    Names are lowercased and values trimmed at both ends (inside, nothing
 *    changes); a repeated name is refused. Send those headers as given.
 *
 * Secrets: the AccessKey secret is only ever an HMAC key; it is never copied
 * into any output. Error messages never contain credentials. */
#ifndef LINEBOT_ACS3_H
#define LINEBOT_ACS3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Input limits. Anything larger, and any NULL or empty required field, is an
 * error, never a crash. */
#define ACS3_MAX_HOST 255
#define ACS3_MAX_PATH 4096
#define ACS3_MAX_PARAMS 64
#define ACS3_MAX_PARAM_LEN 4096   /* a name or a value, unencoded */
#define ACS3_MAX_HEADERS 16
#define ACS3_MAX_HEADER_NAME 64
#define ACS3_MAX_HEADER_VALUE 8192
#define ACS3_MAX_PAYLOAD ((size_t)16 * 1024 * 1024)
#define ACS3_MAX_TOKEN 8192       /* STS security token */
#define ACS3_MIN_NONCE 16
#define ACS3_MAX_NONCE 64

/* A query parameter, unencoded. value NULL means an empty value ("name="). */
struct acs3_param {
    const char *name;
    const char *value;
};

/* A header to sign, e.g. {"content-type", "application/octet-stream"}. */
struct acs3_header {
    const char *name;
    const char *value;
};

struct acs3_request {
    const char *method;             /* "POST": uppercase letters */
    const char *host;               /* the Host header exactly as sent, with ":port" when not the default */
    const char *path;               /* as sent, percent-encoded, starting with '/' */
    const struct acs3_param *params;
    size_t n_params;
    const struct acs3_header *headers;  /* extra headers to sign (not host, Authorization, or
                                         * the x-acs-* headers the signer sets: -action,
                                         * -version, -date, -signature-nonce, -content-sha256,
                                         * -accesskey-id, -security-token) */
    size_t n_headers;
    const void *payload;            /* may be NULL when payload_len is 0 */
    size_t payload_len;
    const char *action;             /* x-acs-action, e.g. "InvokeFunction" */
    const char *version;            /* x-acs-version, e.g. "2023-03-30" */
    const char *access_key_id;
    const char *access_key_secret;
    const char *security_token;     /* STS token; NULL or "": none */
    int64_t now_epoch_s;            /* the signing time, Unix seconds (UTC) */
    const char *nonce;              /* x-acs-signature-nonce: fresh and random for every request
                                     * (e.g. 32 hex digits); ACS3_MIN_NONCE..ACS3_MAX_NONCE of
                                     * A-Z a-z 0-9 '-' */
};

/* A header the caller must add to the request. `name` is a string literal. */
struct acs3_out_header {
    const char *name;
    char *value;
};

#define ACS3_MAX_OUT_HEADERS 8

struct acs3_result {
    /* Authorization, x-acs-action, x-acs-version, x-acs-date,
     * x-acs-signature-nonce, x-acs-content-sha256, then with a token
     * x-acs-accesskey-id and x-acs-security-token, in that order. */
    struct acs3_out_header headers[ACS3_MAX_OUT_HEADERS];
    size_t n_headers;
    char *canonical_query;          /* the query to send after '?'; "" for none */
    /* For tests and debugging. They hold no secret, but the canonical request
     * does hold the security token when there is one: do not log it. */
    char *canonical_request;
    char *string_to_sign;
    char *signed_headers;           /* "content-type;host;x-acs-action;...;x-acs-version" */
    char signature[65];             /* lowercase hex */
};

/* Signs `req`. Returns 0 and fills `out` (free with acs3_result_free), or -1
 * with `out` empty and a short reason in `err` (never a credential). */
int acs3_sign(const struct acs3_request *req, struct acs3_result *out, char *err, size_t errlen);

/* Frees what acs3_sign allocated and zeroes `out`. Safe on a zeroed or
 * already freed result, and after a failed acs3_sign. */
void acs3_result_free(struct acs3_result *out);

/* Percent-encodes `len` bytes of `in` per the V3 rules (A-Z a-z 0-9 - _ . ~
 * kept, every other byte, '/' included, as %XX with uppercase hex). Use it
 * for a path segment such as the function name. Writes a NUL-terminated
 * string and returns its length, or returns (size_t)-1 and writes "" (when
 * outlen > 0) if it does not fit. */
size_t acs3_percent_encode(const char *in, size_t len, char *out, size_t outlen);

#endif
