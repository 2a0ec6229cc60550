/* kb_chunk.h - documents of the knowledge base, read into structure and cut
 * into chunks (issue 12).
 *
 * Pure. A document is first a list of blocks, headings and paragraphs:
 * kb_doc_from_text reads plain text (paragraphs between blank lines) or
 * Markdown (ATX and setext headings, fenced code kept whole), and
 * kb_html.h reads HTML. kb_chunk then cuts the blocks, structure first: a
 * heading always starts a new chunk, paragraphs are put together up to the
 * target size, and a paragraph too long for one chunk is cut at sentence
 * ends in every script (。！？!? and "." before a space, and newlines);
 * a sentence longer than a chunk is cut at a space, else anywhere. The
 * next chunk of the same section starts with the last sentences of the one
 * before (the overlap), so that a passage cut in two is still found whole.
 * Sizes are in characters (code points). Every chunk keeps the path of the
 * headings above it and its position in the document. */
#ifndef LINEBOT_KB_CHUNK_H
#define LINEBOT_KB_CHUNK_H

#include <stdbool.h>
#include <stddef.h>

#define KB_CHUNK_TARGET 500  /* characters a chunk aims at */
#define KB_CHUNK_OVERLAP 80  /* characters at most repeated from the chunk before */
#define KB_TITLE_MAX 200     /* characters of a title */

enum kb_block_kind { KB_BLOCK_HEADING, KB_BLOCK_PARAGRAPH };

struct kb_block {
    enum kb_block_kind kind;
    int level;   /* headings: 1..6 */
    char *text;  /* trimmed, valid UTF-8 */
};

struct kb_doc {
    char *title;              /* HTML <title>, else the first heading; may be NULL */
    struct kb_block *blocks;
    size_t n;
};

/* Reads text[0, len) (already valid UTF-8; "\r\n" is read as "\n") as plain
 * text, or as Markdown. */
void kb_doc_from_text(const char *text, size_t len, bool markdown, struct kb_doc *doc);

/* The document's title: its own (doc->title), else its first heading, else
 * its first non-empty line, else `fallback` (the file name); cut to
 * KB_TITLE_MAX characters, on one line. malloc'd. */
char *kb_doc_title(const struct kb_doc *doc, const char *fallback);

void kb_doc_free(struct kb_doc *doc);

struct kb_piece {
    char *heading;   /* the heading path, "Guide > Prices"; "" above the first heading */
    char *text;      /* the chunk, trimmed */
    int position;    /* 0, 1, 2... in the document */
};

struct kb_pieces {
    struct kb_piece *items;
    size_t n;
};

/* Cuts the document into chunks of about `target` characters with up to
 * `overlap` characters repeated (KB_CHUNK_TARGET, KB_CHUNK_OVERLAP).
 * Empty blocks give nothing. */
void kb_chunk(const struct kb_doc *doc, size_t target, size_t overlap, struct kb_pieces *out);

void kb_pieces_free(struct kb_pieces *p);

#endif
