/* line_content.h - the bytes of a message: an image, a voice message, a
 * video or a file a user sent.
 *
 * LINE keeps what users send at GET {LINE_DATA_API_BASE_URL}/v2/bot/message/
 * {id}/content for a while, then deletes it (404). Audio and video are
 * transcoded first: .../content/transcoding says "processing" until it
 * "succeeded" (or "failed"), and .../content itself may answer 202 while it
 * is not ready. A message whose contentProvider is `external` is instead at
 * its originalContentUrl, on someone else's server: fetched over https only
 * (redirects too), and never from a private, loopback or link-local address
 * (io/http_client.h's public_only). Every answer is capped in size.
 *
 * Thin, like line_api.h: nothing is logged; `err` says why, never the token. */
#ifndef LINEBOT_LINE_CONTENT_H
#define LINEBOT_LINE_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/line_api.h"

enum content_result {
    CONTENT_OK,
    CONTENT_EXPIRED,          /* 404 (or 410): LINE no longer has it */
    CONTENT_TOO_LARGE,        /* larger than the cap */
    CONTENT_NOT_HTTPS,        /* an external URL that is not https */
    CONTENT_BLOCKED,          /* an external URL at a private, loopback or link-local address */
    CONTENT_TRANSCODE_FAILED, /* LINE could not transcode the audio or video */
    CONTENT_NOT_READY,        /* still 202 or "processing" when the deadline came */
    CONTENT_FAILED,           /* another status, or no answer */
    CONTENT_CANCELLED,        /* the api's cancel flag was set (shutdown) */
};

/* Where a message's content is. Strings borrowed for the call. */
struct content_source {
    const char *message_id;   /* LINE's message id */
    const char *external_url; /* contentProvider "external": originalContentUrl; NULL: LINE has it */
    bool transcoded;          /* audio and video: wait for LINE's transcoding first */
};

/* The bytes: malloc'd, `len` of them (a NUL follows, not counted). */
struct content {
    unsigned char *data;
    size_t len;
};
void content_free(struct content *c);

/* How external URLs may be reached: test builds let a loopback fake serve
 * them over plain http (LINEBOT_TEST_ALLOW_LOOPBACK_CONTENT). */
struct content_policy {
    size_t max_bytes;         /* the cap (LINEBOT_MAX_CONTENT_MB) */
    bool allow_loopback;
};

/* Fetches the content of `src` before `deadline_ms` (clock_monotonic_ms),
 * trying again while LINE answers 202 or is still transcoding. On CONTENT_OK
 * `out` holds the bytes; otherwise it is empty and `err` says why. */
enum content_result line_content_get(struct line_api *api, const struct content_source *src,
                                     const struct content_policy *policy, int64_t deadline_ms, struct content *out,
                                     char *err, size_t errlen);

const char *content_result_name(enum content_result r);

#endif
