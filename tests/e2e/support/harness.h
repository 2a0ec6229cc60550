/* harness.h - run the real linebot binary against the fakes.
 *
 * A "world" is one test's universe: a fake LINE, a fake LLM, a fresh temp
 * directory (database and log), and the bot as a child process
 * (`LINEBOT_BIN serve`) with a clean environment: a base set pointing it at the
 * fakes, plus the test's overrides ("KEY=VALUE" sets, "KEY" alone removes).
 * The bot is exercised only from outside, over HTTP on 127.0.0.1.
 *
 * Use with cmocka: world_start(state, ...) stores the world in *state and
 * cmocka_unit_test_teardown(test, world_teardown) cleans up. A test that ends
 * with world_finish() stops the bot (SIGTERM, exit code must be 0) and removes
 * the temp dir; a test that fails before that gets the bot's log and the
 * fakes' records printed by the teardown, and the bot killed (its dir is
 * kept). E2E_KEEP=1 keeps every dir; E2E_FILTER=<glob> picks tests;
 * E2E_TIMEOUT_SCALE=<n> stretches every timeout (sanitizer builds);
 * E2E_LINEBOT_BIN=<path> runs another binary than the one CMake built.
 *
 * Webhook builders make events the way LINE does and register their reply
 * and quote tokens on the fake at the same time. Built events belong to the
 * world (freed by world_finish/teardown); tests never free them. */
#ifndef E2E_HARNESS_H
#define E2E_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <string.h>
#include <sys/types.h>

#include "e2e_util.h"
#include "fake_line.h"
#include "fake_llm.h"

#define E2E_CHANNEL_SECRET "e2e5ec7e70123456789abcdef0a1b2c3" /* 32 hex: serve refuses others */
#define E2E_ACCESS_TOKEN "e2e-access-token-ABCDEFGHIJ"
#define E2E_LLM_KEY "test-key"
#define E2E_MODEL "test-model"
#define E2E_DESTINATION "Ue2ebot00000000000000000000000000"

struct world {
    struct fake_line *line;
    struct fake_llm *llm;
    char dir[256];      /* fresh temp dir */
    char db_path[320];  /* <dir>/linebot.db, kept across restarts */
    char log_path[320]; /* <dir>/bot.log, every start appends */
    char **overrides;   /* the test's environment overrides, applied at every start */
    size_t n_overrides;
    pid_t pid;          /* running bot, 0 when none */
    int port;
    char base_url[64];
    int starts;
    unsigned long seq;  /* for unique ids */
    json_t *events;     /* every built event (owned here) */
    void **state;
    /* Set before bot_start/bot_spawn: another variable that also gets the
     * bot's port (e.g. "FC_CUSTOM_LISTEN_PORT", where FC mode listens). */
    const char *port_var;
    struct world_fake *fakes; /* extra fakes, see world_add_fake() */
    size_t n_fakes;
};

/* An extra fake the world owns (fake_lambda, fake_fc...): `stop` is called when
 * the world ends (after the bot is stopped, before LINE and the LLM), `dump`
 * (may be NULL) by the teardown of a test that failed. */
struct world_fake {
    void (*dump)(void *arg);
    void (*stop)(void *arg);
    void *arg;
};
void world_add_fake(struct world *w, void (*dump)(void *), void (*stop)(void *), void *arg);

/* Fakes and a fresh dir, no bot yet. */
struct world *world_new(void **state, const char *const *overrides);
/* world_new() and bot_start(w, NULL). */
struct world *world_start(void **state, const char *const *overrides);
/* Stops the bot (exit code must be 0), checks its log for sanitizer reports,
 * stops the fakes, removes the temp dir. */
void world_finish(struct world *w);
/* cmocka teardown: when the test did not reach world_finish, prints the bot's
 * log and the fakes' records, kills the bot and stops the fakes. */
int world_teardown(void **state);
#define E2E_TEST(f) cmocka_unit_test_teardown(f, world_teardown)
/* Runs a group; E2E_FILTER=<glob> in the environment runs only matching tests. */
#define E2E_RUN(tests) (e2e_apply_filter(), cmocka_run_group_tests(tests, NULL, NULL))
void e2e_apply_filter(void);

/* A loopback port for a program the test starts (the bot, Caddy): free now,
 * and below the kernel's ephemeral range, so no fake (they bind port 0) can
 * take it before the program binds it. */
int e2e_free_port(void);

/* Starts the bot with the world's overrides plus `extra` (may be NULL) and
 * waits until it listens on its port and GET /healthz answers 200 there.
 * Fails the test when it does not. */
void bot_start(struct world *w, const char *const *extra);
/* Starts the bot without waiting for it to be healthy (for start-up failures). */
void bot_spawn(struct world *w, const char *const *extra);
/* Starts the bot with `extra` and asserts that it refuses to start: it
 * exits non-zero within 10 s, and what it logged this time (not earlier
 * starts of the world) contains every string of `needles` (NULL-terminated). */
void bot_assert_start_refused(struct world *w, const char *const *extra, const char *const *needles);
/* The same, started the way AWS Lambda starts a custom runtime: as `bootstrap`
 * (argv[0]) without any argument. Not waited for either (no /healthz there). */
void bot_spawn_bootstrap(struct world *w, const char *const *extra);
/* Runs the binary once with `args` (NULL-terminated, after the program name:
 * {"webhook", "get", NULL}) in the world's environment plus `extra`, stdin
 * from /dev/null, and waits for it to exit (at most 30 s, then it is killed
 * and the test fails). Returns its exit status; `out` and `err` (may be NULL)
 * get what it wrote to stdout and stderr (malloc'd). Both are appended to the
 * bot's log too, for a failing test's dump. */
int bot_run(struct world *w, const char *const *args, const char *const *extra, char **out, char **err);
/* SIGTERM and wait; asserts exit code 0. */
void bot_stop(struct world *w);
/* SIGTERM and wait; returns the wait status (no assertion). */
int bot_term(struct world *w, int timeout_ms);
/* Stops a running bot (exit code must be 0) and starts it again on the same
 * database, with the world's overrides plus `extra`. */
void bot_restart(struct world *w, const char *const *extra);
/* SIGKILL and reap. */
void bot_kill9(struct world *w);
/* Waits for the bot to exit on its own; returns its wait status, or -1 when it
 * is still running after `timeout_ms`. */
int bot_wait_exit(struct world *w, int timeout_ms);
bool bot_running(struct world *w);
/* Prints the last `max_lines` lines of the bot's log to stderr. */
void bot_print_log(struct world *w, int max_lines);
/* Everything in the bot's log so far (stdout and stderr of every start, plus
 * the harness's "==== e2e:" lines); malloc'd, "" when there is none. */
char *bot_log(struct world *w);

/* ---- HTTP to the bot (libcurl) ---- */

/* base64(HMAC-SHA256(secret, body)) (malloc'd). */
char *line_signature(const char *secret, const void *body, size_t len);
/* Any request to any URL, with everything the answer had. */
struct http_result {
    long status;      /* 0 on a transport error */
    char *body;       /* malloc'd */
    char *headers;    /* raw response header lines, malloc'd */
    int64_t elapsed_ms;
};
void http_do(const char *method, const char *url, const void *body, size_t len,
             const char *const *headers, struct http_result *out);
void http_result_free(struct http_result *r);
/* Any request to any URL; `headers` NULL-terminated "Name: value" (may be NULL).
 * Returns the status (0 on a transport error); `resp_body`/`elapsed_ms` may be NULL. */
long http_request(const char *method, const char *url, const void *body, size_t len,
                  const char *const *headers, char **resp_body, int64_t *elapsed_ms);
/* POST /callback with a correct X-Line-Signature; returns the status. */
long bot_post_webhook(struct world *w, const char *json);
long bot_post_webhook_timed(struct world *w, const char *json, int64_t *elapsed_ms);
/* POST `path` with exactly `headers` (plus Content-Type: application/json). */
long bot_post_raw(struct world *w, const char *path, const void *body, size_t len,
                  const char *const *headers, char **resp_body);
long bot_request(struct world *w, const char *method, const char *path, char **resp_body);
long bot_get(struct world *w, const char *path, char **resp_body);
/* Value of a series in GET /metrics, e.g. "linebot_events_total{type=\"message\"}";
 * -1 when absent. */
double bot_metric(struct world *w, const char *series);
/* The same, from an already fetched text. */
double metrics_value(const char *text, const char *series);

/* ---- webhook builders ---- */

struct mention_spec {
    size_t index;        /* UTF-16 units */
    size_t length;       /* UTF-16 units */
    bool is_self;
    bool all;            /* type "all" (@All) */
    const char *user_id; /* default: a made-up user */
};

/* The mention of the first `needle` in `text`, with UTF-16 index and length. */
struct mention_spec mention_of(const char *text, const char *needle, bool is_self);

struct ev {
    const char *user;          /* source.userId; default E2E_USER */
    const char *group;         /* source.type "group" with this groupId */
    const char *room;          /* source.type "room" with this roomId */
    bool no_user_id;           /* group/room source without userId (LINE omits it at times) */
    const char *text;          /* message.text (text messages, messageEdited) */
    const char *message_type;  /* default "text"; "image", "sticker", ... */
    const char *message_id;    /* default unique; for unsend: the unsent message */
    const char *event_id;      /* webhookEventId; default unique */
    const char *reply_token;   /* default unique */
    bool no_reply_token;       /* leave replyToken out */
    bool token_not_issued;     /* put a token in but never issue it on the fake */
    int token_ttl_ms;          /* default 120000 */
    int64_t timestamp_ms;      /* default now */
    const char *quoted_message_id;
    bool standby;              /* mode "standby" (then LINE sends no replyToken) */
    bool redelivery;           /* deliveryContext.isRedelivery */
    struct mention_spec mentions[4];
    size_t n_mentions;
};

#define E2E_USER "Ue2e00000000000000000000000000001"

json_t *ev_message(struct world *w, const struct ev *o);
json_t *ev_follow(struct world *w, const struct ev *o);
json_t *ev_unfollow(struct world *w, const struct ev *o);
json_t *ev_join(struct world *w, const struct ev *o);
json_t *ev_leave(struct world *w, const struct ev *o);
/* A tap on a postback action (a quick reply button): `data` as the action set it. */
json_t *ev_postback(struct world *w, const struct ev *o, const char *data);
json_t *ev_unsend(struct world *w, const struct ev *o);  /* o->message_id is the unsent one */
json_t *ev_edited(struct world *w, const struct ev *o);  /* o->message_id, o->text: new text */

/* A string field of an event by dotted path ("replyToken", "message.id"). */
const char *ev_get(json_t *ev, const char *path);
/* Chat id of an event (groupId, roomId or userId). */
const char *ev_chat(json_t *ev);
/* Same event with deliveryContext.isRedelivery = true (a new object owned by the world). */
json_t *ev_redelivered(struct world *w, json_t *ev);

/* {"destination":..., "events":[...]} of the NULL-terminated events (malloc'd). */
char *webhook_body(json_t *first, ...);
/* Builds the body and posts it signed; returns the status. */
long bot_send(struct world *w, json_t *first, ...);
/* A one-to-one text from `user`, posted; asserts 200; returns the event. */
json_t *send_text(struct world *w, const char *user, const char *text);

/* ---- what LINE received ---- */

/* The quickReply items of the last message of the last reply LINE accepted;
 * `body` gets that reply's body (the caller's, json_decref it). Fails the test
 * when there is no such reply or it has no quick reply. */
json_t *world_last_quick_reply(struct world *w, json_t **body);
/* The data of the postback button labelled `label` (malloc'd); fails the test
 * when there is none, or it is not a postback with a displayText. */
char *quick_reply_data(json_t *items, const char *label);

/* ---- waiting ---- */

/* Waits until `chat_id` (NULL = anyone) has at least `n` answers (accepted
 * reply/push requests), then watches E2E_GRACE_MS more for a late duplicate.
 * Returns the final count. */
size_t world_answers(struct world *w, const char *chat_id, size_t n);
/* The same with another grace period. */
size_t world_answers_grace(struct world *w, const char *chat_id, size_t n, int grace_ms);
/* Lets time pass when the test checks that nothing happens (E2E_QUIET_MS). */
void world_quiet(struct world *w);
/* Texts delivered to `chat_id` joined with "\n---\n" (malloc'd). */
char *world_texts(struct world *w, const char *chat_id);
/* The number `sql` counts in the bot's SQLite file (read-only), with `arg`
 * bound to ?1 when not NULL; fails the test when it cannot be read. */
long long world_sqlite_count(struct world *w, const char *sql, const char *arg);
/* Posts one event, asserting 200. Returns `ev`. */
json_t *send_event(struct world *w, json_t *ev);

/* ---- assertions with context in the failure message ---- */

#define assert_contains(hay, needle)                                                       \
    do {                                                                                   \
        const char *h_ = (hay), *n_ = (needle);                                            \
        if (!h_ || !strstr(h_, n_))                                                        \
            fail_msg("expected \"%s\" in:\n%.3000s", n_, h_ ? h_ : "(null)");              \
    } while (0)

#define assert_not_contains(hay, needle)                                                   \
    do {                                                                                   \
        const char *h_ = (hay), *n_ = (needle);                                            \
        if (h_ && strstr(h_, n_))                                                          \
            fail_msg("did not expect \"%s\" in:\n%.3000s", n_, h_);                         \
    } while (0)

/* Exactly `n` answers to `chat` (NULL = all chats), after the grace period. */
#define assert_answers(w, chat, n)                                                         \
    do {                                                                                   \
        const char *c_ = (chat);                                                           \
        size_t want_ = (size_t)(n);                                                        \
        size_t got_ = world_answers((w), c_, want_);                                       \
        if (got_ != want_) {                                                               \
            char *t_ = world_texts((w), c_);                                               \
            fail_msg("%s: want %zu answer(s), got %zu; texts:\n%.3000s", c_ ? c_ : "all chats", \
                     want_, got_, t_);                                                     \
        }                                                                                  \
    } while (0)

/* Nothing reached the fake LLM and nothing was sent to LINE (loading/start included). */
#define assert_untouched(w, llm_before, line_before)                                       \
    do {                                                                                   \
        assert_int_equal(fake_llm_request_count((w)->llm), (llm_before));                  \
        assert_int_equal(fake_line_request_total((w)->line), (line_before));               \
    } while (0)

#endif
