/* kb_vectors.h - the knowledge bases' vectors in the bot's memory (issue
 * 12), for the retrieve stage: loaded lazily, one matrix per knowledge
 * base (core/vec.h), shared by the worker threads.
 *
 * A knowledge base's vectors are read from the store the first time a
 * question needs them, and again when its documents or vectors change: at
 * most once a second a cheap look at its documents (ids, times, whether
 * live) and its vectors' version tells whether they did, so a running bot
 * sees `kb add`, `kb remove` and `kb reembed` within about a second. Vectors
 * of a model other than LINEBOT_EMBED_MODEL are never used: that knowledge
 * base is searched lexically, and the log says so once. */
#ifndef LINEBOT_KB_VECTORS_H
#define LINEBOT_KB_VECTORS_H

#include <stddef.h>

#include "core/vec.h"

struct store;

/* Whether `kb` has vectors of `model` to search (reading or re-reading them
 * when due): 1 with *dims, 0 none (or another model's), -1 the store
 * failed (the last vectors read stay in use). Thread-safe. */
int kb_vectors_ready(struct store *st, const char *kb, const char *model, size_t *dims);

/* The `k` chunks of `kb` most like `query` (`dims` floats), best first, as
 * kb_vectors_ready last found them; how many. Thread-safe. */
size_t kb_vectors_top(const char *kb, const float *query, size_t dims, size_t k, struct vec_hit *out);

#endif
