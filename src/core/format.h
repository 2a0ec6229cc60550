/* format.h - turn a model's answer into LINE text messages.
 *
 * Pure. Two steps: Markdown -> plain text that reads well in LINE (md4c), then
 * splitting into at most N messages of at most M UTF-16 code units each, never
 * inside a user-perceived character (utf8proc grapheme clusters), preferring
 * paragraph, then sentence, then word boundaries. */
#ifndef LINEBOT_FORMAT_H
#define LINEBOT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#define LINE_TEXT_MAX_UTF16 5000  /* LINE's limit for one text message */
#define LINE_MAX_MESSAGES 5       /* LINE's limit for one reply or push */

/* Number of UTF-16 code units of a UTF-8 string (a code point above U+FFFF
 * counts 2). Invalid bytes count as U+FFFD (1 unit). */
size_t utf16_len(const char *s, size_t len);

/* Byte offset in `s` that corresponds to UTF-16 offset `units`, clamped to `len`,
 * never inside a code point. (LINE's mention index/length are UTF-16 units.) */
size_t utf16_to_byte_offset(const char *s, size_t len, size_t units);

/* Markdown to LINE-friendly plain text: headings become their own line, bold and
 * italic markers go away, lists become "• " / "1. " lines, links become
 * "text (url)", code fences keep their content verbatim. Never fails on any
 * input; returns a malloc'd NUL-terminated string. Hostile input that would
 * render to more than 4 times its size plus 256 KiB is cut there (far past
 * what LINE can show). */
char *format_markdown_to_text(const char *md, size_t len);

struct text_parts {
    char **parts;   /* malloc'd NUL-terminated UTF-8 strings */
    size_t n;
    bool truncated; /* format_split: the text did not fit, the last part ends with the mark */
};

/* Splits `text` into at most `max_parts` pieces of at most `max_units` UTF-16
 * code units. Nothing is lost except whitespace at cut points. When even
 * `max_parts` pieces are not enough, the last piece ends with `truncated_mark`
 * (which counts toward its limit). Empty or all-whitespace input gives n == 0.
 * Returns 0. Free with text_parts_free. */
int format_split(const char *text, size_t len, size_t max_units, size_t max_parts,
                 const char *truncated_mark, struct text_parts *out);
void text_parts_free(struct text_parts *p);

/* Markdown conversion, then format_split, which then never ends a piece
 * with a heading whose section would start in the next one. */
int format_answer_split(const char *md, size_t len, size_t max_units, size_t max_parts,
                        const char *truncated_mark, struct text_parts *out);

/* format_answer_split at LINE's limits (5000 units, 5 messages, "(truncated)"). */
int format_answer(const char *md, size_t len, struct text_parts *out);

#endif
