/* coldstart.c - exec to the first 200 on GET /healthz, over several starts.
 *
 *   bench-coldstart --port P [--runs N] [--fresh-db PATH] [--log FILE] [--timeout-ms T] -- CMD [ARGS...]
 *       Starts CMD N times (the environment is passed through). Each time:
 *       removes PATH, PATH-wal and PATH-shm when --fresh-db is given, takes the
 *       clock, forks and execs CMD, polls GET /healthz on 127.0.0.1:P every
 *       100 us until it answers 200, then stops CMD (SIGTERM, SIGKILL after
 *       5 s). Prints each start's time and the median, in milliseconds.
 *   bench-coldstart --wait PORT PATH TIMEOUT_MS
 *       Exits 0 once GET PATH on 127.0.0.1:PORT answers 200, 1 at the timeout.
 *   bench-coldstart --fsync DIR COUNT
 *       Writes 4 KiB and fdatasyncs it COUNT times in a scratch file in DIR, and
 *       prints the median and p99 latency: what one SQLite commit waits for.
 *
 * The poll costs a little CPU on the other core; on a 2-core machine that is
 * the price of a 0.1 ms resolution. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchutil.h"

#define MAX_RUNS 101

static int wait_200(int port, const char *path, int timeout_ms, pid_t child)
{
    int64_t deadline = bench_now_ns() + (int64_t)timeout_ms * 1000000;
    while (bench_now_ns() < deadline) {
        if (bench_http(port, "GET", path, NULL, NULL, 0, 1000) == 200)
            return 0;
        if (child > 0 && waitpid(child, NULL, WNOHANG) == child)
            return -2; /* it exited before serving */
        bench_sleep_us(100);
    }
    return -1;
}

static void stop_child(pid_t pid)
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

static void remove_db(const char *db)
{
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    char path[4096];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(path, sizeof path, "%s%s", db, suffix[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            fprintf(stderr, "bench-coldstart: cannot remove %s: %s\n", path, strerror(errno));
    }
}

static int fsync_probe(const char *dir, int count)
{
    if (count < 1 || count > 10000)
        return 2;
    char path[4096];
    snprintf(path, sizeof path, "%s/.bench-fsync-probe", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        fprintf(stderr, "bench-coldstart: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    static char block[4096];
    double *us = calloc((size_t)count, sizeof *us);
    int rc = us ? 0 : 1;
    for (int i = 0; us && i < count; i++) {
        memset(block, i & 0xff, sizeof block);
        int64_t t0 = bench_now_ns();
        if (pwrite(fd, block, sizeof block, (off_t)(i % 64) * 4096) != (ssize_t)sizeof block || fdatasync(fd) != 0) {
            rc = 1;
            break;
        }
        us[i] = (double)(bench_now_ns() - t0) / 1e3;
    }
    close(fd);
    unlink(path);
    if (rc == 0) {
        qsort(us, (size_t)count, sizeof *us, cmp_double);
        printf("fsync_count=%d\nfsync_median_us=%.0f\nfsync_p99_us=%.0f\n", count, us[count / 2],
               us[(count * 99) / 100 < count ? (count * 99) / 100 : count - 1]);
    }
    free(us);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--wait") == 0)
        return wait_200(atoi(argv[2]), argv[3], atoi(argv[4]), 0) == 0 ? 0 : 1;
    if (argc == 4 && strcmp(argv[1], "--fsync") == 0)
        return fsync_probe(argv[2], atoi(argv[3]));

    int port = 0, runs = 7, timeout_ms = 30000;
    const char *fresh_db = NULL, *log = "/dev/null";
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (i + 1 >= argc)
            break;
        if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--fresh-db") == 0)
            fresh_db = argv[++i];
        else if (strcmp(argv[i], "--log") == 0)
            log = argv[++i];
        else if (strcmp(argv[i], "--timeout-ms") == 0)
            timeout_ms = atoi(argv[++i]);
        else
            break;
    }
    if (port <= 0 || runs < 1 || runs > MAX_RUNS || timeout_ms < 100 || i >= argc) {
        fprintf(stderr, "usage: bench-coldstart --port P [--runs 1..%d] [--fresh-db PATH] [--log FILE]"
                        " [--timeout-ms T] -- CMD [ARGS...]\n"
                        "       bench-coldstart --wait PORT PATH TIMEOUT_MS\n", MAX_RUNS);
        return 2;
    }
    char **cmd = argv + i;
    if (bench_http(port, "GET", "/healthz", NULL, NULL, 0, 500) != 0) {
        fprintf(stderr, "bench-coldstart: something already answers on 127.0.0.1:%d\n", port);
        return 1;
    }

    double ms[MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        if (fresh_db)
            remove_db(fresh_db);
        int64_t t0 = bench_now_ns();
        pid_t pid = fork();
        if (pid < 0) {
            perror("bench-coldstart: fork");
            return 1;
        }
        if (pid == 0) {
            int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
            execvp(cmd[0], cmd);
            _exit(127);
        }
        int rc = wait_200(port, "/healthz", timeout_ms, pid);
        int64_t t1 = bench_now_ns();
        if (rc != 0) {
            fprintf(stderr, "bench-coldstart: %s %s\n", cmd[0],
                    rc == -2 ? "exited before answering /healthz" : "did not answer /healthz in time");
            if (rc != -2)
                stop_child(pid);
            return 1;
        }
        stop_child(pid);
        ms[r] = (double)(t1 - t0) / 1e6;
        printf("start_%d_ms=%.2f\n", r + 1, ms[r]);
        bench_sleep_us(100000); /* let the port and the disk settle */
    }
    qsort(ms, (size_t)runs, sizeof ms[0], cmp_double);
    printf("runs=%d\nmedian_ms=%.2f\nmin_ms=%.2f\nmax_ms=%.2f\n", runs,
           runs % 2 ? ms[runs / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2, ms[0], ms[runs - 1]);
    return 0;
}
