/* metrics.c - Prometheus counters for GET /metrics (see metrics.h).
 *
 * Labels come from small closed sets (HTTP statuses, LINE's event types), so
 * every series is a fixed slot in an array of atomics: recording costs one
 * atomic add and nothing allocates until render time. */
#include "obs/metrics.h"

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
