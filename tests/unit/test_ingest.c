/* test_ingest.c - the webhook's answer: 401 before anything is parsed, 400
 * for what is not a webhook, 200 only after the events are committed, and
 * 503 (so that LINE redelivers) when the store cannot be written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include "config.h"
#include "io/store.h"
#include "obs/metrics.h"
#include "run/ingest.h"

#define SECRET "ingest-test-secret"

struct fixture {
    char dir[64];
    char db[128];
    struct config cfg;
    struct store *store;
    struct ingest ingest;
};

static void sign(const char *body, char out[64])
{
    unsigned char mac[32];
    unsigned int n = sizeof mac;
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)body, strlen(body), mac, &n);
    EVP_EncodeBlock((unsigned char *)out, mac, (int)n);
}

/* A one-event webhook stamped `timestamp_ms`, with event id `id`. */
static void webhook_at(char *out, size_t len, const char *id, long long timestamp_ms)
{
    snprintf(out, len,
             "{\"destination\":\"U0\",\"events\":[{\"type\":\"message\",\"mode\":\"active\",\"timestamp\":%lld,"
             "\"source\":{\"type\":\"user\",\"userId\":\"U1\"},\"replyToken\":\"rt\",\"webhookEventId\":\"%s\","
             "\"deliveryContext\":{\"isRedelivery\":false},\"message\":{\"type\":\"text\",\"id\":\"m1\","
             "\"text\":\"hi\"}}]}",
             timestamp_ms, id);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* EV-INGEST-1 stamped now (built once per run: events more than a day old are dropped). */
static char text_webhook[512];

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/linebot-ingest-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/linebot.db", f->dir);
    char *env[] = {"LINE_CHANNEL_SECRET=" SECRET, "LINE_CHANNEL_ACCESS_TOKEN=t", "LLM_API_KEY=k", NULL};
    char err[256];
    assert_int_equal(config_load(&f->cfg, env, err, sizeof err), 0);
    f->store = store_open(f->db, err, sizeof err);
    assert_non_null(f->store);
    assert_int_equal(ingest_init(&f->ingest, &f->cfg, f->store), 0);
    webhook_at(text_webhook, sizeof text_webhook, "EV-INGEST-1", now_ms());
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    ingest_destroy(&f->ingest);
    store_close(f->store);
    config_free(&f->cfg);
    char path[192];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", f->db, suffix[i]);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}


static int64_t depth(struct fixture *f)
{
    int64_t d = -1;
    assert_int_equal(store_inbox_depth(f->store, &d), 0);
    return d;
}

static void test_statuses(void **state)
{
    struct fixture *f = *state;
    char sig[64], reason[128];
    sign(text_webhook, sig);
    size_t len = strlen(text_webhook);

    assert_int_equal(ingest_webhook(&f->ingest, text_webhook, len, NULL, reason, sizeof reason), 401);
    assert_int_equal(ingest_webhook(&f->ingest, text_webhook, len, "AAAA", reason, sizeof reason), 401);
    assert_int_equal(depth(f), 0); /* nothing processed */

    const char *bad = "{\"events\":";
    char bad_sig[64];
    sign(bad, bad_sig);
    assert_int_equal(ingest_webhook(&f->ingest, bad, strlen(bad), bad_sig, reason, sizeof reason), 400);
    const char *no_events = "{\"destination\":\"U0\"}";
    sign(no_events, bad_sig);
    assert_int_equal(ingest_webhook(&f->ingest, no_events, strlen(no_events), bad_sig, reason, sizeof reason), 400);
    const char *verify = "{\"destination\":\"U0\",\"events\":[]}";
    sign(verify, bad_sig);
    assert_int_equal(ingest_webhook(&f->ingest, verify, strlen(verify), bad_sig, reason, sizeof reason), 200);

    assert_int_equal(ingest_webhook(&f->ingest, text_webhook, len, sig, reason, sizeof reason), 200);
    assert_int_equal(depth(f), 1);
    /* A redelivery is acknowledged and not stored twice. */
    struct ingest_added added;
    assert_int_equal(ingest_webhook_added(&f->ingest, text_webhook, len, sig, reason, sizeof reason, &added), 200);
    assert_int_equal(added.n, 0);
    ingest_added_free(&added);
    assert_int_equal(depth(f), 1);
}

static void test_store_unwritable_answers_503(void **state)
{
    struct fixture *f = *state;
    char sig[64], reason[128];
    sign(text_webhook, sig);

    /* Another connection holds the write lock past the store's busy timeout. */
    sqlite3 *other;
    assert_int_equal(sqlite3_open(f->db, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    int status = ingest_webhook(&f->ingest, text_webhook, strlen(text_webhook), sig, reason, sizeof reason);
    assert_int_equal(status, 503);
    assert_string_equal(reason, "store unavailable");
    assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    assert_int_equal(depth(f), 0);

    /* LINE's redelivery then goes through: nothing was lost or half-written. */
    assert_int_equal(ingest_webhook(&f->ingest, text_webhook, strlen(text_webhook), sig, reason, sizeof reason), 200);
    assert_int_equal(depth(f), 1);
}

static void test_forget_undoes_only_what_was_added(void **state)
{
    struct fixture *f = *state;
    char sig[64], reason[128];
    sign(text_webhook, sig);
    struct ingest_added added;
    assert_int_equal(ingest_webhook_added(&f->ingest, text_webhook, strlen(text_webhook), sig, reason, sizeof reason,
                                          &added), 200);
    assert_int_equal(added.n, 1);
    assert_string_equal(added.items[0].event_id, "EV-INGEST-1");
    assert_int_equal(ingest_forget(&f->ingest, &added), 0);
    ingest_added_free(&added);
    assert_int_equal(depth(f), 0);
    /* The redelivery is new again, not a "duplicate". */
    assert_int_equal(ingest_webhook_added(&f->ingest, text_webhook, strlen(text_webhook), sig, reason, sizeof reason,
                                          &added), 200);
    assert_int_equal(added.n, 1);
    ingest_added_free(&added);
}

/* The sender's timestamp within bounds: one stamped too far ahead is stored
 * with its arrival time (the store orders by it); one older than
 * LINEBOT_MAX_EVENT_AGE_S is acknowledged and not stored. */
static void test_timestamps_bounded(void **state)
{
    struct fixture *f = *state;
    char body[512], sig[64], reason[128];
    struct ingest_added added;
    const long long day = 86400000;

    long long before = now_ms();
    webhook_at(body, sizeof body, "EV-AHEAD", 9223372036854775807LL);
    sign(body, sig);
    assert_int_equal(ingest_webhook_added(&f->ingest, body, strlen(body), sig, reason, sizeof reason, &added), 200);
    assert_int_equal(added.n, 1);
    assert_true(added.items[0].timestamp_ms >= before && added.items[0].timestamp_ms <= now_ms());
    ingest_added_free(&added);

    long long sent = now_ms() - 3000;
    webhook_at(body, sizeof body, "EV-RECENT", sent);
    sign(body, sig);
    assert_int_equal(ingest_webhook_added(&f->ingest, body, strlen(body), sig, reason, sizeof reason, &added), 200);
    assert_int_equal(added.n, 1);
    assert_true(added.items[0].timestamp_ms == sent);
    ingest_added_free(&added);

    const long long old[] = {now_ms() - day - 60000, 1, 0, -1, (-9223372036854775807LL - 1)};
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) {
        webhook_at(body, sizeof body, "EV-OLD", old[i]);
        sign(body, sig);
        assert_int_equal(ingest_webhook_added(&f->ingest, body, strlen(body), sig, reason, sizeof reason, &added),
                         200);
        assert_int_equal(added.n, 0);
        ingest_added_free(&added);
    }
    assert_int_equal(depth(f), 2);
}

/* ---- group commit ---- */

struct poster {
    struct ingest *in;
    char body[512];
    int status;
    pthread_t thread;
};

static void *post(void *arg)
{
    struct poster *p = arg;
    char sig[64], reason[64];
    sign(p->body, sig);
    p->status = ingest_webhook(p->in, p->body, strlen(p->body), sig, reason, sizeof reason);
    return NULL;
}

/* Webhooks queued up while the store is busy go in together: the first one
 * commits alone (it found no commit in progress), the six that arrived
 * meanwhile in ONE more transaction; each is answered 200, and an event id
 * twice in the group is stored once. The store is made busy by holding the
 * ingest's store lock, as a long commit would. */
static void test_group_commit(void **state)
{
    struct fixture *f = *state;
    struct metrics_totals before, after;
    struct poster p[7];
    static const char *const ids[7] = {"EV-G-0", "EV-G-1", "EV-G-2", "EV-G-3", "EV-G-4", "EV-G-5", "EV-G-1"};

    metrics_get_totals(&before);
    pthread_mutex_lock(&f->ingest.lock);
    for (int i = 0; i < 7; i++) {
        p[i].in = &f->ingest;
        webhook_at(p[i].body, sizeof p[i].body, ids[i], now_ms());
        assert_int_equal(pthread_create(&p[i].thread, NULL, post, &p[i]), 0);
        usleep(i == 0 ? 200000 : 20000); /* the first is committing (blocked) before the others come */
    }
    usleep(200000); /* all six are queued behind it */
    pthread_mutex_unlock(&f->ingest.lock);
    for (int i = 0; i < 7; i++) {
        pthread_join(p[i].thread, NULL);
        assert_int_equal(p[i].status, 200);
    }
    metrics_get_totals(&after);
    assert_int_equal(after.inbox_commits - before.inbox_commits, 2);
    int64_t depth = 0;
    assert_int_equal(store_inbox_depth(f->store, &depth), 0);
    assert_int_equal(depth, 6); /* EV-G-1 once */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_unwritable_answers_503, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget_undoes_only_what_was_added, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamps_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
