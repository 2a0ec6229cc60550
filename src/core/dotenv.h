/* dotenv.h - the text of a .env file -> NAME/value pairs.
 *
 * The usual dotenv syntax, as docker compose and python-dotenv read it:
 *   # a comment                      blank lines are skipped too
 *   NAME=value                       spaces around the name, `=` and an
 *   export NAME=value                unquoted value are dropped; ` #` starts
 *   NAME=value # a comment           a comment after an unquoted value
 *   NAME='value'                     single quotes: taken as they are
 *   NAME="a\"b\n"                    double quotes: \n \r \t \" \\ \$ escapes
 * Quoted values may span lines. CRLF line ends are read as LF. There is no
 * ${VAR} expansion. An error names the line and what is wrong with it, never
 * the value (the file holds secrets). Pure: the caller reads the file. */
#ifndef LINEBOT_CORE_DOTENV_H
#define LINEBOT_CORE_DOTENV_H

#include <stddef.h>

struct dotenv_entry {
    char *name;
    char *value;
};

struct dotenv {
    struct dotenv_entry *entries; /* in file order; a name may come twice (the caller picks) */
    size_t n;
};

/* Parses `len` bytes of `text` into `out`. Returns 0, or -1 with *line set to
 * the 1-based line of the problem and `err` saying what it is; `out` is empty
 * then. */
int dotenv_parse(const char *text, size_t len, struct dotenv *out, size_t *line, char *err, size_t errlen);
void dotenv_free(struct dotenv *d);

#endif
