/* benchutil.c - see benchutil.h. */
#include "benchutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t bench_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void bench_sleep_us(long us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int64_t bench_proc_cpu_ns(pid_t pid)
{
    int64_t u, s;
    return bench_proc_cpu_split_ns(pid, &u, &s) == 0 ? u + s : -1;
}

int bench_proc_cpu_split_ns(pid_t pid, int64_t *user_ns, int64_t *sys_ns)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces: start after its ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    unsigned long long utime = 0, stime = 0;
    /* fields 3..15; utime is 14, stime 15 */
    int field = 2;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 14)
            utime = strtoull(tok, NULL, 10);
        else if (field == 15) {
            stime = strtoull(tok, NULL, 10);
            break;
        }
    }
    if (field < 15)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    *user_ns = (int64_t)(utime * (1000000000ULL / (unsigned long long)hz));
    *sys_ns = (int64_t)(stime * (1000000000ULL / (unsigned long long)hz));
    return 0;
}

long bench_proc_status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t fl = strlen(field);
    long kb = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            kb = strtol(line + fl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

int64_t bench_machine_busy_ns(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    /* user nice system idle iowait irq softirq steal: idle and iowait are not busy */
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return (int64_t)(busy * (1000000000ULL / (unsigned long long)hz));
}

int64_t bench_self_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

/* Waits until fd is ready for `events` or the deadline passes. */
static int wait_fd(int fd, short events, int64_t deadline_ns)
{
    for (;;) {
        int64_t left_ms = (deadline_ns - bench_now_ns()) / 1000000;
        if (left_ms <= 0)
            return -1;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, (int)left_ms);
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

int bench_http(int port, const char *method, const char *path, const char *req_body, char *body,
               size_t body_cap, int timeout_ms)
{
    if (body && body_cap)
        body[0] = '\0';
    int64_t deadline = bench_now_ns() + (int64_t)timeout_ms * 1000000;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int status = 0;
    char *resp = NULL;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) != 0)
            goto out;
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0)
            goto out;
    }
    size_t blen = req_body ? strlen(req_body) : 0;
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      method, path, port, blen);
    if (hl < 0 || (size_t)hl >= sizeof head)
        goto out;
    const char *parts[2] = {head, req_body ? req_body : ""};
    size_t lens[2] = {(size_t)hl, blen};
    for (int i = 0; i < 2; i++) {
        size_t off = 0;
        while (off < lens[i]) {
            ssize_t w = send(fd, parts[i] + off, lens[i] - off, MSG_NOSIGNAL);
            if (w > 0) {
                off += (size_t)w;
            } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (wait_fd(fd, POLLOUT, deadline) != 0)
                    goto out;
            } else {
                goto out;
            }
        }
    }
    size_t cap = 8192, len = 0;
    resp = malloc(cap);
    if (!resp)
        goto out;
    for (;;) { /* Connection: close, so the answer ends at EOF */
        if (len + 1 >= cap) {
            if (cap >= (1u << 22))
                break;
            char *nr = realloc(resp, cap * 2);
            if (!nr)
                goto out;
            resp = nr;
            cap *= 2;
        }
        ssize_t r = recv(fd, resp + len, cap - len - 1, 0);
        if (r > 0) {
            len += (size_t)r;
        } else if (r == 0) {
            break;
        } else if (errno == EAGAIN || errno == EINTR) {
            if (wait_fd(fd, POLLIN, deadline) != 0)
                goto out;
        } else {
            goto out;
        }
    }
    resp[len] = '\0';
    if (len < 12 || strncmp(resp, "HTTP/1.", 7) != 0)
        goto out;
    status = atoi(resp + 9);
    if (body && body_cap) {
        const char *b = strstr(resp, "\r\n\r\n");
        if (b) {
            snprintf(body, body_cap, "%s", b + 4);
        }
    }
out:
    free(resp);
    close(fd);
    return status;
}

int64_t bench_json_int(const char *json, const char *key)
{
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p)
        return 0;
    return strtoll(p + strlen(pat), NULL, 10);
}

int bench_parse_start_opts(int argc, char **argv, struct bench_start_opts *o)
{
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return i + 1 < argc ? i + 1 : -1;
        if (i + 1 >= argc)
            return -1;
        if (strcmp(argv[i], "--port") == 0)
            o->port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--runs") == 0)
            o->runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--fresh-db") == 0)
            o->fresh_db = argv[++i];
        else if (strcmp(argv[i], "--log") == 0)
            o->log = argv[++i];
        else if (strcmp(argv[i], "--timeout-ms") == 0)
            o->timeout_ms = atoi(argv[++i]);
        else
            return -1;
    }
    return -1;
}

void bench_remove_db(const char *tool, const char *db)
{
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    char path[4096];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(path, sizeof path, "%s%s", db, suffix[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            fprintf(stderr, "%s: cannot remove %s: %s\n", tool, path, strerror(errno));
    }
}

void bench_stop_child(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 500; i++) { /* 5 s */
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        bench_sleep_us(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void bench_sort_doubles(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
}

void bench_print_ms_stats(const char *name, double *v, int n)
{
    if (n < 1)
        return;
    bench_sort_doubles(v, n);
    double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    const char *sep = name[0] ? "_" : "";
    printf("%s%smedian_ms=%.2f\n%s%smin_ms=%.2f\n%s%smax_ms=%.2f\n", name, sep, median, name, sep, v[0], name, sep,
           v[n - 1]);
}
