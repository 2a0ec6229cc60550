/* http_client.c - outgoing HTTP over reusable libcurl handles.
 *
 * A client has a multi handle and two easy handles that live as long as it:
 * the main one (http_client_do) and the side one (a request that runs while
 * the next main requests do, see http_client_side_start). Both transfers are
 * driven by the calling thread through the multi handle, whose connection
 * cache, DNS cache and TLS sessions outlive every request, so repeated calls
 * to LINE or to the LLM reuse warm connections. Every transfer has a
 * connect and a total timeout, is limited to http/https, caps the answer's
 * size, and can be aborted through an atomic flag. Nothing here retries and
 * nothing here logs: the caller decides what a failure means. Error text comes
 * from libcurl's error buffer, which names hosts and reasons but never request
 * headers, so the Authorization token cannot leak through it.
 *
 * URLs are read once, by curl_url(), and the transfer uses that very parse
 * (CURLOPT_CURLU); http_url_split() gives signers the same reading, so the
 * Host they sign is the Host sent. What a response asks of a retry
 * (Retry-After, read with curl_getdate) is HTTP, not any one API's format, so
 * it is read here too. */
#include "io/http_client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/netaddr.h"

#ifndef LINEBOT_VERSION
#define LINEBOT_VERSION "dev"
#endif

#define HTTP_DEFAULT_CONNECT_MS 5000L
#define HTTP_DEFAULT_TIMEOUT_MS 30000L
#define HTTP_DEFAULT_MAX_BYTES ((size_t)4 * 1024 * 1024)
#define HTTP_HEADERS_MAX ((size_t)256 * 1024) /* kept response headers (old libcurl only) */
#define RETRY_AFTER_MAX_MS 60000

/* libcurl before 7.83.0 (Debian 11 has 7.74, for Function Compute's runtime)
 * has no curl_easy_header(); there the header callback keeps the last
 * response's headers itself, for http_client_header(). */
#if LIBCURL_VERSION_NUM < 0x075300
#define HTTP_OWN_HEADERS 1
#endif

/* What the curl callbacks fill in during one transfer. */
struct transfer {
    struct http_response *resp;
    struct buf body;       /* capped at the request's max_response_bytes */
    size_t max_bytes;
    int too_large;
    const atomic_int *cancel;
    int allow_loopback;    /* public_only transfers: loopback is allowed too */
    int blocked;           /* an address was refused */
#ifdef HTTP_OWN_HEADERS
    struct http_client *client; /* NULL: the side transfer, whose headers are not kept */
#endif
};

enum side_state { SIDE_NONE, SIDE_RUNNING, SIDE_FINISHED };

struct http_client {
    CURLM *multi;
    CURL *curl;            /* the main transfer */
    int main_done;
    CURLcode main_rc;
    CURL *side;            /* the side transfer, created on first use */
    enum side_state side_state;
    CURLcode side_rc;
    struct transfer side_t;
    struct http_response side_resp;
    struct curl_slist *side_headers;
    CURLU *side_url;
    const atomic_int *side_cancel;
    char side_errbuf[CURL_ERROR_SIZE];
#ifdef HTTP_OWN_HEADERS
    struct buf headers;    /* "name\0value\0" pairs of the last main response */
#endif
};

static char ca_bundle[1024];

const char *http_use_ca_bundle(const char *configured)
{
    static const char *const known[] = {
        "/etc/ssl/certs/ca-certificates.crt",                /* Debian, Ubuntu, Alpine */
        "/etc/pki/tls/certs/ca-bundle.crt",                  /* Amazon Linux, RHEL, Fedora */
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* RHEL family, extracted */
        "/etc/ssl/ca-bundle.pem",                            /* openSUSE */
        "/etc/ssl/cert.pem",                                 /* Alpine, macOS, BSD */
    };
    ca_bundle[0] = '\0';
    if (configured && configured[0]) {
        snprintf(ca_bundle, sizeof ca_bundle, "%s", configured);
        return ca_bundle;
    }
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (access(known[i], R_OK) == 0) {
            snprintf(ca_bundle, sizeof ca_bundle, "%s", known[i]);
            return ca_bundle;
        }
    }
    return NULL;
}

static char unix_origin[256];   /* "" when nothing goes over a Unix socket */
static char unix_socket_path[108]; /* sockaddr_un's sun_path */

void http_route_unix_socket(const char *origin, const char *socket_path)
{
    unix_origin[0] = unix_socket_path[0] = '\0';
    if (origin && socket_path) {
        snprintf(unix_origin, sizeof unix_origin, "%s/", origin);
        snprintf(unix_socket_path, sizeof unix_socket_path, "%s", socket_path);
    }
}

/* The Unix socket `url` goes to, or NULL for TCP. */
static const char *unix_socket_for(const char *url)
{
    return unix_origin[0] && strncmp(url, unix_origin, strlen(unix_origin)) == 0 ? unix_socket_path : NULL;
}

int http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void http_global_cleanup(void)
{
    curl_global_cleanup();
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata);
static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata);
static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);

/* The schemes a transfer and its redirects may use. */
static void set_protocols(CURL *h, int https_only)
{
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    const char *list = https_only ? "https" : "http,https";
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, list);
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, list);
#else
    long mask = https_only ? (long)CURLPROTO_HTTPS : (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, mask);
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, mask);
#endif
}

/* public_only: the socket for a connection to `address`, opened only when
 * the address is public (or loopback, when allowed). It runs after DNS and
 * for every address tried, redirects included, so no name can lead the
 * transfer into the bot's own network. */
static curl_socket_t open_checked_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
    struct transfer *t = clientp;
    (void)purpose;
    enum netaddr_class c = netaddr_classify(&address->addr, address->addrlen);
    if (c == NETADDR_PUBLIC || (c == NETADDR_LOOPBACK && t->allow_loopback))
        return socket(address->family, address->socktype, address->protocol);
    t->blocked = 1;
    return CURL_SOCKET_BAD;
}

/* A handle with the options every request shares, set once: prepare() sets
 * only what differs per request, instead of a curl_easy_reset and two dozen
 * options each time. The CA bundle is chosen (http_use_ca_bundle) before any
 * client exists. libcurl fails here only when out of memory. */
static CURL *new_handle(void)
{
    CURL *h = curl_easy_init();
    if (!h)
        alloc_fail("curl_easy_init", 0);
    if (ca_bundle[0])
        curl_easy_setopt(h, CURLOPT_CAINFO, ca_bundle);
    set_protocols(h, 0);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 15L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "linebot/" LINEBOT_VERSION);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* the size cap applies after decoding */
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    return h;
}

struct http_client *http_client_new(void)
{
    struct http_client *c = xcalloc(1, sizeof(*c));
    c->multi = curl_multi_init();
    if (!c->multi) /* libcurl fails here only when out of memory */
        alloc_fail("curl_multi_init", sizeof(*c));
    /* One warm connection per host: LINE's two and every model of the
     * catalogue (each model keeps its own, a switch closes none). libcurl's
     * default, four per easy handle, would evict them past a few models. */
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 40L);
    c->curl = new_handle();
#ifdef HTTP_OWN_HEADERS
    buf_init(&c->headers, HTTP_HEADERS_MAX);
#endif
    return c;
}

static void side_clear(struct http_client *c)
{
    if (c->side_state == SIDE_RUNNING)
        curl_multi_remove_handle(c->multi, c->side);
    if (c->side) {
        curl_easy_setopt(c->side, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(c->side, CURLOPT_ERRORBUFFER, NULL);
        curl_easy_setopt(c->side, CURLOPT_CURLU, NULL);
    }
    curl_slist_free_all(c->side_headers);
    c->side_headers = NULL;
    curl_url_cleanup(c->side_url);
    c->side_url = NULL;
    buf_free(&c->side_t.body);
    http_response_free(&c->side_resp);
    c->side_state = SIDE_NONE;
}

void http_client_free(struct http_client *c)
{
    if (!c)
        return;
    side_clear(c);
    curl_easy_cleanup(c->side);
    curl_easy_cleanup(c->curl);
    curl_multi_cleanup(c->multi);
#ifdef HTTP_OWN_HEADERS
    buf_free(&c->headers);
#endif
    free(c);
}

#ifdef HTTP_OWN_HEADERS
const char *http_client_header(struct http_client *c, const char *name)
{
    if (!c || !name)
        return NULL;
    /* The first of the same name, as curl_easy_header(..., 0, ...) gives. */
    for (size_t i = 0; i < c->headers.len;) {
        const char *n = c->headers.data + i;
        const char *v = n + strlen(n) + 1;
        if (strcasecmp(n, name) == 0)
            return v;
        i = (size_t)(v + strlen(v) + 1 - c->headers.data);
    }
    return NULL;
}
#else
const char *http_client_header(struct http_client *c, const char *name)
{
    struct curl_header *h = NULL;
    if (!c || !name || curl_easy_header(c->curl, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
        return NULL;
    return h->value;
}
#endif

void http_response_free(struct http_response *resp)
{
    if (!resp)
        return;
    free(resp->body);
    free(resp->retry_after);
    free(resp->retry_after_ms);
    resp->body = NULL;
    resp->body_len = 0;
    resp->retry_after = NULL;
    resp->retry_after_ms = NULL;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * nmemb;

    if (buf_add(&t->body, data, n) != 0) {
        t->too_large = 1;
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    }
    return n;
}

/* Moves the body received so far into the response (NULL when there was none). */
static void take_body(struct transfer *t)
{
    struct http_response *r = t->resp;
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
    if (t->body.data)
        r->body = buf_take(&t->body, &r->body_len);
}

/* Copies a header's value without surrounding whitespace and the CRLF. */
static char *header_value(const char *v, size_t len)
{
    while (len > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' ' ||
                       v[len - 1] == '\t'))
        len--;
    return xstrndup(v, len);
}

#ifdef HTTP_OWN_HEADERS
/* Appends one "Name: value" line as "Name\0value\0"; a status line starts
 * over, so only the final response's headers remain (not a 1xx answer's).
 * Headers past HTTP_HEADERS_MAX are not kept: http_client_header() then does
 * not find them, as for a header that was not sent. */
static void record_header(struct http_client *c, const char *data, size_t n)
{
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        buf_reset(&c->headers);
        return;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon || colon == data)
        return; /* the blank line that ends the headers */
    char *value = header_value(colon + 1, n - (size_t)(colon + 1 - data));
    size_t name_len = (size_t)(colon - data), value_len = strlen(value);
    size_t keep = c->headers.len;
    if (name_len + value_len + 2 > c->headers.max - c->headers.len ||
        buf_add(&c->headers, data, name_len) != 0 || buf_add(&c->headers, "", 1) != 0 ||
        buf_add(&c->headers, value, value_len + 1) != 0)
        buf_truncate(&c->headers, keep);
    free(value);
}
#endif

/* Captures Retry-After and retry-after-ms (names are case-insensitive). A new
 * status line (an interim 1xx answer came first) starts the capture over. */
static size_t on_header(char *data, size_t size, size_t nitems, void *userdata)
{
    struct transfer *t = userdata;
    struct http_response *r = t->resp;
    size_t n = size * nitems;
    static const char ra[] = "retry-after:";
    static const char ra_ms[] = "retry-after-ms:";

#ifdef HTTP_OWN_HEADERS
    if (t->client)
        record_header(t->client, data, n);
#endif
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        free(r->retry_after);
        free(r->retry_after_ms);
        r->retry_after = NULL;
        r->retry_after_ms = NULL;
    } else if (n >= sizeof(ra_ms) - 1 && strncasecmp(data, ra_ms, sizeof(ra_ms) - 1) == 0) {
        free(r->retry_after_ms);
        r->retry_after_ms = header_value(data + sizeof(ra_ms) - 1, n - (sizeof(ra_ms) - 1));
    } else if (n >= sizeof(ra) - 1 && strncasecmp(data, ra, sizeof(ra) - 1) == 0) {
        free(r->retry_after);
        r->retry_after = header_value(data + sizeof(ra) - 1, n - (sizeof(ra) - 1));
    }
    return n;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    struct transfer *t = userdata;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return t->cancel && atomic_load(t->cancel) ? 1 : 0;
}

/* ---- URLs --------------------------------------------------------------- */

/* Parses `url` with curl_url(), the parser the transfer itself uses, and
 * accepts only http and https URLs with a host. One stricter rule: curl
 * forgives a third slash ("https:///v1" is the host "v1"), but written by a
 * person that is a URL whose host is missing, so it is refused. Returns the
 * handle (free with curl_url_cleanup), or NULL with the reason in `err`
 * (never the URL, whose query may hold a secret). */
static CURLU *parse_url(const char *url, char *err, size_t errlen)
{
    const char *sep = strstr(url, "://");
    if (sep && sep[3] == '/') {
        snprintf(err, errlen, "invalid URL: no host");
        return NULL;
    }
    CURLU *u = curl_url();
    if (!u)
        alloc_fail("curl_url", 0);
    char *scheme = NULL, *host = NULL;
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (rc == CURLUE_OUT_OF_MEMORY)
        alloc_fail("curl_url_set", strlen(url));
    if (rc != CURLUE_OK) {
#if LIBCURL_VERSION_NUM >= 0x075000 /* 7.80.0 */
        snprintf(err, errlen, "invalid URL: %s", curl_url_strerror(rc));
#else
        snprintf(err, errlen, "invalid URL (curl_url error %d)", (int)rc);
#endif
    } else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
               (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(err, errlen, "invalid URL: only http and https are used");
        rc = CURLUE_UNSUPPORTED_SCHEME; /* CURLUE_BAD_SCHEME is newer than Debian 11's libcurl 7.74 */
    } else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        snprintf(err, errlen, "invalid URL: no host");
        rc = CURLUE_NO_HOST;
    }
    curl_free(scheme);
    curl_free(host);
    if (rc != CURLUE_OK) {
        curl_url_cleanup(u);
        return NULL;
    }
    return u;
}

int http_url_split(const char *url, struct http_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    CURLU *u = parse_url(url ? url : "", err, errlen);
    if (!u)
        return -1;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    /* curl leaves the port out of Host when it is the scheme's default. */
    if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT) != CURLUE_OK)
        port = NULL;
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    int rc = 0;
    int n = snprintf(out->host, sizeof out->host, "%s%s%s", host, port ? ":" : "", port ? port : "");
    if (n < 0 || (size_t)n >= sizeof out->host) {
        snprintf(err, errlen, "invalid URL: host name too long");
        rc = -1;
    }
    const char *p = path && strcmp(path, "/") != 0 ? path : "";
    n = snprintf(out->path, sizeof out->path, "%s", p);
    if (rc == 0 && (n < 0 || (size_t)n >= sizeof out->path)) {
        snprintf(err, errlen, "invalid URL: path too long");
        rc = -1;
    }
    snprintf(out->scheme, sizeof out->scheme, "%s", scheme);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

/* ---- Retry-After -------------------------------------------------------- */

static int64_t clamp_wait_ms(double ms)
{
    if (ms <= 0)
        return 0;
    if (ms >= RETRY_AFTER_MAX_MS)
        return RETRY_AFTER_MAX_MS;
    return (int64_t)ceil(ms);
}

/* A non-negative decimal number spanning the whole string (blanks around are
 * fine). `integer_only` refuses a fraction. strtod is not used: it would take
 * a sign, "inf", "nan" and hex. Returns 0 or -1. */
static int parse_number(const char *s, int integer_only, double *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!isdigit((unsigned char)*s))
        return -1;
    double v = 0;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (*s - '0');
        s++;
    }
    if (*s == '.' && !integer_only) {
        double scale = 0.1;
        s++;
        if (!isdigit((unsigned char)*s))
            return -1;
        while (isdigit((unsigned char)*s)) {
            v += (*s - '0') * scale;
            scale /= 10;
            s++;
        }
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s)
        return -1;
    *out = v;
    return 0;
}

int64_t http_retry_after_ms(const char *value, int64_t now_ms)
{
    if (!value)
        return -1;
    double seconds;
    if (parse_number(value, 1, &seconds) == 0)
        return clamp_wait_ms(seconds * 1000.0);
    /* An HTTP-date in any form RFC 9110 asks a recipient to accept (and some
     * more that curl reads, such as a numeric zone). -1 is curl's "no date";
     * 1969-12-31T23:59:59Z is lost with it, which is in the past anyway. */
    time_t at = curl_getdate(value, NULL);
    if (at == (time_t)-1)
        return -1;
    double diff_ms = ((double)at * 1000.0) - (double)now_ms;
    return clamp_wait_ms(diff_ms);
}

int64_t http_response_retry_after_ms(const struct http_response *resp, int64_t now_ms)
{
    double ms;
    if (resp->retry_after_ms && parse_number(resp->retry_after_ms, 0, &ms) == 0)
        return clamp_wait_ms(ms);
    return http_retry_after_ms(resp->retry_after, now_ms);
}

/* ---- transfers ---------------------------------------------------------- */

/* Sets up handle `h` (made by new_handle) for `req`: the options that differ
 * per request, each set every time, so nothing of the previous request's
 * stays (its method included). `copy_body`: the body is copied, for a
 * transfer that outlives the caller's buffer. The URL is parsed here, and the
 * parsed handle is what the transfer uses (CURLOPT_CURLU): *url_out owns it
 * until the transfer ends. Returns -1 (resp->error set) for a URL that is not
 * http(s) with a host. */
static int prepare(CURL *h, const struct http_request *req, struct transfer *t, struct curl_slist **headers_out,
                   CURLU **url_out, char *errbuf, int copy_body, struct http_response *resp)
{
    struct curl_slist *headers = NULL;

    CURLU *url = parse_url(req->url, resp->error, sizeof(resp->error));
    if (!url)
        return -1;
    *url_out = url;
    if (req->headers) {
        for (const char *const *hp = req->headers; *hp; hp++) {
            headers = curl_slist_append(headers, *hp);
            if (!headers)
                alloc_fail("curl_slist_append", strlen(*hp));
        }
    }
    /* No "Expect: 100-continue" round trip for larger bodies. */
    headers = curl_slist_append(headers, "Expect:");
    if (!headers)
        alloc_fail("curl_slist_append", 8);
    *headers_out = headers;

    long connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : HTTP_DEFAULT_CONNECT_MS;
    long timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;

    curl_easy_setopt(h, CURLOPT_CURLU, url);
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, unix_socket_for(req->url));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, t);

    /* Someone else's URL, or ours: every option set both ways, each time. */
    set_protocols(h, req->https_only);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
    t->allow_loopback = req->allow_loopback;
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, req->public_only ? open_checked_socket : NULL);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, req->public_only ? (void *)t : NULL);
    /* A warm connection was opened without the check: never reuse one, and
     * never leave this one for a request without it. */
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, req->public_only ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, req->public_only ? 1L : 0L);

    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(req->method, "POST") == 0) {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
            curl_easy_setopt(h, CURLOPT_POST, 1L);
        } else {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        }
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
        if (copy_body)
            curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
        else
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    }
    return 0;
}

/* Fills `resp` from a finished transfer: 0 when a response arrived, -1 with
 * the reason otherwise. */
static int conclude(CURL *h, CURLcode rc, const struct transfer *t, const atomic_int *cancel, const char *errbuf,
                    struct http_response *resp)
{
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK) {
        resp->status = status;
        return 0;
    }
    resp->status = 0;
    if (t->blocked) {
        resp->blocked = 1;
        snprintf(resp->error, sizeof(resp->error), "refused to connect to a private, loopback or link-local address");
    } else if (t->too_large) {
        resp->too_large = 1;
        snprintf(resp->error, sizeof(resp->error),
                 "response body larger than %zu bytes (status %ld)", t->max_bytes, status);
    } else if (rc == CURLE_ABORTED_BY_CALLBACK && cancel && atomic_load(cancel)) {
        resp->cancelled = 1;
        snprintf(resp->error, sizeof(resp->error), "cancelled");
    } else {
        if (rc == CURLE_OPERATION_TIMEDOUT)
            resp->timed_out = 1;
        if (rc == CURLE_UNSUPPORTED_PROTOCOL)
            resp->scheme_refused = 1;
        /* The error buffer is the more specific text when curl filled it in. */
        snprintf(resp->error, sizeof(resp->error), "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    return -1;
}

enum wait_for { WAIT_MAIN, WAIT_SIDE };

/* Runs the client's transfers (the main and the side one alike) until the one
 * waited for has finished. Returns CURLE_OK, or an error of the multi handle. */
static CURLcode drive(struct http_client *c, enum wait_for which)
{
    for (;;) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(c->multi, &running);
        if (mc != CURLM_OK)
            return CURLE_OUT_OF_MEMORY;
        CURLMsg *m;
        int queued;
        while ((m = curl_multi_info_read(c->multi, &queued))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            if (m->easy_handle == c->curl) {
                c->main_rc = m->data.result;
                c->main_done = 1;
            } else if (m->easy_handle == c->side && c->side_state == SIDE_RUNNING) {
                c->side_rc = m->data.result;
                c->side_state = SIDE_FINISHED;
                curl_multi_remove_handle(c->multi, c->side);
            }
        }
        if (which == WAIT_MAIN ? c->main_done : c->side_state != SIDE_RUNNING)
            return CURLE_OK;
        mc = curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
        if (mc != CURLM_OK)
            return CURLE_OUT_OF_MEMORY;
    }
}

/* The multipart body of `req` for handle `h` (its data copied). */
static curl_mime *form_of(CURL *h, const struct http_request *req)
{
    curl_mime *form = curl_mime_init(h);
    if (!form)
        alloc_fail("curl_mime_init", 0);
    for (size_t i = 0; i < req->n_form; i++) {
        const struct http_form_part *p = &req->form[i];
        curl_mimepart *part = curl_mime_addpart(form);
        if (!part || curl_mime_name(part, p->name) != CURLE_OK ||
            curl_mime_data(part, p->data, p->len) != CURLE_OK ||
            (p->filename && curl_mime_filename(part, p->filename) != CURLE_OK) ||
            (p->type && curl_mime_type(part, p->type) != CURLE_OK))
            alloc_fail("curl_mime part", p->len);
    }
    return form;
}

int http_client_do(struct http_client *c, const struct http_request *req, struct http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    if (!c || !c->curl || !req || !req->url || !req->method) {
        snprintf(resp->error, sizeof(resp->error), "invalid request");
        return -1;
    }
    if (req->cancel && atomic_load(req->cancel)) {
        resp->cancelled = 1;
        snprintf(resp->error, sizeof(resp->error), "cancelled");
        return -1;
    }

    CURL *h = c->curl;
    struct transfer t = {
        .resp = resp,
        .max_bytes = req->max_response_bytes ? req->max_response_bytes : HTTP_DEFAULT_MAX_BYTES,
        .cancel = req->cancel,
#ifdef HTTP_OWN_HEADERS
        .client = c,
#endif
    };
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    CURLU *url = NULL;

    buf_init(&t.body, t.max_bytes);
#ifdef HTTP_OWN_HEADERS
    buf_reset(&c->headers);
#endif
    if (prepare(h, req, &t, &headers, &url, errbuf, 0, resp) != 0)
        return -1;
    curl_mime *form = req->n_form ? form_of(h, req) : NULL;
    if (form)
        curl_easy_setopt(h, CURLOPT_MIMEPOST, form);

    CURLcode rc;
    c->main_done = 0;
    if (curl_multi_add_handle(c->multi, h) != CURLM_OK) {
        rc = CURLE_OUT_OF_MEMORY;
    } else {
        rc = drive(c, WAIT_MAIN);
        if (rc == CURLE_OK)
            rc = c->main_rc;
        curl_multi_remove_handle(c->multi, h);
    }

    /* The handle must not keep pointers to our stack or to the caller's data. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    if (form) {
        curl_easy_setopt(h, CURLOPT_MIMEPOST, NULL);
        curl_mime_free(form);
    }
    curl_easy_setopt(h, CURLOPT_CURLU, NULL);
    curl_slist_free_all(headers);
    curl_url_cleanup(url);
    take_body(&t);
    return conclude(h, rc, &t, req->cancel, errbuf, resp);
}

int http_client_side_start(struct http_client *c, const struct http_request *req, char *err, size_t errlen)
{
    if (!c || !req || !req->url || !req->method) {
        snprintf(err, errlen, "invalid request");
        return -1;
    }
    if (c->side_state != SIDE_NONE) {
        snprintf(err, errlen, "a side request is already under way");
        return -1;
    }
    if (!c->side)
        c->side = new_handle();
    memset(&c->side_resp, 0, sizeof c->side_resp);
    c->side_t = (struct transfer){
        .resp = &c->side_resp,
        .max_bytes = req->max_response_bytes ? req->max_response_bytes : HTTP_DEFAULT_MAX_BYTES,
        .cancel = req->cancel,
    };
    buf_init(&c->side_t.body, c->side_t.max_bytes);
    c->side_cancel = req->cancel;
    c->side_errbuf[0] = '\0';
    if (prepare(c->side, req, &c->side_t, &c->side_headers, &c->side_url, c->side_errbuf, 1, &c->side_resp) != 0) {
        snprintf(err, errlen, "%s", c->side_resp.error);
        side_clear(c);
        return -1;
    }
    if (curl_multi_add_handle(c->multi, c->side) != CURLM_OK) {
        snprintf(err, errlen, "libcurl refused the side request");
        side_clear(c);
        return -1;
    }
    c->side_state = SIDE_RUNNING;
    /* Send it now, not when the next main request starts. */
    int running = 0;
    curl_multi_perform(c->multi, &running);
    return 0;
}

int http_client_side_pending(const struct http_client *c)
{
    return c && c->side_state != SIDE_NONE;
}

int http_client_side_finish(struct http_client *c, struct http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    if (!c || c->side_state == SIDE_NONE) {
        snprintf(resp->error, sizeof(resp->error), "no side request");
        return -1;
    }
    CURLcode rc = CURLE_OK;
    if (c->side_state == SIDE_RUNNING)
        rc = drive(c, WAIT_SIDE);
    if (rc == CURLE_OK)
        rc = c->side_rc;
    take_body(&c->side_t);
    *resp = c->side_resp; /* the body and headers move to the caller */
    memset(&c->side_resp, 0, sizeof c->side_resp);
    int result = conclude(c->side, rc, &c->side_t, c->side_cancel, c->side_errbuf, resp);
    side_clear(c);
    return result;
}
