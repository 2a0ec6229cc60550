/* redact.h - find secrets in a piece of text and mask them.
 *
 * Pure: the caller passes the text and the secrets; nothing is kept between
 * calls. Used on every log line (obs/log.c), so a secret that reaches a
 * message by any path (an upstream error body that echoes the API key, a
 * header copied into an error) is masked before it is written.
 *
 * What is masked:
 *   - every whole occurrence of each given secret value, case-sensitive,
 *     overlapping occurrences included. Values shorter than REDACT_MIN_LEN
 *     bytes are ignored: masking a short value ("test", "abc") would hide
 *     common words everywhere, and such a value is no real secret anyway.
 *     A secret cut short by a truncated message is not recognized, so
 *     code that truncates upstream text should not cut inside a token;
 *   - the credentials after "Bearer " (any case, one or more spaces): a run
 *     of at least REDACT_MIN_LEN characters of RFC 6750's token68 set;
 *   - OpenAI/DashScope-style keys: "sk-" followed by at least 16 of
 *     [A-Za-z0-9_-], where "sk" does not continue a longer word.
 *
 * Each maximal run of masked bytes becomes one mask: "[redacted NAME]" when
 * the run starts with a named secret, else "[redacted]". Around a key
 * shape, "Bearer " and "sk-" are kept, so a reader still sees what it was. */
#ifndef LINEBOT_REDACT_H
#define LINEBOT_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#define REDACT_MIN_LEN 8

struct redact_secret {
    const char *name;  /* what the mask says (a setting's name), may be NULL */
    const char *value; /* NULL or shorter than REDACT_MIN_LEN: ignored */
};

/* True when `value` is long enough to be masked (see REDACT_MIN_LEN). */
bool redact_is_maskable(const char *value);

/* A malloc'd copy of `text` (NULL only for NULL) with every secret among
 * secrets[0..n) and every key-shaped string masked. */
char *redact_text(const char *text, const struct redact_secret *secrets, size_t n);

/* Where to cut `s` (`len` bytes) to keep at most `max` bytes: never inside a
 * UTF-8 sequence, nor inside a run of credential characters ([A-Za-z0-9] and
 * - _ . ~ + / =), which goes whole. A piece of an API key that a provider
 * echoed would otherwise be left, and masking, which matches whole secrets,
 * could not recognize it. Returns `len` when it fits. */
size_t redact_cut(const char *s, size_t len, size_t max);

#endif
