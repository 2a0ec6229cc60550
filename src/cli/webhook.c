/* webhook.c - `linebot webhook set URL | get | test [URL]`.
 *
 * Connecting the webhook is the step of the set-up that otherwise needs the
 * LINE Developers Console: paste the URL, press Verify, read a pop-up. These
 * three commands do the same through the Messaging API (io/line_api.c), so a
 * deploy script can set and verify the URL. They need only the access token
 * (and LINE_API_BASE_URL): no model, no store, no port, so they work before
 * the rest of the set-up does. What LINE says on a failure is printed with
 * its own message; the token never is. */
#include "cli/webhook.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core/redact.h"
#include "io/http_client.h"
#include "io/line_api.h"

const char cli_webhook_usage[] =
    "Usage: linebot webhook set URL     register URL as the channel's webhook at LINE\n"
    "       linebot webhook get         show the registered URL and whether it is active\n"
    "       linebot webhook test [URL]  have LINE send a test webhook to the registered URL\n"
    "                                   (or to URL) and print its verdict\n"
    "\n"
    "LINE only calls https:// URLs, e.g. https://your.host/callback.\n"
    "Needs LINE_CHANNEL_ACCESS_TOKEN (or LINE_ACCESS_TOKEN); LINE_API_BASE_URL and\n"
    "SSL_CERT_FILE are read too. No model or store settings are needed.\n"
    "Exit status: 0 done (for test: LINE's test succeeded), 1 failed, 2 usage error.\n";

/* "linebot webhook: <what>[ <arg>]", then the usage; exit status 2. */
static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "linebot webhook: %s%s%s\n\n%s", what, arg ? " " : "", arg ? arg : "", cli_webhook_usage);
    return 2;
}

/* What to do about a refusal, when the status says more than LINE's message. */
static void hint(long status)
{
    if (status == 401)
        fputs("  fix: LINE refused the access token: issue a new long-lived token (Messaging API tab) "
              "and put it in LINE_CHANNEL_ACCESS_TOKEN, without quotes or spaces\n",
              stderr);
    else if (status == 0)
        fputs("  fix: LINE could not be reached: check the network, LINE_API_BASE_URL and SSL_CERT_FILE\n", stderr);
}

/* LINE's own words, masked like a log line in case an answer ever echoed
 * the token. */
static int report_failure(const struct line_api *api, const char *what, long status, const char *err)
{
    struct redact_secret secrets[CONFIG_MAX_SECRETS];
    size_t n = config_secrets(api->cfg, secrets, CONFIG_MAX_SECRETS);
    char *masked = redact_text(err[0] ? err : "LINE refused the request", secrets, n);
    fprintf(stderr, "linebot webhook %s: %s\n", what, masked);
    free(masked);
    hint(status);
    return 1;
}

static int webhook_set(struct line_api *api, const char *url)
{
    char err[512];
    long status;
    if (line_webhook_set(api, url, &status, err, sizeof err) != LINE_OK)
        return report_failure(api, "set", status, err);
    printf("Webhook URL set: %s\n", url);
    printf("Check it with `linebot webhook test`; `linebot webhook get` shows whether it is active.\n");
    return 0;
}

static int webhook_get(struct line_api *api)
{
    char err[512];
    long status;
    struct line_webhook wh;
    if (line_webhook_get(api, &wh, &status, err, sizeof err) != LINE_OK)
        return report_failure(api, "get", status, err);
    printf("endpoint: %s\n", wh.endpoint[0] ? wh.endpoint : "(none)");
    printf("active:   %s\n", wh.active ? "yes" : "no");
    if (!wh.endpoint[0])
        printf("Set one with `linebot webhook set https://your.host/callback`.\n");
    else if (!wh.active)
        printf("Turn \"Use webhook\" on in the LINE Developers Console (Messaging API tab).\n");
    line_webhook_free(&wh);
    return 0;
}

static int webhook_test(struct line_api *api, const char *url)
{
    char err[512];
    long status;
    struct line_webhook_test t;
    if (line_webhook_test(api, url, &t, &status, err, sizeof err) != LINE_OK)
        return report_failure(api, "test", status, err);
    printf("success:    %s\n", t.success ? "true" : "false");
    printf("timestamp:  %s\n", t.timestamp);
    if (t.status_code >= 0)
        printf("statusCode: %ld\n", t.status_code);
    else
        printf("statusCode: (none)\n");
    printf("reason:     %s\n", t.reason);
    printf("detail:     %s\n", t.detail);
    int rc = t.success ? 0 : 1;
    if (!t.success)
        fprintf(stderr, "linebot webhook test: LINE could not deliver a webhook to %s\n",
                url ? url : "the registered URL");
    line_webhook_test_free(&t);
    return rc;
}

int cli_webhook(int argc, char **argv, char *const *env)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(cli_webhook_usage, stdout);
            return 0;
        }
    if (argc < 2)
        return usage_error("say set, get or test", NULL);
    const char *sub = argv[1];
    const char *url = NULL;
    if (strcmp(sub, "set") == 0) {
        if (argc != 3)
            return usage_error("set takes one URL", NULL);
        url = argv[2];
    } else if (strcmp(sub, "get") == 0) {
        if (argc != 2)
            return usage_error("unexpected argument", argv[2]);
    } else if (strcmp(sub, "test") == 0) {
        if (argc > 3)
            return usage_error("unexpected argument", argv[3]);
        url = argc == 3 ? argv[2] : NULL;
    } else {
        return usage_error("unknown subcommand", sub);
    }
    char err[512];
    if (url && line_webhook_url_check(url, err, sizeof err) != 0) {
        fprintf(stderr, "linebot webhook %s: %s: %s\n", sub, url, err);
        return 2;
    }

    struct config cfg;
    if (config_load_line(&cfg, env, err, sizeof err) != 0) {
        fprintf(stderr, "linebot webhook: %s\n", err);
        return 1;
    }
    if (cfg.ca_file && access(cfg.ca_file, R_OK) != 0) {
        fprintf(stderr, "linebot webhook: SSL_CERT_FILE %.300s cannot be read: %s\n", cfg.ca_file, strerror(errno));
        config_free(&cfg);
        return 1;
    }
    if (http_global_init() != 0) {
        fprintf(stderr, "linebot webhook: could not initialise libcurl\n");
        config_free(&cfg);
        return 1;
    }
    http_use_ca_bundle(cfg.ca_file);
    struct http_client *http = http_client_new();
    struct line_api api = {.cfg = &cfg, .http = http, .cancel = NULL};
    int rc = strcmp(sub, "set") == 0   ? webhook_set(&api, url)
             : strcmp(sub, "get") == 0 ? webhook_get(&api)
                                       : webhook_test(&api, url);
    http_client_free(http);
    http_global_cleanup();
    config_free(&cfg);
    return rc;
}
