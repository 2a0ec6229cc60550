/* kb_html.c - an HTML page into headings and paragraphs, with libxml2's
 * HTML parser (see kb_html.h). */
#include "core/kb_html.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <dlfcn.h>
#include <pthread.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/utf8.h"

#define MAX_DEPTH 256 /* deeper elements are read as text of their ancestor's block */

struct reader {
    struct kb_doc *doc;
    size_t cap;
    struct buf para;   /* the paragraph being read */
    bool space;        /* a collapsed space is due before the next text */
};

static bool named(const xmlNode *n, const char *const *names)
{
    for (; *names; names++)
        if (strcasecmp((const char *)n->name, *names) == 0)
            return true;
    return false;
}

static const char *const skipped[] = {"script", "style", "template", "noscript", "head", "nav", "svg",
                                      "iframe", "object", "button", "select", "textarea", NULL};
static const char *const blocks[] = {"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "section",
                                     "article", "main", "aside", "header", "footer", "blockquote", "pre",
                                     "figure", "figcaption", "form", "fieldset", "address", "hr", "body",
                                     "caption", "thead", "tbody", "details", "summary", NULL};
static const char *const cells[] = {"td", "th", NULL};

static void must(int rc)
{
    if (rc != 0)
        abort(); /* the caps are beyond any page held in memory */
}

static void add_block(struct reader *r, enum kb_block_kind kind, int level, struct buf *text)
{
    const char *s = buf_str(text);
    size_t len = text->len;
    while (len > 0 && (*s == ' ' || *s == '\n')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\n'))
        len--;
    if (len > 0) {
        if (r->doc->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 16;
            r->doc->blocks = xrealloc_array(r->doc->blocks, r->cap, sizeof *r->doc->blocks);
        }
        r->doc->blocks[r->doc->n++] = (struct kb_block){kind, level, xstrndup(s, len)};
    }
    buf_reset(text);
}

static void end_paragraph(struct reader *r)
{
    add_block(r, KB_BLOCK_PARAGRAPH, 0, &r->para);
    r->space = false;
}

/* Appends text, collapsing runs of white space into one space unless `pre`. */
static void add_text(struct reader *r, struct buf *to, const char *s, bool pre)
{
    for (; s && *s; s++) {
        char c = *s;
        if (pre) {
            must(buf_add(to, &c, 1));
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
            r->space = true;
            continue;
        }
        if (r->space && to->len > 0 && to->data[to->len - 1] != '\n')
            must(buf_add(to, " ", 1));
        r->space = false;
        must(buf_add(to, &c, 1));
    }
}

/* The text under `n`, white space collapsed (for headings and the title). */
static void text_of(struct reader *r, const xmlNode *n, struct buf *to, int depth)
{
    for (const xmlNode *c = n->children; c && depth < MAX_DEPTH; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)
            add_text(r, to, (const char *)c->content, false);
        else if (c->type == XML_ELEMENT_NODE && !named(c, skipped))
            text_of(r, c, to, depth + 1);
    }
}

static void walk(struct reader *r, const xmlNode *n, bool pre, int depth)
{
    for (const xmlNode *c = n; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            add_text(r, &r->para, (const char *)c->content, pre);
            continue;
        }
        if (c->type != XML_ELEMENT_NODE)
            continue;
        const char *name = (const char *)c->name;
        if (strcasecmp(name, "title") == 0 && !r->doc->title) {
            /* White space collapsed as in a heading; the space due in the
             * paragraph around it stays due. */
            struct buf t;
            buf_init(&t, SIZE_MAX / 2);
            bool space = r->space;
            r->space = false;
            text_of(r, c, &t, depth);
            r->doc->title = buf_take(&t, NULL);
            buf_free(&t);
            r->space = space;
            continue;
        }
        if (named(c, skipped)) {
            if (strcasecmp(name, "head") == 0) /* only its title */
                walk(r, c->children, pre, depth + 1);
            continue;
        }
        if (name[0] && (name[0] == 'h' || name[0] == 'H') && name[1] >= '1' && name[1] <= '6' && !name[2]) {
            struct buf h;
            end_paragraph(r);
            buf_init(&h, SIZE_MAX / 2);
            text_of(r, c, &h, depth);
            add_block(r, KB_BLOCK_HEADING, name[1] - '0', &h);
            buf_free(&h);
            r->space = false;
            continue;
        }
        if (strcasecmp(name, "br") == 0) {
            must(buf_add(&r->para, "\n", 1));
            r->space = false;
            continue;
        }
        bool block = named(c, blocks);
        if (block)
            end_paragraph(r);
        if (named(c, cells))
            r->space = true;
        if (depth < MAX_DEPTH)
            walk(r, c->children, pre || strcasecmp(name, "pre") == 0, depth + 1);
        if (block)
            end_paragraph(r);
    }
}

/* The four functions of libxml2 used here, found once (see kb_html.h). The
 * headers give the types of the tree; only these calls go through the
 * library, so its ABI (stable since 2.0) is all that must match. */
static struct {
    pthread_once_t once;
    htmlDocPtr (*read_memory)(const char *buffer, int size, const char *url, const char *encoding, int options);
    xmlNodePtr (*root_element)(const xmlDoc *doc);
    void (*free_doc)(xmlDocPtr doc);
    void (*init_parser)(void);
} libxml = {.once = PTHREAD_ONCE_INIT};

static void load_libxml(void)
{
    /* libxml2 2.14 renamed its library (libxml2.so.16); the tree and these
     * four calls are the same in both. */
    void *h = dlopen("libxml2.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        h = dlopen("libxml2.so.16", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return;
    /* POSIX: a function pointer read through a void * of the same size. */
    void *read = dlsym(h, "htmlReadMemory"), *root = dlsym(h, "xmlDocGetRootElement"),
         *free_doc = dlsym(h, "xmlFreeDoc"), *init = dlsym(h, "xmlInitParser");
    if (!read || !root || !free_doc || !init) {
        dlclose(h); /* not the library we know: read as if it were not there */
        return;
    }
    memcpy(&libxml.read_memory, &read, sizeof read);
    memcpy(&libxml.root_element, &root, sizeof root);
    memcpy(&libxml.free_doc, &free_doc, sizeof free_doc);
    memcpy(&libxml.init_parser, &init, sizeof init);
    libxml.init_parser(); /* before any thread parses (libxml2's rule) */
}

bool kb_html_available(void)
{
    pthread_once(&libxml.once, load_libxml);
    return libxml.read_memory != NULL;
}

int kb_doc_from_html(const char *html, size_t len, struct kb_doc *doc)
{
    memset(doc, 0, sizeof *doc);
    if (!kb_html_available())
        return -2;
    if (len > INT_MAX)
        return -1;
    /* Without a <meta charset>, libxml2 would read UTF-8 as Latin-1. */
    const char *encoding = utf8_valid(html, len) ? "UTF-8" : NULL;
    htmlDocPtr d = libxml.read_memory(html, (int)len, NULL, encoding,
                                  HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                      HTML_PARSE_NONET);
    if (!d)
        return -1;
    struct reader r = {.doc = doc};
    buf_init(&r.para, SIZE_MAX / 2);
    const xmlNode *root = libxml.root_element(d);
    if (root)
        walk(&r, root, false, 0);
    end_paragraph(&r);
    buf_free(&r.para);
    libxml.free_doc(d);
    /* libxml2 hands out UTF-8; a page in a broken charset may still not be. */
    if (doc->title && !utf8_valid(doc->title, strlen(doc->title))) {
        char *t = utf8_sanitize(doc->title, strlen(doc->title));
        free(doc->title);
        doc->title = t;
    }
    for (size_t i = 0; i < doc->n; i++) {
        if (!utf8_valid(doc->blocks[i].text, strlen(doc->blocks[i].text))) {
            char *t = utf8_sanitize(doc->blocks[i].text, strlen(doc->blocks[i].text));
            free(doc->blocks[i].text);
            doc->blocks[i].text = t;
        }
    }
    return 0;
}
