/* kb_answer.c - the knowledge base's sources in the prompt, and the list of
 * sources at the end of the reply (see kb_answer.h). */
#include "core/kb_answer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/utf8.h"

static size_t chars_of(const char *s)
{
    return s ? utf8_chars(s, strlen(s)) : 0;
}

size_t kb_answer_pick(const struct kb_source *src, size_t n, size_t budget)
{
    size_t used = 0, picked = 0;
    for (; picked < n && picked < KB_SOURCES_MAX; picked++) {
        size_t c = chars_of(src[picked].body);
        if (picked > 0 && used + c > budget)
            break;
        used += c;
    }
    return picked;
}

static void add(struct buf *b, const char *s, size_t len)
{
    if (buf_add(b, s, len) != 0)
        abort(); /* the cap is far above any prompt */
}

static void adds(struct buf *b, const char *s)
{
    add(b, s, strlen(s));
}

/* One line of a title or heading: line breaks become spaces. */
static void add_line(struct buf *b, const char *s)
{
    for (; s && *s; s++)
        add(b, *s == '\n' || *s == '\r' || *s == '\t' ? " " : s, 1);
}

char *kb_answer_context(const struct kb_source *src, size_t n, size_t budget)
{
    struct buf b;
    size_t picked = kb_answer_pick(src, n, budget);

    buf_init(&b, SIZE_MAX / 2);
    adds(&b, "Answer the question from the numbered sources below, taken from the operator's documents. "
             "Cite the sources you use as [1], [2] and so on. If the sources do not contain the answer, "
             "say that you do not know it from the documents. Answer in the language of the question.\n");
    for (size_t i = 0; i < picked; i++) {
        char num[32];
        snprintf(num, sizeof num, "\n[%zu] ", i + 1);
        adds(&b, num);
        /* The heading path often starts with the title (a Markdown file's first heading). */
        const char *title = src[i].title ? src[i].title : "", *heading = src[i].heading ? src[i].heading : "";
        size_t tlen = strlen(title);
        bool starts = tlen > 0 && strncmp(heading, title, tlen) == 0 &&
                      (heading[tlen] == '\0' || strncmp(heading + tlen, " > ", 3) == 0);
        if (!starts) {
            add_line(&b, title);
            if (*heading)
                adds(&b, " > ");
        }
        add_line(&b, heading);
        adds(&b, "\n");
        const char *body = src[i].body ? src[i].body : "";
        size_t len = strlen(body);
        len = utf8_chars_prefix(body, len, budget); /* only the first can be longer: cut it */
        add(&b, body, len);
        adds(&b, "\n");
    }
    return buf_take(&b, NULL);
}

/* Reads a number at *p (ASCII or full-width digits); 0 when there is none. */
static size_t read_number(const char **p)
{
    size_t v = 0;
    bool any = false;
    for (;;) {
        const unsigned char *s = (const unsigned char *)*p;
        if (*s >= '0' && *s <= '9') {
            v = v * 10 + (size_t)(*s - '0');
            *p += 1;
        } else if (s[0] == 0xef && s[1] == 0xbc && s[2] >= 0x90 && s[2] <= 0x99) { /* ０..９ */
            v = v * 10 + (size_t)(s[2] - 0x90);
            *p += 3;
        } else {
            break;
        }
        any = true;
        if (v > 1000000)
            return 0;
    }
    return any ? v : 0;
}

size_t kb_answer_cited(const char *answer, size_t n, bool *cited)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        cited[i] = false;
    for (const char *p = answer ? answer : ""; *p;) {
        bool open = *p == '[';
        bool wide = strncmp(p, "\xef\xbc\xbb", 3) == 0; /* ［ */
        if (!open && !wide) {
            p++;
            continue;
        }
        p += open ? 1 : 3;
        /* [1], [1, 2], [1,2,3] */
        for (;;) {
            while (*p == ' ')
                p++;
            size_t v = read_number(&p);
            if (v == 0)
                break;
            while (*p == ' ')
                p++;
            bool closes = *p == ']' || strncmp(p, "\xef\xbc\xbd", 3) == 0; /* ］ */
            bool more = *p == ',' || strncmp(p, "\xef\xbc\x8c", 3) == 0 || strncmp(p, "\xe3\x80\x81", 3) == 0;
            if (!closes && !more)
                break;
            if (v <= n && !cited[v - 1]) {
                cited[v - 1] = true;
                count++;
            }
            if (closes)
                break;
            p += *p == ',' ? 1 : 3;
        }
    }
    return count;
}

char *kb_answer_footer(const char *label, const struct kb_source *src, size_t n, const char *answer)
{
    if (n == 0)
        return xstrdup("");
    bool *cited = xcalloc(n, sizeof *cited);
    size_t count = kb_answer_cited(answer, n, cited);
    struct buf b;
    buf_init(&b, SIZE_MAX / 2);
    adds(&b, "\n\n");
    add_line(&b, label);
    for (size_t i = 0; i < n; i++) {
        if (count > 0 ? !cited[i] : i >= KB_UNCITED_LISTED)
            continue;
        char num[32];
        snprintf(num, sizeof num, "\n[%zu] ", i + 1);
        adds(&b, num);
        add_line(&b, src[i].title);
    }
    free(cited);
    return buf_take(&b, NULL);
}
