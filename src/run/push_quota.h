/* push_quota.h - LINEBOT_PUSH_RESERVE: whether the month's push quota
 * leaves room for one more push (issue 11).
 *
 * A push (the fallback when a reply token is refused or too old) costs one
 * message of the channel's monthly quota; a reply costs none. Before a push
 * the quota and its consumption are read from LINE, cached for a few minutes
 * process-wide (PUSH_QUOTA_CACHE_MS) and counted down by this process's own
 * pushes in between, so a burst of pushes asks LINE once. A quota of type
 * "none" has no limit. Thread-safe. */
#ifndef LINEBOT_PUSH_QUOTA_H
#define LINEBOT_PUSH_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/line_api.h"

#define PUSH_QUOTA_CACHE_MS 180000

/* True when a push may go: `reserve` is 0 (no check, LINE not asked), the
 * quota has no limit, at least `reserve` messages are left, or the quota
 * cannot be read (LINE then refuses a push itself when nothing is left; the
 * failure is described in `why`, and LINE is not asked again for 30 s). False when fewer than `reserve` are left:
 * `why` says how many. A push that goes is counted against the cache. */
bool push_quota_allows(struct line_api *line, int reserve, char *why, size_t whylen);

/* Forgets the cached quota (tests). */
void push_quota_reset(void);

#endif
