/* sigv4.h - AWS Signature Version 4 (AWS4-HMAC-SHA256) for one HTTP request.
 *
 * Used to sign the Lambda Invoke call with which the webhook invocation hands
 * its events to an asynchronous invocation of the same function
 * (POST /2015-03-31/functions/{name}/invocations, X-Amz-Invocation-Type: Event).
 *
 * Pure: no clock, no environment, no network. The caller passes the time, the
 * credentials and the request parts; the signer returns the headers to add.
 * The algorithm is the one of AWS's "Create a signed AWS API request" guide and
 * is checked against AWS's published test suite (tests/unit/test_sigv4.c).
 *
 * Canonicalization, and what a caller must do to match it:
 *  - path: give it exactly as it goes on the wire. Each segment is URI-encoded
 *    once more for the canonical URI (RFC 3986 unreserved characters kept,
 *    '/' kept), which is what AWS expects of every service except S3: a path
 *    segment sent as "my%3Afn" is signed as "my%253Afn". Build wire paths with
 *    sigv4_uri_encode(). Paths are not normalized: "." / ".." segments and
 *    empty segments ("//") are refused instead.
 *  - query: give the parameters unencoded; the signer encodes them, sorts them
 *    by encoded name then encoded value, and returns the string in
 *    out->canonical_query, which is also the query to send (after '?').
 *  - headers: host (from req->host) and x-amz-date are always signed, plus
 *    every header in req->headers. Names are lowercased; values are trimmed
 *    and runs of spaces/tabs inside collapse to one space; repeated names are
 *    joined with ',' in the order given. Send those headers as given.
 *  - payload: hashed with SHA-256 into the canonical request.
 *
 * Secrets: the secret access key is only ever an HMAC key; it is never copied
 * into any output, and the intermediate keys are wiped. Error messages never
 * contain credentials. */
#ifndef LINEBOT_SIGV4_H
#define LINEBOT_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Input limits. Anything larger, and any NULL or empty required field, is an
 * error, never a crash. */
#define SIGV4_MAX_HOST 255
#define SIGV4_MAX_PATH 4096
#define SIGV4_MAX_PARAMS 64
#define SIGV4_MAX_PARAM_LEN 4096   /* a name or a value, unencoded */
#define SIGV4_MAX_HEADERS 32
#define SIGV4_MAX_HEADER_NAME 64
#define SIGV4_MAX_HEADER_VALUE 8192
#define SIGV4_MAX_PAYLOAD ((size_t)16 * 1024 * 1024)
#define SIGV4_MAX_TOKEN 8192       /* session token */

/* A query parameter, unencoded. value NULL means an empty value ("name="). */
struct sigv4_param {
    const char *name;
    const char *value;
};

/* A header to sign, e.g. {"X-Amz-Invocation-Type", "Event"}. */
struct sigv4_header {
    const char *name;
    const char *value;
};

struct sigv4_request {
    const char *method;             /* "GET", "POST": uppercase letters */
    const char *host;               /* the Host header exactly as sent, with ":port" when not the default */
    const char *path;               /* as sent, starting with '/'; see above */
    const struct sigv4_param *params;
    size_t n_params;
    const struct sigv4_header *headers;     /* extra headers to sign (not Host, X-Amz-Date,
                                             * X-Amz-Security-Token, X-Amz-Content-Sha256,
                                             * Authorization: the signer owns those) */
    size_t n_headers;
    const void *payload;            /* may be NULL when payload_len is 0 */
    size_t payload_len;
    const char *region;             /* "us-east-1" */
    const char *service;            /* "lambda" */
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;      /* NULL or "": long-term keys, no token header */
    int64_t now_epoch_s;            /* the signing time, Unix seconds (UTC) */
    bool sign_content_sha256;       /* also send and sign X-Amz-Content-Sha256 (S3 wants it;
                                     * Lambda does not, so leave it false there) */
    bool session_token_unsigned;    /* send X-Amz-Security-Token but leave it out of the
                                     * signature, as a few services want (the suite's
                                     * post-sts-header-after). Lambda and the AWS SDKs sign
                                     * it: leave it false. */
};

/* A header the caller must add to the request. `name` is a string literal. */
struct sigv4_out_header {
    const char *name;
    char *value;
};

#define SIGV4_MAX_OUT_HEADERS 4

struct sigv4_result {
    /* Authorization, X-Amz-Date, then X-Amz-Security-Token (with a token) and
     * X-Amz-Content-Sha256 (when asked for), in that order. */
    struct sigv4_out_header headers[SIGV4_MAX_OUT_HEADERS];
    size_t n_headers;
    char *canonical_query;          /* the query to send after '?'; "" for none */
    /* For tests and debugging. They hold no secret, but the canonical request
     * does hold the session token when it is signed: do not log it. */
    char *canonical_request;
    char *string_to_sign;
    char *credential_scope;         /* "20150830/us-east-1/lambda/aws4_request" */
    char *signed_headers;           /* "host;x-amz-date;..." */
    char signature[65];             /* lowercase hex */
};

/* Signs `req`. Returns 0 and fills `out` (free with sigv4_result_free), or -1
 * with `out` empty and a short reason in `err` (never a credential). */
int sigv4_sign(const struct sigv4_request *req, struct sigv4_result *out, char *err, size_t errlen);

/* Frees what sigv4_sign allocated and zeroes `out`. Safe on a zeroed or
 * already freed result, and after a failed sigv4_sign. */
void sigv4_result_free(struct sigv4_result *out);

/* URI-encodes `len` bytes of `in` the way SigV4 does (RFC 3986: A-Z a-z 0-9
 * - _ . ~ kept, every other byte as %XX with uppercase hex; '/' kept only when
 * keep_slash). Use it to build the wire path, e.g. the function name segment.
 * Writes a NUL-terminated string and returns its length, or returns
 * (size_t)-1 and writes "" (when outlen > 0) if it does not fit. */
size_t sigv4_uri_encode(const char *in, size_t len, bool keep_slash, char *out, size_t outlen);

#endif
