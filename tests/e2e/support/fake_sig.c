/* fake_sig.c - the stand-ins' own SigV4 and ACS3 computation (see fake_sig.h).
 * Written from the documents; keep it free of anything in src/core. */
#include "fake_sig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "e2e_util.h"

#define MAX_ARGS 64

/* RFC 3986: A-Z a-z 0-9 - _ . ~ stay, every other byte is %XX (uppercase). */
static void encode(struct e2e_buf *b, const char *s, bool keep_slash)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
        if (keep)
            e2e_buf_add(b, (const char *)p, 1);
        else
            e2e_buf_addf(b, "%%%02X", c);
    }
}

static char *encoded(const char *s, bool keep_slash)
{
    struct e2e_buf b = {0};
    e2e_buf_adds(&b, "");
    encode(&b, s, keep_slash);
    return e2e_buf_take(&b);
}

struct pair {
    char *name, *value;
};

static int compare_pairs(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* A header value trimmed; for AWS4 also inner runs of spaces/tabs made one. */
static void add_value(struct e2e_buf *b, const char *v, bool collapse)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        bool ws = v[i] == ' ' || v[i] == '\t';
        if (collapse && ws) {
            space = true;
            continue;
        }
        if (space)
            e2e_buf_add(b, " ", 1);
        space = false;
        e2e_buf_add(b, &v[i], 1);
    }
}

char *fake_sig_canonical_request(enum fake_sig_method method, const struct fake_http_request *req,
                                 const char *signed_headers, char **why)
{
    *why = NULL;
    struct e2e_buf b = {0};
    e2e_buf_adds(&b, req->method);
    e2e_buf_adds(&b, "\n");

    /* The path arrives decoded: encode it once for what was on the wire; AWS
     * encodes that once more for the canonical URI, Alibaba takes it as is. */
    char *wire = encoded(req->path, true);
    if (method == FAKE_SIG_AWS4) {
        char *twice = encoded(wire, true);
        e2e_buf_adds(&b, twice);
        free(twice);
    } else {
        e2e_buf_adds(&b, wire);
    }
    free(wire);
    e2e_buf_adds(&b, "\n");

    struct fake_http_arg args[MAX_ARGS];
    size_t n = fake_http_query(req, args, MAX_ARGS);
    struct pair pairs[MAX_ARGS];
    for (size_t i = 0; i < n; i++)
        pairs[i] = (struct pair){encoded(args[i].name, false), encoded(args[i].value ? args[i].value : "", false)};
    qsort(pairs, n, sizeof pairs[0], compare_pairs);
    for (size_t i = 0; i < n; i++) {
        e2e_buf_addf(&b, "%s%s=%s", i ? "&" : "", pairs[i].name, pairs[i].value);
        free(pairs[i].name);
        free(pairs[i].value);
    }
    e2e_buf_adds(&b, "\n");

    char *names = e2e_strdup(signed_headers);
    char *save = NULL, *prev = NULL;
    for (char *name = strtok_r(names, ";", &save); name; name = strtok_r(NULL, ";", &save)) {
        for (const char *p = name; *p; p++)
            if (*p >= 'A' && *p <= 'Z' && !*why)
                *why = e2e_printf("SignedHeaders has an uppercase name (%s)", name);
        if (prev && strcmp(prev, name) >= 0 && !*why)
            *why = e2e_printf("SignedHeaders is not sorted and unique (%s after %s)", name, prev);
        const char *v = fake_http_header(req, name);
        if (!v && !*why)
            *why = e2e_printf("signed header %s was not sent", name);
        if (*why)
            break;
        e2e_buf_addf(&b, "%s:", name);
        add_value(&b, v, method == FAKE_SIG_AWS4);
        e2e_buf_adds(&b, "\n");
        prev = name;
    }
    free(names);
    char body_hash[65];
    fake_sig_sha256_hex(req->body, req->body_len, body_hash);
    e2e_buf_addf(&b, "\n%s\n%s", signed_headers, body_hash);
    char *creq = e2e_buf_take(&b);
    if (*why) {
        free(creq);
        return NULL;
    }
    return creq;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", in[i]);
}

void fake_sig_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    if (EVP_Digest(data ? data : "", len, md, &n, EVP_sha256(), NULL) != 1)
        abort();
    hex(md, 32, out);
}

static void hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &n) || n != 32)
        abort();
}

void fake_sig_signature(enum fake_sig_method method, const char *secret, const char *amz_date, const char *scope,
                        const char *canonical_request, char out[65])
{
    char creq_hash[65];
    fake_sig_sha256_hex(canonical_request, strlen(canonical_request), creq_hash);
    unsigned char mac[32];
    if (method == FAKE_SIG_ACS3) {
        char *sts = e2e_printf("ACS3-HMAC-SHA256\n%s", creq_hash);
        hmac(secret, strlen(secret), sts, mac);
        free(sts);
    } else {
        /* scope = date/region/service/aws4_request: each part keys the next. */
        char *sts = e2e_printf("AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, creq_hash);
        char *key0 = e2e_printf("AWS4%s", secret);
        char *parts = e2e_strdup(scope), *save = NULL;
        unsigned char k[2][32];
        const void *key = key0;
        size_t keylen = strlen(key0);
        int i = 0;
        for (char *part = strtok_r(parts, "/", &save); part; part = strtok_r(NULL, "/", &save), i ^= 1) {
            hmac(key, keylen, part, k[i]);
            key = k[i];
            keylen = sizeof k[i];
        }
        hmac(key, keylen, sts, mac);
        free(parts);
        free(key0);
        free(sts);
    }
    hex(mac, 32, out);
}
