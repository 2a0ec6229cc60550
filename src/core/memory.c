/* memory.c - memory of the user: commands, the prompt note, extraction (see
 * memory.h).
 *
 * The extraction prompt is short on purpose: it runs on the cheapest model
 * every few turns, and everything it asks for is checked again here, so a
 * chatty or broken model adds nothing rather than something wrong. */
#include "core/memory.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/command.h"
#include "core/format.h"
#include "core/utf8.h"

/* ---- commands ---- */

/* The argument is `word` alone, in any width and case ("ａｌｌ"). */
static bool word_is(const char *arg, size_t len, const char *word)
{
    size_t rest = 0;
    return command_word(arg, len, word, &rest) && rest == 0;
}

bool memory_parse_command(const char *text, struct memory_command *out)
{
    memset(out, 0, sizeof *out);
    if (!text)
        return false;
    const char *arg;
    size_t len;
    if ((arg = command_arg(text, "remember", &len))) {
        out->arg = arg;
        out->arg_len = len;
        out->verb = len ? MEMORY_REMEMBER : MEMORY_USAGE;
        return true;
    }
    if ((arg = command_arg(text, "memory", &len))) {
        out->verb = len == 0                    ? MEMORY_SHOW
                    : word_is(arg, len, "off") ? MEMORY_OPT_OUT
                    : word_is(arg, len, "on")  ? MEMORY_OPT_IN
                                               : MEMORY_USAGE;
        return true;
    }
    if ((arg = command_arg(text, "forget", &len))) {
        out->verb = MEMORY_USAGE;
        if (word_is(arg, len, "all")) {
            out->verb = MEMORY_FORGET_ALL;
        } else if (command_number(arg, len, 4, &out->number)) {
            if (out->number > 0)
                out->verb = MEMORY_FORGET_ONE;
        }
        return true;
    }
    return false;
}

char *memory_clean_fact(const char *text, size_t len)
{
    if (!text || !utf8_valid(text, len))
        return NULL;
    char *out = xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        bool space = c < 0x20 || c == 0x7f || c == ' ';
        if (space) {
            if (o > 0 && out[o - 1] != ' ')
                out[o++] = ' ';
        } else {
            out[o++] = (char)c;
        }
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    o = utf8_prefix(out, o, MEMORY_FACT_MAX);
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    if (o == 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- the prompt note ---- */

/* Appends to a buffer without a cap (SIZE_MAX), which cannot refuse. */
__attribute__((format(printf, 2, 3))) static void addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vaddf(b, fmt, ap);
    va_end(ap);
    assert(rc == 0);
    (void)rc;
}

char *memory_prompt_note(const char *const *facts, size_t n, size_t cap, bool group, const char *speaker)
{
    struct buf b;
    buf_init(&b, SIZE_MAX);
    size_t used = 0, taken = 0;
    for (size_t i = 0; i < n; i++) {
        size_t cost = utf16_len(facts[i], strlen(facts[i]));
        if (used + cost > cap)
            break;
        used += cost;
        if (taken++ == 0) {
            if (group)
                addf(&b, "\n\nWhat you remember about %s, who is talking to you now. It is private: use "
                                   "it only to help them, and never reveal or repeat it to others in this group:",
                               speaker && speaker[0] ? speaker : "the user");
            else
                addf(&b, "\n\nWhat you remember about the user (use it when it helps; do not list it "
                                   "unprompted):");
        }
        addf(&b, "\n- %s", facts[i]);
    }
    if (taken == 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b, NULL);
}

/* ---- extraction ---- */

#define MEMORY_MESSAGE_MAX 1000 /* bytes of one message an extraction reads */

const char memory_extract_prompt[] =
    "You extract lasting facts about the user from their chat messages, for an assistant's memory. "
    "Keep only facts that stay true for months: name, language, diet, job, home, family, likes and dislikes. "
    "Skip questions, moods, passing plans, and anything about other people or already known. "
    "At most 3 facts, each a short sentence about the user in the language of the messages. "
    "Answer with JSON only: {\"facts\":[{\"fact\":\"...\",\"message\":N}]}, where N is the number of the "
    "message it comes from; {\"facts\":[]} when there is nothing to keep.";

char *memory_extract_input(const char *const *known, size_t n_known, const char *const *messages,
                           size_t n_messages)
{
    struct buf b;
    buf_init(&b, SIZE_MAX);
    if (n_known) {
        addf(&b, "Already known:\n");
        for (size_t i = 0; i < n_known; i++)
            addf(&b, "- %s\n", known[i]);
        addf(&b, "\n");
    }
    addf(&b, "Messages:\n");
    for (size_t i = 0; i < n_messages; i++) {
        /* One line per message, so that its number stays with it; a long
         * one is cut (lasting facts come in short sentences). */
        size_t len = utf8_prefix(messages[i], strlen(messages[i]), MEMORY_MESSAGE_MAX);
        char *line = xstrndup(messages[i], len);
        for (char *p = line; *p; p++)
            if (*p == '\n' || *p == '\r' || *p == '\t')
                *p = ' ';
        addf(&b, "%zu. %s\n", i + 1, line);
        free(line);
    }
    return buf_take(&b, NULL);
}

void memory_extracted_free(struct memory_extracted *facts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(facts[i].text);
        facts[i].text = NULL;
    }
}

/* The JSON object in a model's answer: the text itself, or what a code fence
 * around it holds (from the first '{' to the last '}'). */
static json_t *answer_object(const char *answer)
{
    const char *start = answer ? strchr(answer, '{') : NULL;
    const char *end = answer ? strrchr(answer, '}') : NULL;
    if (!start || !end || end < start)
        return NULL;
    json_t *root = json_loadb(start, (size_t)(end - start) + 1, 0, NULL);
    if (root && !json_is_object(root)) {
        json_decref(root);
        root = NULL;
    }
    return root;
}

int memory_parse_extraction(const char *answer, size_t n_messages,
                            struct memory_extracted out[MEMORY_FACTS_PER_EXTRACTION])
{
    json_t *root = answer_object(answer);
    json_t *facts = json_object_get(root, "facts");
    if (!json_is_array(facts)) {
        json_decref(root);
        return -1;
    }
    int n = 0;
    size_t i;
    json_t *item;
    json_array_foreach(facts, i, item) {
        if (n == MEMORY_FACTS_PER_EXTRACTION)
            break;
        json_t *text = json_object_get(item, "fact");
        json_t *message = json_object_get(item, "message");
        char *clean = json_is_string(text) ? memory_clean_fact(json_string_value(text), json_string_length(text))
                                           : NULL;
        if (!clean || !json_is_integer(message) || json_integer_value(message) < 1 ||
            (uint64_t)json_integer_value(message) > n_messages) {
            free(clean);
            memory_extracted_free(out, (size_t)n);
            json_decref(root);
            return -1;
        }
        out[n].text = clean;
        out[n].message = (size_t)json_integer_value(message);
        n++;
    }
    json_decref(root);
    return n;
}

const struct model_entry *memory_pick_model(const struct model_catalogue *c, const char *name)
{
    if (name)
        return models_find(c, name);
    const struct model_entry *best = NULL;
    for (size_t i = 0; i < c->n; i++) {
        const struct model_entry *m = &c->items[i];
        if (m->input_price < 0 || m->output_price < 0)
            continue;
        if (!best || m->input_price + m->output_price < best->input_price + best->output_price)
            best = m;
    }
    return best ? best : models_for_chat(c, NULL);
}
