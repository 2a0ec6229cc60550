/* chat.c - `linebot chat`: the bot in a terminal (see chat.h).
 *
 * The terminal's thread reads a line, turns it into a webhook as LINE would
 * send it (chat_wire.c), signs it, and hands it to ingest as the server's
 * /callback does; then it waits until the inbox is empty again, so the
 * answer (printed by the stand-in from the worker's thread) comes before the
 * next prompt. Lines the terminal keeps to itself: /quit, /as NAME (groups),
 * and a number while quick reply buttons are on show. /image PATH and
 * /file PATH send that file as an image or file message: the stand-in keeps
 * its bytes as the message's content, and the bot fetches them from it as
 * it fetches from LINE's data API. Everything else, /help and /reset
 * included, goes to the bot as in LINE. */
#include "cli/chat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/chat_line.h"
#include "cli/chat_wire.h"
#include "config.h"
#include "core/alloc.h"
#include "core/chat.h"
#include "core/format.h"
#include "core/utf8.h"
#include "io/clock.h"
#include "io/http_client.h"
#include "io/store.h"
#include "obs/log.h"
#include "run/ingest.h"
#include "run/worker.h"

/* The LINE API base URL the bot is given; http_client sends it to the socket. */
#define CHAT_LINE_ORIGIN "http://line.invalid"
/* LINE's limit for a text message, in UTF-16 units. */
#define CHAT_MAX_TEXT 5000

const char cli_chat_usage[] =
    "Usage: linebot chat [--user NAME] [--group] [--as NAME] [--db PATH]\n"
    "\n"
    "Talk to the bot in this terminal, before you connect LINE. Each line you type\n"
    "goes through the real webhook, inbox, worker and model (the LLM_* settings);\n"
    "what LINE would show is printed. No LINE_* setting is needed and no port is opened.\n"
    "\n"
    "  --user NAME   who you are (default: you)\n"
    "  --group       talk in a group: the bot answers only when a line has @bot\n"
    "                (or starts with LINEBOT_TRIGGER), as in a LINE group\n"
    "  --as NAME     the same as --user; in a group, /as NAME changes the speaker\n"
    "  --db PATH     keep the history in this store (default: a temporary one,\n"
    "                deleted on exit; LINEBOT_DB is never used)\n"
    "\n"
    "In the chat: /help and /reset are the bot's commands, as in LINE; a number picks\n"
    "a quick reply button; /image PATH sends a picture and /file PATH a document\n"
    "(.txt, .md, .html, .pdf) from this computer, as the LINE app would; /quit or\n"
    "Ctrl-D leaves.\n";

struct chat_options {
    const char *user;
    bool group;
    const char *db;
};

struct chat {
    struct chat_options opt;
    char dir[256];        /* temporary: the socket, and the store without --db */
    char secret[33];      /* this run's channel secret: 32 hex */
    char token[65];       /* this run's channel access token */
    char run_id[13];      /* makes event ids unique across runs on one --db */
    char bot_id[34], group_id[34], user_id[34];
    char *user_name;
    unsigned long seq;
    struct chat_line *line;
    struct ingest *ingest;
    const struct config *cfg;
    char *home; /* the user's home, for a PATH that starts with ~/ */
    bool tty_in;
};

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

static void random_hex(char *out, size_t n_bytes)
{
    unsigned char bytes[64];
    if (n_bytes > sizeof bytes || RAND_bytes(bytes, (int)n_bytes) != 1)
        abort(); /* OpenSSL's generator does not fail once seeded from the system */
    hex(bytes, n_bytes, out);
}

/* A LINE-shaped id ("U" or "C" and 32 hex) derived from `seed`: the same name
 * is the same user in every run, so a kept --db carries its history. */
static void line_id(char prefix, const char *seed, char out[34])
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)seed, strlen(seed), digest);
    out[0] = prefix;
    hex(digest, 16, out + 1);
}

static void chat_set_user(struct chat *c, const char *name)
{
    free(c->user_name);
    c->user_name = xstrdup(name);
    char *seed = xasprintf("linebot chat user %s", name);
    line_id('U', seed, c->user_id);
    free(seed);
    chat_line_add_user(c->line, c->user_id, name);
}

/* ---- the terminal's end of the wire ------------------------------------- */

static void say(struct chat *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct chat *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    chat_line_lock_output(c->line);
    vfprintf(stdout, fmt, ap);
    fflush(stdout);
    chat_line_unlock_output(c->line);
    va_end(ap);
}

/* base64(HMAC-SHA256(secret, body)): X-Line-Signature. */
static void sign(const char *secret, const char *body, size_t len, char out[64])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &mac_len);
    EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len);
}

/* Until the bot is done with every event sent (or Ctrl-C). */
static void wait_for_bot(struct chat *c)
{
    for (;;) {
        long long depth = 0;
        if (interrupted || ingest_inbox_depth(c->ingest, &depth) != 0 || depth == 0)
            break;
        clock_sleep_ms(20);
    }
    chat_line_idle(c->line);
}

/* The ids of a new event, with a fresh reply token LINE will accept once. */
struct event_ids {
    char event_id[40], reply_token[40], message_id[24], quote_token[40];
};

static struct chat_wire_event new_event(struct chat *c, struct event_ids *ids)
{
    c->seq++;
    snprintf(ids->event_id, sizeof ids->event_id, "01CHAT%s%010lu", c->run_id, c->seq);
    random_hex(ids->reply_token, 16);
    int64_t now = clock_now_ms();
    snprintf(ids->message_id, sizeof ids->message_id, "%lld", (long long)(now % 100000000000LL) * 100 +
                                                                  (long long)(c->seq % 100));
    snprintf(ids->quote_token, sizeof ids->quote_token, "q-%s-%lu", c->run_id, c->seq);
    chat_line_issue_token(c->line, ids->reply_token);
    return (struct chat_wire_event){
        .destination = c->bot_id,
        .user_id = c->user_id,
        .group_id = c->opt.group ? c->group_id : NULL,
        .event_id = ids->event_id,
        .reply_token = ids->reply_token,
        .message_id = ids->message_id,
        .quote_token = ids->quote_token,
        .timestamp_ms = now,
    };
}

/* Signs `body`, gives it to ingest as LINE's POST /callback would, and waits
 * for the bot. */
static void deliver(struct chat *c, char *body)
{
    char signature[64];
    size_t len = strlen(body);
    sign(c->secret, body, len, signature);
    char reason[128];
    int status = ingest_webhook(c->ingest, body, len, signature, reason, sizeof reason);
    free(body);
    if (status != 200)
        say(c, "(the bot's webhook answered %d: %s)\n", status, reason);
    wait_for_bot(c);
}

static void send_text(struct chat *c, const char *text)
{
    struct event_ids ids;
    struct chat_wire_event e = new_event(c, &ids);
    chat_line_clear_choices(c->line);
    deliver(c, chat_wire_text(&e, text));
}

/* A quick reply button, as LINE sends it. */
static void pick(struct chat *c, size_t n)
{
    struct chat_choice choice;
    if (!chat_line_choice(c->line, n, &choice))
        return;
    chat_line_clear_choices(c->line);
    if (choice.kind == CHAT_CHOICE_MESSAGE) {
        say(c, "%s: %s\n", c->user_name, choice.text);
        send_text(c, choice.text);
    } else if (choice.kind == CHAT_CHOICE_POSTBACK) {
        /* LINE shows the displayText as the user's message, but sends only the postback. */
        say(c, "%s: %s\n", c->user_name, choice.text ? choice.text : choice.label);
        struct event_ids ids;
        struct chat_wire_event e = new_event(c, &ids);
        deliver(c, chat_wire_postback(&e, choice.data));
    } else {
        say(c, "(\"%s\" does nothing in a terminal)\n", choice.label);
    }
    chat_choice_free(&choice);
}

/* A number from 1 to the buttons on show, or 0. */
static size_t choice_number(struct chat *c, const char *s)
{
    size_t n = 0;
    if (!*s || strlen(s) > 2)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        n = n * 10 + (size_t)(*s - '0');
    }
    return n <= chat_line_choice_count(c->line) ? n : 0;
}

/* ---- /image PATH and /file PATH ----------------------------------------- */

/* The path as typed, with what a terminal adds when a file is dropped on it
 * undone (one pair of quotes, backslashes before spaces), and ~/ as the home
 * folder. Malloc'd. */
static char *media_path(const struct chat *c, const char *typed)
{
    size_t len = strlen(typed);
    while (len && (typed[len - 1] == ' ' || typed[len - 1] == '\t'))
        len--;
    if (len >= 2 && (typed[0] == '\'' || typed[0] == '"') && typed[len - 1] == typed[0]) {
        typed++;
        len -= 2;
    }
    char *path = xmalloc(len + 1);
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (typed[i] == '\\' && i + 1 < len && typed[i + 1] == ' ')
            i++;
        path[k++] = typed[i];
    }
    path[k] = '\0';
    if (c->home && strncmp(path, "~/", 2) == 0) {
        char *full = xasprintf("%s/%s", c->home, path + 2);
        free(path);
        path = full;
    }
    return path;
}

/* The bytes of the file at `path`, at most `max`: NULL, with a line on the
 * terminal, when there is nothing to send. */
static unsigned char *media_read(struct chat *c, const char *path, size_t max, size_t *len)
{
    /* O_NONBLOCK: a FIFO opens without a writer; it is refused below. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            say(c, "(there is no file %s: not sent)\n", path);
        else
            say(c, "(cannot read %s: %s; not sent)\n", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    unsigned char *data = NULL;
    if (fstat(fd, &st) != 0) {
        say(c, "(cannot read %s: %s; not sent)\n", path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        say(c, "(%s is a folder: give a file in it; not sent)\n", path);
    } else if (!S_ISREG(st.st_mode)) {
        say(c, "(%s is not a regular file: not sent)\n", path);
    } else if (st.st_size == 0) {
        say(c, "(%s is empty: LINE sends no empty files; not sent)\n", path);
    } else if ((unsigned long long)st.st_size > max) {
        say(c, "(%s is %.1f MB: the bot takes at most %zu MB, LINEBOT_MAX_CONTENT_MB; not sent)\n", path,
            (double)st.st_size / (1024 * 1024), max / (1024 * 1024));
    } else {
        /* Read to the end: the file may have grown since fstat. */
        size_t cap = (size_t)st.st_size, n = 0;
        data = xmalloc(cap + 1);
        for (;;) {
            ssize_t r = read(fd, data + n, cap + 1 - n);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0 || (n += (size_t)r) > cap)
                break;
        }
        if (n > cap || n == 0) {
            say(c, "(%s changed while it was read: not sent)\n", path);
            free(data);
            data = NULL;
        } else {
            *len = n;
        }
    }
    close(fd);
    return data;
}

/* /image PATH (`image`) or /file PATH: the file goes as the LINE app sends
 * a picture or a document, its bytes kept by the stand-in as the message's
 * content. */
static void send_media(struct chat *c, bool image, const char *typed)
{
    const char *command = image ? "/image" : "/file";
    char *path = media_path(c, typed);
    if (!*path) {
        say(c, image ? "(/image PATH: sends the picture at PATH to the bot)\n"
                     : "(/file PATH: sends the document at PATH to the bot: .txt, .md, .html or .pdf)\n");
        free(path);
        return;
    }
    size_t len = 0;
    unsigned char *data = media_read(c, path, (size_t)c->cfg->max_content_mb * 1024 * 1024, &len);
    if (!data) {
        free(path);
        return;
    }
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (c->opt.group)
        say(c, "(in a group the bot reads a %s only when a message that mentions it quotes it, which this "
               "terminal cannot do: the bot keeps quiet)\n",
            image ? "picture" : "file");
    else if (image && !chat_vision_available(c->cfg))
        say(c, "(no model reads images: give one \"vision\": true in LINEBOT_MODELS)\n");
    say(c, "(%s: %s, %zu bytes)\n", command, name, len);
    struct event_ids ids;
    struct chat_wire_event e = new_event(c, &ids);
    chat_line_add_content(c->line, ids.message_id, data, len);
    chat_line_clear_choices(c->line);
    deliver(c, image ? chat_wire_image(&e) : chat_wire_file(&e, name, (long long)len));
    free(path);
}

/* The rest of the line after `command` and spaces, or NULL when the line
 * is not that command. */
static const char *command_arg(const char *line, const char *command)
{
    size_t n = strlen(command);
    if (strncmp(line, command, n) != 0 || (line[n] != ' ' && line[n] != '\t' && line[n] != '\0'))
        return NULL;
    line += n;
    while (*line == ' ' || *line == '\t')
        line++;
    return line;
}

static void prompt(struct chat *c)
{
    if (c->tty_in)
        say(c, "%s> ", c->user_name);
}

/* Handles one line; false to leave. */
static bool chat_handle_typed(struct chat *c, char *text)
{
    size_t len = strlen(text);
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    if (!utf8_valid(text, len) || memchr(text, '\0', len)) {
        say(c, "(that line is not UTF-8 text: not sent)\n");
        return true;
    }
    const char *t = text;
    while (*t == ' ' || *t == '\t')
        t++;
    if (!*t)
        return true; /* LINE sends no empty messages */
    if (strcmp(t, "/quit") == 0)
        return false;
    const char *arg;
    if ((arg = command_arg(t, "/image")) != NULL || (arg = command_arg(t, "/file")) != NULL) {
        send_media(c, t[1] == 'i', arg);
        return true;
    }
    if ((arg = command_arg(t, "/as")) != NULL) {
        const char *name = arg;
        if (!c->opt.group)
            say(c, "(/as works in a group: linebot chat --group)\n");
        else if (!*name)
            say(c, "(/as NAME: who speaks next)\n");
        else {
            chat_set_user(c, name);
            say(c, "(%s speaks now)\n", c->user_name);
        }
        return true;
    }
    if (utf16_len(text, len) > CHAT_MAX_TEXT) {
        say(c, "(LINE takes at most %d characters in a message: not sent)\n", CHAT_MAX_TEXT);
        return true;
    }
    size_t n = choice_number(c, t);
    if (n)
        pick(c, n);
    else
        send_text(c, text);
    return true;
}

/* ---- start-up and shutdown ---------------------------------------------- */

static int parse_options(int argc, char **argv, struct chat_options *opt)
{
    static const struct option longs[] = {
        {"user", required_argument, NULL, 'u'}, {"as", required_argument, NULL, 'a'},
        {"group", no_argument, NULL, 'g'},      {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    *opt = (struct chat_options){.user = "you"};
    optind = 1;
    opterr = 0;
    int ch;
    /* The leading ':' makes a missing value ':' rather than '?', so that
     * `--user` alone says what it lacks instead of "unknown option". */
    while ((ch = getopt_long(argc, argv, "+:h", longs, NULL)) != -1) {
        switch (ch) {
        case 'u':
        case 'a':
            opt->user = optarg;
            break;
        case 'g':
            opt->group = true;
            break;
        case 'd':
            opt->db = optarg;
            break;
        case 'h':
            fputs(cli_chat_usage, stdout);
            return 0;
        case ':':
            fprintf(stderr, "linebot chat: %s needs a value\n\n%s", argv[optind - 1], cli_chat_usage);
            return 2;
        default:
            fprintf(stderr, "linebot chat: unknown option %s\n\n%s", argv[optind - 1], cli_chat_usage);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "linebot chat: unexpected argument %s\n\n%s", argv[optind], cli_chat_usage);
        return 2;
    }
    if (!*opt->user || !utf8_valid(opt->user, strlen(opt->user))) {
        fprintf(stderr, "linebot chat: --user needs a name\n");
        return 2;
    }
    return -1;
}

/* The environment the bot is configured from: the caller's, with LINE
 * pointed at the stand-in and the store at the chat's own. The values set
 * here come last, and the last occurrence wins (config.c). */
static char **chat_env(const struct chat *c, char *const *env, const char *db)
{
    static const char *const replaced[] = {"LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "LINE_ACCESS_TOKEN",
                                           "LINE_API_BASE_URL", "LINE_DATA_API_BASE_URL", "LINEBOT_DB",
                                           "LINEBOT_WORKERS", "AWS_LAMBDA_RUNTIME_API", "FC_FUNCTION_NAME", NULL};
    size_t n = 0;
    while (env && env[n])
        n++;
    char **out = xcalloc(n + 16, sizeof *out);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool skip = false;
        for (const char *const *r = replaced; *r && !skip; r++)
            skip = strncmp(env[i], *r, strlen(*r)) == 0 && env[i][strlen(*r)] == '=';
        if (!skip)
            out[k++] = xstrdup(env[i]);
    }
    out[k++] = xasprintf("LINE_CHANNEL_SECRET=%s", c->secret);
    out[k++] = xasprintf("LINE_CHANNEL_ACCESS_TOKEN=%s", c->token);
    out[k++] = xstrdup("LINE_API_BASE_URL=" CHAT_LINE_ORIGIN);
    out[k++] = xstrdup("LINE_DATA_API_BASE_URL=" CHAT_LINE_ORIGIN);
    out[k++] = xasprintf("LINEBOT_DB=%s", db);
    out[k++] = xstrdup("LINEBOT_WORKERS=1"); /* one person types: one event at a time */
    out[k] = NULL;
    return out;
}

static void env_free(char **env)
{
    for (char **e = env; e && *e; e++)
        free(*e);
    free(env);
}

/* Removes the temporary directory and what is in it (the socket, the store
 * and its -wal/-shm files). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            char *path = xasprintf("%s/%s", dir, de->d_name);
            unlink(path);
            free(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

static void banner(const struct chat *c, const struct config *cfg)
{
    printf("linebot chat: the bot with %s via %s. /help for its commands, /quit or Ctrl-D to leave.\n",
           cfg->llm_model, config_provider_name(cfg->provider));
    printf("/image PATH sends a picture, /file PATH a document (.txt, .md, .html, .pdf).\n");
    if (c->opt.group)
        printf("A group chat: write @bot to mention the bot; /as NAME changes who speaks.\n");
    if (c->opt.db)
        printf("History is kept in %s.\n", c->opt.db);
    fflush(stdout);
}

/* Runs the pipeline and the terminal loop; the store and LINE are set up. */
static int chat_run(struct chat *c, struct config *cfg)
{
    char err[512];
    int status = 1;
    struct worker_pool pool;
    bool pool_started = false, ingest_ready = false;
    struct ingest ingest;
    struct store *store = store_open(cfg->db, err, sizeof err);
    if (!store) {
        fprintf(stderr, "linebot chat: cannot open the store: %s\n", err);
        return 1;
    }
    if (store_recover(store) != 0) {
        fprintf(stderr, "linebot chat: cannot recover unfinished work: %s\n", store_last_error(store));
        goto out;
    }
    if (ingest_init(&ingest, cfg, store) != 0)
        goto out;
    ingest_ready = true;
    if (worker_pool_start(&pool, cfg) != 0)
        goto out;
    pool_started = true;
    ingest.notify = worker_pool_notify;
    ingest.notify_arg = &pool;
    ingest.parsed = &pool.events;
    c->ingest = &ingest;
    c->cfg = cfg;

    /* Ctrl-C reaches this thread only (the others block it): getline returns. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &mask, NULL);

    banner(c, cfg);
    wait_for_bot(c); /* what a kept store left unfinished */
    char *text = NULL;
    size_t cap = 0;
    status = 0;
    for (;;) {
        prompt(c);
        ssize_t n = getline(&text, &cap, stdin);
        if (interrupted) {
            status = 130;
            break;
        }
        if (n < 0)
            break; /* Ctrl-D: end of input */
        if (!chat_handle_typed(c, text))
            break;
        if (interrupted) {
            status = 130;
            break;
        }
    }
    free(text);
    if (c->tty_in && status == 0)
        say(c, "\n");
out:
    if (pool_started)
        worker_pool_stop(&pool);
    if (ingest_ready)
        ingest_destroy(&ingest);
    store_close(store);
    return status;
}

int cli_chat(int argc, char **argv, char *const *env)
{
    struct chat c = {0};
    int rc = parse_options(argc, argv, &c.opt);
    if (rc >= 0)
        return rc;

    const char *tmp = getenv("TMPDIR");
    snprintf(c.dir, sizeof c.dir, "%s/linebot-chat-XXXXXX", tmp && *tmp && strlen(tmp) < 60 ? tmp : "/tmp");
    if (!mkdtemp(c.dir)) {
        fprintf(stderr, "linebot chat: cannot make a temporary directory %s: %s\n", c.dir, strerror(errno));
        return 1;
    }
    random_hex(c.secret, 16);
    random_hex(c.token, 32);
    random_hex(c.run_id, 6);
    line_id('U', "linebot chat bot", c.bot_id);
    line_id('C', "linebot chat group", c.group_id);
    c.tty_in = isatty(STDIN_FILENO);
    const struct passwd *pw = getpwuid(getuid());
    c.home = pw && pw->pw_dir && *pw->pw_dir ? xstrdup(pw->pw_dir) : NULL;

    char *db = c.opt.db ? xstrdup(c.opt.db) : xasprintf("%s/chat.db", c.dir);
    char **chat_environ = chat_env(&c, env, db);
    free(db);
    struct config cfg;
    char err[512];
    if (config_load(&cfg, chat_environ, err, sizeof err) != 0) {
        fprintf(stderr, "linebot chat: %s\n", err);
        env_free(chat_environ);
        remove_dir(c.dir);
        free(c.home);
        return 2;
    }
    /* Log lines would break into the conversation: warnings and errors only,
     * unless LOG_LEVEL asks for more. */
    log_init(config_lookup(chat_environ, "LOG_LEVEL") ? cfg.log_level : LOG_WARN);
    log_set_format(cfg.log_format, false);
    struct redact_secret secrets[CONFIG_MAX_SECRETS];
    log_set_secrets(secrets, config_secrets(&cfg, secrets, CONFIG_MAX_SECRETS));
    env_free(chat_environ);

    /* Every thread started from here on leaves SIGINT to this one. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    struct sigaction sa = {.sa_handler = on_interrupt}; /* no SA_RESTART: getline returns */
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = 1;
    http_use_ca_bundle(cfg.ca_file);
    char *socket_path = xasprintf("%s/line.sock", c.dir);
    http_route_unix_socket(CHAT_LINE_ORIGIN, socket_path);
    if (http_global_init() != 0) {
        fprintf(stderr, "linebot chat: could not initialise libcurl\n");
    } else {
        c.line = chat_line_start(socket_path, c.token, stdout, isatty(STDOUT_FILENO), err, sizeof err);
        if (!c.line) {
            fprintf(stderr, "linebot chat: %s\n", err);
        } else {
            chat_set_user(&c, c.opt.user);
            rc = chat_run(&c, &cfg);
            chat_line_stop(c.line);
        }
        http_global_cleanup();
    }
    http_route_unix_socket(NULL, NULL);
    free(socket_path);
    free(c.user_name);
    free(c.home);
    config_free(&cfg);
    remove_dir(c.dir);
    return rc;
}
