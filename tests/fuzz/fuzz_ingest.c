/* fuzz_ingest.c - libFuzzer target for the ingest path: the signature check,
 * webhook parsing, and the inbox round trip of each event.
 *
 * Input: the first line is the X-Line-Signature header value, the rest is the
 * body (no '\n' at all: no header, the whole input is the body). Beyond "no
 * crash, no leak, no UB", it checks what callers rely on:
 *   - a header validates exactly when it is the canonical base64 of the
 *     body's HMAC-SHA256 (computed here independently);
 *   - every event re-parsed from its raw_json is the same event (same id,
 *     chat, kind, canonical JSON), so ids computed at ingest and in the worker
 *     agree;
 *   - chat_type is set exactly when chat_id is, and every mention lies inside
 *     the text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/alloc.h"
#include "core/webhook.h"

#define FUZZ_SECRET "fuzz-channel-secret"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static size_t utf16_units(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        n += ((*p & 0xC0) != 0x80) + (*p >= 0xF0);
    return n;
}

static void check_signature(const char *header, const uint8_t *body, size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    char expected[4 * EVP_MAX_MD_SIZE];
    if (HMAC(EVP_sha256(), FUZZ_SECRET, (int)strlen(FUZZ_SECRET), len ? body : (const uint8_t *)"",
             len, mac, &mac_len) == NULL)
        abort();
    EVP_EncodeBlock((unsigned char *)expected, mac, (int)mac_len);

    if (!webhook_signature_valid(FUZZ_SECRET, body, len, expected))
        abort();
    bool valid = webhook_signature_valid(FUZZ_SECRET, body, len, header);
    if (valid != (header != NULL && strcmp(header, expected) == 0))
        abort();
}

static void check_event(const struct line_event *ev)
{
    if (ev->raw_json == NULL || ev->event_id == NULL || ev->event_id[0] == '\0')
        abort();
    if ((ev->chat_type != CHAT_NONE) != (ev->chat_id != NULL))
        abort();
    if ((ev->n_mentions != 0) != (ev->mentions != NULL))
        abort();
    if (ev->n_mentions > 0) {
        if (ev->text == NULL)
            abort();
        size_t units = utf16_units(ev->text);
        for (size_t i = 0; i < ev->n_mentions; i++)
            if (ev->mentions[i].index > units ||
                ev->mentions[i].length > units - ev->mentions[i].index)
                abort();
    }

    struct line_event again;
    if (line_event_parse(ev->raw_json, strlen(ev->raw_json), &again) != 0)
        abort();
    if (!same_str(ev->event_id, again.event_id) || !same_str(ev->chat_id, again.chat_id) ||
        !same_str(ev->raw_json, again.raw_json) || !same_str(ev->type, again.type) ||
        !same_str(ev->text, again.text) || ev->kind != again.kind ||
        ev->chat_type != again.chat_type ||
        ev->has_webhook_event_id != again.has_webhook_event_id ||
        ev->n_mentions != again.n_mentions)
        abort();
    line_event_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool started;
    if (!started) {
        alloc_init(); /* jansson allocates as in the binary: failure aborts */
        started = true;
    }
    const uint8_t *newline = memchr(data, '\n', size);
    char *header = NULL;
    const uint8_t *body_start = data;
    if (newline != NULL) {
        size_t header_len = (size_t)(newline - data);
        header = malloc(header_len + 1);
        if (header == NULL)
            return 0;
        memcpy(header, data, header_len);
        header[header_len] = '\0';
        body_start = newline + 1;
    }
    /* An exact-size copy, not NUL-terminated, so reading past len is caught. */
    size_t len = size - (size_t)(body_start - data);
    uint8_t *body = malloc(len ? len : 1);
    if (body == NULL) {
        free(header);
        return 0;
    }
    memcpy(body, body_start, len);

    check_signature(header, body, len);

    struct webhook wh;
    char err[128];
    enum webhook_parse_status st = webhook_parse((const char *)body, len, &wh, err, sizeof err);
    if (st == WEBHOOK_PARSE_OK) {
        for (size_t i = 0; i < wh.n_events; i++)
            check_event(&wh.events[i]);
    } else if (wh.events != NULL || wh.n_events != 0 || wh.destination != NULL ||
               err[0] == '\0') {
        abort();
    }
    webhook_free(&wh);

    free(body);
    free(header);
    return 0;
}
