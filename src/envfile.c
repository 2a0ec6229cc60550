/* envfile.c - reads a .env file and sets what the environment lacks.
 *
 * The parsing is core/dotenv.c; this is the thin shell around it: read the
 * file (with a size cap: it is a settings file, not a data file), then
 * setenv without overwriting. An error is printed by the caller and names
 * the file and the line, never a value. */
#include "envfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/dotenv.h"

#define ENVFILE_MAX (4 * 1024 * 1024)

/* The file's bytes in `out`. Returns 0, 1 when it does not exist, or -1 with `err` set. */
static int read_file(const char *path, struct buf *out, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "%.300s: cannot be read: %s", path, strerror(errno));
        return -1;
    }
    char chunk[8192];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
        if (buf_add(out, chunk, n) != 0) {
            snprintf(err, errlen, "%.300s: is larger than %d MiB: is it a settings file?", path,
                     ENVFILE_MAX / (1024 * 1024));
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(fp)) {
        snprintf(err, errlen, "%.300s: cannot be read: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(fp);
    return rc;
}

int envfile_apply(const char *path, bool required, char *err, size_t errlen)
{
    struct buf text;
    buf_init(&text, ENVFILE_MAX);
    int r = read_file(path, &text, err, errlen);
    if (r == 1 && !required) {
        buf_free(&text);
        return 0;
    }
    if (r == 1)
        snprintf(err, errlen, "%.300s: no such file", path);
    if (r != 0) {
        buf_free(&text);
        return -1;
    }
    struct dotenv d;
    size_t line = 0;
    char why[160];
    int rc = dotenv_parse(buf_str(&text), text.len, &d, &line, why, sizeof why);
    buf_free(&text);
    if (rc != 0) {
        snprintf(err, errlen, "%.300s:%zu: %s", path, line, why);
        return -1;
    }
    /* Which names the real environment has, decided before any is set, so
     * that a name given twice in the file takes its last value. */
    bool *real = xcalloc(d.n ? d.n : 1, sizeof *real);
    for (size_t i = 0; i < d.n; i++)
        real[i] = getenv(d.entries[i].name) != NULL;
    for (size_t i = 0; i < d.n; i++)
        if (!real[i] && setenv(d.entries[i].name, d.entries[i].value, 1) != 0) {
            snprintf(err, errlen, "%.300s: %.100s cannot be set: %s", path, d.entries[i].name, strerror(errno));
            rc = -1;
            break;
        }
    free(real);
    dotenv_free(&d);
    return rc;
}
