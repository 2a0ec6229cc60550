/* kb_chat.h - a chat's own knowledge base (issue 13): the files its users
 * sent, named KB_CHAT_PREFIX + the chat id (`linebot kb` refuses such names,
 * so that only the bot writes them). The bot adds to it
 * (run/stage_files.c); unfollow, leave, /files clear and `linebot admin
 * forget` remove it through kb_chat_forget. */
#ifndef LINEBOT_KB_CHAT_H
#define LINEBOT_KB_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "io/store.h"

#define KB_CHAT_PREFIX "chat:"

/* The knowledge base of `chat_id` (malloc'd). */
char *kb_chat_name(const char *chat_id);

/* Removes every document of the chat's knowledge base, one by one (each a
 * store_kb_remove): a failure leaves the others to a retry. 0 with
 * *removed set, or -1 (store_last_error). */
int kb_chat_forget(struct store *st, const char *chat_id, int64_t *removed);

#endif
