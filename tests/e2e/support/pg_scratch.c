/* pg_scratch.c - throwaway PostgreSQL schemas for e2e cases (see pg_scratch.h). */
#include "pg_scratch.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* One statement on its own connection; fails the test on an error. */
static void admin_sql(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect to LINEBOT_TEST_PG_URL: %s", PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

char *pg_scratch_db(const char *url, const char *tag, char *schema, size_t len)
{
    static unsigned counter;
    snprintf(schema, len, "linebot_e2e_%s_%ld_%u", tag, (long)getpid(), counter++);
    char *sql = e2e_printf("CREATE SCHEMA %s", schema);
    admin_sql(url, sql);
    free(sql);
    return e2e_printf("LINEBOT_DB=%s%soptions=-csearch_path%%3D%s", url, strchr(url, '?') ? "&" : "?", schema);
}

void pg_scratch_drop(const char *url, const char *schema)
{
    char *sql = e2e_printf("DROP SCHEMA IF EXISTS %s CASCADE", schema);
    admin_sql(url, sql);
    free(sql);
}

const char *pg_scratch_url(void)
{
    const char *url = getenv("LINEBOT_TEST_PG_URL");
    return url && *url ? url : NULL;
}

void pg_scratch_run(void **state, const char *tag, void (*body)(void **state, const char *db))
{
    const char *url = pg_scratch_url();
    if (!url)
        skip();
    char schema[96];
    char *db = pg_scratch_db(url, tag, schema, sizeof schema);
    body(state, db);
    pg_scratch_drop(url, schema);
    free(db);
}
