/* cli_store.c - opening the bot's store for the operator commands, and the
 * chat ids they take (see cli_store.h). One place, so that `linebot admin`
 * and `linebot kb` refuse the same mistakes with the same words. */
#include "cli/cli_store.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "io/store.h"

#define CHAT_ID_MAX 128

/* A plain file path that does not exist: opening it would create an empty
 * store. */
static bool cli_store_file_missing(const char *db)
{
    if (store_url_is_shared(db) || strncmp(db, "sqlite:", 7) == 0 || strncmp(db, "file:", 5) == 0)
        return false;
    return access(db, F_OK) != 0;
}

struct store *cli_store_open(const char *cmd, char *const *env, bool may_create, int *status)
{
    struct config cfg;
    char err[512];

    if (config_load_store(&cfg, env, err, sizeof err) != 0) {
        fprintf(stderr, "linebot %s: %s\n", cmd, err);
        *status = 2;
        return NULL;
    }
    if (!may_create && cli_store_file_missing(cfg.db)) {
        fprintf(stderr, "linebot %s: LINEBOT_DB: there is no database at %s; set LINEBOT_DB to the bot's store\n",
                cmd, cfg.db);
        config_free(&cfg);
        *status = 1;
        return NULL;
    }
    struct store *st = store_open(cfg.db, err, sizeof err);
    config_free(&cfg);
    if (!st) {
        fprintf(stderr, "linebot %s: LINEBOT_DB: cannot open the store: %s\n", cmd, err);
        *status = 1;
    }
    return st;
}

bool cli_chat_id_valid(const char *id)
{
    size_t len = strlen(id);

    if (len == 0 || len > CHAT_ID_MAX)
        return false;
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return false;
    return true;
}
