/* vision_retry.h - the "killed between fetching an image and answering it"
 * case, shared by the Lambda and the FC tests.
 *
 * A vision model from a one-item catalogue, a JPEG on the fake LINE, the
 * model's answer queued twice (the killed attempt and its retry), and the
 * checks that the retry answered exactly once, from the same bytes fetched
 * again. Each platform test drives its own kill and retry in between. */
#ifndef E2E_VISION_RETRY_H
#define E2E_VISION_RETRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "harness.h"

#define VISION_RETRY_ANSWER "A picture."

struct vision_retry {
    char *models;           /* LINEBOT_MODELS=… naming the fake LLM */
    unsigned char *jpeg;    /* the image, as the fake LINE serves it */
    size_t len;
    const char *user;       /* who sends the image */
    json_t *ev;             /* the image message event */
    const char *env[6];     /* for the bot: see vision_retry_env */
};

/* Sets up the model, the content under `message_id` and the event from
 * `user`. */
void vision_retry_setup(struct world *w, struct vision_retry *v, const char *user, const char *message_id);
/* The bot's extra environment; with `kill`, the failpoint that kills it
 * right after the model answered. */
const char *const *vision_retry_env(struct vision_retry *v, bool kill);
/* After the retry: exactly one answer to the user, the model's, and the
 * model asked twice, the second time with the same JPEG bytes. */
void vision_retry_assert_answered_once(struct world *w, struct vision_retry *v);
void vision_retry_free(struct vision_retry *v);

#endif
