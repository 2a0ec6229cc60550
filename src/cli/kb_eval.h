/* kb_eval.h - `linebot kb eval`: how well the knowledge base finds the
 * passage that answers a question (issue 12's measure of retrieval quality).
 *
 * Reads a JSON Lines file of questions and the text expected in the passage
 * that answers each, searches as the bot does, and prints recall@k and MRR,
 * per tag and overall, with one line per question that went wrong. */
#ifndef LINEBOT_CLI_KB_EVAL_H
#define LINEBOT_CLI_KB_EVAL_H

/* argv[0] is "eval". Reads LINEBOT_DB and LINEBOT_KB_MIN_SCORE from `env`.
 * Returns the exit status: 0 evaluated (whatever the figures), 1 the file
 * cannot be read or has a bad line, or the store failed, 2 usage error. */
int cli_kb_eval(int argc, char **argv, char *const *env);

extern const char cli_kb_eval_usage[];

#endif
