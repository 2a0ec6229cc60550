/* stage_fetch.c - the "fetch content" stage: the images a vision model is
 * asked about, fetched at the start of the job.
 *
 * LINE deletes what users send after a while, so content is fetched right
 * after the decision, within the event's time budget (generate_deadline,
 * shared with the model). The bytes live only in this job: they become
 * data: URLs for the model's request and are freed once the model answered
 * (fetch_images_free). Nothing large reaches the inbox or the history: a
 * user's image is remembered as "[image]" under its message id, and it can
 * be fetched again from LINE by that id.
 *
 * Which images:
 *   - an image in a 1:1 chat (core/chat.c decided: d->image). An imageSet
 *     (several images sent at once, one event each) gets one answer: its
 *     first job waits until `total` images are in the inbox, or 3 s after
 *     the newest one (old Android clients send no index and total), takes
 *     them all, and writes a "[image]" turn for each, so that their own
 *     jobs, claimed after it, see them answered and stop;
 *   - a text that quotes an image: in a 1:1 chat one the history knows as
 *     "[image]"; in a group any message the store does not know (group
 *     chatter is not kept), tried, and left out quietly when it is no image;
 *   - in a 1:1 chat, a text right after an image (the last user turn is
 *     "[image]", LINEBOT_IMAGE_FOLLOWUP_S old at most): asked with it.
 * Content that cannot be used (expired, too large, not https, a private
 * address, bytes that are no image) gets a short notice naming why
 * (core/texts.h), and a log line; the event is finished as answered. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/sniff.h"
#include "io/clock.h"
#include "io/line_content.h"
#include "obs/log.h"
#include "run/stage.h"

/* How long an imageSet waits after its newest image for the next one. */
#define IMAGE_SET_WAIT_MS 3000
#define IMAGE_SET_POLL_MS 300
#define IMAGE_SET_SCAN 64 /* waiting events looked at for the set's other images */
/* Of the event's budget, what the fetch leaves the model at least. */
#define FETCH_MODEL_RESERVE_MS 15000
#define FETCH_MIN_MS 5000

const struct model_entry *stage_vision_model(struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    if (cfg->vision_model)
        return cfg->vision_model;
    const struct model_entry *chat = stage_chat_model(ctx);
    if (chat && chat->vision)
        return chat;
    for (size_t i = 0; cfg->models && i < cfg->models->n; i++)
        if (cfg->models->items[i].vision)
            return &cfg->models->items[i];
    return NULL;
}

void fetch_images_free(struct job_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_images; i++)
        free(ctx->image_urls[i]);
    free(ctx->image_urls);
    ctx->image_urls = NULL;
    ctx->n_images = 0;
}

/* One image to fetch. */
struct image_ref {
    char *message_id;
    char *external_url; /* NULL: LINE has it */
    int index;          /* imageSet.index, 0 when unknown */
    int64_t order;      /* arrival: the event's timestamp */
};

static void refs_free(struct image_ref *refs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(refs[i].message_id);
        free(refs[i].external_url);
    }
    free(refs);
}

static int64_t fetch_deadline(const struct job_ctx *ctx)
{
    int64_t deadline = generate_deadline(ctx) - FETCH_MODEL_RESERVE_MS;
    int64_t least = clock_monotonic_ms() + FETCH_MIN_MS;
    return deadline > least ? deadline : least;
}

enum text_id fetch_content_notice(enum content_result r)
{
    switch (r) {
    case CONTENT_EXPIRED: return TEXT_CONTENT_EXPIRED;
    case CONTENT_TOO_LARGE: return TEXT_CONTENT_TOO_LARGE;
    case CONTENT_NOT_HTTPS: return TEXT_CONTENT_NOT_HTTPS;
    case CONTENT_BLOCKED: return TEXT_CONTENT_BLOCKED;
    case CONTENT_TRANSCODE_FAILED: return TEXT_TRANSCODE_FAILED;
    case CONTENT_OK:
    case CONTENT_NOT_READY:
    case CONTENT_FAILED:
    case CONTENT_CANCELLED:
        break;
    }
    return TEXT_CONTENT_FAILED;
}

/* The job answers with `id`'s notice instead of the model. */
static void answer_with_notice(struct job_ctx *ctx, enum text_id id)
{
    char mb[16];
    snprintf(mb, sizeof mb, "%d", ctx->env->cfg->max_content_mb);
    free(ctx->reply_text);
    ctx->reply_text = texts_fill(texts_builtin(id, gather_lang(ctx)), mb);
    ctx->use_model = false;
    fetch_images_free(ctx);
}

/* What fetching one image came to: CONTENT_OK with the data URL added, or
 * the reason (bytes that are no image count as CONTENT_FAILED, with
 * *mismatch set). */
static enum content_result fetch_one(struct job_ctx *ctx, const struct image_ref *ref, int64_t deadline,
                                     bool *mismatch)
{
    const struct config *cfg = ctx->env->cfg;
    struct content_source src = {.message_id = ref->message_id, .external_url = ref->external_url};
    struct content_policy policy = {.max_bytes = (size_t)cfg->max_content_mb * 1024 * 1024,
                                    .allow_loopback = cfg->test_allow_loopback_content};
    struct content got;
    char err[384];
    *mismatch = false;
    enum content_result r = line_content_get(ctx->env->line, &src, &policy, deadline, &got, err, sizeof err);
    if (r != CONTENT_OK) {
        log_warn("image %s not fetched (%s): %s", ref->message_id ? ref->message_id : "?", content_result_name(r),
                 err);
        return r;
    }
    /* The bytes say what they are; a header could say anything. */
    enum sniff_kind kind = sniff_kind(got.data, got.len);
    if (!sniff_is_image(kind)) {
        log_warn("image %s: the content is no PNG, JPEG, GIF or WebP (%zu bytes)",
                 ref->message_id ? ref->message_id : "?", got.len);
        content_free(&got);
        *mismatch = true;
        return CONTENT_FAILED;
    }
    ctx->image_urls = xrealloc_array(ctx->image_urls, ctx->n_images + 1, sizeof *ctx->image_urls);
    ctx->image_urls[ctx->n_images++] = completion_data_url(sniff_mime(kind), got.data, got.len);
    log_debug("image %s: %s, %zu bytes", ref->message_id ? ref->message_id : "?", sniff_mime(kind), got.len);
    content_free(&got);
    return CONTENT_OK;
}

/* Fetches `refs` (at most LINEBOT_MAX_IMAGES of them). Some may fail: the
 * model reads the others. When none came, the user gets the first failure's
 * notice (`quiet`: nothing, the job goes on without an image). */
static enum stage_result fetch_all(struct job_ctx *ctx, const struct image_ref *refs, size_t n, bool quiet)
{
    int64_t deadline = fetch_deadline(ctx);
    size_t max = (size_t)ctx->env->cfg->max_images;
    enum content_result first = CONTENT_OK;
    bool first_mismatch = false;
    for (size_t i = 0; i < n && i < max; i++) {
        bool mismatch;
        enum content_result r = fetch_one(ctx, &refs[i], deadline, &mismatch);
        if (r == CONTENT_CANCELLED) {
            log_info("shutting down: giving the event back to the inbox");
            return STAGE_RELEASE;
        }
        if (r != CONTENT_OK && first == CONTENT_OK) {
            first = r;
            first_mismatch = mismatch;
        }
    }
    if (n > max)
        log_info("%zu images sent together: the model gets the first %zu (LINEBOT_MAX_IMAGES)", n, max);
    if (ctx->n_images) {
        ctx->with_image = true;
        return STAGE_NEXT;
    }
    if (!quiet)
        answer_with_notice(ctx, first_mismatch ? TEXT_CONTENT_MISMATCH : fetch_content_notice(first));
    return STAGE_NEXT;
}

static int cmp_ref(const void *a, const void *b)
{
    const struct image_ref *x = a, *y = b;
    /* by index; images without one (old clients) by arrival, after */
    if (x->index != y->index) {
        if (!x->index || !y->index)
            return x->index ? -1 : 1;
        return x->index < y->index ? -1 : 1;
    }
    return x->order < y->order ? -1 : x->order > y->order;
}

static struct image_ref ref_of(const struct line_event *ev)
{
    return (struct image_ref){.message_id = ev->message_id ? xstrdup(ev->message_id) : NULL,
                              .external_url = ev->content_url ? xstrdup(ev->content_url) : NULL,
                              .index = ev->image_set_index,
                              .order = ev->timestamp_ms};
}

/* The other images of the event's imageSet waiting in the inbox, gathered
 * until `total` are there or IMAGE_SET_WAIT_MS after the newest. `*refs`
 * holds the event's own image first; the others are appended. */
static void gather_set(struct job_ctx *ctx, struct image_ref **refs, size_t *n)
{
    const struct line_event *ev = &ctx->ev;
    int64_t until = fetch_deadline(ctx);
    for (;;) {
        char **payloads = NULL;
        size_t n_payloads = 0;
        if (store_chat_waiting_events(ctx->env->store, ev->chat_id, IMAGE_SET_SCAN, &payloads, &n_payloads) != 0) {
            log_warn("could not look for the other images of the set: %s", store_last_error(ctx->env->store));
            return;
        }
        for (size_t i = 1; i < *n; i++) {
            free((*refs)[i].message_id);
            free((*refs)[i].external_url);
        }
        *n = 1;
        int64_t newest = ev->timestamp_ms;
        for (size_t i = 0; i < n_payloads; i++) {
            struct line_event other;
            if (line_event_parse(payloads[i], strlen(payloads[i]), &other) == 0) {
                if (other.kind == EVENT_MESSAGE && other.message_kind == MESSAGE_IMAGE && other.image_set_id &&
                    other.message_id && strcmp(other.image_set_id, ev->image_set_id) == 0 &&
                    (!ev->message_id || strcmp(other.message_id, ev->message_id) != 0)) {
                    *refs = xrealloc_array(*refs, *n + 1, sizeof **refs);
                    (*refs)[(*n)++] = ref_of(&other);
                    if (other.timestamp_ms > newest)
                        newest = other.timestamp_ms;
                }
                line_event_free(&other);
            }
            free(payloads[i]);
        }
        free(payloads);
        if (ev->image_set_total && *n >= (size_t)ev->image_set_total)
            break;
        if (event_age_ms(newest, clock_now_ms()) >= IMAGE_SET_WAIT_MS)
            break;
        if (clock_monotonic_ms() + IMAGE_SET_POLL_MS >= until ||
            (ctx->env->line->cancel && atomic_load(ctx->env->line->cancel)))
            break;
        clock_sleep_ms(IMAGE_SET_POLL_MS);
    }
    log_debug("imageSet: %zu of %d image(s)", *n, ev->image_set_total);
}

/* The event is an image (1:1). */
static enum stage_result fetch_event_images(struct job_ctx *ctx)
{
    const struct line_event *ev = &ctx->ev;
    struct store *store = ctx->env->store;
    if (ev->image_set_id && ev->message_id) {
        /* An earlier image of its set answered for it. */
        char *text = NULL;
        int found = store_message_text(store, ev->chat_id, ev->message_id, &text);
        free(text);
        if (found == 1) {
            log_debug("image answered with the others of its set");
            ctx->outcome = OUTCOME_IGNORED;
            return STAGE_FINISH;
        }
    }
    size_t n = 1;
    struct image_ref *refs = xcalloc(1, sizeof *refs);
    refs[0] = ref_of(ev);
    if (ev->image_set_id && ev->image_set_total != 1)
        gather_set(ctx, &refs, &n);
    qsort(refs, n, sizeof *refs, cmp_ref);
    /* Every image of the set is remembered, so that none is answered again. */
    for (size_t i = 0; i < n; i++) {
        if (!refs[i].message_id || (ev->message_id && strcmp(refs[i].message_id, ev->message_id) == 0))
            continue;
        ctx->set_ids = xrealloc_array(ctx->set_ids, ctx->n_set_ids + 1, sizeof *ctx->set_ids);
        ctx->set_ids[ctx->n_set_ids++] = xstrdup(refs[i].message_id);
    }
    enum stage_result r = fetch_all(ctx, refs, n, false);
    refs_free(refs, n);
    return r;
}

/* The image a text is about, if any: quoted, or (1:1) sent right before it.
 * `*known` tells whether the store knows it as an image (else it is a
 * guess: a group message the bot did not keep). */
static char *related_image(struct job_ctx *ctx, bool *known)
{
    const struct config *cfg = ctx->env->cfg;
    const struct line_event *ev = &ctx->ev;
    struct store *store = ctx->env->store;
    *known = true;
    if (ev->quoted_message_id) {
        char *text = NULL;
        int found = store_message_text(store, ev->chat_id, ev->quoted_message_id, &text);
        bool image = found == 1 && strcmp(text, FETCH_IMAGE_MARK) == 0;
        free(text);
        if (image)
            return xstrdup(ev->quoted_message_id);
        if (found == 0 && ev->chat_type != CHAT_USER &&
            store_bot_message_is(store, ev->chat_id, ev->quoted_message_id) == 0) {
            *known = false;
            return xstrdup(ev->quoted_message_id);
        }
        return NULL;
    }
    if (ev->chat_type != CHAT_USER || cfg->image_followup_s <= 0)
        return NULL;
    /* The last two turns: gather's history when it keeps any (read once,
     * here, for both stages), else just them. */
    bool shared = cfg->history_turns > 0;
    struct turn *own = NULL;
    size_t n_own = 0;
    int rc = shared ? gather_history(ctx) : store_history_load(store, ev->chat_id, 2, 0, &own, &n_own);
    if (rc != 0) {
        log_warn("could not look for an image to follow up: %s", store_last_error(store));
        return NULL;
    }
    const struct turn *turns = shared ? ctx->history : own;
    size_t n = shared ? ctx->n_history : n_own;
    char *id = NULL;
    for (size_t i = n; i-- > 0 && i + 2 >= n;) {
        if (turns[i].role != TURN_USER)
            continue;
        if (strcmp(turns[i].text, FETCH_IMAGE_MARK) == 0 && turns[i].message_id &&
            event_age_ms(turns[i].timestamp_ms, clock_now_ms()) <= (int64_t)cfg->image_followup_s * 1000)
            id = xstrdup(turns[i].message_id);
        break; /* only the last user turn */
    }
    turns_free(own, n_own);
    return id;
}

/* A text about an image: fetched from LINE by its id. */
static enum stage_result fetch_related_image(struct job_ctx *ctx)
{
    bool known;
    char *id = related_image(ctx, &known);
    if (!id)
        return STAGE_NEXT;
    log_debug("the text is about image %s", id);
    struct image_ref ref = {.message_id = id};
    enum stage_result r = fetch_all(ctx, &ref, 1, !known);
    if (!known && !ctx->n_images)
        log_info("the quoted message is no image the bot could fetch: answering the text alone");
    free(id);
    return r;
}

enum stage_result stage_fetch(struct job_ctx *ctx)
{
    if (!ctx->use_model || !chat_vision_available(ctx->env->cfg))
        return STAGE_NEXT;
    if (ctx->decision.image)
        return fetch_event_images(ctx);
    if (ctx->ev.message_kind == MESSAGE_TEXT)
        return fetch_related_image(ctx);
    return STAGE_NEXT;
}
