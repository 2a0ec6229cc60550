/* embed.h - embeddings from an OpenAI-compatible `POST {base}/embeddings`
 * (issue 12): the texts are sent in batches within the provider's limits
 * (core/embed_wire.h), and each answer is checked before it is believed.
 * Errors are values with a one-line reason (never the key); nothing here
 * logs. */
#ifndef LINEBOT_EMBED_H
#define LINEBOT_EMBED_H

#include <stddef.h>
#include <stdint.h>

struct http_client;

struct embed_target {
    const char *base_url; /* e.g. https://api.openai.com/v1 */
    const char *api_key;  /* "" or NULL: no Authorization header */
    const char *model;
};

/* Embeds texts[0..n): returns 0 with *vecs (n x *dims floats, unit length,
 * row i for texts[i]; free it), or -1 with the reason in `err`.
 * `want_dims` (0: any) is the dimension every answer must have.
 * `deadline_ms` (clock_monotonic_ms) bounds the whole call, one attempt per
 * batch, for the bot's question; 0: no deadline, each request up to 60 s,
 * and a batch refused for load (429, 5xx) or lost is tried up to 3 times,
 * for `linebot kb`. `progress` (may be NULL) is called after each batch
 * with the texts embedded so far. */
int embed_texts(struct http_client *http, const struct embed_target *target, const char *const *texts, size_t n,
                size_t want_dims, int64_t deadline_ms, void (*progress)(void *arg, size_t done), void *arg,
                float **vecs, size_t *dims, char *err, size_t errlen);

#endif
