/* test_deploy_server.c - deploy/server/ as the guide installs it (issue 15, part 3).
 *
 * - linebot.service: `systemd-analyze verify` says nothing at all about it,
 *   with ExecStart pointed at the binary under test (verify checks that it is
 *   executable). Silence is the oracle because verify exits 0 on a misspelt
 *   key or a bad value, only printing it; a copy with a misspelt key shows
 *   that such a line is caught. It keeps the hardening the guide promises,
 *   and `systemd-analyze security --offline` rates it 2.0 or lower.
 * - Caddyfile: Debian's caddy runs the file unchanged, imported under a
 *   global block of the test's: local_certs (`tls internal` for every site),
 *   skip_install_trust, loopback ports, no admin endpoint, its data under the
 *   test's dir. A client that trusts only Caddy's local root
 *   (<data>/caddy/pki/authorities/local/root.crt) posts a signed webhook over
 *   HTTPS to the real bot behind it, and the answer arrives at the fake LINE.
 *   Without that root the client refuses the certificate; a bad signature is
 *   still refused by the bot (body and header pass through unchanged); and
 *   /metrics is not reachable through Caddy.
 * Without caddy or systemd-analyze the program exits 77 (ctest: skipped);
 * scripts/test.sh installs both.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "harness.h"

#define DEPLOY_DIR FIXTURES_DIR "/../../deploy/server"
#define SITE "linebot.test" /* the test's domain, resolved to 127.0.0.1 by the client */

static char *systemd_analyze, *caddy;

/* ---- small helpers ---- */

/* The tool's path from PATH (or /usr/sbin, /usr/bin); NULL when absent. */
static char *find_tool(const char *name)
{
    char *path = e2e_printf("%s:/usr/sbin:/usr/bin", getenv("PATH") ? getenv("PATH") : "");
    char *result = NULL;
    for (char *save = NULL, *dir = strtok_r(path, ":", &save); dir && !result;
         dir = strtok_r(NULL, ":", &save)) {
        char *p = e2e_printf("%s/%s", dir, name);
        if (access(p, X_OK) == 0)
            result = p;
        else
            free(p);
    }
    free(path);
    return result;
}

/* `text` with every `from` replaced by `to` (malloc'd). */
static char *replace_all(const char *text, const char *from, const char *to)
{
    struct e2e_buf b = {0};
    const char *p;
    while ((p = strstr(text, from))) {
        e2e_buf_add(&b, text, (size_t)(p - text));
        e2e_buf_adds(&b, to);
        text = p + strlen(from);
    }
    e2e_buf_adds(&b, text);
    return e2e_buf_take(&b);
}

/* Runs argv (NULL-terminated) to the end; its exit status, and in *out what it
 * wrote to stdout and stderr together (malloc'd). */
static int run_tool(char *const argv[], char **out)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    struct e2e_buf b = {0};
    char chunk[4096];
    ssize_t n;
    while ((n = read(fds[0], chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            e2e_buf_add(&b, chunk, (size_t)n);
    close(fds[0]);
    e2e_buf_adds(&b, "");
    *out = e2e_buf_take(&b);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        assert_int_equal(errno, EINTR);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the systemd unit ---- */

static void test_unit_verifies(void **state)
{
    (void)state;
    const char *bin = getenv("E2E_LINEBOT_BIN") && *getenv("E2E_LINEBOT_BIN") ? getenv("E2E_LINEBOT_BIN")
                                                                              : LINEBOT_BIN;
    char *unit = e2e_read_file(DEPLOY_DIR "/linebot.service");
    assert_non_null(unit);
    const char *promised[] = {
        "\nExecStart=/usr/local/bin/linebot serve\n", "\nEnvironmentFile=/etc/linebot/linebot.env\n",
        "\nDynamicUser=yes\n", "\nStateDirectory=linebot\n", "LINEBOT_DB=/var/lib/linebot/",
        "\nProtectSystem=strict\n", "HOST=127.0.0.1", "\nNoNewPrivileges=yes\n",
        "\nCapabilityBoundingSet=\n",
    };
    for (size_t i = 0; i < sizeof promised / sizeof promised[0]; i++)
        assert_contains(unit, promised[i]);

    char dir[] = "/tmp/linebot-e2e-unit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = e2e_printf("%s/linebot.service", dir);
    char *here = replace_all(unit, "/usr/local/bin/linebot", bin);
    assert_true(e2e_write_file(path, here));

    char *out = NULL;
    int rc = run_tool((char *[]){systemd_analyze, "verify", path, NULL}, &out);
    if (rc != 0 || *out)
        fail_msg("systemd-analyze verify: exit %d, said:\n%s", rc, out);
    free(out);

    rc = run_tool((char *[]){systemd_analyze, "security", "--offline=yes", "--threshold=20", path, NULL}, &out);
    if (rc != 0)
        fail_msg("systemd-analyze security: exposure above 2.0 (exit %d):\n%s", rc, out);
    assert_contains(out, "Overall exposure level for linebot.service");
    free(out);

    /* The oracle can fail: a misspelt key is reported (with exit status 0). */
    char *typo = replace_all(here, "\nDynamicUser=yes\n", "\nDynamcUser=yes\n");
    assert_true(e2e_write_file(path, typo));
    run_tool((char *[]){systemd_analyze, "verify", path, NULL}, &out);
    assert_contains(out, "DynamcUser");
    free(out);

    unlink(path);
    rmdir(dir);
    free(typo);
    free(here);
    free(path);
    free(unit);
}

/* ---- Caddy in front of the bot ---- */

struct caddy {
    pid_t pid;
    char *dir, *log, *root_crt;
    int https_port;
};

static void caddy_dump(void *arg)
{
    struct caddy *c = arg;
    char *log = e2e_read_file(c->log); /* in a failed test's teardown: no assertion */
    fprintf(stderr, "==== caddy log (%s):\n%.6000s\n", c->log, log ? log : "(none)");
    free(log);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

/* The world's stop hook: SIGTERM, then its dir goes, and the world's too when
 * that is empty by then: world_finish removes only files, before this hook
 * runs. A failed test's dump has printed the log before. */
static void caddy_stop(void *arg)
{
    struct caddy *c = arg;
    if (c->pid > 0) {
        kill(c->pid, SIGTERM);
        for (int i = 0; i < 100 && waitpid(c->pid, NULL, WNOHANG) == 0; i++)
            e2e_sleep_ms(50);
        if (kill(c->pid, 0) == 0) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, NULL, 0);
        }
    }
    nftw(c->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    *strrchr(c->dir, '/') = '\0';
    rmdir(c->dir);
    free(c->dir);
    free(c->log);
    free(c->root_crt);
    free(c);
}

/* A request over HTTPS to Caddy, the name SITE pinned to 127.0.0.1, trusting
 * only `ca_file` (NULL: the system's bundle). Returns the status, 0 on a
 * transport error (then *curl_code says which). */
static long https_request(struct caddy *c, const char *ca_file, const char *path, const char *body,
                          const char *signature, char **resp, CURLcode *curl_code)
{
    CURL *h = curl_easy_init();
    assert_non_null(h);
    char *url = e2e_printf("https://" SITE ":%d%s", c->https_port, path);
    char *pin = e2e_printf(SITE ":%d:127.0.0.1", c->https_port);
    char *sig = e2e_printf("X-Line-Signature: %s", signature ? signature : "");
    struct curl_slist *resolve = curl_slist_append(NULL, pin);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (signature)
        headers = curl_slist_append(headers, sig);
    FILE *sink = open_memstream(resp, &(size_t){0});
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)e2e_ms(10000));
    if (ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    long status = 0;
    *curl_code = curl_easy_perform(h);
    if (*curl_code == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    fclose(sink);
    curl_slist_free_all(headers);
    curl_slist_free_all(resolve);
    curl_easy_cleanup(h);
    free(sig);
    free(pin);
    free(url);
    return status;
}

/* Starts caddy on deploy/server/Caddyfile, proxying to the world's bot, and
 * waits until /healthz answers 200 through it over HTTPS. */
static struct caddy *caddy_start(struct world *w)
{
    struct caddy *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->dir = e2e_printf("%s/caddy", w->dir);
    c->log = e2e_printf("%s/caddy.log", c->dir);
    c->root_crt = e2e_printf("%s/data/caddy/pki/authorities/local/root.crt", c->dir);
    c->https_port = e2e_free_port();
    assert_int_equal(mkdir(c->dir, 0700), 0);
    world_add_fake(w, caddy_dump, caddy_stop, c);

    char *caddyfile = e2e_printf("%s/Caddyfile", c->dir);
    char *conf = e2e_printf("{\n\tadmin off\n\tlocal_certs\n\tskip_install_trust\n\tdefault_bind 127.0.0.1\n"
                            "\thttp_port %d\n\thttps_port %d\n}\nimport %s/Caddyfile\n",
                            e2e_free_port(), c->https_port, DEPLOY_DIR);
    assert_true(e2e_write_file(caddyfile, conf));
    char *env[] = {
        e2e_printf("PATH=%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin"),
        e2e_printf("HOME=%s", c->dir),
        e2e_printf("XDG_DATA_HOME=%s/data", c->dir),
        e2e_printf("XDG_CONFIG_HOME=%s/config", c->dir),
        e2e_printf("BOT_DOMAIN=%s", SITE),
        e2e_printf("BOT_UPSTREAM=127.0.0.1:%d", w->port),
        NULL,
    };
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        int fd = open(c->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execve(caddy, (char *[]){caddy, "run", "--adapter", "caddyfile", "--config", caddyfile, NULL}, env);
        dprintf(STDERR_FILENO, "exec %s: %s\n", caddy, strerror(errno));
        _exit(127);
    }
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(conf);
    free(caddyfile);

    int64_t until = e2e_mono_ms() + e2e_ms(E2E_WAIT_MS);
    long status = 0;
    while (e2e_mono_ms() < until) {
        assert_int_equal(waitpid(c->pid, NULL, WNOHANG), 0); /* caddy still runs */
        if (access(c->root_crt, R_OK) == 0) {
            char *resp = NULL;
            CURLcode code;
            status = https_request(c, c->root_crt, "/healthz", NULL, NULL, &resp, &code);
            free(resp);
            if (status == 200)
                return c;
        }
        e2e_sleep_ms(100);
    }
    fail_msg("caddy did not proxy /healthz over HTTPS (last status %ld)", status);
    return NULL;
}

static void test_caddy_proxies_webhook_over_https(void **state)
{
    struct world *w = world_start(state, NULL);
    struct caddy *c = caddy_start(w);
    char *resp = NULL;
    CURLcode code;

    char *body = webhook_body(ev_message(w, &(struct ev){.text = "hello through Caddy"}), NULL);
    char *sig = line_signature(E2E_CHANNEL_SECRET, body, strlen(body));

    /* Caddy's root is in no system store: a client without it refuses. */
    assert_int_equal(https_request(c, NULL, "/callback", body, sig, &resp, &code), 0);
    assert_int_equal(code, CURLE_PEER_FAILED_VERIFICATION);
    free(resp);

    /* A bad signature reaches the bot and is refused there. */
    assert_int_equal(https_request(c, c->root_crt, "/callback", body, "AAAA", &resp, &code), 401);
    free(resp);

    assert_int_equal(https_request(c, c->root_crt, "/callback", body, sig, &resp, &code), 200);
    free(resp);
    assert_answers(w, E2E_USER, 1);
    char *texts = world_texts(w, E2E_USER);
    assert_contains(texts, "hello through Caddy");
    free(texts);

    /* Only /callback and /healthz are proxied. */
    assert_int_equal(https_request(c, c->root_crt, "/metrics", NULL, NULL, &resp, &code), 404);
    assert_not_contains(resp, "linebot_");
    free(resp);
    assert_int_equal(bot_get(w, "/metrics", NULL), 200); /* it is there, on the bot's own port */

    free(sig);
    free(body);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unit_verifies),
        E2E_TEST(test_caddy_proxies_webhook_over_https),
    };

    systemd_analyze = find_tool("systemd-analyze");
    caddy = find_tool("caddy");
    if (!systemd_analyze || !caddy) {
        fprintf(stderr, "[  SKIPPED ] deploy/server: %s%s%s not installed (scripts/test.sh installs them:"
                        " apt-get install systemd caddy)\n",
                systemd_analyze ? "" : "systemd-analyze", !systemd_analyze && !caddy ? " and " : "",
                caddy ? "" : "caddy");
        return 77; /* ctest's SKIP_RETURN_CODE */
    }
    int failed = E2E_RUN(tests);
    free(systemd_analyze);
    free(caddy);
    return failed ? 1 : 0;
}
