/* stage_gather.c - what the model needs besides the question: the chat's
 * history, the speaker's display name (groups and rooms), and the text of a
 * quoted message. Each is best effort: the model answers without what could
 * not be read. */
#include <stdlib.h>

#include "io/clock.h"
#include "obs/log.h"
#include "run/stage.h"

/* Display names are refreshed once a day. */
#define PROFILE_TTL_MS (24LL * 3600 * 1000)

char *gather_speaker_name(struct job_ctx *ctx)
{
    const struct line_event *ev = &ctx->ev;
    struct store *store = ctx->env->store;
    if (ev->chat_type == CHAT_USER || !ev->user_id)
        return NULL;
    char *name = NULL;
    int64_t now = clock_now_ms();
    if (store_profile_get(store, ev->chat_id, ev->user_id, now - PROFILE_TTL_MS, &name) == 1)
        return name;
    char err[512];
    if (line_member_name(ctx->env->line, ev->chat_type, ev->chat_id, ev->user_id, &name, err, sizeof err) != LINE_OK ||
        !name) {
        log_warn("no display name for the speaker: %s", err);
        free(name);
        return NULL;
    }
    if (store_profile_put(store, ev->chat_id, ev->user_id, name, now) != 0)
        log_warn("could not cache a display name: %s", store_last_error(store));
    return name;
}

enum stage_result stage_gather(struct job_ctx *ctx)
{
    if (!ctx->use_model)
        return STAGE_NEXT;
    const struct config *cfg = ctx->env->cfg;
    const struct line_event *ev = &ctx->ev;
    struct store *store = ctx->env->store;

    ctx->speaker = gather_speaker_name(ctx);
    int max_context = ev->chat_type == CHAT_USER ? 0 : cfg->group_context;
    if (store_history_load(store, ev->chat_id, cfg->history_turns * 2, max_context, &ctx->history,
                           &ctx->n_history) != 0) {
        log_warn("could not load history, answering without it: %s", store_last_error(store));
        ctx->history = NULL;
        ctx->n_history = 0;
    }
    if (ev->quoted_message_id && store_message_text(store, ev->chat_id, ev->quoted_message_id, &ctx->quoted) != 1)
        ctx->quoted = NULL;
    return STAGE_NEXT;
}
