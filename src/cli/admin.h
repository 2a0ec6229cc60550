/* admin.h - `linebot admin stats | chats | history | forget | export`: what
 * the bot keeps in its store (LINEBOT_DB), shown to the operator and erased
 * on request. */
#ifndef LINEBOT_CLI_ADMIN_H
#define LINEBOT_CLI_ADMIN_H

/* argv[0] is "admin". Reads only LINEBOT_DB from `env` (config_load_store).
 * Writes a table to stdout, or JSON with --json. Returns the exit status:
 * 0 success, 1 the store failed (could not be opened or read, or the forget
 * was not committed), 2 usage error (the usage is printed to stderr). */
int cli_admin(int argc, char **argv, char *const *env);

extern const char cli_admin_usage[];

#endif
