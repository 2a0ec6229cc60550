/* stage_model.c - /model in the worker: which model a chat uses, the list
 * with its buttons, and the switch.
 *
 * core/chat.c has already decided that the event is /model (typed, or a
 * button's postback checked against the catalogue) and that the speaker may
 * switch; this file reads and writes the chat's choice in the store and
 * builds the reply (texts and buttons from core/models.c). The choice is one
 * row per chat, so it is shared by every instance on PostgreSQL and kept
 * across restarts. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/utf8.h"
#include "io/clock.h"
#include "obs/log.h"
#include "run/stage.h"

const struct model_entry *stage_chat_model(struct job_ctx *ctx)
{
    const struct model_catalogue *cat = ctx->env->cfg->models;
    char *stored = NULL;
    if (ctx->ev.chat_id && cat->n > 1 && store_chat_model_get(ctx->env->store, ctx->ev.chat_id, &stored) < 0)
        log_warn("could not read the chat's model, using the default: %s", store_last_error(ctx->env->store));
    const struct model_entry *m = models_for_chat(cat, stored);
    if (stored && !models_find(cat, stored))
        log_debug("the chat's model \"%s\" is no longer in the catalogue: using the default", stored);
    free(stored);
    return m;
}

enum stage_result stage_act_model(struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    const struct model_catalogue *cat = cfg->models;
    const char *name = ctx->decision.text ? ctx->decision.text : "";
    const struct model_entry *wanted = name[0] ? models_find(cat, name) : NULL;
    if (wanted) {
        if (store_chat_model_set(ctx->env->store, ctx->ev.chat_id, wanted->name, clock_now_ms()) != 0) {
            log_error("could not store the chat's model: %s", store_last_error(ctx->env->store));
            ctx->fixed = TEXT_APOLOGY;
            return STAGE_NEXT;
        }
        log_info("the chat switched to the model %s", wanted->name);
    }
    /* These texts have no setting: the user's language, unless LINEBOT_LANG fixes it. */
    enum lang lang = cfg->lang == LANG_AUTO ? gather_lang(ctx) : cfg->lang;
    if (wanted) {
        ctx->reply_text = models_switched_text(wanted, lang);
    } else {
        /* The name as typed, cut where no character is split (it is shown back). */
        char *typed = xstrndup(name, utf8_prefix(name, strlen(name), 40));
        char *prefix = name[0] ? texts_fill(texts_builtin(TEXT_MODEL_UNKNOWN, lang), typed) : NULL;
        ctx->reply_text = models_menu_text(cat, stage_chat_model(ctx), prefix, lang);
        free(prefix);
        free(typed);
        models_menu_buttons(cat, &ctx->quick_reply);
    }
    return STAGE_NEXT;
}
