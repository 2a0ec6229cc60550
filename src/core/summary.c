/* summary.c - the rolling summary of a long chat (see summary.h).
 *
 * A fold leaves half of what the prompt may hold, so a busy chat costs one
 * background call every few exchanges rather than one per answer. */
#include "core/summary.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/format.h"
#include "core/utf8.h"

/* A turn as the prompt counts it: its text and speaker, in UTF-16 units. */
static size_t turn_cost(const struct turn *t)
{
    return (t->text ? utf16_len(t->text, strlen(t->text)) : 0) +
           (t->speaker ? utf16_len(t->speaker, strlen(t->speaker)) + 2 : 0);
}

size_t summary_fold_count(const struct turn *turns, size_t n, int max_turns, int max_chars)
{
    if (max_turns <= 0 || max_chars <= 0 || n == 0)
        return 0;
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        chars += turn_cost(&turns[i]);
    if (n <= (size_t)max_turns * 2 && chars <= (size_t)max_chars)
        return 0;
    /* Keep the newest turns within half of both limits. */
    size_t keep = 0, kept_chars = 0;
    while (keep < n && keep < (size_t)max_turns) {
        size_t cost = turn_cost(&turns[n - 1 - keep]);
        if (kept_chars + cost > (size_t)max_chars / 2)
            break;
        kept_chars += cost;
        keep++;
    }
    size_t fold = n - keep;
    while (fold < n && turns[fold].role == TURN_ASSISTANT)
        fold++;
    return fold;
}

const char summary_prompt[] =
    "You keep a running summary of a chat conversation, so that it can go on after its older messages are "
    "dropped. Merge the summary so far with the new messages into one updated summary: who said what that "
    "still matters, facts, decisions, open questions. Plain text, at most 150 words, in the language of the "
    "conversation. Answer with the summary only.";

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

char *summary_input(const char *summary, const struct turn *turns, size_t n)
{
    struct buf b;
    buf_init(&b, SIZE_MAX);
    if (summary && summary[0])
        addf(&b, "Summary so far:\n%s\n\n", summary);
    addf(&b, "New messages:\n");
    for (size_t i = 0; i < n; i++) {
        const struct turn *t = &turns[i];
        const char *who = t->role == TURN_ASSISTANT ? "Assistant"
                          : t->speaker && t->speaker[0] ? t->speaker
                                                         : "User";
        addf(&b, "%s: %s\n", who, t->text ? t->text : "");
    }
    return buf_take(&b, NULL);
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

char *summary_clean(const char *answer)
{
    if (!answer)
        return NULL;
    size_t len = strlen(answer);
    if (!utf8_valid(answer, len))
        return NULL;
    while (len > 0 && is_space(*answer)) {
        answer++;
        len--;
    }
    len = utf8_prefix(answer, len, SUMMARY_MAX);
    while (len > 0 && is_space(answer[len - 1]))
        len--;
    return len ? xstrndup(answer, len) : NULL;
}

char *summary_prompt_note(const char *summary)
{
    return xasprintf("\n\nSummary of the earlier conversation in this chat (older messages are not shown):\n%s",
                     summary);
}
