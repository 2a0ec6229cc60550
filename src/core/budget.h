/* budget.h - daily token budgets (issue 11): which day it is in the bot's
 * timezone, when that day ends, whether a model call may go, what a call is
 * estimated to cost when the provider did not say, and which catalogue model
 * is cheaper.
 *
 * Pure. The timezone comes in as a function that answers the UTC offset in
 * force at a moment (io/timezone.c's, or a test's), so daylight saving time
 * is the caller's knowledge, not this module's; a fixed offset such as
 * "+09:00" is parsed here. A "day" is a whole number: days since 1970-01-01
 * in local time, the unit the store keeps usage under. */
#ifndef LINEBOT_BUDGET_H
#define LINEBOT_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/models.h"

#define BUDGET_DAY_MS 86400000LL

/* The offset from UTC (milliseconds, east positive) in force at `utc_ms`. */
typedef int64_t (*budget_offset_fn)(int64_t utc_ms);

/* A fixed offset: "UTC", "Z", "+09:00", "-05:30", "+0900", "+9" (hours up to
 * 14, minutes under 60). Returns 0 with *offset_ms set, or -1 when `spec` is
 * no offset (then it may be an IANA name such as "Asia/Tokyo"). */
int budget_parse_offset(const char *spec, int64_t *offset_ms);

/* The local day of `utc_ms` (floor division: also right before 1970). */
int64_t budget_day(int64_t utc_ms, budget_offset_fn offset_at);

/* When the local day of `utc_ms` ends: the UTC time of the next local
 * midnight (the first moment whose budget_day is one more), also across a
 * change of offset (daylight saving time) on the way. */
int64_t budget_reset_ms(int64_t utc_ms, budget_offset_fn offset_at);

/* "HH:MM" of `utc_ms` in local time, and the zone: "00:00 (Asia/Tokyo)",
 * or "00:00 (UTC+09:00)" for a fixed offset (`zone_name` NULL). malloc'd. */
char *budget_clock_text(int64_t utc_ms, budget_offset_fn offset_at, const char *zone_name);

/* True when a call must be refused: a limit is set (> 0) and `used` is at or
 * over it. */
bool budget_over(int64_t used, long long limit);

/* Tokens a text is estimated to take when the provider reports no usage:
 * one per four ASCII bytes (rounded up; English runs about four characters
 * a token), and one per other character (Japanese and Chinese run about one
 * character a token, often more). Not a tokenizer: it errs on the side of
 * counting. 0 for NULL or "". */
int64_t budget_estimate_tokens(const char *text);

/* The cheapest model of `cat` (input + output price) that is cheaper than
 * `current`; NULL when `current` has no price, or none is cheaper. Models
 * without both prices are never offered. */
const struct model_entry *budget_cheaper_model(const struct model_catalogue *cat, const struct model_entry *current);

/* What `prompt` and `completion` tokens cost at `m`'s prices (per million
 * tokens); 0 when the model has no prices. */
double budget_cost(const struct model_entry *m, int64_t prompt_tokens, int64_t completion_tokens);

#endif
