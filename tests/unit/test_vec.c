/* test_vec.c - the knowledge base's vectors (issue 12): int8 quantization
 * round trip, cosine and the top-k over a matrix, reciprocal rank fusion
 * against hand-worked values, the embeddings batches within each provider's
 * limits, and embeddings answers that must not be believed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/embed_wire.h"
#include "core/rrf.h"
#include "core/vec.h"

static void test_quantize_round_trip(void **state)
{
    (void)state;
    enum { D = 1024 };
    float v[D], back[D];
    int8_t q[D];
    uint32_t x = 12345;
    for (size_t i = 0; i < D; i++) { /* a fixed pseudo-random vector */
        x = x * 1103515245u + 12345u;
        v[i] = (float)((int)(x >> 16) % 2001 - 1000) / 1000.0f;
    }
    assert_int_equal(vec_normalize(v, D), 0);
    float scale = vec_quantize(v, D, q);
    assert_true(scale > 0);
    vec_dequantize(q, D, scale, back);
    float max = 0;
    for (size_t i = 0; i < D; i++) {
        assert_true(fabsf(back[i] - v[i]) <= scale / 2 + 1e-6f); /* within half a step */
        max = fabsf(v[i]) > max ? fabsf(v[i]) : max;
    }
    assert_float_equal(scale, max / 127.0f, 1e-9);
    assert_true(vec_cosine(v, back, D) > 0.999);

    /* The largest component is +-127 exactly; an all-zero vector is refused. */
    float w[4] = {0.5f, -1.0f, 0.25f, 0};
    int8_t wq[4];
    assert_float_equal(vec_quantize(w, 4, wq), 1.0f / 127.0f, 1e-9);
    assert_int_equal(wq[0], 64);
    assert_int_equal(wq[1], -127);
    assert_int_equal(wq[2], 32);
    assert_int_equal(wq[3], 0);
    float zero[3] = {0, 0, 0}, bad[2] = {1, NAN};
    assert_int_equal(vec_normalize(zero, 3), -1);
    assert_int_equal(vec_normalize(bad, 2), -1);
    assert_float_equal(bad[0], 1.0f, 0); /* untouched */
}

static void test_cosine_and_top(void **state)
{
    (void)state;
    float a[2] = {1, 0}, b[2] = {1, 1}, c[2] = {-3, 0};
    assert_float_equal(vec_cosine(a, b, 2), 1 / sqrt(2), 1e-9);
    assert_float_equal(vec_cosine(a, c, 2), -1, 1e-9);
    assert_float_equal(vec_cosine(a, (float[2]){0, 0}, 2), 0, 0);

    struct vec_matrix m;
    vec_matrix_init(&m, 3);
    vec_matrix_add(&m, 7, (int8_t[3]){127, 0, 0});   /* x */
    vec_matrix_add(&m, 3, (int8_t[3]){0, 127, 0});   /* y */
    vec_matrix_add(&m, 9, (int8_t[3]){90, 90, 0});   /* between x and y */
    vec_matrix_add(&m, 5, (int8_t[3]){0, 0, 0});     /* says nothing: never above 0 */
    vec_matrix_add(&m, 1, (int8_t[3]){127, 0, 0});   /* the same as 7: ties by id */
    for (int i = 0; i < 300; i++)                    /* past the first growth */
        vec_matrix_add(&m, 100 + i, (int8_t[3]){0, 0, 127});
    assert_int_equal(m.n, 305);
    assert_true(vec_matrix_bytes(&m) >= 305 * (3 + 8 + 4));

    struct vec_hit top[4];
    size_t n = vec_matrix_top(&m, (float[3]){2, 0.5f, 0}, 4, top);
    assert_int_equal(n, 4);
    assert_int_equal(top[0].id, 1);
    assert_int_equal(top[1].id, 7);
    assert_int_equal(top[2].id, 9);
    assert_int_equal(top[3].id, 3);
    /* The query is made int8 as well: cosines within a few thousandths. */
    assert_float_equal(top[0].cosine, 2 / sqrt(4.25), 3e-3);
    assert_float_equal(top[2].cosine, 2.5 / (sqrt(4.25) * sqrt(2)), 3e-3);
    assert_float_equal(top[3].cosine, 0.5 / sqrt(4.25), 3e-3);
    assert_int_equal(vec_matrix_top(&m, (float[3]){0, 0, 0}, 4, top), 0);
    assert_int_equal(vec_matrix_top(&m, (float[3]){1, 0, 0}, 0, top), 0);
    vec_matrix_free(&m);
}

/* On 500 pseudo-random 256-dimension rows, the top 5 are the exact float
 * ranking's best rows, within the int8 error. */
static void test_top_agrees_with_float(void **state)
{
    (void)state;
    enum { N = 500, D = 256 };
    static int8_t rows[N][D];
    float q[D], row[D];
    uint32_t x = 99;
    struct vec_matrix m;
    vec_matrix_init(&m, D);
    for (size_t i = 0; i < N; i++) {
        for (size_t d = 0; d < D; d++) {
            x = x * 1103515245u + 12345u;
            rows[i][d] = (int8_t)((int)(x >> 16) % 255 - 127);
        }
        vec_matrix_add(&m, (int64_t)i, rows[i]);
    }
    for (size_t d = 0; d < D; d++) { /* close to row 42, with noise */
        x = x * 1103515245u + 12345u;
        q[d] = (float)rows[42][d] / 127.0f + (float)((int)(x >> 16) % 1001 - 500) / 500.0f;
    }
    struct vec_hit top[5];
    assert_int_equal(vec_matrix_top(&m, q, 5, top), 5);
    assert_int_equal(top[0].id, 42);
    double exact[N];
    for (size_t i = 0; i < N; i++) {
        for (size_t d = 0; d < D; d++)
            row[d] = rows[i][d];
        exact[i] = vec_cosine(q, row, D);
    }
    for (size_t j = 0; j < 5; j++) {
        assert_float_equal(top[j].cosine, exact[top[j].id], 0.01);
        size_t better_rows = 0; /* rows clearly better than the j-th hit: at most j */
        for (size_t i = 0; i < N; i++)
            better_rows += exact[i] > exact[top[j].id] + 0.02;
        assert_true(better_rows <= j);
    }
    vec_matrix_free(&m);
}

/* The int8 dot products are exact, whatever the dimension (the SIMD loop
 * takes 16 at a time, the rest one by one) and however large the values
 * (-128 included, as a store's bytes may be): with a query already on the
 * int8 grid, each cosine is the one computed here in doubles from the
 * integers, to float precision. */
static void test_top_cosines_exact(void **state)
{
    (void)state;
    static const size_t dims_tried[] = {1, 15, 16, 17, 37, 64, 1000};
    uint32_t x = 7;
    for (size_t t = 0; t < sizeof dims_tried / sizeof *dims_tried; t++) {
        size_t dims = dims_tried[t];
        enum { N = 40 };
        int8_t *rows = malloc(N * dims);
        float *q = malloc(dims * sizeof *q);
        int qi[1000];
        struct vec_matrix m;
        vec_matrix_init(&m, dims);
        for (size_t i = 0; i < N; i++) {
            for (size_t d = 0; d < dims; d++) {
                x = x * 1103515245u + 12345u;
                int v = (int)(x >> 16) % 256 - 128; /* -128..127 */
                rows[i * dims + d] = (int8_t)(i == 3 ? (d % 2 ? -128 : 127) : v);
            }
            vec_matrix_add(&m, (int64_t)i, rows + i * dims);
        }
        for (size_t d = 0; d < dims; d++) {
            x = x * 1103515245u + 12345u;
            qi[d] = d == 0 ? 127 : (int)(x >> 16) % 255 - 127; /* |q| max 127: quantized as is */
            q[d] = (float)qi[d] / 127.0f;
        }
        struct vec_hit top[N];
        size_t n = vec_matrix_top(&m, q, N, top);
        assert_int_equal(n, N);
        for (size_t j = 0; j < n; j++) {
            const int8_t *r = rows + (size_t)top[j].id * dims;
            double dot = 0, nq = 0, nr = 0;
            for (size_t d = 0; d < dims; d++) {
                dot += (double)qi[d] * r[d];
                nq += (double)qi[d] * qi[d];
                nr += (double)r[d] * r[d];
            }
            assert_float_equal(top[j].cosine, nr > 0 ? dot / sqrt(nq * nr) : 0, 1e-6);
        }
        vec_matrix_free(&m);
        free(rows);
        free(q);
    }
}

static void test_rrf_hand_worked(void **state)
{
    (void)state;
    struct rrf_item out[8];
    /* lexical 1, 2; vectors 2, 3: 2 = 1/62 + 1/61, 1 = 1/61, 3 = 1/62. */
    size_t n = rrf_fuse((int64_t[]){1, 2}, 2, (int64_t[]){2, 3}, 2, RRF_K, out, 8);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].id, 2);
    assert_float_equal(out[0].score, 0.032522474881015, 1e-12);
    assert_int_equal(out[0].rank_a, 2);
    assert_int_equal(out[0].rank_b, 1);
    assert_int_equal(out[1].id, 1);
    assert_float_equal(out[1].score, 0.016393442622951, 1e-12);
    assert_int_equal(out[1].rank_b, 0);
    assert_int_equal(out[2].id, 3);
    assert_float_equal(out[2].score, 0.016129032258065, 1e-12);
    assert_int_equal(out[2].rank_a, 0);

    /* Equal sums: the better single rank, then the smaller id. 10 and 30:
     * 1/61 + 1/63 each; 20 and 40: 1/62 each. */
    n = rrf_fuse((int64_t[]){10, 20, 30}, 3, (int64_t[]){30, 40, 10}, 3, RRF_K, out, 3);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].id, 10);
    assert_int_equal(out[1].id, 30);
    assert_float_equal(out[1].score, 0.032266458495966, 1e-12);
    assert_int_equal(out[2].id, 20);

    /* One list empty: the other's order; both empty: nothing. */
    n = rrf_fuse(NULL, 0, (int64_t[]){5, 4}, 2, RRF_K, out, 8);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].id, 5);
    assert_int_equal(rrf_fuse(NULL, 0, NULL, 0, RRF_K, out, 8), 0);
}

static void test_batches(void **state)
{
    (void)state;
    struct embed_limits lim;
    embed_limits_of("text-embedding-v4", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", &lim);
    assert_int_equal(lim.inputs, 10);
    embed_limits_of("text-embedding-v3", "http://127.0.0.1:9/v1", &lim);
    assert_int_equal(lim.inputs, 10);
    embed_limits_of("text-embedding-v2", "http://127.0.0.1:9/v1", &lim);
    assert_int_equal(lim.inputs, 25);
    embed_limits_of("text-embedding-v1", NULL, &lim);
    assert_int_equal(lim.inputs, 25);
    embed_limits_of("some-model", "https://dashscope.aliyuncs.com/compatible-mode/v1", &lim);
    assert_int_equal(lim.inputs, 10);
    embed_limits_of("text-embedding-3-small", "https://api.openai.com/v1", &lim);
    assert_int_equal(lim.inputs, 2048);
    assert_int_equal(lim.request_tokens, 300000);

    /* 25 short texts at 10 per request: 10, 10, 5. */
    const char *texts[3000];
    for (size_t i = 0; i < 3000; i++)
        texts[i] = "short";
    embed_limits_of("text-embedding-v4", NULL, &lim);
    assert_int_equal(embed_batch_size(texts, 0, 25, &lim), 10);
    assert_int_equal(embed_batch_size(texts, 20, 25, &lim), 5);
    assert_int_equal(embed_batch_size(texts, 25, 25, &lim), 0);
    /* OpenAI: 2048 inputs, then 300,000 tokens (bytes; each input at most 8192). */
    embed_limits_of("text-embedding-3-small", NULL, &lim);
    assert_int_equal(embed_batch_size(texts, 0, 3000, &lim), 2048);
    char *big = xmalloc(20001);
    memset(big, 'a', 20000);
    big[20000] = '\0';
    for (size_t i = 0; i < 100; i++)
        texts[i] = big;
    assert_int_equal(embed_batch_size(texts, 0, 100, &lim), 300000 / 8192); /* 36 */
    free(big);

    /* An input is cut at 8192 bytes, never inside a character. */
    char *kana = xmalloc(3 * 3000 + 1);
    for (size_t i = 0; i < 3000; i++)
        memcpy(kana + 3 * i, "\xe3\x81\x82", 3); /* あ */
    kana[9000] = '\0';
    assert_int_equal(embed_input_len(kana, 9000), 8190);
    assert_int_equal(embed_input_len("abc", 3), 3);
    const char *one[1] = {kana};
    char *json = embed_request_json("m", one, 1);
    assert_non_null(strstr(json, "\"model\":\"m\""));
    assert_non_null(strstr(json, "\"encoding_format\":\"float\""));
    assert_true(strlen(json) < 8300);
    free(json);
    free(kana);
}

static int parse(const char *body, size_t n, size_t want, float **v, size_t *d, char *err)
{
    return embed_parse(body, strlen(body), n, want, v, d, err, 256);
}

static void test_hostile_answers(void **state)
{
    (void)state;
    float *v = NULL;
    size_t d = 0;
    char err[256];

    /* Out of order, with indexes: put back in the inputs' order, unit length. */
    assert_int_equal(parse("{\"data\":[{\"index\":1,\"embedding\":[0,2]},{\"index\":0,\"embedding\":[3,4]}]}", 2, 0,
                           &v, &d, err), 0);
    assert_int_equal(d, 2);
    assert_float_equal(v[0], 0.6, 1e-6);
    assert_float_equal(v[1], 0.8, 1e-6);
    assert_float_equal(v[2], 0, 1e-6);
    assert_float_equal(v[3], 1, 1e-6);
    free(v);

    struct {
        const char *body;
        size_t n, want;
        const char *says;
    } bad[] = {
        {"{\"data\":[{\"embedding\":[1,2]}]}", 2, 0, "1 vectors for 2 inputs"},
        {"{\"data\":[{\"embedding\":[1,2]},{\"embedding\":[1,2,3]}]}", 2, 0, "3 dimensions, not 2"},
        {"{\"data\":[{\"embedding\":[1,2]}]}", 1, 3, "2 dimensions, not 3"},
        {"{\"data\":[{\"embedding\":[1,\"x\"]}]}", 1, 0, "other than a number"},
        {"{\"data\":[{\"embedding\":[1,1e300]}]}", 1, 0, "other than a number"},
        {"{\"data\":[{\"embedding\":[0,0]}]}", 1, 0, "all zeros"},
        {"{\"data\":[{\"embedding\":[]}]}", 1, 0, "not a list of numbers"},
        {"{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":0,\"embedding\":[1]}]}", 2, 0, "repeated index"},
        {"{\"data\":[{\"index\":5,\"embedding\":[1]}]}", 1, 0, "wrong or repeated index"},
        {"{\"data\":[{\"embedding\":[1,NaN]}]}", 1, 0, "not a JSON object"},
        {"[1,2]", 1, 0, "not a JSON object"},
        {"{\"error\":{\"message\":\"Invalid model\"}}", 1, 0, "says: Invalid model"},
        {"{\"object\":\"list\"}", 1, 0, "no data list"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = (float *)&d; /* must come back NULL */
        assert_int_equal(parse(bad[i].body, bad[i].n, bad[i].want, &v, &d, err), -1);
        assert_null(v);
        if (!strstr(err, bad[i].says))
            fail_msg("answer %zu: \"%s\" does not say \"%s\"", i, err, bad[i].says);
    }
    /* Too many dimensions. */
    size_t big = VEC_DIMS_MAX + 1;
    char *body = xmalloc(2 * big + 64), *o = body;
    o += sprintf(o, "{\"data\":[{\"embedding\":[");
    for (size_t i = 0; i < big; i++)
        o += sprintf(o, i ? ",1" : "1");
    sprintf(o, "]}]}");
    assert_int_equal(parse(body, 1, 0, &v, &d, err), -1);
    assert_non_null(strstr(err, "at most 8192"));
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_round_trip), cmocka_unit_test(test_cosine_and_top),
        cmocka_unit_test(test_top_agrees_with_float),
        cmocka_unit_test(test_top_cosines_exact), cmocka_unit_test(test_rrf_hand_worked),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_hostile_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
