/* alloc.c - allocation that aborts on failure (see alloc.h).
 *
 * The message goes to stderr with write(2) and a fixed buffer: when memory is
 * exhausted, stdio and the JSON logger may themselves need to allocate. */
#include "core/alloc.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void alloc_fail(const char *what, size_t size)
{
    char msg[128];
    int n = snprintf(msg, sizeof msg, "linebot: out of memory (%s of %zu bytes), aborting\n", what, size);
    if (n > 0) {
        ssize_t ignored = write(STDERR_FILENO, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
        (void)ignored;
    }
    abort();
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        alloc_fail("malloc", size);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        alloc_fail("calloc (size overflow)", SIZE_MAX);
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        alloc_fail("calloc", n * size);
    return p;
}

void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        alloc_fail("realloc", size);
    return q;
}

void *xrealloc_array(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        alloc_fail("realloc (size overflow)", SIZE_MAX);
    return xrealloc(p, n * size);
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *d = xmalloc(n + 1);
    memcpy(d, s, n + 1);
    return d;
}

char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = xmalloc(len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        alloc_fail("asprintf (bad format)", 0);
    char *s = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void *json_xmalloc(size_t size) { return xmalloc(size); }

void alloc_init(void) { json_set_alloc_funcs(json_xmalloc, free); }
