/* store_kb.c - the knowledge base's part of store.h (issue 12): checks the
 * arguments, and strings the one-transaction steps of the backends
 * (store_backend.h's kb_* ops) into a put and a remove.
 *
 * A put: kb_begin finds or creates the document; an unchanged hash ends it
 * there. Chunks a crash left behind (a generation never switched in) are
 * deleted, the new chunks written in batches of KB_BATCH under the next
 * generation, kb_switch makes that generation the document's current one
 * (fenced: a concurrent put of the same document makes it fail), and the
 * old generation's chunks are deleted in batches. Searches join chunks to
 * their document's current generation, so they see one version whole.
 *
 * Vectors (issue 12): a put with `embed` embeds once it knows the document
 * changed, before the first chunk is written and outside any transaction;
 * each batch's vectors follow its chunks (found by position, invisible
 * until the switch like them), and go with them when they are dropped. */
#include "io/store_backend.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/vec.h"

#define DROP_BATCH 256 /* chunks deleted per transaction */

/* Arguments refused: store_invalid, so that a bad name or a missing argument
 * (the operator's typing, often) is not counted against the store's health. */
static int kb_missing(struct store *st, const char *what, const char *name)
{
    return store_invalid(st, "store: %s: %s is missing", what, name);
}

static bool kb_name_ok(const char *kb)
{
    size_t len = kb ? strlen(kb) : 0;
    if (len == 0 || len > KB_NAME_MAX || kb[0] == ' ' || kb[len - 1] == ' ')
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)kb[i] < 0x20 || kb[i] == 0x7f)
            return false;
    return true;
}

static int check_kb(struct store *st, const char *what, const char *kb)
{
    if (!kb_name_ok(kb))
        return store_invalid(st, "store: %s: a knowledge base name is 1-%d characters, without control characters",
                             what, KB_NAME_MAX);
    return 0;
}

/* Deletes the document's chunks other than generation `keep` (0: all), batch by batch. */
static int drop_chunks(struct store *st, int64_t doc_id, int keep)
{
    int64_t deleted;
    do {
        if (st->ops->kb_chunks_drop(st, doc_id, keep, DROP_BATCH, &deleted) != 0)
            return -1;
    } while (deleted >= DROP_BATCH);
    return 0;
}

/* The vectors of a batch of a put's chunks, found by their position. */
static int put_vectors(struct store *st, const struct kb_put *put, int64_t doc_id, int generation,
                       const struct kb_chunk_row *rows, size_t n)
{
    if (!put->embed_model)
        return 0;
    struct kb_vec_row vecs[KB_BATCH];
    size_t count = 0;
    for (size_t i = 0; i < n && count < KB_BATCH; i++)
        if (rows[i].vec)
            vecs[count++] = (struct kb_vec_row){0, doc_id, generation, rows[i].position, put->embed_dims,
                                                rows[i].vec_scale, rows[i].vec};
    return count ? store_kb_vec_put(st, put->kb, put->embed_model, vecs, count) : 0;
}

int store_kb_put(struct store *st, const struct kb_put *put, int64_t now_ms, int64_t *doc_id,
                 enum kb_put_status *status)
{
    if (doc_id)
        *doc_id = 0;
    if (!st)
        return -1;
    if (!put || !doc_id || !status)
        return kb_missing(st, "kb put", "put");
    if (check_kb(st, "kb put", put->kb) != 0)
        return -1;
    if (!put->path || !*put->path || !put->title || !put->content_hash)
        return kb_missing(st, "kb put", "path, title or hash");
    if (put->n_chunks > 0 && !put->chunks)
        return kb_missing(st, "kb put", "chunks");
    for (size_t i = 0; i < put->n_chunks; i++)
        if (!put->chunks[i].heading || !put->chunks[i].body || !put->chunks[i].terms)
            return kb_missing(st, "kb put", "a chunk's text");

    int generation = 0;
    bool live = false;
    int rc = st->ops->kb_begin(st, put->kb, put->path, put->title, put->content_hash, now_ms, doc_id, &generation,
                               &live);
    if (rc < 0)
        return -1;
    if (rc == 2) {
        *status = KB_UNCHANGED;
        return 0;
    }
    *status = live ? KB_REPLACED : KB_ADDED;
    int next = generation + 1;
    if (put->embed) {
        char why[256] = "";
        if (put->embed(put->embed_arg, why, sizeof why) != 0) {
            store_invalid(st, "%s", why[0] ? why : "the embeddings failed");
            return -1;
        }
    }
    if (drop_chunks(st, *doc_id, generation) != 0)
        return -1;
    for (size_t at = 0; at < put->n_chunks; at += KB_BATCH) {
        size_t n = put->n_chunks - at < KB_BATCH ? put->n_chunks - at : KB_BATCH;
        if (st->ops->kb_chunks_add(st, *doc_id, next, put->chunks + at, n) != 0 ||
            put_vectors(st, put, *doc_id, next, put->chunks + at, n) != 0)
            return -1;
        if (put->progress)
            put->progress(put->progress_arg, at + n);
    }
    rc = st->ops->kb_switch(st, *doc_id, generation, next, put, now_ms);
    if (rc != 0) {
        if (rc == 1)
            store_set_error(st, "store: kb put: the document was changed by another kb command at the same time;"
                                " run it again");
        return -1;
    }
    /* The new version is in; the old one's chunks go (a failure here only leaves invisible rows). */
    return drop_chunks(st, *doc_id, next);
}

int store_kb_docs(struct store *st, const char *kb, int64_t doc_id, const char *path, struct kb_doc_info **docs,
                  size_t *n)
{
    if (docs)
        *docs = NULL;
    if (n)
        *n = 0;
    if (!st)
        return -1;
    if (!docs || !n)
        return kb_missing(st, "kb docs", "docs");
    return st->ops->kb_docs(st, kb, doc_id, path, docs, n);
}

int store_kb_remove(struct store *st, const char *kb, int64_t doc_id, const char *path, struct kb_doc_info *removed)
{
    struct kb_doc_info *docs = NULL;
    size_t n = 0;

    if (removed)
        memset(removed, 0, sizeof *removed);
    if (!st)
        return -1;
    if (check_kb(st, "kb remove", kb) != 0)
        return -1;
    if (doc_id <= 0 && !path)
        return kb_missing(st, "kb remove", "document");
    if (st->ops->kb_docs(st, kb, doc_id, doc_id > 0 ? NULL : path, &docs, &n) != 0)
        return -1;
    if (n == 0)
        return 0;
    int64_t id = docs[0].id;
    int rc = st->ops->kb_hide(st, id) == 0 && drop_chunks(st, id, 0) == 0 && st->ops->kb_doc_delete(st, id) == 0
                 ? 1
                 : -1;
    if (rc == 1 && removed) {
        *removed = docs[0];
        memset(&docs[0], 0, sizeof docs[0]);
    }
    kb_doc_infos_free(docs, n);
    return rc;
}

int store_kb_search(struct store *st, const char *kb, const char *const *terms, size_t n_terms, int k,
                    struct kb_hit **hits, size_t *n)
{
    if (hits)
        *hits = NULL;
    if (n)
        *n = 0;
    if (!st)
        return -1;
    if (!hits || !n)
        return kb_missing(st, "kb search", "hits");
    if (check_kb(st, "kb search", kb) != 0)
        return -1;
    if (n_terms > 0 && !terms)
        return kb_missing(st, "kb search", "terms");
    for (size_t i = 0; i < n_terms; i++)
        if (!terms[i] || !*terms[i])
            return kb_missing(st, "kb search", "a term");
    if (n_terms == 0 || k <= 0)
        return 0;
    return st->ops->kb_search(st, kb, terms, n_terms, k, hits, n);
}

int store_kb_bind(struct store *st, const char *chat_id, const char *kb, int64_t now_ms)
{
    if (!st)
        return -1;
    if (!chat_id || !*chat_id)
        return kb_missing(st, "kb bind", "chat_id");
    if (check_kb(st, "kb bind", kb) != 0)
        return -1;
    return st->ops->kb_bind(st, chat_id, kb, now_ms);
}

int store_kb_unbind(struct store *st, const char *chat_id)
{
    if (!st)
        return -1;
    if (!chat_id || !*chat_id)
        return kb_missing(st, "kb unbind", "chat_id");
    return st->ops->kb_unbind(st, chat_id);
}

int store_kb_of_chat(struct store *st, const char *chat_id, char **kb)
{
    if (kb)
        *kb = NULL;
    if (!st)
        return -1;
    if (!chat_id)
        return kb_missing(st, "kb of chat", "chat_id");
    if (!kb)
        return kb_missing(st, "kb of chat", "kb");
    return st->ops->kb_of_chat(st, chat_id, kb);
}

void kb_doc_info_clear(struct kb_doc_info *doc)
{
    if (!doc)
        return;
    free(doc->kb);
    free(doc->path);
    free(doc->title);
    memset(doc, 0, sizeof *doc);
}

void kb_doc_infos_free(struct kb_doc_info *docs, size_t n)
{
    for (size_t i = 0; docs && i < n; i++)
        kb_doc_info_clear(&docs[i]);
    free(docs);
}

void kb_hits_free(struct kb_hit *hits, size_t n)
{
    for (size_t i = 0; hits && i < n; i++) {
        free(hits[i].path);
        free(hits[i].title);
        free(hits[i].heading);
        free(hits[i].body);
    }
    free(hits);
}

/* ---- vectors (issue 12) ---- */

int store_kb_vec_model(struct store *st, const char *kb, const char *claim, bool reset, int64_t now_ms,
                       char **model, int64_t *version)
{
    if (model)
        *model = NULL;
    if (version)
        *version = 0;
    if (!st)
        return -1;
    if (!model || !version)
        return kb_missing(st, "kb vec model", "model");
    if (check_kb(st, "kb vec model", kb) != 0)
        return -1;
    if (claim && !*claim)
        return kb_missing(st, "kb vec model", "the model's name");
    return st->ops->kb_vec_model(st, kb, claim, reset, now_ms, model, version);
}

static bool vec_row_ok(const struct kb_vec_row *r)
{
    return r->vec && r->dims > 0 && r->dims <= VEC_DIMS_MAX && (r->chunk_id > 0 || r->doc_id > 0);
}

int store_kb_vec_put(struct store *st, const char *kb, const char *model, const struct kb_vec_row *rows, size_t n)
{
    if (!st)
        return -1;
    if (check_kb(st, "kb vec put", kb) != 0)
        return -1;
    if (!model || !*model || (n > 0 && !rows))
        return kb_missing(st, "kb vec put", "model or vectors");
    for (size_t i = 0; i < n; i++)
        if (!vec_row_ok(&rows[i]))
            return store_invalid(st, "store: kb vec put: vector %zu has no chunk or a dimension outside 1-%d", i,
                                 VEC_DIMS_MAX);
    for (size_t at = 0; at < n; at += KB_BATCH) {
        size_t count = n - at < KB_BATCH ? n - at : KB_BATCH;
        if (st->ops->kb_vec_put(st, kb, model, rows + at, count) != 0)
            return -1;
    }
    return 0;
}

int64_t store_kb_vec_load(struct store *st, const char *kb, const char *model,
                          void (*row)(void *arg, int64_t chunk_id, int dims, const int8_t *vec), void *arg)
{
    if (!st)
        return -1;
    if (check_kb(st, "kb vec load", kb) != 0)
        return -1;
    if (!model || !row)
        return kb_missing(st, "kb vec load", "model");
    return st->ops->kb_vec_load(st, kb, model, row, arg);
}

int store_kb_chunks(struct store *st, const char *kb, const int64_t *ids, size_t n_ids, int64_t after_id,
                    int limit, struct kb_hit **hits, size_t *n)
{
    if (hits)
        *hits = NULL;
    if (n)
        *n = 0;
    if (!st)
        return -1;
    if (!hits || !n)
        return kb_missing(st, "kb chunks", "hits");
    if (check_kb(st, "kb chunks", kb) != 0)
        return -1;
    if ((ids && n_ids == 0) || (!ids && limit <= 0))
        return 0;
    struct kb_hit *found = NULL;
    size_t count = 0;
    if (st->ops->kb_chunks(st, kb, ids, n_ids, after_id, limit, &found, &count) != 0)
        return -1;
    if (!ids) {
        *hits = found;
        *n = count;
        return 0;
    }
    /* In the order of `ids` (a ranking). */
    struct kb_hit *ordered = xcalloc(count + 1, sizeof *ordered);
    size_t kept = 0;
    for (size_t i = 0; i < n_ids; i++)
        for (size_t j = 0; j < count; j++)
            if (found[j].chunk_id == ids[i] && found[j].body) {
                ordered[kept++] = found[j];
                memset(&found[j], 0, sizeof found[j]);
                break;
            }
    kb_hits_free(found, count);
    if (kept == 0) {
        free(ordered);
        ordered = NULL;
    }
    *hits = ordered;
    *n = kept;
    return 0;
}
