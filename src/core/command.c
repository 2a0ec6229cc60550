/* command.c - the shape every chat command shares (see command.h).
 *
 * A Japanese keyboard in full-width mode types "／ｍｏｄｅｌ　ｑｗｅｎ": the
 * slash, the letters and the space all in their full-width forms. Each
 * character is read in its compatibility form (utf8proc's NFKC mapping of
 * one code point, case folded), so "／ｍｏｄｅｌ" is "/model" and "　" a
 * blank; the argument itself is returned as typed. */
#include "core/command.h"

#include <string.h>

#include <utf8proc.h>

/* The character at `s` (NUL-terminated), compatibility-mapped and case
 * folded when that gives one code point, with *len its length in bytes.
 * -1 (with *len 1) for a byte that starts no valid character. */
static int32_t folded_at(const char *s, size_t *len)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s, -1, &cp);
    if (n < 1) {
        *len = 1;
        return -1;
    }
    *len = (size_t)n;
    utf8proc_int32_t mapped[4];
    int boundclass = UTF8PROC_BOUNDCLASS_START;
    utf8proc_ssize_t m = utf8proc_decompose_char(cp, mapped, 4, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD,
                                                   &boundclass);
    return m == 1 ? mapped[0] : cp;
}

bool command_is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The length of the blank at `s` (a half-width one, or the ideographic
 * space U+3000), 0 when there is none. */
static size_t blank_len(const char *s)
{
    if (command_is_blank((unsigned char)*s))
        return 1;
    return strncmp(s, "\xe3\x80\x80" /* U+3000 */, 3) == 0 ? 3 : 0;
}

const char *command_arg(const char *text, const char *word, size_t *arg_len)
{
    if (!text)
        return NULL;
    size_t n;
    if (folded_at(text, &n) != '/')
        return NULL;
    text += n;
    for (const char *w = word; *w; w++) { /* `word` is lower-case ASCII */
        if (folded_at(text, &n) != (unsigned char)*w)
            return NULL;
        text += n;
    }
    if (*text && !blank_len(text))
        return NULL;
    const char *arg = text;
    while ((n = blank_len(arg)) > 0)
        arg += n;
    size_t len = strlen(arg);
    for (;;) {
        if (len > 0 && command_is_blank((unsigned char)arg[len - 1]))
            len--;
        else if (len >= 3 && memcmp(arg + len - 3, "\xe3\x80\x80", 3) == 0)
            len -= 3;
        else
            break;
    }
    *arg_len = len;
    return arg;
}

const char *command_word(const char *arg, size_t len, const char *word, size_t *rest_len)
{
    const char *p = arg, *end = arg + len;
    size_t n;
    for (const char *w = word; *w; w++) { /* `word` is lower-case ASCII */
        if (p >= end || folded_at(p, &n) != (unsigned char)*w || n > (size_t)(end - p))
            return NULL;
        p += n;
    }
    if (p < end && !blank_len(p))
        return NULL;
    while (p < end && (n = blank_len(p)) > 0 && n <= (size_t)(end - p))
        p += n;
    *rest_len = (size_t)(end - p);
    return p;
}

bool command_number(const char *arg, size_t len, size_t max_digits, long *out)
{
    const char *p = arg, *end = arg + len;
    long value = 0;
    size_t digits = 0, n;
    while (p < end) {
        int32_t c = folded_at(p, &n);
        if (c < '0' || c > '9' || n > (size_t)(end - p) || ++digits > max_digits)
            return false;
        value = value * 10 + (c - '0');
        p += n;
    }
    *out = value;
    return digits > 0;
}
