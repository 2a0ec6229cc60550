/* metrics.h - process-wide counters and histograms, rendered in the
 * Prometheus text format for GET /metrics. All names start with linebot_.
 * Every function is thread-safe and cheap (atomics, no allocation). */
#ifndef LINEBOT_METRICS_H
#define LINEBOT_METRICS_H

#include <stddef.h>
#include <stdint.h>

void metrics_webhook(int http_status);       /* one webhook request, by answer status */
void metrics_event(const char *event_type);  /* one parsed event, by LINE type */
void metrics_event_duplicate(void);          /* an event already in the inbox */
void metrics_answered(void);                 /* an event got its answer */
void metrics_failed(void);                   /* an event could not be answered */
void metrics_expired(void);                  /* an event expired unanswered (also counted as failed) */
void metrics_events_refused(size_t n);
void metrics_inbox_commit(void);             /* one inbox transaction of the webhook path (group commit) */       /* events answered 503: overloaded (server, push fallback off) */
void metrics_llm_latency(double seconds);    /* one successful LLM completion */
void metrics_llm_error(void);                /* one failed LLM completion (after retries) */
void metrics_line_error(long http_status);   /* LINE API answered an error (0 = transport) */
void metrics_set_inbox_depth(int64_t depth);

void metrics_handoff_latency(double ms);     /* serverless: one asynchronous hand-off */
void metrics_kb_retrieval(double seconds);   /* one knowledge base search for a question */

/* Tokens one model call spent (issue 11), under its catalogue name, and what
 * they cost at the catalogue's prices (`cost` < 0: the model has no prices,
 * no cost series). The first METRICS_MODELS_MAX names get series; calls of
 * later names count in the totals only. */
#define METRICS_MODELS_MAX 64
void metrics_llm_tokens(const char *model, int64_t prompt_tokens, int64_t completion_tokens, double cost);

/* Totals since start, for CloudWatch EMF records (the caller takes deltas). */
struct metrics_totals {
    uint64_t webhooks;
    uint64_t answered;
    uint64_t failed;
    uint64_t expired;
    uint64_t llm_count;
    double llm_latency_ms_sum;
    uint64_t llm_errors;
    uint64_t line_errors;
    uint64_t handoffs;
    double handoff_latency_ms_sum;
    uint64_t inbox_commits;
    uint64_t llm_prompt_tokens;      /* every model together */
    uint64_t llm_completion_tokens;
    double llm_cost;                 /* at the catalogue's prices; 0 when none are set */
};
void metrics_get_totals(struct metrics_totals *t);

/* Renders everything; returns a malloc'd string (NULL only if the page
 * passed its 1 MiB cap, which the fixed set of series cannot reach). */
char *metrics_render(void);

#endif
