/* e2e_util.c - time, UTF-16 counting, UUIDs and strings for the e2e suite. */
#include "e2e_util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

int64_t e2e_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t e2e_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void e2e_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

int e2e_ms(int base_ms)
{
    static double scale = 0;
    if (scale == 0) {
        const char *s = getenv("E2E_TIMEOUT_SCALE");
        double v = s ? strtod(s, NULL) : 1.0;
        scale = v > 0 ? v : 1.0;
    }
    return (int)(base_ms * scale);
}

/* Length of the valid UTF-8 sequence at s[i], or 0 when none starts there. */
static size_t utf8_seq_len(const unsigned char *s, size_t len, size_t i)
{
    unsigned char c = s[i];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (i + n > len)
        return 0;
    for (size_t k = 1; k < n; k++) {
        unsigned char d = s[i + k];
        unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (d < l || d > h)
            return 0;
    }
    return n;
}

size_t e2e_utf16_len(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t units = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq_len(u, len, i);
        if (n == 0) {
            units++;
            i++;
            continue;
        }
        units += n == 4 ? 2 : 1;
        i += n;
    }
    return units;
}

size_t e2e_utf16_to_byte(const char *s, size_t len, size_t units)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t done = 0, i = 0;
    while (i < len && done < units) {
        size_t n = utf8_seq_len(u, len, i);
        if (n == 0)
            n = 1;
        done += n == 4 ? 2 : 1;
        i += n;
    }
    return i;
}

bool e2e_is_uuid(const char *s)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    if (!s)
        return false;
    for (int g = 0; g < 5; g++) {
        for (int k = 0; k < groups[g]; k++, s++)
            if (!isxdigit((unsigned char)*s))
                return false;
        if (g < 4 && *s++ != '-')
            return false;
    }
    return *s == '\0';
}

void *e2e_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

void *e2e_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

char *e2e_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = e2e_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

static char *vprintf_alloc(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *vprintf_alloc(const char *fmt, va_list ap)
{
    if (!fmt)
        abort();
    va_list ap2;
    va_copy(ap2, ap);
    char probe[1];
    int n = vsnprintf(probe, sizeof probe, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        abort();
    char *s = e2e_xmalloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *e2e_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vprintf_alloc(fmt, ap);
    va_end(ap);
    return s;
}

bool e2e_contains_ci(const char *haystack, const char *needle)
{
    if (!haystack || !needle)
        return false;
    size_t n = strlen(needle);
    for (const char *p = haystack; *p; p++)
        if (strncasecmp(p, needle, n) == 0)
            return true;
    return n == 0;
}

char *e2e_strip_ws(const char *s)
{
    char *d = e2e_xmalloc(strlen(s) + 1), *o = d;
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            *o++ = *s;
    *o = '\0';
    return d;
}

void e2e_buf_add(struct e2e_buf *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        b->data = e2e_xrealloc(b->data, cap);
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void e2e_buf_adds(struct e2e_buf *b, const char *s)
{
    e2e_buf_add(b, s, strlen(s));
}

void e2e_buf_addf(struct e2e_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vprintf_alloc(fmt, ap);
    va_end(ap);
    e2e_buf_adds(b, s);
    free(s);
}

char *e2e_buf_take(struct e2e_buf *b)
{
    if (!b->data)
        e2e_buf_add(b, "", 0);
    char *s = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

long e2e_raise_nofile(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (rlim_t)want ? (rlim_t)want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? want : (long)rl.rlim_cur;
}

char *e2e_read_file_n(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    struct e2e_buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        e2e_buf_add(&b, chunk, n);
    fclose(fp);
    if (len)
        *len = b.len;
    return e2e_buf_take(&b);
}

char *e2e_read_file(const char *path) { return e2e_read_file_n(path, NULL); }

bool e2e_write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return false;
    bool ok = fwrite(text, 1, strlen(text), fp) == strlen(text);
    return fclose(fp) == 0 && ok;
}
