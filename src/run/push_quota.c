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

void push_quota_reset(void)
{
    pthread_mutex_lock(&lock);
    known = false;
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
        int64_t l, u;
        /* Asked under the lock: the pushes waiting meanwhile use its answer. */
        if (line_message_quota(line, &l, &u, why, whylen) != LINE_OK) {
            pthread_mutex_unlock(&lock);
            return true;
        }
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
