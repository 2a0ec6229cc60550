/* term_text.c - one rule for what the command-line tools print of others'
 * text (see term_text.h). An escape sequence in a LINE message, a document
 * or a model's answer must not reach the terminal and drive it (clear it,
 * retitle it, fake a line); a bidirectional override must not make a text
 * read as something else. */
#include "cli/term_text.h"

#include <string.h>

#include <utf8proc.h>

#include "core/alloc.h"

#define TERM_TEXT_REPLACEMENT 0xfffd

static bool term_text_unsafe(utf8proc_int32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

char *term_text_clean(const char *s, bool keep_newlines)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)(s ? s : "");
    utf8proc_ssize_t left = (utf8proc_ssize_t)strlen((const char *)p);
    /* Each input byte becomes at most 3 bytes (one U+FFFD). */
    char *out = xmalloc((size_t)left * 3 + 1);
    size_t o = 0;

    while (left > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t len = utf8proc_iterate(p, left, &cp);
        if (len <= 0) { /* not UTF-8: one byte becomes one U+FFFD */
            len = 1;
            cp = TERM_TEXT_REPLACEMENT;
        } else if (cp == '\n') {
            cp = keep_newlines ? '\n' : ' ';
        } else if (cp == '\t') {
            cp = ' ';
        } else if (term_text_unsafe(cp)) {
            cp = TERM_TEXT_REPLACEMENT;
        }
        o += (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)out + o);
        p += len;
        left -= len;
    }
    out[o] = '\0';
    return out;
}
