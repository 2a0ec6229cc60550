/* sniff.h - what a file is, by its magic bytes.
 *
 * Pure. Content fetched for a message (an image, a voice message, a file) is
 * judged by its first bytes, never by the Content-Type header a server
 * sends: a header can say image/png over anything. Only the kinds the bot
 * can pass on are known; everything else is SNIFF_UNKNOWN. */
#ifndef LINEBOT_SNIFF_H
#define LINEBOT_SNIFF_H

#include <stdbool.h>
#include <stddef.h>

enum sniff_kind {
    SNIFF_UNKNOWN,
    SNIFF_PNG,  /* 89 'PNG' 0D 0A 1A 0A */
    SNIFF_JPEG, /* FF D8 FF */
    SNIFF_GIF,  /* "GIF87a" or "GIF89a" */
    SNIFF_WEBP, /* "RIFF" size "WEBP" */
    SNIFF_MP4,  /* an ISO media file: a box of type "ftyp" first (m4a, mp4) */
    SNIFF_PDF,  /* "%PDF-" */
};

/* The kind of the `len` bytes at `data` (NULL only with len 0). */
enum sniff_kind sniff_kind(const void *data, size_t len);

/* Its media type for a data: URL ("image/png", ..., "audio/mp4" for
 * SNIFF_MP4, "application/pdf"); "application/octet-stream" when unknown. */
const char *sniff_mime(enum sniff_kind kind);

/* PNG, JPEG, GIF or WebP: what a vision model takes. */
bool sniff_is_image(enum sniff_kind kind);

#endif
