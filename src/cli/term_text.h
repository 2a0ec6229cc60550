/* term_text.h - text that came from LINE users, documents or a model, made
 * safe to print on an operator's terminal (`linebot admin`, `linebot kb`,
 * `linebot chat`). */
#ifndef LINEBOT_CLI_TERM_TEXT_H
#define LINEBOT_CLI_TERM_TEXT_H

#include <stdbool.h>

/* A malloc'd copy of `s` (NULL: "") that cannot drive a terminal: invalid
 * UTF-8 (one per byte), C0 and C1 controls, DEL and the bidirectional
 * overrides become U+FFFD; a tab is a space; '\n' stays with
 * `keep_newlines`, else it is a space. Never NULL. */
char *term_text_clean(const char *s, bool keep_newlines);

#endif
