/* fuzz_embed.c - libFuzzer target for the embeddings answer parser (issue
 * 12): core/embed_wire.c's embed_parse, which reads what an embeddings
 * server answers, and embed_input_len, which cuts an input.
 *
 * The first byte picks how many vectors are asked for (1..4) and the
 * dimension wanted (0: any, else 1..8); the rest is the answer's body, as
 * an exact-size copy so that a read past its end is caught. Invariants:
 *   - a failure leaves *vecs NULL and *dims 0, with a reason in `err`;
 *   - a success has 1..VEC_DIMS_MAX dimensions (the ones wanted, when
 *     wanted), and each row is the answer's own numbers for that index
 *     (read again here with jansson, normalised here in double) at unit
 *     length;
 *   - embed_input_len never grows the text, keeps at most
 *     EMBED_INPUT_TOKENS_MAX bytes, and never cuts inside a UTF-8
 *     character. */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/embed_wire.h"
#include "core/vec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Row `at` of a successful parse must be the numbers of the answer's item
 * whose index is `at` (or, without indexes, the at-th item), normalised. */
static void check_row(json_t *root, size_t at, const float *row, size_t dims)
{
    json_t *list = json_object_get(root, "data"), *emb = NULL;
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *item = json_array_get(list, i), *index = json_object_get(item, "index");
        if (index ? (json_is_integer(index) && json_integer_value(index) == (json_int_t)at) : i == at)
            emb = json_object_get(item, "embedding");
    }
    if (json_array_size(emb) != dims)
        abort();
    double norm = 0;
    for (size_t j = 0; j < dims; j++) {
        double v = json_number_value(json_array_get(emb, j));
        norm += v * v;
    }
    norm = sqrt(norm);
    if (!(norm > 0))
        abort();
    double got = 0;
    for (size_t j = 0; j < dims; j++) {
        double want = json_number_value(json_array_get(emb, j)) / norm;
        if (!isfinite(row[j]) || fabs(row[j] - want) > 1e-4)
            abort();
        got += (double)row[j] * row[j];
    }
    if (fabs(got - 1.0) > 1e-3)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n = 1 + (data[0] & 3), want = (data[0] >> 2) % 9;
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    if (!body)
        return 0;
    memcpy(body, data + 1, len);

    float *vecs = (float *)1;
    size_t dims = 99;
    char err[256] = "";
    int rc = embed_parse(body, len, n, want, &vecs, &dims, err, sizeof err);
    if (rc != 0) {
        if (rc != -1 || vecs || dims != 0 || !err[0])
            abort();
    } else {
        if (!vecs || dims == 0 || dims > VEC_DIMS_MAX || (want && dims != want))
            abort();
        /* The parser took it, so it is a JSON object; read it again. */
        json_t *root = json_loadb(body, len, 0, NULL);
        if (!root)
            abort();
        for (size_t i = 0; i < n; i++)
            check_row(root, i, vecs + i * dims, dims);
        json_decref(root);
        free(vecs);
    }

    size_t cut = embed_input_len(body, len);
    bool inside = cut > 0 && cut < len && ((unsigned char)body[cut] & 0xc0) == 0x80;
    if (cut > len || cut > EMBED_INPUT_TOKENS_MAX || inside)
        abort();
    free(body);
    return 0;
}
