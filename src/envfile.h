/* envfile.h - a .env file -> the process environment, before anything reads it.
 *
 * `linebot --env-file PATH` and ./.env put settings in a file instead of the
 * shell. Only variables the real environment does not have are set: a real
 * environment variable always wins, so a deploy can override a checked-in
 * file. Call it at start-up, before any thread exists (setenv is not
 * thread-safe). */
#ifndef LINEBOT_ENVFILE_H
#define LINEBOT_ENVFILE_H

#include <stdbool.h>
#include <stddef.h>

/* Reads `path` (dotenv syntax, core/dotenv.h) and sets each variable that is
 * not in the environment yet. A file that does not exist is an error only
 * when `required`. Returns 0, or -1 with "PATH:LINE: what is wrong" (or
 * "PATH: why it cannot be read") in `err`; never a value. */
int envfile_apply(const char *path, bool required, char *err, size_t errlen);

#endif
