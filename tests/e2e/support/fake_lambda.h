/* fake_lambda.h - a loopback stand-in for AWS Lambda: the Runtime API a custom
 * runtime talks to, and the Invoke API of the function itself, on one port.
 *
 * Runtime API (AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>):
 *   GET  /2018-06-01/runtime/invocation/next      long-polls the queue of
 *        invocations; answers the event with Lambda-Runtime-Aws-Request-Id,
 *        Lambda-Runtime-Deadline-Ms (epoch ms), Lambda-Runtime-Invoked-Function-Arn
 *        and Lambda-Runtime-Trace-Id
 *   POST /2018-06-01/runtime/invocation/{id}/response   -> 202
 *   POST /2018-06-01/runtime/invocation/{id}/error      -> 202
 *   POST /2018-06-01/runtime/init/error                 -> 202
 *   An unknown request id, or a second result for one invocation, is answered
 *   400 and recorded as a problem (fake_lambda_problems()).
 *
 * Invoke API (AWS_ENDPOINT_URL_LAMBDA=http://127.0.0.1:<port>):
 *   POST /2015-03-31/functions/{name}/invocations
 *   checks, in order: the function name (404 ResourceNotFoundException),
 *   X-Amz-Invocation-Type: Event (400: this stand-in only does asynchronous
 *   invokes), the SigV4 signature (403): the credential scope must name the
 *   fake's key, region and "lambda"; X-Amz-Date must be within 5 minutes of
 *   now (the real clock, or fake_lambda_set_now); X-Amz-Security-Token must
 *   be the session token; host, x-amz-date and x-amz-security-token must be
 *   signed; and the Authorization header is recomputed from what arrived -
 *   method, Host, path, query, the headers named in SignedHeaders, the body -
 *   by the stand-ins' own implementation of SigV4 (fake_sig.h), never by the
 *   bot's signer, and must match exactly.
 *   Then a scripted failure if one is queued (fake_lambda_fail_invokes), then
 *   the 256 KiB asynchronous payload cap (413). Otherwise 202, and the payload
 *   is queued as a new invocation, which is how Lambda delivers an
 *   asynchronous invoke (twice with fake_lambda_set_duplicate_invokes: Lambda
 *   may deliver an asynchronous event more than once).
 *
 * Retries, as Lambda does for an asynchronous invocation that fails (by
 * default two more attempts; Lambda waits one minute, then two, the stand-in
 * queues the retry at once): an invocation queued by an Invoke is queued
 * again, as a new invocation with `attempt` + 1 and `retry_of` set, when
 *   - the runtime posts its error, or
 *   - the runtime died in it: a GET next arrives while an invocation handed
 *     out has no result. A runtime does one invocation at a time, so only a
 *     new runtime (the bot restarted, as Lambda starts a new one) asks then.
 *     The dead attempt ends as result_kind "exit" (Runtime.ExitError), with
 *     no result of the runtime's own (n_results 0).
 * Invocations queued by the test are never retried (they stand for API
 * Gateway's synchronous calls).
 *
 * Thread-safe; waits sleep on a condition variable. Strings in the record
 * structs stay valid until fake_lambda_stop(). */
#ifndef E2E_FAKE_LAMBDA_H
#define E2E_FAKE_LAMBDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Test credentials (the runtime's temporary credentials in real life). */
#define FAKE_AWS_REGION "ap-northeast-1"
#define FAKE_AWS_ACCESS_KEY_ID "ASIAE2ETESTKEY000001"
#define FAKE_AWS_SECRET_ACCESS_KEY "e2e/SecretAccessKey+0123456789abcdefghijk"
#define FAKE_AWS_SESSION_TOKEN "IQoJb3JpZ2luX2VjE2e2eSessionToken//with+slash/and=equals"
#define FAKE_LAMBDA_FUNCTION "linebot-e2e"
#define FAKE_LAMBDA_ASYNC_MAX (256 * 1024)
#define FAKE_LAMBDA_ASYNC_ATTEMPTS 3 /* the first and Lambda's default two retries */

struct fake_lambda;

struct fake_lambda_config {
    const char *function_name;     /* default FAKE_LAMBDA_FUNCTION */
    const char *region;            /* default FAKE_AWS_REGION */
    const char *access_key_id;     /* default FAKE_AWS_ACCESS_KEY_ID */
    const char *secret_access_key; /* default FAKE_AWS_SECRET_ACCESS_KEY */
    const char *session_token;     /* default FAKE_AWS_SESSION_TOKEN */
};

/* `cfg` may be NULL (all defaults). NULL on failure. */
struct fake_lambda *fake_lambda_start(const struct fake_lambda_config *cfg);
void fake_lambda_stop(struct fake_lambda *f);
const char *fake_lambda_runtime_api(const struct fake_lambda *f); /* "127.0.0.1:<port>" */
const char *fake_lambda_url(const struct fake_lambda *f);         /* "http://127.0.0.1:<port>" */

/* Invocations queued from now on get a deadline `ms` after their delivery
 * (default 60000). */
void fake_lambda_set_deadline(struct fake_lambda *f, int ms);
/* Pins the stand-in's "now" (Unix seconds) for the X-Amz-Date check, so a
 * request signed at a fixed time (a literal test vector) is in date; 0: the
 * real clock again. */
void fake_lambda_set_now(struct fake_lambda *f, int64_t epoch_s);
/* Accepted asynchronous invokes are queued twice (Lambda's at-least-once). */
void fake_lambda_set_duplicate_invokes(struct fake_lambda *f, bool on);
/* The next `count` invokes that pass the checks are answered `status` (500,
 * 429, ...) with Lambda's error body, and not queued. Calls queue up in order. */
void fake_lambda_fail_invokes(struct fake_lambda *f, int status, int count);
/* The same, after `skip` more invokes have passed the checks and been accepted. */
void fake_lambda_fail_invokes_after(struct fake_lambda *f, int skip, int status, int count);

/* Queues an invocation whose event is `payload`; returns its request id (a
 * UUID, valid until stop). */
const char *fake_lambda_enqueue(struct fake_lambda *f, const char *payload);

struct fake_lambda_invocation {
    const char *request_id;
    const char *payload;
    bool from_invoke;         /* queued by an asynchronous Invoke (not by the test) */
    int attempt;              /* 1, or 2 and 3 for Lambda's retries of an Invoke's event */
    const char *retry_of;     /* the failed attempt's request id, or NULL */
    bool delivered;           /* handed out by GET next */
    int64_t delivered_ms;     /* e2e_mono_ms() */
    int64_t delivered_wall_ms;/* e2e_now_ms() */
    int64_t deadline_wall_ms; /* the Lambda-Runtime-Deadline-Ms sent */
    const char *result_kind;  /* NULL while none, "response", "error" or "exit" (the runtime died) */
    const char *result;       /* the body of the first result */
    const char *error_type;   /* Lambda-Runtime-Function-Error-Type of an error, or NULL */
    int n_results;            /* more than 1 is a problem */
    int64_t result_ms;        /* e2e_mono_ms() */
    int64_t result_wall_ms;   /* e2e_now_ms() */
};

size_t fake_lambda_invocation_count(struct fake_lambda *f);
bool fake_lambda_invocation_at(struct fake_lambda *f, size_t i, struct fake_lambda_invocation *out);
bool fake_lambda_invocation(struct fake_lambda *f, const char *request_id,
                            struct fake_lambda_invocation *out);
/* Waits until invocation `request_id` has a result (response or error). */
bool fake_lambda_wait_result(struct fake_lambda *f, const char *request_id, int timeout_ms);
/* Waits until the runtime waits in GET next with nothing queued: every
 * invocation so far is finished (the runtime does one at a time). */
bool fake_lambda_wait_idle(struct fake_lambda *f, int timeout_ms);
/* GET next requests received so far. */
size_t fake_lambda_poll_count(struct fake_lambda *f);

struct fake_lambda_init_error {
    const char *body;
    const char *error_type; /* Lambda-Runtime-Function-Error-Type, or NULL */
    int64_t at_ms;
};
size_t fake_lambda_init_error_count(struct fake_lambda *f);
bool fake_lambda_init_error_at(struct fake_lambda *f, size_t i, struct fake_lambda_init_error *out);
bool fake_lambda_wait_init_error(struct fake_lambda *f, int timeout_ms);

/* One request to the Invoke API, whatever the answer. */
struct fake_lambda_invoke {
    const char *path;
    const char *invocation_type; /* X-Amz-Invocation-Type, or NULL */
    const char *authorization;
    const char *amz_date;
    const char *security_token;  /* X-Amz-Security-Token, or NULL */
    const char *content_type;
    const char *signed_headers;  /* from the Authorization header */
    const char *body;
    size_t body_len;
    bool signature_ok;
    const char *problem;         /* why it was refused, or NULL */
    int status;                  /* what the fake answered */
    const char *request_id;      /* the invocation it became (the first, when duplicated), or NULL */
    int64_t at_ms;               /* e2e_mono_ms() */
};
size_t fake_lambda_invoke_count(struct fake_lambda *f);
/* Invokes answered 202. */
size_t fake_lambda_invoke_accepted(struct fake_lambda *f);
bool fake_lambda_invoke_at(struct fake_lambda *f, size_t i, struct fake_lambda_invoke *out);
bool fake_lambda_wait_invokes(struct fake_lambda *f, size_t n, int timeout_ms);

/* Protocol problems seen (unknown request ids, double results, bad paths),
 * joined with '\n' (malloc'd), or NULL when none. */
char *fake_lambda_problems(struct fake_lambda *f);

/* Prints everything recorded (for a failing test's log). */
void fake_lambda_dump(struct fake_lambda *f);

/* For world_add_fake(). */
void fake_lambda_dump_cb(void *f);
void fake_lambda_stop_cb(void *f);

#endif
