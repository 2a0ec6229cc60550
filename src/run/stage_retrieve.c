/* stage_retrieve.c - the chat's knowledge base (issue 12): the passages that
 * answer the question, for the prompt.
 *
 * The chat's knowledge base is the one `linebot kb bind` chose, else
 * `default` when it exists; a chat with neither is answered as before. The
 * question becomes terms as the documents did (core/kb_terms.h), the store
 * ranks the passages by BM25, and those scoring at least
 * LINEBOT_KB_MIN_SCORE go to the model as numbered sources (as many as fit
 * core/kb_answer.h's budget). None: the model answers as it would without a
 * knowledge base, or, with LINEBOT_KB_STRICT, the user gets
 * LINEBOT_KB_UNKNOWN_TEXT and the model is not asked. The search is read
 * at every question, so documents added or removed are seen at once. A
 * store that cannot be searched is logged and the question answered without
 * sources. The time the search took is logged and counted
 * (linebot_kb_retrieval_seconds).
 *
 * With LINEBOT_EMBED_MODEL set, the question is also embedded (one
 * /embeddings call, within a slice of the event's time budget) and the
 * knowledge base's vectors in memory (run/kb_vectors.h) give the chunks
 * most like it, on a thread of their own while the store is searched. A vector hit counts when its cosine reaches
 * LINEBOT_KB_MIN_COSINE, as a lexical one when its BM25 score reaches
 * LINEBOT_KB_MIN_SCORE; the two lists of the hits that count are fused by
 * reciprocal rank (core/rrf.h), so a passage found both ways comes first.
 * No vectors of that model, or an embedding that fails: lexical alone, and
 * the log says why.
 *
 * A chat's own documents, the files its users sent (run/stage_files.c), are
 * searched as well, in their knowledge base chat:<chat id>: the two
 * rankings are fused by reciprocal rank (merge_own), so the best passage of
 * each comes first whatever their BM25 scales. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/kb_answer.h"
#include "core/kb_terms.h"
#include "core/rrf.h"
#include "io/clock.h"
#include "io/embed.h"
#include "io/kb_chat.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "run/kb_vectors.h"
#include "run/stage.h"

#define QUERY_TERMS_MAX 64
#define EMBED_QUERY_MS 3000 /* at most this, and a quarter of what is left, for the question's embedding */
#define EMBED_QUERY_MIN_MS 200

/* Starts the question's vector search (run/kb_vectors.h), to run while the
 * lexical one does; false when there is none to wait for (no vectors, or no
 * time left: logged). */
static bool vector_start(struct job_ctx *ctx, const char *kb, struct kb_vector_search *vs, struct vec_hit *out,
                         size_t k)
{
    const struct config *cfg = ctx->env->cfg;
    size_t dims = 0;
    int ready = kb_vectors_ready(ctx->env->store, kb, cfg->embed_model, &dims);
    if (ready < 0)
        log_warn("knowledge base %s: its vectors cannot be read, searching lexically: %s", kb,
                 store_last_error(ctx->env->store));
    if (ready != 1)
        return false;
    int64_t now = clock_monotonic_ms();
    int64_t slice = (generate_deadline(ctx) - now) / 4;
    if (slice > EMBED_QUERY_MS)
        slice = EMBED_QUERY_MS;
    if (slice < EMBED_QUERY_MIN_MS) {
        log_warn("knowledge base %s: no time left to embed the question, searching lexically", kb);
        return false;
    }
    *vs = (struct kb_vector_search){
        .http = ctx->env->llm->http, /* lent: this thread only searches the store meanwhile */
        .target = {cfg->embed_base_url, cfg->embed_api_key, cfg->embed_model},
        .kb = kb,
        .question = ctx->decision.text,
        .dims = dims,
        .deadline_ms = now + slice,
        .hits = out,
        .k = k,
    };
    kb_vectors_search_start(vs);
    return true;
}

/* Waits for the vector search: its hits that reach LINEBOT_KB_MIN_COSINE,
 * best first; how many (0: none, or the embedding failed: logged). */
static size_t vector_finish(struct job_ctx *ctx, struct kb_vector_search *vs)
{
    kb_vectors_search_wait(vs);
    if (vs->rc != 0) {
        log_warn("knowledge base %s: the question could not be embedded, searching lexically: %s", vs->kb,
                 vs->err);
        return 0;
    }
    size_t n = vs->n;
    while (n > 0 && vs->hits[n - 1].cosine < ctx->env->cfg->kb_min_cosine)
        n--;
    return n;
}

/* Lexical hits[0..*kept) and the vector hits fused by reciprocal rank, as
 * the new hits[0..*kept) (at most KB_SOURCES_MAX; the rest freed). A hit
 * found by its vector alone is read from the store, its score its cosine. */
static void fuse(struct job_ctx *ctx, const char *kb, struct kb_hit **hits, size_t *n, size_t *kept,
                 const struct vec_hit *vhits, size_t n_v)
{
    int64_t lex[KB_SOURCES_MAX], vec[KB_SOURCES_MAX];
    for (size_t i = 0; i < *kept; i++)
        lex[i] = (*hits)[i].chunk_id;
    for (size_t i = 0; i < n_v; i++)
        vec[i] = vhits[i].id;
    struct rrf_item fused[2 * KB_SOURCES_MAX];
    size_t n_f = rrf_fuse(lex, *kept, vec, n_v, RRF_K, fused, KB_SOURCES_MAX);
    int64_t missing[KB_SOURCES_MAX];
    size_t n_missing = 0;
    for (size_t i = 0; i < n_f; i++)
        if (fused[i].rank_a == 0)
            missing[n_missing++] = fused[i].id;
    struct kb_hit *extra = NULL;
    size_t n_extra = 0;
    if (n_missing && store_kb_chunks(ctx->env->store, kb, missing, n_missing, 0, 0, &extra, &n_extra) != 0)
        log_warn("knowledge base %s: passages found by their vectors cannot be read: %s", kb,
                 store_last_error(ctx->env->store));
    struct kb_hit *out = xcalloc(n_f + 1, sizeof *out);
    size_t n_out = 0;
    for (size_t i = 0; i < n_f; i++) {
        if (fused[i].rank_a > 0) {
            out[n_out++] = (*hits)[fused[i].rank_a - 1];
            memset(&(*hits)[fused[i].rank_a - 1], 0, sizeof **hits);
            continue;
        }
        for (size_t j = 0; j < n_extra; j++)
            if (extra[j].chunk_id == fused[i].id && extra[j].body) {
                out[n_out] = extra[j];
                out[n_out++].score = vhits[fused[i].rank_b - 1].cosine;
                memset(&extra[j], 0, sizeof extra[j]);
                break;
            }
    }
    kb_hits_free(extra, n_extra);
    kb_hits_free(*hits, *n);
    *hits = out;
    *n = *kept = n_out;
}

/* Searches `kb`: its hits (*n of them, NULL when none) of which the first
 * *kept count (LINEBOT_KB_MIN_SCORE, or fused with the vector hits).
 * -1 when the store failed (logged). */
static int search_kb(struct job_ctx *ctx, const char *kb, struct kb_hit **hits, size_t *n, size_t *kept,
                     size_t *from_vectors)
{
    const struct config *cfg = ctx->env->cfg;
    struct store *st = ctx->env->store;
    struct kb_terms terms;
    kb_terms_of_question(ctx->decision.text, strlen(ctx->decision.text), QUERY_TERMS_MAX, &terms);
    *hits = NULL;
    *n = *kept = 0;
    struct kb_vector_search vs;
    struct vec_hit vhits[KB_SOURCES_MAX];
    bool vectors = cfg->embed_model && vector_start(ctx, kb, &vs, vhits, KB_SOURCES_MAX);
    int rc = store_kb_search(st, kb, (const char *const *)terms.items, terms.n, KB_SOURCES_MAX, hits, n);
    kb_terms_free(&terms);
    size_t got = vectors ? vector_finish(ctx, &vs) : 0;
    if (rc != 0) {
        log_warn("knowledge base %s: search failed, answering without it: %s", kb, store_last_error(st));
        return -1;
    }
    while (*kept < *n && (*hits)[*kept].score >= cfg->kb_min_score)
        (*kept)++;
    if (got > 0)
        fuse(ctx, kb, hits, n, kept, vhits, got);
    *from_vectors += got;
    return 0;
}

/* The kept hits of the chat's knowledge base (a) and of its own documents
 * (b) as one ranking, by reciprocal rank (core/rrf.h): the two lists are
 * ranked on their own terms (BM25 over different collections is not
 * comparable), so each list's first passage comes before either's second.
 * The result is in *a (kept hits only); *b is freed. */
static void merge_own(struct kb_hit **a, size_t *n_a, size_t *kept_a, struct kb_hit *b, size_t n_b, size_t kept_b)
{
    int64_t ia[KB_SOURCES_MAX], ib[KB_SOURCES_MAX];
    size_t na = *kept_a < KB_SOURCES_MAX ? *kept_a : KB_SOURCES_MAX;
    size_t nb = kept_b < KB_SOURCES_MAX ? kept_b : KB_SOURCES_MAX;
    for (size_t i = 0; i < na; i++)
        ia[i] = (*a)[i].chunk_id;
    for (size_t i = 0; i < nb; i++)
        ib[i] = b[i].chunk_id;
    struct rrf_item fused[2 * KB_SOURCES_MAX];
    size_t n_f = rrf_fuse(ia, na, ib, nb, RRF_K, fused, KB_SOURCES_MAX);
    struct kb_hit *out = xcalloc(n_f + 1, sizeof *out);
    for (size_t i = 0; i < n_f; i++) {
        /* chunk ids are one sequence over every knowledge base: an id is in one list */
        struct kb_hit *from = fused[i].rank_a ? &(*a)[fused[i].rank_a - 1] : &b[fused[i].rank_b - 1];
        out[i] = *from;
        memset(from, 0, sizeof *from);
    }
    kb_hits_free(*a, *n_a);
    kb_hits_free(b, n_b);
    *a = out;
    *n_a = *kept_a = n_f;
}

enum stage_result stage_retrieve(struct job_ctx *ctx)
{
    if (!ctx->use_model || !ctx->decision.text || !*ctx->decision.text)
        return STAGE_NEXT;
    const struct config *cfg = ctx->env->cfg;
    struct store *st = ctx->env->store;
    char *kb = NULL;
    int found = store_kb_of_chat(st, ctx->ev.chat_id ? ctx->ev.chat_id : "", &kb);
    if (found < 0)
        log_warn("knowledge base: cannot tell which one this chat uses: %s", store_last_error(st));
    /* The chat's own documents, the files its users sent (stage_files.c). */
    char *own = ctx->ev.chat_id ? kb_chat_name(ctx->ev.chat_id) : NULL;
    struct kb_doc_info *own_docs = NULL;
    size_t n_own_docs = 0;
    if (own && store_kb_docs(st, own, 0, NULL, &own_docs, &n_own_docs) != 0)
        log_warn("knowledge base %s: cannot be read: %s", own, store_last_error(st));
    kb_doc_infos_free(own_docs, n_own_docs);
    if (n_own_docs == 0) {
        free(own);
        own = NULL;
    }
    if (found != 1 && !own)
        return STAGE_NEXT;
    if (found != 1) { /* only the chat's own documents */
        free(kb);
        kb = own;
        own = NULL;
    }

    struct kb_hit *hits = NULL;
    size_t n = 0, kept = 0, from_vectors = 0;
    int64_t started = clock_monotonic_ms();
    int rc = search_kb(ctx, kb, &hits, &n, &kept, &from_vectors);
    if (own) {
        struct kb_hit *own_hits = NULL;
        size_t n_o = 0, kept_o = 0;
        if (search_kb(ctx, own, &own_hits, &n_o, &kept_o, &from_vectors) == 0 && kept_o > 0) {
            if (rc != 0) { /* the chat's knowledge base failed: its own documents alone */
                hits = own_hits;
                n = n_o;
                kept = kept_o;
                rc = 0;
            } else {
                merge_own(&hits, &n, &kept, own_hits, n_o, kept_o);
            }
        } else {
            kb_hits_free(own_hits, n_o);
        }
    }
    int64_t took = clock_monotonic_ms() - started;
    if (rc != 0) {
        metrics_kb_retrieval((double)took / 1000.0);
        free(kb);
        free(own);
        return STAGE_NEXT;
    }
    struct kb_source sources[KB_SOURCES_MAX];
    for (size_t i = 0; i < kept && i < KB_SOURCES_MAX; i++)
        sources[i] = (struct kb_source){*hits[i].title ? hits[i].title : hits[i].path, hits[i].heading,
                                        hits[i].body};
    size_t picked = kept ? kb_answer_pick(sources, kept < KB_SOURCES_MAX ? kept : KB_SOURCES_MAX,
                                          KB_SOURCES_BUDGET)
                         : 0;
    metrics_kb_retrieval((double)took / 1000.0);
    char by_vectors[40] = "";
    if (cfg->embed_model)
        snprintf(by_vectors, sizeof by_vectors, " (%zu by vectors)", from_vectors);
    log_info("knowledge base %s%s%s: %zu passage(s) found%s, %zu given to the model, in %lld ms", kb,
             own ? " and " : "", own ? own : "", n, by_vectors, picked, (long long)took);
    free(own);
    if (picked == 0) {
        kb_hits_free(hits, n);
        free(kb);
        if (cfg->kb_strict) {
            ctx->fixed = TEXT_KB_UNKNOWN;
            ctx->use_model = false;
        }
        return STAGE_NEXT;
    }
    ctx->kb_context = kb_answer_context(sources, picked, KB_SOURCES_BUDGET);
    /* Keep only the passages given to the model. */
    for (size_t i = picked; i < n; i++) {
        free(hits[i].path);
        free(hits[i].title);
        free(hits[i].heading);
        free(hits[i].body);
    }
    ctx->kb_hits = hits;
    ctx->kb_n = picked;
    free(kb);
    return STAGE_NEXT;
}

void retrieve_add_sources(const struct job_ctx *ctx, struct prompt *prompt)
{
    if (!ctx->kb_context || prompt->n == 0)
        return;
    /* A system message of its own, right before the question (the last message). */
    prompt->messages = xrealloc_array(prompt->messages, prompt->n + 1, sizeof *prompt->messages);
    memmove(&prompt->messages[prompt->n], &prompt->messages[prompt->n - 1], sizeof *prompt->messages);
    prompt->messages[prompt->n - 1] = (struct llm_message){"system", xstrdup(ctx->kb_context)};
    prompt->n++;
}

/* Markdown's escapes for ASCII punctuation: a title such as "*Menu*" or
 * "[draft]" stays as written when the answer's Markdown becomes LINE text. */
static char *md_escaped(const char *s)
{
    char *out = xmalloc(2 * strlen(s) + 1), *o = out;
    for (; *s; s++) {
        if (strchr("\\`*_{}[]()#+-.!<>|~\"'", *s) && *s != '\n')
            *o++ = '\\';
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

void retrieve_add_footer(struct job_ctx *ctx, const char *label)
{
    if (ctx->kb_n == 0 || !ctx->llm.text)
        return;
    struct kb_source sources[KB_SOURCES_MAX];
    for (size_t i = 0; i < ctx->kb_n && i < KB_SOURCES_MAX; i++)
        sources[i] = (struct kb_source){*ctx->kb_hits[i].title ? ctx->kb_hits[i].title : ctx->kb_hits[i].path,
                                        ctx->kb_hits[i].heading, ctx->kb_hits[i].body};
    char *footer = kb_answer_footer(label, sources, ctx->kb_n, ctx->llm.text);
    char *escaped = md_escaped(footer);
    char *text = xasprintf("%s%s", ctx->llm.text, escaped);
    free(ctx->llm.text);
    ctx->llm.text = text;
    free(escaped);
    free(footer);
}
