/* media.h - real image files, made at test time, for the content tests.
 *
 * Small but valid: a PNG (signature, IHDR, one IDAT of stored zlib blocks,
 * IEND, every CRC right) whose pixels come from a seed, so images of one
 * test differ; and a baseline JPEG of one 8x8 grey block (SOI, JFIF, DQT,
 * SOF0, DHT, SOS, EOI). */
#ifndef E2E_MEDIA_H
#define E2E_MEDIA_H

#include <stdbool.h>
#include <stddef.h>

/* A w x h RGB PNG (malloc'd, *len bytes). */
unsigned char *media_png(unsigned w, unsigned h, unsigned seed, size_t *len);
/* An 8x8 greyscale JPEG (malloc'd, *len bytes). */
unsigned char *media_jpeg(size_t *len);

/* A PDF written by hand (malloc'd, *len bytes): one page per string, a
 * line of Helvetica per line of it, an exact cross-reference table. No
 * ( ) or \\ in the text. */
char *media_pdf(const char *const *pages, size_t n_pages, size_t *len);
/* True when pdftotext is where the bot finds it; else prints why the test
 * skips. */
bool media_have_pdftotext(void);

#endif
