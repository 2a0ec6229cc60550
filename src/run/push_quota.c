/* push_quota.c - the push quota check before a push (see push_quota.h). */
#include "run/push_quota.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>

#include "io/clock.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool known;          /* a quota was read */
static int64_t read_at_ms;  /* monotonic: when */
static int64_t limit;       /* -1: no limit */
static int64_t used;        /* LINE's count then, plus this process's pushes since */
static bool failed;         /* the last read failed ... */
static int64_t failed_at_ms; /* ... then (monotonic): not asked again for a while */

/* After a failed read, pushes go unchecked this long: a quota endpoint that
 * is down or slow is not asked again, under the lock, before every push. */
#define PUSH_QUOTA_RETRY_MS 30000

void push_quota_reset(void)
{
    pthread_mutex_lock(&lock);
    known = false;
    failed = false;
    pthread_mutex_unlock(&lock);
}

bool push_quota_allows(struct line_api *line, int reserve, char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    if (reserve <= 0)
        return true;
    pthread_mutex_lock(&lock);
    int64_t now = clock_monotonic_ms();
    if (!known || now - read_at_ms >= PUSH_QUOTA_CACHE_MS) {
        if (failed && now - failed_at_ms < PUSH_QUOTA_RETRY_MS) {
            pthread_mutex_unlock(&lock);
            if (why && whylen)
                snprintf(why, whylen, "LINE's quota could not be read less than %d s ago", PUSH_QUOTA_RETRY_MS / 1000);
            return true;
        }
        int64_t l, u;
        /* Asked under the lock: the pushes waiting meanwhile use its answer. */
        if (line_message_quota(line, &l, &u, why, whylen) != LINE_OK) {
            failed = true;
            failed_at_ms = now;
            pthread_mutex_unlock(&lock);
            return true;
        }
        failed = false;
        known = true;
        read_at_ms = now;
        limit = l;
        used = u;
    }
    bool allowed = limit < 0 || limit - used >= reserve;
    if (allowed)
        used++;
    else if (why)
        snprintf(why, whylen, "%" PRId64 " of the month's %" PRId64 " push messages left, LINEBOT_PUSH_RESERVE is %d",
                 limit - used > 0 ? limit - used : 0, limit, reserve);
    pthread_mutex_unlock(&lock);
    return allowed;
}
