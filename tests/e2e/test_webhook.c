/* test_webhook.c - the front door of the real binary: POST /callback,
 * GET /healthz, GET /metrics.
 *
 * Signature checks (and that a refused request leaves no trace), malformed
 * and oversized bodies, routing, deduplication by webhookEventId, several
 * events in one webhook, the acknowledgement not waiting for the model, and
 * every documented LINE webhook example being accepted. */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define USER_B "Ue2e0000000000000000000000000000b"

static void test_healthz_and_routing(void **state)
{
    struct world *w = world_start(state, NULL);
    char *body = NULL;
    assert_int_equal(bot_get(w, "/healthz", &body), 200);
    free(body);
    assert_int_equal(bot_get(w, "/nope", NULL), 404);
    assert_int_equal(bot_post_raw(w, "/nope", "{}", 2, NULL, NULL), 404);
    assert_int_equal(bot_get(w, "/callback", NULL), 405);
    assert_int_equal(bot_request(w, "PUT", "/callback", NULL), 405);
    assert_int_equal(bot_request(w, "DELETE", "/healthz", NULL), 405);
    world_finish(w);
}

static void test_missing_or_wrong_signature_is_401_and_leaves_no_trace(void **state)
{
    struct world *w = world_start(state, NULL);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "unsigned hello"});
    char *body = webhook_body(ev, NULL);
    size_t len = strlen(body);

    assert_int_equal(bot_post_raw(w, "/callback", body, len, NULL, NULL), 401);

    const char *garbage[] = {"X-Line-Signature: bm90IGEgc2lnbmF0dXJl", NULL};
    assert_int_equal(bot_post_raw(w, "/callback", body, len, garbage, NULL), 401);

    const char *empty[] = {"X-Line-Signature;", NULL}; /* curl: header with empty value */
    assert_int_equal(bot_post_raw(w, "/callback", body, len, empty, NULL), 401);

    char *other_secret = line_signature("not-the-channel-secret", body, len);
    char *h1 = e2e_printf("X-Line-Signature: %s", other_secret);
    const char *wrong_secret[] = {h1, NULL};
    assert_int_equal(bot_post_raw(w, "/callback", body, len, wrong_secret, NULL), 401);

    /* A valid signature of a different body (one byte changed). */
    char *tampered = e2e_strdup(body);
    char *p = strstr(tampered, "unsigned hello");
    p[0] = 'U';
    char *sig = line_signature(E2E_CHANNEL_SECRET, body, len);
    char *h2 = e2e_printf("X-Line-Signature: %s", sig);
    const char *right_sig[] = {h2, NULL};
    assert_int_equal(bot_post_raw(w, "/callback", tampered, len, right_sig, NULL), 401);

    world_quiet(w);
    assert_untouched(w, 0, 0);

    /* Nothing was stored: the same event, now signed, is answered once. */
    assert_int_equal(bot_post_webhook(w, body), 200);
    assert_answers(w, USER_A, 1);
    assert_int_equal(fake_llm_request_count(w->llm), 1);

    free(h1);
    free(h2);
    free(sig);
    free(other_secret);
    free(tampered);
    free(body);
    world_finish(w);
}

static void test_signature_header_name_is_case_insensitive(void **state)
{
    struct world *w = world_start(state, NULL);
    const char *names[] = {"x-line-signature", "X-LINE-SIGNATURE", "x-LiNe-SiGnAtUrE"};
    for (size_t i = 0; i < 3; i++) {
        char text[32];
        snprintf(text, sizeof text, "case %zu", i);
        json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = text});
        char *body = webhook_body(ev, NULL);
        char *sig = line_signature(E2E_CHANNEL_SECRET, body, strlen(body));
        char *h = e2e_printf("%s: %s", names[i], sig);
        const char *headers[] = {h, NULL};
        assert_int_equal(bot_post_raw(w, "/callback", body, strlen(body), headers, NULL), 200);
        free(h);
        free(sig);
        free(body);
    }
    assert_answers(w, USER_A, 3);
    world_finish(w);
}

static long post_signed(struct world *w, const char *body, size_t len)
{
    char *sig = line_signature(E2E_CHANNEL_SECRET, body, len);
    char *h = e2e_printf("X-Line-Signature: %s", sig);
    const char *headers[] = {h, NULL};
    long status = bot_post_raw(w, "/callback", body, len, headers, NULL);
    free(h);
    free(sig);
    return status;
}

static void test_malformed_bodies_are_400_and_empty_events_200(void **state)
{
    struct world *w = world_start(state, NULL);
    const char *bad[] = {
        "this is not json",
        "{\"destination\":\"U0\",\"events\":",
        "{\"destination\":\"" E2E_DESTINATION "\"}",
        "{\"destination\":\"" E2E_DESTINATION "\",\"events\":{}}",
        "{\"destination\":\"" E2E_DESTINATION "\",\"events\":\"none\"}",
        "[]",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        long status = post_signed(w, bad[i], strlen(bad[i]));
        if (status != 400)
            fail_msg("signed body \"%s\": want 400, got %ld", bad[i], status);
    }
    const char *empty = "{\"destination\":\"" E2E_DESTINATION "\",\"events\":[]}";
    assert_int_equal(post_signed(w, empty, strlen(empty)), 200);
    assert_int_equal(bot_post_webhook(w, empty), 200);
    world_quiet(w);
    assert_untouched(w, 0, 0);
    world_finish(w);
}

static void test_body_over_1mib_is_413(void **state)
{
    struct world *w = world_start(state, NULL);
    /* Valid JSON, correctly signed, just too big: 1 MiB + 1 byte. */
    size_t len = (1u << 20) + 1;
    char *body = e2e_xmalloc(len + 1);
    const char *head = "{\"destination\":\"" E2E_DESTINATION "\",\"events\":[],\"pad\":\"";
    size_t hl = strlen(head);
    memcpy(body, head, hl);
    memset(body + hl, 'x', len - hl - 2);
    memcpy(body + len - 2, "\"}", 2);
    body[len] = '\0';
    assert_int_equal(post_signed(w, body, len), 413);
    /* Exactly 1 MiB is still fine. */
    len -= 1;
    memset(body + hl, 'x', len - hl - 2);
    memcpy(body + len - 2, "\"}", 2);
    body[len] = '\0';
    assert_int_equal(post_signed(w, body, len), 200);
    free(body);
    /* The server is still healthy after refusing a big body. */
    assert_int_equal(bot_get(w, "/healthz", NULL), 200);
    world_finish(w);
}

static void test_one_to_one_text_answered_by_reply(void **state)
{
    struct world *w = world_start(state, NULL);
    json_t *ev = send_text(w, USER_A, "hello there");
    assert_answers(w, USER_A, 1);
    assert_int_equal(fake_line_message_count(w->line), 1);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    assert_string_equal(m.api, "reply");
    assert_string_equal(m.reply_token, ev_get(ev, "replyToken"));
    assert_string_equal(m.text, "echo: hello there");
    assert_int_equal(fake_line_request_count(w->line, NULL, FAKE_LINE_PUSH_PATH), 0);

    /* What the model got: the configured model, the key, the user's text. */
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    json_t *req = fake_llm_request_json(w->llm, 0);
    assert_string_equal(json_string_value(json_object_get(req, "model")), E2E_MODEL);
    json_decref(req);
    char *auth = fake_llm_request_auth(w->llm, 0);
    assert_string_equal(auth, "Bearer " E2E_LLM_KEY);
    free(auth);
    char *last = fake_llm_request_last_user(w->llm, 0);
    assert_string_equal(last, "hello there");
    free(last);

    /* The loading animation was shown to this user, and LINE got the right token. */
    assert_int_equal(fake_line_loading_count(w->line, USER_A), 1);
    for (size_t i = 0; i < fake_line_request_total(w->line); i++) {
        struct fake_line_request q;
        fake_line_request_at(w->line, i, &q);
        assert_string_equal(q.authorization, "Bearer " E2E_ACCESS_TOKEN);
    }
    world_finish(w);
}

static void test_same_event_twice_answered_once(void **state)
{
    struct world *w = world_start(state, NULL);
    json_t *ev = send_text(w, USER_A, "only once please");
    send_event(w, ev);                       /* identical delivery */
    send_event(w, ev_redelivered(w, ev));    /* LINE's redelivery */
    assert_answers(w, USER_A, 1);
    world_quiet(w);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 1);
    assert_int_equal(fake_llm_request_count(w->llm), 1);

    /* After it was answered, a late redelivery is still a duplicate. */
    send_event(w, ev_redelivered(w, ev));
    world_quiet(w);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 1);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    world_finish(w);
}

static void test_two_events_in_one_webhook_both_answered(void **state)
{
    struct world *w = world_start(state, NULL);
    json_t *a = ev_message(w, &(struct ev){.user = USER_A, .text = "from A"});
    json_t *b = ev_message(w, &(struct ev){.user = USER_B, .text = "from B"});
    assert_int_equal(bot_send(w, a, b, NULL), 200);
    assert_answers(w, USER_A, 1);
    assert_answers(w, USER_B, 1);
    char *ta = world_texts(w, USER_A), *tb = world_texts(w, USER_B);
    assert_string_equal(ta, "echo: from A");
    assert_string_equal(tb, "echo: from B");
    free(ta);
    free(tb);
    assert_int_equal(fake_llm_request_count(w->llm), 2);
    world_finish(w);
}

static void test_ack_does_not_wait_for_a_slow_model(void **state)
{
    struct world *w = world_start(state, NULL);
    fake_llm_set_delay(w->llm, 5000);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "take your time"});
    char *body = webhook_body(ev, NULL);
    int64_t ms = -1;
    assert_int_equal(bot_post_webhook_timed(w, body, &ms), 200);
    free(body);
    if (ms >= 1000)
        fail_msg("POST /callback took %lld ms with a 5 s model; the 200 must not wait for it",
                 (long long)ms);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 0);
    assert_answers(w, USER_A, 1);
    char *t = world_texts(w, USER_A);
    assert_string_equal(t, "echo: take your time");
    free(t);
    world_finish(w);
}

/* The loading animation does not hold the model up: LINE is slow to answer
 * the loading request, yet the model is asked at once. The answer still goes
 * out only after LINE answered the loading request (an animation started
 * after the answer would linger on screen). */
static void test_model_is_asked_without_waiting_for_the_loading_animation(void **state)
{
    struct world *w = world_start(state, NULL);
    fake_line_set_delay(w->line, FAKE_LINE_LOADING_PATH, 1500);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "quick question"});
    char *body = webhook_body(ev, NULL);
    assert_int_equal(bot_post_webhook(w, body), 200);
    free(body);
    assert_answers(w, USER_A, 1);

    int64_t loading_at = -1;
    for (size_t i = 0; i < fake_line_request_total(w->line); i++) {
        struct fake_line_request q;
        if (fake_line_request_at(w->line, i, &q) && strcmp(q.path, FAKE_LINE_LOADING_PATH) == 0)
            loading_at = q.at_ms;
    }
    assert_true(loading_at >= 0);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    int64_t llm_at = fake_llm_request_time(w->llm, 0);
    if (llm_at - loading_at >= 1000)
        fail_msg("the model was asked %lld ms after the loading request: it waited for LINE's answer",
                 (long long)(llm_at - loading_at));
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 0, &m));
    if (m.at_ms < loading_at + 1400)
        fail_msg("the answer reached LINE %lld ms after the loading request, before LINE answered it",
                 (long long)(m.at_ms - loading_at));
    world_finish(w);
}

static void test_metrics_exposed(void **state)
{
    struct world *w = world_start(state, NULL);
    send_text(w, USER_A, "count me");
    assert_answers(w, USER_A, 1);
    /* A second user's event meets a failing model: the apology goes out, and
     * the event counts once as failed, not as answered. */
    fake_llm_set_always(w->llm, 500, "{\"error\":{\"message\":\"down\"}}");
    send_text(w, USER_B, "fail me");
    assert_answers(w, USER_B, 1);
    struct http_result r;
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", w->base_url);
    http_do("GET", url, NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(e2e_contains_ci(r.headers, "content-type: text/plain"));
    assert_true(metrics_value(r.body, "linebot_webhooks_total{status=\"200\"}") == 2);
    assert_true(metrics_value(r.body, "linebot_events_total{type=\"message\"}") == 2);
    assert_true(metrics_value(r.body, "linebot_events_answered_total") == 1);
    assert_true(metrics_value(r.body, "linebot_events_failed_total") == 1);
    assert_true(metrics_value(r.body, "linebot_llm_errors_total") == 1);
    assert_true(metrics_value(r.body, "linebot_inbox_depth") == 0);
    assert_contains(r.body, "linebot_llm_latency_seconds_bucket");
    /* Every sample line is a linebot_ series. */
    for (const char *line = r.body; line && *line;) {
        if (*line != '#' && *line != '\n' && strncmp(line, "linebot_", 8) != 0)
            fail_msg("metric line without the linebot_ prefix: %.80s", line);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    http_result_free(&r);
    world_finish(w);
}

/* Every example webhook of the LINE docs (signed with our secret) is accepted,
 * and the bot stays healthy. Their reply tokens were never issued, so nothing
 * is delivered, and without LINEBOT_PUSH_FALLBACK nothing is pushed. */
static void test_documented_examples_accepted(void **state)
{
    struct world *w = world_start(state, NULL);
    DIR *d = opendir(FIXTURES_DIR "/line-webhooks");
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".json"))
            continue;
        char *path = e2e_printf("%s/line-webhooks/%s", FIXTURES_DIR, e->d_name);
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        struct e2e_buf b = {0};
        char chunk[4096];
        size_t k;
        while ((k = fread(chunk, 1, sizeof chunk, fp)) > 0)
            e2e_buf_add(&b, chunk, k);
        fclose(fp);
        long status = post_signed(w, b.data, b.len);
        if (status != 200)
            fail_msg("%s: want 200, got %ld", e->d_name, status);
        free(b.data);
        free(path);
        n++;
    }
    closedir(d);
    assert_true(n >= 25);
    world_quiet(w);
    assert_int_equal(bot_get(w, "/healthz", NULL), 200);
    assert_int_equal(fake_line_message_count(w->line), 0);
    assert_int_equal(fake_line_request_count(w->line, NULL, FAKE_LINE_PUSH_PATH), 0);
    world_finish(w);
}

struct poster {
    struct world *w;
    char *body;
    long status;
};

static void *post_thread(void *arg)
{
    struct poster *p = arg;
    p->status = bot_post_webhook(p->w, p->body);
    return NULL;
}

static void test_concurrent_webhooks(void **state)
{
    enum { THREADS = 8, PER = 3 };
    struct world *w = world_start(state, NULL);
    fake_llm_set_delay(w->llm, 100);
    struct poster p[THREADS];
    char users[THREADS * PER][40];
    for (int t = 0; t < THREADS; t++) {
        json_t *evs[PER];
        for (int k = 0; k < PER; k++) {
            int u = t * PER + k;
            snprintf(users[u], sizeof users[u], "Ue2econc000000000000000000000%04d", u);
            char text[32];
            snprintf(text, sizeof text, "concurrent %d", u);
            evs[k] = ev_message(w, &(struct ev){.user = users[u], .text = text});
        }
        p[t] = (struct poster){.w = w, .body = webhook_body(evs[0], evs[1], evs[2], NULL)};
    }
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, post_thread, &p[t]);
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        free(p[t].body);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(p[t].status, 200);
    fake_line_wait_deliveries(w->line, NULL, THREADS * PER, e2e_ms(E2E_WAIT_MS));
    e2e_sleep_ms(e2e_ms(E2E_GRACE_MS));
    for (int u = 0; u < THREADS * PER; u++) {
        char want[32];
        snprintf(want, sizeof want, "echo: concurrent %d", u);
        char *t = world_texts(w, users[u]);
        if (strcmp(t, want) != 0)
            fail_msg("%s: want exactly \"%s\", got \"%s\"", users[u], want, t);
        free(t);
    }
    world_finish(w);
}

/* Nothing the bot logs, even at debug level and on errors, holds a secret. */
static void test_logs_hold_no_secrets(void **state)
{
    struct world *w = world_start(state, NULL);
    json_t *ev = ev_message(w, &(struct ev){.user = USER_A, .text = "log me"});
    char *body = webhook_body(ev, NULL);
    const char *bad_sig[] = {"X-Line-Signature: AAAA", NULL};
    assert_int_equal(bot_post_raw(w, "/callback", body, strlen(body), bad_sig, NULL), 401);
    free(body);
    fake_llm_push(w->llm, 500, "{\"error\":{\"message\":\"boom\"}}", NULL, 0);
    fake_line_fail_next(w->line, FAKE_LINE_REPLY_PATH, 500, 1);
    send_event(w, ev);
    assert_answers(w, USER_A, 1);
    bot_stop(w);
    FILE *fp = fopen(w->log_path, "rb");
    assert_non_null(fp);
    struct e2e_buf b = {0};
    char chunk[8192];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, fp)) > 0)
        e2e_buf_add(&b, chunk, k);
    fclose(fp);
    assert_not_contains(b.data, E2E_CHANNEL_SECRET);
    assert_not_contains(b.data, E2E_ACCESS_TOKEN);
    assert_not_contains(b.data, "Bearer");
    assert_not_contains(b.data, "=" E2E_LLM_KEY);
    assert_not_contains(b.data, "\"" E2E_LLM_KEY "\"");
    free(b.data);
    world_finish(w);
}

/* Starts the bot with `env` changed (a "NAME" entry unsets, "NAME=value"
 * sets) and checks that it refuses to start with a message naming `name`. */
static void assert_refuses_to_start(void **state, const char *env_change, const char *name)
{
    struct world *w = world_new(state, NULL);
    bot_spawn(w, (const char *[]){env_change, NULL});
    int status = bot_wait_exit(w, e2e_ms(10000));
    if (status == -1)
        fail_msg("the bot kept running with %s", env_change);
    assert_true(WIFEXITED(status));
    assert_int_not_equal(WEXITSTATUS(status), 0);
    FILE *fp = fopen(w->log_path, "rb");
    assert_non_null(fp);
    struct e2e_buf b = {0};
    char chunk[4096];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, fp)) > 0)
        e2e_buf_add(&b, chunk, k);
    fclose(fp);
    /* The message names the variable (after our own "==== e2e" lines). */
    const char *after = strstr(b.data, "==== e2e:   PORT");
    assert_non_null(after);
    int named = 0;
    for (const char *p = b.data; (p = strstr(p, name)) != NULL; p++) {
        const char *line = p;
        while (line > b.data && line[-1] != '\n')
            line--;
        if (strncmp(line, "==== e2e", 8) != 0)
            named = 1;
    }
    if (!named)
        fail_msg("start-up failure does not name %s; log:\n%s", name, b.data);
    free(b.data);
    world_finish(w);
}

static void test_missing_setting_stops_start_up(void **state)
{
    assert_refuses_to_start(state, "LINE_CHANNEL_SECRET", "LINE_CHANNEL_SECRET");
}

/* A CA bundle that cannot be read is refused at start, not at the first HTTPS call. */
static void test_unreadable_ca_bundle_stops_start_up(void **state)
{
    assert_refuses_to_start(state, "SSL_CERT_FILE=/nonexistent-e2e-dir/ca.pem", "SSL_CERT_FILE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_healthz_and_routing),
        E2E_TEST(test_missing_or_wrong_signature_is_401_and_leaves_no_trace),
        E2E_TEST(test_signature_header_name_is_case_insensitive),
        E2E_TEST(test_malformed_bodies_are_400_and_empty_events_200),
        E2E_TEST(test_body_over_1mib_is_413),
        E2E_TEST(test_one_to_one_text_answered_by_reply),
        E2E_TEST(test_same_event_twice_answered_once),
        E2E_TEST(test_two_events_in_one_webhook_both_answered),
        E2E_TEST(test_ack_does_not_wait_for_a_slow_model),
        E2E_TEST(test_model_is_asked_without_waiting_for_the_loading_animation),
        E2E_TEST(test_metrics_exposed),
        E2E_TEST(test_documented_examples_accepted),
        E2E_TEST(test_concurrent_webhooks),
        E2E_TEST(test_logs_hold_no_secrets),
        E2E_TEST(test_missing_setting_stops_start_up),
        E2E_TEST(test_unreadable_ca_bundle_stops_start_up),
    };
    return E2E_RUN(tests);
}
