/* selfinvoke.c - asynchronous invocation of this same function (see selfinvoke.h). */
#include "run/selfinvoke.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/acs3.h"
#include "core/sigv4.h"
#include "io/clock.h"
#include "obs/log.h"

#define INVOKE_TIMEOUT_MS 5000

/* The invoke URL, taken apart and put together by libcurl's URL API, so that
 * the Host we sign is the Host libcurl sends: the host as curl writes it
 * (IPv6 in brackets), with ":port" only when the port is not the scheme's
 * default, as curl's own Host header has it. */
struct invoke_url {
    CURLU *url;
    char host[300];        /* the Host header */
    char path[1024];       /* the endpoint's base path (no trailing '/') + the API path */
};

/* Parses `endpoint` ("https://host[:port][/base]") and appends `api_path`
 * (already percent-encoded) to its path. 0, or -1 with `err` set. */
static int invoke_url_parse(struct invoke_url *u, const char *endpoint, const char *api_path, char *err,
                            size_t errlen)
{
    memset(u, 0, sizeof *u);
    char *host = NULL, *port = NULL, *base = NULL;
    int rc = -1;
    u->url = curl_url();
    if (!u->url || curl_url_set(u->url, CURLUPART_URL, endpoint, 0) != CURLUE_OK ||
        curl_url_get(u->url, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u->url, CURLUPART_PATH, &base, 0) != CURLUE_OK) {
        snprintf(err, errlen, "the endpoint URL cannot be read");
        goto done;
    }
    CURLUcode pc = curl_url_get(u->url, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT);
    if (pc != CURLUE_OK && pc != CURLUE_NO_PORT) {
        snprintf(err, errlen, "the endpoint URL cannot be read");
        goto done;
    }
    size_t base_len = strlen(base);
    while (base_len > 0 && base[base_len - 1] == '/')
        base_len--;
    int hn = snprintf(u->host, sizeof u->host, "%s%s%s", host, port ? ":" : "", port ? port : "");
    int pn = snprintf(u->path, sizeof u->path, "%.*s%s", (int)base_len, base, api_path);
    if (hn < 0 || (size_t)hn >= sizeof u->host || pn < 0 || (size_t)pn >= sizeof u->path) {
        snprintf(err, errlen, "the endpoint URL is too long");
        goto done;
    }
    /* Already percent-encoded: set as is (no CURLU_URLENCODE). */
    if (curl_url_set(u->url, CURLUPART_PATH, u->path, 0) != CURLUE_OK) {
        snprintf(err, errlen, "the invoke path cannot be set");
        goto done;
    }
    rc = 0;
done:
    curl_free(host);
    curl_free(port);
    curl_free(base);
    if (rc != 0) {
        curl_url_cleanup(u->url);
        u->url = NULL;
    }
    return rc;
}

static void invoke_url_free(struct invoke_url *u)
{
    curl_url_cleanup(u->url);
    u->url = NULL;
}

int selfinvoke_target(const char *endpoint, const char *api_path, char *host, size_t host_cap, char *path,
                      size_t path_cap, char *err, size_t errlen)
{
    struct invoke_url u;
    if (invoke_url_parse(&u, endpoint, api_path, err, errlen) != 0)
        return -1;
    invoke_url_free(&u);
    if (snprintf(host, host_cap, "%s", u.host) >= (int)host_cap ||
        snprintf(path, path_cap, "%s", u.path) >= (int)path_cap) {
        snprintf(err, errlen, "the endpoint URL is too long");
        return -1;
    }
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
    else if (resp.status != 202) /* cut whole: a credential it echoes stays maskable */
        snprintf(err, errlen, "invoke endpoint answered %ld: %.*s", resp.status,
                 (int)redact_cut(resp.body ? resp.body : "", resp.body_len, 200), resp.body ? resp.body : "");
    http_response_free(&resp);
    return rc == 0 && *status == 202 ? 0 : -1;
}

/* One header of the invoke request. */
struct header_line {
    const char *name;
    const char *value;
};

#define MAX_HEADER_LINES (ACS3_MAX_OUT_HEADERS > SIGV4_MAX_OUT_HEADERS ? ACS3_MAX_OUT_HEADERS + 2 : SIGV4_MAX_OUT_HEADERS + 2)

/* Posts the signed invoke to `u` (plus `query` when not empty) with `lines`
 * as its headers. The header lines carry a credential, so their copies are
 * wiped once sent. 0 when accepted (202). */
static int send_invoke(struct http_client *http, struct invoke_url *u, const char *query,
                       const struct header_line *lines, size_t n_lines, const char *payload, size_t len, char *err,
                       size_t errlen)
{
    char hdr[MAX_HEADER_LINES][8448];
    const char *headers[MAX_HEADER_LINES + 1];
    if (n_lines > MAX_HEADER_LINES) {
        snprintf(err, errlen, "too many headers to sign");
        return -1;
    }
    char *url = NULL;
    if (curl_url_set(u->url, CURLUPART_QUERY, query[0] ? query : NULL, 0) != CURLUE_OK ||
        curl_url_get(u->url, CURLUPART_URL, &url, 0) != CURLUE_OK) {
        snprintf(err, errlen, "the invoke URL cannot be built");
        return -1;
    }
    for (size_t i = 0; i < n_lines; i++) {
        snprintf(hdr[i], sizeof hdr[i], "%s: %s", lines[i].name, lines[i].value);
        headers[i] = hdr[i];
    }
    headers[n_lines] = NULL;
    long status;
    int rc = post_signed(http, url, headers, payload, len, &status, err, errlen);
    curl_free(url);
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
    char name[512];
    if (sigv4_uri_encode(cfg->function_name, strlen(cfg->function_name), false, name, sizeof name) == (size_t)-1) {
        snprintf(err, errlen, "the function name is too long");
        return -1;
    }
    char api_path[600];
    snprintf(api_path, sizeof api_path, "/2015-03-31/functions/%s/invocations", name);
    struct invoke_url u;
    char uerr[128];
    if (invoke_url_parse(&u, endpoint, api_path, uerr, sizeof uerr) != 0) {
        snprintf(err, errlen, "Lambda: %s", uerr);
        return -1;
    }

    struct sigv4_header extra[] = {{"X-Amz-Invocation-Type", "Event"}, {"Content-Type", "application/json"}};
    struct sigv4_request sreq = {
        .method = "POST", .host = u.host, .path = u.path, .headers = extra, .n_headers = 2,
        .payload = payload, .payload_len = len, .region = cfg->region, .service = "lambda",
        .access_key_id = cfg->aws_access_key_id, .secret_access_key = cfg->aws_secret_access_key,
        .session_token = cfg->aws_session_token, .now_epoch_s = clock_now_ms() / 1000,
    };
    struct sigv4_result sig;
    char serr[160];
    if (sigv4_sign(&sreq, &sig, serr, sizeof serr) != 0) {
        snprintf(err, errlen, "cannot sign the invoke request: %s", serr);
        invoke_url_free(&u);
        return -1;
    }
    struct header_line lines[MAX_HEADER_LINES] = {{"X-Amz-Invocation-Type", "Event"},
                                                 {"Content-Type", "application/json"}};
    size_t n = 2;
    for (size_t i = 0; i < sig.n_headers && n < MAX_HEADER_LINES; i++)
        lines[n++] = (struct header_line){sig.headers[i].name, sig.headers[i].value};
    int rc = send_invoke(http, &u, sig.canonical_query, lines, n, payload, len, err, errlen);
    sigv4_result_free(&sig);
    invoke_url_free(&u);
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
    char name[512];
    if (acs3_percent_encode(cfg->function_name, strlen(cfg->function_name), name, sizeof name) == (size_t)-1) {
        snprintf(err, errlen, "the function name is too long");
        return -1;
    }
    char api_path[600];
    snprintf(api_path, sizeof api_path, "/2023-03-30/functions/%s/invocations", name);

    unsigned char random[16];
    char nonce[33];
    if (RAND_bytes(random, sizeof random) != 1) {
        snprintf(err, errlen, "no randomness for the signature nonce");
        return -1;
    }
    for (size_t i = 0; i < sizeof random; i++)
        snprintf(nonce + 2 * i, 3, "%02x", random[i]);
    struct invoke_url u;
    char uerr[128];
    if (invoke_url_parse(&u, endpoint, api_path, uerr, sizeof uerr) != 0) {
        snprintf(err, errlen, "Function Compute: %s", uerr);
        return -1;
    }

    struct acs3_param qualifier[] = {{"qualifier", cfg->fc_qualifier}};
    /* Signed as Alibaba's official SDK signs it: host, content-type and the
     * x-acs-* headers. x-fc-invocation-type is sent but not signed, as the SDK
     * does, so FC sees the request its own clients send. */
    struct acs3_header signed_headers[] = {{"content-type", "application/octet-stream"}};
    struct acs3_request sreq = {
        .method = "POST", .host = u.host, .path = u.path,
        .params = cfg->fc_qualifier ? qualifier : NULL, .n_params = cfg->fc_qualifier ? 1 : 0,
        .headers = signed_headers, .n_headers = 1, .payload = payload, .payload_len = len,
        .action = "InvokeFunction", .version = "2023-03-30",
        .access_key_id = creds->access_key_id, .access_key_secret = creds->access_key_secret,
        .security_token = creds->security_token, .now_epoch_s = clock_now_ms() / 1000, .nonce = nonce,
    };
    struct acs3_result sig;
    char serr[160];
    if (acs3_sign(&sreq, &sig, serr, sizeof serr) != 0) {
        snprintf(err, errlen, "cannot sign the invoke request: %s", serr);
        invoke_url_free(&u);
        return -1;
    }
    struct header_line lines[MAX_HEADER_LINES] = {{"x-fc-invocation-type", "Async"},
                                                 {"Content-Type", "application/octet-stream"}};
    size_t n = 2;
    for (size_t i = 0; i < sig.n_headers && n < MAX_HEADER_LINES; i++)
        lines[n++] = (struct header_line){sig.headers[i].name, sig.headers[i].value};
    int rc = send_invoke(http, &u, sig.canonical_query, lines, n, payload, len, err, errlen);
    acs3_result_free(&sig);
    invoke_url_free(&u);
    return rc;
}
