/* fuzz_serverless.c - libFuzzer target for the serverless event parsing: the
 * Lambda / FC HTTP event (apigw_parse, base64_decode) and the asynchronous
 * work payload (handoff_parse).
 *
 * The whole input is one invocation payload, given to each parser as an
 * exact-size copy. Beyond "no crash, no leak, no UB", it checks:
 *   - an HTTP event has a method and a path, lower-case header names that
 *     http_event_header finds again, and a NUL after its body;
 *   - a work payload's events all have an id, and building payloads from them
 *     again (when handoff_build accepts them) and parsing those back gives the
 *     same ids, chats and timestamps in the same order;
 *   - a decoded base64 is NUL-terminated and no longer than 3/4 of its input
 *     rounded up. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/apigw.h"
#include "core/handoff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static void check_apigw(const char *json, size_t len)
{
    struct http_event ev;
    enum apigw_result r = apigw_parse(json, len, &ev);
    if (r != APIGW_HTTP) {
        if (r != APIGW_NOT_HTTP && r != APIGW_BAD)
            abort();
        return;
    }
    if (ev.method == NULL || ev.path == NULL || ev.body == NULL || ev.body[ev.body_len] != '\0')
        abort();
    for (size_t i = 0; i < ev.n_headers; i++) {
        for (const char *p = ev.header_names[i]; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                abort();
        if (ev.header_values[i] == NULL || http_event_header(&ev, ev.header_names[i]) == NULL)
            abort();
    }
    http_event_free(&ev);
}

static void check_roundtrip(const struct handoff_event *events, size_t n)
{
    bool ids_only = true;
    for (size_t i = 0; i < n; i++)
        if (events[i].event_json != NULL)
            ids_only = false;
    struct handoff_payloads p;
    if (handoff_build(events, n, ids_only, HANDOFF_MAX_FC, &p) != 0)
        return;
    size_t k = 0;
    for (size_t b = 0; b < p.n; b++) {
        if (p.lens[b] > HANDOFF_MAX_FC)
            abort();
        struct handoff_event *again = NULL;
        size_t m = 0;
        if (handoff_parse(p.bodies[b], p.lens[b], &again, &m) != 1)
            abort();
        for (size_t i = 0; i < m; i++, k++)
            if (k >= n || !same_str(again[i].event_id, events[k].event_id) ||
                !same_str(again[i].chat_id, events[k].chat_id) ||
                again[i].timestamp_ms != events[k].timestamp_ms)
                abort();
        handoff_events_free(again, m);
    }
    if (k != n)
        abort();
    handoff_payloads_free(&p);
}

static void check_handoff(const char *json, size_t len)
{
    struct handoff_event *events = NULL;
    size_t n = 0;
    int r = handoff_parse(json, len, &events, &n);
    if (r == 1) {
        for (size_t i = 0; i < n; i++)
            if (events[i].event_id == NULL)
                abort();
        check_roundtrip(events, n);
    } else if (r != 0 && r != -1) {
        abort();
    }
    handoff_events_free(events, n);
}

static void check_base64(const char *in, size_t len)
{
    char *out = NULL;
    size_t out_len = 0;
    if (base64_decode(in, len, &out, &out_len) != 0)
        return;
    if (out == NULL || out_len > (len + 3) / 4 * 3 || out[out_len] != '\0')
        abort();
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool started;
    if (!started) {
        alloc_init(); /* jansson allocates as in the binary: failure aborts */
        started = true;
    }
    char *json = xmalloc(size ? size : 1);
    memcpy(json, data, size);
    check_apigw(json, size);
    check_handoff(json, size);
    check_base64(json, size);
    free(json);
    return 0;
}
