/* selfinvoke.c - asynchronous invocation of this same function (see selfinvoke.h). */
#include "run/selfinvoke.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/acs3.h"
#include "core/sigv4.h"
#include "io/clock.h"
#include "obs/log.h"

#define INVOKE_TIMEOUT_MS 5000

/* Splits "https://host[:port][/base]" into the Host header and the base path. */
static int split_endpoint(const char *endpoint, char *host, size_t host_cap, const char **base)
{
    const char *p = strstr(endpoint, "://");
    if (!p)
        return -1;
    p += 3;
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n >= host_cap)
        return -1;
    memcpy(host, p, n);
    host[n] = '\0';
    *base = slash ? slash : "";
    return 0;
}

static int post_signed(struct http_client *http, const char *url, const char *const *headers, const char *payload,
                       size_t len, long *status, char *err, size_t errlen)
{
    struct http_request req = {.method = "POST", .url = url, .headers = headers, .body = payload, .body_len = len,
                               .connect_timeout_ms = 2000, .timeout_ms = INVOKE_TIMEOUT_MS};
    struct http_response resp;
    memset(&resp, 0, sizeof resp);
    int rc = http_client_do(http, &req, &resp);
    *status = resp.status;
    if (rc != 0)
        snprintf(err, errlen, "no answer from the invoke endpoint: %s", resp.error);
    else if (resp.status != 202)
        snprintf(err, errlen, "invoke endpoint answered %ld: %.200s", resp.status, resp.body ? resp.body : "");
    http_response_free(&resp);
    return rc == 0 && *status == 202 ? 0 : -1;
}

/* One header of the invoke request. */
struct header_line {
    const char *name;
    const char *value;
};

#define MAX_HEADER_LINES (ACS3_MAX_OUT_HEADERS > SIGV4_MAX_OUT_HEADERS ? ACS3_MAX_OUT_HEADERS + 2 : SIGV4_MAX_OUT_HEADERS + 2)

/* Posts the signed invoke to `endpoint`'s scheme, `host` and `path` (plus
 * `query` when not empty) with `lines` as its headers. The header lines carry
 * a credential, so their copies are wiped once sent. 0 when accepted (202). */
static int send_invoke(struct http_client *http, const char *endpoint, const char *host, const char *path,
                       const char *query, const struct header_line *lines, size_t n_lines, const char *payload,
                       size_t len, char *err, size_t errlen)
{
    char hdr[MAX_HEADER_LINES][8448];
    const char *headers[MAX_HEADER_LINES + 1];
    if (n_lines > MAX_HEADER_LINES) {
        snprintf(err, errlen, "too many headers to sign");
        return -1;
    }
    for (size_t i = 0; i < n_lines; i++) {
        snprintf(hdr[i], sizeof hdr[i], "%s: %s", lines[i].name, lines[i].value);
        headers[i] = hdr[i];
    }
    headers[n_lines] = NULL;
    char url[2048];
    snprintf(url, sizeof url, "%s%s%s%s%s", strncasecmp(endpoint, "https://", 8) == 0 ? "https://" : "http://", host,
             path, query[0] ? "?" : "", query);
    long status;
    int rc = post_signed(http, url, headers, payload, len, &status, err, errlen);
    for (size_t i = 0; i < n_lines; i++)
        OPENSSL_cleanse(hdr[i], sizeof hdr[i]); /* unlike memset, never optimised away */
    if (rc == 0)
        log_debug("asynchronous invocation accepted (%zu bytes)", len);
    return rc;
}

int selfinvoke_lambda(const struct config *cfg, struct http_client *http, const char *payload, size_t len,
                      char *err, size_t errlen)
{
    if (!cfg->function_name || !cfg->region || !cfg->aws_access_key_id || !cfg->aws_secret_access_key) {
        snprintf(err, errlen, "AWS_LAMBDA_FUNCTION_NAME, AWS_REGION and the runtime's credentials are needed "
                              "for LINEBOT_ASYNC=self");
        return -1;
    }
    char default_endpoint[256];
    snprintf(default_endpoint, sizeof default_endpoint, "https://lambda.%s.amazonaws.com", cfg->region);
    const char *endpoint = cfg->lambda_endpoint ? cfg->lambda_endpoint : default_endpoint;
    char host[256];
    const char *base;
    if (split_endpoint(endpoint, host, sizeof host, &base) != 0) {
        snprintf(err, errlen, "the Lambda endpoint URL cannot be read");
        return -1;
    }
    char name[512];
    if (sigv4_uri_encode(cfg->function_name, strlen(cfg->function_name), false, name, sizeof name) == (size_t)-1) {
        snprintf(err, errlen, "the function name is too long");
        return -1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/2015-03-31/functions/%s/invocations", base, name);

    struct sigv4_header extra[] = {{"X-Amz-Invocation-Type", "Event"}, {"Content-Type", "application/json"}};
    struct sigv4_request sreq = {
        .method = "POST", .host = host, .path = path, .headers = extra, .n_headers = 2,
        .payload = payload, .payload_len = len, .region = cfg->region, .service = "lambda",
        .access_key_id = cfg->aws_access_key_id, .secret_access_key = cfg->aws_secret_access_key,
        .session_token = cfg->aws_session_token, .now_epoch_s = clock_now_ms() / 1000,
    };
    struct sigv4_result sig;
    char serr[160];
    if (sigv4_sign(&sreq, &sig, serr, sizeof serr) != 0) {
        snprintf(err, errlen, "cannot sign the invoke request: %s", serr);
        return -1;
    }
    struct header_line lines[MAX_HEADER_LINES] = {{"X-Amz-Invocation-Type", "Event"},
                                                 {"Content-Type", "application/json"}};
    size_t n = 2;
    for (size_t i = 0; i < sig.n_headers && n < MAX_HEADER_LINES; i++)
        lines[n++] = (struct header_line){sig.headers[i].name, sig.headers[i].value};
    int rc = send_invoke(http, endpoint, host, path, "", lines, n, payload, len, err, errlen);
    sigv4_result_free(&sig);
    return rc;
}

int selfinvoke_fc(const struct config *cfg, struct http_client *http, const struct fc_credentials *creds,
                  const char *payload, size_t len, char *err, size_t errlen)
{
    if (!cfg->function_name || !creds || !creds->access_key_id || !creds->access_key_secret) {
        snprintf(err, errlen, "FC_FUNCTION_NAME and the function's credentials (a role, or "
                              "ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET) are needed for LINEBOT_ASYNC=self");
        return -1;
    }
    char default_endpoint[256];
    if (!cfg->fc_endpoint) {
        if (!cfg->fc_account_id || !cfg->region) {
            snprintf(err, errlen, "FC_ACCOUNT_ID and FC_REGION are needed to find the InvokeFunction endpoint");
            return -1;
        }
        snprintf(default_endpoint, sizeof default_endpoint, "https://%s.%s.fc.aliyuncs.com", cfg->fc_account_id,
                 cfg->region);
    }
    const char *endpoint = cfg->fc_endpoint ? cfg->fc_endpoint : default_endpoint;
    char host[256];
    const char *base;
    if (split_endpoint(endpoint, host, sizeof host, &base) != 0) {
        snprintf(err, errlen, "the Function Compute endpoint URL cannot be read");
        return -1;
    }
    char name[512];
    if (acs3_percent_encode(cfg->function_name, strlen(cfg->function_name), name, sizeof name) == (size_t)-1) {
        snprintf(err, errlen, "the function name is too long");
        return -1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/2023-03-30/functions/%s/invocations", base, name);

    unsigned char random[16];
    char nonce[33];
    if (RAND_bytes(random, sizeof random) != 1) {
        snprintf(err, errlen, "no randomness for the signature nonce");
        return -1;
    }
    for (size_t i = 0; i < sizeof random; i++)
        snprintf(nonce + 2 * i, 3, "%02x", random[i]);

    struct acs3_param qualifier[] = {{"qualifier", cfg->fc_qualifier}};
    /* The invocation type is signed too, so that "Async" cannot be changed on the way. */
    struct acs3_header signed_headers[] = {{"content-type", "application/octet-stream"},
                                           {"x-fc-invocation-type", "Async"}};
    struct acs3_request sreq = {
        .method = "POST", .host = host, .path = path,
        .params = cfg->fc_qualifier ? qualifier : NULL, .n_params = cfg->fc_qualifier ? 1 : 0,
        .headers = signed_headers, .n_headers = 2, .payload = payload, .payload_len = len,
        .action = "InvokeFunction", .version = "2023-03-30",
        .access_key_id = creds->access_key_id, .access_key_secret = creds->access_key_secret,
        .security_token = creds->security_token, .now_epoch_s = clock_now_ms() / 1000, .nonce = nonce,
    };
    struct acs3_result sig;
    char serr[160];
    if (acs3_sign(&sreq, &sig, serr, sizeof serr) != 0) {
        snprintf(err, errlen, "cannot sign the invoke request: %s", serr);
        return -1;
    }
    struct header_line lines[MAX_HEADER_LINES] = {{"x-fc-invocation-type", "Async"},
                                                 {"Content-Type", "application/octet-stream"}};
    size_t n = 2;
    for (size_t i = 0; i < sig.n_headers && n < MAX_HEADER_LINES; i++)
        lines[n++] = (struct header_line){sig.headers[i].name, sig.headers[i].value};
    int rc = send_invoke(http, endpoint, host, path, sig.canonical_query, lines, n, payload, len, err, errlen);
    acs3_result_free(&sig);
    return rc;
}
