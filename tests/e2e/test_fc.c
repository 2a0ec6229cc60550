/* test_fc.c - the real binary as an Alibaba Function Compute 3.0 custom runtime.
 *
 * The bot is started with FC_FUNCTION_NAME (so it runs FC mode, listening on
 * FC_CUSTOM_LISTEN_PORT) and LINEBOT_FC_ENDPOINT pointing at fake_fc. The
 * cases play FC's part on the front: HTTP-trigger requests
 * (x-fc-control-path: /http-invoke) carrying signed LINE webhooks, /initialize,
 * and event invocations. fake_fc checks the asynchronous InvokeFunction the
 * bot makes (ACS3-HMAC-SHA256 recomputed, by the stand-in's own implementation
 * in support/fake_sig.h, with the credentials it should have used; the
 * signed headers must be what Alibaba's SDK signs) and delivers the payload back as an event invocation (/invoke), whose
 * answer and x-fc-status it records. What the user got is on the fake LINE:
 * exactly one answer.
 *
 * Waiting: FC mode has no background threads; the hand-off happens inside the
 * webhook request and the chat work inside the /invoke request, so when
 * fake_fc has recorded the delivery's answer, everything is finished.
 *
 * The first case checks the stand-in itself with literal requests whose
 * signatures were computed outside linebot (it must accept those and refuse
 * what FC refuses).
 * test_concurrent_requests_keep_their_own_request_ids checks that request
 * ids do not cross between concurrent FC requests (see its comment). */
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_fc.h"
#include "harness.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define USER_B "Ue2e0000000000000000000000000000b"

/* ---- the world ---- */

/* Fakes, fake_fc (with the function role's credentials when `role`), and
 * the bot in FC mode with `extra` environment; started as `bootstrap`
 * without arguments or as `linebot serve`, and healthy. */
static struct world *fc_start(void **state, struct fake_fc **out, bool role, bool bootstrap,
                              const char *const *extra)
{
    struct world *w = world_new(state, NULL);
    struct fake_fc *ff = fake_fc_start(NULL);
    assert_non_null(ff);
    world_add_fake(w, fake_fc_dump_cb, fake_fc_stop_cb, ff);
    if (role)
        fake_fc_set_role(ff, FAKE_FC_ROLE_KEY_ID, FAKE_FC_ROLE_SECRET, FAKE_FC_ROLE_TOKEN);
    w->port_var = "FC_CUSTOM_LISTEN_PORT";
    char *endpoint = e2e_printf("LINEBOT_FC_ENDPOINT=%s", fake_fc_url(ff));
    const char *env[48] = {
        endpoint,
        "FC_FUNCTION_NAME=" FAKE_FC_FUNCTION,
        "FC_REGION=" FAKE_FC_REGION,
        "FC_ACCOUNT_ID=" FAKE_FC_ACCOUNT_ID,
        "FC_FUNCTION_HANDLER=index.handler",
        "FC_FUNCTION_MEMORY_SIZE=512",
        "FC_INSTANCE_ID=c-e2e-instance-0001",
        "PORT", /* FC mode listens on FC_CUSTOM_LISTEN_PORT only */
    };
    size_t n = 0;
    while (env[n])
        n++;
    for (const char *const *x = extra; x && *x && n < 47; x++)
        env[n++] = *x;
    env[n] = NULL;
    if (bootstrap) {
        bot_spawn_bootstrap(w, env);
        char url[128];
        snprintf(url, sizeof url, "%s/healthz", w->base_url);
        int64_t deadline = e2e_mono_ms() + e2e_ms(15000);
        while (http_request("GET", url, NULL, 0, NULL, NULL, NULL) != 200) {
            if (!bot_running(w) || e2e_mono_ms() > deadline) {
                bot_print_log(w, 60);
                fail_msg("the bot started as bootstrap did not become healthy on FC_CUSTOM_LISTEN_PORT");
            }
            e2e_sleep_ms(50);
        }
    } else {
        bot_start(w, env);
    }
    free(endpoint);
    fake_fc_set_target(ff, w->port);
    *out = ff;
    return w;
}

/* ---- requests as FC sends them ---- */

struct fc_creds {
    const char *id, *secret, *token;
};

static const struct fc_creds role_creds = {FAKE_FC_ROLE_KEY_ID, FAKE_FC_ROLE_SECRET, FAKE_FC_ROLE_TOKEN};

static char *header_value(const char *raw, const char *name)
{
    size_t n = strlen(name);
    for (const char *line = raw; line && *line;) {
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            char *out = e2e_xmalloc(len + 1);
            memcpy(out, v, len);
            out[len] = '\0';
            return out;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return NULL;
}

struct fc_answer {
    long status;
    char *fc_status; /* x-fc-status */
    char *body;
    int64_t elapsed_ms;
    int64_t done_ms; /* e2e_mono_ms() when the answer was in */
};

static void fc_answer_free(struct fc_answer *a)
{
    free(a->fc_status);
    free(a->body);
}

/* A request through FC to the bot: `control` is the x-fc-control-path, `rid`
 * the x-fc-request-id; `creds` (may be NULL) go in x-fc-access-key-*;
 * `extra` (may be NULL) are more "Name: value" headers. */
static struct fc_answer fc_request(struct world *w, const char *control, const char *path, const char *rid,
                                   const void *body, size_t len, const struct fc_creds *creds,
                                   const char *const *extra)
{
    const char *headers[24];
    char *owned[8];
    size_t nh = 0, no = 0;
    owned[no++] = e2e_printf("x-fc-control-path: %s", control);
    owned[no++] = e2e_printf("x-fc-request-id: %s", rid);
    if (creds) {
        owned[no++] = e2e_printf("x-fc-access-key-id: %s", creds->id);
        owned[no++] = e2e_printf("x-fc-access-key-secret: %s", creds->secret);
        if (creds->token)
            owned[no++] = e2e_printf("x-fc-security-token: %s", creds->token);
    }
    for (size_t i = 0; i < no; i++)
        headers[nh++] = owned[i];
    headers[nh++] = "x-fc-function-name: " FAKE_FC_FUNCTION;
    headers[nh++] = "x-fc-region: " FAKE_FC_REGION;
    headers[nh++] = "x-fc-account-id: " FAKE_FC_ACCOUNT_ID;
    for (const char *const *x = extra; x && *x && nh < 23; x++)
        headers[nh++] = *x;
    headers[nh] = NULL;
    char url[256];
    snprintf(url, sizeof url, "%s%s", w->base_url, path);
    struct http_result r;
    http_do("POST", url, body, len, headers, &r);
    struct fc_answer a = {.status = r.status, .fc_status = header_value(r.headers, "x-fc-status"),
                          .body = r.body, .elapsed_ms = r.elapsed_ms, .done_ms = e2e_mono_ms()};
    r.body = NULL;
    http_result_free(&r);
    for (size_t i = 0; i < no; i++)
        free(owned[i]);
    return a;
}

/* The HTTP trigger: POST /callback with `body` signed with `secret` (NULL: no signature). */
static struct fc_answer fc_webhook_signed(struct world *w, const char *rid, const char *body, const char *secret,
                                         const struct fc_creds *creds)
{
    char *sig = secret ? line_signature(secret, body, strlen(body)) : NULL;
    char *sig_header = sig ? e2e_printf("X-Line-Signature: %s", sig) : NULL;
    const char *extra[] = {"Content-Type: application/json; charset=utf-8", "User-Agent: LineBotWebhook/2.0",
                           sig_header, NULL};
    struct fc_answer a = fc_request(w, "/http-invoke", "/callback", rid, body, strlen(body), creds, extra);
    free(sig);
    free(sig_header);
    return a;
}

static struct fc_answer fc_webhook(struct world *w, const char *rid, json_t *ev, const struct fc_creds *creds)
{
    char *body = webhook_body(ev, NULL);
    struct fc_answer a = fc_webhook_signed(w, rid, body, E2E_CHANNEL_SECRET, creds);
    free(body);
    return a;
}

static void assert_fc_answer(const struct fc_answer *a, long status, const char *what)
{
    if (a->status != status)
        fail_msg("%s: want HTTP %ld, got %ld: %s", what, status, a->status, a->body ? a->body : "");
    /* The function did its job (refusing a bad webhook is its job): FC reads 200. */
    if (!a->fc_status || strcmp(a->fc_status, "200") != 0)
        fail_msg("%s: want x-fc-status 200, got %s", what, a->fc_status ? a->fc_status : "none");
}

/* Asserts invoke `i` was accepted by fake_fc (signature recomputed and right),
 * asynchronous, signed with `key_id` (and `token`, NULL: none). */
static void assert_invoke_ok(struct fake_fc *ff, size_t i, const char *key_id, const char *token)
{
    struct fake_fc_invoke iv;
    if (!fake_fc_invoke_at(ff, i, &iv))
        fail_msg("no InvokeFunction #%zu reached the fake FC", i);
    if (!iv.signature_ok || iv.status != 202)
        fail_msg("InvokeFunction #%zu was refused (%d): %s", i, iv.status, iv.problem ? iv.problem : "?");
    assert_string_equal(iv.invocation_type, "Async");
    assert_string_equal(iv.credential_id, key_id);
    if (token) {
        assert_non_null(iv.security_token);
        assert_string_equal(iv.security_token, token);
    } else {
        assert_null(iv.security_token);
    }
    json_t *p = json_loadb(iv.body, iv.body_len, 0, NULL);
    if (!json_is_object(p) || !json_is_array(json_object_get(p, "events")))
        fail_msg("the InvokeFunction payload is not a work payload: %.500s", iv.body);
    json_decref(p);
}

/* Waits for `n` deliveries; each of them must have been answered 200 with x-fc-status 200. */
static void wait_deliveries(struct fake_fc *ff, size_t n)
{
    if (!fake_fc_wait_deliveries(ff, n, e2e_ms(E2E_WAIT_MS)))
        fail_msg("want %zu event invocation(s) delivered, got %zu", n, fake_fc_delivery_count(ff));
    for (size_t i = 0; i < n; i++) {
        struct fake_fc_delivery d;
        assert_true(fake_fc_delivery_at(ff, i, &d));
        if (d.status != 200 || !d.fc_status || strcmp(d.fc_status, "200") != 0)
            fail_msg("event invocation %s: want 200 with x-fc-status 200, got %ld / %s: %s", d.request_id, d.status,
                     d.fc_status ? d.fc_status : "none", d.response ? d.response : "");
    }
}

static void assert_answered(struct world *w, const char *chat, size_t n)
{
    size_t got = fake_line_delivery_count(w->line, chat);
    if (got != n) {
        char *t = world_texts(w, chat);
        fail_msg("%s: want %zu answer(s), got %zu; texts:\n%.3000s", chat, n, got, t);
    }
}

/* Nothing more is on its way (no invocation waits for delivery); the bot then
 * stops on SIGTERM with exit code 0, as FC stops instances. */
static void fc_finish(struct world *w, struct fake_fc *ff)
{
    assert_int_equal(fake_fc_pending(ff), 0);
    world_finish(w);
}

static void wait_log(struct world *w, const char *needle);
static size_t assert_invocation_lines(struct world *w, const char *rid, const char *must_have);

/* ---- the stand-in itself ---- */

/* Literal InvokeFunction requests, signed at 2026-01-01T00:00:00Z for
 * LITERAL_HOST over LITERAL_BODY. The signatures were computed outside
 * linebot, with python3's hashlib/hmac straight from Alibaba's V3 document:
 * canonical request
 *   POST\n/2023-03-30/functions/linebot-e2e/invocations\n\n
 *   content-type:application/octet-stream\nhost:LITERAL_HOST\n
 *   [x-acs-accesskey-id:<id>\n] x-acs-action:InvokeFunction\n
 *   x-acs-content-sha256:hex(sha256(body))\nx-acs-date:2026-01-01T00:00:00Z\n
 *   [x-acs-security-token:<token>\n] x-acs-signature-nonce:<nonce>\n
 *   x-acs-version:2023-03-30\n\n<signed headers>\nhex(sha256(body))
 * then hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" + hex(sha256(creq)))).
 * Neither this test nor the stand-in calls the bot's signer. */
#define LITERAL_TIME INT64_C(1767225600) /* 2026-01-01T00:00:00Z */
#define LITERAL_HOST FAKE_FC_ACCOUNT_ID "." FAKE_FC_REGION ".fc.aliyuncs.com"
#define LITERAL_BODY "{\"linebot\":\"work\",\"events\":[]}"
#define SIGNED_STS "content-type;host;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-date;" \
                   "x-acs-security-token;x-acs-signature-nonce;x-acs-version"
#define SIGNED_LONG_TERM "content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;" \
                         "x-acs-version"

struct literal {
    const char *key_id;
    const char *token;         /* sent as x-acs-security-token (and the id as x-acs-accesskey-id), or NULL */
    const char *nonce;
    const char *signed_headers;
    const char *signature;
    const char *body;          /* what is sent; LITERAL_BODY was signed */
};

static long literal_invoke(struct fake_fc *ff, const struct literal *l)
{
    char sha[65];
    unsigned char md[32];
    unsigned int mdlen = 0;
    assert_int_equal(EVP_Digest(LITERAL_BODY, strlen(LITERAL_BODY), md, &mdlen, EVP_sha256(), NULL), 1);
    for (size_t i = 0; i < 32; i++)
        snprintf(sha + 2 * i, 3, "%02x", md[i]);
    char *h[14];
    size_t n = 0;
    h[n++] = e2e_strdup("Host: " LITERAL_HOST);
    h[n++] = e2e_strdup("x-fc-invocation-type: Async");
    h[n++] = e2e_strdup("Content-Type: application/octet-stream");
    h[n++] = e2e_strdup("x-acs-action: InvokeFunction");
    h[n++] = e2e_strdup("x-acs-version: 2023-03-30");
    h[n++] = e2e_strdup("x-acs-date: 2026-01-01T00:00:00Z");
    h[n++] = e2e_printf("x-acs-signature-nonce: %s", l->nonce);
    h[n++] = e2e_printf("x-acs-content-sha256: %s", sha);
    if (l->token) {
        h[n++] = e2e_printf("x-acs-accesskey-id: %s", l->key_id);
        h[n++] = e2e_printf("x-acs-security-token: %s", l->token);
    }
    h[n++] = e2e_printf("Authorization: ACS3-HMAC-SHA256 Credential=%s,SignedHeaders=%s,Signature=%s", l->key_id,
                        l->signed_headers, l->signature);
    h[n] = NULL;
    char *url = e2e_printf("%s/2023-03-30/functions/" FAKE_FC_FUNCTION "/invocations", fake_fc_url(ff));
    const char *body = l->body ? l->body : LITERAL_BODY;
    long status = http_request("POST", url, body, strlen(body), (const char *const *)h, NULL, NULL);
    free(url);
    for (size_t i = 0; i < n; i++)
        free(h[i]);
    return status;
}

static void test_the_stand_in_checks_acs3(void **state)
{
    (void)state;
    struct fake_fc *ff = fake_fc_start(NULL);
    assert_non_null(ff);
    fake_fc_hold(ff, true); /* nothing to deliver to */
    fake_fc_set_now(ff, LITERAL_TIME + 60);
    fake_fc_set_role(ff, FAKE_FC_ROLE_KEY_ID, FAKE_FC_ROLE_SECRET, FAKE_FC_ROLE_TOKEN);
    fake_fc_add_credentials(ff, FAKE_FC_ENV_KEY_ID, FAKE_FC_ENV_SECRET, NULL);
    const char *id = FAKE_FC_ROLE_KEY_ID, *tok = FAKE_FC_ROLE_TOKEN;
    const struct literal role1 = {id, tok, "e2enonce00000000000000000001", SIGNED_STS,
                                  "50597140d2b008c721cb8515c55418f902d4c4f7f41be4c794bb1c4e0328becd", NULL};
    const struct literal env2 = {FAKE_FC_ENV_KEY_ID, NULL, "e2enonce00000000000000000002", SIGNED_LONG_TERM,
                                 "aab1976b65e77fb398b519ca4aab4ef76a33bc7ceace6923e5e15d37530d90ae", NULL};
    /* Signed with "wrong-secret". */
    const struct literal wrong3 = {id, tok, "e2enonce00000000000000000003", SIGNED_STS,
                                   "21983269b98c3530f90c19c6feaf8e6a8a3934919ca7fc8abc63dadbc07f498e", NULL};
    const struct literal role4 = {id, tok, "e2enonce00000000000000000004", SIGNED_STS,
                                  "f357578b5da15d3de2e4f88c3855fe2d17737d91f5cbb79cbed75dcbf3914701", NULL};
    const struct literal role5 = {id, tok, "e2enonce00000000000000000005", SIGNED_STS,
                                  "39680495eba6ddec336c278c259f24ce2616d570deba1a27a980f6ee7af20a20", NULL};
    const struct literal role6 = {id, tok, "e2enonce00000000000000000006", SIGNED_STS,
                                  "b1db1b9014d3063b3f94e14d32469ecde6cec16d58482713793ec56007e784f2", NULL};
    /* Valid ACS3, but x-fc-invocation-type signed too, which Alibaba's SDK never does. */
    const struct literal fc_type7 = {id, tok, "e2enonce00000000000000000007", SIGNED_STS ";x-fc-invocation-type",
                                     "eef79424eac5298b9a9ab05bb58c377f9c1b810810a91b9001ddc993b0392ea0", NULL};
    assert_int_equal(literal_invoke(ff, &role1), 202);
    assert_int_equal(literal_invoke(ff, &env2), 202);
    /* A reused nonce, a wrong secret, a missing or foreign token, an unknown key, a changed body. */
    assert_int_equal(literal_invoke(ff, &role1), 403);
    assert_int_equal(literal_invoke(ff, &wrong3), 403);
    assert_int_equal(literal_invoke(ff, &(struct literal){id, NULL, role4.nonce, SIGNED_LONG_TERM, role4.signature,
                                                          NULL}), 403);
    assert_int_equal(literal_invoke(ff, &(struct literal){id, "other-token", role4.nonce, SIGNED_STS, role4.signature,
                                                          NULL}), 403);
    assert_int_equal(literal_invoke(ff, &(struct literal){"LTAIunknown0000000", NULL, role4.nonce, SIGNED_LONG_TERM,
                                                          role4.signature, NULL}), 403);
    assert_int_equal(literal_invoke(ff, &(struct literal){id, tok, role4.nonce, SIGNED_STS, role4.signature,
                                                          "{\"linebot\":1}"}), 403);
    assert_int_equal(literal_invoke(ff, &fc_type7), 403);
    /* Signed long ago: expired. */
    fake_fc_set_now(ff, 0);
    assert_int_equal(literal_invoke(ff, &role5), 403);
    fake_fc_set_now(ff, LITERAL_TIME - 60);
    fake_fc_fail_invokes(ff, 500, 1);
    assert_int_equal(literal_invoke(ff, &role6), 500);
    assert_int_equal(literal_invoke(ff, &role4), 202);
    assert_int_equal(fake_fc_invoke_accepted(ff), 3);
    assert_int_equal(fake_fc_pending(ff), 3);
    fake_fc_stop(ff);
}

/* ---- cases ---- */

static void test_http_trigger_hands_off_with_the_request_credentials(void **state)
{
    struct fake_fc *ff;
    struct world *w = fc_start(state, &ff, true, false, NULL);
    fake_llm_set_delay(w->llm, 1000);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "hello from Function Compute"});
    struct fc_answer a = fc_webhook(w, "1-e2e-http-0001", ev, &role_creds);
    assert_fc_answer(&a, 200, "webhook");
    /* Acknowledged before the model answered. */
    if (a.elapsed_ms > e2e_ms(800))
        fail_msg("the webhook request took %lld ms; the model takes 1000 ms and must not be waited for",
                 (long long)a.elapsed_ms);
    int64_t webhook_done_ms = a.done_ms;
    fc_answer_free(&a);

    assert_int_equal(fake_fc_invoke_count(ff), 1);
    assert_invoke_ok(ff, 0, FAKE_FC_ROLE_KEY_ID, FAKE_FC_ROLE_TOKEN);
    struct fake_fc_invoke iv;
    assert_true(fake_fc_invoke_at(ff, 0, &iv));
    assert_null(iv.qualifier);
    assert_string_equal(iv.content_type, "application/octet-stream");
    assert_contains(iv.body, ev_get(ev, "webhookEventId"));

    wait_deliveries(ff, 1);
    struct fake_fc_delivery d;
    assert_true(fake_fc_delivery_at(ff, 0, &d));
    assert_contains(d.response, "done");
    assert_answered(w, USER_A, 1);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.api, "reply");
    assert_string_equal(m.text, "echo: hello from Function Compute");
    assert_true(m.at_ms >= d.start_ms && m.at_ms <= d.end_ms);
    /* LINE had its 200 before the model answered (the model takes 1000 ms). */
    assert_true(webhook_done_ms < m.at_ms);

    /* LINE's redelivery of the same webhookEventId: acknowledged, not handed off again. */
    a = fc_webhook(w, "1-e2e-http-0002", ev_redelivered(w, ev), &role_creds);
    assert_fc_answer(&a, 200, "redelivered webhook");
    fc_answer_free(&a);
    assert_int_equal(fake_fc_invoke_count(ff), 1);
    assert_answered(w, USER_A, 1);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    fc_finish(w, ff);
}

static void test_environment_credentials_when_fc_passes_none(void **state)
{
    struct fake_fc *ff;
    /* No role: FC passes no x-fc-access-key-*; the AccessKey comes from the
     * environment. Started as `bootstrap` without arguments; a qualifier. */
    struct world *w = fc_start(state, &ff, false, true,
                               (const char *[]){"ALIBABA_CLOUD_ACCESS_KEY_ID=" FAKE_FC_ENV_KEY_ID,
                                                "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" FAKE_FC_ENV_SECRET,
                                                "FC_QUALIFIER=LATEST", NULL});
    fake_fc_add_credentials(ff, FAKE_FC_ENV_KEY_ID, FAKE_FC_ENV_SECRET, NULL);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "keys from the environment"});
    struct fc_answer a = fc_webhook(w, "1-e2e-http-0101", ev, NULL);
    assert_fc_answer(&a, 200, "webhook");
    fc_answer_free(&a);
    assert_int_equal(fake_fc_invoke_count(ff), 1);
    assert_invoke_ok(ff, 0, FAKE_FC_ENV_KEY_ID, NULL);
    struct fake_fc_invoke iv;
    assert_true(fake_fc_invoke_at(ff, 0, &iv));
    assert_non_null(iv.qualifier);
    assert_string_equal(iv.qualifier, "LATEST");
    wait_deliveries(ff, 1);
    assert_answered(w, USER_A, 1);
    fc_finish(w, ff);
}

static void test_request_credentials_win_over_the_environment(void **state)
{
    struct fake_fc *ff;
    struct world *w = fc_start(state, &ff, true, false,
                               (const char *[]){"ALIBABA_CLOUD_ACCESS_KEY_ID=" FAKE_FC_ENV_KEY_ID,
                                                "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" FAKE_FC_ENV_SECRET, NULL});
    fake_fc_add_credentials(ff, FAKE_FC_ENV_KEY_ID, FAKE_FC_ENV_SECRET, NULL);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "role first"});
    struct fc_answer a = fc_webhook(w, "1-e2e-http-0201", ev, &role_creds);
    assert_fc_answer(&a, 200, "webhook");
    fc_answer_free(&a);
    assert_invoke_ok(ff, 0, FAKE_FC_ROLE_KEY_ID, FAKE_FC_ROLE_TOKEN);
    wait_deliveries(ff, 1);
    assert_answered(w, USER_A, 1);
    fc_finish(w, ff);
}

static void test_bad_signature_is_401_without_invoke(void **state)
{
    struct fake_fc *ff;
    struct world *w = fc_start(state, &ff, true, false, NULL);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "forged"});
    char *body = webhook_body(ev, NULL);
    struct fc_answer a = fc_webhook_signed(w, "1-e2e-http-0301", body, "not-the-channel-secret", &role_creds);
    assert_fc_answer(&a, 401, "wrong signature");
    fc_answer_free(&a);
    a = fc_webhook_signed(w, "1-e2e-http-0302", body, NULL, &role_creds);
    assert_fc_answer(&a, 401, "no signature");
    fc_answer_free(&a);
    free(body);
    /* The hand-off would have happened inside those requests. */
    assert_int_equal(fake_fc_invoke_count(ff), 0);
    assert_int_equal(fake_fc_pending(ff), 0);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    assert_int_equal(fake_line_request_total(w->line), 0);
    fc_finish(w, ff);
}

static void test_failed_hand_off_is_503_and_the_redelivery_is_answered_once(void **state)
{
    struct fake_fc *ff;
    struct world *w = fc_start(state, &ff, true, false, NULL);
    fake_fc_fail_invokes(ff, 500, 1);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "do not lose me"});
    struct fc_answer a = fc_webhook(w, "1-e2e-http-0401", ev, &role_creds);
    assert_fc_answer(&a, 503, "webhook whose hand-off failed");
    fc_answer_free(&a);
    assert_int_equal(fake_fc_invoke_count(ff), 1);
    /* The refusal echoed the request's security token: logged masked. */
    wait_log(w, "[redacted x-fc-security-token]");
    char *log = bot_log(w);
    assert_null(strstr(log, FAKE_FC_ROLE_TOKEN));
    assert_null(strstr(log, "CAISe2eSecurityToken"));
    free(log);
    struct fake_fc_invoke iv;
    assert_true(fake_fc_invoke_at(ff, 0, &iv));
    assert_true(iv.signature_ok); /* refused for the scripted reason only */
    assert_int_equal(fake_fc_pending(ff), 0);
    assert_int_equal(fake_fc_delivery_count(ff), 0);
    assert_int_equal(fake_llm_request_count(w->llm), 0);

    /* LINE redelivers; it must not be dropped as a duplicate. */
    a = fc_webhook(w, "1-e2e-http-0402", ev_redelivered(w, ev), &role_creds);
    assert_fc_answer(&a, 200, "redelivered webhook");
    fc_answer_free(&a);
    assert_int_equal(fake_fc_invoke_count(ff), 2);
    assert_invoke_ok(ff, 1, FAKE_FC_ROLE_KEY_ID, FAKE_FC_ROLE_TOKEN);
    wait_deliveries(ff, 1);
    assert_answered(w, USER_A, 1);
    char *t = world_texts(w, USER_A);
    assert_string_equal(t, "echo: do not lose me");
    free(t);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    /* The metric counts what LINE was answered: a 503, then a 200. */
    struct http_result r;
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", w->base_url);
    http_do("GET", url, NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(metrics_value(r.body, "linebot_webhooks_total{status=\"503\"}") == 1);
    assert_true(metrics_value(r.body, "linebot_webhooks_total{status=\"200\"}") == 1);
    http_result_free(&r);
    fc_finish(w, ff);
}

static void test_inline_mode_answers_inside_the_request(void **state)
{
    struct fake_fc *ff;
    struct world *w = fc_start(state, &ff, true, false, (const char *[]){"LINEBOT_ASYNC=inline", NULL});
    fake_llm_set_delay(w->llm, 300);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "inline please"});
    struct fc_answer a = fc_webhook(w, "1-e2e-http-0501", ev, &role_creds);
    assert_fc_answer(&a, 200, "webhook");
    /* Answered before the request returned. */
    assert_answered(w, USER_A, 1);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.text, "echo: inline please");
    assert_true(m.at_ms <= a.done_ms);
    fc_answer_free(&a);
    assert_int_equal(fake_fc_invoke_count(ff), 0);
    assert_int_equal(fake_fc_delivery_count(ff), 0);
    fc_finish(w, ff);
}

static void test_initialize_and_foreign_event_invocations(void **state)
{
    struct fake_fc *ff;
    struct world *w = fc_start(state, &ff, true, false, NULL);
    struct fc_answer a = fc_request(w, "/initialize", "/initialize", "1-e2e-init-0001", "", 0, &role_creds, NULL);
    assert_fc_answer(&a, 200, "/initialize");
    fc_answer_free(&a);
    /* With a body, and larger than one read (FC sends none, but a request is a request). */
    size_t blen = 64 * 1024;
    char *blob = e2e_xmalloc(blen + 1);
    memset(blob, 'i', blen);
    blob[blen] = '\0';
    a = fc_request(w, "/initialize", "/initialize", "1-e2e-init-0002", blob, blen, &role_creds, NULL);
    assert_fc_answer(&a, 200, "/initialize with a body");
    fc_answer_free(&a);
    /* An HTTP-trigger request for a path the bot does not serve, with a body. */
    a = fc_request(w, "/http-invoke", "/not-here", "1-e2e-http-0009", blob, blen, &role_creds, NULL);
    assert_int_equal(a.status, 404);
    fc_answer_free(&a);
    free(blob);

    static const char *const octet[] = {"Content-Type: application/octet-stream", NULL};
    static const char *const payloads[] = {
        "\x01\x02 not json at all \xff",
        "{\"hello\":\"a timer trigger, say\"}",
        "{\"linebot\":\"work\",\"events\":42}",
        "{\"linebot\":\"work\",\"events\":[{\"chat\":\"U1\"}]}",
        "",
    };
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        char rid[40];
        snprintf(rid, sizeof rid, "1-e2e-event-%04zu", i);
        a = fc_request(w, "/invoke", "/invoke", rid, payloads[i], strlen(payloads[i]), &role_creds, octet);
        if (a.status != 200 || !a.fc_status || strcmp(a.fc_status, "200") != 0)
            fail_msg("foreign event payload #%zu: want 200 with x-fc-status 200, got %ld / %s: %s", i, a.status,
                     a.fc_status ? a.fc_status : "none", a.body ? a.body : "");
        /* #3 is a work payload without a usable event: "done" with nothing to do is fine too. */
        if (!strstr(a.body, "ignored") && !(i == 3 && strstr(a.body, "done")))
            fail_msg("foreign event payload #%zu: want \"ignored\", got %s", i, a.body);
        fc_answer_free(&a);
    }
    assert_true(bot_running(w));
    assert_int_equal(bot_get(w, "/healthz", NULL), 200);
    /* One FC Invoke Start and one End line per request, whatever its calls. */
    wait_log(w, "FC Invoke End RequestId: 1-e2e-event-0004\n");
    assert_invocation_lines(w, "1-e2e-init-0001", NULL);
    assert_invocation_lines(w, "1-e2e-init-0002", NULL);
    assert_invocation_lines(w, "1-e2e-http-0009", NULL);
    assert_invocation_lines(w, "1-e2e-event-0000", "event invocation payload is not linebot work");
    assert_invocation_lines(w, "1-e2e-event-0004", NULL);
    assert_int_equal(fake_fc_invoke_count(ff), 0);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    assert_int_equal(fake_line_request_total(w->line), 0);
    fc_finish(w, ff);
}

/* Waits until the bot's log has `needle` (the log is a file: polled, bounded). */
static void wait_log(struct world *w, const char *needle)
{
    int64_t deadline = e2e_mono_ms() + e2e_ms(5000);
    for (;;) {
        char *log = bot_log(w);
        bool found = strstr(log, needle) != NULL;
        free(log);
        if (found)
            return;
        if (e2e_mono_ms() > deadline)
            fail_msg("the bot's log never had \"%s\"", needle);
        e2e_sleep_ms(20);
    }
}

/* Between "FC Invoke Start RequestId: <rid>" and "FC Invoke End RequestId: <rid>"
 * every JSON log line carries request_id <rid>; returns how many there were
 * and whether one's message starts with `must_have`. */
static size_t assert_invocation_lines(struct world *w, const char *rid, const char *must_have)
{
    char *log = bot_log(w);
    char *start = e2e_printf("FC Invoke Start RequestId: %s\n", rid);
    char *end = e2e_printf("FC Invoke End RequestId: %s\n", rid);
    char *s = strstr(log, start);
    if (!s)
        fail_msg("no \"FC Invoke Start RequestId: %s\" line", rid);
    if (strstr(s + 1, start))
        fail_msg("two \"FC Invoke Start RequestId: %s\" lines", rid);
    char *e = strstr(s, end);
    if (!e)
        fail_msg("no \"FC Invoke End RequestId: %s\" line after its start", rid);
    if (strstr(e + 1, end))
        fail_msg("two \"FC Invoke End RequestId: %s\" lines", rid);
    if (s != log && s[-1] != '\n')
        fail_msg("the start line of %s is not a line of its own", rid);
    *e = '\0';
    size_t n = 0;
    bool found = false;
    char *save = NULL;
    for (char *line = strtok_r(s + strlen(start), "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] != '{')
            continue;
        json_t *o = json_loads(line, 0, NULL);
        if (!json_object_get(o, "level")) {
            json_decref(o);
            continue;
        }
        n++;
        const char *got = json_string_value(json_object_get(o, "request_id"));
        if (!got || strcmp(got, rid) != 0)
            fail_msg("a log line inside invocation %s has request_id %s:\n%s", rid, got ? got : "null", line);
        const char *msg = json_string_value(json_object_get(o, "msg"));
        found = found || (msg && must_have && strncmp(msg, must_have, strlen(must_have)) == 0);
        json_decref(o);
    }
    if (must_have && !found)
        fail_msg("no \"%s...\" line inside invocation %s", must_have, rid);
    free(start);
    free(end);
    free(log);
    return n;
}

static void test_invoke_start_end_lines_frame_the_request_ids(void **state)
{
    struct fake_fc *ff;
    struct world *w = fc_start(state, &ff, true, false, NULL);
    /* Keep the event invocation apart from the HTTP one in the log. */
    fake_fc_hold(ff, true);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "log me"});
    const char *http_rid = "1-e2e-http-0601-a1b2c3d4";
    struct fc_answer a = fc_webhook(w, http_rid, ev, &role_creds);
    assert_fc_answer(&a, 200, "webhook");
    fc_answer_free(&a);
    wait_log(w, "FC Invoke End RequestId: 1-e2e-http-0601-a1b2c3d4\n");
    fake_fc_hold(ff, false);
    wait_deliveries(ff, 1);
    struct fake_fc_delivery d;
    assert_true(fake_fc_delivery_at(ff, 0, &d));
    char *end = e2e_printf("FC Invoke End RequestId: %s\n", d.request_id);
    wait_log(w, end);
    free(end);
    assert_answered(w, USER_A, 1);

    assert_invocation_lines(w, http_rid, "webhook:");
    assert_invocation_lines(w, d.request_id, "answered");
    /* The per-event usage line (issue 11): the fake model reports 10 + 10 tokens. */
    assert_invocation_lines(w, d.request_id, "model usage: " E2E_MODEL ", 10 prompt + 10 completion tokens");
    /* SLS indexes JSON: every line but the Start/End lines and the harness's is JSON. */
    char *log = bot_log(w);
    char *save = NULL;
    for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "====", 4) == 0 || strncmp(line, "FC Invoke ", 10) == 0)
            continue;
        json_t *o = json_loads(line, 0, NULL);
        if (!json_is_object(o))
            fail_msg("a log line that is neither JSON nor an FC Invoke line: %s", line);
        json_decref(o);
    }
    free(log);
    fc_finish(w, ff);
}

static void test_async_event_delivered_twice_is_answered_once(void **state)
{
    struct fake_fc *ff;
    struct world *w = fc_start(state, &ff, true, false, NULL);
    fake_fc_set_duplicate(ff, true);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "at least once, answered once"});
    struct fc_answer a = fc_webhook(w, "1-e2e-http-0701", ev, &role_creds);
    assert_fc_answer(&a, 200, "webhook");
    fc_answer_free(&a);
    wait_deliveries(ff, 2);
    assert_answered(w, USER_A, 1);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    fc_finish(w, ff);
}

static void test_big_webhook_is_split_under_the_fc_async_cap(void **state)
{
    enum { USERS = 15 };
    struct fake_fc *ff;
    struct world *w = fc_start(state, &ff, true, false, NULL);
    struct e2e_buf long_text = {0};
    for (int i = 0; i < 4000; i++)
        e2e_buf_adds(&long_text, "あ");
    char *text = e2e_buf_take(&long_text);
    char users[USERS][40];
    json_t *arr = json_array();
    for (int i = 0; i < USERS; i++) {
        snprintf(users[i], sizeof users[i], "Ue2efcsplit0000000000000000000%03d", i);
        json_array_append(arr, ev_message(w, &(struct ev){.user = users[i], .text = text}));
    }
    json_t *o = json_pack("{s:s,s:o}", "destination", E2E_DESTINATION, "events", arr);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    assert_true(strlen(body) > 150 * 1024);
    struct fc_answer a = fc_webhook_signed(w, "1-e2e-http-0801", body, E2E_CHANNEL_SECRET, &role_creds);
    assert_fc_answer(&a, 200, "big webhook");
    fc_answer_free(&a);
    free(body);
    size_t n = fake_fc_invoke_count(ff);
    if (n < 2)
        fail_msg("%zu InvokeFunction call(s) for ~180 KB of events; want them split under %d bytes", n,
                 FAKE_FC_ASYNC_MAX);
    for (size_t i = 0; i < n; i++)
        assert_invoke_ok(ff, i, FAKE_FC_ROLE_KEY_ID, FAKE_FC_ROLE_TOKEN);
    wait_deliveries(ff, n);
    for (int i = 0; i < USERS; i++)
        assert_answered(w, users[i], 1);
    assert_int_equal(fake_llm_request_count(w->llm), USERS);
    free(text);
    fc_finish(w, ff);
}

static void test_no_credentials_at_all_is_503_and_not_lost(void **state)
{
    struct fake_fc *ff;
    /* No role and no ALIBABA_CLOUD_* keys: the hand-off cannot be signed. */
    struct world *w = fc_start(state, &ff, false, false, NULL);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "who signs this?"});
    struct fc_answer a = fc_webhook(w, "1-e2e-http-0901", ev, NULL);
    assert_fc_answer(&a, 503, "webhook without any credentials");
    fc_answer_free(&a);
    assert_int_equal(fake_fc_invoke_count(ff), 0);
    /* The next delivery comes with the role's credentials: answered, once. */
    fake_fc_set_role(ff, FAKE_FC_ROLE_KEY_ID, FAKE_FC_ROLE_SECRET, FAKE_FC_ROLE_TOKEN);
    a = fc_webhook(w, "1-e2e-http-0902", ev_redelivered(w, ev), &role_creds);
    assert_fc_answer(&a, 200, "redelivered webhook");
    fc_answer_free(&a);
    assert_invoke_ok(ff, 0, FAKE_FC_ROLE_KEY_ID, FAKE_FC_ROLE_TOKEN);
    wait_deliveries(ff, 1);
    assert_answered(w, USER_A, 1);
    fc_finish(w, ff);
}

/* A body sent chunked has no Content-Length to refuse up front: the server
 * reads it and must stop at the route's cap (1 MiB for a webhook, FC's 6 MiB
 * synchronous payload limit for an event invocation) while it arrives. */
static void test_chunked_bodies_meet_the_caps(void **state)
{
    struct fake_fc *ff;
    struct world *w = fc_start(state, &ff, true, false, NULL);
    static const char *const chunked[] = {"Transfer-Encoding: chunked", "Content-Type: application/octet-stream",
                                          NULL};
    size_t len = 6 * 1024 * 1024 + 1;
    char *big = e2e_xmalloc(len);
    memset(big, 'x', len);

    struct fc_answer a = fc_request(w, "/invoke", "/invoke", "1-e2e-event-0101", big, len, &role_creds, chunked);
    assert_fc_answer(&a, 413, "chunked event payload over 6 MiB");
    fc_answer_free(&a);
    a = fc_request(w, "/invoke", "/invoke", "1-e2e-event-0102", big, len - 1, &role_creds, chunked);
    assert_fc_answer(&a, 200, "chunked event payload of exactly 6 MiB");
    if (!a.body || !strstr(a.body, "ignored"))
        fail_msg("6 MiB of x: want \"ignored\", got %s", a.body ? a.body : "");
    fc_answer_free(&a);
    a = fc_request(w, "/http-invoke", "/callback", "1-e2e-http-0103", big, 1024 * 1024 + 1, &role_creds, chunked);
    assert_fc_answer(&a, 413, "chunked webhook over 1 MiB");
    fc_answer_free(&a);
    free(big);

    assert_true(bot_running(w));
    assert_int_equal(bot_get(w, "/healthz", NULL), 200);
    assert_int_equal(fake_fc_invoke_count(ff), 0);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    fc_finish(w, ff);
}

static void test_malformed_and_oversized_webhooks(void **state)
{
    struct fake_fc *ff;
    struct world *w = fc_start(state, &ff, true, false, NULL);
    struct fc_answer a = fc_webhook_signed(w, "1-e2e-http-1001", "{\"destination\":\"U1\",\"events\":[{",
                                           E2E_CHANNEL_SECRET, &role_creds);
    assert_fc_answer(&a, 400, "malformed JSON");
    fc_answer_free(&a);
    size_t len = 1024 * 1024 + 1;
    char *big = e2e_xmalloc(len + 1);
    static const char head[] = "{\"destination\":\"" E2E_DESTINATION "\",\"events\":[],\"pad\":\"";
    memcpy(big, head, sizeof head - 1);
    memset(big + sizeof head - 1, 'x', len - (sizeof head - 1) - 2);
    memcpy(big + len - 2, "\"}", 2);
    big[len] = '\0';
    a = fc_webhook_signed(w, "1-e2e-http-1002", big, E2E_CHANNEL_SECRET, &role_creds);
    assert_fc_answer(&a, 413, "body over 1 MiB");
    fc_answer_free(&a);
    free(big);
    assert_int_equal(fake_fc_invoke_count(ff), 0);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    assert_int_equal(fake_line_request_total(w->line), 0);
    assert_int_equal(bot_get(w, "/healthz", NULL), 200);
    fc_finish(w, ff);
}

/* ---- concurrent requests (instance concurrency > 1) ---- */

static int connect_bot(struct world *w)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)w->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = e2e_ms(20000) / 1000, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

/* Reads the whole answer of a "Connection: close" request; returns its status. */
static int read_status(int fd)
{
    struct e2e_buf b = {0};
    char chunk[4096];
    for (int i = 0; i < 1000; i++) {
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
            break;
        e2e_buf_add(&b, chunk, (size_t)n);
    }
    char *text = e2e_buf_take(&b);
    int status = 0;
    if (!text || sscanf(text, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    free(text);
    return status;
}

/* FC 3.0 may send one instance several requests at once (the deploy/ module's
 * instance_concurrency; "the binary serves up to 4 at a time"). Here 8
 * webhooks are in the bot at once: each has its headers read (FC Invoke
 * Start logged) before any body arrives, which is how a body in later TCP
 * segments reaches the server. With 8 connections on libmicrohttpd's 4
 * threads, at least two share a thread. Each invocation's log lines must
 * still carry its own request id.
 *
 * The log context is per thread, and a thread serves several connections in
 * turn, so run/fc.c sets it from the request's own x-fc-request-id right
 * before each handler runs (the door's enter hook), and run/server.c clears
 * it after each call. Setting it only on a connection's first call (as an
 * earlier version did) gives a body that arrives later another request's id,
 * or none: this case catches that. */
static void test_concurrent_requests_keep_their_own_request_ids(void **state)
{
    enum { N = 8 };
    struct fake_fc *ff;
    struct world *w = fc_start(state, &ff, true, false, NULL);
    fake_fc_hold(ff, true);
    int fds[N];
    char rids[N][48];
    char *bodies[N];
    char users[N][40];
    for (int i = 0; i < N; i++) {
        snprintf(rids[i], sizeof rids[i], "1-e2e-conc-%02d-0123abcd", i);
        snprintf(users[i], sizeof users[i], "Ue2econc0000000000000000000000%03d", i);
        json_t *ev = ev_message(w, &(struct ev){.user = users[i], .text = "concurrent"});
        bodies[i] = webhook_body(ev, NULL);
        char *sig = line_signature(E2E_CHANNEL_SECRET, bodies[i], strlen(bodies[i]));
        char *head = e2e_printf("POST /callback HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                                "x-fc-control-path: /http-invoke\r\nx-fc-request-id: %s\r\n"
                                "x-fc-access-key-id: %s\r\nx-fc-access-key-secret: %s\r\n"
                                "x-fc-security-token: %s\r\nContent-Type: application/json\r\n"
                                "X-Line-Signature: %s\r\nContent-Length: %zu\r\n\r\n",
                                w->port, rids[i], FAKE_FC_ROLE_KEY_ID, FAKE_FC_ROLE_SECRET, FAKE_FC_ROLE_TOKEN, sig,
                                strlen(bodies[i]));
        fds[i] = connect_bot(w);
        send_all(fds[i], head, strlen(head));
        free(head);
        free(sig);
        /* The bot has read these headers (its first call for the request). */
        char *start = e2e_printf("FC Invoke Start RequestId: %s\n", rids[i]);
        wait_log(w, start);
        free(start);
    }
    for (int i = 0; i < N; i++)
        send_all(fds[i], bodies[i], strlen(bodies[i]));
    for (int i = 0; i < N; i++) {
        int status = read_status(fds[i]);
        close(fds[i]);
        free(bodies[i]);
        if (status != 200)
            fail_msg("concurrent webhook %s: want 200, got %d", rids[i], status);
    }
    for (int i = 0; i < N; i++) {
        char *end = e2e_printf("FC Invoke End RequestId: %s\n", rids[i]);
        wait_log(w, end);
        free(end);
    }

    /* Each "webhook:" line belongs to exactly one of the requests. */
    char *log = bot_log(w);
    int seen[N] = {0};
    struct e2e_buf wrong = {0};
    char *save = NULL;
    for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *o = line[0] == '{' ? json_loads(line, 0, NULL) : NULL;
        const char *msg = json_string_value(json_object_get(o, "msg"));
        if (msg && (strncmp(msg, "webhook:", 8) == 0 || strncmp(msg, "asynchronous invocation", 23) == 0)) {
            const char *rid = json_string_value(json_object_get(o, "request_id"));
            int k = -1;
            for (int i = 0; i < N && rid; i++)
                if (strcmp(rid, rids[i]) == 0)
                    k = i;
            if (k >= 0 && strncmp(msg, "webhook:", 8) == 0)
                seen[k]++;
            if (k < 0)
                e2e_buf_addf(&wrong, "  %s\n", line);
        }
        json_decref(o);
    }
    free(log);
    struct e2e_buf report = {0};
    for (int i = 0; i < N; i++)
        if (seen[i] != 1)
            e2e_buf_addf(&report, "  %s has %d \"webhook:\" line(s), want 1\n", rids[i], seen[i]);
    char *r = e2e_buf_take(&report), *wr = e2e_buf_take(&wrong);
    static char report_text[16384]; /* fail_msg does not return: nothing may be left allocated */
    bool bad = (r && *r) || (wr && *wr);
    snprintf(report_text, sizeof report_text, "%s%s%s", r ? r : "",
             wr && *wr ? "  lines with no or a foreign request_id:\n" : "", wr ? wr : "");
    free(r);
    free(wr);
    if (bad)
        fail_msg("log lines of concurrent invocations carry the wrong request_id:\n%s",
                 report_text);

    fake_fc_hold(ff, false);
    wait_deliveries(ff, N);
    for (int i = 0; i < N; i++)
        assert_answered(w, users[i], 1);
    fc_finish(w, ff);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_stand_in_checks_acs3),
        E2E_TEST(test_http_trigger_hands_off_with_the_request_credentials),
        E2E_TEST(test_environment_credentials_when_fc_passes_none),
        E2E_TEST(test_request_credentials_win_over_the_environment),
        E2E_TEST(test_bad_signature_is_401_without_invoke),
        E2E_TEST(test_failed_hand_off_is_503_and_the_redelivery_is_answered_once),
        E2E_TEST(test_inline_mode_answers_inside_the_request),
        E2E_TEST(test_initialize_and_foreign_event_invocations),
        E2E_TEST(test_invoke_start_end_lines_frame_the_request_ids),
        E2E_TEST(test_async_event_delivered_twice_is_answered_once),
        E2E_TEST(test_big_webhook_is_split_under_the_fc_async_cap),
        E2E_TEST(test_no_credentials_at_all_is_503_and_not_lost),
        E2E_TEST(test_malformed_and_oversized_webhooks),
        E2E_TEST(test_chunked_bodies_meet_the_caps),
        E2E_TEST(test_concurrent_requests_keep_their_own_request_ids),
    };
    return E2E_RUN(tests);
}
