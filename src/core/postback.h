/* postback.h - the one format of the data the bot's buttons carry back.
 *
 * Every postback button the bot sends (the /model and /persona buttons;
 * later the budget ones) carries `data` of the form
 *
 *   v1|<kind>|<argument>          e.g.  v1|m|gpt-4o
 *
 * short (LINE allows 300 characters), versioned (a later release can change
 * the format and still read, or knowingly ignore, old buttons that are still
 * on people's screens), and opaque to users (the displayText is what they
 * see). The data comes back from the network like any input: whoever sends
 * the webhook can put anything in it, so the parser is strict, and the
 * caller checks the argument against the current state (a model that is no
 * longer in the catalogue is refused like a forged one). Pure. */
#ifndef LINEBOT_POSTBACK_H
#define LINEBOT_POSTBACK_H

#include <stdbool.h>
#include <stddef.h>

#define POSTBACK_ARG_MAX 256 /* leaves room for "v1|k|" under LINE's 300 */

enum postback_kind {
    POSTBACK_UNKNOWN = 0,
    POSTBACK_MODEL, /* 'm': switch the chat to the model named by the argument */
    POSTBACK_PERSONA, /* 'p': give the chat the persona preset named by the argument */
    POSTBACK_ANSWER, /* 'a': take over the parked answer of the event id in the argument
                        (run/stage_deliver.c; the older "linebot:answer=<id>" is read too) */
};

struct postback {
    enum postback_kind kind;
    char arg[POSTBACK_ARG_MAX + 1];
};

/* Writes the data for `kind` with `arg` into `out`. Returns 0, or -1 when
 * `arg` is empty, too long, or holds a byte outside printable ASCII or '|'. */
int postback_format(enum postback_kind kind, const char *arg, char *out, size_t outlen);

/* Reads `data` (may be NULL). Returns 0 with `out` filled, or -1 when it is
 * not exactly a v1 datum of a known kind with a well-formed argument. */
int postback_parse(const char *data, struct postback *out);

/* True when `data` starts like the bot's own format (any version), the cheap
 * check for whether a postback is worth queueing. */
bool postback_is_ours(const char *data);

#endif
