/* budget.c - daily token budgets: days, resets, estimates (see budget.h). */
#include "core/budget.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Reads 1..`max_digits` digits at *s into *out. */
static bool read_digits(const char **s, int max_digits, int *out)
{
    int v = 0, n = 0;
    while (n < max_digits && isdigit((unsigned char)**s)) {
        v = v * 10 + (**s - '0');
        (*s)++;
        n++;
    }
    *out = v;
    return n > 0;
}

int budget_parse_offset(const char *spec, int64_t *offset_ms)
{
    if (!spec)
        return -1;
    if (strcasecmp(spec, "UTC") == 0 || strcmp(spec, "Z") == 0) {
        *offset_ms = 0;
        return 0;
    }
    const char *s = spec;
    if (strncasecmp(s, "UTC", 3) == 0) /* "UTC+09:00" too */
        s += 3;
    if (*s != '+' && *s != '-')
        return -1;
    int sign = *s == '-' ? -1 : 1;
    s++;
    int hours, minutes = 0;
    const char *h0 = s;
    if (!read_digits(&s, 2, &hours))
        return -1;
    if (*s == ':') {
        s++;
        if (!read_digits(&s, 2, &minutes) || s - h0 != 5)
            return -1;
    } else if (*s) {
        if (s - h0 != 2 || !read_digits(&s, 2, &minutes) || s - h0 != 4) /* "+0900" */
            return -1;
    }
    if (*s || hours > 14 || minutes >= 60 || (hours == 14 && minutes > 0))
        return -1;
    *offset_ms = sign * ((int64_t)hours * 3600000 + (int64_t)minutes * 60000);
    return 0;
}

int64_t budget_day(int64_t utc_ms, budget_offset_fn offset_at)
{
    return floor_div(utc_ms + offset_at(utc_ms), BUDGET_DAY_MS);
}

int64_t budget_reset_ms(int64_t utc_ms, budget_offset_fn offset_at)
{
    int64_t next_day = budget_day(utc_ms, offset_at) + 1;
    int64_t local_midnight = next_day * BUDGET_DAY_MS;
    /* The offset at the reset may differ from now's (DST): guess with now's,
     * then correct with the one in force at the guess. */
    int64_t guess = local_midnight - offset_at(utc_ms);
    guess = local_midnight - offset_at(guess);
    /* A zone that skips midnight (its clocks jump from 23:59 to 01:00): the
     * guess may land before the day starts; the day then starts at the jump,
     * found by stepping forward in minutes (at most a few hours). */
    for (int i = 0; i < 24 * 60 && budget_day(guess, offset_at) < next_day; i++)
        guess += 60000;
    /* Landed past it (an offset that fell back): step back to its first minute. */
    while (guess - 60000 > utc_ms && budget_day(guess - 60000, offset_at) >= next_day)
        guess -= 60000;
    return guess;
}

char *budget_clock_text(int64_t utc_ms, budget_offset_fn offset_at, const char *zone_name)
{
    int64_t offset = offset_at(utc_ms);
    int64_t in_day = (utc_ms + offset) - floor_div(utc_ms + offset, BUDGET_DAY_MS) * BUDGET_DAY_MS;
    int hh = (int)(in_day / 3600000), mm = (int)(in_day / 60000 % 60);
    if (zone_name)
        return xasprintf("%02d:%02d (%s)", hh, mm, zone_name);
    int64_t a = offset < 0 ? -offset : offset;
    return xasprintf("%02d:%02d (UTC%c%02d:%02d)", hh, mm, offset < 0 ? '-' : '+', (int)(a / 3600000),
                     (int)(a / 60000 % 60));
}

bool budget_over(int64_t used, long long limit)
{
    return limit > 0 && used >= limit;
}

int64_t budget_estimate_tokens(const char *text)
{
    if (!text)
        return 0;
    int64_t ascii = 0, other = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 0x80)
            ascii++;
        else if ((*p & 0xC0) != 0x80) /* the first byte of a character */
            other++;
    }
    return (ascii + 3) / 4 + other;
}

static bool priced(const struct model_entry *m)
{
    return m && m->input_price >= 0 && m->output_price >= 0;
}

const struct model_entry *budget_cheaper_model(const struct model_catalogue *cat, const struct model_entry *current)
{
    if (!priced(current))
        return NULL;
    const struct model_entry *best = NULL;
    double limit = current->input_price + current->output_price;
    for (size_t i = 0; i < cat->n; i++) {
        const struct model_entry *m = &cat->items[i];
        if (m == current || !priced(m))
            continue;
        double price = m->input_price + m->output_price;
        if (price < limit && (!best || price < best->input_price + best->output_price))
            best = m;
    }
    return best;
}

double budget_cost(const struct model_entry *m, int64_t prompt_tokens, int64_t completion_tokens)
{
    if (!m)
        return 0;
    double cost = 0;
    if (m->input_price >= 0 && prompt_tokens > 0)
        cost += (double)prompt_tokens * m->input_price / 1e6;
    if (m->output_price >= 0 && completion_tokens > 0)
        cost += (double)completion_tokens * m->output_price / 1e6;
    return cost;
}
