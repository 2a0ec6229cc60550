/* kb_chunk.c - documents read into headings and paragraphs, and cut into
 * chunks at structure first, then at sentence ends (see kb_chunk.h). */
#include "core/kb_chunk.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/utf8.h"

#define MAX_LEVELS 6

/* ---- small text helpers ---- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* A malloc'd copy of s[0, len) without the white space at both ends. */
static char *trimmed(const char *s, size_t len)
{
    while (len > 0 && is_space(*s)) {
        s++;
        len--;
    }
    while (len > 0 && is_space(s[len - 1]))
        len--;
    return xstrndup(s, len);
}

/* The code point at s[i] (s is valid UTF-8) and its length in *n. */
static int32_t cp_at(const char *s, size_t len, size_t i, size_t *n)
{
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
    *n = l > 0 ? (size_t)l : 1;
    return l > 0 ? cp : 0xfffd;
}

/* ---- blocks ---- */

static void add_block(struct kb_doc *doc, size_t *cap, enum kb_block_kind kind, int level, const char *s, size_t len)
{
    char *text = trimmed(s, len);
    if (!*text) {
        free(text);
        return;
    }
    if (doc->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        doc->blocks = xrealloc_array(doc->blocks, *cap, sizeof *doc->blocks);
    }
    doc->blocks[doc->n++] = (struct kb_block){kind, level, text};
}

/* "# Title #" -> level 1, text "Title"; 0 when the line is no ATX heading. */
static int atx_heading(const char *line, size_t len, const char **text, size_t *text_len)
{
    size_t i = 0, level = 0;
    while (i < len && i < 3 && line[i] == ' ')
        i++;
    while (i < len && line[i] == '#' && level < 7) {
        i++;
        level++;
    }
    if (level == 0 || level > MAX_LEVELS || (i < len && line[i] != ' ' && line[i] != '\t'))
        return 0;
    size_t end = len;
    while (end > i && is_space(line[end - 1]))
        end--;
    size_t hashes = end;
    while (hashes > i && line[hashes - 1] == '#')
        hashes--;
    if (hashes < end && (hashes == i || line[hashes - 1] == ' ' || line[hashes - 1] == '\t'))
        end = hashes; /* closing #s */
    *text = line + i;
    *text_len = end - i;
    return (int)level;
}

/* A setext underline ("===" or "---", up to 3 spaces before): 1, 2, else 0. */
static int setext_level(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && i < 3 && line[i] == ' ')
        i++;
    if (i >= len || (line[i] != '=' && line[i] != '-'))
        return 0;
    char c = line[i];
    while (i < len && line[i] == c)
        i++;
    while (i < len && is_space(line[i]))
        i++;
    return i == len ? (c == '=' ? 1 : 2) : 0;
}

static bool fence_line(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && i < 3 && line[i] == ' ')
        i++;
    return len - i >= 3 && (strncmp(line + i, "```", 3) == 0 || strncmp(line + i, "~~~", 3) == 0);
}

static bool blank_line(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_space(line[i]))
            return false;
    return true;
}

void kb_doc_from_text(const char *text, size_t len, bool markdown, struct kb_doc *doc)
{
    struct buf para;
    size_t cap = 0;
    bool in_fence = false;

    memset(doc, 0, sizeof *doc);
    buf_init(&para, SIZE_MAX / 2);
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t line_len = nl ? (size_t)(nl - (text + at)) : len - at;
        const char *line = text + at;
        at += line_len + (nl ? 1 : 0);
        if (line_len > 0 && line[line_len - 1] == '\r')
            line_len--;

        const char *h = NULL;
        size_t h_len = 0;
        int level = 0;
        if (markdown && fence_line(line, line_len)) {
            in_fence = !in_fence;
        } else if (!in_fence && blank_line(line, line_len)) {
            add_block(doc, &cap, KB_BLOCK_PARAGRAPH, 0, buf_str(&para), para.len);
            buf_reset(&para);
            continue;
        } else if (markdown && !in_fence && (level = atx_heading(line, line_len, &h, &h_len)) > 0) {
            add_block(doc, &cap, KB_BLOCK_PARAGRAPH, 0, buf_str(&para), para.len);
            buf_reset(&para);
            add_block(doc, &cap, KB_BLOCK_HEADING, level, h, h_len);
            continue;
        } else if (markdown && !in_fence && para.len > 0 && (level = setext_level(line, line_len)) > 0) {
            add_block(doc, &cap, KB_BLOCK_HEADING, level, buf_str(&para), para.len);
            buf_reset(&para);
            continue;
        } else if (markdown && !in_fence && para.len == 0 && setext_level(line, line_len) == 2) {
            continue; /* a thematic break "---" */
        }
        if (para.len > 0 && buf_add(&para, "\n", 1) != 0)
            abort(); /* the cap is beyond any document in memory */
        if (buf_add(&para, line, line_len) != 0)
            abort();
    }
    add_block(doc, &cap, KB_BLOCK_PARAGRAPH, 0, buf_str(&para), para.len);
    buf_free(&para);
}

/* The first line of s, cut to KB_TITLE_MAX characters (malloc'd), or NULL
 * when s has no non-blank line. */
static char *first_line(const char *s)
{
    while (*s) {
        size_t len = strcspn(s, "\n");
        char *line = trimmed(s, len);
        if (*line) {
            size_t bytes = 0, chars = 0, n;
            size_t line_len = strlen(line);
            while (bytes < line_len && chars < KB_TITLE_MAX) {
                cp_at(line, line_len, bytes, &n);
                bytes += n;
                chars++;
            }
            line[bytes] = '\0';
            for (char *p = line; *p; p++)
                if (*p == '\t' || *p == '\r')
                    *p = ' ';
            return line;
        }
        free(line);
        s += len + (s[len] == '\n');
    }
    return NULL;
}

char *kb_doc_title(const struct kb_doc *doc, const char *fallback)
{
    char *t = doc->title ? first_line(doc->title) : NULL;
    for (size_t i = 0; !t && i < doc->n; i++)
        if (doc->blocks[i].kind == KB_BLOCK_HEADING)
            t = first_line(doc->blocks[i].text);
    for (size_t i = 0; !t && i < doc->n; i++)
        t = first_line(doc->blocks[i].text);
    if (!t)
        t = first_line(fallback ? fallback : "");
    return t ? t : xstrdup("");
}

void kb_doc_free(struct kb_doc *doc)
{
    if (!doc)
        return;
    for (size_t i = 0; i < doc->n; i++)
        free(doc->blocks[i].text);
    free(doc->blocks);
    free(doc->title);
    memset(doc, 0, sizeof *doc);
}

/* ---- sentences ---- */

/* A piece of a paragraph: a sentence with the spaces after it, or a part of
 * a sentence too long for one chunk. */
struct unit {
    const char *s;
    size_t len, chars;
    bool starts_paragraph;
    bool cut;          /* a part of a longer sentence: parts overlap by themselves */
};

struct units {
    struct unit *items;
    size_t n, cap;
};

static void units_add(struct units *u, struct unit unit)
{
    if (u->n == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 32;
        u->items = xrealloc_array(u->items, u->cap, sizeof *u->items);
    }
    u->items[u->n++] = unit;
}

static bool sentence_end(int32_t cp)
{
    return cp == 0x3002 /* 。 */ || cp == 0xff01 /* ！ */ || cp == 0xff1f /* ？ */ || cp == '!' ||
           cp == '?' || cp == 0xff0e /* ． */ || cp == 0xff61 /* ｡ */ || cp == '\n';
}

/* Closing quotes and brackets that stay with the sentence they end. */
static bool closer(int32_t cp)
{
    return cp == 0x300d || cp == 0x300f || cp == 0xff09 || cp == ')' || cp == '"' || cp == '\'' ||
           cp == 0x201d || cp == 0x2019 || cp == 0x3011 || cp == ']';
}

/* Cuts a sentence longer than `target` characters into parts of `target`
 * characters that overlap by `overlap`, each ending at a space when one is
 * near its end (Latin text), else anywhere between characters. */
static void add_long_sentence(struct units *u, const char *s, size_t len, bool starts_paragraph, size_t target,
                              size_t overlap)
{
    size_t at = 0;
    bool first = true;
    while (at < len) {
        size_t end = at, chars = 0, n, last_space = 0, chars_at_space = 0;
        while (end < len && chars < target) {
            int32_t cp = cp_at(s, len, end, &n);
            end += n;
            chars++;
            if (cp == ' ' && chars > target * 4 / 5) {
                last_space = end;
                chars_at_space = chars;
            }
        }
        if (end < len && last_space > at) {
            end = last_space;
            chars = chars_at_space;
        }
        units_add(u, (struct unit){s + at, end - at, chars, starts_paragraph && first, true});
        first = false;
        if (end >= len)
            break;
        /* The next part starts `overlap` characters before this one ends. */
        size_t back = end, back_chars = 0;
        while (back > at && back_chars < overlap && back_chars + 1 < chars) {
            back--;
            while (back > at && ((unsigned char)s[back] & 0xc0) == 0x80)
                back--;
            back_chars++;
        }
        at = back > at ? back : end;
    }
}

/* The sentences of a paragraph, in order. */
static void split_sentences(struct units *u, const char *s, size_t len, size_t target, size_t overlap)
{
    size_t start = 0, i = 0, n;
    bool first = true;

    while (i < len) {
        int32_t cp = cp_at(s, len, i, &n);
        i += n;
        bool end = sentence_end(cp);
        if (cp == '.' || cp == 0xff0e) {
            size_t m;
            end = i >= len || is_space(s[i]) || closer(cp_at(s, len, i, &m));
        }
        if (!end && i < len)
            continue;
        while (i < len) { /* closers, then the spaces after the sentence */
            int32_t next = cp_at(s, len, i, &n);
            if (!closer(next) && !sentence_end(next) && next != ' ' && next != '\t' && next != 0x3000)
                break;
            i += n;
        }
        size_t chars = utf8_chars(s + start, i - start);
        if (chars > target)
            add_long_sentence(u, s + start, i - start, first, target, overlap);
        else
            units_add(u, (struct unit){s + start, i - start, chars, first, false});
        first = false;
        start = i;
    }
}

/* ---- chunks ---- */

struct chunker {
    struct kb_pieces *out;
    size_t cap;
    const char *heading;
    const struct unit *units; /* the section's units */
    size_t from, to;          /* the current chunk: units[from, to) */
    size_t chars;
    size_t overlap_end;       /* units before this index were repeated from the chunk before */
};

static void emit(struct chunker *c)
{
    if (c->to <= c->from)
        return;
    struct buf text;
    buf_init(&text, SIZE_MAX / 2);
    for (size_t i = c->from; i < c->to; i++) {
        const struct unit *u = &c->units[i];
        if (i > c->from && u->starts_paragraph && buf_add(&text, "\n", 1) != 0)
            abort();
        if (buf_add(&text, u->s, u->len) != 0)
            abort();
    }
    char *t = trimmed(buf_str(&text), text.len);
    buf_free(&text);
    if (!*t) {
        free(t);
        return;
    }
    struct kb_pieces *out = c->out;
    if (out->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        out->items = xrealloc_array(out->items, c->cap, sizeof *out->items);
    }
    out->items[out->n] = (struct kb_piece){xstrdup(c->heading), t, (int)out->n};
    out->n++;
}

/* Cuts one section (the paragraphs under one heading) into chunks. */
static void chunk_section(struct chunker *c, const struct units *u, size_t target, size_t overlap)
{
    c->units = u->items;
    c->from = c->to = c->overlap_end = 0;
    c->chars = 0;
    for (size_t i = 0; i < u->n; i++) {
        const struct unit *unit = &u->items[i];
        if (c->to > c->from && c->chars + unit->chars > target) {
            if (c->to <= c->overlap_end) {
                /* Only the overlap so far: drop it rather than make a chunk of it alone. */
                c->from = c->to;
                c->chars = 0;
            } else {
                emit(c);
                /* The next chunk starts with the last whole sentences of this one. */
                size_t from = c->to, chars = 0;
                while (from > c->from + 1 && !unit->cut && !c->units[from - 1].cut &&
                       chars + c->units[from - 1].chars <= overlap &&
                       chars + c->units[from - 1].chars + unit->chars <= target)
                    chars += c->units[--from].chars;
                c->from = from;
                c->chars = chars;
                c->overlap_end = c->to;
            }
        }
        c->to = i + 1;
        c->chars += unit->chars;
    }
    if (c->to > c->overlap_end)
        emit(c);
}

void kb_chunk(const struct kb_doc *doc, size_t target, size_t overlap, struct kb_pieces *out)
{
    struct chunker c = {.out = out};
    struct units u = {0};
    const char *path[MAX_LEVELS] = {0};
    struct buf heading;

    memset(out, 0, sizeof *out);
    if (target == 0)
        target = KB_CHUNK_TARGET;
    if (overlap >= target)
        overlap = target / 2;
    buf_init(&heading, SIZE_MAX / 2);
    c.heading = "";
    for (size_t b = 0; b <= doc->n; b++) {
        const struct kb_block *block = b < doc->n ? &doc->blocks[b] : NULL;
        if (block && block->kind == KB_BLOCK_PARAGRAPH) {
            split_sentences(&u, block->text, strlen(block->text), target, overlap);
            continue;
        }
        /* A heading, or the end: the section so far becomes chunks. */
        chunk_section(&c, &u, target, overlap);
        u.n = 0;
        if (!block)
            break;
        int level = block->level < 1 ? 1 : block->level > MAX_LEVELS ? MAX_LEVELS : block->level;
        path[level - 1] = block->text;
        for (int l = level; l < MAX_LEVELS; l++)
            path[l] = NULL;
        buf_reset(&heading);
        for (int l = 0; l < MAX_LEVELS; l++) {
            if (!path[l])
                continue;
            if ((heading.len > 0 && buf_add(&heading, " > ", 3) != 0) || buf_adds(&heading, path[l]) != 0)
                abort();
        }
        for (size_t i = 0; i < heading.len; i++) /* a setext heading may span lines */
            if (heading.data[i] == '\n' || heading.data[i] == '\r' || heading.data[i] == '\t')
                heading.data[i] = ' ';
        c.heading = buf_str(&heading);
    }
    free(u.items);
    buf_free(&heading);
}

void kb_pieces_free(struct kb_pieces *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].heading);
        free(p->items[i].text);
    }
    free(p->items);
    memset(p, 0, sizeof *p);
}
