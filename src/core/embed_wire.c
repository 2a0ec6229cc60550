/* embed_wire.c - embeddings requests and answers as data (embed_wire.h). */
#include "core/embed_wire.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/vec.h"

#define DASHSCOPE_OLD_INPUTS 25 /* text-embedding-v1, v2 */
#define DASHSCOPE_INPUTS 10     /* text-embedding-v3, v4, and any other there */
#define OPENAI_INPUTS 2048
#define OPENAI_REQUEST_TOKENS 300000

void embed_limits_of(const char *model, const char *base_url, struct embed_limits *out)
{
    const char *v = model && strncasecmp(model, "text-embedding-v", 16) == 0 ? model + 16 : NULL;
    bool dashscope = v || (base_url && strstr(base_url, "dashscope"));
    if (v && (v[0] == '1' || v[0] == '2') && v[1] == '\0')
        *out = (struct embed_limits){DASHSCOPE_OLD_INPUTS, DASHSCOPE_OLD_INPUTS * EMBED_INPUT_TOKENS_MAX};
    else if (dashscope)
        *out = (struct embed_limits){DASHSCOPE_INPUTS, DASHSCOPE_INPUTS * EMBED_INPUT_TOKENS_MAX};
    else
        *out = (struct embed_limits){OPENAI_INPUTS, OPENAI_REQUEST_TOKENS};
}

size_t embed_input_len(const char *text, size_t len)
{
    if (len <= EMBED_INPUT_TOKENS_MAX)
        return len;
    size_t cut = EMBED_INPUT_TOKENS_MAX;
    while (cut > 0 && ((unsigned char)text[cut] & 0xc0) == 0x80) /* a continuation byte */
        cut--;
    return cut;
}

size_t embed_batch_size(const char *const *texts, size_t from, size_t n, const struct embed_limits *lim)
{
    size_t count = 0, tokens = 0;
    while (from + count < n && count < lim->inputs) {
        const char *t = texts[from + count];
        size_t cost = embed_input_len(t, strlen(t));
        if (count > 0 && tokens + cost > lim->request_tokens)
            break;
        tokens += cost;
        count++;
    }
    return count;
}

char *embed_request_json(const char *model, const char *const *texts, size_t n)
{
    json_t *input = json_array();
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(texts[i]);
        /* An empty input is refused by OpenAI: a space stands in for it. */
        json_array_append_new(input, len ? json_stringn(texts[i], embed_input_len(texts[i], len)) : json_string(" "));
    }
    json_t *root = json_pack("{s:s, s:o, s:s}", "model", model, "input", input, "encoding_format", "float");
    char *out = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!out)
        alloc_fail("json_dumps", 0); /* the inputs are valid UTF-8: only memory can fail it */
    char *copy = xstrdup(out);
    free(out);
    return copy;
}

int embed_parse(const char *body, size_t len, size_t n, size_t want_dims, float **vecs, size_t *dims, char *err,
                size_t errlen)
{
    *vecs = NULL;
    *dims = 0;
    json_error_t jerr;
    json_t *root = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!json_is_object(root)) {
        snprintf(err, errlen, "the embeddings answer is not a JSON object");
        json_decref(root);
        return -1;
    }
    json_t *error = json_object_get(root, "error");
    const char *message = json_string_value(json_object_get(error, "message"));
    json_t *data = json_object_get(root, "data");
    if (!json_is_array(data)) {
        if (message)
            snprintf(err, errlen, "the embeddings server says: %.200s", message);
        else
            snprintf(err, errlen, "the embeddings answer has no data list");
        json_decref(root);
        return -1;
    }
    if (json_array_size(data) != n) {
        snprintf(err, errlen, "the embeddings answer has %zu vectors for %zu inputs", json_array_size(data), n);
        json_decref(root);
        return -1;
    }
    float *out = NULL;
    bool *seen = xcalloc(n + 1, sizeof *seen);
    size_t d = want_dims;
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(data, i);
        json_t *emb = json_object_get(item, "embedding");
        json_t *index = json_object_get(item, "index");
        /* Without an index, the answer's order is the inputs'. */
        json_int_t at = index ? (json_is_integer(index) ? json_integer_value(index) : -1) : (json_int_t)i;
        if (at < 0 || (size_t)at >= n || seen[at]) {
            snprintf(err, errlen, "the embeddings answer's vector %zu has a wrong or repeated index", i);
            goto done;
        }
        seen[at] = true;
        if (!json_is_array(emb) || json_array_size(emb) == 0) {
            snprintf(err, errlen, "the embeddings answer's vector %zu is not a list of numbers", i);
            goto done;
        }
        size_t here = json_array_size(emb);
        if (d == 0)
            d = here;
        if (here != d || d > VEC_DIMS_MAX) {
            snprintf(err, errlen, "the embeddings answer's vector %zu has %zu dimensions, not %zu (at most %d)", i,
                     here, d, VEC_DIMS_MAX);
            goto done;
        }
        if (!out)
            out = xcalloc(n * d, sizeof *out);
        float *row = out + (size_t)at * d;
        for (size_t j = 0; j < d; j++) {
            json_t *x = json_array_get(emb, j);
            double v = json_is_number(x) ? json_number_value(x) : NAN;
            if (!isfinite(v) || fabs(v) > 1e6) {
                snprintf(err, errlen, "the embeddings answer's vector %zu holds something other than a number", i);
                goto done;
            }
            row[j] = (float)v;
        }
        if (vec_normalize(row, d) != 0) {
            snprintf(err, errlen, "the embeddings answer's vector %zu is all zeros", i);
            goto done;
        }
    }
    rc = 0;
done:
    free(seen);
    json_decref(root);
    if (rc != 0) {
        free(out);
        return -1;
    }
    *vecs = out;
    *dims = d;
    return 0;
}
