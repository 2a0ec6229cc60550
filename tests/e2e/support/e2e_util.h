/* e2e_util.h - small helpers shared by the fakes, the harness and the cases.
 *
 * Time, UTF-16 counting (an independent oracle: the fakes must not trust the
 * bot's own utf16_len), UUID checks, string building, and the timeouts of the
 * suite. Every timeout goes through e2e_ms() so a slow build (ASan, UBSan)
 * can stretch them all at once with E2E_TIMEOUT_SCALE=3. */
#ifndef E2E_UTIL_H
#define E2E_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long a case waits for something that should happen (an answer). */
#define E2E_WAIT_MS 20000
/* How long a case keeps watching after the expected count, to catch a late duplicate. */
#define E2E_GRACE_MS 500
/* How long a case watches for something that should NOT happen. */
#define E2E_QUIET_MS 1000

int64_t e2e_now_ms(void);   /* Unix epoch milliseconds (what LINE puts in "timestamp") */
int64_t e2e_mono_ms(void);  /* monotonic, for durations */
void e2e_sleep_ms(int64_t ms);

/* `base_ms` times E2E_TIMEOUT_SCALE (a positive number, default 1). */
int e2e_ms(int base_ms);

/* UTF-16 code units of a UTF-8 string: one per code point, two above U+FFFF.
 * Each byte that starts no valid sequence counts as one unit (U+FFFD). */
size_t e2e_utf16_len(const char *s, size_t len);

/* UTF-8 byte offset of UTF-16 offset `units` (clamped to len). */
size_t e2e_utf16_to_byte(const char *s, size_t len, size_t units);

/* True for 8-4-4-4-12 hexadecimal digits (either case). */
bool e2e_is_uuid(const char *s);

/* malloc'd printf; aborts when out of memory (test code). */
char *e2e_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *e2e_strdup(const char *s); /* NULL stays NULL */
void *e2e_xmalloc(size_t n);
void *e2e_xrealloc(void *p, size_t n);

/* Case-insensitive substring test. */
bool e2e_contains_ci(const char *haystack, const char *needle);

/* Copy of `s` without any ASCII whitespace (to compare split answers). */
char *e2e_strip_ws(const char *s);

/* Raises this process's soft RLIMIT_NOFILE to at least `want` descriptors
 * (within the hard limit); returns the limit now in force. For cases that
 * hold thousands of sockets. */
long e2e_raise_nofile(long want);

/* Growable string. */
struct e2e_buf {
    char *data;
    size_t len;
    size_t cap;
};
void e2e_buf_add(struct e2e_buf *b, const void *data, size_t len);
void e2e_buf_adds(struct e2e_buf *b, const char *s);
void e2e_buf_addf(struct e2e_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *e2e_buf_take(struct e2e_buf *b); /* returns the NUL-terminated string, empties b */

/* A whole file, NUL-terminated (malloc'd); NULL when it cannot be opened.
 * The _n form also gives its length, for binary files. */
char *e2e_read_file(const char *path);
char *e2e_read_file_n(const char *path, size_t *len);
/* Writes `text` to `path` (created or truncated); false on any error. */
bool e2e_write_file(const char *path, const char *text);

#endif
