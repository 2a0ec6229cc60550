/* summary.h - long conversations (issue 11): when a chat's history outgrows
 * LINEBOT_HISTORY_TURNS or LINEBOT_HISTORY_CHARS, its oldest turns are folded
 * into a rolling summary of the chat, written by a background model call
 * (run/stage_summary.c) and sent to the model as context.
 *
 * Pure: which turns to fold, the prompt that folds them, and what of the
 * model's answer is kept. */
#ifndef LINEBOT_SUMMARY_H
#define LINEBOT_SUMMARY_H

#include <stddef.h>

#include "core/chat.h"

#define SUMMARY_MAX 2000       /* bytes a summary keeps (cut between characters) */
#define SUMMARY_TURNS_MAX 100  /* the newest turns after the summary one fold looks at */

/* How many of the oldest `turns` (user and assistant turns after the
 * summary, oldest first) to fold: 0 while they fit in `max_turns` exchanges
 * (2 * max_turns turns) and `max_chars` UTF-16 units, as the prompt counts
 * them. Once they do not, enough to leave half of each (so that a fold is
 * needed again only after a while), and never so that what is kept starts
 * with the bot's half of an exchange. 0 also when either limit is 0. */
size_t summary_fold_count(const struct turn *turns, size_t n, int max_turns, int max_chars);

/* The system prompt of a fold (recognisable by "running summary"). */
extern const char summary_prompt[];

/* The user message of a fold: the summary so far (may be NULL) and the
 * turns to add, one a line ("User: ...", "Assistant: ...", or the speaker's
 * name in a group). malloc'd. */
char *summary_input(const char *summary, const struct turn *turns, size_t n);

/* What is kept of the model's answer: trimmed, cut at SUMMARY_MAX bytes
 * between characters. NULL when nothing is left or it is not UTF-8. */
char *summary_clean(const char *answer);

/* The note the system prompt gets (starts with a blank line). malloc'd. */
char *summary_prompt_note(const char *summary);

#endif
