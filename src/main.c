/* main.c - the `linebot` command: subcommands, start-up and shutdown.
 *
 * `linebot serve` reads the configuration once, opens the store, recovers
 * what a previous run left unfinished, starts the workers and the HTTP front
 * door, and waits for SIGTERM/SIGINT to stop gracefully. It picks the front
 * door: the server's own routes (run/server.c), Function Compute's door on
 * top of them (run/fc.c), or the AWS Lambda runtime loop (run/lambda.c).
 * The set-up commands, `linebot doctor`, `linebot webhook` and `linebot
 * chat`, and the operator's `linebot admin` live in src/cli/. Every command
 * but help and version first reads a .env file (--env-file PATH, else ./.env
 * when present) into the environment, without overriding real variables
 * (envfile.c), and warns about typos in setting names and about credentials
 * with spaces or quotes around them (core/settings.c). */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <utf8proc.h>

#include "cli/admin.h"
#include "cli/chat.h"
#include "cli/doctor.h"
#include "cli/kb.h"
#include "cli/webhook.h"
#include "config.h"
#include "core/settings.h"
#include "envfile.h"
#include "core/alloc.h"
#include "io/clock.h"
#include "io/timezone.h"
#include "core/models.h"
#include "core/personas.h"
#include "io/http_client.h"
#include "io/store.h"
#include "obs/log.h"
#include "run/ingest.h"
#include "run/fc.h"
#include "run/lambda.h"
#include "run/server.h"
#include "run/worker.h"

extern char **environ;

#ifndef LINEBOT_COMMIT
#define LINEBOT_COMMIT "unknown"
#endif

static const char usage[] =
    "linebot - an LLM chatbot for LINE\n"
    "\n"
    "Usage:\n"
    "  linebot serve      run the webhook server (POST /callback, GET /healthz, GET /metrics);\n"
    "                     on AWS Lambda (AWS_LAMBDA_RUNTIME_API set) it runs the Lambda runtime,\n"
    "                     on Function Compute (FC_FUNCTION_NAME set) the FC custom runtime;\n"
    "                     on both it also starts without arguments, as `bootstrap`\n"
    "  linebot chat       talk to the bot in this terminal, before you connect LINE\n"
    "                     (`linebot chat --help`: --user, --group, --db, /image, /file)\n"
    "  linebot doctor     check the set-up (settings, LINE token and webhook, model, store)\n"
    "                     and print a checklist with a fix for each problem\n"
    "  linebot webhook set URL | get | test [URL]\n"
    "                     register, show or test the channel's webhook URL at LINE\n"
    "  linebot admin [--json] stats | chats | history CHAT_ID | forget ID | export CHAT_ID\n"
    "                     what the bot keeps (LINEBOT_DB): statistics, chats, histories;\n"
    "                     forget erases everything about a user or a chat\n"
    "  linebot kb add | sync | list | remove | search | bind | unbind | eval\n"
    "                     the knowledge base the bot answers from (`linebot kb --help`)\n"
    "  linebot version    print the version, the commit and the libraries' versions\n"
    "  linebot --help     show this help; `linebot serve --help` lists the settings\n"
    "\n"
    "Settings come from the environment. Every command also takes --env-file PATH\n"
    "(before or after its name) to read them from a file, else reads ./.env when\n"
    "present; real environment variables win over the file.\n";

/* `linebot serve --help`: every setting of core/settings.c's table, under
 * its group, with its bounds, choices and default. Test-only rows are left
 * out. A test holds this list and README.md's to the table. */
static void print_serve_usage(FILE *out)
{
    fputs("Usage: linebot serve [--env-file PATH]\n"
          "\n"
          "Runs the webhook server. Settings come from the environment, or from a .env file:\n"
          "--env-file PATH (before or after the command's name), else ./.env when present.\n"
          "Real environment variables win over the file. Booleans take 1/0/true/false.\n",
          out);
    size_t n;
    const struct setting *table = settings_table(&n);
    const char *group = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct setting *s = &table[i];
        if (s->flags & SETTING_HIDDEN)
            continue;
        if (!group || strcmp(group, s->group) != 0) {
            group = s->group;
            fprintf(out, "\n%s:\n", group);
        }
        fprintf(out, "  %-32s %s", s->name, s->help);
        if (s->type == SETTING_INT)
            fprintf(out, " (%lld-%lld%s%s)", s->min, s->max, s->def ? ", default " : "", s->def ? s->def : "");
        else if (s->def && s->def[0] && strlen(s->def) <= 30)
            fprintf(out, " (default %s)", s->def);
        fputc('\n', out);
        if (s->type == SETTING_CHOICE)
            fprintf(out, "  %-32s one of: %s\n", "", s->choices);
    }
    fputs("\nSee README.md for more on each setting.\n", out);
}

/* `linebot version`: the bot's version and commit, then each library as it
 * was loaded at run time (what a bug report needs: a packaged binary may run
 * with other libraries than it was built with). md4c has no version call. */
static int print_version(void)
{
    int pq = PQlibVersion(); /* 150005 is 15.5 (from PostgreSQL 10 on) */
    printf("linebot %s\n", LINEBOT_VERSION);
    printf("commit %s\n", LINEBOT_COMMIT);
    const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
    printf("libcurl %s (%s)\n", curl->version, curl->ssl_version ? curl->ssl_version : "no TLS");
    printf("%s\n", OpenSSL_version(OPENSSL_VERSION)); /* "OpenSSL 3.0.15 3 Sep 2024" */
    printf("SQLite %s\n", sqlite3_libversion());
    printf("libpq %d.%d\n", pq / 10000, pq % 10000);
    printf("libmicrohttpd %s\n", MHD_get_version());
    printf("jansson %s\n", jansson_version_str());
    printf("utf8proc %s\n", utf8proc_version());
    return 0;
}

/* A setting that stops start-up: said on stderr, and to Lambda as an init error. */
static int refuse_to_start(const char *err)
{
    fprintf(stderr, "linebot: %s\n", err);
    const char *runtime_api = config_lookup(environ, "AWS_LAMBDA_RUNTIME_API");
    if (runtime_api && http_global_init() == 0) {
        lambda_report_init_error(runtime_api, err);
        http_global_cleanup();
    }
    return 2;
}

/* Each connection is a descriptor: take all the system allows (the soft
 * limit is often 1024, the hard one much higher). */
static void raise_open_files_limit(int max_connections)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t before = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = before;
    }
    log_debug("open files limit: %llu (was %llu)", (unsigned long long)rl.rlim_cur, (unsigned long long)before);
    /* Room for the store, the workers' HTTP connections and the listener. */
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)max_connections + 128)
        log_warn("LINEBOT_MAX_CONNECTIONS=%d is near the open files limit (%llu): new connections may fail",
                 max_connections, (unsigned long long)rl.rlim_cur);
}

static void warn_in_log(void *arg, const char *message)
{
    (void)arg;
    log_warn("%s", message);
}

static void warn_on_stderr(void *arg, const char *message)
{
    (void)arg;
    fprintf(stderr, "linebot: warning: %s\n", message);
}

/* Warns about unknown settings ("did you mean") and trimmed credentials,
 * by name. The variables other settings name are settings too: a loaded
 * catalogue's api_key_env (`cfg` NULL: it is loaded here, quietly, to know
 * them), and LINEBOT_EMBED_API_KEY_ENV's. */
static void check_settings(const struct config *cfg, void (*warn)(void *arg, const char *message))
{
    struct config own;
    char err[512];
    bool loaded = !cfg && config_load(&own, environ, err, sizeof err) == 0;
    if (loaded)
        cfg = &own;
    size_t n = cfg ? cfg->models->n : 0, k = 0;
    const char **key_vars = xcalloc(n + 2, sizeof *key_vars);
    for (size_t i = 0; i < n; i++)
        if (cfg->models->items[i].api_key_env)
            key_vars[k++] = cfg->models->items[i].api_key_env;
    const char *embed_key = config_lookup(environ, "LINEBOT_EMBED_API_KEY_ENV");
    if (embed_key && *embed_key)
        key_vars[k++] = embed_key;
    settings_check_env_with(environ, key_vars, warn, NULL);
    free(key_vars);
    if (loaded)
        config_free(&own);
}

static int serve(void)
{
    struct config cfg;
    char err[512];
    if (config_load(&cfg, environ, err, sizeof err) != 0) {
        /* "LINE_CHANNEL_SECRET is not set" is best read after "did you mean". */
        settings_check_env(environ, warn_on_stderr, NULL);
        return refuse_to_start(err);
    }
    /* A wrong secret would only show as "wrong X-Line-Signature" on every
     * webhook; a swapped secret and token are caught here too. */
    const char *secret_problem = config_channel_secret_problem(cfg.channel_secret);
    if (secret_problem) {
        settings_check_env(environ, warn_on_stderr, NULL);
        snprintf(err, sizeof err, "LINE_CHANNEL_SECRET %s", secret_problem);
        config_free(&cfg);
        return refuse_to_start(err);
    }
    /* A CA bundle that cannot be read would only show up as failing HTTPS
     * calls to LINE and the model, naming no setting. */
    if (cfg.ca_file && access(cfg.ca_file, R_OK) != 0) {
        snprintf(err, sizeof err, "SSL_CERT_FILE %.300s cannot be read: %s", cfg.ca_file, strerror(errno));
        config_free(&cfg);
        return refuse_to_start(err);
    }
    log_init(cfg.log_level);
    /* Lambda and FC parse JSON lines (and EMF): text only when asked for. */
    log_set_format(cfg.log_format, cfg.platform != PLATFORM_SERVER);
    struct redact_secret secrets[CONFIG_MAX_SECRETS]; /* masked in every log line from here on */
    log_set_secrets(secrets, config_secrets(&cfg, secrets, CONFIG_MAX_SECRETS));
    /* Typos, trimmed credentials (names only); the catalogue's key variables are known too. */
    check_settings(&cfg, warn_in_log);
    const char *short_secrets[CONFIG_MAX_SECRETS];
    size_t n_short = config_unmaskable_secrets(&cfg, short_secrets, CONFIG_MAX_SECRETS);
    for (size_t i = 0; i < n_short; i++)
        log_warn("%s is shorter than %d characters, too short to be told apart in text: logs cannot mask "
                 "it. Is it complete?", short_secrets[i], REDACT_MIN_LEN);
    for (size_t i = 0; i < cfg.models->n_warnings; i++) /* LINEBOT_MODELS' unknown fields */
        log_warn("%s", cfg.models->warnings[i]);
    if (cfg.models->n > 1)
        log_info("%zu models in the catalogue; the default is %s", cfg.models->n,
                 cfg.models->items[cfg.models->default_index].name);
    for (size_t i = 0; i < cfg.personas->n_warnings; i++) /* LINEBOT_PERSONAS' unknown fields */
        log_warn("%s", cfg.personas->warnings[i]);
    if (cfg.personas->n)
        log_info("%zu persona presets", cfg.personas->n);
    clock_set_offset_ms(cfg.clock_offset_ms);
    /* The budgets' day (issue 11): the zone file is found now, before any
     * thread, or the start stops saying which is missing. */
    char tz_err[256];
    if (timezone_setup(cfg.timezone, tz_err, sizeof tz_err) != 0) {
        config_free(&cfg);
        return refuse_to_start(tz_err);
    }
    raise_open_files_limit(cfg.max_connections);
    const char *ca = http_use_ca_bundle(cfg.ca_file);
    log_debug("TLS CA bundle: %s", ca ? ca : "libcurl's default");
    if (cfg.platform == PLATFORM_LAMBDA) {
        signal(SIGPIPE, SIG_IGN);
        int rc = http_global_init() == 0 ? lambda_run(&cfg) : 1;
        http_global_cleanup();
        config_free(&cfg);
        return rc;
    }

    /* Signals are taken by sigwait below; every thread created after this
     * inherits the mask. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (http_global_init() != 0) {
        fprintf(stderr, "linebot: could not initialise libcurl\n");
        config_free(&cfg);
        return 1;
    }
    int status = 1;
    struct worker_pool pool;
    int pool_started = 0;
    struct server *srv = NULL;
    struct fc *fc = NULL;
    struct ingest ingest;
    int ingest_ready = 0;
    struct store *store = store_open(cfg.db, err, sizeof err);
    if (!store) {
        /* Not cfg.db: a postgres:// URL may hold a password. The store's own
         * message names a SQLite path and never a URL. */
        log_error("LINEBOT_DB: cannot open the store: %s", err);
        fprintf(stderr, "linebot: LINEBOT_DB: cannot open the store: %s\n", err);
        goto out;
    }
    if (store_recover(store) != 0) {
        log_error("cannot recover unfinished work: %s", store_last_error(store));
        goto out;
    }
    if (ingest_init(&ingest, &cfg, store) != 0)
        goto out;
    ingest_ready = 1;
    if (cfg.platform == PLATFORM_FC) {
        /* Function Compute: an instance may be frozen as soon as a response
         * is out, so work happens inside invocations, never in background
         * threads (see run/fc.c). */
        free(cfg.host);
        cfg.host = xstrdup("0.0.0.0");
        cfg.port = cfg.fc_listen_port;
        if (!store_url_is_shared(cfg.db))
            log_warn("LINEBOT_DB is SQLite (%s): each Function Compute instance has its own copy, so "
                     "deduplication and history do not carry across instances. Use PostgreSQL "
                     "(LINEBOT_DB=postgres://...) in production",
                     cfg.db);
        fc = fc_new(&cfg, &ingest);
    } else {
        if (worker_pool_start(&pool, &cfg) != 0)
            goto out;
        pool_started = 1;
        ingest.notify = worker_pool_notify;
        ingest.notify_arg = &pool;
        ingest.parsed = &pool.events;
        ingest.admission = &pool.admission;
        worker_pool_notify(&pool, SIZE_MAX); /* recovered events: everybody looks */
    }

    /* Logged before the listener starts: on FC, a line written after it could
     * land inside the first invocation's Start/End frame. */
    log_info("linebot %s starting on %s:%d (%s; model %s via %s, %d workers)", LINEBOT_VERSION, cfg.host, cfg.port,
             cfg.platform == PLATFORM_FC ? "Alibaba Function Compute" : "server", cfg.llm_model,
             config_provider_name(cfg.provider), cfg.workers);
    srv = server_start(&cfg, &ingest, fc ? fc_door(fc) : NULL, err, sizeof err);
    if (!srv) {
        log_error("%s", err);
        fprintf(stderr, "linebot: %s\n", err);
        goto out;
    }

    int sig = 0;
    sigwait(&stop_signals, &sig);
    log_info("%s received: stopping gracefully", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    status = 0;
out:
    server_stop(srv); /* no new webhooks; requests in progress finish */
    fc_free(fc);
    if (pool_started)
        worker_pool_stop(&pool); /* jobs waiting on the model go back to the inbox */
    if (ingest_ready)
        ingest_destroy(&ingest);
    if (store)
        store_close(store);
    http_global_cleanup();
    if (status == 0)
        log_info("stopped");
    config_free(&cfg);
    return status;
}

/* --env-file PATH (or --env-file=PATH) may come before or after the
 * command's name: it is taken out of argv here, so that no command sees it.
 * Returns 0, or -1 after saying what is wrong on stderr. */
static int take_env_file_option(int *argc, char **argv, const char **path)
{
    int kept = 1;
    for (int i = 1; i < *argc; i++) {
        const char *file;
        if (strcmp(argv[i], "--env-file") == 0) {
            if (i + 1 >= *argc) {
                fputs("linebot: --env-file needs a path\n", stderr);
                return -1;
            }
            file = argv[++i];
        } else if (strncmp(argv[i], "--env-file=", 11) == 0) {
            file = argv[i] + 11;
        } else {
            argv[kept++] = argv[i];
            continue;
        }
        if (*path) {
            fputs("linebot: --env-file is given twice\n", stderr);
            return -1;
        }
        *path = file;
    }
    *argc = kept;
    argv[kept] = NULL;
    return 0;
}

/* The set-up and operator commands (src/cli/), each with its own argv. */
struct command {
    const char *name;
    int (*run)(int argc, char **argv, char *const *env);
};

static const struct command commands[] = {
    {"chat", cli_chat}, {"doctor", cli_doctor}, {"webhook", cli_webhook}, {"admin", cli_admin}, {"kb", cli_kb},
};

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

static bool is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}

int main(int argc, char **argv)
{
#ifdef M_ARENA_MAX
    /* glibc gives each thread its own malloc arena; the bot's threads allocate
     * little, and two arenas keep its memory small. */
    mallopt(M_ARENA_MAX, 2);
#endif
    /* Before any thread and any JSON, in every subcommand: from here on an
     * allocation that fails aborts (core/alloc.h), jansson's included. */
    alloc_init();
    const char *env_file = NULL;
    if (take_env_file_option(&argc, argv, &env_file) != 0)
        return 2;
    bool serverless = config_lookup(environ, "AWS_LAMBDA_RUNTIME_API") || config_lookup(environ, "FC_FUNCTION_NAME");
    /* Only a command that runs reads them: help, version (a command's --help
     * too) and an unknown name show even beside a broken ./.env. */
    bool reads_settings = argc < 2 ? serverless
                                   : (strcmp(argv[1], "serve") == 0 || find_command(argv[1])) &&
                                         !(argc > 2 && is_help(argv[2]));
    if (reads_settings) {
        /* Before anything reads the environment, and while this is the only thread. */
        char err[512];
        if (envfile_apply(env_file ? env_file : ".env", env_file != NULL, err, sizeof err) != 0)
            return refuse_to_start(err);
    }
    if (argc < 2) {
        /* Lambda starts `bootstrap` without arguments; so may Function Compute. */
        if (serverless)
            return serve();
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (is_help(cmd)) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
        return print_version();
    if (strcmp(cmd, "serve") == 0) {
        if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            print_serve_usage(stdout);
            return 0;
        }
        if (argc > 2) {
            fprintf(stderr, "linebot serve: unexpected argument %s (settings come from the environment)\n", argv[2]);
            return 2;
        }
        return serve();
    }
    const struct command *command = find_command(cmd);
    if (command) {
        check_settings(NULL, warn_on_stderr); /* serve logs them instead */
        return command->run(argc - 1, argv + 1, environ);
    }
    fprintf(stderr, "linebot: unknown command %s\n\n%s", cmd, usage);
    return 2;
}
