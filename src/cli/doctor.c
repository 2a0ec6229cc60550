/* doctor.c - `linebot doctor`: the real set-up, checked before a real user
 * writes.
 *
 * A wrong credential otherwise shows up only when the first message arrives:
 * a swapped secret as "wrong X-Line-Signature" on every webhook, a refused
 * token after the model was already asked (and paid). Doctor asks each party
 * once, the way the bot will: the settings parse (config_load), the channel
 * secret has the shape of one, LINE accepts the token (GET /v2/bot/info), the
 * webhook endpoint is registered and active, the model answers (GET /models,
 * or a one-token completion where the provider has no list; each model of a
 * LINEBOT_MODELS catalogue), the embeddings model embeds a text (with
 * LINEBOT_EMBED_MODEL), the store opens
 * and takes a write, a CA bundle is found, and the clock agrees with LINE's.
 *
 * One line per check: "ok", "warn", "FAIL" or "skip" (a check that needs an
 * earlier one), and under a warning or a failure an indented "fix:" line.
 * Every line goes through redact_text with the configured secrets, so a
 * provider that echoes a key cannot make doctor print it. Exit 1 when a check
 * failed; an unset or inactive webhook is a warning, since the bot may be
 * set up before it is reachable. */
#include "cli/doctor.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "core/alloc.h"
#include "core/models.h"
#include "core/redact.h"
#include "io/clock.h"
#include "io/embed.h"
#include "io/http_client.h"
#include "io/line_api.h"
#include "io/llm.h"
#include "io/store.h"
#include "obs/log.h"

#define DOCTOR_MODEL_TIMEOUT_MS 15000L
#define DOCTOR_CLOCK_SKEW_S 300 /* LINE's timestamps and ours may differ this much */

const char cli_doctor_usage[] =
    "Usage: linebot doctor\n"
    "\n"
    "Checks the set-up with the settings `linebot serve` would use, and prints one line\n"
    "per check (ok, warn, FAIL) with a fix for each problem:\n"
    "  settings         they parse\n"
    "  channel secret   LINE_CHANNEL_SECRET is 32 hexadecimal characters\n"
    "  CA bundle        a CA bundle for TLS is found (SSL_CERT_FILE)\n"
    "  LINE token       LINE accepts LINE_CHANNEL_ACCESS_TOKEN (GET /v2/bot/info)\n"
    "  webhook          the endpoint registered at LINE, and whether it is active\n"
    "  model            the provider lists LLM_MODEL (GET /models), or answers a\n"
    "                   one-token request when it has no list; with the latency.\n"
    "                   With LINEBOT_MODELS: each model of the catalogue\n"
    "  embeddings       with LINEBOT_EMBED_MODEL: it embeds one text\n"
    "  store            LINEBOT_DB opens and can be written\n"
    "  clock            this machine's clock agrees with LINE's\n"
    "Exit status: 0 when nothing failed (an unset or inactive webhook is only a\n"
    "warning), 1 when a check failed, 2 on a usage error. Secrets are never printed.\n";

enum verdict { CHECK_OK, CHECK_WARN, CHECK_FAIL, CHECK_SKIP };

struct doctor {
    struct redact_secret secrets[CONFIG_MAX_SECRETS];
    size_t n_secrets;
    int failures;
    int warnings;
};

/* Prints one check, and its fix under a warning or a failure; both masked. */
static void report(struct doctor *d, enum verdict v, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(struct doctor *d, enum verdict v, const char *fix, const char *fmt, ...)
{
    static const char *const tag[] = {"ok  ", "warn", "FAIL", "skip"};
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char *masked = redact_text(line, d->secrets, d->n_secrets);
    printf("%s %s\n", tag[v], masked);
    free(masked);
    if (fix && (v == CHECK_WARN || v == CHECK_FAIL)) {
        masked = redact_text(fix, d->secrets, d->n_secrets);
        printf("     fix: %s\n", masked);
        free(masked);
    }
    if (v == CHECK_FAIL)
        d->failures++;
    else if (v == CHECK_WARN)
        d->warnings++;
    fflush(stdout);
}

/* ---- the checks ---------------------------------------------------------- */

/* What a copy from a .env file or a web page leaves around a value. */
static bool is_padding(char c)
{
    return c != '\0' && strchr(" \t\r\n\"'", c) != NULL;
}

/* True when `value` starts or ends with padding. */
static bool padded(const char *value)
{
    size_t n = value ? strlen(value) : 0;
    return n > 0 && (is_padding(value[0]) || is_padding(value[n - 1]));
}

static void check_secret(struct doctor *d, const char *secret)
{
    size_t n = strlen(secret);
    if (n == 32 && strspn(secret, "0123456789abcdefABCDEF") == 32) {
        report(d, CHECK_OK, NULL, "LINE channel secret: 32 hexadecimal characters");
        return;
    }
    const char *why = "is not 32 hexadecimal characters";
    if (padded(secret))
        why = "has spaces, line breaks or quotes around it";
    else if (n > 100)
        why = "looks like a channel access token: are LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN swapped?";
    report(d, CHECK_FAIL,
           "copy the Channel secret from the Basic settings tab of the LINE Developers Console "
           "(32 characters, 0-9 and a-f) into LINE_CHANNEL_SECRET",
           "LINE channel secret: LINE_CHANNEL_SECRET (%zu characters) %s", n, why);
}

static void check_ca_bundle(struct doctor *d, const struct config *cfg)
{
    if (cfg->ca_file && access(cfg->ca_file, R_OK) != 0) {
        report(d, CHECK_FAIL, "point SSL_CERT_FILE at a readable CA bundle, or unset it to use the system's",
               "CA bundle: SSL_CERT_FILE %s cannot be read: %s", cfg->ca_file, strerror(errno));
        http_use_ca_bundle(cfg->ca_file);
        return;
    }
    const char *ca = http_use_ca_bundle(cfg->ca_file);
    if (ca)
        report(d, CHECK_OK, NULL, "CA bundle: %s", ca);
    else
        report(d, CHECK_WARN, "install the ca-certificates package, or set SSL_CERT_FILE to a CA bundle",
               "CA bundle: none found at the usual paths; HTTPS uses libcurl's built-in default");
}

/* Returns 1 when LINE accepted the token. `date` gets LINE's Date header
 * ("" when none), for the clock check. */
static int check_line_token(struct doctor *d, struct line_api *api, char *date, size_t datelen)
{
    char err[512];
    long status;
    struct line_bot_info info;
    date[0] = '\0';
    /* A token with a CR from a Windows .env file breaks the HTTP request
     * itself, and a quoted one is sent as `Bearer "..."`: said as such,
     * rather than as whatever LINE or libcurl make of it. */
    if (padded(api->cfg->access_token)) {
        report(d, CHECK_FAIL,
               "remove them from LINE_CHANNEL_ACCESS_TOKEN (a .env file saved on Windows leaves a CR at each "
               "line's end)",
               "LINE token: LINE_CHANNEL_ACCESS_TOKEN has spaces, line breaks or quotes around it");
        return 0;
    }
    enum line_result r = line_bot_info(api, &info, &status, err, sizeof err);
    const char *server_date = http_client_header(api->http, "Date");
    if (server_date)
        snprintf(date, datelen, "%s", server_date);
    if (r == LINE_OK) {
        report(d, CHECK_OK, NULL, "LINE token: bot \"%s\" (%s)", info.display_name, info.basic_id);
        line_bot_info_free(&info);
        return 1;
    }
    if (status == 401)
        report(d, CHECK_FAIL,
               "issue a long-lived channel access token (Messaging API tab of the LINE Developers Console) and "
               "put it in LINE_CHANNEL_ACCESS_TOKEN, without quotes or spaces",
               "LINE token: LINE refused LINE_CHANNEL_ACCESS_TOKEN (%s)", err);
    else if (status == 0)
        report(d, CHECK_FAIL, "check the network, LINE_API_BASE_URL and the CA bundle",
               "LINE token: LINE could not be reached (%s)", err);
    else
        report(d, CHECK_FAIL, "check LINE_CHANNEL_ACCESS_TOKEN and LINE_API_BASE_URL; try again if LINE had a hiccup",
               "LINE token: %s", err);
    return 0;
}

static void check_webhook(struct doctor *d, struct line_api *api)
{
    char err[512];
    long status;
    struct line_webhook wh;
    if (line_webhook_get(api, &wh, &status, err, sizeof err) != LINE_OK) {
        report(d, CHECK_WARN, "try `linebot webhook get` again", "webhook endpoint: could not be read (%s)", err);
        return;
    }
    if (!wh.endpoint[0])
        report(d, CHECK_WARN, "linebot webhook set https://your.host/callback",
               "webhook endpoint: none registered at LINE, so no message reaches the bot");
    else if (!wh.active)
        report(d, CHECK_WARN, "turn \"Use webhook\" on (LINE Developers Console, Messaging API tab)",
               "webhook endpoint: %s (inactive: LINE sends nothing)", wh.endpoint);
    else
        report(d, CHECK_OK, NULL, "webhook endpoint: %s (active)", wh.endpoint);
    line_webhook_free(&wh);
}

/* One model to check: the LLM_* settings' (`named` false, the messages name
 * those settings), or an item of LINEBOT_MODELS (named by its `name`, and
 * the fixes by its fields and its key's variable). */
struct doctor_model {
    const struct model_entry *m;
    bool named;
    char what[96];     /* "model" or "model \"fast\"" */
    char key_fix[192];
    char where_fix[160];
};

static void doctor_model_init(struct doctor_model *dm, const struct model_entry *m, bool named)
{
    dm->m = m;
    dm->named = named;
    if (!named) {
        snprintf(dm->what, sizeof dm->what, "model");
        snprintf(dm->key_fix, sizeof dm->key_fix, "check LLM_API_KEY (or OPENAI_API_KEY / DASHSCOPE_API_KEY): a key "
                                                  "of this provider, without quotes or spaces");
        snprintf(dm->where_fix, sizeof dm->where_fix, "check LLM_PROVIDER, LLM_BASE_URL");
        return;
    }
    snprintf(dm->what, sizeof dm->what, "model \"%.60s\"", m->name);
    snprintf(dm->key_fix, sizeof dm->key_fix, "check %.80s: a key of this provider, without quotes or spaces",
             m->api_key_env ? m->api_key_env : "LLM_API_KEY");
    snprintf(dm->where_fix, sizeof dm->where_fix, "check the provider and base_url of \"%.60s\" in LINEBOT_MODELS",
             m->name);
}

static struct llm_target doctor_target(const struct model_entry *m)
{
    return (struct llm_target){.provider = m->provider, .base_url = m->base_url, .api_key = m->api_key,
                               .model = m->model};
}

/* The one-token completion, for providers without GET /models. */
static void check_model_by_completion(struct doctor *d, const struct config *cfg, struct http_client *http,
                                      const struct doctor_model *dm)
{
    struct config one = *cfg; /* shallow: only the two numbers below differ */
    one.llm_max_tokens = 1;
    if (one.llm_timeout_s > DOCTOR_MODEL_TIMEOUT_MS / 1000)
        one.llm_timeout_s = DOCTOR_MODEL_TIMEOUT_MS / 1000;
    struct llm_client llm = {.cfg = &one, .http = http, .cancel = NULL};
    const struct llm_message msg = {.role = "user", .content = "Say OK."};
    struct llm_target target = doctor_target(dm->m);
    struct llm_answer answer;
    char err[512];
    int64_t t0 = clock_monotonic_ms();
    enum llm_result r =
        llm_complete_to(&llm, &target, &msg, 1, t0 + DOCTOR_MODEL_TIMEOUT_MS, &answer, err, sizeof err);
    long long ms = (long long)(clock_monotonic_ms() - t0);
    if (r == LLM_OK) {
        report(d, CHECK_OK, NULL, "%s: %s answered a one-token request at %s (%lld ms; no model list there)",
               dm->what, dm->m->model, dm->m->base_url, ms);
        llm_answer_free(&answer);
    } else if (strstr(err, "status 401") || strstr(err, "status 403")) {
        report(d, CHECK_FAIL, dm->key_fix, "%s: %s refused the key (%s)", dm->what, dm->m->base_url, err);
    } else {
        char fix[224];
        snprintf(fix, sizeof fix, "%s, %s and the network", dm->where_fix,
                 dm->named ? "its model" : "LLM_MODEL");
        report(d, CHECK_FAIL, fix, "%s: %s did not answer (%s; %lld ms)", dm->what, dm->m->base_url, err, ms);
    }
}

/* What GET /models said at one endpoint (a base URL and a key): asked once
 * for all the models there. */
struct model_list {
    const char *base_url, *api_key;
    enum llm_result r;
    long status;
    struct llm_models models;
    char err[512];
    long long ms;
};

static void check_model(struct doctor *d, const struct config *cfg, struct http_client *http,
                        const struct doctor_model *dm, struct model_list *list)
{
    const struct model_entry *m = dm->m;
    if (padded(m->api_key)) {
        char what[160];
        snprintf(what, sizeof what, "%.80s", dm->named && m->api_key_env ? m->api_key_env
                                                                          : "LLM_API_KEY, OPENAI_API_KEY or "
                                                                            "DASHSCOPE_API_KEY");
        report(d, CHECK_FAIL, "remove them from the key's setting (a .env file saved on Windows leaves a CR at "
                              "each line's end)",
               "%s: the API key (%s) has spaces, line breaks or quotes around it", dm->what, what);
        return;
    }
    if (!list->base_url) {
        struct llm_client llm = {.cfg = cfg, .http = http, .cancel = NULL};
        struct llm_target target = doctor_target(m);
        list->base_url = m->base_url;
        list->api_key = m->api_key;
        int64_t t0 = clock_monotonic_ms();
        list->r = llm_list_models_at(&llm, &target, DOCTOR_MODEL_TIMEOUT_MS, &list->models, &list->status,
                                     list->err, sizeof list->err);
        list->ms = (long long)(clock_monotonic_ms() - t0);
    }
    const char *url = m->base_url;
    char fix[256];
    if (list->r == LLM_OK) {
        int listed = 0;
        for (size_t i = 0; i < list->models.n && !listed; i++)
            listed = strcmp(list->models.ids[i], m->model) == 0;
        if (listed) {
            report(d, CHECK_OK, NULL, "%s: %s is listed at %s (%lld ms)", dm->what, m->model, url, list->ms);
        } else {
            size_t n = list->models.n;
            snprintf(fix, sizeof fix, "check %s (the provider lists %zu model(s)%s%.80s)",
                     dm->named ? "its model" : "LLM_MODEL", n, n ? ", e.g. " : "", n ? list->models.ids[0] : "");
            report(d, CHECK_WARN, fix, "%s: %s is not among the models listed at %s (%lld ms)", dm->what, m->model,
                   url, list->ms);
        }
    } else if (list->status == 404 || list->status == 405) {
        check_model_by_completion(d, cfg, http, dm);
    } else if (list->status == 401 || list->status == 403) {
        report(d, CHECK_FAIL, dm->key_fix, "%s: %s refused the key (%s)", dm->what, url, list->err);
    } else if (list->status == 0) {
        snprintf(fix, sizeof fix, "%s and the network", dm->where_fix);
        report(d, CHECK_FAIL, fix, "%s: %s could not be reached (%s; %lld ms)", dm->what, url, list->err, list->ms);
    } else {
        snprintf(fix, sizeof fix, "%s; try again if the provider had a hiccup", dm->where_fix);
        report(d, CHECK_FAIL, fix, "%s: %s answered %s (%lld ms)", dm->what, url, list->err, list->ms);
    }
}

/* Every model users can reach: the LLM_* settings' one, or each item of
 * LINEBOT_MODELS, each endpoint asked for its list once. */
static void check_models(struct doctor *d, const struct config *cfg, struct http_client *http, bool catalogue)
{
    size_t n = cfg->models->n;
    struct model_list *lists = xcalloc(n ? n : 1, sizeof *lists);
    for (size_t i = 0; i < n; i++) {
        const struct model_entry *m = &cfg->models->items[i];
        struct model_list *list = &lists[i];
        for (size_t j = 0; j < i; j++)
            if (lists[j].base_url && strcmp(lists[j].base_url, m->base_url) == 0 &&
                strcmp(lists[j].api_key, m->api_key) == 0) {
                list = &lists[j];
                break;
            }
        struct doctor_model dm;
        doctor_model_init(&dm, m, catalogue);
        check_model(d, cfg, http, &dm, list);
    }
    for (size_t i = 0; i < n; i++)
        llm_models_free(&lists[i].models);
    free(lists);
}

/* LINEBOT_EMBED_MODEL: one text embedded, as each question to the knowledge
 * base will be. */
static void check_embeddings(struct doctor *d, const struct config *cfg, struct http_client *http)
{
    if (!cfg->embed_model)
        return;
    if (padded(cfg->embed_api_key)) {
        report(d, CHECK_FAIL, "remove them from the key's setting", "embeddings: the key has spaces, line breaks or "
                                                                    "quotes around it");
        return;
    }
    const struct embed_target target = {cfg->embed_base_url, cfg->embed_api_key, cfg->embed_model};
    const char *const text[] = {"OK"};
    float *vecs = NULL;
    size_t dims = 0;
    char err[512];
    int64_t t0 = clock_monotonic_ms();
    int rc = embed_texts(http, &target, text, 1, 0, t0 + DOCTOR_MODEL_TIMEOUT_MS, NULL, NULL, &vecs, &dims, err,
                         sizeof err);
    long long ms = (long long)(clock_monotonic_ms() - t0);
    free(vecs);
    if (rc == 0)
        report(d, CHECK_OK, NULL, "embeddings: %s answered at %s (%zu dimensions, %lld ms)", cfg->embed_model,
               cfg->embed_base_url, dims, ms);
    else if (strstr(err, "HTTP 401") || strstr(err, "HTTP 403"))
        report(d, CHECK_FAIL,
               "check the key LINEBOT_EMBED_API_KEY_ENV names (unset: the default model's key), without quotes or "
               "spaces",
               "embeddings: %s refused the key (%s)", cfg->embed_base_url, err);
    else
        report(d, CHECK_FAIL, "check LINEBOT_EMBED_MODEL and LINEBOT_EMBED_BASE_URL, and the network",
               "embeddings: %s at %s: %s (%lld ms)", cfg->embed_model, cfg->embed_base_url, err, ms);
}

static void check_store(struct doctor *d, const struct config *cfg)
{
    /* Never cfg->db in a message when it is a URL: it may hold a password. */
    bool shared = store_url_is_shared(cfg->db);
    const char *name = shared ? "the PostgreSQL database" : cfg->db;
    char err[512];
    struct store *st = store_open(cfg->db, err, sizeof err);
    if (!st) {
        report(d, CHECK_FAIL,
               shared ? "check the host, the database, the role and its password in LINEBOT_DB"
                      : "point LINEBOT_DB at a file in a directory the bot may write",
               "store: LINEBOT_DB cannot be opened: %s", err);
        return;
    }
    if (store_probe_write(st, clock_monotonic_ms()) != 0)
        report(d, CHECK_FAIL, "give the bot write access to LINEBOT_DB (and free disk space)",
               "store: %s opens but cannot be written: %s", name, store_last_error(st));
    else
        report(d, CHECK_OK, NULL, "store: %s opens and is writable", name);
    store_close(st);
}

static void check_clock(struct doctor *d, const char *line_date)
{
    time_t now = (time_t)(clock_now_ms() / 1000);
    char shown[32];
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(shown, sizeof shown, "%Y-%m-%d %H:%M:%S UTC", &tm);
    time_t server = line_date[0] ? curl_getdate(line_date, NULL) : -1;
    if (server == -1) {
        if (now < 1735689600) /* 2025-01-01: older than this binary */
            report(d, CHECK_WARN, "set the clock, and keep it in sync with NTP (timedatectl set-ntp true)",
                   "clock: says %s, which is in the past", shown);
        else
            report(d, CHECK_OK, NULL, "clock: %s (LINE sent no time to compare)", shown);
        return;
    }
    long long skew = (long long)now - (long long)server;
    long long off = skew < 0 ? -skew : skew;
    if (off <= DOCTOR_CLOCK_SKEW_S)
        report(d, CHECK_OK, NULL, "clock: %s, within %lld s of LINE's", shown, off);
    else
        report(d, CHECK_WARN,
               "sync the clock with NTP (timedatectl set-ntp true): events are timed and replays refused by it",
               "clock: %s is %lld s %s LINE's", shown, off, skew > 0 ? "ahead of" : "behind");
}

int cli_doctor(int argc, char **argv, char *const *env)
{
    if (argc > 1) {
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            fputs(cli_doctor_usage, stdout);
            return 0;
        }
        fprintf(stderr, "linebot doctor: unexpected argument %s (settings come from the environment)\n\n%s",
                argv[1], cli_doctor_usage);
        return 2;
    }
    struct doctor d = {.n_secrets = 0};
    struct config cfg;
    char err[512];
    if (config_load(&cfg, env, err, sizeof err) != 0) {
        report(&d, CHECK_FAIL, "set it as the message says; `linebot serve --help` lists the settings",
               "settings: %s", err);
        printf("\n1 check failed, and the others need the settings: fix it and run `linebot doctor` again.\n");
        return 1;
    }
    d.n_secrets = config_secrets(&cfg, d.secrets, CONFIG_MAX_SECRETS);
    log_init(LOG_ERROR); /* doctor speaks for itself; the io layer logs nothing above debug */
    clock_set_offset_ms(cfg.clock_offset_ms);
    report(&d, CHECK_OK, NULL, "settings: model %s via %s, store %s", cfg.llm_model,
           config_provider_name(cfg.provider), store_url_is_shared(cfg.db) ? "PostgreSQL" : "SQLite");
    check_secret(&d, cfg.channel_secret);
    check_ca_bundle(&d, &cfg);
    if (http_global_init() != 0) {
        report(&d, CHECK_FAIL, "reinstall libcurl", "HTTP: could not initialise libcurl");
        config_free(&cfg);
        return 1;
    }
    struct http_client *http = http_client_new();
    struct line_api api = {.cfg = &cfg, .http = http, .cancel = NULL};
    char line_date[64];
    if (check_line_token(&d, &api, line_date, sizeof line_date))
        check_webhook(&d, &api);
    else
        report(&d, CHECK_SKIP, NULL, "webhook endpoint: needs a token LINE accepts");
    const char *catalogue = config_lookup(env, "LINEBOT_MODELS");
    check_models(&d, &cfg, http, catalogue && *catalogue);
    check_embeddings(&d, &cfg, http);
    check_store(&d, &cfg);
    check_clock(&d, line_date);
    http_client_free(http);
    http_global_cleanup();
    config_free(&cfg);

    if (d.failures)
        printf("\n%d check(s) failed: fix them and run `linebot doctor` again.\n", d.failures);
    else if (d.warnings)
        printf("\nReady, with %d warning(s).\n", d.warnings);
    else
        printf("\nAll checks passed: start the bot with `linebot serve`.\n");
    return d.failures ? 1 : 0;
}
