/* embed_wire.h - the OpenAI-compatible embeddings API as data (issue 12):
 * each provider's batch limits, the batches a list of texts makes, the
 * request's JSON, and the answer read as hostile. Pure: no I/O
 * (io/embed.c sends the requests).
 *
 * Limits: DashScope's text-embedding-v3 and v4 take 10 inputs per request,
 * v1 and v2 take 25; OpenAI takes 2048 inputs and 300,000 tokens per request.
 * Both take 8192 tokens per input. Tokens are counted as bytes of UTF-8:
 * a byte-level BPE tokenizer (OpenAI's and Qwen's are) never makes more
 * tokens than bytes, so the estimate can only be too high, never too low. */
#ifndef LINEBOT_EMBED_WIRE_H
#define LINEBOT_EMBED_WIRE_H

#include <stddef.h>

#define EMBED_INPUT_TOKENS_MAX 8192

struct embed_limits {
    size_t inputs;         /* per request */
    size_t request_tokens; /* per request, estimated as above */
};

/* The limits for `model` at `base_url`: DashScope's when the model is a
 * text-embedding-vN or the host is DashScope's, else OpenAI's. */
void embed_limits_of(const char *model, const char *base_url, struct embed_limits *out);

/* How many bytes of `text` an input keeps: at most EMBED_INPUT_TOKENS_MAX,
 * cut before a UTF-8 character starts (never inside one). */
size_t embed_input_len(const char *text, size_t len);

/* How many of texts[from..n) the next request takes under `lim` (at least
 * one when from < n). */
size_t embed_batch_size(const char *const *texts, size_t from, size_t n, const struct embed_limits *lim);

/* The request body: {"model", "input": [...], "encoding_format": "float"};
 * each input cut by embed_input_len. malloc'd. */
char *embed_request_json(const char *model, const char *const *texts, size_t n);

/* Reads an answer that must hold `n` embeddings (data[].index 0..n-1, each
 * once), all of one dimension (1..VEC_DIMS_MAX; equal to `want_dims` when
 * that is not 0), finite numbers, not all zero; each is made unit length
 * (core/vec.h). Returns 0 with *vecs
 * (n x *dims floats, row i for input i; free it), or -1 with a one-line
 * reason in `err` (the server's own error message when it sent one). */
int embed_parse(const char *body, size_t len, size_t n, size_t want_dims, float **vecs, size_t *dims, char *err,
                size_t errlen);

#endif
