/* test_disk.c - storage faults under the real binary (issue 16, part 2).
 *
 * - A full disk: the database lives on a small tmpfs of its own, which a
 *   filler file fills up while the model is still answering, so the answer
 *   record fails. /healthz must say 503 while the store cannot be written.
 *   Once the filler is gone, /healthz says 200 again, and the event, which
 *   the worker had to give up on while still holding its claim, is taken up
 *   again when that claim's lease (STORE_LEASE_MS) runs out, and answered
 *   exactly once. Mounting needs root (or CAP_SYS_ADMIN): without it the test
 *   reports itself skipped, never passed.
 * - The database file deleted while the bot runs: within 5 s webhooks get
 *   503 (never a 200 for an event stored in a file that is gone), /healthz
 *   503, and the log says what happened.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "io/store.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define USER_B "Ue2e0000000000000000000000000000b"

/* ---- a small file system of the test's own ---- */

struct disk {
    char dir[64];    /* the mount point */
    char filler[96]; /* the file that fills it */
    bool mounted;
};

/* The world's stop hook (after the bot is stopped): unmount and remove. */
static void disk_stop(void *arg)
{
    struct disk *d = arg;
    if (d->mounted && umount2(d->dir, MNT_DETACH) != 0)
        fprintf(stderr, "==== could not unmount %s: %s\n", d->dir, strerror(errno));
    rmdir(d->dir);
    free(d);
}

/* A tmpfs of `size` (mount(8)'s syntax) that the world unmounts when it ends;
 * skips the test when this process may not mount. */
static struct disk *disk_mount(struct world *w, const char *size)
{
    struct disk *d = calloc(1, sizeof *d);
    assert_non_null(d);
    snprintf(d->dir, sizeof d->dir, "/tmp/linebot-e2e-disk-XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    snprintf(d->filler, sizeof d->filler, "%s/filler", d->dir);
    world_add_fake(w, NULL, disk_stop, d);
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s,mode=0700", size);
    if (mount("tmpfs", d->dir, "tmpfs", 0, opts) != 0) {
        fprintf(stderr, "==== cannot mount a tmpfs (%s): the full-disk test needs root or CAP_SYS_ADMIN\n",
                strerror(errno));
        skip();
    }
    d->mounted = true;
    return d;
}

/* Writes the filler until the file system has no space left. */
static void disk_fill(struct disk *d)
{
    int fd = open(d->filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    static char block[64 * 1024];
    memset(block, 'x', sizeof block);
    size_t chunk = sizeof block;
    for (;;) {
        ssize_t n = write(fd, block, chunk);
        if (n < 0 && errno == ENOSPC) {
            if (chunk == 1)
                break;
            chunk /= 2; /* down to the last byte that fits */
            continue;
        }
        assert_true(n > 0);
    }
    close(fd);
}

static void disk_free(struct disk *d)
{
    assert_int_equal(unlink(d->filler), 0);
}

/* ---- helpers ---- */

/* Polls GET /healthz until it answers `status`; returns whether it did. */
static bool healthz_becomes(struct world *w, long status, int timeout_ms)
{
    int64_t until = e2e_mono_ms() + e2e_ms(timeout_ms);
    do {
        if (bot_get(w, "/healthz", NULL) == status)
            return true;
        e2e_sleep_ms(100);
    } while (e2e_mono_ms() < until);
    return false;
}

/* Waits until the bot's log holds `needle`. */
static bool log_shows(struct world *w, const char *needle, int timeout_ms)
{
    int64_t until = e2e_mono_ms() + e2e_ms(timeout_ms);
    do {
        char *log = bot_log(w);
        bool found = strstr(log, needle) != NULL;
        free(log);
        if (found)
            return true;
        e2e_sleep_ms(100);
    } while (e2e_mono_ms() < until);
    return false;
}

/* ---- full disk ---- */

static void test_full_disk_job_answered_once_space_returns(void **state)
{
    struct world *w = world_new(state, NULL);
    struct disk *d = disk_mount(w, "4m");
    char *db = e2e_printf("LINEBOT_DB=%s/linebot.db", d->dir);
    bot_start(w, (const char *[]){db, NULL});
    free(db);

    /* The model takes its time; the disk fills up meanwhile. */
    fake_llm_push_answer(w->llm, "written to a full disk", 2000);
    send_text(w, USER_A, "hello");
    assert_true(fake_llm_wait_requests(w->llm, 1, e2e_ms(E2E_WAIT_MS)));
    disk_fill(d);

    /* The answer cannot be recorded, so it is not sent; the worker gives up
     * on the job after its retries, still holding the claim. */
    if (!log_shows(w, "could not record the answer before sending", E2E_WAIT_MS))
        fail_msg("the answer record did not fail on the full disk");
    if (!healthz_becomes(w, 503, 5000))
        fail_msg("/healthz did not answer 503 while the store could not be written");
    assert_int_equal(fake_line_delivery_count(w->line, USER_A), 0);

    disk_free(d);
    if (!healthz_becomes(w, 200, 5000))
        fail_msg("/healthz did not answer 200 again once the disk had space");

    /* Taken up again once the claim's lease runs out, and answered once. */
    int64_t until = e2e_mono_ms() + e2e_ms(STORE_LEASE_MS + E2E_WAIT_MS);
    while (fake_line_delivery_count(w->line, USER_A) == 0 && e2e_mono_ms() < until)
        e2e_sleep_ms(200);
    size_t n = world_answers_grace(w, USER_A, 1, 2000);
    if (n != 1) {
        char *t = world_texts(w, USER_A);
        fail_msg("after the disk had space again: want exactly 1 answer, got %zu:\n%s", n, t);
    }
    char *texts = world_texts(w, USER_A);
    assert_string_equal(texts, "echo: hello");
    free(texts);
    assert_int_equal(fake_llm_request_count(w->llm), 2);
    world_finish(w);
}

/* ---- deleted database file ---- */

static void test_database_deleted_while_running(void **state)
{
    struct world *w = world_start(state, NULL);
    send_text(w, USER_A, "before");
    assert_answers(w, USER_A, 1);

    assert_int_equal(unlink(w->db_path), 0);
    int64_t deleted_at = e2e_mono_ms();
    long status = 0;
    int64_t refused_after = -1;
    for (int i = 0; e2e_mono_ms() - deleted_at < e2e_ms(8000); i++) {
        char text[32];
        snprintf(text, sizeof text, "after %d", i);
        json_t *ev = ev_message(w, &(struct ev){.user = USER_B, .text = text});
        status = bot_send(w, ev, NULL);
        if (status == 503) {
            refused_after = e2e_mono_ms() - deleted_at;
            break;
        }
        assert_int_equal(status, 200);
        e2e_sleep_ms(200);
    }
    if (refused_after < 0)
        fail_msg("webhooks were still acknowledged 8 s after the database file was deleted");
    if (refused_after > e2e_ms(5000))
        fail_msg("the first 503 came %lld ms after the deletion, want within 5 s", (long long)refused_after);
    /* And from then on, every time. */
    json_t *ev = ev_message(w, &(struct ev){.user = USER_B, .text = "still gone"});
    assert_int_equal(bot_send(w, ev, NULL), 503);
    assert_int_equal(bot_get(w, "/healthz", NULL), 503);
    if (!log_shows(w, "was deleted or moved while the bot was running; restart it", 2000))
        fail_msg("no log line says the database file was deleted");
    char *log = bot_log(w);
    assert_contains(log, "\"level\":\"error\"");
    assert_contains(log, w->db_path);
    free(log);
    world_finish(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_full_disk_job_answered_once_space_returns),
        E2E_TEST(test_database_deleted_while_running),
    };
    return E2E_RUN(tests);
}
