/* format.c - turn a model's answer into LINE text messages.
 *
 * Two pure steps. format_markdown_to_text() renders Markdown with md4c's SAX
 * callbacks into plain text that reads well in a chat bubble: markers go away,
 * structure stays as lines ("• item", "1. item", "> quote", "a | b"), and code
 * is kept verbatim. format_split() then cuts that text into LINE messages,
 * counting UTF-16 code units as LINE does. It looks at one window (one piece)
 * at a time, remembering the last paragraph, line, sentence, word and grapheme
 * boundary that still fits, so the whole split is linear in the input. */
#include "core/format.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <md4c.h>
#include <utf8proc.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/utf8.h"

/* utf8proc before 2.6.0 (Debian 11, Function Compute's runtime, has 2.5.0)
 * forgets the first code point's class in utf8proc_grapheme_break_stateful, so
 * a run of regional indicators pairs up off by one and flags are cut in half.
 * Seeding the state with that class is the fix 2.6.0 made in the library. */
#if UTF8PROC_VERSION_MAJOR < 2 || (UTF8PROC_VERSION_MAJOR == 2 && UTF8PROC_VERSION_MINOR < 6)
static utf8proc_bool grapheme_break_stateful_seeded(int32_t prev, int32_t cp, int32_t *state)
{
    if (*state == UTF8PROC_BOUNDCLASS_START)
        *state = utf8proc_get_property(prev)->boundclass;
    return utf8proc_grapheme_break_stateful(prev, cp, state);
}
#define utf8proc_grapheme_break_stateful grapheme_break_stateful_seeded
#endif

/* ---------------------------------------------------------------- UTF-8 */

#define REPLACEMENT_CHAR 0xFFFD

/* Decodes the code point at `s` (len >= 1). Invalid bytes decode as U+FFFD and
 * take one byte, so callers always make progress. *valid tells the two apart
 * from a real U+FFFD. */
static size_t decode_cp(const unsigned char *s, size_t len, int32_t *cp, bool *valid)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        *valid = true;
        return 1;
    }
    utf8proc_ssize_t n = utf8proc_iterate(s, (utf8proc_ssize_t)(len < 4 ? len : 4), cp);
    if (n < 1) {
        *cp = REPLACEMENT_CHAR;
        *valid = false;
        return 1;
    }
    *valid = true;
    return (size_t)n;
}

static size_t cp_units(int32_t cp)
{
    return cp > 0xFFFF ? 2 : 1;
}

size_t utf16_len(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t units = 0;
    size_t i = 0;
    while (i < len) {
        int32_t cp;
        bool valid;
        i += decode_cp(u + i, len - i, &cp, &valid);
        units += cp_units(cp);
    }
    return units;
}

/* A target in the middle of a surrogate pair resolves to the start of that
 * code point: the result never splits a character and never overshoots. */
size_t utf16_to_byte_offset(const char *s, size_t len, size_t units)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t seen = 0;
    size_t i = 0;
    while (i < len) {
        int32_t cp;
        bool valid;
        size_t n = decode_cp(u + i, len - i, &cp, &valid);
        size_t w = cp_units(cp);
        if (seen + w > units)
            break;
        seen += w;
        i += n;
    }
    return i;
}

/* ---------------------------------------------------------- output buffer */

/* Text being written: a capped buffer, and whether it filled up. Once full,
 * further writes are dropped, so a caller checks `full` once at the end
 * rather than after every write. */
struct out {
    struct buf b;
    bool full;
};

static void out_put(struct out *o, const char *s, size_t n)
{
    if (!o->full && buf_add(&o->b, s, n) != 0)
        o->full = true;
}

static void out_puts(struct out *o, const char *s)
{
    out_put(o, s, strlen(s));
}

static void out_put_cp(struct out *o, int32_t cp)
{
    unsigned char tmp[4];
    utf8proc_ssize_t n = utf8proc_encode_char(cp, tmp);
    out_put(o, (const char *)tmp, (size_t)n);
}

/* Like out_put, but a NUL byte becomes U+FFFD: the result is a C string, and
 * md4c passes NULs through inside code. */
static void out_put_text(struct out *o, const char *s, size_t n)
{
    const char *nul;
    while (n > 0 && (nul = memchr(s, '\0', n)) != NULL) {
        out_put(o, s, (size_t)(nul - s));
        out_put_cp(o, REPLACEMENT_CHAR);
        n -= (size_t)(nul - s) + 1;
        s = nul + 1;
    }
    out_put(o, s, n);
}

static void out_rtrim(struct out *o, const char *set)
{
    struct buf *b = &o->b;
    size_t len = b->len;
    while (len > 0 && b->data[len - 1] != '\0' && strchr(set, b->data[len - 1]))
        len--;
    buf_truncate(b, len);
}

/* -------------------------------------------------------- Markdown render */

/* Deeper containers still render, but stop adding indentation or "> ", so a
 * hostile input cannot make every output line enormous. */
#define PREFIX_DEPTH_MAX 16
#define LINK_DEPTH_MAX 8
#define RENDER_CAP_FLOOR ((size_t)256 * 1024)
#define MD_FLAGS (MD_FLAG_TABLES | MD_FLAG_STRIKETHROUGH | MD_FLAG_PERMISSIVEAUTOLINKS)

enum container_kind { CONTAINER_QUOTE, CONTAINER_UL, CONTAINER_OL, CONTAINER_LI };

struct container {
    enum container_kind kind;
    bool tight;            /* lists: items are separated by one newline */
    unsigned next_number;  /* CONTAINER_OL */
    bool marker_pending;   /* CONTAINER_LI: marker not yet written */
    char marker[16];       /* CONTAINER_LI: "• " or "12. " */
};

struct link {
    char *href;            /* decoded, NUL-terminated */
    size_t text_start;     /* offset in the output where the link text begins */
};

struct render {
    struct out out;
    struct container *stack;
    size_t depth, stack_cap;
    size_t markers_pending;           /* LI markers not yet written */
    struct link links[LINK_DEPTH_MAX];
    size_t link_depth;                /* may exceed LINK_DEPTH_MAX; extras ignored */
    unsigned pending_nl;              /* newlines owed before the next content */
    bool at_line_start;
    int verbatim;                     /* inside a code or HTML block */
    int in_table;
    unsigned cell;                    /* cells written in the current row */
    const char *doc;                  /* the text md4c parses, and its end: */
    const char *doc_end;              /* spans are kept inside it (on_text) */
    struct headings *headings;        /* where heading lines end, or NULL: not wanted */
    size_t heading_start;             /* output length when the current heading began */
};

/* Where each heading's text ends in the rendered text, ascending: the split
 * never ends a message there, so a heading goes with its section. */
struct headings {
    size_t *ends;
    size_t n, cap;
};

static void headings_add(struct headings *h, size_t end)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 8;
        h->ends = xrealloc_array(h->ends, h->cap, sizeof *h->ends);
    }
    h->ends[h->n++] = end;
}

/* True when `offset` is where a heading's text ends. */
static bool headings_end_at(const struct headings *h, size_t offset)
{
    size_t lo = 0, hi = h ? h->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->ends[mid] == offset)
            return true;
        if (h->ends[mid] < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Asks for `n` newlines (1: new line, 2: blank line) before the next content. */
static void render_separate(struct render *r, unsigned n)
{
    if (r->pending_nl < n)
        r->pending_nl = n;
}

static void render_prefix(struct render *r)
{
    for (size_t i = 0; i < r->depth; i++) {
        if (i >= PREFIX_DEPTH_MAX && r->markers_pending == 0)
            break;
        struct container *c = &r->stack[i];
        bool shown = i < PREFIX_DEPTH_MAX;
        if (c->kind == CONTAINER_QUOTE && shown) {
            out_puts(&r->out, "> ");
        } else if (c->kind == CONTAINER_LI) {
            if (c->marker_pending) {
                out_puts(&r->out, c->marker);
                c->marker_pending = false;
                r->markers_pending--;
            } else if (shown) {
                out_puts(&r->out, "  ");
            }
        }
    }
}

/* Writes owed newlines and the line prefix, so content can follow. Blank
 * lines stay empty; nothing is written before the first content. */
static void render_flush(struct render *r)
{
    if (r->pending_nl > 0) {
        if (r->out.b.len > 0) {
            if (!r->verbatim)
                out_rtrim(&r->out, " \t");
            for (unsigned i = 0; i < r->pending_nl; i++)
                out_put(&r->out, "\n", 1);
        }
        r->pending_nl = 0;
        r->at_line_start = true;
    }
    if (r->at_line_start) {
        r->at_line_start = false;
        render_prefix(r);
    }
}

static void render_text(struct render *r, const char *s, size_t n)
{
    /* A new line of prose does not start with the spaces that followed, say,
     * a <br>; code keeps its indentation. */
    if (!r->verbatim && (r->pending_nl > 0 || r->at_line_start)) {
        while (n > 0 && (*s == ' ' || *s == '\t')) {
            s++;
            n--;
        }
    }
    if (n == 0)
        return;
    render_flush(r);
    out_put_text(&r->out, s, n);
}

/* Text that may hold newlines (code, raw HTML): each one becomes a line of its
 * own with the current prefix. Newlines are owed rather than written, so the
 * final newline of a code block does not turn into an extra blank line. */
static void render_verbatim(struct render *r, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') {
            render_text(r, s + start, i - start);
            if (r->in_table && !r->verbatim)
                render_text(r, " ", 1);
            else
                r->pending_nl++;
            start = i + 1;
        }
    }
    render_text(r, s + start, n - start);
}

static void render_line_break(struct render *r)
{
    if (r->in_table)
        render_text(r, " ", 1);
    else if (r->pending_nl < 2)
        r->pending_nl++;
}

static struct container *render_push(struct render *r, enum container_kind kind)
{
    if (r->depth == r->stack_cap) {
        size_t cap = r->stack_cap ? r->stack_cap * 2 : 16;
        r->stack = xrealloc_array(r->stack, cap, sizeof *r->stack);
        r->stack_cap = cap;
    }
    struct container *c = &r->stack[r->depth++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    return c;
}

static void render_pop(struct render *r)
{
    if (r->depth == 0)
        return;
    struct container *c = &r->stack[--r->depth];
    if (c->kind == CONTAINER_LI && c->marker_pending)
        r->markers_pending--;
}

static struct container *render_top(struct render *r)
{
    return r->depth ? &r->stack[r->depth - 1] : NULL;
}

/* A list nested right inside a tight item starts on the next line; any
 * other list is a block of its own, after a blank line. */
static unsigned render_list_gap(struct render *r)
{
    struct container *top = render_top(r);
    if (top && top->kind == CONTAINER_LI && r->depth >= 2 && r->stack[r->depth - 2].tight)
        return 1;
    return 2;
}

/* --- entities */

struct named_entity {
    const char *name;
    int32_t cp;
};

/* The entities a model is likely to write; unknown ones stay as written. */
static const struct named_entity named_entities[] = {
    {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''},
    {"nbsp", 0xA0}, {"ensp", 0x2002}, {"emsp", 0x2003}, {"thinsp", 0x2009},
    {"shy", 0xAD}, {"zwj", 0x200D}, {"zwnj", 0x200C},
    {"copy", 0xA9}, {"reg", 0xAE}, {"trade", 0x2122}, {"hellip", 0x2026},
    {"mdash", 0x2014}, {"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019},
    {"ldquo", 0x201C}, {"rdquo", 0x201D}, {"laquo", 0xAB}, {"raquo", 0xBB},
    {"bull", 0x2022}, {"middot", 0xB7}, {"times", 0xD7}, {"divide", 0xF7},
    {"deg", 0xB0}, {"plusmn", 0xB1}, {"micro", 0xB5}, {"para", 0xB6}, {"sect", 0xA7},
    {"euro", 0x20AC}, {"yen", 0xA5}, {"pound", 0xA3}, {"cent", 0xA2},
    {"frac12", 0xBD}, {"frac14", 0xBC}, {"frac34", 0xBE}, {"sup2", 0xB2}, {"sup3", 0xB3},
    {"larr", 0x2190}, {"uarr", 0x2191}, {"rarr", 0x2192}, {"darr", 0x2193},
    {"harr", 0x2194}, {"lArr", 0x21D0}, {"rArr", 0x21D2}, {"hArr", 0x21D4},
    {"le", 0x2264}, {"ge", 0x2265}, {"ne", 0x2260}, {"asymp", 0x2248},
    {"infin", 0x221E}, {"minus", 0x2212}, {"check", 0x2713},
};

/* Code point of an entity "&...;", or -1 when it is not one we know. Numeric
 * references outside Unicode (or NUL, or a surrogate) become U+FFFD, as
 * CommonMark says. */
static int32_t entity_cp(const char *s, size_t n)
{
    if (n < 3 || s[0] != '&' || s[n - 1] != ';')
        return -1;
    const char *body = s + 1;
    size_t len = n - 2;
    if (body[0] == '#') {
        bool hex = len > 1 && (body[1] == 'x' || body[1] == 'X');
        size_t i = hex ? 2 : 1;
        if (i >= len)
            return -1;
        uint32_t v = 0;
        for (; i < len; i++) {
            char ch = body[i];
            unsigned d;
            if (ch >= '0' && ch <= '9')
                d = (unsigned)(ch - '0');
            else if (hex && ch >= 'a' && ch <= 'f')
                d = (unsigned)(ch - 'a' + 10);
            else if (hex && ch >= 'A' && ch <= 'F')
                d = (unsigned)(ch - 'A' + 10);
            else
                return -1;
            v = v * (hex ? 16 : 10) + d;
            if (v > 0x10FFFF)
                v = 0x110000; /* stays out of range, never overflows */
        }
        if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return REPLACEMENT_CHAR;
        return (int32_t)v;
    }
    for (size_t i = 0; i < sizeof named_entities / sizeof named_entities[0]; i++) {
        const char *name = named_entities[i].name;
        if (strlen(name) == len && memcmp(name, body, len) == 0)
            return named_entities[i].cp;
    }
    return -1;
}

static void render_entity(struct render *r, const char *s, size_t n)
{
    int32_t cp = entity_cp(s, n);
    if (cp < 0) {
        render_text(r, s, n);
        return;
    }
    render_flush(r);
    out_put_cp(&r->out, cp);
}

/* --- inline HTML */

enum html_tag { HTML_KEEP, HTML_DROP, HTML_BREAK };

/* Formatting tags are dropped like Markdown markers, <br> is a line break.
 * Anything else (say "List<String>" outside backticks) is kept as text. */
static enum html_tag html_tag_kind(const char *s, size_t n)
{
    static const char *const dropped[] = {
        "a", "abbr", "b", "big", "center", "cite", "code", "del", "div", "em", "font",
        "i", "ins", "kbd", "mark", "p", "q", "s", "samp", "small", "span", "strike",
        "strong", "sub", "sup", "tt", "u", "var",
    };
    if (n >= 4 && memcmp(s, "<!--", 4) == 0)
        return HTML_DROP;
    size_t i = 1;
    if (i < n && s[i] == '/')
        i++;
    char name[16];
    size_t len = 0;
    while (i < n && len + 1 < sizeof name &&
           ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) {
        name[len++] = (char)(s[i] | 0x20);
        i++;
    }
    name[len] = '\0';
    if (len == 0 || (i < n && s[i] != '>' && s[i] != '/' && s[i] != ' ' && s[i] != '\t' &&
                     s[i] != '\n'))
        return HTML_KEEP;
    if (strcmp(name, "br") == 0)
        return HTML_BREAK;
    for (size_t k = 0; k < sizeof dropped / sizeof dropped[0]; k++)
        if (strcmp(name, dropped[k]) == 0)
            return HTML_DROP;
    return HTML_KEEP;
}

/* --- links */

static bool has_prefix_then(const char *href, size_t hlen, const char *prefix,
                            const char *text, size_t tlen)
{
    size_t plen = strlen(prefix);
    return hlen == plen + tlen && memcmp(href, prefix, plen) == 0 &&
           memcmp(href + plen, text, tlen) == 0;
}

/* True when the link text already says where it goes, as autolinks do. */
static bool link_text_is_url(const char *text, size_t tlen, const char *href, size_t hlen)
{
    return (hlen == tlen && memcmp(text, href, tlen) == 0) ||
           has_prefix_then(href, hlen, "mailto:", text, tlen) ||
           has_prefix_then(href, hlen, "http://", text, tlen) ||
           has_prefix_then(href, hlen, "https://", text, tlen);
}

/* The link's destination with entities decoded and NULs replaced. Each
 * piece decodes to at most 3 bytes per input byte (a NUL becomes U+FFFD), so
 * the cap is never reached. */
static char *attribute_decode(const MD_ATTRIBUTE *a)
{
    struct out o = {.full = false};
    buf_init(&o.b, (size_t)a->size * 3);
    for (size_t i = 0; a->substr_offsets[i] < a->size; i++) {
        const char *s = a->text + a->substr_offsets[i];
        size_t n = a->substr_offsets[i + 1] - a->substr_offsets[i];
        int32_t cp = -1;
        if (a->substr_types[i] == MD_TEXT_ENTITY)
            cp = entity_cp(s, n);
        else if (a->substr_types[i] == MD_TEXT_NULLCHAR)
            cp = REPLACEMENT_CHAR;
        if (cp >= 0)
            out_put_cp(&o, cp);
        else
            out_put_text(&o, s, n);
    }
    return buf_take(&o.b, NULL);
}

static void render_link_enter(struct render *r, const MD_SPAN_A_DETAIL *d)
{
    size_t i = r->link_depth++;
    if (i >= LINK_DEPTH_MAX)
        return;
    render_flush(r);
    r->links[i].text_start = r->out.b.len;
    r->links[i].href = attribute_decode(&d->href);
}

static void render_link_leave(struct render *r)
{
    if (r->link_depth == 0)
        return;
    size_t i = --r->link_depth;
    if (i >= LINK_DEPTH_MAX || !r->links[i].href)
        return;
    char *href = r->links[i].href;
    size_t hlen = strlen(href);
    const char *text = buf_str(&r->out.b) + r->links[i].text_start;
    size_t tlen = r->out.b.len - r->links[i].text_start;
    if (hlen > 0 && !r->out.full) {
        if (tlen == 0) {
            render_text(r, href, hlen);
        } else if (!link_text_is_url(text, tlen, href, hlen)) {
            render_text(r, " (", 2);
            render_text(r, href, hlen);
            render_text(r, ")", 1);
        }
    }
    free(href);
    r->links[i].href = NULL;
}

/* --- md4c callbacks */

static int on_enter_block(MD_BLOCKTYPE type, void *detail, void *userdata)
{
    struct render *r = userdata;
    switch (type) {
    case MD_BLOCK_DOC:
    case MD_BLOCK_THEAD:
    case MD_BLOCK_TBODY:
        break;
    case MD_BLOCK_QUOTE:
        render_separate(r, 2);
        render_push(r, CONTAINER_QUOTE);
        break;
    case MD_BLOCK_UL: {
        const MD_BLOCK_UL_DETAIL *d = detail;
        render_separate(r, render_list_gap(r));
        render_push(r, CONTAINER_UL)->tight = d->is_tight != 0;
        break;
    }
    case MD_BLOCK_OL: {
        const MD_BLOCK_OL_DETAIL *d = detail;
        render_separate(r, render_list_gap(r));
        struct container *ol = render_push(r, CONTAINER_OL);
        ol->tight = d->is_tight != 0;
        ol->next_number = d->start;
        break;
    }
    case MD_BLOCK_LI: {
        struct container *list = render_top(r);
        bool ordered = list && list->kind == CONTAINER_OL;
        unsigned number = ordered ? list->next_number++ : 0;
        render_separate(r, list && list->tight ? 1 : 2);
        struct container *li = render_push(r, CONTAINER_LI);
        if (ordered)
            snprintf(li->marker, sizeof li->marker, "%u. ", number);
        else
            snprintf(li->marker, sizeof li->marker, "%s", "\xE2\x80\xA2 "); /* "• " */
        li->marker_pending = true;
        r->markers_pending++;
        break;
    }
    case MD_BLOCK_HR:
        render_separate(r, 2);
        render_text(r, "\xE2\x80\x94\xE2\x80\x94\xE2\x80\x94", 9); /* "———" */
        break;
    case MD_BLOCK_CODE:
    case MD_BLOCK_HTML:
        render_separate(r, 2);
        r->verbatim++;
        break;
    case MD_BLOCK_TABLE:
        render_separate(r, 2);
        r->in_table++;
        break;
    case MD_BLOCK_TR:
        render_separate(r, 1);
        r->cell = 0;
        break;
    case MD_BLOCK_TH:
    case MD_BLOCK_TD:
        if (r->cell++ > 0)
            render_text(r, " | ", 3);
        break;
    case MD_BLOCK_H:
        render_separate(r, 2);
        r->heading_start = r->out.b.len;
        break;
    case MD_BLOCK_P:
    default:
        render_separate(r, 2);
        break;
    }
    return r->out.full ? -1 : 0;
}

/* A heading just ended: its text ends where the next newline will go (the
 * trailing blanks are trimmed then). An empty heading is no line to keep. */
static void render_heading_end(struct render *r)
{
    const char *data = buf_str(&r->out.b);
    size_t end = r->out.b.len;
    while (end > r->heading_start && (data[end - 1] == ' ' || data[end - 1] == '\t'))
        end--;
    if (r->headings && !r->out.full && end > r->heading_start && data[end - 1] != '\n')
        headings_add(r->headings, end);
}

static int on_leave_block(MD_BLOCKTYPE type, void *detail, void *userdata)
{
    struct render *r = userdata;
    (void)detail;
    switch (type) {
    case MD_BLOCK_QUOTE:
    case MD_BLOCK_UL:
    case MD_BLOCK_OL:
    case MD_BLOCK_LI:
        render_pop(r);
        break;
    case MD_BLOCK_CODE:
    case MD_BLOCK_HTML:
        if (r->verbatim > 0)
            r->verbatim--;
        /* The block's last newline is owed, not written: drop it. */
        r->pending_nl = 0;
        break;
    case MD_BLOCK_TABLE:
        if (r->in_table > 0)
            r->in_table--;
        break;
    case MD_BLOCK_TH:
    case MD_BLOCK_TD:
        return 0; /* cells of a row stay on one line */
    case MD_BLOCK_H:
        render_heading_end(r);
        break;
    default:
        break;
    }
    /* Whatever follows a block starts on a line of its own. */
    render_separate(r, 1);
    return r->out.full ? -1 : 0;
}

static int on_enter_span(MD_SPANTYPE type, void *detail, void *userdata)
{
    struct render *r = userdata;
    if (type == MD_SPAN_A)
        render_link_enter(r, detail);
    return r->out.full ? -1 : 0;
}

static int on_leave_span(MD_SPANTYPE type, void *detail, void *userdata)
{
    struct render *r = userdata;
    (void)detail;
    if (type == MD_SPAN_A)
        render_link_leave(r);
    return r->out.full ? -1 : 0;
}

static int on_text(MD_TEXTTYPE type, const MD_CHAR *text, MD_SIZE size, void *userdata)
{
    struct render *r = userdata;
    /* md4c 0.4.8 has been seen (fuzz_format, once, not reproducible) to hand
     * a span that ends past the document. A span inside the document is
     * clamped to its end; the padding after the document (see
     * format_markdown_to_text) keeps md4c's own reads inside our buffer. */
    if (text >= r->doc && text <= r->doc_end && (size_t)(r->doc_end - text) < size)
        size = (MD_SIZE)(r->doc_end - text);
    switch (type) {
    case MD_TEXT_NULLCHAR:
        render_flush(r);
        out_put_cp(&r->out, REPLACEMENT_CHAR);
        break;
    case MD_TEXT_BR:
    case MD_TEXT_SOFTBR:
        render_line_break(r);
        break;
    case MD_TEXT_ENTITY:
        render_entity(r, text, size);
        break;
    case MD_TEXT_CODE:
        render_verbatim(r, text, size);
        break;
    case MD_TEXT_HTML:
        if (r->verbatim) {
            render_verbatim(r, text, size);
            break;
        }
        switch (html_tag_kind(text, size)) {
        case HTML_DROP:
            break;
        case HTML_BREAK:
            render_line_break(r);
            break;
        case HTML_KEEP:
            render_verbatim(r, text, size);
            break;
        }
        break;
    case MD_TEXT_NORMAL:
    default:
        render_verbatim(r, text, size);
        break;
    }
    return r->out.full ? -1 : 0;
}

/* The input as it is (but NUL-free), for when md4c gives up. A NUL becomes
 * 3 bytes, so 3 * len always fits. */
static char *copy_input(const char *s, size_t len)
{
    struct out o = {.full = false};
    buf_init(&o.b, len > SIZE_MAX / 3 ? SIZE_MAX : len * 3);
    out_put_text(&o, s, len);
    return buf_take(&o.b, NULL);
}

/* Most bytes of text rendered from `len` bytes of Markdown. Rendering can
 * multiply: one reference definition with a long URL, used many times,
 * prints that URL at every use. The cap is far above what LINE can show
 * (5 messages of 5000 UTF-16 units, at most 75,000 bytes), so text cut there
 * loses nothing a user could have seen. */
static size_t render_cap(size_t len)
{
    size_t floor = RENDER_CAP_FLOOR;
    return len > (SIZE_MAX - floor) / 4 ? SIZE_MAX : len * 4 + floor;
}

/* Zeroed bytes after the copy md4c parses. */
#define MD_PADDING 64

/* format_markdown_to_text, noting where headings end in `headings` (may be
 * NULL; left empty when the Markdown could not be rendered). */
static char *render_markdown(const char *md, size_t len, struct headings *headings)
{
    if (!md)
        len = 0;
#if SIZE_MAX > UINT_MAX
    if (len > UINT_MAX) /* more than md4c's MD_SIZE can describe */
        return copy_input(md, len);
#endif

    struct render r;
    memset(&r, 0, sizeof r);
    r.at_line_start = true;
    r.headings = headings;
    buf_init(&r.out.b, render_cap(len));

    MD_PARSER parser;
    memset(&parser, 0, sizeof parser);
    parser.abi_version = 0;
    parser.flags = MD_FLAGS;
    parser.enter_block = on_enter_block;
    parser.leave_block = on_leave_block;
    parser.enter_span = on_enter_span;
    parser.leave_span = on_leave_span;
    parser.text = on_text;

    /* md4c reads a copy followed by zeroed padding, so that a read a little
     * past the end (a library bug, not ours to fix) stays in our buffer. */
    char *doc = xcalloc(len + MD_PADDING, 1);
    if (len)
        memcpy(doc, md, len);
    r.doc = doc;
    r.doc_end = doc + len;
    int rc = md_parse(doc, (MD_SIZE)len, &parser, &r);
    free(doc);

    for (size_t i = 0; i < r.link_depth && i < LINK_DEPTH_MAX; i++)
        free(r.links[i].href);
    free(r.stack);
    /* A full buffer stopped the parse on purpose: keep what was rendered. */
    if (rc != 0 && !r.out.full) {
        buf_free(&r.out.b);
        if (headings)
            headings->n = 0;
        return copy_input(md ? md : "", len);
    }
    out_rtrim(&r.out, " \t\r\n");
    return buf_take(&r.out.b, NULL);
}

char *format_markdown_to_text(const char *md, size_t len)
{
    return render_markdown(md, len, NULL);
}

/* ----------------------------------------------------------------- split */

static bool is_space_cp(int32_t cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x3000;
}

/* Length of the whitespace code point at s[i], 0 when there is none. */
static size_t space_at(const unsigned char *s, size_t i, size_t end)
{
    if (i >= end)
        return 0;
    if (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))
        return 1;
    if (end - i >= 3 && s[i] == 0xE3 && s[i + 1] == 0x80 && s[i + 2] == 0x80)
        return 3; /* U+3000 IDEOGRAPHIC SPACE */
    return 0;
}

/* Offset where `s[0, end)` ends once trailing whitespace is removed. */
static size_t trim_end(const unsigned char *s, size_t start, size_t end)
{
    while (end > start) {
        if (s[end - 1] == ' ' || (s[end - 1] >= '\t' && s[end - 1] <= '\r'))
            end--;
        else if (end - start >= 3 && s[end - 3] == 0xE3 && s[end - 2] == 0x80 &&
                 s[end - 1] == 0x80)
            end -= 3;
        else
            break;
    }
    return end;
}

/* Skips whitespace from `i`, but not a space that a combining mark (or
 * similar) attaches to: that would split a user-perceived character. */
static size_t skip_space(const unsigned char *s, size_t i, size_t end)
{
    for (;;) {
        size_t n = space_at(s, i, end);
        if (n == 0)
            return i;
        if (i + n < end) {
            int32_t ws, next;
            bool valid;
            decode_cp(s + i, end - i, &ws, &valid);
            decode_cp(s + i + n, end - i - n, &next, &valid);
            if (!utf8proc_grapheme_break(ws, next))
                return i;
        }
        i += n;
    }
}

static bool is_sentence_end_ascii(int32_t cp)
{
    return cp == '.' || cp == '!' || cp == '?';
}

static bool is_sentence_end_cjk(int32_t cp)
{
    return cp == 0x3002 || cp == 0xFF01 || cp == 0xFF1F; /* 。！？ */
}

/* Closing quotes and brackets that belong to the sentence before them. */
static bool is_closer(int32_t cp)
{
    switch (cp) {
    case '"': case '\'': case ')': case ']':
    case 0x2019: case 0x201D:                 /* ’ ” */
    case 0x300D: case 0x300F: case 0x3011:    /* 」 』 】 */
    case 0x3009: case 0x300B: case 0xFF09:    /* 〉 》 ） */
        return true;
    default:
        return false;
    }
}

/* Preferred cut points, best first. */
enum cut_kind { CUT_PARAGRAPH, CUT_LINE, CUT_SENTENCE, CUT_WORD, CUT_GRAPHEME, CUT_KINDS };

struct window {
    bool fits;     /* all of [pos, end) fits in the budget */
    size_t cut;    /* otherwise: where to end this piece (== pos: nothing fits) */
    bool mid_grapheme; /* cut is the code point last resort, inside a grapheme */
};

/* Scans one piece's worth of text from `pos` and picks where to cut it. Each
 * kind of boundary remembers its last occurrence that still fits; the best
 * kind wins unless it would leave the piece shorter than a third of the
 * budget. Code point boundaries are the last resort, for a single grapheme
 * larger than the budget. */
static struct window scan_window(const unsigned char *s, size_t pos, size_t end, size_t budget,
                                 const struct headings *headings)
{
    size_t best[CUT_KINDS], best_units[CUT_KINDS];
    for (int k = 0; k < CUT_KINDS; k++) {
        best[k] = pos;
        best_units[k] = 0;
    }
    size_t cp_cut = pos;
    size_t units = 0;
    size_t p = pos;
    int32_t prev = -1, state = 0;
    bool prev_space = false, ascii_end = false, cjk_end = false;

    while (p < end) {
        int32_t cp;
        bool valid;
        size_t n = decode_cp(s + p, end - p, &cp, &valid);
        bool boundary = prev < 0 || utf8proc_grapheme_break_stateful(prev, cp, &state);
        bool space = is_space_cp(cp);
        if (units > budget)
            break;
        if (p > pos) {
            cp_cut = p;
            if (boundary) {
                best[CUT_GRAPHEME] = p;
                best_units[CUT_GRAPHEME] = units;
                int kinds[4];
                int nkinds = 0;
                /* Never right after a heading: its section would start in
                 * the next message. */
                if (space && !prev_space && !headings_end_at(headings, p)) {
                    /* Classify the whole run of whitespace that starts here. */
                    unsigned newlines = 0;
                    size_t q = p, w;
                    while (newlines < 2 && (w = space_at(s, q, end)) > 0) {
                        newlines += s[q] == '\n';
                        q += w;
                    }
                    if (newlines >= 2)
                        kinds[nkinds++] = CUT_PARAGRAPH;
                    if (newlines >= 1)
                        kinds[nkinds++] = CUT_LINE;
                    kinds[nkinds++] = CUT_WORD;
                    if (ascii_end)
                        kinds[nkinds++] = CUT_SENTENCE;
                }
                if (cjk_end && !is_closer(cp))
                    kinds[nkinds++] = CUT_SENTENCE;
                for (int k = 0; k < nkinds; k++) {
                    best[kinds[k]] = p;
                    best_units[kinds[k]] = units;
                }
            }
        }
        if (is_sentence_end_ascii(cp)) {
            ascii_end = true;
            cjk_end = false;
        } else if (is_sentence_end_cjk(cp)) {
            cjk_end = true;
            ascii_end = false;
        } else if (!is_closer(cp)) {
            ascii_end = cjk_end = false;
        }
        prev_space = space;
        prev = cp;
        units += cp_units(cp);
        p += n;
    }

    struct window w = {false, pos, false};
    if (p >= end && units <= budget) {
        w.fits = true;
        w.cut = end;
        return w;
    }
    for (int k = CUT_PARAGRAPH; k < CUT_GRAPHEME; k++) {
        if (best[k] > pos && best_units[k] * 3 >= budget) {
            w.cut = best[k];
            return w;
        }
    }
    w.cut = best[CUT_GRAPHEME] > pos ? best[CUT_GRAPHEME] : cp_cut;
    w.mid_grapheme = best[CUT_GRAPHEME] == pos && cp_cut > pos;
    return w;
}

struct parts_builder {
    char **v;
    size_t n, cap;
};

/* Appends s[a, b) + mark as a new piece. Invalid UTF-8 and NUL bytes become
 * U+FFFD (one UTF-16 unit each, like the bytes they replace), so every piece
 * is a valid NUL-terminated string that JSON encoders accept. */
static void parts_add(struct parts_builder *pb, const unsigned char *s, size_t a, size_t b,
                      const char *mark)
{
    if (pb->n == pb->cap) {
        pb->cap = pb->cap ? pb->cap * 2 : 8;
        pb->v = xrealloc_array(pb->v, pb->cap, sizeof *pb->v);
    }
    char *piece = utf8_sanitize((const char *)s + a, b - a);
    size_t text_len = strlen(piece), mark_len = strlen(mark);
    piece = xrealloc(piece, text_len + mark_len + 1);
    memcpy(piece + text_len, mark, mark_len + 1);
    pb->v[pb->n++] = piece;
}

/* The last allowed piece when the text does not fit: as much text as leaves
 * room for the mark, then the mark. */
static void add_truncated(struct parts_builder *pb, const unsigned char *s, size_t pos,
                         size_t end, size_t max_units, const char *mark, const struct headings *headings)
{
    size_t mark_units = utf16_len(mark, strlen(mark));
    size_t budget = mark_units < max_units ? max_units - mark_units : 0;
    /* When only the mark makes the budget smaller than a grapheme that would
     * fit a piece of its own, show the mark alone rather than cut it. */
    struct window w = scan_window(s, pos, end, budget, headings);
    size_t cut = w.cut;
    if (w.mid_grapheme && !scan_window(s, pos, end, max_units, headings).mid_grapheme)
        cut = pos;
    size_t piece_end = trim_end(s, pos, cut);
    if (piece_end > pos) {
        parts_add(pb, s, pos, piece_end, mark);
        return;
    }
    /* No text fits next to the mark: the mark alone, if it fits at all. */
    size_t mark_start = skip_space((const unsigned char *)mark, 0, strlen(mark));
    const char *bare = mark + mark_start;
    if (*bare == '\0' || utf16_len(bare, strlen(bare)) > max_units)
        return;
    parts_add(pb, (const unsigned char *)"", 0, 0, bare);
}

/* format_split, never cutting right after a heading in `headings` (may be NULL). */
static int split_text(const char *text, size_t len, size_t max_units, size_t max_parts,
                      const char *truncated_mark, const struct headings *headings, struct text_parts *out)
{
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    const char *mark = truncated_mark ? truncated_mark : "";
    struct parts_builder pb = {0};
    out->parts = NULL;
    out->n = 0;
    out->truncated = false;
    if (!text)
        len = 0;

    size_t end = trim_end(s, 0, len);
    size_t pos = skip_space(s, 0, end);
    while (pos < end && pb.n < max_parts && max_units > 0) {
        struct window w = scan_window(s, pos, end, max_units, headings);
        if (w.fits) {
            parts_add(&pb, s, pos, end, "");
            break;
        }
        if (pb.n + 1 == max_parts) {
            add_truncated(&pb, s, pos, end, max_units, mark, headings);
            out->truncated = true;
            break;
        }
        if (w.cut == pos) {
            /* Not even one code point fits (max_units == 1 and a character
             * outside the BMP): drop it rather than exceed the limit. */
            int32_t cp;
            bool valid;
            pos = skip_space(s, pos + decode_cp(s + pos, end - pos, &cp, &valid), end);
            continue;
        }
        size_t piece_end = trim_end(s, pos, w.cut);
        if (piece_end > pos)
            parts_add(&pb, s, pos, piece_end, "");
        pos = skip_space(s, w.cut, end);
    }
    out->parts = pb.v;
    out->n = pb.n;
    return 0;
}

int format_split(const char *text, size_t len, size_t max_units, size_t max_parts,
                 const char *truncated_mark, struct text_parts *out)
{
    return split_text(text, len, max_units, max_parts, truncated_mark, NULL, out);
}

void text_parts_free(struct text_parts *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->parts[i]);
    free(p->parts);
    p->parts = NULL;
    p->n = 0;
}

int format_answer_split(const char *md, size_t len, size_t max_units, size_t max_parts,
                        const char *truncated_mark, struct text_parts *out)
{
    struct headings headings = {0};
    char *text = render_markdown(md, len, &headings);
    int rc = split_text(text, strlen(text), max_units, max_parts, truncated_mark, &headings, out);
    free(headings.ends);
    free(text);
    return rc;
}

int format_answer(const char *md, size_t len, struct text_parts *out)
{
    return format_answer_split(md, len, LINE_TEXT_MAX_UTF16, LINE_MAX_MESSAGES, "\n(truncated)", out);
}
