/* kb_fake_embed.c - the benchmark's fake embeddings server (kb_fake_embed.h).
 * libmicrohttpd, one thread per connection, as the e2e fakes. */
#include "kb_fake_embed.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/kb_terms.h"

#define FAKE_EMBED_SPREAD 8              /* dimensions each term touches */
#define FAKE_EMBED_BODY_MAX (64u << 20)  /* a request above it is refused */

struct upload {
    struct buf body;
    int too_large;
};

struct kb_fake_embed {
    struct MHD_Daemon *daemon;
    size_t dims;
    int port;
};

/* Appends to the answer; it has no cap (buf_init with SIZE_MAX), so this
 * cannot fail. */
__attribute__((format(printf, 2, 3))) static void out_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (buf_vaddf(b, fmt, ap) != 0)
        abort();
    va_end(ap);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* `text`'s vector (see the header) as JSON numbers into `out`. */
static void embed_one(const char *text, size_t dims, int *acc, struct buf *out)
{
    memset(acc, 0, dims * sizeof *acc);
    struct kb_terms t;
    kb_terms_of(text, strlen(text), &t);
    for (size_t i = 0; i < t.n; i++) {
        uint64_t h = fnv1a(t.items[i]);
        for (int j = 0; j < FAKE_EMBED_SPREAD; j++) {
            h = h * 6364136223846793005ULL + 1442695040888963407ULL;
            acc[(h >> 33) % dims] += (h >> 7) & 1 ? 1 : -1;
        }
    }
    kb_terms_free(&t);
    int any = 0;
    for (size_t d = 0; d < dims; d++)
        any |= acc[d];
    if (!any)
        acc[fnv1a(text) % dims] = 1; /* an all-zero vector is refused by the client */
    out_addf(out, "[");
    for (size_t d = 0; d < dims; d++)
        out_addf(out, d ? ",%d" : "%d", acc[d]);
    out_addf(out, "]");
}

/* The answer to one request's JSON body; its status in *status. */
static char *answer(const struct kb_fake_embed *f, const char *body, size_t len, unsigned *status)
{
    json_t *root = json_loadb(body, len, 0, NULL), *input = json_object_get(root, "input");
    const char *model = json_string_value(json_object_get(root, "model"));
    if (!json_is_array(input) || json_array_size(input) == 0 || !model) {
        json_decref(root);
        *status = 400;
        return xstrdup("{\"error\":{\"message\":\"input must be a non-empty list\"}}");
    }
    struct buf out;
    buf_init(&out, SIZE_MAX);
    int *acc = xcalloc(f->dims, sizeof *acc);
    out_addf(&out, "{\"object\":\"list\",\"data\":[");
    size_t tokens = 0;
    for (size_t i = 0; i < json_array_size(input); i++) {
        const char *text = json_string_value(json_array_get(input, i));
        text = text ? text : "";
        tokens += strlen(text);
        out_addf(&out, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i ? "," : "", i);
        embed_one(text, f->dims, acc, &out);
        out_addf(&out, "}");
    }
    out_addf(&out, "],\"model\":\"%s\",\"usage\":{\"prompt_tokens\":%zu,\"total_tokens\":%zu}}",
                   strchr(model, '"') ? "bench" : model, tokens, tokens);
    free(acc);
    json_decref(root);
    *status = 200;
    return buf_take(&out, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct kb_fake_embed *f = cls;
    (void)version;
    if (*con_cls == NULL) {
        struct upload *up = xcalloc(1, sizeof *up);
        buf_init(&up->body, FAKE_EMBED_BODY_MAX);
        *con_cls = up;
        return MHD_YES;
    }
    struct upload *up = *con_cls;
    if (*upload_data_size > 0) {
        if (buf_add(&up->body, upload_data, *upload_data_size) != 0)
            up->too_large = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    unsigned status = 404;
    char *body = NULL;
    if (up->too_large) {
        status = 413;
        body = xstrdup("{\"error\":{\"message\":\"request too large\"}}");
    } else if (strcmp(method, "POST") == 0 && strcmp(url, "/v1/embeddings") == 0)
        body = answer(f, buf_str(&up->body), up->body.len, &status);
    else
        body = xstrdup("{\"error\":{\"message\":\"not found\"}}");
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct upload *up = *con_cls;
    if (up) {
        buf_free(&up->body);
        free(up);
        *con_cls = NULL;
    }
}

struct kb_fake_embed *kb_fake_embed_start(size_t dims)
{
    struct kb_fake_embed *f = xcalloc(1, sizeof *f);
    f->dims = dims;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                                 on_request, f, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, f, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)300, MHD_OPTION_END);
    const union MHD_DaemonInfo *info = f->daemon ? MHD_get_daemon_info(f->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    f->port = info ? info->port : 0;
    if (f->port == 0) {
        kb_fake_embed_stop(f);
        return NULL;
    }
    return f;
}

int kb_fake_embed_port(const struct kb_fake_embed *f)
{
    return f->port;
}

void kb_fake_embed_stop(struct kb_fake_embed *f)
{
    if (!f)
        return;
    if (f->daemon)
        MHD_stop_daemon(f->daemon);
    free(f);
}
