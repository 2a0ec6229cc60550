/* kb.h - `linebot kb add | sync | list | remove | search | bind | unbind`:
 * the operator's knowledge base (issue 12), in the store named by
 * LINEBOT_DB (SQLite or PostgreSQL). */
#ifndef LINEBOT_CLI_KB_H
#define LINEBOT_CLI_KB_H

/* argv[0] is "kb". Reads only LINEBOT_DB from `env`. Prints the result
 * lines on stdout, problems on stderr (one line each). Returns the exit
 * status: 0 success, 1 something failed (a path that could not be added, the
 * store; what did work stays), 2 usage error. */
int cli_kb(int argc, char **argv, char *const *env);

extern const char cli_kb_usage[];

#endif
