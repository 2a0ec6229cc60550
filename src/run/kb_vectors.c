/* kb_vectors.c - the knowledge bases' vectors in memory (kb_vectors.h).
 *
 * Entries are kept for the process's life (a bot has a handful of
 * knowledge bases). A mutex guards the list and each entry's bookkeeping;
 * each entry's matrix sits behind a read-write lock, so questions search
 * it together, and a re-read is built aside and swapped in. One thread at
 * a time checks an entry (the one that finds the check due). */
#include "run/kb_vectors.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "io/clock.h"
#include "io/store.h"
#include "obs/log.h"

#define CHECK_EVERY_MS 1000

struct entry {
    char *kb;
    int64_t checked_at_ms; /* 0: never */
    bool checking;         /* a thread is checking it now */
    uint64_t stamp;        /* of what the matrix was read from */
    char *warned_model;    /* the other model the log last named for it */
    pthread_rwlock_t lock; /* over `m` */
    struct vec_matrix m;   /* n 0: nothing to search */
    struct entry *next;
};

static pthread_mutex_t entries_lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *entries;

static struct entry *entry_of(const char *kb) /* with entries_lock held */
{
    for (struct entry *e = entries; e; e = e->next)
        if (strcmp(e->kb, kb) == 0)
            return e;
    struct entry *e = xcalloc(1, sizeof *e);
    e->kb = xstrdup(kb);
    pthread_rwlock_init(&e->lock, NULL);
    e->next = entries;
    entries = e;
    return e;
}

static uint64_t fnv(uint64_t h, int64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (uint64_t)(v >> (8 * i)) & 0xff;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* What the vectors a search sees depend on: the documents' versions, and
 * the vectors' version. 0 on a store error. */
static uint64_t stamp_of(struct store *st, const char *kb, int64_t version)
{
    struct kb_doc_info *docs = NULL;
    size_t n = 0;
    if (store_kb_docs(st, kb, 0, NULL, &docs, &n) != 0)
        return 0;
    uint64_t h = fnv(0xcbf29ce484222325ull, version);
    for (size_t i = 0; i < n; i++)
        h = fnv(fnv(fnv(h, docs[i].id), docs[i].updated_at_ms), docs[i].live ? docs[i].chunks : -1);
    kb_doc_infos_free(docs, n);
    return h ? h : 1;
}

struct loading {
    struct vec_matrix m;
    size_t skipped;
};

static void on_row(void *arg, int64_t chunk_id, int dims, const int8_t *vec)
{
    struct loading *l = arg;
    if (l->m.dims == 0)
        vec_matrix_init(&l->m, (size_t)dims);
    if ((size_t)dims != l->m.dims) {
        l->skipped++; /* not one dimension: not comparable */
        return;
    }
    vec_matrix_add(&l->m, chunk_id, vec);
}

static void swap_in(struct entry *e, struct vec_matrix *m)
{
    pthread_rwlock_wrlock(&e->lock);
    struct vec_matrix old = e->m;
    e->m = *m;
    pthread_rwlock_unlock(&e->lock);
    vec_matrix_free(&old);
}

/* The check: the stored model, then the stamp, then a re-read if it changed. */
static int refresh(struct store *st, struct entry *e, const char *model)
{
    char *stored = NULL;
    int64_t version = 0;
    if (store_kb_vec_model(st, e->kb, NULL, false, 0, &stored, &version) != 0)
        return -1;
    if (!stored || strcmp(stored, model) != 0) {
        struct vec_matrix none = {0};
        swap_in(e, &none);
        e->stamp = 0;
        pthread_mutex_lock(&entries_lock);
        bool warn = stored && (!e->warned_model || strcmp(e->warned_model, stored) != 0);
        if (warn) {
            free(e->warned_model);
            e->warned_model = xstrdup(stored);
        }
        pthread_mutex_unlock(&entries_lock);
        if (warn)
            log_warn("knowledge base %s holds embeddings of %s, not of %s (LINEBOT_EMBED_MODEL): it is searched"
                     " lexically until `linebot kb reembed --kb %s` is run",
                     e->kb, stored, model, e->kb);
        free(stored);
        return 0;
    }
    free(stored);
    uint64_t stamp = stamp_of(st, e->kb, version);
    if (stamp == 0)
        return -1;
    if (stamp == e->stamp)
        return 0;
    struct loading l = {{0}, 0};
    int64_t started = clock_monotonic_ms();
    if (store_kb_vec_load(st, e->kb, model, on_row, &l) < 0) {
        vec_matrix_free(&l.m);
        return -1;
    }
    log_info("knowledge base %s: %zu vectors of %s read (%zu dimensions, %zu KiB) in %lld ms%s", e->kb, l.m.n, model,
             l.m.dims, vec_matrix_bytes(&l.m) / 1024, (long long)(clock_monotonic_ms() - started),
             l.skipped ? "; some of another dimension were left out" : "");
    swap_in(e, &l.m);
    e->stamp = stamp;
    return 0;
}

int kb_vectors_ready(struct store *st, const char *kb, const char *model, size_t *dims)
{
    int64_t now = clock_monotonic_ms();
    pthread_mutex_lock(&entries_lock);
    struct entry *e = entry_of(kb);
    bool due = !e->checking &&
               (e->checked_at_ms == 0 || now - e->checked_at_ms >= CHECK_EVERY_MS || now < e->checked_at_ms);
    if (due) /* this thread checks; the others use what there is meanwhile */
        e->checking = true;
    pthread_mutex_unlock(&entries_lock);
    int rc = due ? refresh(st, e, model) : 0;
    if (due) {
        pthread_mutex_lock(&entries_lock);
        e->checking = false;
        e->checked_at_ms = rc == 0 ? clock_monotonic_ms() : 0; /* failed: again at the next question */
        pthread_mutex_unlock(&entries_lock);
    }
    pthread_rwlock_rdlock(&e->lock);
    *dims = e->m.dims;
    bool some = e->m.n > 0;
    pthread_rwlock_unlock(&e->lock);
    if (rc != 0)
        return -1;
    return some ? 1 : 0;
}

size_t kb_vectors_top(const char *kb, const float *query, size_t dims, size_t k, struct vec_hit *out)
{
    pthread_mutex_lock(&entries_lock);
    struct entry *e = entry_of(kb);
    pthread_mutex_unlock(&entries_lock);
    pthread_rwlock_rdlock(&e->lock);
    size_t n = e->m.dims == dims ? vec_matrix_top(&e->m, query, k, out) : 0;
    pthread_rwlock_unlock(&e->lock);
    return n;
}

/* Finer than clock_monotonic_ms: the bench reports fractions of a millisecond. */
static double now_ms(void) { return (double)clock_monotonic_us() / 1000.0; }

static void *search_main(void *arg)
{
    struct kb_vector_search *s = arg;
    double t0 = now_ms();
    float *query = NULL;
    size_t got = 0;
    s->n = 0;
    s->rc = embed_texts(s->http, &s->target, &s->question, 1, s->dims, s->deadline_ms, NULL, NULL, &query, &got,
                        s->err, sizeof s->err);
    double t1 = now_ms();
    if (s->rc == 0)
        s->n = kb_vectors_top(s->kb, query, got, s->k, s->hits);
    free(query);
    s->embed_ms = t1 - t0;
    s->top_ms = now_ms() - t1;
    return NULL;
}

void kb_vectors_search_start(struct kb_vector_search *s)
{
    s->threaded = pthread_create(&s->thread, NULL, search_main, s) == 0;
    if (!s->threaded)
        search_main(s);
}

void kb_vectors_search_wait(struct kb_vector_search *s)
{
    if (s->threaded)
        pthread_join(s->thread, NULL);
    s->threaded = false;
}
