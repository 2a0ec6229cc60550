/* metrics.c - Prometheus counters for GET /metrics (see metrics.h).
 *
 * Labels come from small closed sets (HTTP statuses, LINE's event types), so
 * every series is a fixed slot in an array of atomics: recording costs one
 * atomic add and nothing allocates until render time. */
#include "obs/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define STATUS_SLOTS 600 /* index = HTTP status; 0 = no answer (transport) */

static const char *const event_types[] = {
    "message", "messageEdited", "unsend", "follow", "unfollow", "join", "leave",
    "memberJoined", "memberLeft", "postback", "videoPlayComplete", "beacon",
    "accountLink", "things", "membership", "module", "activated", "deactivated",
    "botSuspended", "botResumed", "delivery", "other",
};
#define N_EVENT_TYPES (sizeof event_types / sizeof event_types[0])

static const double latency_bounds[] = {0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60};
#define N_BOUNDS (sizeof latency_bounds / sizeof latency_bounds[0])

static atomic_ullong webhooks[STATUS_SLOTS];
static atomic_ullong events[N_EVENT_TYPES];
static atomic_ullong duplicates;
static atomic_ullong answered;
static atomic_ullong failed;
static atomic_ullong expired;
static atomic_ullong refused;
static atomic_ullong inbox_commits;
static atomic_ullong llm_buckets[N_BOUNDS + 1]; /* last = +Inf */
static atomic_ullong llm_count;
static atomic_ullong llm_sum_us;
static atomic_ullong llm_errors;
static atomic_ullong line_errors[STATUS_SLOTS];
static _Atomic int64_t inbox_depth;
static atomic_ullong handoffs;
static atomic_ullong handoff_sum_us;
static atomic_ullong kb_retrievals;
static atomic_ullong kb_retrieval_sum_us;

void metrics_kb_retrieval(double seconds)
{
    atomic_fetch_add(&kb_retrievals, 1);
    atomic_fetch_add(&kb_retrieval_sum_us, (unsigned long long)(seconds > 0 ? seconds * 1e6 : 0));
}

/* Tokens and cost per model: names come from the catalogue, a set fixed at
 * start, so the slots are taken once and never given back. A mutex, not
 * atomics: one call per answered event, and a name to compare. */
struct model_usage {
    char name[64];
    unsigned long long prompt, completion;
    double cost;
    bool priced;
};
static pthread_mutex_t usage_lock = PTHREAD_MUTEX_INITIALIZER;
static struct model_usage usage_slots[METRICS_MODELS_MAX];
static size_t n_usage_slots;
static unsigned long long usage_prompt_total, usage_completion_total;
static double usage_cost_total;

void metrics_llm_tokens(const char *model, int64_t prompt_tokens, int64_t completion_tokens, double cost)
{
    unsigned long long p = prompt_tokens > 0 ? (unsigned long long)prompt_tokens : 0;
    unsigned long long c = completion_tokens > 0 ? (unsigned long long)completion_tokens : 0;
    pthread_mutex_lock(&usage_lock);
    usage_prompt_total += p;
    usage_completion_total += c;
    if (cost > 0)
        usage_cost_total += cost;
    size_t i = 0;
    while (i < n_usage_slots && strcmp(usage_slots[i].name, model ? model : "") != 0)
        i++;
    if (i == n_usage_slots && i < METRICS_MODELS_MAX) {
        snprintf(usage_slots[i].name, sizeof usage_slots[i].name, "%s", model ? model : "");
        n_usage_slots++;
    }
    if (i < n_usage_slots) {
        usage_slots[i].prompt += p;
        usage_slots[i].completion += c;
        if (cost >= 0) {
            usage_slots[i].cost += cost;
            usage_slots[i].priced = true;
        }
    }
    pthread_mutex_unlock(&usage_lock);
}

void metrics_handoff_latency(double ms)
{
    atomic_fetch_add(&handoffs, 1);
    atomic_fetch_add(&handoff_sum_us, (unsigned long long)(ms > 0 ? ms * 1000 : 0));
}

void metrics_get_totals(struct metrics_totals *t)
{
    memset(t, 0, sizeof *t);
    for (int s = 0; s < STATUS_SLOTS; s++) {
        t->webhooks += atomic_load(&webhooks[s]);
        t->line_errors += atomic_load(&line_errors[s]);
    }
    t->answered = atomic_load(&answered);
    t->failed = atomic_load(&failed);
    t->expired = atomic_load(&expired);
    t->llm_count = atomic_load(&llm_count);
    t->llm_latency_ms_sum = (double)atomic_load(&llm_sum_us) / 1000.0;
    t->llm_errors = atomic_load(&llm_errors);
    t->handoffs = atomic_load(&handoffs);
    t->handoff_latency_ms_sum = (double)atomic_load(&handoff_sum_us) / 1000.0;
    t->inbox_commits = atomic_load(&inbox_commits);
    pthread_mutex_lock(&usage_lock);
    t->llm_prompt_tokens = usage_prompt_total;
    t->llm_completion_tokens = usage_completion_total;
    t->llm_cost = usage_cost_total;
    pthread_mutex_unlock(&usage_lock);
}

static int status_slot(long status) { return status >= 0 && status < STATUS_SLOTS ? (int)status : 0; }

void metrics_webhook(int http_status) { atomic_fetch_add(&webhooks[status_slot(http_status)], 1); }

void metrics_event(const char *event_type)
{
    size_t i = 0;
    for (; i + 1 < N_EVENT_TYPES; i++)
        if (event_type && strcmp(event_type, event_types[i]) == 0)
            break;
    atomic_fetch_add(&events[i], 1);
}

void metrics_event_duplicate(void) { atomic_fetch_add(&duplicates, 1); }
void metrics_answered(void) { atomic_fetch_add(&answered, 1); }
void metrics_failed(void) { atomic_fetch_add(&failed, 1); }
void metrics_expired(void) { atomic_fetch_add(&expired, 1); }
void metrics_events_refused(size_t n) { atomic_fetch_add(&refused, n); }
void metrics_inbox_commit(void) { atomic_fetch_add(&inbox_commits, 1); }
void metrics_llm_error(void) { atomic_fetch_add(&llm_errors, 1); }
void metrics_line_error(long http_status) { atomic_fetch_add(&line_errors[status_slot(http_status)], 1); }
void metrics_set_inbox_depth(int64_t depth) { atomic_store(&inbox_depth, depth); }

void metrics_llm_latency(double seconds)
{
    if (seconds < 0)
        seconds = 0;
    size_t i = 0;
    while (i < N_BOUNDS && seconds > latency_bounds[i])
        i++;
    atomic_fetch_add(&llm_buckets[i], 1);
    atomic_fetch_add(&llm_count, 1);
    atomic_fetch_add(&llm_sum_us, (unsigned long long)(seconds * 1e6));
}

/* The page being rendered. Its size is bounded by the fixed set of series
 * (at most 2 x STATUS_SLOTS status lines, about 100 KiB); the cap states that
 * bound, and a page that somehow passed it would be refused whole rather
 * than served cut. */
#define METRICS_PAGE_MAX ((size_t)1024 * 1024)

struct out {
    struct buf b;
    bool full;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!o->full && buf_vaddf(&o->b, fmt, ap) != 0)
        o->full = true;
    va_end(ap);
}

static void by_status(struct out *o, const char *name, const char *help, atomic_ullong *slots)
{
    outf(o, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (int s = 0; s < STATUS_SLOTS; s++) {
        unsigned long long v = atomic_load(&slots[s]);
        if (v)
            outf(o, "%s{status=\"%d\"} %llu\n", name, s, v);
    }
}

/* A label value as Prometheus reads it: backslash, quote and newline escaped. */
static void label_value(const char *s, char *out, size_t len)
{
    size_t o = 0;
    for (; *s && o + 3 < len; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n') {
            out[o++] = '\\';
            out[o++] = *s == '\n' ? 'n' : *s;
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

static void llm_usage_series(struct out *o)
{
    outf(o, "# HELP linebot_llm_tokens_total Tokens the model calls spent, by catalogue model and kind "
            "(estimates included where a provider reports no usage).\n"
            "# TYPE linebot_llm_tokens_total counter\n");
    pthread_mutex_lock(&usage_lock);
    for (size_t i = 0; i < n_usage_slots; i++) {
        char name[2 * sizeof usage_slots[i].name];
        label_value(usage_slots[i].name, name, sizeof name);
        outf(o, "linebot_llm_tokens_total{model=\"%s\",kind=\"prompt\"} %llu\n", name, usage_slots[i].prompt);
        outf(o, "linebot_llm_tokens_total{model=\"%s\",kind=\"completion\"} %llu\n", name,
             usage_slots[i].completion);
    }
    outf(o, "# HELP linebot_llm_cost_total What the model calls cost at the catalogue's prices "
            "(input_price, output_price per million tokens), by model.\n"
            "# TYPE linebot_llm_cost_total counter\n");
    for (size_t i = 0; i < n_usage_slots; i++) {
        if (!usage_slots[i].priced)
            continue;
        char name[2 * sizeof usage_slots[i].name];
        label_value(usage_slots[i].name, name, sizeof name);
        outf(o, "linebot_llm_cost_total{model=\"%s\"} %.9g\n", name, usage_slots[i].cost);
    }
    pthread_mutex_unlock(&usage_lock);
}

static void counter(struct out *o, const char *name, const char *help, unsigned long long v)
{
    outf(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, v);
}

char *metrics_render(void)
{
    struct out o = {.full = false};
    buf_init(&o.b, METRICS_PAGE_MAX);
    by_status(&o, "linebot_webhooks_total", "Webhook requests by HTTP status answered.", webhooks);

    outf(&o, "# HELP linebot_events_total Webhook events received, by LINE event type.\n"
             "# TYPE linebot_events_total counter\n");
    for (size_t i = 0; i < N_EVENT_TYPES; i++)
        outf(&o, "linebot_events_total{type=\"%s\"} %llu\n", event_types[i], atomic_load(&events[i]));

    counter(&o, "linebot_events_duplicate_total", "Events already in the inbox (redeliveries, duplicates).",
            atomic_load(&duplicates));
    counter(&o, "linebot_events_answered_total", "Events that got their answer.", atomic_load(&answered));
    counter(&o, "linebot_events_failed_total", "Events that could not be answered.", atomic_load(&failed));
    counter(&o, "linebot_events_expired_total",
            "Events that expired unanswered: reply token too old and push fallback off (the bot is behind).",
            atomic_load(&expired));
    counter(&o, "linebot_events_refused_total",
            "Events refused with 503 because they could not be answered while their reply token lives "
            "(overload, push fallback off); LINE redelivers them.",
            atomic_load(&refused));
    counter(&o, "linebot_inbox_commits_total",
            "Inbox transactions of the webhook path; webhooks arriving together share one (group commit).",
            atomic_load(&inbox_commits));

    outf(&o, "# HELP linebot_llm_latency_seconds Latency of successful LLM completions.\n"
             "# TYPE linebot_llm_latency_seconds histogram\n");
    unsigned long long cumulative = 0;
    for (size_t i = 0; i < N_BOUNDS; i++) {
        cumulative += atomic_load(&llm_buckets[i]);
        outf(&o, "linebot_llm_latency_seconds_bucket{le=\"%g\"} %llu\n", latency_bounds[i], cumulative);
    }
    cumulative += atomic_load(&llm_buckets[N_BOUNDS]);
    outf(&o, "linebot_llm_latency_seconds_bucket{le=\"+Inf\"} %llu\n", cumulative);
    outf(&o, "linebot_llm_latency_seconds_sum %.6f\n", (double)atomic_load(&llm_sum_us) / 1e6);
    outf(&o, "linebot_llm_latency_seconds_count %llu\n", atomic_load(&llm_count));

    llm_usage_series(&o);
    counter(&o, "linebot_llm_errors_total", "LLM completions that failed after retries.", atomic_load(&llm_errors));
    by_status(&o, "linebot_line_api_errors_total", "LINE API error answers by HTTP status (0: no answer).",
              line_errors);
    outf(&o, "# HELP linebot_kb_retrieval_seconds Knowledge base searches for questions.\n"
             "# TYPE linebot_kb_retrieval_seconds summary\n"
             "linebot_kb_retrieval_seconds_sum %.6f\nlinebot_kb_retrieval_seconds_count %llu\n",
         (double)atomic_load(&kb_retrieval_sum_us) / 1e6, atomic_load(&kb_retrievals));
    outf(&o, "# HELP linebot_inbox_depth Events acknowledged and not yet finished.\n"
             "# TYPE linebot_inbox_depth gauge\nlinebot_inbox_depth %lld\n",
         (long long)atomic_load(&inbox_depth));
    if (o.full) {
        buf_free(&o.b);
        return NULL;
    }
    return buf_take(&o.b, NULL);
}
