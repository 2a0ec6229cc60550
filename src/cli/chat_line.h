/* chat_line.h - the LINE that `linebot chat` talks to: an in-process stand-in.
 *
 * It answers the Messaging API calls the bot makes (reply, push, the loading
 * animation, profiles and group members, and the content of the images and
 * files the terminal sent) on a Unix domain socket, so the bot's
 * own request code runs unchanged (http_route_unix_socket) and no port is
 * opened. What LINE would show, it prints: the texts, quick reply buttons as
 * numbered choices, the loading animation as a spinner on a terminal (a plain
 * line otherwise). Like LINE it takes each reply token once and checks the
 * channel access token. Thread-safe: the bot's workers call it while the
 * terminal's thread reads input. */
#ifndef LINEBOT_CHAT_LINE_H
#define LINEBOT_CHAT_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli/chat_wire.h"

struct chat_line;

/* Listens on `socket_path` (created; removed by chat_line_stop). `token` is
 * the access token the bot must send; `out` gets what LINE would show;
 * `spinner`: animate the loading indicator (a terminal). NULL with `err` set
 * on failure. */
struct chat_line *chat_line_start(const char *socket_path, const char *token, FILE *out, bool spinner, char *err,
                                  size_t errlen);
void chat_line_stop(struct chat_line *line);

/* A reply token the next event carries; LINE accepts one reply with it. */
void chat_line_issue_token(struct chat_line *line, const char *reply_token);

/* Keeps `data` (malloc'd, `len` bytes; taken) as the content of message
 * `message_id`, served at GET /v2/bot/message/{id}/content as LINE serves
 * what users send. Only the last CHAT_LINE_CONTENTS are kept: older ones
 * answer 404, as content LINE no longer has. */
#define CHAT_LINE_CONTENTS 4
void chat_line_add_content(struct chat_line *line, const char *message_id, unsigned char *data, size_t len);

/* Tells the stand-in a user's display name, for the profile calls. */
void chat_line_add_user(struct chat_line *line, const char *user_id, const char *name);

/* The quick reply buttons on show: how many, and a copy of number `n` (from
 * 1). Sending anything takes them away, as in LINE (chat_line_clear_choices). */
size_t chat_line_choice_count(struct chat_line *line);
bool chat_line_choice(struct chat_line *line, size_t n, struct chat_choice *out);
void chat_line_clear_choices(struct chat_line *line);

/* Stops the spinner, if it runs (the bot is done with the event). */
void chat_line_idle(struct chat_line *line);

/* Serialises writes to the terminal with the stand-in's own. */
void chat_line_lock_output(struct chat_line *line);
void chat_line_unlock_output(struct chat_line *line);

#endif
