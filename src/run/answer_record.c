/* answer_record.c - the answer kept in the inbox while sending (see
 * answer_record.h for the format and why it exists). */
#include "run/answer_record.h"

#include <assert.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/line_api.h"

const char *send_mode_name(enum send_mode mode)
{
    return mode == SEND_PUSH ? "push" : mode == SEND_REPLY ? "reply" : "none";
}

void answer_record_init(struct answer_record *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->mode = SEND_NONE;
    rec->outcome = OUTCOME_ANSWERED;
    rec->usage = (struct llm_usage){.prompt_tokens = -1, .completion_tokens = -1, .total_tokens = -1};
}

void answer_record_free(struct answer_record *rec)
{
    text_parts_free(&rec->parts);
    free(rec->speaker);
    free(rec->question);
    free(rec->answer);
    free(rec->model);
    free(rec->charge.model);
    quick_reply_free(&rec->quick_reply);
    answer_record_init(rec);
}

char *answer_record_json(const struct answer_record *rec)
{
    json_t *root = json_object();
    json_t *parts = json_array();
    for (size_t i = 0; i < rec->parts.n; i++)
        json_array_append_new(parts, json_string(rec->parts.parts[i]));
    json_object_set_new(root, "mode", json_string(send_mode_name(rec->mode)));
    json_object_set_new(root, "outcome", json_string(job_outcome_name(rec->outcome)));
    json_object_set_new(root, "parts", parts);
    if (rec->question && rec->answer)
        json_object_set_new(root, "history",
                            json_pack("{s:s?, s:s, s:s}", "speaker", rec->speaker, "text", rec->question,
                                      "answer", rec->answer));
    if (rec->model) {
        json_object_set_new(root, "model", json_string(rec->model));
        json_object_set_new(root, "usage",
                            json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)rec->usage.prompt_tokens,
                                      "completion_tokens", (json_int_t)rec->usage.completion_tokens,
                                      "total_tokens", (json_int_t)rec->usage.total_tokens));
    }
    json_t *qr = quick_reply_json(&rec->quick_reply);
    if (qr)
        json_object_set_new(root, "quick_reply", qr);
    const struct answer_charge *c = &rec->charge;
    if (c->model)
        json_object_set_new(root, "charge",
                            json_pack("{s:s, s:I, s:I, s:I, s:b}", "model", c->model, "day", (json_int_t)c->day,
                                      "prompt_tokens", (json_int_t)c->prompt_tokens, "completion_tokens",
                                      (json_int_t)c->completion_tokens, "estimated", c->estimated));
    char *s = json_dumps(root, JSON_COMPACT);
    assert(s); /* an object always encodes; memory comes from xmalloc (alloc_init) */
    json_decref(root);
    return s;
}

static char *dup_string(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? xstrdup(s) : NULL;
}

static int64_t count_of(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -1;
}

int answer_record_parse(const char *json, struct answer_record *rec)
{
    answer_record_init(rec);
    json_t *root = json ? json_loads(json, 0, NULL) : NULL;
    if (!json_is_object(root)) {
        json_decref(root);
        return -1;
    }
    const char *mode = json_string_value(json_object_get(root, "mode"));
    rec->mode = mode && strcmp(mode, "push") == 0 ? SEND_PUSH : mode && strcmp(mode, "reply") == 0 ? SEND_REPLY
                                                                                                    : SEND_NONE;
    const char *outcome = json_string_value(json_object_get(root, "outcome"));
    enum job_outcome o;
    /* Only the two outcomes of a delivery; anything else reads as the older
     * records did (answered). */
    if (outcome && job_outcome_parse(outcome, &o) == 0 && o == OUTCOME_APOLOGIZED)
        rec->outcome = OUTCOME_APOLOGIZED;

    json_t *arr = json_object_get(root, "parts");
    size_t n = json_array_size(arr);
    if (n > LINE_MAX_MESSAGES)
        n = LINE_MAX_MESSAGES;
    rec->parts.parts = xcalloc(n ? n : 1, sizeof *rec->parts.parts);
    for (size_t i = 0; i < n; i++) {
        const char *p = json_string_value(json_array_get(arr, i));
        if (p)
            rec->parts.parts[rec->parts.n++] = xstrdup(p);
    }
    json_t *history = json_object_get(root, "history");
    if (json_is_object(history)) {
        rec->question = dup_string(history, "text");
        rec->answer = dup_string(history, "answer");
        rec->speaker = dup_string(history, "speaker");
    }
    rec->model = dup_string(root, "model");
    json_t *usage = json_object_get(root, "usage");
    if (rec->model && json_is_object(usage)) {
        rec->usage.prompt_tokens = count_of(usage, "prompt_tokens");
        rec->usage.completion_tokens = count_of(usage, "completion_tokens");
        rec->usage.total_tokens = count_of(usage, "total_tokens");
    }
    quick_reply_from_json(json_object_get(root, "quick_reply"), &rec->quick_reply);
    json_t *charge = json_object_get(root, "charge");
    json_t *day = json_object_get(charge, "day");
    int64_t prompt = count_of(charge, "prompt_tokens"), completion = count_of(charge, "completion_tokens");
    /* Only a whole charge: a part of one cannot be told from a forgery. */
    if (json_is_string(json_object_get(charge, "model")) && json_is_integer(day) && prompt >= 0 && completion >= 0) {
        rec->charge = (struct answer_charge){.model = dup_string(charge, "model"),
                                             .day = (int64_t)json_integer_value(day),
                                             .prompt_tokens = prompt, .completion_tokens = completion,
                                             .estimated = json_is_true(json_object_get(charge, "estimated"))};
    }
    json_decref(root);
    return rec->parts.n > 0 ? 0 : -1;
}
