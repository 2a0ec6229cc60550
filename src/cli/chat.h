/* chat.h - `linebot chat`: the bot in a terminal, before LINE is connected.
 *
 * The real pipeline runs: each line typed becomes a webhook, signed with a
 * secret made for this run, that goes through ingest into the inbox; the
 * worker's stages answer it with the configured model and deliver through
 * the real LINE client, which talks to an in-process stand-in (chat_line.c)
 * over a Unix socket. /image PATH and /file PATH send a file as LINE's image
 * or file message, whose bytes the stand-in serves as LINE's content API
 * does. No LINE_* setting is needed and no port is opened.
 * Without --db the store is a temporary file, removed on exit: never
 * LINEBOT_DB, so a running server never sees these events. */
#ifndef LINEBOT_CLI_CHAT_H
#define LINEBOT_CLI_CHAT_H

/* argv[0] is "chat". Returns the exit status: 0 on /quit or end of input,
 * 1 when the bot cannot start, 2 on a usage or settings error, 130 on Ctrl-C. */
int cli_chat(int argc, char **argv, char *const *env);

extern const char cli_chat_usage[];

#endif
