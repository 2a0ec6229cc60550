/* utf8.c - UTF-8 validation and repair, through utf8proc (see utf8.h).
 *
 * Each function walks the text with utf8proc_iterate, which returns the
 * length of the valid sequence at a position or a negative error. An invalid
 * byte is always stepped over alone, so a bad lead byte cannot swallow the
 * valid characters after it. utf8_chars and utf8_chars_prefix only count
 * lead bytes: they measure text that is already valid. */
#include "core/utf8.h"

#include <string.h>
#include <utf8proc.h>

#include "core/alloc.h"

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

/* Bytes of the valid sequence at s[0, left) (left >= 1), or 0 when invalid. */
static size_t sequence_at(const unsigned char *s, size_t left)
{
    if (s[0] < 0x80)
        return 1;
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(s, (utf8proc_ssize_t)(left < 4 ? left : 4), &cp);
    return n > 0 ? (size_t)n : 0;
}

bool utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = sequence_at(u + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

char *utf8_sanitize(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    /* Worst case: every byte becomes a 3-byte U+FFFD (the size is checked). */
    char *out = xrealloc_array(NULL, len + 1, 3);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = u[i] ? sequence_at(u + i, len - i) : 0;
        if (n > 0) {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        } else {
            memcpy(out + o, REPLACEMENT, 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

size_t utf8_prefix(const char *s, size_t len, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    if (len <= max)
        return len;
    size_t i = 0;
    while (i < max) {
        size_t n = sequence_at(u + i, len - i);
        if (n == 0)
            n = 1;
        if (i + n > max)
            break;
        i += n;
    }
    return i;
}

static bool starts_char(char c)
{
    return ((unsigned char)c & 0xC0) != 0x80;
}

size_t utf8_chars(const char *s, size_t len)
{
    size_t chars = 0;
    for (size_t i = 0; i < len; i++)
        chars += starts_char(s[i]);
    return chars;
}

size_t utf8_chars_prefix(const char *s, size_t len, size_t max)
{
    size_t bytes = 0;
    for (size_t chars = 0; bytes < len && chars < max; chars++)
        for (bytes++; bytes < len && !starts_char(s[bytes]); bytes++)
            ;
    return bytes;
}
