/* fake_common.c - record arrays, waits and signed-request parsing for the
 * fakes (see fake_common.h). */
#include "fake_common.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

bool fake_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- waiting on a fake's condition variable ------------------------------ */

void fake_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}

/* CLOCK_MONOTONIC now + ms, as pthread_cond_timedwait takes it. */
static struct timespec deadline_after(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ms < 0)
        ms = 0;
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int fake_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms)
{
    struct timespec until = deadline_after(ms);
    return pthread_cond_timedwait(cv, mu, &until);
}

bool fake_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int timeout_ms,
                          bool (*done)(void *ctx, const void *arg), void *ctx, const void *arg)
{
    struct timespec until = deadline_after(timeout_ms);
    while (!done(ctx, arg))
        if (pthread_cond_timedwait(cv, mu, &until) != 0)
            return done(ctx, arg); /* one last look at the deadline */
    return true;
}

static bool count_reached(void *count, const void *n)
{
    return *(const size_t *)count >= *(const size_t *)n;
}

bool fake_cond_wait_count(pthread_cond_t *cv, pthread_mutex_t *mu, const size_t *count, size_t n,
                          int timeout_ms)
{
    return fake_cond_wait_until(cv, mu, timeout_ms, count_reached, (void *)count, &n);
}

/* ---- signed requests (the Lambda and FC stand-ins) ----------------------- */

char *fake_auth_param(const char *auth, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = auth; p && *p; p++) {
        if ((p == auth || p[-1] == ' ' || p[-1] == ',') && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            const char *v = p + klen + 1;
            size_t n = strcspn(v, ", ");
            char *out = e2e_xmalloc(n + 1);
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
    }
    return NULL;
}

bool fake_parse_utc(const char *s, enum fake_utc_style style, int64_t *epoch)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int n = 0, fields;
    size_t want = style == FAKE_UTC_BASIC ? 16 : 20;
    if (!s || strlen(s) != want)
        return false;
    if (style == FAKE_UTC_BASIC)
        fields = sscanf(s, "%4d%2d%2dT%2d%2d%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                        &tm.tm_min, &tm.tm_sec, &n);
    else
        fields = sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                        &tm.tm_min, &tm.tm_sec, &n);
    if (fields != 6 || (size_t)n != want)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *epoch = (int64_t)timegm(&tm);
    return true;
}
