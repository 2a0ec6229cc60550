/* test_cli_chat.c - `linebot chat` driven through a pseudo-terminal.
 *
 * The real binary runs `linebot chat` on a pty (forkpty), as a person would
 * in a terminal, against the fake LLM; nothing else. The oracle is what the
 * terminal shows (the fake LLM's "echo: <last user message>" answers, the
 * spinner), what the fake LLM was asked, the exit status, and the files:
 * LINEBOT_DB is never created without --db, the temporary store is gone after
 * exit, and the fake LINE (LINE_API_BASE_URL points at it) hears nothing.
 * For /image and /file: the bytes the fake LLM decodes from the request, set
 * against the file on disk, and what the model is shown of a document. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "harness.h"
#include "media.h"

/* The binary on a pty, and everything it wrote. */
struct pty_bot {
    struct world *w;
    pid_t pid;
    int fd;             /* the pty's master side */
    struct e2e_buf out; /* all output so far */
    size_t mark;        /* expect() looks from here on */
    int status;         /* wait status once exited */
};

static void pty_dump(void *arg)
{
    struct pty_bot *b = arg;
    fprintf(stderr, "==== linebot chat's terminal:\n%.*s\n====\n", (int)b->out.len, b->out.data ? b->out.data : "");
}

static void pty_stop(void *arg)
{
    struct pty_bot *b = arg;
    if (b->pid > 0) {
        kill(b->pid, SIGKILL);
        waitpid(b->pid, NULL, 0);
    }
    if (b->fd >= 0)
        close(b->fd);
    free(b->out.data);
    free(b);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static char *tmp_dir(struct world *w)
{
    return e2e_printf("%s/tmp", w->dir);
}

/* `linebot chat args...` on a new pty, with the fake LLM as the model, the
 * server's LINEBOT_DB at <dir>/server.db, TMPDIR at <dir>/tmp, and `extra`
 * ("NAME=value", may be NULL) in the environment too. */
static struct pty_bot *chat_start_with(struct world *w, const char *const *args, const char *const *extra)
{
    char *tmp = tmp_dir(w);
    mkdir(tmp, 0700);
    char *env[32];
    size_t n = 0;
    env[n++] = e2e_printf("TMPDIR=%s", tmp);
    env[n++] = e2e_printf("LINEBOT_DB=%s/server.db", w->dir);
    env[n++] = e2e_printf("LLM_BASE_URL=%s", fake_llm_base_url(w->llm));
    env[n++] = e2e_printf("LINE_API_BASE_URL=%s", fake_line_url(w->line));
    env[n++] = e2e_strdup("LINE_CHANNEL_SECRET=" E2E_CHANNEL_SECRET);
    env[n++] = e2e_strdup("LLM_PROVIDER=openai");
    env[n++] = e2e_strdup("LLM_API_KEY=" E2E_LLM_KEY);
    env[n++] = e2e_strdup("LLM_MODEL=" E2E_MODEL);
    env[n++] = e2e_strdup("TERM=dumb");
    for (const char *const *x = extra; x && *x && n < 24; x++)
        env[n++] = e2e_strdup(*x);
    static const char *const pass[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL};
    for (const char *const *p = pass; *p; p++)
        if (getenv(*p))
            env[n++] = e2e_printf("%s=%s", *p, getenv(*p));
    env[n] = NULL;
    free(tmp);

    const char *bin = getenv("E2E_LINEBOT_BIN") && *getenv("E2E_LINEBOT_BIN") ? getenv("E2E_LINEBOT_BIN") : LINEBOT_BIN;
    char *argv[16];
    size_t k = 0;
    argv[k++] = (char *)bin;
    argv[k++] = (char *)"chat";
    for (const char *const *a = args; a && *a && k < 15; a++)
        argv[k++] = (char *)*a;
    argv[k] = NULL;

    struct pty_bot *b = e2e_xmalloc(sizeof *b);
    memset(b, 0, sizeof *b);
    b->w = w;
    pid_t parent = getpid();
    struct winsize ws = {.ws_row = 40, .ws_col = 200};
    b->pid = forkpty(&b->fd, NULL, NULL, &ws);
    assert_true(b->pid >= 0);
    if (b->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        execve(bin, argv, env);
        dprintf(STDERR_FILENO, "e2e: execve %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    for (size_t i = 0; i < n; i++)
        free(env[i]);
    fcntl(b->fd, F_SETFL, fcntl(b->fd, F_GETFL) | O_NONBLOCK);
    world_add_fake(w, pty_dump, pty_stop, b);
    return b;
}

static struct pty_bot *chat_start(struct world *w, const char *const *args)
{
    return chat_start_with(w, args, NULL);
}

/* Reads what is there, waiting at most `wait_ms`. False at end of output. */
static bool pty_read(struct pty_bot *b, int wait_ms)
{
    struct pollfd p = {.fd = b->fd, .events = POLLIN};
    if (poll(&p, 1, wait_ms) <= 0)
        return true;
    char chunk[4096];
    ssize_t r = read(b->fd, chunk, sizeof chunk);
    if (r <= 0)
        return r < 0 && errno == EAGAIN; /* EIO: the child closed the pty */
    e2e_buf_add(&b->out, chunk, (size_t)r);
    return true;
}

/* Waits until `needle` shows up after the mark; the mark moves past it. */
static void expect(struct pty_bot *b, const char *needle)
{
    int64_t deadline = e2e_mono_ms() + e2e_ms(E2E_WAIT_MS);
    for (;;) {
        if (b->out.data && b->out.len > b->mark) {
            e2e_buf_add(&b->out, "", 0);
            const char *hit = strstr(b->out.data + b->mark, needle);
            if (hit) {
                b->mark = (size_t)(hit - b->out.data) + strlen(needle);
                return;
            }
        }
        if (e2e_mono_ms() > deadline || !pty_read(b, 50))
            fail_msg("\"%s\" did not show up on the terminal:\n%.*s", needle, (int)b->out.len,
                     b->out.data ? b->out.data : "");
    }
}

/* Everything shown after the mark so far (after a short read), malloc'd. */
static char *shown_since_mark(struct pty_bot *b)
{
    pty_read(b, 100);
    e2e_buf_add(&b->out, "", 0);
    return e2e_strdup(b->out.data ? b->out.data + b->mark : "");
}

static void type(struct pty_bot *b, const char *text)
{
    size_t len = strlen(text);
    assert_int_equal(write(b->fd, text, len), (ssize_t)len);
}

/* Waits for the exit, reading the output meanwhile; returns the exit code. */
static int wait_exit(struct pty_bot *b)
{
    int64_t deadline = e2e_mono_ms() + e2e_ms(E2E_WAIT_MS);
    for (;;) {
        pid_t r = waitpid(b->pid, &b->status, WNOHANG);
        if (r == b->pid) {
            b->pid = 0;
            pty_read(b, 10); /* its last words */
            e2e_buf_add(&b->out, "", 0);
            const char *all = b->out.data ? b->out.data : "";
            if (strstr(all, "AddressSanitizer") || strstr(all, "LeakSanitizer") || strstr(all, "runtime error:"))
                fail_msg("sanitizer report on the terminal:\n%s", all);
            if (!WIFEXITED(b->status))
                fail_msg("linebot chat was killed by signal %d", WTERMSIG(b->status));
            return WEXITSTATUS(b->status);
        }
        if (e2e_mono_ms() > deadline)
            fail_msg("linebot chat did not exit");
        pty_read(b, 20);
    }
}

/* Nothing left behind: no LINEBOT_DB, an empty TMPDIR, LINE never called. */
static void assert_clean(struct world *w)
{
    char *server_db = e2e_printf("%s/server.db", w->dir);
    assert_false(file_exists(server_db));
    free(server_db);
    char *tmp = tmp_dir(w);
    char *cmd = e2e_printf("test -z \"$(ls -A '%s')\"", tmp);
    if (system(cmd) != 0)
        fail_msg("linebot chat left files in TMPDIR %s", tmp);
    free(cmd);
    free(tmp);
    assert_int_equal(fake_line_request_total(w->line), 0);
}

/* Writes `len` bytes to <dir>/<name>; returns the path (malloc'd). */
static char *write_file(struct world *w, const char *name, const void *data, size_t len)
{
    char *path = e2e_printf("%s/%s", w->dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static void test_one_to_one(void **state)
{
    struct world *w = world_new(state, NULL);
    fake_llm_set_delay(w->llm, 600); /* long enough to see the spinner */
    struct pty_bot *b = chat_start(w, (const char *[]){"--user", "Ann", NULL});
    expect(b, "linebot chat: the bot with " E2E_MODEL " via openai");
    expect(b, "Ann> ");
    type(b, "hello bot, 2 + 2?\n");
    expect(b, "bot is typing..."); /* the loading animation, on a terminal */
    expect(b, "bot: echo: hello bot, 2 + 2?\r\n");
    expect(b, "Ann> ");
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    char *user = fake_llm_request_last_user(w->llm, 0);
    assert_contains(user, "hello bot, 2 + 2?");
    free(user);

    /* The bot's own commands, as in LINE: /help answers without the model. */
    type(b, "/help\n");
    expect(b, "bot: Commands:");
    expect(b, "/reset - forget this conversation");
    expect(b, "Ann> ");
    assert_int_equal(fake_llm_request_count(w->llm), 1);

    /* The second question carries the first exchange as history. */
    fake_llm_set_delay(w->llm, 0);
    type(b, "and 3 + 3?\n");
    expect(b, "bot: echo: and 3 + 3?");
    expect(b, "Ann> ");
    assert_int_equal(fake_llm_request_count(w->llm), 2);
    char *transcript = fake_llm_request_transcript(w->llm, 1);
    assert_contains(transcript, "echo: hello bot, 2 + 2?");
    free(transcript);

    type(b, "/quit\n");
    assert_int_equal(wait_exit(b), 0);
    assert_clean(w);
    world_finish(w);
}

/* Quick reply buttons: /model lists the catalogue with a button each; typing
 * a button's number taps it (a postback), which switches the chat's model,
 * and the next question goes to that model. */
static void test_quick_reply_pick(void **state)
{
    struct world *w = world_new(state, NULL);
    const char *url = fake_llm_base_url(w->llm);
    char *models = e2e_printf("LINEBOT_MODELS=[{\"name\":\"fast\",\"model\":\"fast-model\",\"provider\":\"custom\","
                              "\"base_url\":\"%s\",\"api_key_env\":\"LLM_API_KEY\"},"
                              "{\"name\":\"smart\",\"model\":\"smart-model\",\"provider\":\"custom\","
                              "\"base_url\":\"%s\",\"api_key_env\":\"LLM_API_KEY\",\"label\":\"Smart one\"}]",
                              url, url);
    struct pty_bot *b = chat_start_with(w, (const char *[]){"--user", "Ann", NULL}, (const char *[]){models, NULL});
    expect(b, "Ann> ");
    type(b, "/model\n");
    expect(b, "Current model: fast");
    expect(b, "[1] fast");
    expect(b, "[2] Smart one");
    expect(b, "Ann> ");
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    type(b, "2\n"); /* taps "Smart one" */
    expect(b, "OK, this chat now uses smart (Smart one).");
    expect(b, "Ann> ");
    type(b, "who answers?\n");
    expect(b, "bot: echo: who answers?");
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    json_t *req = fake_llm_request_json(w->llm, 0);
    assert_string_equal(json_string_value(json_object_get(req, "model")), "smart-model");
    json_decref(req);
    type(b, "/quit\n");
    assert_int_equal(wait_exit(b), 0);
    assert_clean(w);
    free(models);
    world_finish(w);
}

static void test_ctrl_d_exits_0(void **state)
{
    struct world *w = world_new(state, NULL);
    struct pty_bot *b = chat_start(w, NULL);
    expect(b, "you> ");
    type(b, "\x04"); /* Ctrl-D at the start of a line: end of input */
    assert_int_equal(wait_exit(b), 0);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    assert_clean(w);
    world_finish(w);
}

static void test_ctrl_c_stops_cleanly(void **state)
{
    struct world *w = world_new(state, NULL);
    fake_llm_set_delay(w->llm, 20000); /* Ctrl-C while the model is being asked */
    struct pty_bot *b = chat_start(w, NULL);
    expect(b, "you> ");
    type(b, "a slow question\n");
    assert_true(fake_llm_wait_requests(w->llm, 1, e2e_ms(E2E_WAIT_MS)));
    type(b, "\x03"); /* the terminal sends SIGINT */
    assert_int_equal(wait_exit(b), 130);
    assert_clean(w);
    world_finish(w);
}

static void test_group_mention(void **state)
{
    struct world *w = world_new(state, NULL);
    struct pty_bot *b = chat_start(w, (const char *[]){"--group", "--user", "alice", NULL});
    expect(b, "write @bot to mention the bot");
    expect(b, "alice> ");
    /* Group chatter that does not address the bot: no answer, no model. */
    type(b, "lunch at noon?\n");
    expect(b, "alice> ");
    char *shown = shown_since_mark(b);
    assert_not_contains(shown, "bot:");
    free(shown);
    assert_int_equal(fake_llm_request_count(w->llm), 0);

    /* Another speaker mentions the bot: it answers, without "@bot" in the question. */
    type(b, "/as bob\n");
    expect(b, "(bob speaks now)");
    expect(b, "bob> ");
    type(b, "@bot which day is it\n");
    expect(b, "bot: echo: ");
    expect(b, "which day is it");
    expect(b, "bob> ");
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    char *user = fake_llm_request_last_user(w->llm, 0);
    assert_contains(user, "which day is it");
    assert_not_contains(user, "@bot");
    free(user);

    /* A picture alone is group chatter: the terminal says so, the bot is quiet. */
    size_t jpeg_len;
    unsigned char *jpeg = media_jpeg(&jpeg_len);
    char *path = write_file(w, "group.jpg", jpeg, jpeg_len);
    free(jpeg);
    char *line = e2e_printf("/image %s\n", path);
    type(b, line);
    free(line);
    expect(b, "(in a group the bot reads a picture only when a message that mentions it quotes it");
    expect(b, "bob> ");
    char *after = shown_since_mark(b);
    assert_not_contains(after, "bot:");
    free(after);
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    free(path);
    type(b, "\x04");
    assert_int_equal(wait_exit(b), 0);
    assert_clean(w);
    world_finish(w);
}

static void test_db_keeps_history(void **state)
{
    struct world *w = world_new(state, NULL);
    char *db = e2e_printf("%s/kept.db", w->dir);
    struct pty_bot *b = chat_start(w, (const char *[]){"--db", db, NULL});
    expect(b, "History is kept in ");
    expect(b, "you> ");
    type(b, "my name is Zed\n");
    expect(b, "bot: echo: my name is Zed");
    expect(b, "you> ");
    type(b, "/quit\n");
    assert_int_equal(wait_exit(b), 0);
    assert_true(file_exists(db));

    b = chat_start(w, (const char *[]){"--db", db, NULL});
    expect(b, "you> ");
    type(b, "what is my name?\n");
    expect(b, "bot: echo: what is my name?");
    type(b, "/quit\n");
    assert_int_equal(wait_exit(b), 0);
    char *transcript = fake_llm_request_transcript(w->llm, 1);
    assert_contains(transcript, "my name is Zed");
    free(transcript);
    free(db);
    assert_clean(w);
    world_finish(w);
}

/* /image PATH: the picture goes as LINE's image message; the bot fetches
 * its content from the stand-in and the vision model gets the very bytes
 * of the file. */
static void test_image(void **state)
{
    struct world *w = world_new(state, NULL);
    char *models = e2e_printf("LINEBOT_MODELS=[{\"name\":\"eye\",\"model\":\"model-eye\",\"provider\":\"custom\","
                              "\"base_url\":\"%s\",\"api_key_env\":\"LLM_API_KEY\",\"vision\":true}]",
                              fake_llm_base_url(w->llm));
    size_t jpeg_len;
    unsigned char *jpeg = media_jpeg(&jpeg_len);
    char *path = write_file(w, "grey square.jpg", jpeg, jpeg_len);
    free(jpeg);
    fake_llm_push_answer(w->llm, "A grey square.", 0);
    struct pty_bot *b = chat_start_with(w, NULL, (const char *[]){models, "LINEBOT_LANG=en", NULL});
    expect(b, "/image PATH sends a picture");
    expect(b, "you> ");
    /* Dropped on a terminal, a path with a space comes quoted. */
    char *line = e2e_printf("/image '%s'\n", path);
    type(b, line);
    free(line);
    expect(b, "bot: A grey square.");
    expect(b, "you> ");
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    json_t *req = fake_llm_request_json(w->llm, 0);
    assert_string_equal(json_string_value(json_object_get(req, "model")), "model-eye");
    json_decref(req);
    size_t want_len;
    unsigned char *want = (unsigned char *)e2e_read_file_n(path, &want_len); /* as on disk now */
    assert_non_null(want);
    struct fake_llm_image got[2];
    assert_int_equal(fake_llm_request_images(w->llm, 0, got, 2), 1);
    assert_string_equal(got[0].mime, "image/jpeg");
    if (got[0].len != want_len || memcmp(got[0].data, want, want_len) != 0)
        fail_msg("the model got other bytes than the file's (%zu vs %zu bytes)", got[0].len, want_len);
    fake_llm_images_free(got, 1);
    free(want);

    /* The next text within LINEBOT_IMAGE_FOLLOWUP_S is asked with the image. */
    type(b, "what colour is it?\n");
    expect(b, "bot: ");
    expect(b, "you> ");
    assert_int_equal(fake_llm_request_count(w->llm), 2);
    assert_int_equal(fake_llm_request_images(w->llm, 1, got, 2), 1);
    fake_llm_images_free(got, 1);

    type(b, "/quit\n");
    assert_int_equal(wait_exit(b), 0);
    assert_clean(w);
    free(path);
    free(models);
    world_finish(w);
}

static const char garden[] = "# Garden notes\n\nThe lemon tree is watered every Tuesday with rainwater.\n";

/* /file PATH in a 1:1 chat: the document goes into the chat's own
 * knowledge base, and a later question is answered from it. */
static void test_file(void **state)
{
    struct world *w = world_new(state, NULL);
    char *path = write_file(w, "garden.md", garden, strlen(garden));
    struct pty_bot *b = chat_start_with(w, NULL, (const char *[]){"LINEBOT_LANG=en", NULL});
    expect(b, "you> ");
    char *line = e2e_printf("/file %s\n", path);
    type(b, line);
    free(line);
    expect(b, "bot: I've read \"garden.md\" (1 passage(s)). You can now ask me about it.");
    expect(b, "you> ");
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    type(b, "when is the lemon tree watered?\n");
    expect(b, "bot: echo: when is the lemon tree watered?");
    expect(b, "you> ");
    char *tr = fake_llm_request_transcript(w->llm, 0);
    assert_contains(tr, "watered every Tuesday with rainwater");
    free(tr);
    type(b, "/files\n");
    expect(b, "1. garden.md (1)");
    expect(b, "you> ");

    if (media_have_pdftotext()) {
        size_t pdf_len;
        char *pdf = media_pdf((const char *[]){"Aquarium visitor guide", "A day ticket costs nine euros."}, 2,
                              &pdf_len);
        char *pdf_path = write_file(w, "guide.pdf", pdf, pdf_len);
        free(pdf);
        line = e2e_printf("/file %s\n", pdf_path);
        type(b, line);
        free(line);
        expect(b, "bot: I've read \"guide.pdf\"");
        expect(b, "you> ");
        type(b, "how much is a day ticket?\n");
        expect(b, "bot: echo: how much is a day ticket?");
        expect(b, "you> ");
        tr = fake_llm_request_transcript(w->llm, 1);
        assert_contains(tr, "A day ticket costs nine euros.");
        free(tr);
        free(pdf_path);
    }
    /* Without a model that reads images, a picture gets LINEBOT_MEDIA_TEXT,
     * and the terminal says why. */
    size_t jpeg_len;
    unsigned char *jpeg = media_jpeg(&jpeg_len);
    char *jpeg_path = write_file(w, "photo.jpg", jpeg, jpeg_len);
    free(jpeg);
    size_t asked = fake_llm_request_count(w->llm);
    line = e2e_printf("/image %s\n", jpeg_path);
    type(b, line);
    free(line);
    expect(b, "(no model reads images: give one \"vision\": true in LINEBOT_MODELS)");
    expect(b, "bot: Sorry, I can only read text for now.");
    expect(b, "you> ");
    assert_int_equal(fake_llm_request_count(w->llm), asked);
    free(jpeg_path);

    type(b, "\x04");
    assert_int_equal(wait_exit(b), 0);
    assert_clean(w);
    free(path);
    world_finish(w);
}

/* What cannot be sent gets a line on the terminal, and nothing reaches the
 * bot: no answer, no model call. */
static void test_bad_media_paths(void **state)
{
    struct world *w = world_new(state, NULL);
    char *big = e2e_xmalloc(1536 * 1024);
    memset(big, 'a', 1536 * 1024);
    char *big_path = write_file(w, "big.txt", big, 1536 * 1024);
    free(big);
    char *empty_path = write_file(w, "empty.txt", "", 0);
    char *fifo = e2e_printf("%s/pipe.txt", w->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    struct pty_bot *b = chat_start_with(w, NULL, (const char *[]){"LINEBOT_MAX_CONTENT_MB=1", NULL});
    expect(b, "you> ");
    struct {
        const char *command, *path, *said;
    } cases[] = {
        {"/image", "/nonexistent/cat.jpg", "(there is no file /nonexistent/cat.jpg: not sent)"},
        {"/file", w->dir, "is a folder: give a file in it; not sent)"},
        {"/file", big_path, "is 1.5 MB: the bot takes at most 1 MB, LINEBOT_MAX_CONTENT_MB; not sent)"},
        {"/file", empty_path, "is empty: LINE sends no empty files; not sent)"},
        {"/image", fifo, "is not a regular file: not sent)"},
        {"/file", "", "(/file PATH: sends the document at PATH to the bot"},
        {"/image", "", "(/image PATH: sends the picture at PATH to the bot)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *line = e2e_printf("%s %s\n", cases[i].command, cases[i].path);
        type(b, line);
        free(line);
        expect(b, cases[i].said);
        expect(b, "you> ");
        char *shown = shown_since_mark(b);
        assert_not_contains(shown, "bot:");
        free(shown);
    }
    if (geteuid() != 0) { /* root reads whatever the mode says */
        char *locked = write_file(w, "locked.txt", "secret", 6);
        chmod(locked, 0);
        char *line = e2e_printf("/file %s\n", locked);
        type(b, line);
        free(line);
        expect(b, "Permission denied; not sent)");
        expect(b, "you> ");
        free(locked);
    }
    type(b, "/quit\n");
    assert_int_equal(wait_exit(b), 0);
    assert_int_equal(fake_llm_request_count(w->llm), 0);
    assert_clean(w);
    free(big_path);
    free(empty_path);
    free(fifo);
    world_finish(w);
}

/* A slow model: LINEBOT_PROGRESS_S after the message the bot says it is
 * still working, with a "Show the answer" button; typing its number taps
 * it, and the answer comes with the tap's reply token. */
static void test_slow_answer_button(void **state)
{
    struct world *w = world_new(state, NULL);
    fake_llm_set_delay(w->llm, 4000); /* well past LINEBOT_PROGRESS_S, even on a busy machine */
    struct pty_bot *b = chat_start_with(w, NULL, (const char *[]){"LINEBOT_PROGRESS_S=1", "LINEBOT_LANG=en", NULL});
    expect(b, "you> ");
    type(b, "a slow one\n");
    expect(b, "[1] Show the answer");
    expect(b, "you> ");
    assert_not_contains(b->out.data + b->mark, "echo: a slow one");
    type(b, "1\n");
    expect(b, "bot: echo: a slow one");
    expect(b, "you> ");
    assert_int_equal(fake_llm_request_count(w->llm), 1);
    type(b, "/quit\n");
    assert_int_equal(wait_exit(b), 0);
    assert_clean(w);
    world_finish(w);
}

/* LOG_LEVEL=info shows the bot's log between the messages, and on a
 * terminal, without LOG_FORMAT, its lines are text, never JSON. */
static void test_log_lines_on_a_terminal_are_text(void **state)
{
    struct world *w = world_new(state, NULL);
    struct pty_bot *b = chat_start_with(w, NULL, (const char *[]){"LOG_LEVEL=info", NULL});
    expect(b, "you> ");
    type(b, "hello log\n");
    expect(b, "bot: echo: hello log");
    expect(b, "you> ");
    type(b, "/quit\n");
    assert_int_equal(wait_exit(b), 0);
    e2e_buf_add(&b->out, "", 0);
    assert_contains(b->out.data, " INFO  [user #");
    assert_contains(b->out.data, "] answered by reply in ");
    assert_not_contains(b->out.data, "{\"ts\"");
    assert_not_contains(b->out.data, "null");
    world_finish(w);
}

static void test_usage(void **state)
{
    struct world *w = world_new(state, NULL);
    char *out = NULL;
    assert_int_equal(bot_run(w, (const char *[]){"chat", "--help", NULL}, NULL, &out, NULL), 0);
    assert_contains(out, "--group");
    assert_contains(out, "--db PATH");
    assert_contains(out, "/image PATH");
    assert_contains(out, "/file PATH");
    free(out);
    assert_int_equal(bot_run(w, (const char *[]){"chat", "--nope", NULL}, NULL, NULL, NULL), 2);
    world_finish(w);
}

int main(void)
{
    /* A build root without /dev/pts (the FC package's Debian 11 chroot) has
     * no pseudo-terminal to drive: every case would fail the same way. */
    int master, slave;
    if (openpty(&master, &slave, NULL, NULL, NULL) != 0) {
        fprintf(stderr, "[  SKIPPED ] no pseudo-terminal here (is /dev/pts mounted?): %s\n", strerror(errno));
        return 77;
    }
    close(master);
    close(slave);
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_one_to_one),
        E2E_TEST(test_quick_reply_pick),
        E2E_TEST(test_ctrl_d_exits_0),
        E2E_TEST(test_ctrl_c_stops_cleanly),
        E2E_TEST(test_group_mention),
        E2E_TEST(test_db_keeps_history),
        E2E_TEST(test_image),
        E2E_TEST(test_file),
        E2E_TEST(test_bad_media_paths),
        E2E_TEST(test_log_lines_on_a_terminal_are_text),
        E2E_TEST(test_slow_answer_button),
        E2E_TEST(test_usage),
    };
    return E2E_RUN(tests);
}
