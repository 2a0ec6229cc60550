/* kb_fake_embed.h - a fake OpenAI-compatible embeddings server for
 * bench/kb.sh (issue 12, part 5): `POST /v1/embeddings` on 127.0.0.1,
 * answering vectors of any dimension (1024 in the benchmark; the e2e fake,
 * tests/e2e/support/fake_embed.h, has 64).
 *
 * The vectors are deterministic and say something about the text: each of
 * its terms (core/kb_terms.h: CJK bigrams, Latin words) adds +1 or -1 to
 * FAKE_EMBED_SPREAD dimensions picked by a hash of the term, so a question
 * and a passage that share terms point the same way. That makes the
 * vectors sparse-ish, which does not matter for the benchmark: the search
 * is brute force over int8 rows, as fast for any values. */
#ifndef BENCH_KB_FAKE_EMBED_H
#define BENCH_KB_FAKE_EMBED_H

#include <stddef.h>

struct kb_fake_embed;

/* Starts the server (any model, any key); NULL on failure. */
struct kb_fake_embed *kb_fake_embed_start(size_t dims);
int kb_fake_embed_port(const struct kb_fake_embed *f);
void kb_fake_embed_stop(struct kb_fake_embed *f);

#endif
