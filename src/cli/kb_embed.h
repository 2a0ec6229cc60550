/* kb_embed.h - `linebot kb`'s embeddings (issue 12): with
 * LINEBOT_EMBED_MODEL set, add and sync embed each changed document's
 * chunks before they are written (through kb_put.embed), and
 * `kb reembed` embeds every passage of a knowledge base again (after a
 * change of model). A knowledge base holds one model's vectors: add and
 * sync refuse to mix in another's and say to run reembed. */
#ifndef LINEBOT_KB_EMBED_H
#define LINEBOT_KB_EMBED_H

#include <stdbool.h>
#include <stddef.h>

struct kb_chunk_row;
struct kb_put;
struct store;
struct kb_embedder;

#define KB_EMBED_REEMBED_HELP                                                                        \
    "Usage: linebot kb reembed [--kb NAME]\n\n"                                                      \
    "Embeds every passage of the knowledge base again with LINEBOT_EMBED_MODEL (at\n"              \
    "LINEBOT_EMBED_BASE_URL, or the model provider's), after a change of model or for documents\n" \
    "added before it was set. Until it ends, the bot answers from lexical search alone.\n"

/* Reads the embeddings settings from `env`. Unset model: 0 with *out NULL
 * (for reembed: -1, it needs one). For add and sync (`reembed` false) the
 * knowledge base's model is checked (and claimed by the first document
 * embedded); another one held: -1. On -1, one line
 * is printed to stderr and *status is the exit status. */
int kb_embed_open(struct store *st, const char *kb, char *const *env, bool reembed, struct kb_embedder **out,
                  int *status);
void kb_embed_close(struct kb_embedder *e); /* NULL: nothing */

/* Makes `put` embed `rows` (its chunks) when the store finds the document
 * changed; kb_embed_done after the put frees what that made. NULL e: no-op. */
void kb_embed_prepare(struct kb_embedder *e, struct kb_put *put, struct kb_chunk_row *rows, size_t n);
void kb_embed_done(struct kb_embedder *e);

/* `show(arg)` is called as embeddings come in, to redraw the progress line. */
void kb_embed_on_progress(struct kb_embedder *e, void (*show)(void *arg), void *arg);

/* ", embeddings D/T" for the progress line, or "" (static storage). */
const char *kb_embed_progress(const struct kb_embedder *e);

/* `kb reembed`: returns the exit status (0, or 1 with a line on stderr). */
int kb_embed_reembed(struct kb_embedder *e, bool show_progress);

#endif
