/* buf.h - the one growable byte buffer, with a size cap.
 *
 * After curl's dynbuf: a buffer is created with the most bytes it may ever
 * hold, every append says whether it fitted, and buf_take hands the bytes
 * over. The cap is how hostile input (a huge HTTP answer, a Markdown bomb)
 * meets a limit in one tested place instead of in each hand-rolled realloc
 * loop. Memory comes from xrealloc (alloc.h): running out aborts, so the only
 * error an append reports is "over the cap", and callers must check it.
 *
 * The content is always NUL-terminated once anything was added, and never
 * holds more than `max` bytes (the NUL not counted). Not thread-safe. */
#ifndef LINEBOT_BUF_H
#define LINEBOT_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;  /* NULL until the first byte is added */
    size_t len;  /* bytes held, without the terminating NUL */
    size_t cap;  /* bytes allocated */
    size_t max;  /* most bytes `len` may reach */
};

#define BUF_WARN_UNUSED __attribute__((warn_unused_result))

/* An empty buffer that will hold at most `max` bytes. No allocation yet. */
void buf_init(struct buf *b, size_t max);

/* Appends `n` bytes (`p` may be NULL when n == 0). Returns 0, or -1 when the
 * content would exceed the cap; the buffer is then left as it was. */
int buf_add(struct buf *b, const void *p, size_t n) BUF_WARN_UNUSED;
int buf_adds(struct buf *b, const char *s) BUF_WARN_UNUSED;           /* a C string */
int buf_addf(struct buf *b, const char *fmt, ...) BUF_WARN_UNUSED __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap) BUF_WARN_UNUSED __attribute__((format(printf, 2, 0)));

/* The content as a C string: "" when empty. Valid until the next change. */
const char *buf_str(const struct buf *b);

/* Shortens the content to `len` bytes (no-op when it is already shorter). */
void buf_truncate(struct buf *b, size_t len);

/* Hands the content over: a malloc'd NUL-terminated string (never NULL, ""
 * when empty) that the caller frees; `len` (may be NULL) gets its length. The
 * buffer is left empty, with the same cap, ready for reuse. */
char *buf_take(struct buf *b, size_t *len);

/* Empties the buffer but keeps its memory for the next appends. */
void buf_reset(struct buf *b);

/* Frees the memory; the buffer is empty and usable again (same cap). */
void buf_free(struct buf *b);

#endif
