/* alloc.h - allocation that never returns NULL.
 *
 * The project's out-of-memory policy (README, Layout): an allocation that
 * fails ends the process with a short message on stderr and abort(), as
 * Redis's zmalloc does. A bot that cannot allocate a few kilobytes cannot
 * answer anyway, and every event it acknowledged is already in the store, so
 * the restart loses nothing. Callers therefore never test these results, and
 * the code has no untested "out of memory" branches.
 *
 * Only allocation failure aborts. Invalid input (a JSON value of the wrong
 * type, invalid UTF-8 handed to json_string, a size above a buffer's cap) is
 * still an error the caller handles. */
#ifndef LINEBOT_ALLOC_H
#define LINEBOT_ALLOC_H

#include <stddef.h>

/* Make jansson allocate through xmalloc, so that a JSON call returning NULL
 * always means bad input, never "out of memory". Call once at start-up,
 * before any other thread exists (json_set_alloc_funcs is not thread-safe). */
void alloc_init(void);

/* malloc/calloc/realloc/strdup/strndup that abort instead of returning NULL.
 * A zero size still gives a unique pointer that free() accepts. xcalloc and
 * xrealloc_array also abort when n * size overflows. */
void *xmalloc(size_t size) __attribute__((malloc, returns_nonnull));
void *xcalloc(size_t n, size_t size) __attribute__((malloc, returns_nonnull));
void *xrealloc(void *p, size_t size) __attribute__((returns_nonnull));
void *xrealloc_array(void *p, size_t n, size_t size) __attribute__((returns_nonnull));
char *xstrdup(const char *s) __attribute__((malloc, returns_nonnull));
char *xstrndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));

/* A formatted string in fresh memory (vasprintf that aborts on failure). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2), malloc, returns_nonnull));

/* The one place that reports an allocation failure and aborts; `what` names
 * the call that failed. For code that allocates through another library
 * (OpenSSL, libcurl, utf8proc) and gets NULL back. */
_Noreturn void alloc_fail(const char *what, size_t size);

#endif
