/* stage_gather.c - what the model needs besides the question: the chat's
 * history, the speaker's display name (groups and rooms), and the text of a
 * quoted message. Each is best effort: the model answers without what could
 * not be read. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
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
    if (store_profile_get(store, ev->chat_id, ev->user_id, now - PROFILE_TTL_MS, &name, NULL) == 1)
        return name;
    char err[512];
    if (line_member_name(ctx->env->line, ev->chat_type, ev->chat_id, ev->user_id, &name, err, sizeof err) != LINE_OK ||
        !name) {
        log_warn("no display name for the speaker: %s", err);
        free(name);
        return NULL;
    }
    if (store_profile_put(store, ev->chat_id, ev->user_id, name, NULL, now) != 0)
        log_warn("could not cache a display name: %s", store_last_error(store));
    return name;
}

/* The language of the user's LINE profile: cached (fresh for a day), else
 * asked and cached with the display name. NULL when LINE did not answer;
 * "" when the profile has no language, or LINE has no profile. malloc'd. */
static char *profile_language(struct job_ctx *ctx)
{
    const struct line_event *ev = &ctx->ev;
    struct store *store = ctx->env->store;
    char *name = NULL, *language = NULL;
    int64_t now = clock_now_ms();
    int cached = store_profile_get(store, ev->chat_id, ev->user_id, now - PROFILE_TTL_MS, &name, &language);
    free(name);
    if (cached == 1 && language)
        return language;
    free(language);
    char err[512];
    enum line_result r = line_user_profile(ctx->env->line, ev->user_id, &name, &language, err, sizeof err);
    if (r == LINE_REJECTED) {
        /* No profile for this user (404: not a friend): remembered as one
         * without a language, so that each fixed text does not ask again. */
        log_info("no profile, choosing by the message's script: %s", err);
        if (store_profile_put(store, ev->chat_id, ev->user_id, "", "", now) != 0)
            log_warn("could not cache a profile: %s", store_last_error(store));
        return xstrdup("");
    }
    if (r != LINE_OK) {
        log_warn("no profile language, choosing by the message's script: %s", err);
        return NULL;
    }
    if (store_profile_put(store, ev->chat_id, ev->user_id, name, language, now) != 0)
        log_warn("could not cache a profile: %s", store_last_error(store));
    free(name);
    return language;
}

enum lang gather_lang(struct job_ctx *ctx)
{
    if (ctx->lang_chosen)
        return ctx->lang;
    const struct config *cfg = ctx->env->cfg;
    const struct line_event *ev = &ctx->ev;
    enum lang lang = cfg->lang;
    /* In a 1:1 chat the chat is the user, and LINE tells a consenting user's
     * language; a group member's profile never says. */
    if (lang == LANG_AUTO && ev->chat_type == CHAT_USER && ev->user_id && ev->chat_id &&
        strcmp(ev->chat_id, ev->user_id) == 0) {
        char *language = profile_language(ctx);
        lang = texts_lang_of_profile(language);
        free(language);
    }
    if (lang == LANG_AUTO) /* the words without the bot's mention, whose name may be in any script */
        lang = texts_lang_of_script(ctx->decided && ctx->decision.text ? ctx->decision.text : ev->text);
    ctx->lang = lang;
    ctx->lang_chosen = true;
    log_debug("language of fixed texts: %s", texts_lang_name(lang));
    return lang;
}

int gather_history(struct job_ctx *ctx)
{
    if (ctx->history_loaded)
        return 0;
    const struct config *cfg = ctx->env->cfg;
    const struct line_event *ev = &ctx->ev;
    int max_context = ev->chat_type == CHAT_USER ? 0 : cfg->group_context;
    if (store_history_load(ctx->env->store, ev->chat_id, cfg->history_turns * 2, max_context, &ctx->history,
                           &ctx->n_history) != 0) {
        ctx->history = NULL;
        ctx->n_history = 0;
        return -1;
    }
    ctx->history_loaded = true;
    return 0;
}

enum stage_result stage_gather(struct job_ctx *ctx)
{
    if (!ctx->use_model)
        return STAGE_NEXT;
    const struct line_event *ev = &ctx->ev;
    struct store *store = ctx->env->store;

    ctx->speaker = gather_speaker_name(ctx);
    if (gather_history(ctx) != 0)
        log_warn("could not load history, answering without it: %s", store_last_error(store));
    if (ev->quoted_message_id && store_message_text(store, ev->chat_id, ev->quoted_message_id, &ctx->quoted) != 1)
        ctx->quoted = NULL;
    ctx->memory_note = memory_gather_note(ctx);
    ctx->summary_note = summary_gather_note(ctx);
    return STAGE_NEXT;
}
