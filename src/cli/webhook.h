/* webhook.h - `linebot webhook set URL | get | test [URL]`: the channel's
 * webhook URL at LINE, from the command line. */
#ifndef LINEBOT_CLI_WEBHOOK_H
#define LINEBOT_CLI_WEBHOOK_H

/* argv[0] is "webhook". Reads only the LINE settings from `env`
 * (config_load_line). Returns the exit status: 0 success, 1 failure (LINE
 * refused, could not be reached, or its test failed), 2 usage error. */
int cli_webhook(int argc, char **argv, char *const *env);

extern const char cli_webhook_usage[];

#endif
