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
        bench_sort_doubles(us, count);
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

    struct bench_start_opts o = {.port = 0, .runs = 7, .timeout_ms = 30000, .fresh_db = NULL, .log = "/dev/null"};
    int i = bench_parse_start_opts(argc, argv, &o);
    if (i < 0 || o.port <= 0 || o.runs < 1 || o.runs > BENCH_MAX_RUNS || o.timeout_ms < 100) {
        fprintf(stderr, "usage: bench-coldstart --port P [--runs 1..%d] [--fresh-db PATH] [--log FILE]"
                        " [--timeout-ms T] -- CMD [ARGS...]\n"
                        "       bench-coldstart --wait PORT PATH TIMEOUT_MS\n", BENCH_MAX_RUNS);
        return 2;
    }
    char **cmd = argv + i;
    if (bench_http(o.port, "GET", "/healthz", NULL, NULL, 0, 500) != 0) {
        fprintf(stderr, "bench-coldstart: something already answers on 127.0.0.1:%d\n", o.port);
        return 1;
    }

    double ms[BENCH_MAX_RUNS];
    for (int r = 0; r < o.runs; r++) {
        if (o.fresh_db)
            bench_remove_db("bench-coldstart", o.fresh_db);
        int64_t t0 = bench_now_ns();
        pid_t pid = fork();
        if (pid < 0) {
            perror("bench-coldstart: fork");
            return 1;
        }
        if (pid == 0) {
            int fd = open(o.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
            execvp(cmd[0], cmd);
            _exit(127);
        }
        int rc = wait_200(o.port, "/healthz", o.timeout_ms, pid);
        int64_t t1 = bench_now_ns();
        if (rc != 0) {
            fprintf(stderr, "bench-coldstart: %s %s\n", cmd[0],
                    rc == -2 ? "exited before answering /healthz" : "did not answer /healthz in time");
            if (rc != -2)
                bench_stop_child(pid);
            return 1;
        }
        bench_stop_child(pid);
        ms[r] = (double)(t1 - t0) / 1e6;
        printf("start_%d_ms=%.2f\n", r + 1, ms[r]);
        bench_sleep_us(100000); /* let the port and the disk settle */
    }
    printf("runs=%d\n", o.runs);
    bench_print_ms_stats("", ms, o.runs);
    return 0;
}
