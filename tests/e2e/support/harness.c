/* harness.c - child process, environment, HTTP and webhook builders for the
 * e2e cases (see harness.h). */
#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef LINEBOT_BIN
#error "LINEBOT_BIN must be defined (the path of build/linebot)"
#endif

/* ---- environment ---- */

struct env {
    char **vars; /* "KEY=VALUE" */
    size_t n;
};

static size_t key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* Applies "KEY=VALUE" (set) or "KEY" (remove). */
static void env_apply(struct env *e, const char *kv)
{
    size_t k = key_len(kv);
    for (size_t i = 0; i < e->n; i++) {
        if (key_len(e->vars[i]) == k && strncmp(e->vars[i], kv, k) == 0) {
            free(e->vars[i]);
            e->vars[i] = e->vars[--e->n];
            break;
        }
    }
    if (kv[k] == '=') {
        e->vars = e2e_xrealloc(e->vars, (e->n + 2) * sizeof *e->vars);
        e->vars[e->n++] = e2e_strdup(kv);
        e->vars[e->n] = NULL;
    }
}

static void env_set(struct env *e, const char *key, const char *value)
{
    char *kv = e2e_printf("%s=%s", key, value);
    env_apply(e, kv);
    free(kv);
}

static void env_free(struct env *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->vars[i]);
    free(e->vars);
}

/* Ports for the programs the harness starts (the bot, Caddy) come from below
 * the kernel's ephemeral range (ip_local_port_range), where bind(0) never
 * looks: the fakes bind port 0 while the bot only binds its port later, so a
 * port picked from the ephemeral range could be handed to another test
 * program's fake in between, and that fake would then get this world's
 * requests (seen in CI as stray 404s on a fake LLM). Two programs may still
 * pick the same port here; the one whose bind loses is started again (see
 * bot_start), and bot_owns_port() keeps the harness from talking to the
 * winner. */
#define E2E_PORT_LOW 10000

static int ephemeral_low(void)
{
    int low = 0, high = 0;
    FILE *fp = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (fp) {
        if (fscanf(fp, "%d %d", &low, &high) != 2)
            low = 0;
        fclose(fp);
    }
    return low;
}

static bool port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    int one = 1; /* as libmicrohttpd and Caddy bind: a TIME_WAIT left on the port does not matter */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

int e2e_free_port(void)
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() * 2654435761u ^ (unsigned)e2e_mono_ms();
    int low = ephemeral_low();
    if (low > E2E_PORT_LOW + 1000) {
        for (int tries = 0; tries < 200; tries++) {
            int port = E2E_PORT_LOW + (int)(rand_r(&seed) % (unsigned)(low - E2E_PORT_LOW));
            if (port_bindable(port))
                return port;
        }
    }
    /* No room below the ephemeral range: any free port, race and all. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Inodes of the TCP sockets listening on `port` (any address), from one of
 * /proc/net/tcp{,6}. Returns how many were stored, or -1 when the file cannot
 * be read. */
static int listening_inodes(const char *table, int port, unsigned long *inodes, int max)
{
    FILE *fp = fopen(table, "r");
    if (!fp)
        return -1;
    char line[512];
    int n = 0;
    if (!fgets(line, sizeof line, fp)) { /* the header */
        fclose(fp);
        return -1;
    }
    while (fgets(line, sizeof line, fp) && n < max) {
        char local[64];
        unsigned state;
        unsigned long inode;
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
        if (sscanf(line, " %*s %63s %*s %x %*s %*s %*s %*s %*s %lu", local, &state, &inode) != 3)
            continue;
        const char *colon = strrchr(local, ':');
        if (state == 0x0A && colon && strtol(colon + 1, NULL, 16) == port)
            inodes[n++] = inode;
    }
    fclose(fp);
    return n;
}

/* True when process `pid` holds a socket listening on `port`: then the port
 * is its and not another test program's. Without /proc it is assumed. */
static bool bot_owns_port(pid_t pid, int port)
{
    unsigned long inodes[16];
    int n4 = listening_inodes("/proc/net/tcp", port, inodes, 16);
    int n6 = listening_inodes("/proc/net/tcp6", port, inodes + (n4 > 0 ? n4 : 0), 16 - (n4 > 0 ? n4 : 0));
    if (n4 < 0 && n6 < 0)
        return true;
    int n = (n4 > 0 ? n4 : 0) + (n6 > 0 ? n6 : 0);
    if (n == 0)
        return false;
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return true;
    bool owns = false;
    struct dirent *e;
    while (!owns && (e = readdir(d)) != NULL) {
        char target[64];
        ssize_t len = readlinkat(dirfd(d), e->d_name, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        unsigned long inode;
        if (sscanf(target, "socket:[%lu]", &inode) != 1)
            continue;
        for (int i = 0; i < n && !owns; i++)
            owns = inodes[i] == inode;
    }
    closedir(d);
    return owns;
}

/* ---- world ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
}

struct world *world_new(void **state, const char *const *overrides)
{
    pthread_once(&curl_once, curl_init);
    signal(SIGPIPE, SIG_IGN);
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->state = state;
    if (state)
        *state = w;
    w->events = json_array();
    w->line = fake_line_start(E2E_ACCESS_TOKEN);
    w->llm = fake_llm_start(E2E_LLM_KEY);
    assert_non_null(w->line);
    assert_non_null(w->llm);
    const char *tmp = getenv("TMPDIR");
    snprintf(w->dir, sizeof w->dir, "%s/linebot-e2e-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->db_path, sizeof w->db_path, "%s/linebot.db", w->dir);
    snprintf(w->log_path, sizeof w->log_path, "%s/bot.log", w->dir);
    for (const char *const *o = overrides; o && *o; o++) {
        w->overrides = e2e_xrealloc(w->overrides, (w->n_overrides + 1) * sizeof *w->overrides);
        w->overrides[w->n_overrides++] = e2e_strdup(*o);
    }
    return w;
}

struct world *world_start(void **state, const char *const *overrides)
{
    struct world *w = world_new(state, overrides);
    bot_start(w, NULL);
    return w;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = e2e_printf("%s/%s", dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

void world_add_fake(struct world *w, void (*dump)(void *), void (*stop)(void *), void *arg)
{
    w->fakes = e2e_xrealloc(w->fakes, (w->n_fakes + 1) * sizeof *w->fakes);
    w->fakes[w->n_fakes++] = (struct world_fake){.dump = dump, .stop = stop, .arg = arg};
}

static void world_free(struct world *w)
{
    for (size_t i = w->n_fakes; i-- > 0;)
        if (w->fakes[i].stop)
            w->fakes[i].stop(w->fakes[i].arg);
    free(w->fakes);
    fake_line_stop(w->line);
    fake_llm_stop(w->llm);
    for (size_t i = 0; i < w->n_overrides; i++)
        free(w->overrides[i]);
    free(w->overrides);
    json_decref(w->events);
    if (w->state)
        *w->state = NULL;
    free(w);
}

void e2e_apply_filter(void)
{
    const char *f = getenv("E2E_FILTER");
    if (f && *f)
        cmocka_set_test_filter(f);
}

void world_finish(struct world *w)
{
    if (w->pid > 0)
        bot_stop(w);
    char *log = e2e_read_file(w->log_path);
    if (log && (strstr(log, "AddressSanitizer") || strstr(log, "LeakSanitizer") ||
                strstr(log, "runtime error:"))) {
        free(log);
        bot_print_log(w, 200);
        fail_msg("the bot's log has a sanitizer report (see above)");
    }
    free(log);
    if (getenv("E2E_KEEP"))
        fprintf(stderr, "==== E2E_KEEP: kept %s\n", w->dir);
    else
        remove_dir(w->dir);
    world_free(w);
}

int world_teardown(void **state)
{
    struct world *w = *state;
    if (!w)
        return 0;
    fprintf(stderr, "==== test did not finish cleanly; bot log: %s\n", w->log_path);
    bot_print_log(w, 150);
    fake_line_dump(w->line);
    fake_llm_dump(w->llm);
    for (size_t i = 0; i < w->n_fakes; i++)
        if (w->fakes[i].dump)
            w->fakes[i].dump(w->fakes[i].arg);
    if (w->pid > 0) {
        kill(w->pid, SIGKILL);
        waitpid(w->pid, NULL, 0);
        w->pid = 0;
    }
    fprintf(stderr, "==== kept %s\n", w->dir);
    world_free(w);
    return 0;
}

char *bot_log(struct world *w)
{
    char *log = e2e_read_file(w->log_path);
    return log ? log : e2e_strdup("");
}

void bot_print_log(struct world *w, int max_lines)
{
    char *log = e2e_read_file(w->log_path);
    if (!log) {
        fprintf(stderr, "(no bot log at %s)\n", w->log_path);
        return;
    }
    size_t len = strlen(log);
    const char *start = log + len;
    int lines = 0;
    while (start > log && lines <= max_lines) {
        start--;
        if (*start == '\n')
            lines++;
    }
    if (start != log)
        start++;
    fprintf(stderr, "---- bot log (last %d lines) ----\n%s\n---- end of bot log ----\n", max_lines,
            start);
    free(log);
}

/* ---- the child ---- */

static void build_env(struct world *w, const char *const *extra, struct env *e)
{
    char port[16];
    snprintf(port, sizeof port, "%d", w->port);
    env_set(e, "PORT", port);
    env_set(e, "HOST", "127.0.0.1");
    if (w->port_var)
        env_set(e, w->port_var, port);
    env_set(e, "LINE_CHANNEL_SECRET", E2E_CHANNEL_SECRET);
    env_set(e, "LINE_CHANNEL_ACCESS_TOKEN", E2E_ACCESS_TOKEN);
    env_set(e, "LINE_API_BASE_URL", fake_line_url(w->line));
    env_set(e, "LINE_DATA_API_BASE_URL", fake_line_url(w->line));
    env_set(e, "LLM_PROVIDER", "openai");
    env_set(e, "LLM_BASE_URL", fake_llm_base_url(w->llm));
    env_set(e, "LLM_API_KEY", E2E_LLM_KEY);
    env_set(e, "LLM_MODEL", E2E_MODEL);
    env_set(e, "LINEBOT_DB", w->db_path);
    env_set(e, "LOG_LEVEL", "debug");
    env_set(e, "LINEBOT_WORKERS", "2");
    /* Memory's notice and background extractions (test_memory.c turns them
     * on) would add messages and model calls to every other test's script. */
    env_set(e, "LINEBOT_MEMORY", "explicit");
    env_set(e, "LINEBOT_SUMMARY", "0"); /* the same for the folds of long chats */
    static const char *const pass[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL};
    for (const char *const *p = pass; *p; p++)
        if (getenv(*p))
            env_set(e, *p, getenv(*p));
    for (size_t i = 0; i < w->n_overrides; i++)
        env_apply(e, w->overrides[i]);
    for (const char *const *x = extra; x && *x; x++)
        env_apply(e, *x);
}

static void log_line(struct world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(struct world *w, const char *fmt, ...)
{
    FILE *fp = fopen(w->log_path, "a");
    if (!fp)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(fp, fmt, ap);
    va_end(ap);
    fputc('\n', fp);
    fclose(fp);
}

bool bot_running(struct world *w)
{
    if (w->pid <= 0)
        return false;
    int status;
    pid_t r = waitpid(w->pid, &status, WNOHANG);
    if (r == w->pid) {
        log_line(w, "==== e2e: bot pid %d exited, wait status 0x%x", (int)w->pid, status);
        w->pid = 0;
        return false;
    }
    return true;
}

/* The binary under test: LINEBOT_BIN, or E2E_LINEBOT_BIN from the environment
 * (to run the suite against another build). */
static const char *bot_binary(void)
{
    const char *b = getenv("E2E_LINEBOT_BIN");
    return b && *b ? b : LINEBOT_BIN;
}

/* fork() for a child that will exec the bot: in the child (0 returned), it
 * dies with the test (PR_SET_PDEATHSIG), writes to out_fd and err_fd, reads
 * /dev/null, and holds no other descriptor of the test. */
static pid_t fork_child(int out_fd, int err_fd)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
        dup2(devnull, STDIN_FILENO);
    for (int k = 3; k < 1024; k++)
        close(k);
    signal(SIGPIPE, SIG_DFL);
    return 0;
}

static void spawn(struct world *w, const char *const *extra, bool bootstrap)
{
    assert_int_equal(w->pid, 0);
    w->port = e2e_free_port();
    assert_true(w->port > 0);
    snprintf(w->base_url, sizeof w->base_url, "http://127.0.0.1:%d", w->port);
    struct env e = {0};
    build_env(w, extra, &e);
    w->starts++;
    log_line(w, "==== e2e: start #%d of %s %s on port %d", w->starts, bot_binary(),
             bootstrap ? "(as bootstrap, no arguments)" : "serve", w->port);
    for (size_t i = 0; i < e.n; i++) {
        size_t k = key_len(e.vars[i]);
        bool secret = strstr(e.vars[i], "SECRET") || strstr(e.vars[i], "TOKEN") ||
                      (strstr(e.vars[i], "KEY") && (size_t)(strstr(e.vars[i], "KEY") - e.vars[i]) < k);
        log_line(w, "==== e2e:   %.*s=%s", (int)k, e.vars[i], secret ? "(hidden)" : e.vars[i] + k + 1);
    }

    int fd = open(w->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    pid_t pid = fork_child(fd, fd);
    if (pid == 0) {
        const char *bin = bot_binary();
        char *argv[] = {(char *)bin, (char *)"serve", NULL};
        char *argv_bootstrap[] = {(char *)"bootstrap", NULL};
        execve(bin, bootstrap ? argv_bootstrap : argv, e.vars);
        dprintf(STDERR_FILENO, "e2e: execve %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(fd);
    env_free(&e);
    w->pid = pid;
}

int bot_run(struct world *w, const char *const *args, const char *const *extra, char **out, char **err)
{
    if (w->port <= 0) {
        w->port = e2e_free_port();
        snprintf(w->base_url, sizeof w->base_url, "http://127.0.0.1:%d", w->port);
    }
    struct env e = {0};
    build_env(w, extra, &e);
    w->starts++;
    char *out_path = e2e_printf("%s/run%d.out", w->dir, w->starts);
    char *err_path = e2e_printf("%s/run%d.err", w->dir, w->starts);
    struct e2e_buf cmd = {0};
    for (const char *const *a = args; a && *a; a++)
        e2e_buf_addf(&cmd, " %s", *a);
    char *cmdline = e2e_buf_take(&cmd);
    log_line(w, "==== e2e: run #%d: linebot%s", w->starts, cmdline);

    int out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(out_fd >= 0 && err_fd >= 0);
    size_t n_args = 0;
    while (args && args[n_args])
        n_args++;
    char **argv = e2e_xmalloc((n_args + 2) * sizeof *argv);
    argv[0] = (char *)bot_binary();
    for (size_t i = 0; i < n_args; i++)
        argv[i + 1] = (char *)args[i];
    argv[n_args + 1] = NULL;
    pid_t pid = fork_child(out_fd, err_fd);
    if (pid == 0) {
        execve(argv[0], argv, e.vars);
        dprintf(STDERR_FILENO, "e2e: execve %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(out_fd);
    close(err_fd);
    free(argv);
    env_free(&e);

    int status = 0;
    int64_t deadline = e2e_mono_ms() + e2e_ms(30000);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (e2e_mono_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("linebot%s did not exit within 30 s", cmdline);
        }
        e2e_sleep_ms(10);
    }
    char *o = e2e_read_file(out_path);
    char *er = e2e_read_file(err_path);
    if (!o)
        o = e2e_strdup("");
    if (!er)
        er = e2e_strdup("");
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    log_line(w, "==== e2e: run #%d exited %d\n---- stdout:\n%s---- stderr:\n%s----", w->starts, code, o, er);
    if (strstr(er, "AddressSanitizer") || strstr(er, "LeakSanitizer") || strstr(er, "runtime error:"))
        fail_msg("linebot%s: sanitizer report:\n%s", cmdline, er);
    if (out)
        *out = o;
    else
        free(o);
    if (err)
        *err = er;
    else
        free(er);
    free(cmdline);
    free(out_path);
    free(err_path);
    return code;
}

void bot_spawn(struct world *w, const char *const *extra)
{
    spawn(w, extra, false);
}

void bot_spawn_bootstrap(struct world *w, const char *const *extra)
{
    spawn(w, extra, true);
}

/* True when the bot's latest start failed because its port was taken: the
 * port e2e_free_port() found was bound by another test program in between
 * (the programs run in parallel). */
static bool lost_port_race(struct world *w)
{
    char *log = bot_log(w);
    const char *start = log, *p;
    while ((p = strstr(start, "==== e2e: start #")) != NULL)
        start = p + 1;
    bool lost = strstr(start, "cannot listen on") && strstr(start, "(in use");
    free(log);
    return lost;
}

void bot_start(struct world *w, const char *const *extra)
{
    bot_spawn(w, extra);
    char url[128];
    snprintf(url, sizeof url, "%s/healthz", w->base_url);
    int64_t deadline = e2e_mono_ms() + e2e_ms(15000);
    int port_retries = 3;
    for (;;) {
        if (!bot_running(w)) {
            if (port_retries-- > 0 && lost_port_race(w)) {
                log_line(w, "==== e2e: port %d was taken meanwhile: starting again on another", w->port);
                bot_spawn(w, extra);
                snprintf(url, sizeof url, "%s/healthz", w->base_url);
                continue;
            }
            bot_print_log(w, 80);
            fail_msg("the bot exited during start-up (see its log above)");
        }
        /* Until the bot listens, whoever else holds its port would answer. */
        long status = -1;
        if (bot_owns_port(w->pid, w->port))
            status = http_request("GET", url, NULL, 0, NULL, NULL, NULL);
        if (status == 200) {
            log_line(w, "==== e2e: healthy after %lld ms",
                     (long long)(e2e_mono_ms() - (deadline - e2e_ms(15000))));
            return;
        }
        if (e2e_mono_ms() > deadline) {
            bot_print_log(w, 80);
            if (status == -1)
                fail_msg("the bot (pid %d) did not listen on port %d within 15 s", (int)w->pid, w->port);
            fail_msg("GET /healthz did not answer 200 within 15 s (last status %ld)", status);
        }
        e2e_sleep_ms(50);
    }
}

void bot_assert_start_refused(struct world *w, const char *const *extra, const char *const *needles)
{
    char *before = bot_log(w);
    size_t seen = strlen(before);
    free(before);
    bot_spawn(w, extra);
    int st = bot_wait_exit(w, 10000);
    if (st == -1)
        fail_msg("the bot did not refuse to start: still running after 10 s");
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    char *log = bot_log(w);
    const char *now = strlen(log) >= seen ? log + seen : log;
    for (size_t i = 0; needles && needles[i]; i++)
        assert_contains(now, needles[i]);
    free(log);
}

int bot_wait_exit(struct world *w, int timeout_ms)
{
    if (w->pid <= 0)
        return -1;
    int64_t deadline = e2e_mono_ms() + timeout_ms;
    for (;;) {
        int status;
        pid_t r = waitpid(w->pid, &status, WNOHANG);
        if (r == w->pid) {
            log_line(w, "==== e2e: bot pid %d exited, wait status 0x%x", (int)w->pid, status);
            w->pid = 0;
            return status;
        }
        if (e2e_mono_ms() > deadline)
            return -1;
        e2e_sleep_ms(10);
    }
}

int bot_term(struct world *w, int timeout_ms)
{
    assert_true(w->pid > 0);
    log_line(w, "==== e2e: SIGTERM");
    int64_t t0 = e2e_mono_ms();
    kill(w->pid, SIGTERM);
    int status = bot_wait_exit(w, timeout_ms);
    log_line(w, "==== e2e: SIGTERM took %lld ms", (long long)(e2e_mono_ms() - t0));
    return status;
}

void bot_stop(struct world *w)
{
    int status = bot_term(w, e2e_ms(20000));
    if (status == -1) {
        bot_kill9(w);
        bot_print_log(w, 80);
        fail_msg("the bot did not exit within 20 s of SIGTERM");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        bot_print_log(w, 80);
        if (WIFSIGNALED(status))
            fail_msg("after SIGTERM the bot died of signal %d (want exit code 0)", WTERMSIG(status));
        fail_msg("after SIGTERM the bot exited with code %d (want 0)", WEXITSTATUS(status));
    }
}

void bot_restart(struct world *w, const char *const *extra)
{
    if (w->pid > 0)
        bot_stop(w);
    bot_start(w, extra);
}

void bot_kill9(struct world *w)
{
    if (w->pid <= 0)
        return;
    log_line(w, "==== e2e: SIGKILL");
    kill(w->pid, SIGKILL);
    waitpid(w->pid, NULL, 0);
    w->pid = 0;
}

/* ---- HTTP ---- */

char *line_signature(const char *secret, const void *body, size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, mac, &mac_len);
    char *out = e2e_xmalloc(4 * ((mac_len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len);
    return out;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *userdata)
{
    e2e_buf_add(userdata, data, size * nmemb);
    return size * nmemb;
}

void http_do(const char *method, const char *url, const void *body, size_t len,
             const char *const *headers, struct http_result *out)
{
    pthread_once(&curl_once, curl_init);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct e2e_buf b = {0}, hb = {0};
    struct curl_slist *h = NULL;
    for (const char *const *p = headers; p && *p; p++)
        h = curl_slist_append(h, *p);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)e2e_ms(30000));
    int64_t t0 = e2e_mono_ms();
    CURLcode rc = curl_easy_perform(c);
    out->elapsed_ms = e2e_mono_ms() - t0;
    out->status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    out->body = e2e_buf_take(&b);
    out->headers = e2e_buf_take(&hb);
}

void http_result_free(struct http_result *r)
{
    free(r->body);
    free(r->headers);
    r->body = r->headers = NULL;
}

long http_request(const char *method, const char *url, const void *body, size_t len,
                  const char *const *headers, char **resp_body, int64_t *elapsed_ms)
{
    struct http_result r;
    http_do(method, url, body, len, headers, &r);
    if (elapsed_ms)
        *elapsed_ms = r.elapsed_ms;
    if (resp_body) {
        *resp_body = r.body;
        r.body = NULL;
    }
    http_result_free(&r);
    return r.status;
}

long bot_post_webhook_timed(struct world *w, const char *json, int64_t *elapsed_ms)
{
    char *sig = line_signature(E2E_CHANNEL_SECRET, json, strlen(json));
    char *sig_header = e2e_printf("X-Line-Signature: %s", sig);
    const char *headers[] = {"Content-Type: application/json; charset=utf-8", sig_header, NULL};
    char url[128];
    snprintf(url, sizeof url, "%s/callback", w->base_url);
    long status = http_request("POST", url, json, strlen(json), headers, NULL, elapsed_ms);
    free(sig);
    free(sig_header);
    return status;
}

long bot_post_webhook(struct world *w, const char *json)
{
    return bot_post_webhook_timed(w, json, NULL);
}

long bot_post_raw(struct world *w, const char *path, const void *body, size_t len,
                  const char *const *headers, char **resp_body)
{
    const char *all[16];
    size_t n = 0;
    all[n++] = "Content-Type: application/json";
    for (const char *const *p = headers; p && *p && n < 15; p++)
        all[n++] = *p;
    all[n] = NULL;
    char url[256];
    snprintf(url, sizeof url, "%s%s", w->base_url, path);
    return http_request("POST", url, body, len, all, resp_body, NULL);
}

long bot_request(struct world *w, const char *method, const char *path, char **resp_body)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", w->base_url, path);
    return http_request(method, url, NULL, 0, NULL, resp_body, NULL);
}

long bot_get(struct world *w, const char *path, char **resp_body)
{
    return bot_request(w, "GET", path, resp_body);
}

double metrics_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, series, n) == 0 && (line[n] == ' ' || line[n] == '\t'))
            return strtod(line + n + 1, NULL);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return -1;
}

double bot_metric(struct world *w, const char *series)
{
    char *text = NULL;
    long status = bot_get(w, "/metrics", &text);
    double v = status == 200 ? metrics_value(text, series) : -1;
    free(text);
    return v;
}

/* ---- builders ---- */

struct mention_spec mention_of(const char *text, const char *needle, bool is_self)
{
    const char *p = strstr(text, needle);
    assert_non_null(p);
    struct mention_spec m = {
        .index = e2e_utf16_len(text, (size_t)(p - text)),
        .length = e2e_utf16_len(needle, strlen(needle)),
        .is_self = is_self,
    };
    return m;
}

static json_t *own(struct world *w, json_t *ev)
{
    json_array_append_new(w->events, ev);
    return ev;
}

static const char *chat_of(const struct ev *o)
{
    return o->group ? o->group : o->room ? o->room : o->user ? o->user : E2E_USER;
}

static json_t *base_event(struct world *w, const char *type, const struct ev *o, bool reply_token)
{
    unsigned long n = ++w->seq;
    const char *user = o->user ? o->user : E2E_USER;
    json_t *src;
    if (o->group)
        src = json_pack("{s:s,s:s}", "type", "group", "groupId", o->group);
    else if (o->room)
        src = json_pack("{s:s,s:s}", "type", "room", "roomId", o->room);
    else
        src = json_pack("{s:s}", "type", "user");
    if (!o->no_user_id || !(o->group || o->room))
        json_object_set_new(src, "userId", json_string(user));

    char event_id[40];
    snprintf(event_id, sizeof event_id, "01E2E%08lX%013llX", n,
             (unsigned long long)(e2e_now_ms() & 0xFFFFFFFFFFFFFULL));
    json_t *ev = json_pack("{s:s,s:s,s:I,s:o,s:s,s:{s:b}}", "type", type, "mode",
                           o->standby ? "standby" : "active", "timestamp",
                           (json_int_t)(o->timestamp_ms ? o->timestamp_ms : e2e_now_ms()),
                           "source", src, "webhookEventId", o->event_id ? o->event_id : event_id,
                           "deliveryContext", "isRedelivery", o->redelivery);
    if (reply_token && !o->no_reply_token && !o->standby) {
        char token[64];
        snprintf(token, sizeof token, "rt%lu%08x", n, (unsigned)(e2e_mono_ms() & 0xffffffff));
        const char *t = o->reply_token ? o->reply_token : token;
        json_object_set_new(ev, "replyToken", json_string(t));
        if (!o->token_not_issued)
            fake_line_issue_token_for(w->line, t, chat_of(o),
                                      o->token_ttl_ms ? o->token_ttl_ms : 120000);
    }
    return ev;
}

static char *unique_message_id(struct world *w)
{
    return e2e_printf("7%05lu%012llu", ++w->seq % 100000,
                      (unsigned long long)(e2e_now_ms() % 1000000000000ULL));
}

json_t *ev_message(struct world *w, const struct ev *o)
{
    json_t *ev = base_event(w, "message", o, true);
    const char *type = o->message_type ? o->message_type : "text";
    char *mid = unique_message_id(w);
    char *quote = e2e_printf("qt%s", mid);
    json_t *m = json_pack("{s:s,s:s,s:s}", "id", o->message_id ? o->message_id : mid, "type", type,
                          "quoteToken", quote);
    fake_line_add_quote_token(w->line, quote);
    if (strcmp(type, "text") == 0) {
        json_object_set_new(m, "text", json_string(o->text ? o->text : "hello"));
    } else if (strcmp(type, "sticker") == 0) {
        json_object_set_new(m, "packageId", json_string("446"));
        json_object_set_new(m, "stickerId", json_string("1988"));
        json_object_set_new(m, "stickerResourceType", json_string("STATIC"));
        json_object_set_new(m, "keywords", json_pack("[s,s]", "happy", "smile"));
    } else if (strcmp(type, "image") == 0 || strcmp(type, "video") == 0 ||
               strcmp(type, "audio") == 0) {
        json_object_set_new(m, "contentProvider", json_pack("{s:s}", "type", "line"));
        if (strcmp(type, "image") != 0)
            json_object_set_new(m, "duration", json_integer(6000));
    }
    if (o->quoted_message_id)
        json_object_set_new(m, "quotedMessageId", json_string(o->quoted_message_id));
    if (o->n_mentions) {
        json_t *list = json_array();
        for (size_t i = 0; i < o->n_mentions; i++) {
            const struct mention_spec *s = &o->mentions[i];
            json_t *me = json_pack("{s:I,s:I,s:s}", "index", (json_int_t)s->index, "length",
                                   (json_int_t)s->length, "type", s->all ? "all" : "user");
            if (!s->all) {
                json_object_set_new(me, "userId", json_string(s->user_id ? s->user_id
                                                              : "Ue2eother0000000000000000000000000"));
                json_object_set_new(me, "isSelf", json_boolean(s->is_self));
            }
            json_array_append_new(list, me);
        }
        json_object_set_new(m, "mention", json_pack("{s:o}", "mentionees", list));
    }
    json_object_set_new(ev, "message", m);
    free(mid);
    free(quote);
    return own(w, ev);
}

json_t *ev_follow(struct world *w, const struct ev *o)
{
    json_t *ev = base_event(w, "follow", o, true);
    json_object_set_new(ev, "follow", json_pack("{s:b}", "isUnblocked", 0));
    return own(w, ev);
}

json_t *ev_postback(struct world *w, const struct ev *o, const char *data)
{
    json_t *ev = base_event(w, "postback", o, true);
    json_object_set_new(ev, "postback", json_pack("{s:s}", "data", data));
    return own(w, ev);
}

json_t *ev_unfollow(struct world *w, const struct ev *o)
{
    return own(w, base_event(w, "unfollow", o, false));
}

json_t *ev_join(struct world *w, const struct ev *o)
{
    json_t *ev = base_event(w, "join", o, true);
    json_t *src = json_object_get(ev, "source");
    json_object_del(src, "userId"); /* LINE's join event names only the group/room */
    return own(w, ev);
}

json_t *ev_leave(struct world *w, const struct ev *o)
{
    json_t *ev = base_event(w, "leave", o, false);
    json_object_del(json_object_get(ev, "source"), "userId");
    return own(w, ev);
}

json_t *ev_unsend(struct world *w, const struct ev *o)
{
    assert_non_null(o->message_id);
    json_t *ev = base_event(w, "unsend", o, false);
    json_object_set_new(ev, "unsend", json_pack("{s:s}", "messageId", o->message_id));
    return own(w, ev);
}

json_t *ev_edited(struct world *w, const struct ev *o)
{
    assert_non_null(o->message_id);
    assert_non_null(o->text);
    json_t *ev = base_event(w, "messageEdited", o, true);
    char *quote = e2e_printf("qtE%s%lu", o->message_id, w->seq);
    fake_line_add_quote_token(w->line, quote);
    json_object_set_new(ev, "message", json_pack("{s:s,s:s,s:s,s:s}", "type", "text", "id",
                                                 o->message_id, "quoteToken", quote, "text",
                                                 o->text));
    free(quote);
    return own(w, ev);
}

const char *ev_get(json_t *ev, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = ev;
    char *save = NULL;
    for (char *part = strtok_r(buf, ".", &save); part; part = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, part);
    return json_string_value(cur);
}

const char *ev_chat(json_t *ev)
{
    json_t *src = json_object_get(ev, "source");
    const char *id = json_string_value(json_object_get(src, "groupId"));
    if (!id)
        id = json_string_value(json_object_get(src, "roomId"));
    if (!id)
        id = json_string_value(json_object_get(src, "userId"));
    return id;
}

json_t *ev_redelivered(struct world *w, json_t *ev)
{
    json_t *copy = json_deep_copy(ev);
    json_object_set_new(copy, "deliveryContext", json_pack("{s:b}", "isRedelivery", 1));
    return own(w, copy);
}

static char *body_of(json_t *first, va_list ap)
{
    json_t *events = json_array();
    for (json_t *e = first; e; e = va_arg(ap, json_t *))
        json_array_append(events, e);
    json_t *o = json_pack("{s:s,s:o}", "destination", E2E_DESTINATION, "events", events);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

char *webhook_body(json_t *first, ...)
{
    va_list ap;
    va_start(ap, first);
    char *s = body_of(first, ap);
    va_end(ap);
    return s;
}

long bot_send(struct world *w, json_t *first, ...)
{
    va_list ap;
    va_start(ap, first);
    char *s = body_of(first, ap);
    va_end(ap);
    long status = bot_post_webhook(w, s);
    free(s);
    return status;
}

json_t *send_text(struct world *w, const char *user, const char *text)
{
    json_t *ev = ev_message(w, &(struct ev){.user = user, .text = text});
    long status = bot_send(w, ev, NULL);
    if (status != 200)
        fail_msg("POST /callback answered %ld, want 200", status);
    return ev;
}

/* ---- what LINE received ---- */

json_t *world_last_quick_reply(struct world *w, json_t **body)
{
    *body = NULL;
    for (size_t i = fake_line_request_total(w->line); i-- > 0 && !*body;) {
        struct fake_line_request r;
        assert_true(fake_line_request_at(w->line, i, &r));
        if (strcmp(r.path, FAKE_LINE_REPLY_PATH) == 0 && r.status == 200)
            *body = json_loads(r.body, 0, NULL);
    }
    if (!*body)
        fail_msg("no reply was accepted");
    json_t *msgs = json_object_get(*body, "messages");
    json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
    json_t *items = json_object_get(json_object_get(last, "quickReply"), "items");
    if (!json_is_array(items))
        fail_msg("the reply has no quick reply: %s", json_dumps(*body, JSON_COMPACT));
    return items;
}

char *quick_reply_data(json_t *items, const char *label)
{
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
        json_t *action = json_object_get(item, "action");
        const char *l = json_string_value(json_object_get(action, "label"));
        if (l && strcmp(l, label) == 0) {
            assert_string_equal(json_string_value(json_object_get(action, "type")), "postback");
            assert_non_null(json_string_value(json_object_get(action, "displayText")));
            return e2e_strdup(json_string_value(json_object_get(action, "data")));
        }
    }
    fail_msg("no button labelled %s", label);
    return NULL;
}

/* ---- waiting ---- */

size_t world_answers_grace(struct world *w, const char *chat_id, size_t n, int grace_ms)
{
    fake_line_wait_deliveries(w->line, chat_id, n, e2e_ms(E2E_WAIT_MS));
    e2e_sleep_ms(e2e_ms(grace_ms));
    return fake_line_delivery_count(w->line, chat_id);
}

size_t world_answers(struct world *w, const char *chat_id, size_t n)
{
    return world_answers_grace(w, chat_id, n, E2E_GRACE_MS);
}

json_t *send_event(struct world *w, json_t *ev)
{
    long status = bot_send(w, ev, NULL);
    if (status != 200)
        fail_msg("POST /callback answered %ld, want 200", status);
    return ev;
}

void world_quiet(struct world *w)
{
    (void)w;
    e2e_sleep_ms(e2e_ms(E2E_QUIET_MS));
}

char *world_texts(struct world *w, const char *chat_id)
{
    return fake_line_texts(w->line, chat_id, "\n---\n");
}

long long world_sqlite_count(struct world *w, const char *sql, const char *arg)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    long long n = -1;
    if (sqlite3_open_v2(w->db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
        (!arg || sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC) == SQLITE_OK) && sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    if (n < 0)
        fail_msg("could not run \"%s\" on %s", sql, w->db_path);
    return n;
}
