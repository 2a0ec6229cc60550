/* clock.h - the one source of wall-clock and monotonic time.
 *
 * Pure modules take time as an argument; the shell asks this module. Test
 * builds can shift the wall clock (config.clock_offset_ms) to reach "the reply
 * token has expired" without waiting a minute. */
#ifndef LINEBOT_CLOCK_H
#define LINEBOT_CLOCK_H

#include <stdint.h>

void clock_set_offset_ms(int64_t offset_ms);
int64_t clock_now_ms(void);        /* Unix epoch milliseconds (+ test offset) */
int64_t clock_monotonic_ms(void);  /* for durations and deadlines */
int64_t clock_monotonic_us(void);  /* the same, finer: for measured figures */
void clock_sleep_ms(int64_t ms);

#endif
