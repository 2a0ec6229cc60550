/* answer_record.h - the answer a worker keeps in the inbox while sending.
 *
 * Before anything goes to LINE the worker records what it is about to send
 * (store_job_sending), so that a crash after that point resumes the SAME
 * answer the same way (see run/stage_deliver.c). The record is JSON:
 *
 *   {"mode":"reply|push", "outcome":"answered|apologized", "parts":[...],
 *    "history":{"speaker","text","answer"}, "model":"...",
 *    "usage":{"prompt_tokens","completion_tokens","total_tokens"},
 *    "quick_reply":{"items":[...]},   (LINE's own object, when buttons go along)
 *    "charge":{"model","day","prompt_tokens","completion_tokens","estimated"}}
 *
 * "outcome" is a job_outcome_name (io/store.h): what delivering this answer
 * means, so that an apology resumed after a crash is finished as an apology.
 * Records written before "outcome" existed read as answered, which is what
 * that release made of them. "history" is what to remember once delivered
 * (only when the model answered); "model" and "usage" are what finish
 * records. "charge" is what the model call spent, charged to the budgets by
 * finish (issue 11): kept in the record so that an answer resumed after a
 * crash is charged what its one model call cost, once. */
#ifndef LINEBOT_ANSWER_RECORD_H
#define LINEBOT_ANSWER_RECORD_H

#include "core/format.h"
#include "core/quick_reply.h"
#include "io/store.h"

enum send_mode { SEND_NONE, SEND_REPLY, SEND_PUSH };
const char *send_mode_name(enum send_mode mode);

struct answer_record {
    enum send_mode mode;
    enum job_outcome outcome;  /* OUTCOME_ANSWERED or OUTCOME_APOLOGIZED */
    struct text_parts parts;   /* what is sent: 1..LINE_MAX_MESSAGES texts */
    char *speaker;             /* history to keep once delivered; all three NULL when none */
    char *question;
    char *answer;              /* what the user saw (the parts joined), not the raw Markdown */
    char *model;               /* the model that answered, NULL when none did */
    struct llm_usage usage;    /* -1 each when unknown */
    struct quick_reply quick_reply; /* buttons under the last part ("quick_reply"), none usually */
    struct answer_charge {          /* the model call's cost ("charge"); model NULL: none */
        char *model;                /* the catalogue name */
        int64_t day;                /* the day of the call in LINEBOT_TIMEZONE */
        int64_t prompt_tokens, completion_tokens;
        bool estimated;             /* the provider reported no usage */
    } charge;
};

/* An empty record: no parts, no history, usage unknown. */
void answer_record_init(struct answer_record *rec);
void answer_record_free(struct answer_record *rec);

/* The record as JSON (malloc'd, never NULL). A part that is not valid UTF-8
 * (format.c never makes one) is left out. */
char *answer_record_json(const struct answer_record *rec);

/* Reads a record written by answer_record_json (or by an older release).
 * Returns 0, or -1 when it has no part that could be sent (then `rec` is
 * still safe to free). At most LINE_MAX_MESSAGES parts are read. A missing
 * or unknown mode reads as SEND_NONE: a parked answer (store_job_park) may be
 * recorded with mode "none", since the event that adopts it chooses how to
 * send it. */
int answer_record_parse(const char *json, struct answer_record *rec);

#endif
