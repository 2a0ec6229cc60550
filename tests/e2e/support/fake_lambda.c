/* fake_lambda.c - the Lambda Runtime API and Invoke API stand-in (see
 * fake_lambda.h).
 *
 * One mutex guards all state; server threads (one per connection) record
 * under it and broadcast the condition variable, on which both the long-poll
 * of GET next and the tests' waits sleep. Records are only appended and their
 * strings live until fake_lambda_stop(). */
#include "fake_lambda.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "e2e_util.h"
#include "fake_common.h"
#include "fake_http.h"
#include "fake_sig.h"

#define RUNTIME_PREFIX "/2018-06-01/runtime/"
#define INVOKE_PREFIX "/2015-03-31/functions/"
#define LONG_POLL_MAX_MS (280 * 1000) /* below ctest's timeout: every wait is bounded */
#define MAX_SKEW_S (5 * 60)

struct invocation {
    struct fake_lambda_invocation rec;
    int deadline_in_ms;
};

struct fault {
    int skip; /* invokes to accept before this one applies */
    int status;
    int count;
};

struct fake_lambda {
    struct fake_http *http;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    char runtime_api[32];
    char url[48];
    char *function_name, *region, *key_id, *secret, *token;
    int deadline_ms;
    int64_t now_s; /* the stand-in's "now" in Unix seconds; 0: the real clock */
    bool duplicate_invokes;
    unsigned long seq;

    struct invocation **invocations; /* pointers: records stay put while the array grows */
    size_t n_invocations, cap_invocations;
    size_t next_queued;              /* invocations before this index were handed out */
    size_t polls;
    int polling;                     /* GET next requests waiting right now */

    struct fake_lambda_init_error *init_errors;
    size_t n_init_errors, cap_init_errors;
    struct fake_lambda_invoke *invokes;
    size_t n_invokes, cap_invokes;
    struct fault *faults;
    size_t n_faults, cap_faults;
    char **problems;
    size_t n_problems, cap_problems;
};

static void problem(struct fake_lambda *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct fake_lambda *f, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    FAKE_VEC_PUSH(f->problems, f->n_problems, f->cap_problems, e2e_strdup(buf));
}

/* Lambda's error answers: {"Type":"User","message":...} plus x-amzn-ErrorType. */
static void aws_error(struct fake_http_response *r, int status, const char *type, const char *message)
{
    r->status = status;
    r->body = e2e_printf("{\"Type\":\"%s\",\"message\":\"%s\"}", status >= 500 ? "Service" : "User", message);
    fake_http_response_header(r, "x-amzn-ErrorType", type);
    fake_http_response_header(r, "x-amzn-RequestId", "00000000-0000-4000-8000-00000000e2e0");
}

/* Must hold mu. */
static struct invocation *queue_invocation(struct fake_lambda *f, const char *payload, bool from_invoke)
{
    struct invocation *inv = calloc(1, sizeof *inv);
    if (!inv)
        abort();
    unsigned long n = ++f->seq;
    char id[40];
    snprintf(id, sizeof id, "e2e0%04lx-0000-4000-8000-%012lx", n & 0xffff, n);
    inv->rec.request_id = e2e_strdup(id);
    inv->rec.payload = e2e_strdup(payload);
    inv->rec.from_invoke = from_invoke;
    inv->rec.attempt = 1;
    inv->deadline_in_ms = f->deadline_ms;
    FAKE_VEC_PUSH(f->invocations, f->n_invocations, f->cap_invocations, inv);
    pthread_cond_broadcast(&f->cv);
    return inv;
}

/* Lambda's retry of a failed asynchronous attempt, while attempts are left.
 * Must hold mu. */
static void retry_invocation(struct fake_lambda *f, const struct invocation *failed)
{
    if (!failed->rec.from_invoke || failed->rec.attempt >= FAKE_LAMBDA_ASYNC_ATTEMPTS)
        return;
    struct invocation *inv = queue_invocation(f, failed->rec.payload, true);
    inv->rec.attempt = failed->rec.attempt + 1;
    inv->rec.retry_of = failed->rec.request_id;
}

/* A GET next while an invocation handed out has no result: the runtime that
 * had it is gone (a runtime does one at a time). Lambda reports it as
 * Runtime.ExitError and retries it like any failed attempt. Must hold mu. */
static void end_abandoned(struct fake_lambda *f)
{
    size_t n = f->next_queued; /* retries queued here are not abandoned */
    for (size_t i = 0; i < n; i++) {
        struct invocation *inv = f->invocations[i];
        if (!inv->rec.delivered || inv->rec.result_kind)
            continue;
        inv->rec.result_kind = "exit";
        inv->rec.error_type = e2e_strdup("Runtime.ExitError");
        inv->rec.result = e2e_strdup("{\"errorType\":\"Runtime.ExitError\",\"errorMessage\":\"the runtime exited\"}");
        inv->rec.result_ms = e2e_mono_ms();
        inv->rec.result_wall_ms = e2e_now_ms();
        retry_invocation(f, inv);
    }
}

/* Must hold mu. */
static struct invocation *find_invocation(struct fake_lambda *f, const char *id, size_t id_len)
{
    for (size_t i = 0; i < f->n_invocations; i++) {
        const char *rid = f->invocations[i]->rec.request_id;
        if (strlen(rid) == id_len && strncmp(rid, id, id_len) == 0)
            return f->invocations[i];
    }
    return NULL;
}

/* ---- Runtime API ---- */

static void runtime_next(struct fake_lambda *f, const struct fake_http_request *req, struct fake_http_response *r)
{
    pthread_mutex_lock(&f->mu);
    end_abandoned(f);
    f->polls++;
    f->polling++;
    pthread_cond_broadcast(&f->cv);
    int64_t give_up = e2e_mono_ms() + LONG_POLL_MAX_MS;
    /* A runtime killed while it waited closed its end: Lambda hands its
     * next invocation to the runtime that asks next, never to the dead one. */
    bool gone = false;
    while (!f->stopping && f->next_queued >= f->n_invocations && e2e_mono_ms() < give_up &&
           !(gone = fake_http_peer_gone(req)))
        fake_cond_wait_ms(&f->cv, &f->mu, 200);
    if (!gone)
        gone = fake_http_peer_gone(req);
    f->polling--;
    if (f->stopping || gone || f->next_queued >= f->n_invocations) {
        pthread_mutex_unlock(&f->mu);
        fake_http_respond(r, 500, "{\"errorMessage\":\"fake Lambda is stopping\","
                                  "\"errorType\":\"ServiceException\"}");
        return;
    }
    struct invocation *inv = f->invocations[f->next_queued++];
    inv->rec.delivered = true;
    inv->rec.delivered_ms = e2e_mono_ms();
    inv->rec.delivered_wall_ms = e2e_now_ms();
    inv->rec.deadline_wall_ms = inv->rec.delivered_wall_ms + inv->deadline_in_ms;
    char deadline[32], arn[256];
    snprintf(deadline, sizeof deadline, "%lld", (long long)inv->rec.deadline_wall_ms);
    snprintf(arn, sizeof arn, "arn:aws:lambda:%s:123456789012:function:%s", f->region, f->function_name);
    r->status = 200;
    r->body = e2e_strdup(inv->rec.payload);
    fake_http_response_header(r, "Lambda-Runtime-Aws-Request-Id", inv->rec.request_id);
    fake_http_response_header(r, "Lambda-Runtime-Deadline-Ms", deadline);
    fake_http_response_header(r, "Lambda-Runtime-Invoked-Function-Arn", arn);
    fake_http_response_header(r, "Lambda-Runtime-Trace-Id",
                              "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void runtime_result(struct fake_lambda *f, const struct fake_http_request *req, const char *rest,
                           struct fake_http_response *r)
{
    /* rest: "{id}/response" or "{id}/error" */
    const char *slash = strchr(rest, '/');
    const char *kind = slash ? slash + 1 : "";
    bool is_response = strcmp(kind, "response") == 0, is_error = strcmp(kind, "error") == 0;
    pthread_mutex_lock(&f->mu);
    if (!slash || (!is_response && !is_error)) {
        problem(f, "POST %s: not a Runtime API path", req->path);
        pthread_mutex_unlock(&f->mu);
        fake_http_respond(r, 404, "{\"errorMessage\":\"Unknown path\",\"errorType\":\"InvalidRequest\"}");
        return;
    }
    struct invocation *inv = find_invocation(f, rest, (size_t)(slash - rest));
    if (!inv || !inv->rec.delivered) {
        problem(f, "POST %s: no invocation %.*s was handed out", req->path, (int)(slash - rest), rest);
        pthread_mutex_unlock(&f->mu);
        fake_http_respond(r, 400,
                          "{\"errorMessage\":\"Invalid request ID\",\"errorType\":\"InvalidRequestID\"}");
        return;
    }
    inv->rec.n_results++;
    if (inv->rec.n_results > 1) {
        problem(f, "POST %s: invocation %s already has a %s", req->path, inv->rec.request_id,
                inv->rec.result_kind);
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        fake_http_respond(r, 400,
                          "{\"errorMessage\":\"Invalid request ID\",\"errorType\":\"InvalidRequestID\"}");
        return;
    }
    inv->rec.result_kind = is_response ? "response" : "error";
    inv->rec.result = e2e_strdup(req->body);
    const char *et = fake_http_header(req, "Lambda-Runtime-Function-Error-Type");
    inv->rec.error_type = e2e_strdup(et);
    inv->rec.result_ms = e2e_mono_ms();
    inv->rec.result_wall_ms = e2e_now_ms();
    if (is_error)
        retry_invocation(f, inv);
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    fake_http_respond(r, 202, "{\"status\":\"OK\"}");
}

static void runtime_init_error(struct fake_lambda *f, const struct fake_http_request *req,
                               struct fake_http_response *r)
{
    pthread_mutex_lock(&f->mu);
    struct fake_lambda_init_error e = {
        .body = e2e_strdup(req->body),
        .error_type = e2e_strdup(fake_http_header(req, "Lambda-Runtime-Function-Error-Type")),
        .at_ms = e2e_mono_ms(),
    };
    FAKE_VEC_PUSH(f->init_errors, f->n_init_errors, f->cap_init_errors, e);
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    fake_http_respond(r, 202, "{\"status\":\"OK\"}");
}

/* ---- SigV4 verification ---- */

/* Whether `name` is one of the ';'-separated names of `list`. */
static bool lists(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p; p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && (p[n] == ';' || p[n] == '\0'))
            return true;
    return false;
}

/* Recomputes the signature of the request that arrived with the stand-ins'
 * own implementation of SigV4 (fake_sig.h), never with the bot's signer.
 * Returns NULL when it is right, else the reason (static or malloc'd into
 * *owned). */
static const char *verify_sigv4(struct fake_lambda *f, const struct fake_http_request *req, char **owned,
                                char **signed_headers_out)
{
    *owned = NULL;
    const char *auth = fake_http_header(req, "Authorization");
    const char *date = fake_http_header(req, "X-Amz-Date");
    const char *host = fake_http_header(req, "Host");
    const char *token = fake_http_header(req, "X-Amz-Security-Token");
    if (!auth || strncmp(auth, "AWS4-HMAC-SHA256 ", 17) != 0)
        return "no AWS4-HMAC-SHA256 Authorization header";
    if (!date)
        return "no X-Amz-Date header";
    if (!host)
        return "no Host header";
    char *credential = fake_auth_param(auth, "Credential");
    char *signed_headers = fake_auth_param(auth, "SignedHeaders");
    char *signature = fake_auth_param(auth, "Signature");
    *signed_headers_out = e2e_strdup(signed_headers);
    const char *why = NULL;
    int64_t epoch = 0;
    char scope[256], want_credential[320], want[65];
    char *creq = NULL, *want_auth = NULL;

    if (!credential || !signed_headers || !signature) {
        why = "the Authorization header lacks Credential, SignedHeaders or Signature";
        goto out;
    }
    if (!fake_parse_utc(date, FAKE_UTC_BASIC, &epoch)) {
        why = "X-Amz-Date is not YYYYMMDDTHHMMSSZ";
        goto out;
    }
    int64_t now = f->now_s ? f->now_s : e2e_now_ms() / 1000;
    if (epoch < now - MAX_SKEW_S || epoch > now + MAX_SKEW_S) {
        why = "X-Amz-Date is more than 5 minutes away from now (InvalidSignatureException: Signature expired)";
        goto out;
    }
    snprintf(scope, sizeof scope, "%.8s/%s/lambda/aws4_request", date, f->region);
    snprintf(want_credential, sizeof want_credential, "%s/%s", f->key_id, scope);
    if (strcmp(credential, want_credential) != 0) {
        *owned = e2e_printf("Credential is %s, want %s", credential, want_credential);
        why = *owned;
        goto out;
    }
    if (!token || strcmp(token, f->token) != 0) {
        why = token ? "X-Amz-Security-Token is not the session token (UnrecognizedClientException)"
                    : "no X-Amz-Security-Token header (the credentials are temporary: the token is needed)";
        goto out;
    }
    if (!lists(signed_headers, "host") || !lists(signed_headers, "x-amz-date") ||
        !lists(signed_headers, "x-amz-security-token")) {
        why = "host, x-amz-date and x-amz-security-token must be signed";
        goto out;
    }
    char *reason = NULL;
    creq = fake_sig_canonical_request(FAKE_SIG_AWS4, req, signed_headers, &reason);
    if (!creq) {
        *owned = reason;
        why = *owned;
        goto out;
    }
    fake_sig_signature(FAKE_SIG_AWS4, f->secret, date, scope, creq, want);
    if (strcmp(signature, want) != 0) {
        *owned = e2e_printf("signature mismatch (SignatureDoesNotMatch): got %s, want %s; canonical request:\n%s",
                            signature, want, creq);
        why = *owned;
        goto out;
    }
    want_auth = e2e_printf("AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=%s, Signature=%s", want_credential,
                           signed_headers, want);
    if (strcmp(want_auth, auth) != 0) {
        *owned = e2e_printf("Authorization is not in the canonical form: got \"%s\", want \"%s\"", auth, want_auth);
        why = *owned;
        goto out;
    }
out:
    free(creq);
    free(want_auth);
    free(credential);
    free(signed_headers);
    free(signature);
    return why;
}

/* ---- Invoke API ---- */

static void invoke(struct fake_lambda *f, const struct fake_http_request *req, struct fake_http_response *r)
{
    struct fake_lambda_invoke rec = {
        .path = e2e_strdup(req->path),
        .invocation_type = e2e_strdup(fake_http_header(req, "X-Amz-Invocation-Type")),
        .authorization = e2e_strdup(fake_http_header(req, "Authorization")),
        .amz_date = e2e_strdup(fake_http_header(req, "X-Amz-Date")),
        .security_token = e2e_strdup(fake_http_header(req, "X-Amz-Security-Token")),
        .content_type = e2e_strdup(fake_http_header(req, "Content-Type")),
        .at_ms = e2e_mono_ms(),
    };
    char *body = fake_http_body_dup(req);
    rec.body = body;
    rec.body_len = req->body_len;

    char *owned = NULL, *signed_headers = NULL;
    const char *why = NULL;
    char want_path[512];
    snprintf(want_path, sizeof want_path, INVOKE_PREFIX "%s/invocations", f->function_name);
    if (strcmp(req->method, "POST") != 0 || strcmp(req->path, want_path) != 0) {
        aws_error(r, 404, "ResourceNotFoundException", "Function not found");
        why = "not POST /2015-03-31/functions/<this function>/invocations";
    } else if (!rec.invocation_type || strcmp(rec.invocation_type, "Event") != 0) {
        aws_error(r, 400, "InvalidParameterValueException",
                  "the stand-in takes asynchronous invokes only (X-Amz-Invocation-Type: Event)");
        why = "X-Amz-Invocation-Type is not Event";
    } else if ((why = verify_sigv4(f, req, &owned, &signed_headers)) != NULL) {
        aws_error(r, 403, "InvalidSignatureException",
                  "The request signature we calculated does not match the signature you provided.");
    } else {
        rec.signature_ok = true;
    }
    rec.signed_headers = signed_headers;

    pthread_mutex_lock(&f->mu);
    if (!why) {
        if (f->n_faults > 0 && f->faults[0].skip > 0)
            f->faults[0].skip--;
        else if (f->n_faults > 0) {
            struct fault *ft = &f->faults[0];
            aws_error(r, ft->status, ft->status == 429 ? "TooManyRequestsException" : "ServiceException",
                      ft->status == 429 ? "Rate Exceeded." : "scripted failure");
            why = "scripted failure";
            if (--ft->count <= 0) {
                memmove(f->faults, f->faults + 1, (f->n_faults - 1) * sizeof *f->faults);
                f->n_faults--;
            }
        }
        if (why) {
            /* a scripted failure */
        } else if (req->body_len > FAKE_LAMBDA_ASYNC_MAX) {
            aws_error(r, 413, "RequestEntityTooLargeException", "Request must be smaller than 262144 bytes");
            why = "payload over the asynchronous cap";
        } else {
            struct invocation *inv = queue_invocation(f, body, true);
            rec.request_id = inv->rec.request_id;
            if (f->duplicate_invokes)
                queue_invocation(f, body, true);
            r->status = 202;
            r->body = e2e_strdup("");
            fake_http_response_header(r, "x-amzn-RequestId", rec.request_id);
        }
    }
    rec.problem = owned ? owned : e2e_strdup(why);
    rec.status = r->status;
    FAKE_VEC_PUSH(f->invokes, f->n_invokes, f->cap_invokes, rec);
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void handle(void *ctx, const struct fake_http_request *req, struct fake_http_response *r)
{
    struct fake_lambda *f = ctx;
    if (fake_starts_with(req->path, INVOKE_PREFIX)) {
        invoke(f, req, r);
        return;
    }
    if (strcmp(req->method, "GET") == 0 && strcmp(req->path, RUNTIME_PREFIX "invocation/next") == 0) {
        runtime_next(f, req, r);
        return;
    }
    if (strcmp(req->method, "POST") == 0 && strcmp(req->path, RUNTIME_PREFIX "init/error") == 0) {
        runtime_init_error(f, req, r);
        return;
    }
    if (strcmp(req->method, "POST") == 0 && fake_starts_with(req->path, RUNTIME_PREFIX "invocation/")) {
        runtime_result(f, req, req->path + strlen(RUNTIME_PREFIX "invocation/"), r);
        return;
    }
    pthread_mutex_lock(&f->mu);
    problem(f, "%s %s: not a Runtime API or Invoke path", req->method, req->path);
    pthread_mutex_unlock(&f->mu);
    fake_http_respond(r, 404, "{\"errorMessage\":\"Unknown path\",\"errorType\":\"InvalidRequest\"}");
}

/* ---- life cycle ---- */

struct fake_lambda *fake_lambda_start(const struct fake_lambda_config *cfg)
{
    struct fake_lambda *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    struct fake_lambda_config c = cfg ? *cfg : (struct fake_lambda_config){0};
    f->function_name = e2e_strdup(c.function_name ? c.function_name : FAKE_LAMBDA_FUNCTION);
    f->region = e2e_strdup(c.region ? c.region : FAKE_AWS_REGION);
    f->key_id = e2e_strdup(c.access_key_id ? c.access_key_id : FAKE_AWS_ACCESS_KEY_ID);
    f->secret = e2e_strdup(c.secret_access_key ? c.secret_access_key : FAKE_AWS_SECRET_ACCESS_KEY);
    f->token = e2e_strdup(c.session_token ? c.session_token : FAKE_AWS_SESSION_TOKEN);
    f->deadline_ms = 60000;
    pthread_mutex_init(&f->mu, NULL);
    fake_cond_init(&f->cv);
    /* Room for a 1 MiB webhook inside an event, base64 and all. */
    f->http = fake_http_start(handle, f, 8 * 1024 * 1024);
    if (!f->http) {
        free(f);
        return NULL;
    }
    snprintf(f->runtime_api, sizeof f->runtime_api, "127.0.0.1:%d", fake_http_port(f->http));
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", fake_http_port(f->http));
    return f;
}

void fake_lambda_stop(struct fake_lambda *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    fake_http_stop(f->http); /* joins the connection threads: long polls end above */
    for (size_t i = 0; i < f->n_invocations; i++) {
        struct fake_lambda_invocation *r = &f->invocations[i]->rec;
        free((char *)r->request_id);
        free((char *)r->payload);
        free((char *)r->result);
        free((char *)r->error_type);
        free(f->invocations[i]);
    }
    free(f->invocations);
    for (size_t i = 0; i < f->n_init_errors; i++) {
        free((char *)f->init_errors[i].body);
        free((char *)f->init_errors[i].error_type);
    }
    free(f->init_errors);
    for (size_t i = 0; i < f->n_invokes; i++) {
        struct fake_lambda_invoke *r = &f->invokes[i];
        free((char *)r->path);
        free((char *)r->invocation_type);
        free((char *)r->authorization);
        free((char *)r->amz_date);
        free((char *)r->security_token);
        free((char *)r->content_type);
        free((char *)r->signed_headers);
        free((char *)r->body);
        free((char *)r->problem);
    }
    free(f->invokes);
    free(f->faults);
    for (size_t i = 0; i < f->n_problems; i++)
        free(f->problems[i]);
    free(f->problems);
    free(f->function_name);
    free(f->region);
    free(f->key_id);
    free(f->secret);
    free(f->token);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

const char *fake_lambda_runtime_api(const struct fake_lambda *f) { return f->runtime_api; }
const char *fake_lambda_url(const struct fake_lambda *f) { return f->url; }

void fake_lambda_set_deadline(struct fake_lambda *f, int ms)
{
    pthread_mutex_lock(&f->mu);
    f->deadline_ms = ms;
    pthread_mutex_unlock(&f->mu);
}

void fake_lambda_set_now(struct fake_lambda *f, int64_t epoch_s)
{
    pthread_mutex_lock(&f->mu);
    f->now_s = epoch_s;
    pthread_mutex_unlock(&f->mu);
}

void fake_lambda_set_duplicate_invokes(struct fake_lambda *f, bool on)
{
    pthread_mutex_lock(&f->mu);
    f->duplicate_invokes = on;
    pthread_mutex_unlock(&f->mu);
}

void fake_lambda_fail_invokes(struct fake_lambda *f, int status, int count)
{
    fake_lambda_fail_invokes_after(f, 0, status, count);
}

void fake_lambda_fail_invokes_after(struct fake_lambda *f, int skip, int status, int count)
{
    pthread_mutex_lock(&f->mu);
    struct fault ft = {.skip = skip, .status = status, .count = count};
    FAKE_VEC_PUSH(f->faults, f->n_faults, f->cap_faults, ft);
    pthread_mutex_unlock(&f->mu);
}

const char *fake_lambda_enqueue(struct fake_lambda *f, const char *payload)
{
    pthread_mutex_lock(&f->mu);
    const char *id = queue_invocation(f, payload, false)->rec.request_id;
    pthread_mutex_unlock(&f->mu);
    return id;
}

/* ---- records and waits ---- */

/* Waits on cv until pred(f, arg) or timeout; must hold mu. */
static bool wait_until(struct fake_lambda *f, bool (*pred)(void *ctx, const void *arg), const void *arg,
                       int timeout_ms)
{
    return fake_cond_wait_until(&f->cv, &f->mu, timeout_ms, pred, f, arg);
}

size_t fake_lambda_invocation_count(struct fake_lambda *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->n_invocations;
    pthread_mutex_unlock(&f->mu);
    return n;
}

bool fake_lambda_invocation_at(struct fake_lambda *f, size_t i, struct fake_lambda_invocation *out)
{
    pthread_mutex_lock(&f->mu);
    bool ok = i < f->n_invocations;
    if (ok)
        *out = f->invocations[i]->rec;
    pthread_mutex_unlock(&f->mu);
    return ok;
}

bool fake_lambda_invocation(struct fake_lambda *f, const char *request_id, struct fake_lambda_invocation *out)
{
    pthread_mutex_lock(&f->mu);
    struct invocation *inv = find_invocation(f, request_id, strlen(request_id));
    if (inv)
        *out = inv->rec;
    pthread_mutex_unlock(&f->mu);
    return inv != NULL;
}

static bool has_result(void *ctx, const void *arg)
{
    struct invocation *inv = find_invocation(ctx, arg, strlen(arg));
    return inv && inv->rec.result_kind;
}

bool fake_lambda_wait_result(struct fake_lambda *f, const char *request_id, int timeout_ms)
{
    pthread_mutex_lock(&f->mu);
    bool ok = wait_until(f, has_result, request_id, timeout_ms);
    pthread_mutex_unlock(&f->mu);
    return ok;
}

static bool is_idle(void *ctx, const void *arg)
{
    const struct fake_lambda *f = ctx;
    (void)arg;
    return f->polling > 0 && f->next_queued >= f->n_invocations;
}

bool fake_lambda_wait_idle(struct fake_lambda *f, int timeout_ms)
{
    pthread_mutex_lock(&f->mu);
    bool ok = wait_until(f, is_idle, NULL, timeout_ms);
    pthread_mutex_unlock(&f->mu);
    return ok;
}

size_t fake_lambda_poll_count(struct fake_lambda *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->polls;
    pthread_mutex_unlock(&f->mu);
    return n;
}

size_t fake_lambda_init_error_count(struct fake_lambda *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->n_init_errors;
    pthread_mutex_unlock(&f->mu);
    return n;
}

bool fake_lambda_init_error_at(struct fake_lambda *f, size_t i, struct fake_lambda_init_error *out)
{
    pthread_mutex_lock(&f->mu);
    bool ok = i < f->n_init_errors;
    if (ok)
        *out = f->init_errors[i];
    pthread_mutex_unlock(&f->mu);
    return ok;
}

static bool has_init_error(void *ctx, const void *arg)
{
    const struct fake_lambda *f = ctx;
    (void)arg;
    return f->n_init_errors > 0;
}

bool fake_lambda_wait_init_error(struct fake_lambda *f, int timeout_ms)
{
    pthread_mutex_lock(&f->mu);
    bool ok = wait_until(f, has_init_error, NULL, timeout_ms);
    pthread_mutex_unlock(&f->mu);
    return ok;
}

size_t fake_lambda_invoke_count(struct fake_lambda *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->n_invokes;
    pthread_mutex_unlock(&f->mu);
    return n;
}

size_t fake_lambda_invoke_accepted(struct fake_lambda *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = 0;
    for (size_t i = 0; i < f->n_invokes; i++)
        n += f->invokes[i].status == 202;
    pthread_mutex_unlock(&f->mu);
    return n;
}

bool fake_lambda_invoke_at(struct fake_lambda *f, size_t i, struct fake_lambda_invoke *out)
{
    pthread_mutex_lock(&f->mu);
    bool ok = i < f->n_invokes;
    if (ok)
        *out = f->invokes[i];
    pthread_mutex_unlock(&f->mu);
    return ok;
}

bool fake_lambda_wait_invokes(struct fake_lambda *f, size_t n, int timeout_ms)
{
    pthread_mutex_lock(&f->mu);
    bool ok = fake_cond_wait_count(&f->cv, &f->mu, &f->n_invokes, n, timeout_ms);
    pthread_mutex_unlock(&f->mu);
    return ok;
}

char *fake_lambda_problems(struct fake_lambda *f)
{
    pthread_mutex_lock(&f->mu);
    char *out = NULL;
    if (f->n_problems) {
        struct e2e_buf b = {0};
        for (size_t i = 0; i < f->n_problems; i++)
            e2e_buf_addf(&b, "%s%s", i ? "\n" : "", f->problems[i]);
        out = e2e_buf_take(&b);
    }
    pthread_mutex_unlock(&f->mu);
    return out;
}

void fake_lambda_dump(struct fake_lambda *f)
{
    pthread_mutex_lock(&f->mu);
    fprintf(stderr, "---- fake Lambda: %zu invocation(s), %zu poll(s), %zu invoke(s), %zu init error(s) ----\n",
            f->n_invocations, f->polls, f->n_invokes, f->n_init_errors);
    for (size_t i = 0; i < f->n_invocations; i++) {
        const struct fake_lambda_invocation *r = &f->invocations[i]->rec;
        fprintf(stderr, "  invocation %s (%s, attempt %d%s%s)%s: %.300s\n    -> %s %.300s\n", r->request_id,
                r->from_invoke ? "async invoke" : "test", r->attempt, r->retry_of ? ", retry of " : "",
                r->retry_of ? r->retry_of : "", r->delivered ? "" : " [not delivered]", r->payload,
                r->result_kind ? r->result_kind : "(no result)", r->result ? r->result : "");
    }
    for (size_t i = 0; i < f->n_invokes; i++) {
        const struct fake_lambda_invoke *r = &f->invokes[i];
        fprintf(stderr, "  invoke %s type=%s -> %d%s%s (%zu bytes)\n", r->path,
                r->invocation_type ? r->invocation_type : "(none)", r->status, r->problem ? ": " : "",
                r->problem ? r->problem : "", r->body_len);
    }
    for (size_t i = 0; i < f->n_init_errors; i++)
        fprintf(stderr, "  init/error %s: %s\n", f->init_errors[i].error_type ? f->init_errors[i].error_type : "",
                f->init_errors[i].body);
    for (size_t i = 0; i < f->n_problems; i++)
        fprintf(stderr, "  PROBLEM: %s\n", f->problems[i]);
    fprintf(stderr, "---- end of fake Lambda ----\n");
    pthread_mutex_unlock(&f->mu);
}

void fake_lambda_dump_cb(void *f) { fake_lambda_dump(f); }
void fake_lambda_stop_cb(void *f) { fake_lambda_stop(f); }
