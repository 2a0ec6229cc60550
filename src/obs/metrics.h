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
void metrics_llm_latency(double seconds);    /* one successful LLM completion */
void metrics_llm_error(void);                /* one failed LLM completion (after retries) */
void metrics_line_error(long http_status);   /* LINE API answered an error (0 = transport) */
void metrics_set_inbox_depth(int64_t depth);

/* Renders everything; returns a malloc'd string (NULL when out of memory). */
char *metrics_render(void);

#endif
