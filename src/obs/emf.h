/* emf.h - CloudWatch Embedded Metric Format records on AWS Lambda.
 *
 * One JSON line per invocation on stdout, in namespace LineBot, with what
 * changed during it: Webhooks, EventsAnswered, EventsFailed, EventsExpired,
 * LLMLatencyMs, LLMErrors, LINEAPIErrors, AsyncHandoffLatencyMs, and the
 * tokens the model calls spent: LLMTokens (prompt + completion),
 * LLMPromptTokens, LLMCompletionTokens, and LLMCost when prices are set. CloudWatch Logs turns it into
 * metrics without an API call. */
#ifndef LINEBOT_EMF_H
#define LINEBOT_EMF_H

#include <stdint.h>

#include "obs/metrics.h"

/* Writes a record of `now` minus `before` (dimension FunctionName). Returns the
 * number of bytes written, 0 when nothing changed. */
int emf_emit(const char *function_name, const struct metrics_totals *before, const struct metrics_totals *now,
             int64_t timestamp_ms);

/* The record as a malloc'd string (for tests), NULL when nothing changed. */
char *emf_record(const char *function_name, const struct metrics_totals *before, const struct metrics_totals *now,
                 int64_t timestamp_ms);

#endif
