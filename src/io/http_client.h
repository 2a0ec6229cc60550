/* http_client.h - outgoing HTTP over libcurl.
 *
 * One `struct http_client` per thread: its curl handles outlive the requests,
 * so connections to LINE and to the LLM are reused (keep-alive, TLS sessions).
 * This layer does no retries; callers decide what is safe to retry, helped
 * by http_response_retry_after_ms. URLs are parsed with curl_url() only. */
#ifndef LINEBOT_HTTP_CLIENT_H
#define LINEBOT_HTTP_CLIENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct http_client;

/* Call once at start-up (curl_global_init) and at exit. */
int http_global_init(void);
void http_global_cleanup(void);

/* The CA bundle for TLS. `configured` (SSL_CERT_FILE, may be NULL) wins;
 * otherwise the first bundle found at the known paths of Debian/Ubuntu,
 * Amazon Linux/RHEL, Alpine and others is used, because a binary built on one
 * distribution runs on another (Lambda runs Amazon Linux). Returns the path in
 * use, or NULL to leave libcurl's built-in default. Call before any request. */
const char *http_use_ca_bundle(const char *configured);

/* Requests whose URL starts with `origin` followed by "/" (e.g.
 * "http://line.invalid") go over the Unix domain socket at `socket_path`
 * instead of TCP; everything else is unchanged. `linebot chat` sends its LINE
 * calls to an in-process stand-in this way, so the real request code runs and
 * no port is opened. Both strings are copied; NULL `origin` turns it off.
 * Call before any client exists. */
void http_route_unix_socket(const char *origin, const char *socket_path);

struct http_client *http_client_new(void);
void http_client_free(struct http_client *c);

/* One part of a multipart/form-data body (http_request.form). */
struct http_form_part {
    const char *name;
    const void *data;
    size_t len;
    const char *filename;            /* NULL: a plain field */
    const char *type;                /* its Content-Type; NULL: none */
};

struct http_request {
    const char *method;              /* "GET" or "POST" */
    const char *url;
    const char *const *headers;      /* "Name: value" strings, NULL-terminated; may be NULL */
    const char *body;                /* may be NULL */
    size_t body_len;
    const struct http_form_part *form; /* POST multipart/form-data (curl_mime) instead of `body`; */
    size_t n_form;                   /*   main requests only, not side ones; the caller sets no Content-Type */
    long connect_timeout_ms;         /* 0 = 5000 */
    long timeout_ms;                 /* whole transfer; 0 = 30000 */
    const atomic_int *cancel;        /* when non-NULL and set, the transfer aborts */
    size_t max_response_bytes;       /* 0 = 4 MiB; a larger answer is a transport error */
    /* Someone else's URL (a LINE message's `external` content): */
    int https_only;                  /* 1: https only, also for the redirects followed */
    int follow_redirects;            /* 1: follow up to 3 redirects (never to another scheme than allowed) */
    int public_only;                 /* 1: connect only to public addresses (core/netaddr.h), on a
                                        connection of its own (none reused, none kept) */
    int allow_loopback;              /* with public_only: loopback too (test builds' fakes) */
};

struct http_response {
    long status;                     /* HTTP status, 0 when no response */
    char *body;                      /* NUL-terminated, may be NULL */
    size_t body_len;
    char *retry_after;               /* Retry-After header value, or NULL */
    char *retry_after_ms;            /* retry-after-ms header value, or NULL */
    int timed_out;                   /* 1 when the failure was a timeout */
    int cancelled;                   /* 1 when aborted through `cancel` */
    int too_large;                   /* 1 when the body passed max_response_bytes */
    int blocked;                     /* 1 when public_only refused an address */
    int scheme_refused;              /* 1 when a redirect led to a scheme not allowed (https_only) */
    char error[256];                 /* transport error text (no URL query, no headers) */
};

/* Performs the request. Returns 0 when a response arrived (any status), -1 on a
 * transport error (error[] says why). Always call http_response_free. */
int http_client_do(struct http_client *c, const struct http_request *req, struct http_response *resp);
void http_response_free(struct http_response *resp);

/* A side request runs alongside the client's next http_client_do calls, on
 * the same thread (it progresses whenever a request of the client is being
 * waited for): a call whose answer is not needed right away, such as LINE's
 * loading animation while the model is asked, costs no wait of its own. One
 * at a time. http_client_side_start sends it and returns at once (-1 with
 * `err` set when it could not be started); http_client_side_finish waits for
 * it to end and gives its response, as http_client_do would (call
 * http_response_free). The request's strings and body are copied. */
int http_client_side_start(struct http_client *c, const struct http_request *req, char *err, size_t errlen);
int http_client_side_pending(const struct http_client *c); /* 1 between start and finish */
int http_client_side_finish(struct http_client *c, struct http_response *resp);

/* The wait, in ms, that a Retry-After value asks for (RFC 9110 10.2.3):
 * delta-seconds, or an HTTP-date (read with curl_getdate) relative to
 * `now_ms` (Unix epoch ms). Capped at 60000; a date in the past gives 0.
 * -1 when `value` is NULL or neither form (signs, fractions, garbage). */
int64_t http_retry_after_ms(const char *value, int64_t now_ms);

/* The wait a response asks for: its retry-after-ms header (OpenAI's and
 * Azure's: milliseconds, a fraction allowed) when usable, else Retry-After.
 * Capped at 60000; -1 when neither header gives a usable value. */
int64_t http_response_retry_after_ms(const struct http_response *resp, int64_t now_ms);

/* A URL split the way libcurl sends it (parsed with curl_url(), as every
 * transfer here is): `host` is the Host header's value (host, plus ":port"
 * when the URL names a port other than the scheme's default; IPv6 in
 * brackets), `path` is "" for "/" or none. A signer that signs this host
 * signs what is sent. Returns 0, or -1 with the reason in `err` (never the
 * URL) for anything but an http(s) URL with a host. */
struct http_url {
    char scheme[8];
    char host[256];
    char path[2048];
};
int http_url_split(const char *url, struct http_url *out, char *err, size_t errlen);

/* A header of the last response on this client (name case-insensitive), or
 * NULL. Valid until the next request on the same client. */
const char *http_client_header(struct http_client *c, const char *name);

#endif
