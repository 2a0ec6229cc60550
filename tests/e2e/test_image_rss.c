/* test_image_rss.c - a 10 MB image fits the memory deploy/ gives the bot on
 * AWS Lambda and Alibaba Cloud FC (issue 13, part 6).
 *
 * The real binary runs as a Lambda custom runtime against fake_lambda (as
 * test_lambda.c), with a catalogue whose model has `vision: true` on the
 * fake LLM. A signed webhook carrying an image message is queued; the
 * webhook invocation hands it to the asynchronous work invocation, which
 * fetches the content from the fake LINE (a real PNG just under
 * LINEBOT_MAX_CONTENT_MB's default, 10 MiB, made here), sends it to the
 * model as a data: URL and replies. Then the runtime's peak RSS
 * (/proc/PID/status VmHWM, the kernel's own account) is read while it is
 * still running.
 *
 * The oracle for the limit is deploy/ itself: the `memory_mb` defaults of
 * deploy/aws/variables.tf (Lambda) and
 * deploy/alicloud/modules/linebot-fc/variables.tf (FC), read here. The peak
 * must stay under half of the smaller one, leaving the other half for what
 * a test cannot see (a larger history, a knowledge base's vectors, the
 * allocator's fragmentation over a warm runtime's life). The fake LLM
 * decodes the data URL and the bytes are compared, so the image really went
 * the whole way. The figures are printed for docs/serverless.md.
 *
 * Skipped under AddressSanitizer: its shadow memory and quarantine make RSS
 * say nothing about the bot. */
#include <jansson.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fake_lambda.h"
#include "harness.h"
#include "media.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define REPO FIXTURES_DIR "/../.."
#define USER_A "Ue2e0000000000000000000000000000a"
#define CONTENT_MAX (10u * 1024 * 1024) /* LINEBOT_MAX_CONTENT_MB's default, as stage_fetch.c counts it */

/* The default of `variable "memory_mb"` in the Terraform file `path` (MB). */
static long deployed_memory_mb(const char *path)
{
    char *full = e2e_printf("%s/%s", REPO, path);
    char *text = e2e_read_file(full);
    if (!text)
        fail_msg("%s cannot be read", full);
    const char *var = strstr(text, "variable \"memory_mb\"");
    const char *def = var ? strstr(var, "default") : NULL;
    const char *end = var ? strstr(var + 1, "\nvariable ") : NULL;
    long mb = -1;
    if (def && (!end || def < end))
        sscanf(def, "default = %ld", &mb);
    if (mb <= 0)
        fail_msg("%s: no default for variable \"memory_mb\"", full);
    free(text);
    free(full);
    return mb;
}

/* A /proc/PID/status figure in KiB ("VmHWM", "VmRSS"); -1 when absent. */
static long proc_status_kib(pid_t pid, const char *field)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    char *text = e2e_read_file(path);
    if (!text)
        return -1;
    char key[32];
    snprintf(key, sizeof key, "\n%s:", field);
    const char *at = strstr(text, key);
    long kib = -1;
    if (at)
        sscanf(at + strlen(key), " %ld", &kib);
    free(text);
    return kib;
}

/* An API Gateway HTTP API (payload 2.0) event carrying `body`, signed. */
static char *http_api_event(const char *body)
{
    static unsigned long seq;
    char reqid[64];
    snprintf(reqid, sizeof reqid, "e2eRssReq%06lu=", ++seq);
    char *sig = line_signature(E2E_CHANNEL_SECRET, body, strlen(body));
    json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s},s:{s:s,s:{s:s,s:s},s:s,s:I},s:s,s:b}", "version",
                           "2.0", "routeKey", "POST /callback", "rawPath", "/callback", "rawQueryString", "",
                           "headers", "content-type", "application/json; charset=utf-8", "x-line-signature", sig,
                           "x-forwarded-proto", "https", "requestContext", "requestId", reqid, "http", "method",
                           "POST", "path", "/callback", "stage", "$default", "timeEpoch",
                           (json_int_t)e2e_now_ms(), "body", body, "isBase64Encoded", 0);
    assert_non_null(ev);
    char *s = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    free(sig);
    return s;
}

/* Queues `ev` as a webhook and waits until the runtime has done everything
 * it led to (the webhook invocation, then the work invocation). */
static void deliver(struct world *w, struct fake_lambda *fl, json_t *ev)
{
    char *body = webhook_body(ev, NULL);
    char *event = http_api_event(body);
    const char *rid = fake_lambda_enqueue(fl, event);
    if (!fake_lambda_wait_result(fl, rid, e2e_ms(E2E_WAIT_MS)))
        fail_msg("the webhook invocation got no response within %d ms", e2e_ms(E2E_WAIT_MS));
    if (!fake_lambda_wait_idle(fl, e2e_ms(E2E_WAIT_MS))) {
        bot_print_log(w, 40);
        fail_msg("the runtime did not finish the work within %d ms", e2e_ms(E2E_WAIT_MS));
    }
    free(event);
    free(body);
}

/* A w x w PNG (media.c: stored, not compressed) as large as fits under
 * CONTENT_MAX. */
static unsigned char *png_just_under_the_cap(size_t *len)
{
    unsigned side = 1800;
    for (;;) {
        size_t next = (size_t)(side + 10) * (1 + 3 * (size_t)(side + 10)) + 4096;
        if (next >= CONTENT_MAX)
            break;
        side += 10;
    }
    unsigned char *png = media_png(side, side, 3, len);
    if (*len >= CONTENT_MAX || *len < CONTENT_MAX - 128 * 1024)
        fail_msg("the test image is %zu bytes, want just under %u", *len, CONTENT_MAX);
    return png;
}

static void test_a_10_mb_image_on_lambda_stays_under_half_the_deployed_memory(void **state)
{
    if (UNDER_ASAN) {
        printf("skipped: AddressSanitizer's shadow memory makes RSS meaningless\n");
        skip();
    }
    long lambda_mb = deployed_memory_mb("deploy/aws/variables.tf");
    long fc_mb = deployed_memory_mb("deploy/alicloud/modules/linebot-fc/variables.tf");
    long smallest_mb = lambda_mb < fc_mb ? lambda_mb : fc_mb;

    struct world *w = world_new(state, NULL);
    struct fake_lambda *fl = fake_lambda_start(NULL);
    assert_non_null(fl);
    world_add_fake(w, fake_lambda_dump_cb, fake_lambda_stop_cb, fl);
    char *api = e2e_printf("AWS_LAMBDA_RUNTIME_API=%s", fake_lambda_runtime_api(fl));
    char *endpoint = e2e_printf("AWS_ENDPOINT_URL_LAMBDA=%s", fake_lambda_url(fl));
    char *memory = e2e_printf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%ld", lambda_mb);
    char *models = e2e_printf("LINEBOT_MODELS=[{\"name\":\"eye\",\"model\":\"model-eye\",\"provider\":\"custom\","
                              "\"base_url\":\"%s\",\"api_key_env\":\"KEY_A\",\"vision\":true}]",
                              fake_llm_base_url(w->llm));
    const char *env[] = {api, endpoint, memory, models, "KEY_A=" E2E_LLM_KEY, "LINEBOT_LANG=en",
                         "AWS_LAMBDA_FUNCTION_NAME=" FAKE_LAMBDA_FUNCTION, "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
                         "AWS_REGION=" FAKE_AWS_REGION, "AWS_DEFAULT_REGION=" FAKE_AWS_REGION,
                         "AWS_ACCESS_KEY_ID=" FAKE_AWS_ACCESS_KEY_ID,
                         "AWS_SECRET_ACCESS_KEY=" FAKE_AWS_SECRET_ACCESS_KEY,
                         "AWS_SESSION_TOKEN=" FAKE_AWS_SESSION_TOKEN, "_HANDLER=bootstrap",
                         "LAMBDA_TASK_ROOT=/var/task", "HOST", "PORT", NULL};
    bot_spawn_bootstrap(w, env);
    free(api);
    free(endpoint);
    free(memory);
    free(models);
    if (!fake_lambda_wait_idle(fl, e2e_ms(15000))) {
        bot_print_log(w, 60);
        fail_msg("the runtime never asked for an invocation");
    }

    /* A text question first: the runtime's peak without an image. */
    fake_llm_push_answer(w->llm, "Hello.", 0);
    deliver(w, fl, ev_message(w, &(struct ev){.user = USER_A, .text = "hello"}));
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 1);
    long text_kib = proc_status_kib(w->pid, "VmHWM");
    assert_true(text_kib > 0);

    size_t len;
    unsigned char *png = png_just_under_the_cap(&len);
    fake_line_set_content(w->line, "img-big", png, len, "image/png", 0);
    fake_llm_push_answer(w->llm, "A large striped picture.", 0);
    deliver(w, fl,
            ev_message(w, &(struct ev){.user = USER_A, .message_type = "image", .message_id = "img-big"}));
    long image_kib = proc_status_kib(w->pid, "VmHWM");
    assert_true(image_kib > 0);

    /* The image went the whole way: to the model, byte for byte, and the
     * answer came back to the user. */
    assert_int_equal(fake_llm_request_count(w->llm), 2);
    struct fake_llm_image got[2];
    size_t n = fake_llm_request_images(w->llm, 1, got, 2);
    assert_int_equal(n, 1);
    assert_string_equal(got[0].mime, "image/png");
    if (got[0].len != len || memcmp(got[0].data, png, len) != 0)
        fail_msg("the model got different bytes (%zu vs %zu)", got[0].len, len);
    fake_llm_images_free(got, n);
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 2);
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, 1, &m));
    assert_contains(m.text, "A large striped picture.");

    double image_mib = (double)len / 1048576.0;
    printf("peak RSS on Lambda: %.1f MiB after a text question, %.1f MiB after a %.2f MiB image "
           "(%.1f times the image more); deployed memory: Lambda %ld MB, FC %ld MB\n",
           (double)text_kib / 1024.0, (double)image_kib / 1024.0, image_mib,
           (double)(image_kib - text_kib) / 1024.0 / image_mib, lambda_mb, fc_mb);
    if (image_kib / 1024 >= smallest_mb / 2)
        fail_msg("a %.2f MiB image took the runtime's peak RSS to %ld KiB: at or above half of the %ld MB "
                 "deploy/ gives it",
                 image_mib, image_kib, smallest_mb);
    free(png);

    int status = bot_term(w, e2e_ms(10000));
    if (status == -1) {
        bot_kill9(w);
        fail_msg("the runtime did not stop within 10 s of SIGTERM");
    }
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_a_10_mb_image_on_lambda_stays_under_half_the_deployed_memory),
    };
    return E2E_RUN(tests);
}
