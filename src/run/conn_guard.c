/* conn_guard.c - deadlines and a total limit that makes room, for
 * libmicrohttpd's connections (see conn_guard.h).
 *
 * Every open connection has an entry in one list, oldest first, under one
 * lock. libmicrohttpd's callbacks move an entry through its phases; the
 * sweeping thread closes the ones past their deadline four times a second,
 * so a deadline is kept to within a quarter of a second. */
#include "run/conn_guard.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "core/alloc.h"
#include "io/clock.h"
#include "io/sock.h"
#include "obs/log.h"

#define SWEEP_INTERVAL_MS 250

enum conn_phase {
    PHASE_WAITING,  /* no request yet, or between requests: idle */
    PHASE_HEAD,     /* a request line is in, the head is not complete */
    PHASE_BODY,     /* the head is in, the body is arriving */
    PHASE_HANDLING, /* the handler runs or the answer is being sent */
};

struct conn_entry {
    struct conn_guard *guard;
    struct conn_entry *prev, *next;
    int fd;
    enum conn_phase phase;
    bool first_request;    /* no request yet: the head deadline counts from the connection's start */
    bool closing;          /* shut down by the guard, libmicrohttpd has yet to notice */
    int64_t request_start_ms; /* when the current deadlines started (a request's, or the idle wait's) */
};

struct conn_guard {
    struct conn_guard_limits limits;
    pthread_mutex_t lock;
    struct conn_entry *head, *tail; /* oldest first */
    int open;                       /* entries not `closing` */
    pthread_t sweeper;
    pthread_cond_t wake;
    bool stopping;
};

/* Under the lock: the socket is still open (libmicrohttpd closes it only
 * after its CLOSED notification, which needs the lock). */
static void close_entry(struct conn_guard *g, struct conn_entry *e, const char *why)
{
    if (e->closing)
        return;
    e->closing = true;
    g->open--;
    log_debug("connection closed by the front door: %s", why);
    shutdown(e->fd, SHUT_RDWR);
}

/* Under the lock: the oldest entry other than `except` in `phase`. */
static struct conn_entry *oldest_in(struct conn_guard *g, enum conn_phase phase, const struct conn_entry *except)
{
    for (struct conn_entry *e = g->head; e; e = e->next)
        if (e != except && !e->closing && e->phase == phase)
            return e;
    return NULL;
}

/* Under the lock, when `newcomer` took the total past the limit. */
static void make_room(struct conn_guard *g, struct conn_entry *newcomer)
{
    struct conn_entry *victim = oldest_in(g, PHASE_WAITING, newcomer);
    if (!victim)
        victim = oldest_in(g, PHASE_HEAD, newcomer);
    if (victim) {
        close_entry(g, victim, "the oldest idle connection makes room (LINEBOT_MAX_CONNECTIONS)");
    } else {
        /* Every other connection has a request in progress: those are
         * bounded by the deadlines; the newcomer waits for nobody. */
        close_entry(g, newcomer, "every connection is busy (LINEBOT_MAX_CONNECTIONS)");
    }
}

void conn_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode code)
{
    struct conn_guard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!info)
            return;
        struct conn_entry *e = xcalloc(1, sizeof *e);
        e->guard = g;
        e->fd = info->connect_fd;
        e->phase = PHASE_WAITING;
        e->first_request = true;
        e->request_start_ms = clock_monotonic_ms();
        pthread_mutex_lock(&g->lock);
        e->prev = g->tail;
        if (g->tail)
            g->tail->next = e;
        else
            g->head = e;
        g->tail = e;
        g->open++;
        if (g->open > g->limits.max_connections)
            make_room(g, e);
        pthread_mutex_unlock(&g->lock);
        *socket_context = e;
        return;
    }
    /* MHD_CONNECTION_NOTIFY_CLOSED: before libmicrohttpd closes the socket. */
    struct conn_entry *e = *socket_context;
    if (!e)
        return;
    pthread_mutex_lock(&g->lock);
    if (e->prev)
        e->prev->next = e->next;
    else
        g->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        g->tail = e->prev;
    if (!e->closing)
        g->open--;
    pthread_mutex_unlock(&g->lock);
    free(e);
    *socket_context = NULL;
}

static struct conn_entry *entry_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static void set_phase(struct conn_entry *e, enum conn_phase phase)
{
    pthread_mutex_lock(&e->guard->lock);
    if (phase == PHASE_HEAD && !e->first_request)
        e->request_start_ms = clock_monotonic_ms();
    e->phase = phase;
    pthread_mutex_unlock(&e->guard->lock);
}

void *conn_guard_uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)uri;
    struct conn_entry *e = entry_of(conn);
    if (e)
        set_phase(e, PHASE_HEAD);
    return NULL;
}

void conn_guard_head_done(struct MHD_Connection *conn)
{
    struct conn_entry *e = entry_of(conn);
    if (e)
        set_phase(e, PHASE_BODY);
}

void conn_guard_body_done(struct MHD_Connection *conn)
{
    struct conn_entry *e = entry_of(conn);
    if (e)
        set_phase(e, PHASE_HANDLING);
}

void conn_guard_request_done(struct MHD_Connection *conn)
{
    struct conn_entry *e = entry_of(conn);
    if (!e)
        return;
    pthread_mutex_lock(&e->guard->lock);
    e->first_request = false;
    e->phase = PHASE_WAITING;
    e->request_start_ms = clock_monotonic_ms(); /* the idle deadline's start */
    pthread_mutex_unlock(&e->guard->lock);
}

/* Under the lock: closes whatever is past its deadline. A connection waiting
 * for its first request counts as sending its head: the head deadline is
 * what bounds a client that connects and never sends a byte. Between kept-
 * alive requests, the wait for the next request line is bounded by
 * CONN_GUARD_IDLE_S. */
static void sweep(struct conn_guard *g, int64_t now)
{
    int64_t head_ms = (int64_t)g->limits.header_timeout_s * 1000;
    int64_t request_ms = (int64_t)g->limits.request_timeout_s * 1000;
    for (struct conn_entry *e = g->head; e; e = e->next) {
        if (e->closing)
            continue;
        int64_t age = now - e->request_start_ms;
        bool head_pending = e->phase == PHASE_HEAD || (e->phase == PHASE_WAITING && e->first_request);
        const char *why = NULL;
        if (e->phase == PHASE_WAITING && !e->first_request && age >= (int64_t)CONN_GUARD_IDLE_S * 1000)
            why = "kept-alive connection idle for 30 s";
        else if (head_pending && age >= head_ms)
            why = "request head not complete within LINEBOT_HEADER_TIMEOUT_S";
        else if ((head_pending || e->phase == PHASE_BODY) && age >= request_ms)
            why = "request not complete within LINEBOT_REQUEST_TIMEOUT_S";
        /* An idle connection whose next request has just arrived, unread
         * yet: closing it now would lose that request (its client sees the
         * connection drop). Its deadlines start again once it is read. */
        if (why && e->phase == PHASE_WAITING && sock_has_unread(e->fd))
            why = NULL;
        if (why)
            close_entry(g, e, why);
    }
}

static void *sweeper_main(void *arg)
{
    struct conn_guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += SWEEP_INTERVAL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->wake, &g->lock, &until);
        if (!g->stopping)
            sweep(g, clock_monotonic_ms());
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

struct conn_guard *conn_guard_new(const struct conn_guard_limits *limits)
{
    struct conn_guard *g = xcalloc(1, sizeof *g);
    g->limits = *limits;
    pthread_mutex_init(&g->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&g->sweeper, NULL, sweeper_main, g) != 0) {
        log_error("cannot start the connection sweeper: no deadlines for requests");
        g->stopping = true; /* conn_guard_free then has no thread to join */
    }
    return g;
}

void conn_guard_free(struct conn_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    bool joinable = !g->stopping;
    g->stopping = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    if (joinable)
        pthread_join(g->sweeper, NULL);
    /* The daemon is stopped: every connection was notified closed. */
    while (g->head) {
        struct conn_entry *e = g->head;
        g->head = e->next;
        free(e);
    }
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
}
