/* vec.h - embedding vectors as the knowledge base keeps and searches them
 * (issue 12): unit length, int8 with a per-vector scale, and brute-force
 * cosine over a matrix held in memory. Pure: no I/O.
 *
 * Why int8: 100k chunks x 1024 dimensions is 400 MB as float32, more than a
 * 256 MB Lambda; as int8 it is 100 MB. A vector is made unit length first,
 * then each component becomes round(v / max|v| * 127); the scale
 * (max|v| / 127) gives the float back within half a step. Cosine does not
 * need the scale (it cancels), only each stored vector's norm. */
#ifndef LINEBOT_VEC_H
#define LINEBOT_VEC_H

#include <stddef.h>
#include <stdint.h>

#define VEC_DIMS_MAX 8192 /* a larger answer from an embeddings server is refused */

/* Makes `v` unit length. -1 (v unchanged) when a component is not finite
 * or every component is 0: such a vector says nothing and is refused. */
int vec_normalize(float *v, size_t dims);

/* `v` as int8 into `out`; returns the scale (0 for an all-zero vector). */
float vec_quantize(const float *v, size_t dims, int8_t *out);
void vec_dequantize(const int8_t *q, size_t dims, float scale, float *out);

/* The cosine of two float vectors (0 when either is all zeros). */
double vec_cosine(const float *a, const float *b, size_t dims);

/* Vectors of one model and dimension, one row each, with the id of the
 * chunk each stands for. inv_norm[i] is 1 / |row i| (0 for an all-zero
 * row, which then never matches). */
struct vec_matrix {
    size_t n, dims, cap;
    int64_t *ids;
    int8_t *rows;
    float *inv_norm;
};
void vec_matrix_init(struct vec_matrix *m, size_t dims);
void vec_matrix_add(struct vec_matrix *m, int64_t id, const int8_t *q); /* copies the row */
void vec_matrix_free(struct vec_matrix *m);
size_t vec_matrix_bytes(const struct vec_matrix *m); /* the memory it holds */

struct vec_hit {
    int64_t id;
    double cosine;
};
/* The `k` rows most like `query` (dims floats, any length), best first,
 * ties by smaller id; returns how many were written to `out` (at most k).
 * The query is made int8 too, and the products summed in integers (fast:
 * 100k x 1024 in about 12 ms on one core); the cosines are then within a
 * few thousandths of the exact ones. */
size_t vec_matrix_top(const struct vec_matrix *m, const float *query, size_t k, struct vec_hit *out);

#endif
