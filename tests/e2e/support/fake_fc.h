/* fake_fc.h - a loopback stand-in for Alibaba Cloud Function Compute 3.0:
 * the InvokeFunction API (LINEBOT_FC_ENDPOINT=http://127.0.0.1:<port>) and
 * the platform side of asynchronous invocations, which it delivers to the
 * custom runtime as event invocations.
 *
 *   POST /2023-03-30/functions/{name}/invocations[?qualifier=...]
 *
 * checks, in order: path and function name (404 FunctionNotFound),
 * x-fc-invocation-type: Async (400: this stand-in only takes asynchronous
 * invocations), x-acs-action InvokeFunction and x-acs-version 2023-03-30, and
 * the ACS3-HMAC-SHA256 signature (403 SignatureDoesNotMatch / InvalidAccessKeyId):
 * the Credential must be a registered AccessKey id, x-acs-security-token
 * must be that key's STS token (and absent for a key without one) with
 * x-acs-accesskey-id naming the key, the x-acs-signature-nonce must not have
 * been used before, x-acs-date must be within 15 minutes of now (the real
 * clock, or fake_fc_set_now), x-acs-content-sha256 must be the body's hash,
 * SignedHeaders must be exactly what Alibaba's SDK signs (content-type, host
 * and the x-acs-* headers, so x-fc-invocation-type unsigned), and the
 * Signature is recomputed over what arrived by the stand-ins' own
 * implementation of the V3 method (fake_sig.h), never by the bot's signer.
 * Then a scripted failure, if one is queued, then FC's 128 KB cap on
 * asynchronous payloads (413). Otherwise 202 {} with x-fc-request-id, and
 * the payload is queued for delivery.
 *
 * Delivery (a thread of its own, one at a time, as FC's async queue does):
 *   POST http://127.0.0.1:<target>/invoke
 *   x-fc-control-path: /invoke, x-fc-request-id: <new id>,
 *   content-type: application/octet-stream, x-fc-function-name, x-fc-region,
 *   x-fc-account-id, and, when the function has a role (fake_fc_set_role),
 *   x-fc-access-key-id / -secret / x-fc-security-token.
 * The bot's status, x-fc-status header and body are recorded. Deliveries can
 * be held back (fake_fc_hold) to keep invocations apart in the log, and
 * doubled (FC, too, delivers asynchronous events at least once).
 *
 * Retries, as FC does for an asynchronous invocation whose function failed
 * (by default three more attempts): a delivery that got no answer (the
 * instance died) or an x-fc-status other than 200 is queued again, with
 * `attempt` + 1, at once. One that got no answer also forgets the target:
 * its retry waits for fake_fc_set_target, the new instance FC would start.
 *
 * Thread-safe; waits sleep on a condition variable. Strings in the record
 * structs stay valid until fake_fc_stop(). */
#ifndef E2E_FAKE_FC_H
#define E2E_FAKE_FC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAKE_FC_FUNCTION "linebot-e2e"
#define FAKE_FC_REGION "cn-hangzhou"
#define FAKE_FC_ACCOUNT_ID "1234567890123456"
#define FAKE_FC_ASYNC_MAX (128 * 1024)
#define FAKE_FC_ASYNC_ATTEMPTS 4 /* the first and FC's default three retries */

/* The function role's temporary credentials (what FC passes in x-fc-access-key-*). */
#define FAKE_FC_ROLE_KEY_ID "STS.NUe2eRoleKeyId0000001"
#define FAKE_FC_ROLE_SECRET "e2eRoleSecret/0123456789abcdefGHIJ"
#define FAKE_FC_ROLE_TOKEN "CAISe2eSecurityToken+with/slash=and==padding"
/* Long-term AccessKey for ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET (no token). */
#define FAKE_FC_ENV_KEY_ID "LTAIe2eEnvKeyId000000002"
#define FAKE_FC_ENV_SECRET "e2eEnvSecret0123456789abcdefghijk"

struct fake_fc;

/* `function_name` NULL: FAKE_FC_FUNCTION. NULL on failure. */
struct fake_fc *fake_fc_start(const char *function_name);
void fake_fc_stop(struct fake_fc *f);
const char *fake_fc_url(const struct fake_fc *f); /* "http://127.0.0.1:<port>" */

/* An AccessKey the fake accepts (`token` NULL: a long-term key, sent without
 * x-acs-security-token). */
void fake_fc_add_credentials(struct fake_fc *f, const char *key_id, const char *secret, const char *token);
/* The function's role: accepted as credentials, and sent with every delivery
 * in x-fc-access-key-* headers. `key_id` NULL: no role, deliveries carry none. */
void fake_fc_set_role(struct fake_fc *f, const char *key_id, const char *secret, const char *token);
/* Pins the stand-in's "now" (Unix seconds) for the x-acs-date check, so a
 * request signed at a fixed time (a literal test vector) is in date; 0: the
 * real clock again. */
void fake_fc_set_now(struct fake_fc *f, int64_t epoch_s);
/* Where deliveries go: the bot's FC_CUSTOM_LISTEN_PORT. */
void fake_fc_set_target(struct fake_fc *f, int port);
/* While held, accepted invocations wait; releasing delivers them in order. */
void fake_fc_hold(struct fake_fc *f, bool hold);
/* Every accepted invocation is delivered twice. */
void fake_fc_set_duplicate(struct fake_fc *f, bool on);
/* The next `count` invocations that pass the checks are answered `status`
 * (500, 429, ...) with FC's error body and not delivered. Calls queue up. */
void fake_fc_fail_invokes(struct fake_fc *f, int status, int count);

/* One request to InvokeFunction, whatever the answer. */
struct fake_fc_invoke {
    const char *path;
    const char *qualifier;       /* ?qualifier=, or NULL */
    const char *invocation_type; /* x-fc-invocation-type, or NULL */
    const char *authorization;
    const char *credential_id;   /* Credential= of the Authorization header */
    const char *security_token;  /* x-acs-security-token, or NULL */
    const char *signed_headers;
    const char *nonce;
    const char *content_type;
    const char *body;
    size_t body_len;
    bool signature_ok;
    const char *problem;         /* why it was refused, or NULL */
    int status;                  /* what the fake answered */
    int64_t at_ms;               /* e2e_mono_ms() */
};
size_t fake_fc_invoke_count(struct fake_fc *f);
size_t fake_fc_invoke_accepted(struct fake_fc *f);
bool fake_fc_invoke_at(struct fake_fc *f, size_t i, struct fake_fc_invoke *out);
bool fake_fc_wait_invokes(struct fake_fc *f, size_t n, int timeout_ms);

/* One event invocation delivered to the bot. */
struct fake_fc_delivery {
    const char *request_id;
    const char *payload;
    int attempt;          /* 1, or more for FC's retries of a failed delivery */
    long status;          /* the bot's HTTP status, 0 on a transport error */
    const char *fc_status;/* its x-fc-status header, or NULL */
    const char *response; /* its body */
    int64_t start_ms, end_ms; /* e2e_mono_ms() */
};
/* Deliveries finished (answered or failed). */
size_t fake_fc_delivery_count(struct fake_fc *f);
bool fake_fc_delivery_at(struct fake_fc *f, size_t i, struct fake_fc_delivery *out);
bool fake_fc_wait_deliveries(struct fake_fc *f, size_t n, int timeout_ms);
/* Accepted invocations not yet delivered (held, queued or in flight). */
size_t fake_fc_pending(struct fake_fc *f);

/* Prints everything recorded (for a failing test's log). */
void fake_fc_dump(struct fake_fc *f);
void fake_fc_dump_cb(void *f);
void fake_fc_stop_cb(void *f);

#endif
