/* benchutil.h - small helpers shared by the bench tools: clocks, /proc
 * readings, and a blocking HTTP/1.1 exchange over 127.0.0.1.
 *
 * Everything here talks only to the loopback address and every call is
 * bounded by a timeout, so a tool built on it always stops by itself. */
#ifndef BENCHUTIL_H
#define BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in nanoseconds; the same clock in every process of the
 * machine, so timestamps may be compared across the fakes and the load
 * generator. */
int64_t bench_now_ns(void);
/* CLOCK_REALTIME in milliseconds (webhook event timestamps). */
int64_t bench_wall_ms(void);
void bench_sleep_us(long us);

/* user+system CPU of a whole process (all its threads, dead ones included),
 * from /proc/<pid>/stat, in nanoseconds; -1 if the process is gone. */
int64_t bench_proc_cpu_ns(pid_t pid);
/* The same, split into user and system time; -1 if the process is gone. */
int bench_proc_cpu_split_ns(pid_t pid, int64_t *user_ns, int64_t *sys_ns);
/* A "VmHWM:"-style line of /proc/<pid>/status, in kB; -1 if unreadable. */
long bench_proc_status_kb(pid_t pid, const char *field);
/* CPU time all cores of the machine spent busy (user, nice, system, irq,
 * softirq, steal from the first line of /proc/stat), in nanoseconds; -1 if
 * unreadable. Over a window, divided by the window, it gives cores in use. */
int64_t bench_machine_busy_ns(void);
/* user+system CPU of the calling process, in nanoseconds. */
int64_t bench_self_cpu_ns(void);

/* One blocking HTTP/1.1 request to 127.0.0.1:port with "Connection: close".
 * Returns the status code (0 on a transport error or timeout); the body,
 * NUL-terminated and cut to body_cap-1 bytes, goes to body if non-NULL. */
int bench_http(int port, const char *method, const char *path, const char *req_body, char *body,
               size_t body_cap, int timeout_ms);

/* Reads "key":<number> out of a flat JSON object; 0 if absent. */
int64_t bench_json_int(const char *json, const char *key);

/* ---- the start-up timers (bench-coldstart, bench-lambdastart) ---- */

#define BENCH_MAX_RUNS 101

/* Their common options: [--port P] [--runs N] [--fresh-db PATH] [--log FILE]
 * [--timeout-ms T] -- CMD [ARGS...]. Fields keep their defaults when not
 * given. Returns the index of CMD in argv, or -1 on a bad option or when the
 * command is missing (the caller prints its usage). */
struct bench_start_opts {
    int port, runs, timeout_ms;
    const char *fresh_db, *log;
};
int bench_parse_start_opts(int argc, char **argv, struct bench_start_opts *o);

/* Removes a SQLite database and its -wal, -shm and -journal files. */
void bench_remove_db(const char *tool, const char *db);
/* SIGTERM, then SIGKILL after 5 s; reaps the child. */
void bench_stop_child(pid_t pid);
/* Sorts n values in increasing order. */
void bench_sort_doubles(double *v, int n);
/* Prints <name>_median_ms, _min_ms and _max_ms ("median_ms"... when name is
 * empty) of n values; sorts v. */
void bench_print_ms_stats(const char *name, double *v, int n);

#endif
