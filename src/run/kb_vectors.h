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

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/vec.h"
#include "io/embed.h"

struct store;

/* Whether `kb` has vectors of `model` to search (reading or re-reading them
 * when due): 1 with *dims, 0 none (or another model's), -1 the store
 * failed (the last vectors read stay in use). Thread-safe. */
int kb_vectors_ready(struct store *st, const char *kb, const char *model, size_t *dims);

/* The `k` chunks of `kb` most like `query` (`dims` floats), best first, as
 * kb_vectors_ready last found them; how many. Thread-safe. */
size_t kb_vectors_top(const char *kb, const float *query, size_t dims, size_t k, struct vec_hit *out);

/* A question's vector half, run on a thread of its own while the caller
 * searches lexically: the question embedded (one /embeddings call) and the
 * knowledge base's vectors searched. The two halves take about as long
 * (at 100k chunks, about 8 ms each on one core), so a question waits for
 * the longer one rather than for both. The thread uses only `http` and the
 * vectors in memory, never a store: call kb_vectors_ready first, on the
 * caller's thread. `http` is the caller's, lent: the caller must not use it
 * until kb_vectors_search_wait returns (an http_client is one thread's at a
 * time). Set the fields above `rc`, then start, then wait (always). When
 * no thread can be started, the search runs in kb_vectors_search_start. */
struct kb_vector_search {
    struct http_client *http;
    struct embed_target target;
    const char *kb, *question;
    size_t dims;          /* kb_vectors_ready's */
    int64_t deadline_ms;  /* for the embedding (clock_monotonic_ms) */
    struct vec_hit *hits; /* room for k, the caller's */
    size_t k;
    /* after kb_vectors_search_wait: */
    int rc;               /* 0, or -1: the question could not be embedded (err says why) */
    char err[256];
    size_t n;             /* hits found, best first */
    double embed_ms, top_ms; /* how long the embedding and the search in memory took */
    pthread_t thread;
    bool threaded;
};
void kb_vectors_search_start(struct kb_vector_search *s);
void kb_vectors_search_wait(struct kb_vector_search *s);

#endif
