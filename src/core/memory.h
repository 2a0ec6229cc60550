/* memory.h - memory of the user (issue 11): the commands, the facts in the
 * system prompt, and the extraction prompt with the parser of its answer.
 *
 * Pure. A fact is one short sentence about a user ("Is vegetarian"), kept
 * per user across every chat (io/store.h's store_memory_*). Facts come from
 * /remember, or, with LINEBOT_MEMORY=auto, from a background model call over
 * the user's 1:1 messages (run/stage_memory.c), which answers JSON that is
 * checked here: an answer that is not exactly what was asked for is garbage,
 * and garbage writes nothing. */
#ifndef LINEBOT_MEMORY_H
#define LINEBOT_MEMORY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/models.h"

#define MEMORY_FACTS_PER_EXTRACTION 3 /* facts one extraction may add */
#define MEMORY_FACT_MAX 1000          /* bytes a fact keeps (cut between characters): 300 CJK fit */
#define MEMORY_REMEMBER_MAX 300       /* UTF-16 units /remember takes; longer is refused */
#define MEMORY_PROMPT_MAX 1000        /* UTF-16 units of facts in one system prompt */
#define MEMORY_KEEP_MAX 50            /* facts kept per user: the lowest ranked go first */
#define MEMORY_EXTRACT_TURNS 30       /* the newest unseen messages one extraction reads */
#define MEMORY_IDLE_MS (10LL * 60 * 1000) /* unseen messages this old are read anyway */

/* ---- the commands ---- */
enum memory_verb {
    MEMORY_SHOW,       /* /memory */
    MEMORY_REMEMBER,   /* /remember TEXT */
    MEMORY_FORGET_ONE, /* /forget N */
    MEMORY_FORGET_ALL, /* /forget all */
    MEMORY_OPT_OUT,    /* /memory off */
    MEMORY_OPT_IN,     /* /memory on */
    MEMORY_USAGE,      /* one of the commands, with an argument it does not take */
};

struct memory_command {
    enum memory_verb verb;
    const char *arg;   /* MEMORY_REMEMBER: the text, inside the parsed string (trimmed) */
    size_t arg_len;
    long number;       /* MEMORY_FORGET_ONE: 1-based, as /memory numbers the facts */
};

/* True when `text` (the message without the bot's mention) is /remember,
 * /memory or /forget, with a slash of either width and in any case; `out`
 * says which and with what. */
bool memory_parse_command(const char *text, struct memory_command *out);

/* `text` made fit for a system prompt: control characters and line breaks
 * become spaces, runs of spaces one, trimmed, cut at MEMORY_FACT_MAX bytes
 * between characters. NULL when nothing is left or it is not UTF-8. */
char *memory_clean_fact(const char *text, size_t len);

/* ---- the facts in the system prompt ---- */

/* What the system prompt gets about the user: `facts` in the order given
 * (the store ranks them: most confirmed, then newest), as many as fit in
 * `cap` UTF-16 units; a fact that does not fit ends the list. In a group
 * (`group`), it names the `speaker` (may be NULL) and tells the model to keep
 * them private. Starts with a blank line, to follow the prompt. malloc'd;
 * NULL when no fact fits. */
char *memory_prompt_note(const char *const *facts, size_t n, size_t cap, bool group, const char *speaker);

/* ---- extraction ---- */

/* The system prompt of an extraction (short, and recognisable by its start:
 * "You extract lasting facts about the user"). */
extern const char memory_extract_prompt[];

/* The user message of an extraction: the facts already known (not to be
 * repeated) and the user's messages, numbered from 1. malloc'd. */
char *memory_extract_input(const char *const *known, size_t n_known, const char *const *messages,
                           size_t n_messages);

struct memory_extracted {
    char *text;        /* cleaned (memory_clean_fact) */
    size_t message;    /* the message it came from: 1..n_messages */
};

/* Parses the model's answer: {"facts":[{"fact":"...","message":N}, ...]},
 * perhaps inside a Markdown code fence. The first MEMORY_FACTS_PER_EXTRACTION
 * facts are taken. Returns how many (0 for an empty list), or -1 when the
 * answer is garbage: not that JSON object, a fact that is not a non-empty
 * string, or a message number out of 1..n_messages. Then nothing is filled.
 * Free the texts with memory_extracted_free. */
int memory_parse_extraction(const char *answer, size_t n_messages,
                            struct memory_extracted out[MEMORY_FACTS_PER_EXTRACTION]);
void memory_extracted_free(struct memory_extracted *facts, size_t n);

/* The model that extracts: the catalogue's `name` when given (NULL when the
 * catalogue has no such model), else the cheapest model with both prices set
 * (input + output), else the default. */
const struct model_entry *memory_pick_model(const struct model_catalogue *c, const char *name);

#endif
