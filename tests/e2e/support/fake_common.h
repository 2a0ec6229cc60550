/* fake_common.h - what the fakes (LINE, LLM, Lambda, FC) share besides HTTP.
 *
 * Every fake keeps its records in growable arrays under one mutex and one
 * condition variable, and its tests wait on that variable for a count or a
 * condition with a deadline; the two cloud stand-ins also take apart the
 * Authorization header and timestamp of a signed request. Those pieces live
 * here once. The HTTP side (requests, responses, query strings) is in
 * fake_http.h. */
#ifndef E2E_FAKE_COMMON_H
#define E2E_FAKE_COMMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e2e_util.h"

/* Appends `item` to the array `arr` of `n` items with room for `cap`, growing
 * it (16 first, then doubling; aborts when out of memory, as test code may). */
#define FAKE_VEC_PUSH(arr, n, cap, item)                                           \
    do {                                                                           \
        if ((n) == (cap)) {                                                        \
            (cap) = (cap) ? (cap) * 2 : 16;                                        \
            (arr) = e2e_xrealloc((arr), (cap) * sizeof *(arr));                    \
        }                                                                          \
        (arr)[(n)++] = (item);                                                     \
    } while (0)

bool fake_starts_with(const char *s, const char *prefix);

/* ---- waiting on a fake's condition variable ------------------------------ */

/* Initializes cv on CLOCK_MONOTONIC, so a wait does not stretch or shrink when
 * the wall clock is set. The waits below need a cv made this way. */
void fake_cond_init(pthread_cond_t *cv);

/* With mu held: waits on cv at most `ms` milliseconds (a wake-up may come
 * sooner, or be spurious: re-check). Returns pthread_cond_timedwait's result. */
int fake_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms);

/* With mu held: waits on cv until done(ctx, arg) holds or timeout_ms have
 * passed, checking once more at the deadline. True when done. */
bool fake_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int timeout_ms,
                          bool (*done)(void *ctx, const void *arg), void *ctx, const void *arg);

/* The same for the common case: until *count >= n. */
bool fake_cond_wait_count(pthread_cond_t *cv, pthread_mutex_t *mu, const size_t *count, size_t n,
                          int timeout_ms);

/* ---- signed requests (the Lambda and FC stand-ins) ----------------------- */

/* The value of `key` in an Authorization header of the form
 * "ALGORITHM Key=value, Key=value" or "...,Key=value" (up to the next ',' or
 * ' '), malloc'd; NULL when absent. */
char *fake_auth_param(const char *auth, const char *key);

enum fake_utc_style {
    FAKE_UTC_BASIC,    /* "20150830T123600Z": X-Amz-Date */
    FAKE_UTC_EXTENDED, /* "2023-10-26T10:22:32Z": x-acs-date */
};

/* Parses a UTC timestamp in exactly that form into Unix seconds. False when
 * s is NULL or not in the form. */
bool fake_parse_utc(const char *s, enum fake_utc_style style, int64_t *epoch);

#endif
