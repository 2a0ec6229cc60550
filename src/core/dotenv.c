/* dotenv.c - a .env file's text -> NAME/value pairs (syntax in dotenv.h).
 *
 * A cursor walks the whole text rather than line by line, because a quoted
 * value may span lines. Every way out of a line is checked: a line that is
 * not NAME=value, an unclosed quote, or text after a closing quote is an
 * error, since guessing would hand the bot a credential other than the one
 * written. */
#include "core/dotenv.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"

/* A .env file is small; this bounds a value (a PEM key fits easily). */
#define DOTENV_VALUE_MAX (1024 * 1024)

struct cursor {
    const char *p, *end;
    size_t line;
};

static bool at_end(const struct cursor *c) { return c->p >= c->end; }

/* The byte under the cursor, with "\r\n" read as '\n'. */
static char peek(const struct cursor *c)
{
    if (at_end(c))
        return '\0';
    if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n')
        return '\n';
    return *c->p;
}

static void advance(struct cursor *c)
{
    if (at_end(c))
        return;
    if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n')
        c->p++;
    if (*c->p == '\n')
        c->line++;
    c->p++;
}

static void skip_blanks(struct cursor *c)
{
    while (peek(c) == ' ' || peek(c) == '\t')
        advance(c);
}

static void skip_line(struct cursor *c)
{
    while (!at_end(c) && peek(c) != '\n')
        advance(c);
    advance(c);
}

static bool name_start(char ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_'; }
static bool name_char(char ch) { return name_start(ch) || (ch >= '0' && ch <= '9'); }

/* A value being read; `too_long` once it would pass DOTENV_VALUE_MAX. */
struct value {
    struct buf b;
    bool too_long;
};

static void add_byte(struct value *v, char ch)
{
    if (buf_add(&v->b, &ch, 1) != 0)
        v->too_long = true;
}

/* A quoted value, the cursor on its opening quote. Returns 0, or -1 when the
 * quote is not closed. */
static int quoted_value(struct cursor *c, struct value *value)
{
    char quote = peek(c);
    advance(c);
    while (!at_end(c) && peek(c) != quote) {
        char ch = peek(c);
        if (quote == '"' && ch == '\\' && c->p + 1 < c->end) {
            advance(c);
            char esc = peek(c);
            switch (esc) {
            case 'n': add_byte(value, '\n'); break;
            case 'r': add_byte(value, '\r'); break;
            case 't': add_byte(value, '\t'); break;
            case '"': case '\\': case '$': add_byte(value, esc); break;
            default: /* not an escape: kept as written */
                add_byte(value, '\\');
                add_byte(value, esc);
            }
            advance(c);
            continue;
        }
        if (ch == '\n')
            add_byte(value, '\n'); /* a CRLF inside quotes is one line break */
        else
            add_byte(value, ch);
        advance(c);
    }
    if (at_end(c))
        return -1;
    advance(c); /* the closing quote */
    return 0;
}

/* An unquoted value up to the end of the line or a " #" comment, without its
 * trailing blanks. */
static void plain_value(struct cursor *c, struct value *value)
{
    while (!at_end(c) && peek(c) != '\n') {
        char ch = peek(c);
        if (ch == '#' && (value->b.len == 0 || c->p[-1] == ' ' || c->p[-1] == '\t'))
            break;
        add_byte(value, ch);
        advance(c);
    }
    size_t n = value->b.len;
    while (n > 0 && (buf_str(&value->b)[n - 1] == ' ' || buf_str(&value->b)[n - 1] == '\t'))
        n--;
    buf_truncate(&value->b, n);
}

static void push(struct dotenv *d, size_t *cap, char *name, char *value)
{
    if (d->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        d->entries = xrealloc(d->entries, *cap * sizeof *d->entries);
    }
    d->entries[d->n].name = name;
    d->entries[d->n].value = value;
    d->n++;
}

/* Records the problem at line `line` and returns -1. */
static int fail(size_t line, size_t *out_line, char *err, size_t errlen, const char *what)
{
    *out_line = line;
    snprintf(err, errlen, "%s", what);
    return -1;
}

int dotenv_parse(const char *text, size_t len, struct dotenv *out, size_t *line, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct cursor c = {.p = text, .end = text + len, .line = 1};
    size_t cap = 0;
    if (memchr(text, '\0', len)) {
        const char *nul = memchr(text, '\0', len);
        size_t at = 1;
        for (const char *q = text; q < nul; q++)
            at += *q == '\n';
        return fail(at, line, err, errlen, "holds a NUL byte: is this a text file?");
    }
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) /* a BOM, as Windows editors write it */
        c.p += 3;
    while (!at_end(&c)) {
        skip_blanks(&c);
        if (peek(&c) == '\n' || peek(&c) == '#' || at_end(&c)) {
            skip_line(&c);
            continue;
        }
        size_t start_line = c.line;
        if (c.end - c.p > 7 && memcmp(c.p, "export", 6) == 0 && (c.p[6] == ' ' || c.p[6] == '\t')) {
            c.p += 6;
            skip_blanks(&c);
        }
        const char *name = c.p;
        if (!name_start(peek(&c))) {
            dotenv_free(out);
            return fail(start_line, line, err, errlen,
                        "expected NAME=value (a name is letters, digits and _, not starting with a digit)");
        }
        while (name_char(peek(&c)))
            advance(&c);
        size_t name_len = (size_t)(c.p - name);
        skip_blanks(&c);
        if (peek(&c) != '=') {
            dotenv_free(out);
            return fail(start_line, line, err, errlen, "expected NAME=value (no `=` after the name)");
        }
        advance(&c);
        skip_blanks(&c);
        struct value value = {.too_long = false};
        buf_init(&value.b, DOTENV_VALUE_MAX);
        if (peek(&c) == '"' || peek(&c) == '\'') {
            if (quoted_value(&c, &value) != 0) {
                buf_free(&value.b);
                dotenv_free(out);
                return fail(start_line, line, err, errlen, "the quote that opens the value is never closed");
            }
            skip_blanks(&c);
            if (peek(&c) == '#')
                while (!at_end(&c) && peek(&c) != '\n')
                    advance(&c);
            if (!at_end(&c) && peek(&c) != '\n') {
                buf_free(&value.b);
                dotenv_free(out);
                return fail(c.line, line, err, errlen, "unexpected text after the closing quote");
            }
        } else {
            plain_value(&c, &value);
        }
        if (value.too_long) {
            buf_free(&value.b);
            dotenv_free(out);
            return fail(start_line, line, err, errlen, "the value is longer than 1 MiB");
        }
        skip_line(&c);
        push(out, &cap, xstrndup(name, name_len), buf_take(&value.b, NULL));
    }
    return 0;
}

void dotenv_free(struct dotenv *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->entries[i].name);
        free(d->entries[i].value);
    }
    free(d->entries);
    d->entries = NULL;
    d->n = 0;
}
