/* timezone.h - LINEBOT_TIMEZONE, resolved once at start: the zone the
 * budgets' day follows (issue 11).
 *
 * A fixed offset ("+09:00", "UTC") needs nothing. An IANA name
 * ("Asia/Tokyo") needs its zoneinfo file, which the Lambda and FC runtimes
 * may lack: it is looked up in /usr/share/zoneinfo, then in the zoneinfo/
 * directory next to the binary (where scripts/package-lambda.sh puts one,
 * for both packages). A name found in neither stops the start with one line
 * that says so, rather than counting days in UTC unannounced (glibc's own
 * fallback for an unknown zone). The file is handed to the C library as
 * TZ=<path>, so localtime_r answers the offset with the zone's rules. */
#ifndef LINEBOT_TIMEZONE_H
#define LINEBOT_TIMEZONE_H

#include <stddef.h>
#include <stdint.h>

/* Resolves `spec` (NULL or "": UTC). Call before any thread starts: it sets
 * TZ for the process. Returns 0, or -1 with one line in `err`. */
int timezone_setup(const char *spec, char *err, size_t errlen);

/* The offset from UTC in force at `utc_ms` (ms, east positive): a
 * budget_offset_fn (core/budget.h). Thread-safe after timezone_setup. */
int64_t timezone_offset_ms(int64_t utc_ms);

/* The IANA name set up, or NULL for a fixed offset (budget_clock_text). */
const char *timezone_name(void);

#endif
