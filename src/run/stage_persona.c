/* stage_persona.c - /persona in the worker: the chat's persona in the store,
 * the list of presets with its buttons, and the confirmations.
 *
 * core/chat.c has already decided what the event asks (show, pick, set,
 * reset, or a text over the limit), that the speaker may change it, and, for
 * a button, that its preset still exists; this file reads and writes the
 * chat's persona and builds the reply (texts and buttons from
 * core/personas.c). The persona is one row per chat, so it is shared by every
 * instance on PostgreSQL and kept across restarts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/personas.h"
#include "core/utf8.h"
#include "io/clock.h"
#include "obs/log.h"
#include "run/stage.h"

char *stage_chat_persona(struct job_ctx *ctx)
{
    const struct persona_catalogue *presets = ctx->env->cfg->personas;
    char *preset = NULL, *custom = NULL;
    if (!ctx->ev.chat_id)
        return NULL;
    if (store_chat_persona_get(ctx->env->store, ctx->ev.chat_id, &preset, &custom) < 0)
        log_warn("could not read the chat's persona, answering without it: %s", store_last_error(ctx->env->store));
    const char *prompt = personas_prompt(presets, preset, custom);
    if (preset && !prompt)
        log_debug("the chat's persona \"%s\" is no longer a preset: using the default", preset);
    char *out = prompt ? xstrdup(prompt) : NULL;
    free(preset);
    free(custom);
    return out;
}

/* Writes the chat's persona; on failure the apology goes out instead. */
static bool persona_store(struct job_ctx *ctx, const char *preset, const char *custom)
{
    if (store_chat_persona_set(ctx->env->store, ctx->ev.chat_id, preset, custom, clock_now_ms()) == 0)
        return true;
    log_error("could not store the chat's persona: %s", store_last_error(ctx->env->store));
    ctx->fixed = TEXT_APOLOGY;
    return false;
}

/* The chat's persona and the presets, with `prefix` (may be NULL) first. */
static void show_menu(struct job_ctx *ctx, const char *prefix, enum lang lang)
{
    const struct persona_catalogue *presets = ctx->env->cfg->personas;
    char *preset = NULL, *custom = NULL;
    if (store_chat_persona_get(ctx->env->store, ctx->ev.chat_id, &preset, &custom) < 0)
        log_warn("could not read the chat's persona: %s", store_last_error(ctx->env->store));
    ctx->reply_text = personas_menu_text(presets, preset, custom, prefix, lang);
    personas_menu_buttons(presets, &ctx->quick_reply);
    free(preset);
    free(custom);
}

enum stage_result stage_act_persona(struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    const char *arg = ctx->decision.text ? ctx->decision.text : "";
    /* These texts have no setting: the user's language, unless LINEBOT_LANG fixes it. */
    enum lang lang = cfg->lang == LANG_AUTO ? gather_lang(ctx) : cfg->lang;
    switch (ctx->decision.persona_op) {
    case PERSONA_SHOW:
        show_menu(ctx, NULL, lang);
        break;
    case PERSONA_PICK: {
        const struct persona *p = personas_find(cfg->personas, arg);
        if (!p) {
            /* The name as typed, cut where no character is split (it is shown back). */
            char *typed = xstrndup(arg, utf8_prefix(arg, strlen(arg), 40));
            char *prefix = texts_fill(texts_builtin(TEXT_PERSONA_UNKNOWN, lang), typed);
            show_menu(ctx, prefix, lang);
            free(prefix);
            free(typed);
            break;
        }
        if (!persona_store(ctx, p->name, NULL))
            break;
        log_info("the chat picked the persona %s", p->name);
        ctx->reply_text = personas_picked_text(p, lang);
        break;
    }
    case PERSONA_SET:
        if (!persona_store(ctx, NULL, arg))
            break;
        log_info("the chat set a persona of its own");
        ctx->reply_text = xstrdup(texts_builtin(TEXT_PERSONA_SET, lang));
        break;
    case PERSONA_RESET:
        if (!persona_store(ctx, NULL, NULL))
            break;
        log_info("the chat went back to the default persona");
        ctx->reply_text = xstrdup(texts_builtin(TEXT_PERSONA_RESET, lang));
        break;
    case PERSONA_TOO_LONG: {
        char limit[16];
        snprintf(limit, sizeof limit, "%d", PERSONAS_CUSTOM_MAX);
        ctx->reply_text = texts_fill(texts_builtin(TEXT_PERSONA_TOO_LONG, lang), limit);
        break;
    }
    }
    return STAGE_NEXT;
}
