/* fake_fc.c - the Function Compute InvokeFunction stand-in and its delivery
 * thread (see fake_fc.h). One mutex guards all state; the server threads and
 * the delivery thread record under it and broadcast the condition variable. */
#include "fake_fc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "e2e_util.h"
#include "fake_common.h"
#include "fake_http.h"
#include "fake_sig.h"

#define INVOKE_PREFIX "/2023-03-30/functions/"
#define MAX_SKEW_S (15 * 60)
#define DELIVERY_TIMEOUT_MS 60000L

struct credential {
    char *id, *secret, *token;
};

struct fault {
    int status;
    int count;
};

struct fake_fc {
    struct fake_http *http;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    char url[48];
    char *function_name;
    int target_port;
    bool hold, duplicate;
    unsigned long seq;
    struct credential role; /* id NULL: none */
    int64_t now_s;          /* the stand-in's "now" in Unix seconds; 0: the real clock */

    struct credential *creds;
    size_t n_creds, cap_creds;
    char **nonces;
    size_t n_nonces, cap_nonces;
    struct fault *faults;
    size_t n_faults, cap_faults;
    struct fake_fc_invoke *invokes;
    size_t n_invokes, cap_invokes;

    char **queue; /* payloads waiting for delivery */
    size_t q_head, n_queue, cap_queue;
    int *attempts; /* queue[i]'s attempt (1: first), kept in step with queue */
    size_t n_attempts, cap_attempts;
    bool in_flight;
    struct fake_fc_delivery *deliveries;
    size_t n_deliveries, cap_deliveries;

    pthread_t thread;
    bool thread_started;
};

/* FC's error answers: {"Code":...,"Message":...,"RequestId":...}. */
static void fc_error(struct fake_http_response *r, int status, const char *code, const char *message)
{
    r->status = status;
    r->body = e2e_printf("{\"Code\":\"%s\",\"Message\":\"%s\",\"RequestId\":\"1-e2e-error\"}", code, message);
}

/* Must hold mu. */
static const struct credential *find_cred(struct fake_fc *f, const char *id)
{
    if (f->role.id && strcmp(f->role.id, id) == 0)
        return &f->role;
    for (size_t i = 0; i < f->n_creds; i++)
        if (strcmp(f->creds[i].id, id) == 0)
            return &f->creds[i];
    return NULL;
}

/* ---- ACS3 verification ---- */

/* What Alibaba's official SDK signs for InvokeFunction: host, content-type and
 * every x-acs-* header it sends (with STS credentials, -accesskey-id and
 * -security-token too), sorted. x-fc-invocation-type is not among them. */
static const char *sdk_signed_headers(bool sts)
{
    return sts ? "content-type;host;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-date;"
                 "x-acs-security-token;x-acs-signature-nonce;x-acs-version"
               : "content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;"
                 "x-acs-version";
}

/* Returns NULL when the request is correctly signed, else why not (static,
 * or malloc'd into *owned); `status` gets the answer for a refusal. The
 * signature is recomputed by the stand-ins' own implementation (fake_sig.h),
 * never by the bot's signer. Must hold mu. */
static const char *verify_acs3(struct fake_fc *f, const struct fake_http_request *req, char **owned, int *status,
                               char **credential_out, char **signed_out)
{
    *owned = NULL;
    *status = 403;
    const char *auth = fake_http_header(req, "Authorization");
    const char *host = fake_http_header(req, "Host");
    const char *date = fake_http_header(req, "x-acs-date");
    const char *nonce = fake_http_header(req, "x-acs-signature-nonce");
    const char *token = fake_http_header(req, "x-acs-security-token");
    const char *key_id_header = fake_http_header(req, "x-acs-accesskey-id");
    const char *action = fake_http_header(req, "x-acs-action");
    const char *version = fake_http_header(req, "x-acs-version");
    const char *content_sha = fake_http_header(req, "x-acs-content-sha256");
    if (!auth || strncmp(auth, "ACS3-HMAC-SHA256 ", 17) != 0)
        return "no ACS3-HMAC-SHA256 Authorization header";
    if (!host || !date || !nonce || !content_sha)
        return "Host, x-acs-date, x-acs-signature-nonce or x-acs-content-sha256 is missing";
    if (!action || strcmp(action, "InvokeFunction") != 0 || !version || strcmp(version, "2023-03-30") != 0) {
        *status = 400;
        return "x-acs-action must be InvokeFunction and x-acs-version 2023-03-30";
    }
    char *credential = fake_auth_param(auth, "Credential");
    char *signed_headers = fake_auth_param(auth, "SignedHeaders");
    char *signature = fake_auth_param(auth, "Signature");
    *credential_out = e2e_strdup(credential);
    *signed_out = e2e_strdup(signed_headers);
    const char *why = NULL;
    char *creq = NULL;
    int64_t epoch = 0;
    const struct credential *cred = credential ? find_cred(f, credential) : NULL;
    char body_hash[65], want[65];

    if (!credential || !signed_headers || !signature) {
        why = "the Authorization header lacks Credential, SignedHeaders or Signature";
        goto out;
    }
    if (!cred) {
        *owned = e2e_printf("InvalidAccessKeyId.NotFound: %s is not a known AccessKey id", credential);
        why = *owned;
        goto out;
    }
    if (cred->token && (!token || strcmp(token, cred->token) != 0)) {
        why = token ? "x-acs-security-token is not the STS token of this AccessKey (InvalidSecurityToken.Mismatch)"
                    : "no x-acs-security-token for an STS AccessKey (InvalidSecurityToken.MissingParameter)";
        goto out;
    }
    if (!cred->token && token) {
        why = "x-acs-security-token sent with a long-term AccessKey";
        goto out;
    }
    if (token && (!key_id_header || strcmp(key_id_header, cred->id) != 0)) {
        why = "x-acs-accesskey-id is not the Credential's AccessKey id";
        goto out;
    }
    if (!fake_parse_utc(date, FAKE_UTC_EXTENDED, &epoch)) {
        why = "x-acs-date is not yyyy-MM-ddTHH:mm:ssZ";
        goto out;
    }
    int64_t now = f->now_s ? f->now_s : e2e_now_ms() / 1000;
    if (epoch < now - MAX_SKEW_S || epoch > now + MAX_SKEW_S) {
        why = "x-acs-date is more than 15 minutes away from now (InvalidTimeStamp.Expired)";
        goto out;
    }
    for (size_t i = 0; i < f->n_nonces; i++) {
        if (strcmp(f->nonces[i], nonce) == 0) {
            why = "x-acs-signature-nonce was used before (SignatureNonceUsed)";
            goto out;
        }
    }
    fake_sig_sha256_hex(req->body, req->body_len, body_hash);
    if (strcmp(content_sha, body_hash) != 0) {
        why = "x-acs-content-sha256 is not the SHA-256 of the body";
        goto out;
    }
    if (strcmp(signed_headers, sdk_signed_headers(token != NULL)) != 0) {
        *owned = e2e_printf("SignedHeaders is %s, want what Alibaba's SDK signs: %s", signed_headers,
                            sdk_signed_headers(token != NULL));
        why = *owned;
        goto out;
    }
    char *reason = NULL;
    creq = fake_sig_canonical_request(FAKE_SIG_ACS3, req, signed_headers, &reason);
    if (!creq) {
        *owned = reason;
        why = *owned;
        goto out;
    }
    fake_sig_signature(FAKE_SIG_ACS3, cred->secret, NULL, NULL, creq, want);
    if (strcmp(signature, want) != 0) {
        *owned = e2e_printf("SignatureDoesNotMatch: got %s, want %s; canonical request:\n%s", signature, want, creq);
        why = *owned;
        goto out;
    }
    FAKE_VEC_PUSH(f->nonces, f->n_nonces, f->cap_nonces, e2e_strdup(nonce));
out:
    free(creq);
    free(credential);
    free(signed_headers);
    free(signature);
    return why;
}

/* ---- InvokeFunction ---- */

static void handle(void *ctx, const struct fake_http_request *req, struct fake_http_response *r)
{
    struct fake_fc *f = ctx;
    struct fake_fc_invoke rec = {
        .path = e2e_strdup(req->path),
        .qualifier = e2e_strdup(fake_http_query_value(req, "qualifier")),
        .invocation_type = e2e_strdup(fake_http_header(req, "x-fc-invocation-type")),
        .authorization = e2e_strdup(fake_http_header(req, "Authorization")),
        .security_token = e2e_strdup(fake_http_header(req, "x-acs-security-token")),
        .nonce = e2e_strdup(fake_http_header(req, "x-acs-signature-nonce")),
        .content_type = e2e_strdup(fake_http_header(req, "Content-Type")),
        .at_ms = e2e_mono_ms(),
    };
    char *body = fake_http_body_dup(req);
    rec.body = body;
    rec.body_len = req->body_len;

    pthread_mutex_lock(&f->mu);
    char want_path[512];
    snprintf(want_path, sizeof want_path, INVOKE_PREFIX "%s/invocations", f->function_name);
    char *owned = NULL, *credential = NULL, *signed_headers = NULL;
    const char *why = NULL;
    int status = 0;
    if (strcmp(req->method, "POST") != 0 || strcmp(req->path, want_path) != 0) {
        fc_error(r, 404, "FunctionNotFound", "function not found");
        why = "not POST /2023-03-30/functions/<this function>/invocations";
    } else if (!rec.invocation_type || strcmp(rec.invocation_type, "Async") != 0) {
        fc_error(r, 400, "InvalidArgument", "the stand-in takes asynchronous invocations only");
        why = "x-fc-invocation-type is not Async";
    } else if ((why = verify_acs3(f, req, &owned, &status, &credential, &signed_headers)) != NULL) {
        fc_error(r, status, status == 403 ? "SignatureDoesNotMatch" : "InvalidArgument",
                 "the request signature does not conform to Aliyun standards");
    } else {
        rec.signature_ok = true;
        if (f->n_faults > 0) {
            struct fault *ft = &f->faults[0];
            /* It echoes the caller's security token, as a careless upstream
             * might: the bot must not log it. */
            const char *tok = fake_http_header(req, "x-acs-security-token");
            char *msg = e2e_printf("scripted failure (token %s)", tok ? tok : "none");
            fc_error(r, ft->status, ft->status == 429 ? "ResourceThrottled" : "InternalError", msg);
            free(msg);
            why = "scripted failure";
            if (--ft->count <= 0) {
                memmove(f->faults, f->faults + 1, (f->n_faults - 1) * sizeof *f->faults);
                f->n_faults--;
            }
        } else if (req->body_len > FAKE_FC_ASYNC_MAX) {
            fc_error(r, 413, "PayloadTooLarge", "payload of an asynchronous invocation over 128 KB");
            why = "payload over the asynchronous cap";
        } else {
            char rid[64];
            snprintf(rid, sizeof rid, "1-e2e%05lx-invoke-%08lx", f->seq + 1, f->seq + 1);
            r->status = 202;
            r->body = e2e_strdup("{}");
            fake_http_response_header(r, "x-fc-request-id", rid);
            for (int k = 0; k < (f->duplicate ? 2 : 1); k++) {
                FAKE_VEC_PUSH(f->queue, f->n_queue, f->cap_queue, e2e_strdup(body));
                FAKE_VEC_PUSH(f->attempts, f->n_attempts, f->cap_attempts, 1);
            }
        }
    }
    rec.credential_id = credential;
    rec.signed_headers = signed_headers;
    rec.problem = owned ? owned : e2e_strdup(why);
    rec.status = r->status;
    FAKE_VEC_PUSH(f->invokes, f->n_invokes, f->cap_invokes, rec);
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* ---- delivery ---- */

struct response_data {
    struct e2e_buf body;
    char *fc_status;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct response_data *d = userdata;
    e2e_buf_add(&d->body, data, size * nmemb);
    return size * nmemb;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct response_data *d = userdata;
    size_t n = size * nmemb;
    static const char name[] = "x-fc-status:";
    if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        const char *v = data + sizeof name - 1;
        size_t len = n - (sizeof name - 1);
        while (len > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            len--;
        }
        while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        free(d->fc_status);
        d->fc_status = e2e_xmalloc(len + 1);
        memcpy(d->fc_status, v, len);
        d->fc_status[len] = '\0';
    }
    return n;
}

/* Delivers one attempt, and queues FC's retry when it failed as FC counts
 * a function error: no answer (the instance died or timed out), or an
 * x-fc-status other than 200. Must not hold mu. */
static void deliver(struct fake_fc *f, const char *payload, const char *rid, int port, struct credential *role,
                    int attempt)
{
    struct fake_fc_delivery d = {.request_id = e2e_strdup(rid), .payload = e2e_strdup(payload),
                                 .attempt = attempt, .start_ms = e2e_mono_ms()};
    struct response_data rd = {0};
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char *lines[12];
    int nl = 0;
    lines[nl++] = e2e_strdup("x-fc-control-path: /invoke");
    lines[nl++] = e2e_printf("x-fc-request-id: %s", rid);
    lines[nl++] = e2e_strdup("Content-Type: application/octet-stream");
    lines[nl++] = e2e_printf("x-fc-function-name: %s", f->function_name);
    lines[nl++] = e2e_strdup("x-fc-function-handler: index.handler");
    lines[nl++] = e2e_strdup("x-fc-function-memory: 512");
    lines[nl++] = e2e_strdup("x-fc-function-timeout: 60");
    lines[nl++] = e2e_strdup("x-fc-region: " FAKE_FC_REGION);
    lines[nl++] = e2e_strdup("x-fc-account-id: " FAKE_FC_ACCOUNT_ID);
    if (role->id) {
        lines[nl++] = e2e_printf("x-fc-access-key-id: %s", role->id);
        lines[nl++] = e2e_printf("x-fc-access-key-secret: %s", role->secret);
        if (role->token)
            lines[nl++] = e2e_printf("x-fc-security-token: %s", role->token);
    }
    for (int i = 0; i < nl; i++)
        h = curl_slist_append(h, lines[i]);
    h = curl_slist_append(h, "Expect:");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/invoke", port);
    if (c) {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &rd);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &rd);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)e2e_ms((int)DELIVERY_TIMEOUT_MS));
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &d.status);
        curl_easy_cleanup(c);
    }
    curl_slist_free_all(h);
    for (int i = 0; i < nl; i++)
        free(lines[i]);
    d.response = e2e_buf_take(&rd.body);
    d.fc_status = rd.fc_status;
    d.end_ms = e2e_mono_ms();
    bool failed = d.status == 0 || !d.fc_status || strcmp(d.fc_status, "200") != 0;
    pthread_mutex_lock(&f->mu);
    FAKE_VEC_PUSH(f->deliveries, f->n_deliveries, f->cap_deliveries, d);
    if (failed && attempt < FAKE_FC_ASYNC_ATTEMPTS) {
        /* FC retries a failed asynchronous invocation. One that got no
         * answer lost its instance: the retry waits for a new one
         * (fake_fc_set_target), as FC starts one. */
        FAKE_VEC_PUSH(f->queue, f->n_queue, f->cap_queue, e2e_strdup(payload));
        FAKE_VEC_PUSH(f->attempts, f->n_attempts, f->cap_attempts, attempt + 1);
        if (d.status == 0)
            f->target_port = 0;
    }
    f->in_flight = false;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void *delivery_main(void *arg)
{
    struct fake_fc *f = arg;
    pthread_mutex_lock(&f->mu);
    while (!f->stopping) {
        if (f->hold || f->q_head >= f->n_queue || f->target_port <= 0) {
            fake_cond_wait_ms(&f->cv, &f->mu, 200);
            continue;
        }
        int attempt = f->attempts[f->q_head];
        char *payload = f->queue[f->q_head++];
        int port = f->target_port;
        char rid[64];
        f->seq++;
        snprintf(rid, sizeof rid, "1-e2e%05lx-event-%08lx", f->seq, f->seq);
        struct credential role = {e2e_strdup(f->role.id), e2e_strdup(f->role.secret), e2e_strdup(f->role.token)};
        f->in_flight = true;
        pthread_mutex_unlock(&f->mu);
        deliver(f, payload, rid, port, &role, attempt);
        free(role.id);
        free(role.secret);
        free(role.token);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* ---- life cycle ---- */

struct fake_fc *fake_fc_start(const char *function_name)
{
    struct fake_fc *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->function_name = e2e_strdup(function_name ? function_name : FAKE_FC_FUNCTION);
    pthread_mutex_init(&f->mu, NULL);
    fake_cond_init(&f->cv);
    f->http = fake_http_start(handle, f, 2 * 1024 * 1024);
    if (!f->http) {
        free(f->function_name);
        free(f);
        return NULL;
    }
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", fake_http_port(f->http));
    if (pthread_create(&f->thread, NULL, delivery_main, f) == 0)
        f->thread_started = true;
    return f;
}

static void cred_free(struct credential *c)
{
    free(c->id);
    free(c->secret);
    free(c->token);
    c->id = c->secret = c->token = NULL;
}

void fake_fc_stop(struct fake_fc *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (f->thread_started)
        pthread_join(f->thread, NULL);
    fake_http_stop(f->http);
    for (size_t i = 0; i < f->n_invokes; i++) {
        struct fake_fc_invoke *r = &f->invokes[i];
        free((char *)r->path);
        free((char *)r->qualifier);
        free((char *)r->invocation_type);
        free((char *)r->authorization);
        free((char *)r->credential_id);
        free((char *)r->security_token);
        free((char *)r->signed_headers);
        free((char *)r->nonce);
        free((char *)r->content_type);
        free((char *)r->body);
        free((char *)r->problem);
    }
    free(f->invokes);
    for (size_t i = 0; i < f->n_deliveries; i++) {
        struct fake_fc_delivery *d = &f->deliveries[i];
        free((char *)d->request_id);
        free((char *)d->payload);
        free((char *)d->fc_status);
        free((char *)d->response);
    }
    free(f->deliveries);
    for (size_t i = 0; i < f->n_queue; i++)
        free(f->queue[i]);
    free(f->queue);
    free(f->attempts);
    for (size_t i = 0; i < f->n_creds; i++)
        cred_free(&f->creds[i]);
    free(f->creds);
    cred_free(&f->role);
    for (size_t i = 0; i < f->n_nonces; i++)
        free(f->nonces[i]);
    free(f->nonces);
    free(f->faults);
    free(f->function_name);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

const char *fake_fc_url(const struct fake_fc *f) { return f->url; }

void fake_fc_add_credentials(struct fake_fc *f, const char *key_id, const char *secret, const char *token)
{
    pthread_mutex_lock(&f->mu);
    struct credential c = {e2e_strdup(key_id), e2e_strdup(secret), e2e_strdup(token)};
    FAKE_VEC_PUSH(f->creds, f->n_creds, f->cap_creds, c);
    pthread_mutex_unlock(&f->mu);
}

void fake_fc_set_role(struct fake_fc *f, const char *key_id, const char *secret, const char *token)
{
    pthread_mutex_lock(&f->mu);
    cred_free(&f->role);
    if (key_id)
        f->role = (struct credential){e2e_strdup(key_id), e2e_strdup(secret), e2e_strdup(token)};
    pthread_mutex_unlock(&f->mu);
}

void fake_fc_set_now(struct fake_fc *f, int64_t epoch_s)
{
    pthread_mutex_lock(&f->mu);
    f->now_s = epoch_s;
    pthread_mutex_unlock(&f->mu);
}

void fake_fc_set_target(struct fake_fc *f, int port)
{
    pthread_mutex_lock(&f->mu);
    f->target_port = port;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

void fake_fc_hold(struct fake_fc *f, bool hold)
{
    pthread_mutex_lock(&f->mu);
    f->hold = hold;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

void fake_fc_set_duplicate(struct fake_fc *f, bool on)
{
    pthread_mutex_lock(&f->mu);
    f->duplicate = on;
    pthread_mutex_unlock(&f->mu);
}

void fake_fc_fail_invokes(struct fake_fc *f, int status, int count)
{
    pthread_mutex_lock(&f->mu);
    struct fault ft = {.status = status, .count = count};
    FAKE_VEC_PUSH(f->faults, f->n_faults, f->cap_faults, ft);
    pthread_mutex_unlock(&f->mu);
}

/* ---- records and waits ---- */

static bool wait_count(struct fake_fc *f, const size_t *count, size_t n, int timeout_ms)
{
    pthread_mutex_lock(&f->mu);
    bool ok = fake_cond_wait_count(&f->cv, &f->mu, count, n, timeout_ms);
    pthread_mutex_unlock(&f->mu);
    return ok;
}

size_t fake_fc_invoke_count(struct fake_fc *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->n_invokes;
    pthread_mutex_unlock(&f->mu);
    return n;
}

size_t fake_fc_invoke_accepted(struct fake_fc *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = 0;
    for (size_t i = 0; i < f->n_invokes; i++)
        n += f->invokes[i].status == 202;
    pthread_mutex_unlock(&f->mu);
    return n;
}

bool fake_fc_invoke_at(struct fake_fc *f, size_t i, struct fake_fc_invoke *out)
{
    pthread_mutex_lock(&f->mu);
    bool ok = i < f->n_invokes;
    if (ok)
        *out = f->invokes[i];
    pthread_mutex_unlock(&f->mu);
    return ok;
}

bool fake_fc_wait_invokes(struct fake_fc *f, size_t n, int timeout_ms)
{
    return wait_count(f, &f->n_invokes, n, timeout_ms);
}

size_t fake_fc_delivery_count(struct fake_fc *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->n_deliveries;
    pthread_mutex_unlock(&f->mu);
    return n;
}

bool fake_fc_delivery_at(struct fake_fc *f, size_t i, struct fake_fc_delivery *out)
{
    pthread_mutex_lock(&f->mu);
    bool ok = i < f->n_deliveries;
    if (ok)
        *out = f->deliveries[i];
    pthread_mutex_unlock(&f->mu);
    return ok;
}

bool fake_fc_wait_deliveries(struct fake_fc *f, size_t n, int timeout_ms)
{
    return wait_count(f, &f->n_deliveries, n, timeout_ms);
}

size_t fake_fc_pending(struct fake_fc *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->n_queue - f->q_head + (f->in_flight ? 1 : 0);
    pthread_mutex_unlock(&f->mu);
    return n;
}

void fake_fc_dump(struct fake_fc *f)
{
    pthread_mutex_lock(&f->mu);
    fprintf(stderr, "---- fake FC: %zu invoke(s), %zu delivery(ies), %zu pending ----\n", f->n_invokes,
            f->n_deliveries, f->n_queue - f->q_head);
    for (size_t i = 0; i < f->n_invokes; i++) {
        const struct fake_fc_invoke *r = &f->invokes[i];
        fprintf(stderr, "  invoke %s%s%s type=%s cred=%s -> %d%s%s (%zu bytes)\n", r->path,
                r->qualifier ? "?qualifier=" : "", r->qualifier ? r->qualifier : "",
                r->invocation_type ? r->invocation_type : "(none)", r->credential_id ? r->credential_id : "(none)",
                r->status, r->problem ? ": " : "", r->problem ? r->problem : "", r->body_len);
    }
    for (size_t i = 0; i < f->n_deliveries; i++) {
        const struct fake_fc_delivery *d = &f->deliveries[i];
        fprintf(stderr, "  delivery %s -> %ld x-fc-status=%s %.300s\n", d->request_id, d->status,
                d->fc_status ? d->fc_status : "(none)", d->response ? d->response : "");
    }
    fprintf(stderr, "---- end of fake FC ----\n");
    pthread_mutex_unlock(&f->mu);
}

void fake_fc_dump_cb(void *f) { fake_fc_dump(f); }
void fake_fc_stop_cb(void *f) { fake_fc_stop(f); }
