/* fake_sig.h - the signature oracle of the Lambda and FC stand-ins.
 *
 * The stand-ins must not accept a request because the bot's own signer
 * (src/core/sigv4.c, acs3.c, sigcommon.c) computes the same bytes again: a
 * bug there would then pass every test. This is a second implementation,
 * written from the published documents and calling OpenSSL directly:
 *
 *  - AWS "Create a signed AWS API request" (Signature Version 4): canonical
 *    request with the path URI-encoded twice (every service but S3), the
 *    query encoded and sorted, the SignedHeaders' values trimmed with inner
 *    runs of spaces made one; string to sign "AWS4-HMAC-SHA256\n<date>\n
 *    <scope>\n<hash>"; the key derived from "AWS4"+secret, date, region,
 *    service, "aws4_request".
 *  - Alibaba Cloud "Request syntax and signature method V3"
 *    (ACS3-HMAC-SHA256): canonical request with the encoded path as the
 *    canonical URI, the same query rules, header values trimmed; string to
 *    sign "ACS3-HMAC-SHA256\n<hash>", keyed with the secret as is.
 *
 * It shares no code with the signers. Its own answers are pinned by literal
 * vectors in the stand-in tests (test_lambda.c, test_fc.c), computed with
 * python3's hashlib/hmac from the same documents. */
#ifndef E2E_FAKE_SIG_H
#define E2E_FAKE_SIG_H

#include <stdbool.h>
#include <stddef.h>

#include "fake_http.h"

enum fake_sig_method {
    FAKE_SIG_AWS4,
    FAKE_SIG_ACS3,
};

/* The canonical request of `req` as `method` defines it, over the headers
 * named in `signed_headers` (as the Authorization header lists them).
 * Returns it malloc'd, or NULL with *why set (malloc'd) when SignedHeaders
 * is not lowercase, sorted and unique, or names a header that was not sent. */
char *fake_sig_canonical_request(enum fake_sig_method method, const struct fake_http_request *req,
                                 const char *signed_headers, char **why);

/* hex(SHA-256(data)), lowercase, into out[65]. */
void fake_sig_sha256_hex(const void *data, size_t len, char out[65]);

/* The signature (64 lowercase hex digits) of a canonical request.
 * AWS4: amz_date "YYYYMMDDTHHMMSSZ", scope "YYYYMMDD/region/service/aws4_request".
 * ACS3: amz_date and scope are ignored (NULL). */
void fake_sig_signature(enum fake_sig_method method, const char *secret, const char *amz_date, const char *scope,
                        const char *canonical_request, char out[65]);

#endif
