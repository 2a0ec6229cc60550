/* rrf.c - reciprocal rank fusion of two rankings (rrf.h). */
#include "core/rrf.h"

#include <stdlib.h>

#include "core/alloc.h"

static int best_rank(const struct rrf_item *it)
{
    if (it->rank_a && it->rank_b)
        return it->rank_a < it->rank_b ? it->rank_a : it->rank_b;
    return it->rank_a ? it->rank_a : it->rank_b;
}

static int cmp_item(const void *x, const void *y)
{
    const struct rrf_item *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (best_rank(a) != best_rank(b))
        return best_rank(a) < best_rank(b) ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

size_t rrf_fuse(const int64_t *a, size_t n_a, const int64_t *b, size_t n_b, double k, struct rrf_item *out,
                size_t max)
{
    struct rrf_item *all = xcalloc(n_a + n_b + 1, sizeof *all);
    size_t n = 0;
    for (size_t i = 0; i < n_a; i++)
        all[n++] = (struct rrf_item){a[i], 1.0 / (k + (double)(i + 1)), (int)(i + 1), 0};
    for (size_t j = 0; j < n_b; j++) {
        size_t at = 0;
        while (at < n && all[at].id != b[j]) /* lists are a few dozen ids long */
            at++;
        if (at == n)
            all[n++] = (struct rrf_item){b[j], 0, 0, 0};
        all[at].score += 1.0 / (k + (double)(j + 1));
        all[at].rank_b = (int)(j + 1);
    }
    qsort(all, n, sizeof *all, cmp_item);
    size_t kept = n < max ? n : max;
    for (size_t i = 0; i < kept; i++)
        out[i] = all[i];
    free(all);
    return kept;
}
