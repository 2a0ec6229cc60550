/* pg_scratch.h - throwaway PostgreSQL schemas for the e2e tests that run a
 * case on both stores: each case gets a fresh schema of LINEBOT_TEST_PG_URL's
 * database, selected through LINEBOT_DB's search_path, and drops it after. */
#ifndef E2E_PG_SCRATCH_H
#define E2E_PG_SCRATCH_H

#include <stddef.h>

/* A fresh schema named linebot_e2e_<tag>_<pid>_<n> (its name in `schema`)
 * on `url`, and the "LINEBOT_DB=..." override that selects it (malloc'd).
 * Fails the test when PostgreSQL refuses. */
char *pg_scratch_db(const char *url, const char *tag, char *schema, size_t len);

/* Drops the schema and everything in it. */
void pg_scratch_drop(const char *url, const char *schema);

/* LINEBOT_TEST_PG_URL, or NULL when it is unset or empty (then the
 * PostgreSQL cases skip). */
const char *pg_scratch_url(void);

/* The PostgreSQL half of a case that runs on both stores: skips without
 * LINEBOT_TEST_PG_URL, else runs `body(state, db)` with `db` the LINEBOT_DB
 * override of a fresh schema tagged `tag`, and drops the schema after (a
 * failing case keeps it, to be looked at). The SQLite half is body(state, NULL). */
void pg_scratch_run(void **state, const char *tag, void (*body)(void **state, const char *db));

#endif
