/* command.h - the shape every chat command shares: "/word ARGUMENT".
 *
 * The slash may be half-width or the full-width "／" a Japanese keyboard
 * types; the word matches in any case and ends at a blank or the end of the
 * text. /model, /persona, /remember, /memory and /forget all read their
 * argument this way, so that each accepts the same forms. */
#ifndef LINEBOT_COMMAND_H
#define LINEBOT_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

/* When `text` is the command `word` (without its slash): where its argument
 * starts inside `text`, blanks skipped, with *arg_len its length without
 * trailing blanks (0: no argument). NULL when `text` (may be NULL) is not
 * that command. */
const char *command_arg(const char *text, const char *word, size_t *arg_len);

/* ' ', tab, CR or LF: what separates a command from its argument. */
bool command_is_blank(unsigned char c);

#endif
