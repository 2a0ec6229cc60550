/* stage.h - the worker's pipeline, inside: the per-job state that moves from
 * stage to stage, and each stage's entry point.
 *
 * A claimed webhook event goes through the stages named in run/worker.c's
 * table, in order: claim, decide, act, gather, generate, format, deliver,
 * finish (fetch content and transcribe run between act and gather). Each stage does one job, reads what the stages before it left in
 * `struct job_ctx`, adds its own part, and says how to go on
 * (enum stage_result). A new stage (retrieve, fetch content, transcribe) is a
 * function here and one row in that table. Internal to run/. */
#ifndef LINEBOT_STAGE_H
#define LINEBOT_STAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "core/chat.h"
#include "core/models.h"
#include "core/webhook.h"
#include "io/line_api.h"
#include "io/line_content.h"
#include "io/llm.h"
#include "io/store.h"
#include "run/answer_record.h"
#include "run/event_cache.h"

/* The model must be done 50 s after the event, while its reply token is
 * valid (stage_generate.c). Server admission (run/admission.h) refuses the
 * events that could not make it. */
#define LLM_BUDGET_MS 50000

/* What a worker thread lends the pipeline (owned by run/pool.c). */
struct worker_env {
    const struct config *cfg;
    struct store *store;
    struct line_api *line;
    struct llm_client *llm;
    int64_t deadline_ms; /* serverless: monotonic time the invocation must end by (0: none) */
    struct event_cache *events; /* server: events ingest already parsed (NULL: parse each) */
    /* Set once the job's claim is being ended (finish, release, or a stage
     * that ended it itself), so the lease keeper does not take the finished
     * claim it can no longer renew for one lost to another worker. NULL: no keeper. */
    atomic_int *claim_over;
};

enum stage_result {
    STAGE_NEXT,    /* go on with the next stage */
    STAGE_FINISH,  /* the job is over: go straight to the finish stage (ctx->outcome says how) */
    STAGE_STOP,    /* nothing more to do: already finished in the store, or left to its lease */
    STAGE_RELEASE, /* give the job back to the inbox: it is worked on again later */
};

/* One job on its way through the stages. */
struct job_ctx {
    struct worker_env *env;
    const struct job *job;

    /* claim */
    struct line_event ev;
    bool ev_parsed;
    bool resumed;              /* the job was `sending` (a crash): the record is resent */

    /* decide */
    struct chat_decision decision;
    bool decided;
    int64_t rate_at_ms;        /* > 0: the message counts against the user's rate limit, at this time (finish) */
    enum text_id fixed;        /* act: a reply without the model (TEXT_NONE: none) */
    bool use_model;            /* act: gather and generate run */
    const char *adopt_id;      /* a postback that takes over a parked answer: its event id (in ev) */
    char *reply_text;          /* act: a reply built for this event (/model, /persona), sent instead of `fixed` */
    struct quick_reply quick_reply; /* act: buttons that go with the fixed reply */

    /* fetch content (stage_fetch.c) */
    char **image_urls;         /* data: URLs of the images the model gets; freed after generate */
    size_t n_images;
    bool with_image;           /* the answer used images: history keeps "[image]" and its first line */
    char **set_ids;            /* the other images of the event's imageSet, answered with it */
    size_t n_set_ids;

    /* transcribe (stage_transcribe.c) */
    char *transcript;          /* a voice message's words (also decision.text); NULL: none */

    /* gather */
    char *speaker;             /* display name in groups and rooms, may be NULL */
    struct turn *history;
    size_t n_history;
    bool history_loaded;       /* history holds what the store had (not left empty by a failed read) */
    char *quoted;              /* text of the quoted message, may be NULL */
    char *memory_note;         /* the speaker's facts for the system prompt (stage_memory.c), may be NULL */
    struct memory_user memory; /* the speaker's memory state as gather read it, when memory_known: */
    bool memory_known;         /*   format and finish then need no store call of their own */
    char *summary_note;        /* the chat's rolling summary for the system prompt (stage_summary.c), may be NULL */
    bool lang_chosen;          /* gather_lang chose `lang` (asked at most once per job) */
    enum lang lang;

    /* retrieve (the knowledge base, issue 12) */
    struct kb_hit *kb_hits;    /* the passages that reached LINEBOT_KB_MIN_SCORE, best first */
    size_t kb_n;               /* how many of them went to the model (numbered [1]..[kb_n]) */
    char *kb_context;          /* the sources and the instruction, for the prompt; NULL: none */

    /* generate */
    int64_t deadline;          /* monotonic: the model must be done by then */
    bool model_answered;
    struct llm_answer llm;

    /* format, deliver */
    struct answer_record record;
    struct line_sent sent;     /* what LINE accepted */

    /* finish */
    enum job_outcome outcome;

    /* progress (stage_progress.c): the "still working" watcher, NULL: none */
    struct progress *progress;
};

/* Works one claimed job to its end (run/worker.c): a webhook event through
 * the stages, an internal job through the handler of its kind. */
void worker_run_job(struct worker_env *env, const struct job *job);

/* The stages (one file each, run/stage_<name>.c; act is in stage_decide.c). */
enum stage_result stage_claim(struct job_ctx *ctx);
enum stage_result stage_decide(struct job_ctx *ctx);
/* finish, for an answer resumed after a crash (which skipped decide): sets
 * ctx->rate_at_ms when decide would have counted the message, so that the
 * finish counts it as it counts any other. */
void stage_decide_rate_resumed(struct job_ctx *ctx);
enum stage_result stage_act(struct job_ctx *ctx);
enum stage_result stage_fetch(struct job_ctx *ctx);
enum stage_result stage_transcribe(struct job_ctx *ctx);
enum stage_result stage_gather(struct job_ctx *ctx);
enum stage_result stage_retrieve(struct job_ctx *ctx);
/* generate, with the knowledge base's passages (stage_retrieve.c): the
 * sources go into the prompt as a system message before the question; the
 * answer gets the list of sources at its end, under `label`. */
void retrieve_add_sources(const struct job_ctx *ctx, struct prompt *prompt);
void retrieve_add_footer(struct job_ctx *ctx, const char *label);
enum stage_result stage_generate(struct job_ctx *ctx);
enum stage_result stage_format(struct job_ctx *ctx);
enum stage_result stage_deliver(struct job_ctx *ctx);
enum stage_result stage_finish(struct job_ctx *ctx);

/* act, for CHAT_MODEL (run/stage_model.c): shows the list or switches. */
enum stage_result stage_act_model(struct job_ctx *ctx);
/* act, for CHAT_PERSONA (run/stage_persona.c): shows, picks, sets or resets. */
enum stage_result stage_act_persona(struct job_ctx *ctx);
/* generate: the persona text of the event's chat (a preset's prompt or its
 * own text; malloc'd), NULL for the default, also when the store cannot say. */
char *stage_chat_persona(struct job_ctx *ctx);
/* generate: the catalogue model the event's chat uses (its stored choice,
 * else the default; the default too when the store cannot say). */
const struct model_entry *stage_chat_model(struct job_ctx *ctx);

/* ---- daily token budgets (run/stage_budget.c) ---- */
/* act, before a model call: true when the day's budget refuses it; then
 * either the day's one notice is set up (ctx->reply_text; *result
 * STAGE_NEXT) or the job ends in silence (OUTCOME_OVER_BUDGET; STAGE_FINISH). */
bool stage_budget_refuses(struct job_ctx *ctx, enum stage_result *result);
/* act, for CHAT_USAGE: the user's tokens today, the limit and the reset. */
enum stage_result stage_act_usage(struct job_ctx *ctx);
/* generate, after the model answered: its charge in ctx->record (the
 * reported usage, else an estimate from `prompt` and the answer). */
void stage_budget_charge(struct job_ctx *ctx, const struct model_entry *model, const struct prompt *prompt);
/* finish, once the finish is stored: the charge in metrics and the log. */
void stage_budget_report(const struct job_ctx *ctx);
/* A background call (memory extraction, a summary): false when the day's
 * budget of `user_id` ("" for none) or of the group or room `chat_id` is
 * spent, so the call is not made. The store failing to say allows it. */
bool stage_budget_background_allowed(struct job_ctx *ctx, const char *user_id, const char *chat_id);
/* A background call's charge to `user_id` in `chat_id` today: the tokens
 * `a` reported, else estimates from `msgs` and the answer. `out` points into
 * its arguments; metrics count it once the finish is stored
 * (stage_budget_background_report). */
void stage_budget_background_charge(const char *user_id, const char *chat_id, const struct model_entry *model,
                                    const struct llm_message *msgs, size_t n, const struct llm_answer *a,
                                    struct store_charge *out);
void stage_budget_background_report(const struct config *cfg, const struct store_charge *c);

/* fetch content: the model that reads this job's images: LINEBOT_VISION_MODEL,
 * else the chat's model when it has vision, else the catalogue's first
 * that has; NULL when none has. */
const struct model_entry *stage_vision_model(struct job_ctx *ctx);
/* fetch content: frees the images (the job no longer needs their bytes). */
void fetch_images_free(struct job_ctx *ctx);
/* fetch content: the notice for content that could not be fetched. */
enum text_id fetch_content_notice(enum content_result r);
/* What history keeps of a user message that was an image. */
#define FETCH_IMAGE_MARK "[image]"

/* generate: the monotonic time the model must be done by: while the reply
 * token is valid (LLM_BUDGET_MS after the event), or a full budget when the
 * answer will be pushed or can wait behind "still working" (ctx->progress), and within a serverless invocation's deadline. The
 * content fetch shares it. */
int64_t generate_deadline(const struct job_ctx *ctx);
/* Any model call's deadline: `budget_ms` from now, kept within a serverless
 * invocation with time left at its end to write what the call answered. */
int64_t stage_call_deadline(const struct job_ctx *ctx, int64_t budget_ms);

/* Files users send (run/stage_files.c). act, for CHAT_FILE: the file into
 * the chat's own knowledge base (io/kb_chat.h), or a notice naming why not;
 * for CHAT_FILES: /files and /files clear. */
enum stage_result stage_act_file(struct job_ctx *ctx);
enum stage_result stage_act_files(struct job_ctx *ctx);
/* The stage "files": a group message addressing the bot that quotes a file
 * adds it to the group's knowledge base, before retrieve. */
enum stage_result stage_files(struct job_ctx *ctx);

/* Memory of the user (run/stage_memory.c). */
/* act, for CHAT_MEMORY: /remember, /memory, /forget. */
enum stage_result stage_act_memory(struct job_ctx *ctx);
/* gather: the speaker's facts as a note for the system prompt (malloc'd),
 * NULL when memory is off, the speaker opted out or has none. */
char *memory_gather_note(struct job_ctx *ctx);
/* format: true exactly once per user, in a 1:1 chat with LINEBOT_MEMORY=auto:
 * the answer (or greeting) then tells them that the bot remembers. */
bool memory_tell_now(struct job_ctx *ctx);
/* finish: after a 1:1 answer was remembered, queues an extraction when
 * LINEBOT_MEMORY_EVERY turns are unseen. */
void memory_after_finish(struct job_ctx *ctx);
/* The model of the background calls, extractions and summary folds:
 * LINEBOT_MEMORY_MODEL, else the one config.c picked, else the default. */
const struct model_entry *memory_call_model(const struct config *cfg);
/* The internal job "memory": one extraction. Finishes the job itself
 * (STAGE_STOP), or says how run/worker.c should (STAGE_FINISH with
 * ctx->outcome, STAGE_RELEASE on shutdown). */
enum stage_result memory_run_job(struct job_ctx *ctx);
/* Housekeeping (run/pool.c): queues extractions for users whose unseen 1:1
 * turns have been idle for MEMORY_IDLE_MS. */
void memory_housekeeping(const struct config *cfg, struct store *store);

/* Long conversations (run/stage_summary.c). */
/* gather: the chat's rolling summary as a note for the system prompt
 * (malloc'd), NULL when it has none. */
char *summary_gather_note(struct job_ctx *ctx);
/* finish: after an answer was remembered (`added`, the turns just stored),
 * queues a fold of the chat's oldest turns when they outgrow
 * LINEBOT_HISTORY_TURNS or _CHARS. */
void summary_after_finish(struct job_ctx *ctx, const struct turn *added, size_t n_added);
/* The internal job "summary": one fold (same contract as memory_run_job). */
enum stage_result summary_run_job(struct job_ctx *ctx);

/* Slow answers (run/stage_progress.c, issue 13 part 5). */
/* progress: for model work, starts the watcher that spends the reply token
 * on "still working" and a "show the answer" button LINEBOT_PROGRESS_S
 * after the event. */
enum stage_result stage_progress(struct job_ctx *ctx);
/* deliver (and the end of every job): stops the watcher; true when its
 * message may have spent the reply token, so the answer must be parked. */
bool progress_end(struct job_ctx *ctx);
/* Housekeeping (run/pool.c): parked answers past LINEBOT_PROGRESS_WAIT_S go
 * back to the inbox, to be pushed (or dropped, push fallback off). */
void progress_housekeeping(const struct config *cfg, struct store *store);

/* deliver, for a job a crash left in `sending`: resends its record. */
enum stage_result stage_deliver_resume(struct job_ctx *ctx);

/* gather: the display name of the event's speaker in a group or room
 * (cached in the store), NULL in a 1:1 chat or when LINE does not say. */
char *gather_speaker_name(struct job_ctx *ctx);

/* gather: the chat's history into ctx->history, read once per job (fetch
 * content may read it first). 0, or -1 with the history left empty. */
int gather_history(struct job_ctx *ctx);

/* gather: the language of the fixed texts for this event (core/texts.h):
 * LINEBOT_LANG when set; in a 1:1 chat the user's LINE profile (cached in the
 * store with the display name; asked only here, so only when a fixed text is
 * about to be sent); else, and in groups, the script of the message. */
enum lang gather_lang(struct job_ctx *ctx);

/* format: what the user gets for `id` in their language; the profile is
 * asked only when the text depends on it. */
const char *format_fixed_text(struct job_ctx *ctx, enum text_id id);

/* format: a text that rides on an ordinary answer (the sources' line, the
 * memory notice), which must cost no profile call: the override, else in
 * LINEBOT_LANG, the language already chosen, or the question's script. */
const char *format_answer_text(struct job_ctx *ctx, enum text_id id);

/* generate: true when the event can no longer be answered at all (its reply
 * token is too old and push fallback is off). */
bool generate_too_late(const struct job_ctx *ctx);

/* deliver: how an answer to `ev` would go out now. */
enum send_mode deliver_choose_mode(const struct config *cfg, const struct line_event *ev, int64_t now_ms);

/* deliver: the event id of the parked answer a postback takes over, or NULL
 * when `ev` is no such postback (the data format is in stage_deliver.c). */
const char *deliver_adopt_target(const struct line_event *ev);

/* finish: store_job_finish with `finish` for ctx->job, retried over a
 * store blip, logged once. Returns store_job_finish's last result. */
int finish_job(struct job_ctx *ctx, const struct job_finish *finish);

/* The job's claim is being ended: see worker_env.claim_over. */
void worker_claim_over(struct worker_env *env);

/* A store write after a claim is retried briefly: a database blip (PostgreSQL
 * restarting, SQLite busy) should not leave the event claimed until its lease
 * runs out. The writes are fenced, so a repeat is harmless. */
int worker_write_retried(int (*write)(void *arg), void *arg);

#endif
