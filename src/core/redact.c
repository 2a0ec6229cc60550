/* redact.c - find secrets in a piece of text and mask them (see redact.h).
 *
 * Two steps. First every byte that belongs to a secret is marked, each
 * secret and each key shape on its own, so overlapping occurrences (two
 * secrets sharing bytes, one secret inside another) are all covered and no
 * tail of one survives because another matched first. Then each maximal run
 * of marked bytes is written as one mask. The label a byte carries says what
 * the mask is called; configured secrets are marked before key shapes, so a
 * configured key keeps its name even though it also looks like "sk-...". */
#define _GNU_SOURCE /* memmem, strcasestr */
#include "core/redact.h"

#include "core/alloc.h"
#include "core/utf8.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The label of a masked byte that no named secret covers. */
static const char GENERIC[] = "";

bool redact_is_maskable(const char *value)
{
    return value && strlen(value) >= REDACT_MIN_LEN;
}

static bool is_alnum(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [A-Za-z0-9_-]: what an "sk-" key is made of. */
static bool is_key_char(unsigned char c)
{
    return is_alnum(c) || c == '_' || c == '-';
}

/* RFC 6750's b64token (token68): ALPHA DIGIT - . _ ~ + / then '=' padding. */
static bool is_token68_char(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

/* Labels [from, to) that nothing labelled yet. */
static void mark(const char **label, size_t from, size_t to, const char *name)
{
    for (size_t i = from; i < to; i++)
        if (!label[i])
            label[i] = name;
}

static void mark_secret(const char *text, size_t len, const char **label, const struct redact_secret *s)
{
    if (!redact_is_maskable(s->value))
        return;
    size_t n = strlen(s->value);
    const char *name = s->name && s->name[0] ? s->name : GENERIC;
    for (size_t i = 0; i + n <= len; i++)
        if (text[i] == s->value[0] && memcmp(text + i, s->value, n) == 0)
            mark(label, i, i + n, name);
}

/* "Bearer <token>": the token, when it is long enough to be a credential. */
static void mark_bearer(const char *text, size_t len, const char **label)
{
    static const char word[] = "bearer";
    const size_t wlen = sizeof(word) - 1;
    for (size_t i = 0; i + wlen < len; i++) {
        if (strncasecmp(text + i, word, wlen) != 0 || (i > 0 && is_alnum((unsigned char)text[i - 1])))
            continue;
        size_t t = i + wlen;
        if (text[t] != ' ')
            continue;
        while (t < len && text[t] == ' ')
            t++;
        size_t end = t;
        while (end < len && is_token68_char((unsigned char)text[end]))
            end++;
        while (end < len && text[end] == '=')
            end++;
        if (end - t >= REDACT_MIN_LEN)
            mark(label, t, end, GENERIC);
    }
}

/* "sk-" and 16 or more key characters, not inside a longer word ("risk-..."). */
static void mark_sk_keys(const char *text, size_t len, const char **label)
{
    for (size_t i = 0; i + 3 <= len; i++) {
        if (memcmp(text + i, "sk-", 3) != 0 || (i > 0 && is_key_char((unsigned char)text[i - 1])))
            continue;
        size_t end = i + 3;
        while (end < len && is_key_char((unsigned char)text[end]))
            end++;
        if (end - (i + 3) >= 16)
            mark(label, i + 3, end, GENERIC);
    }
}

/* Writes the result into `out` (when not NULL); returns its length. */
static size_t emit(const char *text, size_t len, const char **label, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (!label[i]) {
            if (out)
                out[o] = text[i];
            o++;
            i++;
            continue;
        }
        const char *name = label[i];
        while (i < len && label[i])
            i++;
        const char *parts[] = {"[redacted", name[0] ? " " : "", name, "]"};
        for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
            size_t n = strlen(parts[k]);
            if (out)
                memcpy(out + o, parts[k], n);
            o += n;
        }
    }
    return o;
}

/* Whether anything in `text` could be masked: one pass per pattern, with no
 * allocation, so that a log line without a secret (nearly all of them) costs
 * a copy and not a label per byte. False only when nothing would be masked. */
static bool may_hold_secret(const char *text, size_t len, const struct redact_secret *secrets, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (redact_is_maskable(secrets[i].value) &&
            memmem(text, len, secrets[i].value, strlen(secrets[i].value)) != NULL)
            return true;
    return strcasestr(text, "bearer ") != NULL || memmem(text, len, "sk-", 3) != NULL;
}

char *redact_text(const char *text, const struct redact_secret *secrets, size_t n)
{
    if (!text)
        return NULL;
    size_t len = strlen(text);
    if (!may_hold_secret(text, len, secrets, n))
        return xstrdup(text);
    const char **label = xcalloc(len ? len : 1, sizeof *label);
    for (size_t i = 0; i < n; i++)
        mark_secret(text, len, label, &secrets[i]);
    mark_bearer(text, len, label);
    mark_sk_keys(text, len, label);
    size_t out_len = emit(text, len, label, NULL);
    char *out = xmalloc(out_len + 1);
    emit(text, len, label, out);
    out[out_len] = '\0';
    free(label);
    return out;
}

/* Part of a credential: the characters API keys, tokens and base64 are made of. */
static bool is_token_char(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '/' || c == '=';
}

size_t redact_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t cut = utf8_prefix(s, len, max);
    if (is_token_char((unsigned char)s[cut]))
        while (cut > 0 && is_token_char((unsigned char)s[cut - 1]))
            cut--;
    return cut;
}
