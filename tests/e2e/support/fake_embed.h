/* fake_embed.h - a fake OpenAI-compatible embeddings server (issue 12).
 *
 * POST /v1/embeddings (base URL "http://127.0.0.1:<port>/v1"). It checks the
 * Bearer key, that "model" is the one model it serves (else 404, as
 * DashScope and OpenAI answer an unknown model), and that "input" is a
 * non-empty list of at most `max_batch` strings (else 400, counted as a
 * batch violation). It answers deterministic vectors of FAKE_EMBED_DIMS
 * dimensions: each word (ASCII letters and digits, lowercased) adds 1.0 to
 * its meaning's dimension when it is in the fake's small thesaurus (cost,
 * price, fee, fees, charge: one meaning; open, opening, hours, closed,
 * close: another), else 0.1 to a dimension picked by a hash of the word.
 * So "How much does it cost?" and "The entrance fee is 1200 yen" share no
 * word, yet their vectors are close (cosine about 0.9), and far from a text
 * without a meaning of the thesaurus. Thread-safe. */
#ifndef E2E_FAKE_EMBED_H
#define E2E_FAKE_EMBED_H

#include <stddef.h>

#define FAKE_EMBED_DIMS 64

struct fake_embed;

struct fake_embed *fake_embed_start(const char *api_key, const char *model, size_t max_batch);
void fake_embed_stop(struct fake_embed *f);
const char *fake_embed_base_url(const struct fake_embed *f); /* ".../v1" */
void fake_embed_set_model(struct fake_embed *f, const char *model); /* the one it serves from now on */
/* 0: normal; else every request is answered with this status. */
void fake_embed_set_failing(struct fake_embed *f, int status);

struct fake_embed_stats {
    size_t requests;    /* every POST /v1/embeddings */
    size_t inputs;      /* inputs embedded (answered 200) */
    size_t max_batch;   /* the largest input list received */
    size_t violations;  /* requests above max_batch */
    size_t wrong_model; /* requests for another model */
};
void fake_embed_stats(struct fake_embed *f, struct fake_embed_stats *out);

#endif
