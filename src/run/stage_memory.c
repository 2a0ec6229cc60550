/* stage_memory.c - memory of the user in the worker (issue 11): the
 * commands, the facts in the prompt, the notice, and the extraction job.
 *
 * What a fact is, the prompts and the parsing are core/memory.c; the facts
 * live in the store (io/store.h's store_memory_*). With LINEBOT_MEMORY=auto,
 * facts are also extracted from a user's 1:1 turns by a background model
 * call: a durable internal job ("memory", io/store.h's store_task_add) that
 * is queued after an answer once LINEBOT_MEMORY_EVERY turns are unseen, or
 * by the housekeeping once the unseen turns are MEMORY_IDLE_MS old. The job
 * never delays an answer (internal jobs are claimed only when no event
 * waits), is keyed by the user and the newest turn it reads (queued twice, it
 * runs once), and writes its facts, the new "seen" mark and its own finish in
 * one transaction: a crash before that commit leaves it to run again with
 * nothing written, a crash after leaves it done. A model that fails or
 * answers garbage writes nothing, and no answer waits for it. Group and room
 * chat is never read for facts: only the 1:1 chat, whose id is the user's. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/format.h"
#include "core/memory.h"
#include "io/clock.h"
#include "obs/log.h"
#include "run/stage.h"

#define MEMORY_KIND "memory"
#define MEMORY_CALL_MS 60000  /* an extraction's model call ends within this */
#define MEMORY_IDLE_BATCH 100 /* idle users queued per housekeeping round */

/* A 1:1 chat: the chat is the user. */
static bool is_own_chat(const struct line_event *ev)
{
    return ev->chat_type == CHAT_USER && ev->user_id && ev->chat_id && strcmp(ev->chat_id, ev->user_id) == 0;
}

static enum lang reply_lang(struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    return cfg->lang == LANG_AUTO ? gather_lang(ctx) : cfg->lang;
}

/* ---- the commands ---- */

/* "What I remember about you:" and the facts, numbered as /forget takes them. */
static char *list_text(const struct memory_fact *facts, size_t n, enum lang lang)
{
    if (n == 0)
        return xstrdup(texts_builtin(TEXT_MEMORY_EMPTY, lang));
    struct buf b;
    buf_init(&b, SIZE_MAX);
    int rc = buf_adds(&b, texts_builtin(TEXT_MEMORY_LIST, lang));
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = buf_addf(&b, "\n%zu. %s", i + 1, facts[i].text);
    (void)rc; /* no cap: cannot fail */
    return buf_take(&b, NULL);
}

/* Sets the reply: a fixed text of the memory commands, "{}" filled with `value`. */
static void reply(struct job_ctx *ctx, enum text_id id, const char *value)
{
    ctx->reply_text = texts_fill(texts_builtin(id, reply_lang(ctx)), value);
}

static enum stage_result store_failed(struct job_ctx *ctx, const char *what)
{
    log_error("memory: could not %s: %s", what, store_last_error(ctx->env->store));
    ctx->fixed = TEXT_APOLOGY;
    return STAGE_NEXT;
}

static enum stage_result remember(struct job_ctx *ctx, const struct memory_command *c)
{
    struct store *store = ctx->env->store;
    const char *user = ctx->ev.user_id;
    struct memory_user state;
    if (store_memory_user(store, user, &state) != 0)
        return store_failed(ctx, "read the user's memory settings");
    if (state.opted_out) {
        reply(ctx, TEXT_MEMORY_OPTED_OUT, NULL);
        return STAGE_NEXT;
    }
    if (utf16_len(c->arg, c->arg_len) > MEMORY_REMEMBER_MAX) {
        char limit[24];
        snprintf(limit, sizeof limit, "%d", MEMORY_REMEMBER_MAX);
        reply(ctx, TEXT_MEMORY_TOO_LONG, limit);
        return STAGE_NEXT;
    }
    char *fact = memory_clean_fact(c->arg, c->arg_len);
    if (!fact) {
        reply(ctx, TEXT_MEMORY_USAGE, NULL);
        return STAGE_NEXT;
    }
    int rc = store_memory_add(store, user, ctx->ev.chat_id, ctx->ev.message_id, fact, clock_now_ms());
    free(fact);
    if (rc != 0)
        return store_failed(ctx, "remember a fact");
    log_info("memory: the user added a fact");
    reply(ctx, TEXT_MEMORY_REMEMBERED, NULL);
    return STAGE_NEXT;
}

static enum stage_result forget_one(struct job_ctx *ctx, long number)
{
    struct store *store = ctx->env->store;
    struct memory_fact *facts = NULL;
    size_t n = 0;
    if (store_memory_facts(store, ctx->ev.user_id, &facts, &n) != 0)
        return store_failed(ctx, "read the user's facts");
    char shown[24];
    snprintf(shown, sizeof shown, "%ld", number);
    if ((size_t)number > n) {
        reply(ctx, TEXT_MEMORY_NO_SUCH, shown);
    } else if (store_memory_forget(store, ctx->ev.user_id, facts[number - 1].id) < 0) {
        memory_facts_free(facts, n);
        return store_failed(ctx, "forget a fact");
    } else {
        log_info("memory: the user forgot a fact");
        reply(ctx, TEXT_MEMORY_FORGOT, facts[number - 1].text);
    }
    memory_facts_free(facts, n);
    return STAGE_NEXT;
}

enum stage_result stage_act_memory(struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    struct store *store = ctx->env->store;
    const char *user = ctx->ev.user_id;
    struct memory_command c;
    if (!memory_parse_command(ctx->decision.text, &c)) { /* chat_decide said it is one */
        ctx->outcome = OUTCOME_IGNORED;
        return STAGE_FINISH;
    }
    if (cfg->memory == MEMORY_OFF) {
        reply(ctx, TEXT_MEMORY_DISABLED, NULL);
        return STAGE_NEXT;
    }
    /* A group would see the list, and the facts are the user's own. */
    if (!is_own_chat(&ctx->ev)) {
        reply(ctx, TEXT_MEMORY_PRIVATE, NULL);
        return STAGE_NEXT;
    }
    int64_t now = clock_now_ms();
    switch (c.verb) {
    case MEMORY_REMEMBER:
        return remember(ctx, &c);
    case MEMORY_SHOW: {
        struct memory_fact *facts = NULL;
        size_t n = 0;
        if (store_memory_facts(store, user, &facts, &n) != 0)
            return store_failed(ctx, "read the user's facts");
        ctx->reply_text = list_text(facts, n, reply_lang(ctx));
        memory_facts_free(facts, n);
        return STAGE_NEXT;
    }
    case MEMORY_FORGET_ONE:
        return forget_one(ctx, c.number);
    case MEMORY_FORGET_ALL:
        if (store_memory_forget(store, user, 0) < 0)
            return store_failed(ctx, "forget the user's facts");
        log_info("memory: the user forgot every fact");
        reply(ctx, TEXT_MEMORY_FORGOT_ALL, NULL);
        return STAGE_NEXT;
    case MEMORY_OPT_OUT:
    case MEMORY_OPT_IN:
        if (store_memory_opt_out(store, user, c.verb == MEMORY_OPT_OUT, now) != 0)
            return store_failed(ctx, "change the user's memory setting");
        /* Who chose knows: no notice later. */
        if (store_memory_tell(store, user, now) < 0)
            log_warn("memory: could not note the notice: %s", store_last_error(store));
        log_info("memory: the user turned memory %s", c.verb == MEMORY_OPT_OUT ? "off" : "on");
        reply(ctx, c.verb == MEMORY_OPT_OUT ? TEXT_MEMORY_OFF : TEXT_MEMORY_ON, NULL);
        return STAGE_NEXT;
    case MEMORY_USAGE:
        break;
    }
    reply(ctx, TEXT_MEMORY_USAGE, NULL);
    return STAGE_NEXT;
}

/* ---- the facts in the prompt, and the notice ---- */

char *memory_gather_note(struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    const struct line_event *ev = &ctx->ev;
    struct store *store = ctx->env->store;
    if (cfg->memory == MEMORY_OFF || !ev->user_id)
        return NULL;
    struct memory_fact *facts = NULL;
    size_t n = 0;
    if (store_memory_facts(store, ev->user_id, &facts, &n) != 0) {
        log_warn("memory: answering without the user's facts: %s", store_last_error(store));
        return NULL;
    }
    /* The state is read with facts to tell opted-out users apart, and in a
     * 1:1 chat with LINEBOT_MEMORY=auto always: the notice (memory_tell_now)
     * and the extraction's count (memory_after_finish) then need no store
     * call of their own on an ordinary answer. */
    bool want_state = n > 0 || (cfg->memory == MEMORY_AUTO && is_own_chat(ev));
    if (want_state && store_memory_user(store, ev->user_id, &ctx->memory) == 0)
        ctx->memory_known = true;
    char *note = NULL;
    if (n > 0 && ctx->memory_known && !ctx->memory.opted_out) {
        const char **texts = xcalloc(n, sizeof *texts);
        for (size_t i = 0; i < n; i++)
            texts[i] = facts[i].text;
        note = memory_prompt_note(texts, n, MEMORY_PROMPT_MAX, ev->chat_type != CHAT_USER, ctx->speaker);
        free(texts);
    }
    memory_facts_free(facts, n);
    return note;
}

bool memory_tell_now(struct job_ctx *ctx)
{
    if (ctx->env->cfg->memory != MEMORY_AUTO || !is_own_chat(&ctx->ev))
        return false;
    if (ctx->memory_known && ctx->memory.told) /* told before: no write on every answer */
        return false;
    int rc = store_memory_tell(ctx->env->store, ctx->ev.user_id, clock_now_ms());
    if (rc < 0)
        log_warn("memory: could not note the notice, leaving it for later: %s", store_last_error(ctx->env->store));
    return rc == 1;
}

/* ---- queueing an extraction ---- */

/* Queues the extraction of the user's turns up to `upto_seq`. Keyed by both,
 * so queueing the same twice (an answer and the housekeeping) adds one job. */
static void queue_extraction(struct store *store, const char *user_id, int64_t upto_seq)
{
    char key[64];
    snprintf(key, sizeof key, "%" PRId64, upto_seq);
    char *full_key = xasprintf("%s:%s", user_id, key);
    json_t *payload = json_pack("{s:s,s:I}", "user", user_id, "upto", (json_int_t)upto_seq);
    char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    if (!text) { /* jansson refuses text that is not UTF-8: a user id never is */
        log_warn("memory: a user id that is not UTF-8; not queued");
    } else {
        int rc = store_task_add(store, MEMORY_KIND, full_key, user_id, text, clock_now_ms());
        if (rc < 0)
            log_warn("memory: could not queue an extraction: %s", store_last_error(store));
        else if (rc == 1)
            log_debug("memory: extraction queued");
    }
    free(text);
    free(full_key);
}

void memory_after_finish(struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    if (cfg->memory != MEMORY_AUTO || !ctx->ev_parsed || !is_own_chat(&ctx->ev))
        return;
    if (ctx->memory_known) {
        /* Gather's count and the user's turns this job added (the imageSet's
         * others and the question): no more than the store would say now,
         * as one job at a time runs per chat (an extraction in between only
         * lowers it). Not due by that count: not due. */
        int64_t unseen = ctx->memory.unseen + (int64_t)ctx->n_set_ids + 1;
        if (ctx->memory.opted_out || unseen < cfg->memory_every)
            return;
    }
    struct memory_user state;
    if (store_memory_user(ctx->env->store, ctx->ev.user_id, &state) != 0) {
        log_warn("memory: could not count the unseen turns: %s", store_last_error(ctx->env->store));
        return;
    }
    if (!state.opted_out && state.unseen >= cfg->memory_every)
        queue_extraction(ctx->env->store, ctx->ev.user_id, state.last_seq);
}

void memory_housekeeping(const struct config *cfg, struct store *store)
{
    if (cfg->memory != MEMORY_AUTO)
        return;
    char **users = NULL;
    int64_t *seqs = NULL;
    size_t n = 0;
    if (store_memory_idle(store, clock_now_ms() - MEMORY_IDLE_MS, MEMORY_IDLE_BATCH, &users, &seqs, &n) != 0) {
        log_warn("memory: could not look for idle users: %s", store_last_error(store));
        return;
    }
    for (size_t i = 0; i < n; i++)
        queue_extraction(store, users[i], seqs[i]);
    memory_due_free(users, seqs, n);
}

/* ---- the extraction job ---- */

struct extraction {
    struct job_ctx *ctx;
    const char *user_id;
    const struct memory_new *facts;
    size_t n;
    int64_t upto_seq;
    const struct job_finish *finish;
};

static int extraction_write(void *arg)
{
    struct extraction *x = arg;
    const struct job *job = x->ctx->job;
    return store_memory_job_finish(x->ctx->env->store, job->event_id, job->claim_gen, x->user_id, x->facts, x->n,
                                   x->upto_seq, x->finish);
}

/* The model's answer as facts, written with the job's finish. */
static enum stage_result extraction_commit(struct job_ctx *ctx, const char *user_id, int64_t upto_seq,
                                           const struct turn *turns, size_t n_turns, const struct llm_answer *a,
                                           const char *model, const struct store_charge *charge)
{
    struct job_finish finish = {.outcome = OUTCOME_ANSWERED, .model = a->model ? a->model : model,
                                .usage = {.prompt_tokens = a->prompt_tokens,
                                          .completion_tokens = a->completion_tokens,
                                          .total_tokens = a->total_tokens},
                                .charge = charge}; /* the call counts against the user's budget */
    struct memory_extracted got[MEMORY_FACTS_PER_EXTRACTION];
    int n = memory_parse_extraction(a->text, n_turns, got);
    if (n < 0) {
        log_warn("memory: the extraction's answer is not the JSON asked for; nothing remembered");
        log_debug("memory: extraction answer: %s", a->text ? a->text : "");
        finish.outcome = OUTCOME_FAILED;
        if (finish_job(ctx, &finish) == 0)
            stage_budget_background_report(ctx->env->cfg, charge);
        return STAGE_STOP;
    }
    struct memory_new facts[MEMORY_FACTS_PER_EXTRACTION];
    for (int i = 0; i < n; i++)
        facts[i] = (struct memory_new){.text = got[i].text, .message_id = turns[got[i].message - 1].message_id};
    struct extraction x = {.ctx = ctx, .user_id = user_id, .facts = facts, .n = (size_t)n,
                           .upto_seq = upto_seq, .finish = &finish};
    int rc = worker_write_retried(extraction_write, &x);
    if (rc < 0)
        log_error("memory: could not write the extraction: %s", store_last_error(ctx->env->store));
    else if (rc > 0)
        log_warn("memory: claim lost before the extraction could be written");
    else {
        log_info("memory: %d fact(s) extracted", n);
        stage_budget_background_report(ctx->env->cfg, charge);
    }
    memory_extracted_free(got, (size_t)n);
    return STAGE_STOP;
}

const struct model_entry *memory_call_model(const struct config *cfg)
{
    const struct model_entry *model = cfg->memory_model ? models_find(cfg->models, cfg->memory_model) : NULL;
    return model ? model : models_for_chat(cfg->models, NULL);
}

/* The model call of an extraction over `turns`, knowing `facts`. */
static enum stage_result extract(struct job_ctx *ctx, const char *user_id, int64_t upto_seq,
                                 const struct turn *turns, size_t n_turns, const struct memory_fact *facts,
                                 size_t n_facts)
{
    const struct config *cfg = ctx->env->cfg;
    const char **known = xcalloc(n_facts + 1, sizeof *known);
    const char **said = xcalloc(n_turns, sizeof *said);
    for (size_t i = 0; i < n_facts; i++)
        known[i] = facts[i].text;
    for (size_t i = 0; i < n_turns; i++)
        said[i] = turns[i].text;
    char *input = memory_extract_input(known, n_facts, said, n_turns);
    free(known);
    free(said);
    struct llm_message msgs[2] = {{.role = "system", .content = memory_extract_prompt},
                                  {.role = "user", .content = input}};
    const struct model_entry *model = memory_call_model(cfg);
    if (!stage_budget_background_allowed(ctx, user_id, user_id)) { /* the user's 1:1 turns, their budget */
        free(input);
        ctx->outcome = OUTCOME_OVER_BUDGET;
        return STAGE_FINISH;
    }
    struct llm_target target = {.provider = model->provider, .base_url = model->base_url,
                                .api_key = model->api_key, .model = model->model};
    int64_t deadline = stage_call_deadline(ctx, MEMORY_CALL_MS);
    struct llm_answer answer = {.prompt_tokens = -1, .completion_tokens = -1, .total_tokens = -1};
    char err[512];
    log_debug("memory: extracting from %zu message(s) with %s", n_turns, model->name);
    enum llm_result lr = llm_complete_to(ctx->env->llm, &target, msgs, 2, deadline, &answer, err, sizeof err);
    free(input);
    enum stage_result r;
    if (lr == LLM_CANCELLED) {
        log_info("shutting down: giving the extraction back to the inbox");
        r = STAGE_RELEASE;
    } else if (lr != LLM_OK) {
        log_warn("memory: the extraction's model failed; nothing remembered: %s", err);
        ctx->outcome = OUTCOME_FAILED;
        r = STAGE_FINISH;
    } else {
        struct store_charge charge;
        stage_budget_background_charge(user_id, user_id, model, msgs, 2, &answer, &charge);
        r = extraction_commit(ctx, user_id, upto_seq, turns, n_turns, &answer, model->name, &charge);
    }
    llm_answer_free(&answer);
    return r;
}

enum stage_result memory_run_job(struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    struct store *store = ctx->env->store;
    json_t *payload = ctx->job->payload ? json_loads(ctx->job->payload, 0, NULL) : NULL;
    const char *user_id = json_string_value(json_object_get(payload, "user"));
    json_t *upto = json_object_get(payload, "upto");
    if (!user_id || !json_is_integer(upto)) {
        log_error("memory: unreadable extraction job; dropping it");
        json_decref(payload);
        ctx->outcome = OUTCOME_UNREADABLE;
        return STAGE_FINISH;
    }
    int64_t upto_seq = (int64_t)json_integer_value(upto);
    ctx->outcome = OUTCOME_IGNORED;
    enum stage_result r = STAGE_FINISH;
    struct memory_user state;
    struct turn *turns = NULL;
    size_t n_turns = 0;
    struct memory_fact *facts = NULL;
    size_t n_facts = 0;
    if (cfg->memory != MEMORY_AUTO) {
        log_info("memory: LINEBOT_MEMORY is no longer auto; extraction dropped");
    } else if (store_memory_user(store, user_id, &state) != 0) {
        log_warn("memory: extraction dropped, the store failed: %s", store_last_error(store));
        ctx->outcome = OUTCOME_FAILED;
    } else if (state.opted_out || upto_seq <= state.seen_seq) {
        log_debug("memory: nothing to extract (opted out, or already read)");
    } else if (store_memory_turns(store, user_id, state.seen_seq, upto_seq, MEMORY_EXTRACT_TURNS, &turns,
                                  &n_turns) != 0 ||
               store_memory_facts(store, user_id, &facts, &n_facts) != 0) {
        log_warn("memory: extraction dropped, the store failed: %s", store_last_error(store));
        ctx->outcome = OUTCOME_FAILED;
    } else if (n_turns > 0) {
        r = extract(ctx, user_id, upto_seq, turns, n_turns, facts, n_facts);
    }
    turns_free(turns, n_turns);
    memory_facts_free(facts, n_facts);
    json_decref(payload);
    return r;
}
