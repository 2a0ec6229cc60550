/* sniff.c - what a file is, by its magic bytes (see sniff.h).
 *
 * The signatures are the files' own specifications: PNG (RFC 2083 3.1),
 * JFIF/Exif JPEG (SOI marker then another marker), GIF (87a/89a header),
 * WebP (a RIFF container of form type WEBP), ISO base media (ISO/IEC
 * 14496-12: the first box is "ftyp", its 32-bit size 1 for a 64-bit size
 * that follows, else at least 12: size, type and major brand), PDF
 * ("%PDF-" header). */
#include "core/sniff.h"

#include <stdint.h>
#include <string.h>

static bool starts_with(const unsigned char *p, size_t len, const void *magic, size_t n)
{
    return len >= n && memcmp(p, magic, n) == 0;
}

enum sniff_kind sniff_kind(const void *data, size_t len)
{
    const unsigned char *p = data;
    if (!p)
        return SNIFF_UNKNOWN;
    if (starts_with(p, len, "\x89PNG\r\n\x1a\n", 8))
        return SNIFF_PNG;
    if (starts_with(p, len, "\xff\xd8\xff", 3))
        return SNIFF_JPEG;
    if (starts_with(p, len, "GIF87a", 6) || starts_with(p, len, "GIF89a", 6))
        return SNIFF_GIF;
    if (len >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return SNIFF_WEBP;
    if (len >= 12 && memcmp(p + 4, "ftyp", 4) == 0) {
        uint32_t box = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        /* size 1 means a 64-bit size follows; below 8 is no box at all */
        if (box == 1 || box >= 12)
            return SNIFF_MP4;
    }
    if (starts_with(p, len, "%PDF-", 5))
        return SNIFF_PDF;
    return SNIFF_UNKNOWN;
}

const char *sniff_mime(enum sniff_kind kind)
{
    switch (kind) {
    case SNIFF_PNG: return "image/png";
    case SNIFF_JPEG: return "image/jpeg";
    case SNIFF_GIF: return "image/gif";
    case SNIFF_WEBP: return "image/webp";
    case SNIFF_MP4: return "audio/mp4";
    case SNIFF_PDF: return "application/pdf";
    case SNIFF_UNKNOWN: break;
    }
    return "application/octet-stream";
}

bool sniff_is_image(enum sniff_kind kind)
{
    return kind == SNIFF_PNG || kind == SNIFF_JPEG || kind == SNIFF_GIF || kind == SNIFF_WEBP;
}
