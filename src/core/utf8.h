/* utf8.h - UTF-8 validation and repair, through utf8proc.
 *
 * Pure. What counts as valid is utf8proc's decoder (utf8proc_iterate): no
 * overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no
 * truncated sequence. Code that must hand text to something strict (jansson,
 * PostgreSQL, LINE) uses these instead of decoding bytes by hand. */
#ifndef LINEBOT_UTF8_H
#define LINEBOT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0, len) is entirely valid UTF-8 (a NUL byte is valid). */
bool utf8_valid(const char *s, size_t len);

/* A malloc'd, NUL-terminated copy of s[0, len) in which every invalid byte
 * and every NUL byte became U+FFFD, one replacement per byte, so the result
 * is valid UTF-8 and a C string whose strlen() is all of it. Never NULL. */
char *utf8_sanitize(const char *s, size_t len);

/* The length of the longest prefix of s[0, len) that is at most `max` bytes
 * and does not end inside a valid sequence: where to cut without splitting a
 * character. (An invalid byte counts as one character of its own.) */
size_t utf8_prefix(const char *s, size_t len, size_t max);

/* Characters in s[0, len): the bytes that start one (not 10xxxxxx). Exact
 * for valid UTF-8, which is all these are meant for: a text's size in the
 * characters a reader counts. */
size_t utf8_chars(const char *s, size_t len);

/* The bytes that the first `max` characters of s[0, len) take, counted as
 * utf8_chars counts them: where to cut a text to `max` characters. */
size_t utf8_chars_prefix(const char *s, size_t len, size_t max);

#endif
