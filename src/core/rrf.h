/* rrf.h - reciprocal rank fusion (issue 12): one ranking out of the
 * lexical (BM25) and the vector (cosine) ones. Pure.
 *
 * Each list gives an item 1 / (k + rank), rank counted from 1; an item's
 * score is the sum over the lists it is in. Scores of different kinds
 * (BM25 is unbounded, cosine is -1..1) never have to be compared, only
 * ranks. k = 60 is the value of Cormack, Clarke and Buettcher (2009). */
#ifndef LINEBOT_RRF_H
#define LINEBOT_RRF_H

#include <stddef.h>
#include <stdint.h>

#define RRF_K 60.0

struct rrf_item {
    int64_t id;
    double score;
    int rank_a, rank_b; /* 1-based rank in each list, 0: not in it */
};

/* Fuses lists `a` and `b` of distinct ids, best first. Writes at most `max`
 * items to `out`, best first (ties: the better single rank, then the
 * smaller id), and returns how many. */
size_t rrf_fuse(const int64_t *a, size_t n_a, const int64_t *b, size_t n_b, double k, struct rrf_item *out,
                size_t max);

#endif
