/* kb_answer.h - answering from the knowledge base (issue 12): the passages
 * found for a question, as numbered sources for the model, and the plain
 * text list of sources that ends the reply.
 *
 * Pure. The worker's retrieve stage searches the store; this decides what
 * of it goes into the prompt (in rank order, whole passages within a
 * character budget), what the model is told (answer from the sources,
 * cite them as [n]), and which sources the reply lists: those the answer
 * cites, else the first one to three it was given. */
#ifndef LINEBOT_KB_ANSWER_H
#define LINEBOT_KB_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#define KB_SOURCES_MAX 8         /* passages at most in a prompt */
#define KB_SOURCES_BUDGET 4000   /* characters of passages at most in a prompt */
#define KB_UNCITED_LISTED 3      /* sources listed when the answer cites none */

struct kb_source {
    const char *title;    /* the document's title, or its path or URL */
    const char *heading;  /* "" when none */
    const char *body;
};

/* How many of the `n` sources (best first) go into the prompt: at most
 * KB_SOURCES_MAX, whole, and together at most `budget` characters; the
 * first always does (cut by kb_answer_context if it is longer). */
size_t kb_answer_pick(const struct kb_source *src, size_t n, size_t budget);

/* The text that goes to the model with the question: the instruction and
 * the numbered sources "[1] title > heading" and their passages. malloc'd. */
char *kb_answer_context(const struct kb_source *src, size_t n, size_t budget);

/* Which of the sources 1..n the answer cites as [n] (also [1][2], [1, 2]
 * and full-width ［１］): cited[0..n) set. Returns how many are cited. */
size_t kb_answer_cited(const char *answer, size_t n, bool *cited);

/* The list that ends the reply: "\n\n<label>\n[1] title\n[3] title", the
 * cited sources, else the first KB_UNCITED_LISTED given; "" when n is 0.
 * malloc'd. */
char *kb_answer_footer(const char *label, const struct kb_source *src, size_t n, const char *answer);

#endif
