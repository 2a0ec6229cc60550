/* kb_pdf.c - the text of a PDF through a pdftotext child process (see
 * kb_pdf.h).
 *
 * The child is started with posix_spawnp: no shell, so nothing in a name or
 * an argument is ever interpreted, and an empty environment. Its stdin is
 * one end of a socket pair rather than a pipe, so that writing to a child
 * that died early fails with EPIPE (send's MSG_NOSIGNAL) instead of raising
 * SIGPIPE in the bot. Writing the PDF and reading the text are interleaved
 * with poll(): a child that writes before it has read everything must not
 * block on a full pipe while we block writing to it. Every wait is bounded by
 * one deadline; past it, or past the output cap, the child is killed, and it
 * is always reaped. The pipes are close-on-exec from the start, so a child
 * that another thread spawns meanwhile does not hold them open; this child
 * gets them as its stdin and stdout, and /dev/null as its stderr.
 *
 * pdftotext's exit status tells what went wrong (its manual page): 1 the
 * PDF could not be opened (damaged, or encrypted with a password), 3 copying
 * its text is not permitted. */
#define _GNU_SOURCE /* pipe2: close-on-exec from the start, for threads that spawn at once */
#include "io/kb_pdf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/sniff.h"
#include "core/utf8.h"
#include "io/clock.h"

#define CHUNK 65536

static const char why_not_pdf[] = "is not a PDF (it does not start with %PDF-)";
static const char why_missing[] = "is a PDF, which needs pdftotext (Debian: apt-get install poppler-utils)";
static const char why_start[] = "is a PDF, but pdftotext could not be started";
static const char why_damaged[] = "cannot be read as a PDF (it is damaged, or locked with a password)";
static const char why_protected[] = "is a PDF whose author does not allow copying its text";
static const char why_failed[] = "is a PDF that pdftotext failed to read";
static const char why_slow[] = "is a PDF that pdftotext did not finish reading in time (it was stopped)";
static const char why_large[] = "is a PDF with more text than can be taken (32 MiB)";
static const char why_empty[] = "is a PDF without text (scanned pages need OCR first)";

char *kb_pdf_text(const char *data, size_t len, size_t *out_len, const char **why)
{
    const struct kb_pdf_limits limits = {KB_PDF_PROGRAM, KB_PDF_TIMEOUT_MS, KB_PDF_TEXT_MAX};
    return kb_pdf_text_with(&limits, data, len, out_len, why);
}

/* Starts the child with `stdin_fd` and `stdout_fd` as its stdin and stdout.
 * Returns 0, or posix_spawn's error number. */
static int spawn(const char *program, int stdin_fd, int stdout_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dflt;
    char *const argv[] = {(char *)program, "-q", "-enc", "UTF-8", "-", "-", NULL};
    char *const envp[] = {NULL}; /* the bot's environment holds its keys */

    if (posix_spawn_file_actions_init(&fa) != 0 || posix_spawnattr_init(&attr) != 0)
        alloc_fail("posix_spawn_file_actions_init", 0);
    posix_spawn_file_actions_adddup2(&fa, stdin_fd, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, stdout_fd, STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    /* The bot ignores SIGPIPE and its threads may block signals: the child
     * starts with the defaults, as it would from a shell. */
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawnp(pid, program, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Waits for the child until `deadline` (monotonic ms), then kills it; it is
 * reaped either way. Returns its wait status, and whether it was killed. */
static int reap(pid_t pid, int64_t deadline, bool *killed)
{
    int status = 0;
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid || (got < 0 && errno != EINTR))
            return status;
        if (got == 0 && clock_monotonic_ms() >= deadline)
            break;
        if (got == 0)
            clock_sleep_ms(5);
    }
    kill(pid, SIGKILL);
    *killed = true;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

/* true when s[0, len) has something besides white space and form feeds. */
static bool has_text(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v')
            return true;
    return false;
}

bool kb_pdf_missing(const char *why)
{
    return why == why_missing;
}

char *kb_pdf_text_with(const struct kb_pdf_limits *limits, const char *data, size_t len, size_t *out_len,
                       const char **why)
{
    *out_len = 0;
    *why = NULL;
    if (sniff_kind(data, len) != SNIFF_PDF) {
        *why = why_not_pdf;
        return NULL;
    }

    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        close_fd(&in[0]);
        close_fd(&in[1]);
        *why = why_start;
        return NULL;
    }
    pid_t pid = 0;
    int rc = spawn(limits->program, in[0], out[1], &pid);
    close_fd(&in[0]);
    close_fd(&out[1]);
    if (rc != 0) {
        close_fd(&in[1]);
        close_fd(&out[0]);
        *why = rc == ENOENT ? why_missing : why_start;
        return NULL;
    }
    fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);

    int64_t deadline = clock_monotonic_ms() + limits->timeout_ms;
    struct buf text;
    buf_init(&text, limits->text_max);
    size_t sent = 0;
    bool slow = false, large = false, killed = false;
    char *chunk = xmalloc(CHUNK);
    while (out[0] >= 0) {
        int64_t left = deadline - clock_monotonic_ms();
        if (left <= 0) {
            slow = true;
            break;
        }
        struct pollfd p[2] = {{.fd = out[0], .events = POLLIN}, {.fd = in[1], .events = POLLOUT}};
        int n = poll(p, in[1] >= 0 ? 2 : 1, left > 1000 ? 1000 : (int)left);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        if (in[1] >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            size_t want = len - sent < CHUNK ? len - sent : CHUNK;
            ssize_t w = send(in[1], data + sent, want, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
                sent += (size_t)w;
            /* Done, or the child stopped reading (it tells why by its exit). */
            if (sent == len || (w < 0 && errno != EAGAIN && errno != EINTR))
                close_fd(&in[1]);
        }
        if (p[0].revents & (POLLIN | POLLERR | POLLHUP)) {
            ssize_t r = read(out[0], chunk, CHUNK);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                close_fd(&out[0]);
            } else if (r > 0 && buf_add(&text, chunk, (size_t)r) != 0) {
                large = true;
                break;
            }
        }
    }
    free(chunk);
    close_fd(&in[1]);
    close_fd(&out[0]);
    if (slow || large) {
        kill(pid, SIGKILL);
        deadline = 0; /* reap() kills at once and waits for the exit */
    }
    int status = reap(pid, deadline, &killed);

    size_t n = 0;
    char *result = buf_take(&text, &n);
    buf_free(&text);
    if (large)
        *why = why_large;
    else if (slow || killed)
        *why = why_slow;
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        *why = why_missing; /* a spawn that reports exec errors only this way */
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
        *why = why_damaged;
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
        *why = why_protected;
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        *why = why_failed;
    else if (!has_text(result, n))
        *why = why_empty;
    if (*why) {
        free(result);
        return NULL;
    }
    if (memchr(result, '\0', n) || !utf8_valid(result, n)) {
        char *clean = utf8_sanitize(result, n);
        free(result);
        result = clean;
        n = strlen(result);
    }
    *out_len = n;
    return result;
}
