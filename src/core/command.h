/* command.h - the shape every chat command shares: "/word ARGUMENT".
 *
 * The slash and the word may be half-width or the full-width forms a
 * Japanese keyboard types ("／ｍｏｄｅｌ"); the word matches in any case and
 * ends at a blank (the ideographic space "　" too) or the end of the text. /model, /persona, /remember, /memory and /forget all read their
 * argument this way, so that each accepts the same forms. */
#ifndef LINEBOT_COMMAND_H
#define LINEBOT_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

/* When `text` is the command `word` (without its slash): where its argument
 * starts inside `text`, blanks skipped, with *arg_len its length without
 * trailing blanks (0: no argument); the argument is as typed. NULL when `text` (may be NULL) is not
 * that command. */
const char *command_arg(const char *text, const char *word, size_t *arg_len);

/* When the argument `arg` (`len` bytes, as command_arg gives it) starts
 * with the word `word` (lower-case ASCII; any width and case, then a blank
 * or the end): what follows it, blanks skipped, with *rest_len its length.
 * NULL otherwise. "/persona set TEXT", "/files clear", "/forget all". */
const char *command_word(const char *arg, size_t len, const char *word, size_t *rest_len);

/* The argument as a number of at most `max_digits` digits, half- or
 * full-width ("3", "３"): true with *out set, false for anything else. */
bool command_number(const char *arg, size_t len, size_t max_digits, long *out);

/* ' ', tab, CR or LF: what separates a command from its argument. */
bool command_is_blank(unsigned char c);

#endif
