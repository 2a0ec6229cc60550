/* media.c - real image files made at test time (see media.h). */
#include "media.h"

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include "harness.h"
#include <stdlib.h>
#include <string.h>

#include "e2e_util.h"

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Appends one chunk: length, type, data, CRC over type and data. */
static size_t put_chunk(unsigned char *out, const char *type, const unsigned char *data, size_t n)
{
    put32(out, (uint32_t)n);
    memcpy(out + 4, type, 4);
    if (n)
        memcpy(out + 8, data, n);
    put32(out + 8 + n, crc32_of(out + 4, n + 4));
    return n + 12;
}

unsigned char *media_png(unsigned w, unsigned h, unsigned seed, size_t *len)
{
    size_t row = 1 + (size_t)w * 3, raw_len = row * h;
    unsigned char *raw = e2e_xmalloc(raw_len);
    for (unsigned y = 0; y < h; y++) {
        raw[y * row] = 0; /* filter: none */
        for (size_t x = 1; x < row; x++)
            raw[y * row + x] = (unsigned char)(seed * 31 + y * 7 + x * 13);
    }
    /* zlib: header, stored blocks of at most 65535 bytes, Adler-32. */
    size_t blocks = raw_len / 65535 + 1;
    size_t z_len = 2 + raw_len + blocks * 5 + 4;
    unsigned char *z = e2e_xmalloc(z_len);
    size_t o = 0;
    z[o++] = 0x78;
    z[o++] = 0x01;
    size_t done = 0;
    do {
        size_t n = raw_len - done > 65535 ? 65535 : raw_len - done;
        z[o++] = done + n == raw_len ? 1 : 0;
        z[o++] = (unsigned char)n;
        z[o++] = (unsigned char)(n >> 8);
        z[o++] = (unsigned char)~n;
        z[o++] = (unsigned char)(~n >> 8);
        memcpy(z + o, raw + done, n);
        o += n;
        done += n;
    } while (done < raw_len);
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < raw_len; i++) {
        a = (a + raw[i]) % 65521;
        b = (b + a) % 65521;
    }
    put32(z + o, b << 16 | a);
    o += 4;

    unsigned char ihdr[13];
    put32(ihdr, w);
    put32(ihdr + 4, h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* colour type: RGB */
    ihdr[10] = 0; /* compression, filter, interlace */
    ihdr[11] = 0;
    ihdr[12] = 0;
    unsigned char *png = e2e_xmalloc(8 + 25 + o + 12 + 12);
    memcpy(png, "\x89PNG\r\n\x1a\n", 8);
    size_t p = 8;
    p += put_chunk(png + p, "IHDR", ihdr, sizeof ihdr);
    p += put_chunk(png + p, "IDAT", z, o);
    p += put_chunk(png + p, "IEND", NULL, 0);
    free(raw);
    free(z);
    *len = p;
    return png;
}

unsigned char *media_jpeg(size_t *len)
{
    static const unsigned char head[] = {
        0xFF, 0xD8,                                                 /* SOI */
        0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01, 0x01, /* APP0 JFIF 1.1 */
        0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
        0xFF, 0xDB, 0x00, 0x43, 0x00, /* DQT: table 0, 8-bit, then 64 entries */
    };
    static const unsigned char tail[] = {
        0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00, /* SOF0 8x8, 1 component */
        0xFF, 0xC4, 0x00, 0x14, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, /* DHT DC 0: "0" = 0 */
        0xFF, 0xC4, 0x00, 0x14, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, /* DHT AC 0: "0" = EOB */
        0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, /* SOS */
        0x3F,       /* DC difference 0 ("0"), EOB ("0"), padded with ones */
        0xFF, 0xD9, /* EOI */
    };
    *len = sizeof head + 64 + sizeof tail;
    unsigned char *jpeg = e2e_xmalloc(*len);
    memcpy(jpeg, head, sizeof head);
    memset(jpeg + sizeof head, 1, 64);
    memcpy(jpeg + sizeof head + 64, tail, sizeof tail);
    return jpeg;
}

/* The bot runs without PATH: its child is found on the default path. */
bool media_have_pdftotext(void)
{
    if (access("/usr/bin/pdftotext", X_OK) == 0 || access("/bin/pdftotext", X_OK) == 0)
        return true;
    fprintf(stderr, "skipped: pdftotext is not installed (Debian: apt-get install poppler-utils)\n");
    return false;
}

/* A PDF written by hand: one page per string, a line of Helvetica per line
 * of it, and an exact cross-reference table (PDF 1.4, 7.5.4). No ( ) or \
 * in the text. */
char *media_pdf(const char *const *pages, size_t n_pages, size_t *len)
{
    struct e2e_buf pdf = {0}, kids = {0};
    size_t offsets[32], n_obj = 3 + 2 * n_pages;
    assert_true(n_obj <= 32);
    e2e_buf_adds(&pdf, "%PDF-1.4\n");
    for (size_t i = 0; i < n_pages; i++)
        e2e_buf_addf(&kids, "%zu 0 R ", 4 + 2 * i);
    char *k = e2e_buf_take(&kids);
    char *objs[32];
    objs[0] = e2e_printf("<< /Type /Catalog /Pages 2 0 R >>");
    objs[1] = e2e_printf("<< /Type /Pages /Kids [%s] /Count %zu >>", k, n_pages);
    objs[2] = e2e_printf("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    for (size_t i = 0; i < n_pages; i++) {
        struct e2e_buf content = {0};
        e2e_buf_adds(&content, "BT /F1 12 Tf 72 720 Td 16 TL");
        for (const char *line = pages[i]; *line;) {
            size_t n = strcspn(line, "\n");
            e2e_buf_addf(&content, " (%.*s) Tj T*", (int)n, line);
            line += n + (line[n] == '\n');
        }
        e2e_buf_adds(&content, " ET");
        char *c = e2e_buf_take(&content);
        objs[3 + 2 * i] = e2e_printf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font"
                                     " << /F1 3 0 R >> >> /Contents %zu 0 R >>",
                                     5 + 2 * i);
        objs[4 + 2 * i] = e2e_printf("<< /Length %zu >>\nstream\n%s\nendstream", strlen(c), c);
        free(c);
    }
    for (size_t i = 0; i < n_obj; i++) {
        offsets[i] = pdf.len;
        e2e_buf_addf(&pdf, "%zu 0 obj\n%s\nendobj\n", i + 1, objs[i]);
        free(objs[i]);
    }
    size_t xref = pdf.len;
    e2e_buf_addf(&pdf, "xref\n0 %zu\n0000000000 65535 f \n", n_obj + 1);
    for (size_t i = 0; i < n_obj; i++)
        e2e_buf_addf(&pdf, "%010zu 00000 n \n", offsets[i]);
    e2e_buf_addf(&pdf, "trailer\n<< /Size %zu /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", n_obj + 1, xref);
    free(k);
    *len = pdf.len;
    return e2e_buf_take(&pdf);
}
