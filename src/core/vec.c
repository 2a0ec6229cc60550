/* vec.c - embedding vectors: unit length, int8 quantization, cosine, and
 * the brute-force top-k over a matrix in memory (vec.h says why int8). */
#include "core/vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

int vec_normalize(float *v, size_t dims)
{
    double sum = 0;
    for (size_t i = 0; i < dims; i++) {
        if (!isfinite(v[i]))
            return -1;
        sum += (double)v[i] * v[i];
    }
    if (!(sum > 0) || !isfinite(sum))
        return -1;
    double inv = 1.0 / sqrt(sum);
    for (size_t i = 0; i < dims; i++)
        v[i] = (float)(v[i] * inv);
    return 0;
}

float vec_quantize(const float *v, size_t dims, int8_t *out)
{
    float max = 0;
    for (size_t i = 0; i < dims; i++)
        if (fabsf(v[i]) > max)
            max = fabsf(v[i]);
    if (!(max > 0)) {
        memset(out, 0, dims);
        return 0;
    }
    for (size_t i = 0; i < dims; i++) {
        long q = lroundf(v[i] / max * 127.0f);
        out[i] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
    }
    return max / 127.0f;
}

void vec_dequantize(const int8_t *q, size_t dims, float scale, float *out)
{
    for (size_t i = 0; i < dims; i++)
        out[i] = (float)q[i] * scale;
}

double vec_cosine(const float *a, const float *b, size_t dims)
{
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < dims; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    return na > 0 && nb > 0 ? dot / sqrt(na * nb) : 0;
}

void vec_matrix_init(struct vec_matrix *m, size_t dims)
{
    memset(m, 0, sizeof *m);
    m->dims = dims;
}

void vec_matrix_add(struct vec_matrix *m, int64_t id, const int8_t *q)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 256;
        m->ids = xrealloc_array(m->ids, m->cap, sizeof *m->ids);
        m->rows = xrealloc_array(m->rows, m->cap, m->dims);
        m->inv_norm = xrealloc_array(m->inv_norm, m->cap, sizeof *m->inv_norm);
    }
    int64_t sum = 0;
    for (size_t i = 0; i < m->dims; i++)
        sum += (int64_t)q[i] * q[i];
    m->ids[m->n] = id;
    memcpy(m->rows + m->n * m->dims, q, m->dims);
    m->inv_norm[m->n] = sum > 0 ? (float)(1.0 / sqrt((double)sum)) : 0.0f;
    m->n++;
}

void vec_matrix_free(struct vec_matrix *m)
{
    free(m->ids);
    free(m->rows);
    free(m->inv_norm);
    memset(m, 0, sizeof *m);
}

size_t vec_matrix_bytes(const struct vec_matrix *m)
{
    return m->cap * (sizeof *m->ids + m->dims + sizeof *m->inv_norm);
}

/* Better: a higher cosine, then a smaller id. */
static int better(const struct vec_hit *a, const struct vec_hit *b)
{
    return a->cosine > b->cosine || (a->cosine == b->cosine && a->id < b->id);
}

/* The dot product of two int8 rows, in int32 (exact: 8192 x 128 x 128 fits).
 * This loop is the whole cost of a vector search (100k rows x 1024
 * dimensions a question), so on x86-64 it is written with SSE2, which every
 * x86-64 processor has: each int8 widened to int16, and pmaddwd multiplies
 * eight pairs and adds them two by two into int32, exactly. Compilers do not
 * find pmaddwd for int8 sources: GCC's vectorized loop (it needs -O3 or the
 * attribute below to vectorize at all) widens every product to int32 and
 * takes twice as long (100k x 1024: 25 ms against 12 ms, now about the
 * speed of reading the matrix from memory). Elsewhere, the plain loop. */
#if defined(__SSE2__)
static int32_t dot_i8(const int8_t *a, const int8_t *b, size_t dims)
{
    __m128i acc = _mm_setzero_si128();
    size_t d = 0;
    for (; d + 16 <= dims; d += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(a + d));
        __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(b + d));
        /* Each byte paired with itself, then shifted down: the int16 sign-extension. */
        __m128i x_lo = _mm_srai_epi16(_mm_unpacklo_epi8(x, x), 8), x_hi = _mm_srai_epi16(_mm_unpackhi_epi8(x, x), 8);
        __m128i y_lo = _mm_srai_epi16(_mm_unpacklo_epi8(y, y), 8), y_hi = _mm_srai_epi16(_mm_unpackhi_epi8(y, y), 8);
        acc = _mm_add_epi32(acc, _mm_add_epi32(_mm_madd_epi16(x_lo, y_lo), _mm_madd_epi16(x_hi, y_hi)));
    }
    acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0x4e));
    acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0xb1));
    int32_t sum = _mm_cvtsi128_si32(acc);
    for (; d < dims; d++)
        sum += (int32_t)a[d] * (int32_t)b[d];
    return sum;
}
#else
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#endif
static int32_t dot_i8(const int8_t *a, const int8_t *b, size_t dims)
{
    int32_t sum = 0;
    for (size_t d = 0; d < dims; d++)
        sum += (int32_t)a[d] * (int32_t)b[d];
    return sum;
}
#endif

size_t vec_matrix_top(const struct vec_matrix *m, const float *query, size_t k, struct vec_hit *out)
{
    if (k == 0 || m->n == 0)
        return 0;
    /* The query as int8 too (its own scale cancels in the cosine): about
     * 0.5% error per component, far below what separates a good passage. */
    int8_t *q = xmalloc(m->dims);
    vec_quantize(query, m->dims, q);
    int32_t qn = dot_i8(q, q, m->dims);
    if (qn <= 0) {
        free(q);
        return 0;
    }
    double inv_q = 1.0 / sqrt((double)qn);
    size_t kept = 0;
    for (size_t i = 0; i < m->n; i++) {
        int32_t dot = dot_i8(q, m->rows + i * m->dims, m->dims);
        struct vec_hit h = {m->ids[i], (double)dot * m->inv_norm[i] * inv_q};
        if (kept == k && !better(&h, &out[k - 1]))
            continue;
        /* Insertion into the sorted top k (k is small: a handful of sources). */
        size_t at = kept < k ? kept++ : k - 1;
        while (at > 0 && better(&h, &out[at - 1])) {
            out[at] = out[at - 1];
            at--;
        }
        out[at] = h;
    }
    free(q);
    return kept;
}
