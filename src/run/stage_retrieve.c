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
 * (linebot_kb_retrieval_seconds). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/kb_answer.h"
#include "core/kb_terms.h"
#include "io/clock.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "run/stage.h"

#define QUERY_TERMS_MAX 64

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
    if (found != 1)
        return STAGE_NEXT;

    struct kb_terms terms;
    kb_terms_of_question(ctx->decision.text, strlen(ctx->decision.text), QUERY_TERMS_MAX, &terms);
    struct kb_hit *hits = NULL;
    size_t n = 0;
    int64_t started = clock_monotonic_ms();
    int rc = store_kb_search(st, kb, (const char *const *)terms.items, terms.n, KB_SOURCES_MAX, &hits, &n);
    int64_t took = clock_monotonic_ms() - started;
    kb_terms_free(&terms);
    metrics_kb_retrieval((double)took / 1000.0);
    if (rc != 0) {
        log_warn("knowledge base %s: search failed, answering without it: %s", kb, store_last_error(st));
        free(kb);
        return STAGE_NEXT;
    }
    size_t kept = 0;
    while (kept < n && hits[kept].score >= cfg->kb_min_score)
        kept++;
    struct kb_source sources[KB_SOURCES_MAX];
    for (size_t i = 0; i < kept && i < KB_SOURCES_MAX; i++)
        sources[i] = (struct kb_source){*hits[i].title ? hits[i].title : hits[i].path, hits[i].heading,
                                        hits[i].body};
    size_t picked = kept ? kb_answer_pick(sources, kept < KB_SOURCES_MAX ? kept : KB_SOURCES_MAX,
                                          KB_SOURCES_BUDGET)
                         : 0;
    log_info("knowledge base %s: %zu passage(s) found, %zu given to the model, in %lld ms", kb, n, picked,
             (long long)took);
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
