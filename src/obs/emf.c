/* emf.c - CloudWatch Embedded Metric Format (see emf.h). */
#include "obs/emf.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct emf_metric {
    const char *name;
    const char *unit;
    double value;
    int present;
};

char *emf_record(const char *function_name, const struct metrics_totals *before, const struct metrics_totals *now,
                 int64_t timestamp_ms)
{
    uint64_t llm_n = now->llm_count - before->llm_count;
    uint64_t hand_n = now->handoffs - before->handoffs;
    struct emf_metric m[] = {
        {"Webhooks", "Count", (double)(now->webhooks - before->webhooks), 1},
        {"EventsAnswered", "Count", (double)(now->answered - before->answered), 1},
        {"EventsFailed", "Count", (double)(now->failed - before->failed), 1},
        {"EventsExpired", "Count", (double)(now->expired - before->expired), 1},
        {"LLMLatencyMs", "Milliseconds",
         llm_n ? (now->llm_latency_ms_sum - before->llm_latency_ms_sum) / (double)llm_n : 0, llm_n > 0},
        {"LLMErrors", "Count", (double)(now->llm_errors - before->llm_errors), 1},
        {"LINEAPIErrors", "Count", (double)(now->line_errors - before->line_errors), 1},
        {"AsyncHandoffLatencyMs", "Milliseconds",
         hand_n ? (now->handoff_latency_ms_sum - before->handoff_latency_ms_sum) / (double)hand_n : 0, hand_n > 0},
        /* Budgets (issue 11): every model together (GET /metrics has them per model). */
        {"LLMTokens", "Count",
         (double)((now->llm_prompt_tokens - before->llm_prompt_tokens) +
                  (now->llm_completion_tokens - before->llm_completion_tokens)), 1},
        {"LLMPromptTokens", "Count", (double)(now->llm_prompt_tokens - before->llm_prompt_tokens), 1},
        {"LLMCompletionTokens", "Count", (double)(now->llm_completion_tokens - before->llm_completion_tokens), 1},
        {"LLMCost", "None", now->llm_cost - before->llm_cost, now->llm_cost > before->llm_cost},
    };
    size_t n = sizeof m / sizeof m[0];
    int changed = 0;
    for (size_t i = 0; i < n; i++)
        if (m[i].present && m[i].value != 0)
            changed = 1;
    if (!changed)
        return NULL;

    json_t *defs = json_array();
    json_t *root = json_object();
    for (size_t i = 0; i < n; i++) {
        if (!m[i].present)
            continue;
        json_array_append_new(defs, json_pack("{s:s, s:s}", "Name", m[i].name, "Unit", m[i].unit));
        json_object_set_new(root, m[i].name, json_real(m[i].value));
    }
    json_t *aws = json_pack("{s:I, s:[{s:s, s:[[s]], s:o}]}", "Timestamp", (json_int_t)timestamp_ms,
                            "CloudWatchMetrics", "Namespace", "LineBot", "Dimensions", "FunctionName", "Metrics", defs);
    json_object_set_new(root, "_aws", aws);
    json_object_set_new(root, "FunctionName", json_string(function_name ? function_name : "linebot"));
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

int emf_emit(const char *function_name, const struct metrics_totals *before, const struct metrics_totals *now,
             int64_t timestamp_ms)
{
    char *s = emf_record(function_name, before, now, timestamp_ms);
    if (!s)
        return 0;
    size_t len = strlen(s);
    s[len] = '\n'; /* replaces the NUL: written with its length below */
    ssize_t w = write(STDOUT_FILENO, s, len + 1);
    free(s);
    return w > 0 ? (int)w : 0;
}
