/* chat_line.c - the LINE stand-in of `linebot chat` (see chat_line.h).
 *
 * libmicrohttpd on a Unix socket, one internal thread: every call is answered
 * at once (printing is all the work), so one thread is enough. The spinner
 * has a thread of its own that draws a frame every 100 ms while a loading
 * animation is on, and clears its line before anything else is printed. */
#include "cli/chat_line.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/term_text.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "io/clock.h"

#define LINE_MAX_BODY (256 * 1024)
#define MAX_TOKENS 64
#define MAX_USERS 64

struct line_user {
    char *id, *name;
};

struct line_content {
    char *message_id;
    unsigned char *data;
    size_t len;
};

struct chat_line {
    struct MHD_Daemon *daemon;
    char socket_path[108];
    char *authorization; /* "Bearer <token>" */
    FILE *out;
    bool animate;

    pthread_mutex_t lock; /* everything below, and writes to `out` */
    char *tokens[MAX_TOKENS]; /* reply tokens not used yet */
    struct line_user users[MAX_USERS];
    size_t n_users;
    struct line_content contents[CHAT_LINE_CONTENTS]; /* a ring: the oldest goes first */
    size_t next_content;
    struct chat_shown shown; /* its choices are the buttons on show */
    unsigned long sent_seq;

    pthread_mutex_t spin_lock;
    pthread_cond_t spin_wake;
    bool spinning, spin_drawn, spin_stop;
    int64_t spin_until_ms;
    pthread_t spin_thread;
};

/* ---- the spinner --------------------------------------------------------- */

static void spinner_erase_locked(struct chat_line *line)
{
    if (line->spin_drawn) {
        fputs("\r\033[K", line->out);
        fflush(line->out);
        line->spin_drawn = false;
    }
}

/* Lock order: line->lock, then line->spin_lock. A frame is drawn only while
 * holding line->lock and seeing the spinner still on, so none comes after
 * the reply that stopped it. */
static void *spinner_main(void *arg)
{
    static const char *const frames[] = {"|", "/", "-", "\\"};
    struct chat_line *line = arg;
    unsigned frame = 0;
    for (;;) {
        pthread_mutex_lock(&line->spin_lock);
        while (!line->spinning && !line->spin_stop)
            pthread_cond_wait(&line->spin_wake, &line->spin_lock);
        bool stop = line->spin_stop;
        pthread_mutex_unlock(&line->spin_lock);
        if (stop)
            return NULL;

        pthread_mutex_lock(&line->lock);
        pthread_mutex_lock(&line->spin_lock);
        if (line->spinning && clock_monotonic_ms() >= line->spin_until_ms)
            line->spinning = false; /* LINE's animation ends by itself too */
        bool on = line->spinning;
        pthread_mutex_unlock(&line->spin_lock);
        if (on) {
            fprintf(line->out, "\r%s bot is typing...", frames[frame++ % 4]);
            fflush(line->out);
            line->spin_drawn = true;
        } else {
            spinner_erase_locked(line);
        }
        pthread_mutex_unlock(&line->lock);
        clock_sleep_ms(100);
    }
}

static void spinner_start(struct chat_line *line, int seconds)
{
    if (!line->animate) {
        pthread_mutex_lock(&line->lock);
        fputs("(bot is typing...)\n", line->out);
        fflush(line->out);
        pthread_mutex_unlock(&line->lock);
        return;
    }
    pthread_mutex_lock(&line->spin_lock);
    line->spinning = true;
    line->spin_until_ms = clock_monotonic_ms() + (int64_t)seconds * 1000;
    pthread_cond_signal(&line->spin_wake);
    pthread_mutex_unlock(&line->spin_lock);
}

/* Stops the spinner; the caller holds line->lock, so no frame comes after. */
static void spinner_stop_locked(struct chat_line *line)
{
    pthread_mutex_lock(&line->spin_lock);
    line->spinning = false;
    pthread_mutex_unlock(&line->spin_lock);
    spinner_erase_locked(line);
}

void chat_line_idle(struct chat_line *line)
{
    pthread_mutex_lock(&line->lock);
    spinner_stop_locked(line);
    pthread_mutex_unlock(&line->lock);
}

/* ---- what LINE shows ----------------------------------------------------- */

/* Prints a text the model wrote, which may hold anything: term_text.h keeps
 * escape sequences from the terminal. Continuation lines line up under the
 * first. */
static void print_text(FILE *out, const char *text)
{
    char *clean = term_text_clean(text, true);
    for (const char *line = clean;;) {
        const char *nl = strchr(line, '\n');
        fwrite(line, 1, nl ? (size_t)(nl - line) : strlen(line), out);
        if (!nl)
            break;
        fputs("\n     ", out);
        line = nl + 1;
    }
    free(clean);
}

/* Prints a reply or push and keeps its buttons. Returns the number of
 * messages, or -1 when the body is not a send. */
static int show_locked(struct chat_line *line, const char *body, size_t len)
{
    struct chat_shown shown;
    if (chat_wire_read(body, len, &shown) != 0)
        return -1;
    spinner_stop_locked(line);
    for (size_t i = 0; i < shown.n_texts; i++) {
        fputs("bot: ", line->out);
        print_text(line->out, shown.texts[i]);
        fputc('\n', line->out);
    }
    for (size_t i = 0; i < shown.n_choices; i++) {
        fprintf(line->out, "  [%zu] ", i + 1);
        print_text(line->out, shown.choices[i].label);
        fputs(shown.choices[i].kind == CHAT_CHOICE_OTHER ? " (not available here)\n" : "\n", line->out);
    }
    if (shown.n_choices)
        fputs("  (type a number to pick)\n", line->out);
    fflush(line->out);
    int n = (int)shown.n_texts;
    chat_shown_free(&line->shown);
    line->shown = shown;
    return n;
}

/* {"sentMessages":[{"id":..,"quoteToken":..},...]} for `n` messages. */
static char *sent_messages_locked(struct chat_line *line, int n)
{
    json_t *list = json_array();
    for (int i = 0; i < n; i++) {
        line->sent_seq++;
        char id[32], quote[40];
        snprintf(id, sizeof id, "%lu", 900000000000UL + line->sent_seq);
        snprintf(quote, sizeof quote, "q-bot-%lu", line->sent_seq);
        json_array_append_new(list, json_pack("{s:s,s:s}", "id", id, "quoteToken", quote));
    }
    json_t *root = json_pack("{s:o}", "sentMessages", list);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!s)
        alloc_fail("json_dumps", 0);
    return s;
}

/* Takes a reply token: true when it was issued and not used yet. */
static bool take_token_locked(struct chat_line *line, const char *token)
{
    for (size_t i = 0; token && i < MAX_TOKENS; i++) {
        if (line->tokens[i] && strcmp(line->tokens[i], token) == 0) {
            free(line->tokens[i]);
            line->tokens[i] = NULL;
            return true;
        }
    }
    return false;
}

static const char *user_name_locked(struct chat_line *line, const char *user_id)
{
    for (size_t i = 0; i < line->n_users; i++)
        if (strcmp(line->users[i].id, user_id) == 0)
            return line->users[i].name;
    return NULL;
}

/* ---- the API ------------------------------------------------------------- */

struct answer {
    unsigned int status;
    char *body;   /* malloc'd JSON; or content bytes when `raw` */
    size_t len;   /* `raw`: how many */
    bool raw;
};

static struct answer json_error(unsigned int status, const char *message)
{
    return (struct answer){status, xasprintf("{\"message\":\"%s\"}", message), 0, false};
}

/* GET /v2/bot/message/{id}/content: a copy of the bytes, as the ring may let
 * them go while the answer is on its way. */
static struct answer handle_content(struct chat_line *line, const char *id, size_t id_len)
{
    struct answer a = json_error(404, "Not found");
    pthread_mutex_lock(&line->lock);
    for (size_t i = 0; i < CHAT_LINE_CONTENTS; i++) {
        const struct line_content *c = &line->contents[i];
        if (c->message_id && strlen(c->message_id) == id_len && memcmp(c->message_id, id, id_len) == 0) {
            free(a.body);
            a = (struct answer){200, xmalloc(c->len ? c->len : 1), c->len, true};
            memcpy(a.body, c->data, c->len);
            break;
        }
    }
    pthread_mutex_unlock(&line->lock);
    return a;
}

static struct answer handle_send(struct chat_line *line, const char *path, const char *body, size_t len)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    bool reply = strcmp(path, "/v2/bot/message/reply") == 0;
    const char *token = json_string_value(json_object_get(root, "replyToken"));
    pthread_mutex_lock(&line->lock);
    struct answer a;
    if (reply && !take_token_locked(line, token)) {
        a = json_error(400, "Invalid reply token");
    } else {
        int n = show_locked(line, body, len);
        a = n < 0 ? json_error(400, "The request body has 1 error(s)")
                  : (struct answer){.status = 200, .body = sent_messages_locked(line, n)};
    }
    pthread_mutex_unlock(&line->lock);
    json_decref(root);
    return a;
}

static struct answer handle_profile(struct chat_line *line, const char *user_id)
{
    pthread_mutex_lock(&line->lock);
    const char *name = user_name_locked(line, user_id);
    json_t *root = name ? json_pack("{s:s,s:s}", "displayName", name, "userId", user_id) : NULL;
    pthread_mutex_unlock(&line->lock);
    if (!root)
        return json_error(404, "Not found");
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!s)
        alloc_fail("json_dumps", 0);
    return (struct answer){.status = 200, .body = s};
}

static struct answer route(struct chat_line *line, const char *method, const char *path, const char *auth,
                           const char *body, size_t len)
{
    if (!auth || strcmp(auth, line->authorization) != 0)
        return json_error(401, "Authentication failed");
    bool post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
    if (post && (strcmp(path, "/v2/bot/message/reply") == 0 || strcmp(path, "/v2/bot/message/push") == 0))
        return handle_send(line, path, body, len);
    if (post && strcmp(path, "/v2/bot/chat/loading/start") == 0) {
        json_t *root = json_loadb(body, len, 0, NULL);
        json_int_t seconds = json_integer_value(json_object_get(root, "loadingSeconds"));
        json_decref(root);
        spinner_start(line, seconds > 0 && seconds <= 60 ? (int)seconds : 20);
        return (struct answer){.status = 202, .body = xstrdup("{}")};
    }
    static const char profile[] = "/v2/bot/profile/";
    if (get && strncmp(path, profile, strlen(profile)) == 0)
        return handle_profile(line, path + strlen(profile));
    static const char message[] = "/v2/bot/message/", content[] = "/content";
    size_t path_len = strlen(path);
    if (get && strncmp(path, message, strlen(message)) == 0 && path_len > strlen(message) + strlen(content) &&
        strcmp(path + path_len - strlen(content), content) == 0)
        return handle_content(line, path + strlen(message), path_len - strlen(message) - strlen(content));
    /* /v2/bot/group/{groupId}/member/{userId} */
    const char *member = strstr(path, "/member/");
    if (get && strncmp(path, "/v2/bot/group/", 14) == 0 && member)
        return handle_profile(line, member + strlen("/member/"));
    return json_error(404, "Not found");
}

struct request {
    struct buf body;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    struct chat_line *line = cls;
    struct request *req = *con_cls;
    if (!req) {
        req = xcalloc(1, sizeof *req);
        buf_init(&req->body, LINE_MAX_BODY);
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_size) {
        if (buf_add(&req->body, upload, *upload_size) != 0)
            buf_truncate(&req->body, 0); /* too large: answered as not a send */
        *upload_size = 0;
        return MHD_YES;
    }
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    struct answer a = route(line, method, url, auth, buf_str(&req->body), req->body.len);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(a.raw ? a.len : strlen(a.body), a.body, MHD_RESPMEM_MUST_FREE);
    /* The bot judges content by its bytes; LINE's header would name the type. */
    MHD_add_response_header(resp, "Content-Type", a.raw ? "application/octet-stream" : "application/json");
    enum MHD_Result r = MHD_queue_response(conn, a.status, resp);
    MHD_destroy_response(resp);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    struct request *req = *con_cls;
    if (req) {
        buf_free(&req->body);
        free(req);
        *con_cls = NULL;
    }
}

struct chat_line *chat_line_start(const char *socket_path, const char *token, FILE *out, bool spinner, char *err,
                                  size_t errlen)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof addr.sun_path) {
        snprintf(err, errlen, "socket path too long: %s", socket_path);
        return NULL;
    }
    strcpy(addr.sun_path, socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %m", socket_path);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct chat_line *line = xcalloc(1, sizeof *line);
    snprintf(line->socket_path, sizeof line->socket_path, "%s", socket_path);
    line->authorization = xasprintf("Bearer %s", token);
    line->out = out;
    line->animate = spinner;
    pthread_mutex_init(&line->lock, NULL);
    pthread_mutex_init(&line->spin_lock, NULL);
    pthread_cond_init(&line->spin_wake, NULL);
    pthread_create(&line->spin_thread, NULL, spinner_main, line);
    line->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, line,
                                    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, line,
                                    MHD_OPTION_END);
    if (!line->daemon) {
        snprintf(err, errlen, "cannot start the LINE stand-in on %s", socket_path);
        close(fd);
        chat_line_stop(line);
        return NULL;
    }
    return line;
}

void chat_line_stop(struct chat_line *line)
{
    if (!line)
        return;
    if (line->daemon)
        MHD_stop_daemon(line->daemon); /* closes the listening socket too */
    unlink(line->socket_path);
    pthread_mutex_lock(&line->spin_lock);
    line->spin_stop = true;
    pthread_cond_signal(&line->spin_wake);
    pthread_mutex_unlock(&line->spin_lock);
    pthread_join(line->spin_thread, NULL);
    chat_line_idle(line);
    for (size_t i = 0; i < MAX_TOKENS; i++)
        free(line->tokens[i]);
    for (size_t i = 0; i < line->n_users; i++) {
        free(line->users[i].id);
        free(line->users[i].name);
    }
    for (size_t i = 0; i < CHAT_LINE_CONTENTS; i++) {
        free(line->contents[i].message_id);
        free(line->contents[i].data);
    }
    chat_shown_free(&line->shown);
    free(line->authorization);
    pthread_mutex_destroy(&line->lock);
    pthread_mutex_destroy(&line->spin_lock);
    pthread_cond_destroy(&line->spin_wake);
    free(line);
}

void chat_line_issue_token(struct chat_line *line, const char *reply_token)
{
    pthread_mutex_lock(&line->lock);
    /* The oldest goes when all slots are taken: LINE's tokens expire too. */
    size_t slot = line->sent_seq % MAX_TOKENS;
    for (size_t i = 0; i < MAX_TOKENS; i++)
        if (!line->tokens[i]) {
            slot = i;
            break;
        }
    free(line->tokens[slot]);
    line->tokens[slot] = xstrdup(reply_token);
    pthread_mutex_unlock(&line->lock);
}

void chat_line_add_content(struct chat_line *line, const char *message_id, unsigned char *data, size_t len)
{
    pthread_mutex_lock(&line->lock);
    struct line_content *c = &line->contents[line->next_content];
    line->next_content = (line->next_content + 1) % CHAT_LINE_CONTENTS;
    free(c->message_id);
    free(c->data);
    *c = (struct line_content){xstrdup(message_id), data, len};
    pthread_mutex_unlock(&line->lock);
}

void chat_line_add_user(struct chat_line *line, const char *user_id, const char *name)
{
    pthread_mutex_lock(&line->lock);
    if (!user_name_locked(line, user_id) && line->n_users < MAX_USERS) {
        line->users[line->n_users].id = xstrdup(user_id);
        line->users[line->n_users].name = xstrdup(name);
        line->n_users++;
    }
    pthread_mutex_unlock(&line->lock);
}

size_t chat_line_choice_count(struct chat_line *line)
{
    pthread_mutex_lock(&line->lock);
    size_t n = line->shown.n_choices;
    pthread_mutex_unlock(&line->lock);
    return n;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

bool chat_line_choice(struct chat_line *line, size_t n, struct chat_choice *out)
{
    pthread_mutex_lock(&line->lock);
    bool ok = n >= 1 && n <= line->shown.n_choices;
    if (ok) {
        const struct chat_choice *c = &line->shown.choices[n - 1];
        *out = (struct chat_choice){c->kind, xstrdup(c->label), dup_or_null(c->data), dup_or_null(c->text)};
    }
    pthread_mutex_unlock(&line->lock);
    return ok;
}

void chat_line_clear_choices(struct chat_line *line)
{
    pthread_mutex_lock(&line->lock);
    chat_shown_free(&line->shown);
    pthread_mutex_unlock(&line->lock);
}

void chat_line_lock_output(struct chat_line *line)
{
    pthread_mutex_lock(&line->lock);
    spinner_stop_locked(line);
}

void chat_line_unlock_output(struct chat_line *line)
{
    pthread_mutex_unlock(&line->lock);
}
