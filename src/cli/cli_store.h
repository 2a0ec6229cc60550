/* cli_store.h - what the operator commands (`linebot admin`, `linebot kb`)
 * share about the bot's store: opening LINEBOT_DB with one-line errors, and
 * the chat ids they take. */
#ifndef LINEBOT_CLI_STORE_H
#define LINEBOT_CLI_STORE_H

#include <stdbool.h>

struct store;

/* Opens the store of LINEBOT_DB (read from `env` by config_load_store).
 * Without `may_create`, a SQLite file that does not exist is refused rather
 * than created empty (a mistyped LINEBOT_DB). On failure prints one line,
 * "linebot CMD: ...", to stderr (never the URL: a postgres:// one may hold a
 * password), sets *status to the exit status (2 a setting that does not
 * parse, 1 the store) and returns NULL. */
struct store *cli_store_open(const char *cmd, char *const *env, bool may_create, int *status);

/* A user, group or room id as LINE makes them (U, C or R and 32 hexadecimal
 * digits), or anything of the same alphabet, so that ids of test or
 * imported data work too: 1 to 128 letters, digits, '-', '_' and '.'. */
bool cli_chat_id_valid(const char *id);

#endif
