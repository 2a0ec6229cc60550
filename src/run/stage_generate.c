/* stage_generate.c - the model's answer, within its time budget.
 *
 * An answer must be sent while the event's reply token is valid, so the model
 * gets until 50 s after the event (less in a serverless invocation, which
 * must keep time to send). The loading animation goes out at the same time
 * as the model's request and runs alongside it. A model that fails leaves
 * ctx->model_answered false: format then sends the apology. Only a shutdown
 * (the wait cancelled) gives the event back to the inbox. */
#include <stdlib.h>

#include "core/alloc.h"
#include "io/clock.h"
#include "obs/log.h"
#include "run/failpoint.h"
#include "run/stage.h"

/* Less than this left for the model: the answer will be pushed, not replied. */
#define LLM_MIN_BUDGET_MS 2000
/* Serverless: time kept back at the end of an invocation to send the answer. */
#define INVOCATION_MARGIN_MS 3000

/* What is left of the budget: LLM_BUDGET_MS minus the event's age, computed
 * so that no timestamp can overflow it. */
static int64_t budget_left_ms(const struct line_event *ev, int64_t now_ms)
{
    int64_t age = event_age_ms(ev->timestamp_ms, now_ms);
    return age <= 0 ? LLM_BUDGET_MS : LLM_BUDGET_MS - age;
}

bool generate_too_late(const struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    int64_t now = clock_now_ms();
    return deliver_choose_mode(cfg, &ctx->ev, now) == SEND_NONE ||
           (budget_left_ms(&ctx->ev, now) < LLM_MIN_BUDGET_MS && !cfg->push_fallback);
}

int64_t stage_call_deadline(const struct job_ctx *ctx, int64_t budget_ms)
{
    int64_t deadline = clock_monotonic_ms() + budget_ms;
    if (ctx->env->deadline_ms && deadline > ctx->env->deadline_ms - INVOCATION_MARGIN_MS)
        deadline = ctx->env->deadline_ms - INVOCATION_MARGIN_MS; /* serverless: send before the platform stops us */
    return deadline;
}

int64_t generate_deadline(const struct job_ctx *ctx)
{
    int64_t budget = budget_left_ms(&ctx->ev, clock_now_ms());
    if (budget < LLM_MIN_BUDGET_MS || ctx->progress)
        budget = LLM_BUDGET_MS; /* pushed, or parked behind "still working": no reply token to race */
    return stage_call_deadline(ctx, budget);
}

/* The model for this job: a vision model when it carries images. */
static const struct model_entry *job_model(struct job_ctx *ctx)
{
    const struct model_entry *m = ctx->n_images ? stage_vision_model(ctx) : NULL;
    return m ? m : stage_chat_model(ctx);
}

enum stage_result stage_generate(struct job_ctx *ctx)
{
    if (!ctx->use_model)
        return STAGE_NEXT;
    const struct config *cfg = ctx->env->cfg;
    const struct line_event *ev = &ctx->ev;

    ctx->deadline = generate_deadline(ctx);
    int64_t budget = ctx->deadline - clock_monotonic_ms();

    /* The animation's request goes out now and runs alongside the model's:
     * nobody waits for LINE's answer to it before asking the model. */
    char err[512];
    if (ev->chat_type == CHAT_USER &&
        line_loading_begin(ctx->env->line, ev->chat_id, (int)(budget / 1000), err, sizeof err) != LINE_OK)
        log_warn("loading animation: %s", err);

    /* The user's words, at debug only (README: message text is logged only
     * at debug); masked like every line. */
    log_debug("question: %s", ctx->decision.text ? ctx->decision.text : "");
    struct prompt prompt;
    const char *question = ctx->decision.text;
    if (ctx->n_images && (!question || !question[0]))
        question = chat_image_question; /* an image without words */
    char *persona = stage_chat_persona(ctx);
    chat_build_prompt(cfg, ev->chat_type, persona, ctx->history, ctx->n_history, ctx->speaker, ctx->quoted,
                      question, &prompt);
    free(persona);
    if (ctx->n_images) { /* the images go with the question, the last message */
        prompt.messages[prompt.n - 1].image_urls = (const char *const *)ctx->image_urls;
        prompt.messages[prompt.n - 1].n_images = ctx->n_images;
    }
    if (ctx->memory_note || ctx->summary_note) {
        /* The speaker's facts (run/stage_memory.c) and the chat's summary
         * (run/stage_summary.c) go into the system prompt. */
        char *system = xasprintf("%s%s%s", prompt.messages[0].content, ctx->memory_note ? ctx->memory_note : "",
                                 ctx->summary_note ? ctx->summary_note : "");
        free((char *)prompt.messages[0].content);
        prompt.messages[0].content = system;
    }
    retrieve_add_sources(ctx, &prompt);
    const struct model_entry *model = job_model(ctx);
    struct llm_target target = {.provider = model->provider, .base_url = model->base_url,
                                .api_key = model->api_key, .model = model->model};
    log_debug("model: %s", model->name);
    enum llm_result lr = llm_complete_to(ctx->env->llm, &target, prompt.messages, prompt.n, ctx->deadline,
                                         &ctx->llm, err, sizeof err);
    if (lr == LLM_OK)
        stage_budget_charge(ctx, model, &prompt); /* what the call spent, charged by finish */
    prompt_free(&prompt);
    size_t n_images = ctx->n_images;
    fetch_images_free(ctx); /* the bytes are needed no longer than the model's call */
    if (lr == LLM_CANCELLED) {
        log_info("shutting down: giving the event back to the inbox");
        return STAGE_RELEASE;
    }
    if (lr == LLM_OK) {
        ctx->model_answered = true;
        log_debug("model's answer: %s", ctx->llm.text ? ctx->llm.text : "");
        if (ctx->kb_n > 0)
            retrieve_add_footer(ctx, format_answer_text(ctx, TEXT_KB_SOURCES));
    } else if (n_images && ctx->llm.status == 400) {
        /* The model refused what it was given: the image, most likely. */
        log_warn("the model refused the image(s): %s", err);
        ctx->use_model = false;
        ctx->fixed = TEXT_IMAGE_REJECTED;
    } else
        log_warn("model failed, sending the apology: %s", err);
    failpoint(cfg, "worker_after_llm");
    return STAGE_NEXT;
}
