/* worker.c - one claimed job, from start to end: the pipeline of named stages.
 *
 * A webhook event goes through the stages of `event_stages`, in this order:
 *
 *   claim     read the claimed event (run/stage_claim.c); a job a crash left
 *             `sending` is resent from its record and goes to finish
 *   decide    core/chat.c chooses the action, with the user's rate count read
 *   act       store-only actions: unsend, edit, forget, group context, reset
 *   progress  model work: a watcher sends "still working" with a button if
 *             the work outlasts LINEBOT_PROGRESS_S (stage_progress.c)
 *   fetch content  the images the model reads, from LINE or an external URL,
 *             early: LINE deletes content after a while (stage_fetch.c)
 *   transcribe  a voice message to words, which are then answered as if
 *             typed (stage_transcribe.c)
 *   files     a file a group message quotes, into the group's knowledge base
 *   gather    history, the speaker's name, the quoted text (stage_gather.c)
 *   retrieve  passages of the chat's knowledge base (stage_retrieve.c)
 *   generate  the model's answer, within its time budget (stage_generate.c)
 *   format    Markdown to LINE texts, and the answer record (stage_format.c)
 *   deliver   record, then reply or push, exactly once (stage_deliver.c)
 *   finish    history, sent ids, outcome, model, usage and the rate count in
 *             one transaction
 *
 * Each stage is one function with one job (run/stage.h): it reads what the
 * stages before it left in struct job_ctx, adds its part, and returns how to
 * go on. A later issue adds a stage (retrieve, fetch content, transcribe) by
 * writing run/stage_<name>.c, declaring it in run/stage.h, adding its fields
 * to struct job_ctx, and putting one row in the table below at its place.
 * The exactly-once reasoning lives with the deliver stage.
 *
 * An internal job (one with a kind, io/store.h's store_task_add) goes to the
 * handler of its kind instead (one row in `internal_handlers`). The thread
 * pool, the lease keeper and the housekeeping that feed this file are in
 * run/pool.c. Failures are logged by the stage that meets them, once; the io
 * layer only describes them (an `err` text or store_last_error). */
#include "run/worker.h"

#include <stdlib.h>
#include <string.h>

#include "io/clock.h"
#include "obs/log.h"
#include "run/stage.h"

struct stage {
    const char *name;
    enum stage_result (*run)(struct job_ctx *ctx);
};

/* The order a webhook event is worked in. finish must stay last: a stage that
 * returns STAGE_FINISH jumps to it. */
static const struct stage event_stages[] = {
    {"claim", stage_claim},       /* read the claimed event; a crash left it sending: resend */
    {"decide", stage_decide},     /* core/chat.c decides, with the rate count read */
    {"act", stage_act},           /* store-only actions (unsend, edit, forget, context, reset) */
    {"progress", stage_progress}, /* slow work: "still working" with a button when the token runs low */
    {"fetch content", stage_fetch}, /* images for the vision model; bad content gets its notice */
    {"transcribe", stage_transcribe}, /* a voice message: fetched, transcribed, asked as its words */
    {"files", stage_files},       /* a group's quoted file into its knowledge base (stage_files.c) */
    {"gather", stage_gather},     /* history, speaker name, quoted text */
    {"retrieve", stage_retrieve}, /* the chat's knowledge base: passages for the prompt */
    {"generate", stage_generate}, /* the model, within its time budget */
    {"format", stage_format},     /* Markdown to LINE texts; the answer record */
    {"deliver", stage_deliver},   /* record, then reply or push, exactly once */
    {"finish", stage_finish},     /* turns, sent ids, outcome, model, usage, rate count: one transaction */
};
#define N_EVENT_STAGES (sizeof event_stages / sizeof event_stages[0])

static const int64_t write_retry_ms[] = {200, 1000, 3000};

int worker_write_retried(int (*write)(void *arg), void *arg)
{
    int rc = write(arg);
    for (size_t i = 0; rc < 0 && i < sizeof write_retry_ms / sizeof write_retry_ms[0]; i++) {
        clock_sleep_ms(write_retry_ms[i]);
        rc = write(arg);
    }
    return rc;
}

void worker_claim_over(struct worker_env *env)
{
    if (env->claim_over)
        atomic_store(env->claim_over, 1);
}

static void release_job(struct job_ctx *ctx)
{
    const struct job *job = ctx->job;
    worker_claim_over(ctx->env);
    if (store_job_release(ctx->env->store, job->event_id, job->claim_gen) != 0)
        log_warn("could not give the event back; it is taken up again when its lease runs out "
                 "(or at the next start, with SQLite)");
}

static void ctx_free(struct job_ctx *ctx)
{
    char err[256];
    progress_end(ctx); /* a job that ended before deliver: the watcher stops */
    if (line_loading_end(ctx->env->line, err, sizeof err) != LINE_OK)
        log_warn("loading animation: %s", err);
    if (ctx->ev_parsed)
        line_event_free(&ctx->ev);
    if (ctx->decided)
        chat_decision_free(&ctx->decision);
    free(ctx->speaker);
    free(ctx->reply_text);
    quick_reply_free(&ctx->quick_reply);
    turns_free(ctx->history, ctx->n_history);
    free(ctx->quoted);
    free(ctx->transcript);
    fetch_images_free(ctx);
    for (size_t i = 0; i < ctx->n_set_ids; i++)
        free(ctx->set_ids[i]);
    free(ctx->set_ids);
    free(ctx->memory_note);
    free(ctx->summary_note);
    kb_hits_free(ctx->kb_hits, ctx->kb_n);
    free(ctx->kb_context);
    llm_answer_free(&ctx->llm);
    answer_record_free(&ctx->record);
    line_sent_free(&ctx->sent);
}

static void run_event(struct worker_env *env, const struct job *job)
{
    struct job_ctx ctx = {.env = env, .job = job, .outcome = OUTCOME_FAILED};
    answer_record_init(&ctx.record);
    ctx.llm = (struct llm_answer){.prompt_tokens = -1, .completion_tokens = -1, .total_tokens = -1};
    for (size_t i = 0; i < N_EVENT_STAGES; i++) {
        enum stage_result r = event_stages[i].run(&ctx);
        if (r == STAGE_NEXT)
            continue;
        if (r == STAGE_FINISH && i + 1 < N_EVENT_STAGES)
            event_stages[N_EVENT_STAGES - 1].run(&ctx);
        else if (r == STAGE_RELEASE)
            release_job(&ctx);
        break;
    }
    worker_claim_over(env); /* ctx_free still calls LINE (the loading animation) */
    ctx_free(&ctx);
}

/* ---- internal jobs ---- */

/* A handler finishes the job itself (STAGE_STOP: e.g. together with what it
 * writes, in one transaction), or leaves it to run_internal: STAGE_FINISH
 * with ctx->outcome, STAGE_RELEASE to give it back (shutdown). */
struct job_handler {
    const char *kind;
    enum stage_result (*run)(struct job_ctx *ctx);
};

/* Handlers by kind; the table ends at its sentinel. */
static const struct job_handler internal_handlers[] = {
    {"memory", memory_run_job}, /* facts about a user from their 1:1 turns (run/stage_memory.c) */
    {"summary", summary_run_job}, /* a long chat's oldest turns into its summary (run/stage_summary.c) */
    {NULL, NULL},
};

static void run_internal(struct worker_env *env, const struct job *job)
{
    log_set_event(job->event_id, NULL);
    const struct job_handler *h = internal_handlers;
    while (h->kind && strcmp(h->kind, job->kind) != 0)
        h++;
    struct job_ctx ctx = {.env = env, .job = job, .outcome = OUTCOME_FAILED};
    enum stage_result r = STAGE_FINISH;
    if (!h->kind) {
        /* Written by a newer release, or a kind since retired: nothing here
         * can do it, and trying again would not help. */
        log_warn("internal job of unknown kind \"%s\": finished as unsupported", job->kind);
        ctx.outcome = OUTCOME_UNSUPPORTED;
    } else {
        r = h->run(&ctx);
    }
    if (r == STAGE_RELEASE)
        release_job(&ctx);
    else if (r != STAGE_STOP)
        finish_job(&ctx, &(struct job_finish){.outcome = ctx.outcome,
                                              .usage = {.prompt_tokens = -1, .completion_tokens = -1,
                                                        .total_tokens = -1}});
}

void worker_run_job(struct worker_env *env, const struct job *job)
{
    if (job->kind)
        run_internal(env, job);
    else
        run_event(env, job);
}
