/* kb_embed.c - `linebot kb`'s embeddings: add's and sync's step before the
 * write, and `kb reembed` (kb_embed.h). Texts are embedded as the search
 * reads them: a chunk's heading path, a newline, its passage. */
#include "cli/kb_embed.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/alloc.h"
#include "core/vec.h"
#include "io/clock.h"
#include "io/embed.h"
#include "io/http_client.h"
#include "io/store.h"

#define REEMBED_PAGE 256 /* chunks read, embedded and written at a time */

struct kb_embedder {
    struct config cfg;
    struct embed_target target;
    struct http_client *http;
    struct store *st;
    const char *kb;
    size_t dims;               /* of this run's first answer; every later one must match */
    size_t done, total;        /* embeddings, for the progress line */
    bool claimed;              /* the knowledge base's model is ours */
    void (*show)(void *arg);   /* redraws the progress line (may be NULL) */
    void *show_arg;
    /* The put being prepared. */
    struct kb_put *put;
    struct kb_chunk_row *rows;
    size_t n;
    int8_t *vecs;
};

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
    va_list ap;
    fputs("linebot kb: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int kb_embed_open(struct store *st, const char *kb, char *const *env, bool reembed, struct kb_embedder **out,
                  int *status)
{
    struct config cfg;
    char err[512];
    *out = NULL;
    if (config_load_embed(&cfg, env, err, sizeof err) != 0) {
        say("%s", err);
        *status = 2;
        return -1;
    }
    if (!cfg.embed_model) {
        config_free(&cfg);
        if (!reembed)
            return 0;
        say("reembed needs LINEBOT_EMBED_MODEL (the embeddings model)");
        *status = 2;
        return -1;
    }
    if (!reembed) {
        /* Only read here: the claim is made by the first document embedded,
         * so a run that adds nothing creates no knowledge base. */
        char *held = NULL;
        int64_t version = 0;
        if (store_kb_vec_model(st, kb, NULL, false, 0, &held, &version) != 0) {
            say("cannot read the knowledge base's embeddings model: %s", store_last_error(st));
            config_free(&cfg);
            *status = 1;
            return -1;
        }
        if (held && strcmp(held, cfg.embed_model) != 0) {
            fprintf(stderr,
                    "linebot kb: knowledge base %s holds embeddings of %s, not of %s (LINEBOT_EMBED_MODEL): "
                    "run `linebot kb reembed --kb %s` first\n",
                    kb, held, cfg.embed_model, kb);
            free(held);
            config_free(&cfg);
            *status = 1;
            return -1;
        }
        free(held);
    }
    if (http_global_init() != 0) {
        say("cannot start libcurl");
        config_free(&cfg);
        *status = 1;
        return -1;
    }
    http_use_ca_bundle(cfg.ca_file);
    struct kb_embedder *e = xcalloc(1, sizeof *e);
    e->cfg = cfg;
    e->target = (struct embed_target){cfg.embed_base_url, cfg.embed_api_key, cfg.embed_model};
    e->http = http_client_new();
    e->st = st;
    e->kb = kb;
    *out = e;
    return 0;
}

void kb_embed_close(struct kb_embedder *e)
{
    if (!e)
        return;
    kb_embed_done(e);
    http_client_free(e->http);
    config_free(&e->cfg);
    free(e);
}

static void on_embedded(void *arg, size_t done)
{
    struct kb_embedder *e = arg;
    e->done = e->total - e->n + done;
    if (e->show)
        e->show(e->show_arg);
}

void kb_embed_on_progress(struct kb_embedder *e, void (*show)(void *arg), void *arg)
{
    if (!e)
        return;
    e->show = show;
    e->show_arg = arg;
}

/* Claims the knowledge base's model for LINEBOT_EMBED_MODEL (once a run). */
static int claim(struct kb_embedder *e, char *err, size_t errlen)
{
    if (e->claimed)
        return 0;
    char *held = NULL;
    int64_t version = 0;
    if (store_kb_vec_model(e->st, e->kb, e->target.model, false, clock_now_ms(), &held, &version) != 0) {
        snprintf(err, errlen, "%s", store_last_error(e->st));
        return -1;
    }
    int rc = held && strcmp(held, e->target.model) == 0 ? 0 : -1;
    if (rc != 0)
        snprintf(err, errlen, "knowledge base %s holds embeddings of %s now: run `linebot kb reembed --kb %s`",
                 e->kb, held ? held : "another model", e->kb);
    free(held);
    e->claimed = rc == 0;
    return rc;
}

/* Embeds texts[0..n) into e->vecs (n x e->dims int8): 0, or -1 with `err`. */
static int embed_into(struct kb_embedder *e, const char *const *texts, size_t n, int8_t **vecs, float *scales,
                      char *err, size_t errlen)
{
    float *floats = NULL;
    size_t dims = 0;
    if (embed_texts(e->http, &e->target, texts, n, e->dims, 0, on_embedded, e, &floats, &dims, err, errlen) != 0)
        return -1;
    e->dims = dims;
    *vecs = xmalloc(n * dims);
    for (size_t i = 0; i < n; i++)
        scales[i] = vec_quantize(floats + i * dims, dims, *vecs + i * dims);
    free(floats);
    return 0;
}

static char **texts_of(const char *const *headings, const char *const *bodies, size_t n)
{
    char **texts = xcalloc(n + 1, sizeof *texts);
    for (size_t i = 0; i < n; i++)
        texts[i] = xasprintf("%s\n%s", headings[i], bodies[i]);
    return texts;
}

static void texts_free(char **texts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
}

/* kb_put.embed: the put's chunks, embedded. */
static int embed_put(void *arg, char *err, size_t errlen)
{
    struct kb_embedder *e = arg;
    if (claim(e, err, errlen) != 0)
        return -1;
    const char **headings = xcalloc(e->n + 1, sizeof *headings), **bodies = xcalloc(e->n + 1, sizeof *bodies);
    for (size_t i = 0; i < e->n; i++) {
        headings[i] = e->rows[i].heading;
        bodies[i] = e->rows[i].body;
    }
    char **texts = texts_of(headings, bodies, e->n);
    float *scales = xcalloc(e->n + 1, sizeof *scales);
    e->total += e->n;
    int rc = embed_into(e, (const char *const *)texts, e->n, &e->vecs, scales, err, errlen);
    if (rc == 0) {
        for (size_t i = 0; i < e->n; i++) {
            e->rows[i].vec = e->vecs + i * e->dims;
            e->rows[i].vec_scale = scales[i];
        }
        e->put->embed_dims = (int)e->dims;
    } else {
        e->total -= e->n;
    }
    e->done = e->total;
    free(scales);
    texts_free(texts, e->n);
    free(headings);
    free(bodies);
    return rc;
}

void kb_embed_prepare(struct kb_embedder *e, struct kb_put *put, struct kb_chunk_row *rows, size_t n)
{
    if (!e)
        return;
    e->put = put;
    e->rows = rows;
    e->n = n;
    put->embed = embed_put;
    put->embed_arg = e;
    put->embed_model = e->target.model;
}

void kb_embed_done(struct kb_embedder *e)
{
    if (!e)
        return;
    free(e->vecs);
    e->vecs = NULL;
    e->put = NULL;
    e->rows = NULL;
    e->n = 0;
}

const char *kb_embed_progress(const struct kb_embedder *e)
{
    static char line[64];
    if (!e)
        return "";
    snprintf(line, sizeof line, ", embeddings %zu/%zu", e->done, e->total);
    return line;
}

int kb_embed_reembed(struct kb_embedder *e, bool show_progress)
{
    struct kb_doc_info *docs = NULL;
    size_t n_docs = 0;
    if (store_kb_docs(e->st, e->kb, 0, NULL, &docs, &n_docs) != 0) {
        say("cannot list the documents: %s", store_last_error(e->st));
        return 1;
    }
    int64_t chunks = 0;
    for (size_t i = 0; i < n_docs; i++)
        chunks += docs[i].live ? docs[i].chunks : 0;
    kb_doc_infos_free(docs, n_docs);
    if (n_docs == 0) {
        say("there is no knowledge base %s (add documents with `linebot kb add --kb %s PATH`)", e->kb, e->kb);
        return 1;
    }
    char *held = NULL;
    int64_t version = 0;
    if (store_kb_vec_model(e->st, e->kb, e->target.model, true, clock_now_ms(), &held, &version) != 0) {
        say("cannot set the knowledge base's embeddings model: %s", store_last_error(e->st));
        return 1;
    }
    free(held);
    e->total = (size_t)chunks;
    int64_t after = 0;
    for (;;) {
        struct kb_hit *hits = NULL;
        size_t n = 0;
        if (store_kb_chunks(e->st, e->kb, NULL, 0, after, REEMBED_PAGE, &hits, &n) != 0) {
            say("cannot read the passages: %s", store_last_error(e->st));
            return 1;
        }
        if (n == 0)
            break;
        const char **headings = xcalloc(n, sizeof *headings), **bodies = xcalloc(n, sizeof *bodies);
        for (size_t i = 0; i < n; i++) {
            headings[i] = hits[i].heading;
            bodies[i] = hits[i].body;
        }
        char **texts = texts_of(headings, bodies, n);
        float *scales = xcalloc(n, sizeof *scales);
        int8_t *vecs = NULL;
        char err[512];
        size_t before = e->done;
        e->n = n; /* on_embedded counts from total - n */
        e->total = before + n;
        int rc = embed_into(e, (const char *const *)texts, n, &vecs, scales, err, sizeof err);
        e->total = (size_t)chunks > before + n ? (size_t)chunks : before + n;
        e->n = 0;
        struct kb_vec_row *rows = xcalloc(n, sizeof *rows);
        for (size_t i = 0; rc == 0 && i < n; i++)
            rows[i] = (struct kb_vec_row){.chunk_id = hits[i].chunk_id, .dims = (int)e->dims, .scale = scales[i],
                                          .vec = vecs + i * e->dims};
        if (rc != 0)
            say("not re-embedded: %s", err);
        else if (store_kb_vec_put(e->st, e->kb, e->target.model, rows, n) != 0) {
            say("not re-embedded: %s", store_last_error(e->st));
            rc = -1;
        }
        after = hits[n - 1].chunk_id;
        e->done = before + n;
        free(rows);
        free(vecs);
        free(scales);
        texts_free(texts, n);
        free(headings);
        free(bodies);
        kb_hits_free(hits, n);
        if (rc != 0) {
            if (show_progress)
                fputs("\r\033[K", stderr);
            return 1;
        }
        if (show_progress) {
            fprintf(stderr, "\r\033[Kkb: embeddings %zu/%zu", e->done, e->total);
            fflush(stderr);
        }
    }
    if (show_progress)
        fputs("\r\033[K", stderr);
    printf("knowledge base %s: %zu passages embedded with %s\n", e->kb, e->done, e->target.model);
    return 0;
}
