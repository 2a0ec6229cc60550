/* conn_guard.h - the front door's connection limits that libmicrohttpd lacks.
 *
 * libmicrohttpd has a total connection limit that refuses newcomers, a
 * per-address limit, and an idle timeout that every byte resets. That lets
 * anyone who reaches the port hold every slot: with connections that never
 * send a byte, or that send one header line every few seconds. The guard adds
 * what is missing, through libmicrohttpd's own callbacks (no event loop of
 * its own):
 *
 *   - a deadline for a request's head, counted from the connection's start
 *     (for a kept-alive connection's next request: from its request line,
 *     which must itself arrive within CONN_GUARD_IDLE_S of the last answer);
 *   - a deadline for the whole request (head and body), counted the same way;
 *     the handler's own time and the sending of the answer are not counted;
 *   - a total limit that keeps room for new clients: when a new connection
 *     would pass it, the oldest idle connection (no request in progress) is
 *     closed, else the oldest one still sending its head, else the newcomer.
 *
 * A connection past a deadline is closed with shutdown(2) on its socket from
 * a small sweeping thread; libmicrohttpd then sees the end of the stream and
 * cleans it up in its own thread. The socket stays valid while the guard
 * holds its lock: libmicrohttpd tells the guard a connection is closed before
 * it closes the socket.
 *
 * Thread rules: every function may be called from any libmicrohttpd thread. */
#ifndef LINEBOT_CONN_GUARD_H
#define LINEBOT_CONN_GUARD_H

#include <microhttpd.h>

/* How long a kept-alive connection may wait for its next request line: a
 * deadline, not libmicrohttpd's idle timeout (same length), which a client
 * trickling the request line one byte at a time would keep resetting. */
#define CONN_GUARD_IDLE_S 30

struct conn_guard;

struct conn_guard_limits {
    int header_timeout_s;  /* the request head must be in within this */
    int request_timeout_s; /* the whole request (head and body) within this */
    int max_connections;   /* open connections, counting none being closed */
};

/* Starts the sweeping thread. Never NULL (allocation failure aborts). */
struct conn_guard *conn_guard_new(const struct conn_guard_limits *limits);

/* Stops the thread and frees. Call after the daemon is stopped. NULL is fine. */
void conn_guard_free(struct conn_guard *g);

/* For MHD_OPTION_NOTIFY_CONNECTION (cls: the guard). */
void conn_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode code);

/* For MHD_OPTION_URI_LOG_CALLBACK (cls: the guard): a request line is in.
 * Returns NULL (the request's con_cls stays NULL). */
void *conn_guard_uri_seen(void *cls, const char *uri, struct MHD_Connection *conn);

/* The request's head is complete (the access handler's first call). */
void conn_guard_head_done(struct MHD_Connection *conn);

/* The request is complete and its handler runs: no deadline applies any more. */
void conn_guard_body_done(struct MHD_Connection *conn);

/* The request was answered (or dropped): the connection waits for the next. */
void conn_guard_request_done(struct MHD_Connection *conn);

#endif
