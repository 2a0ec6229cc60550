/* vision_retry.c - the kill -9 between fetch and answer case of the
 * serverless tests (see vision_retry.h). */
#include "vision_retry.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e_util.h"
#include "fake_line.h"
#include "fake_llm.h"
#include "media.h"

void vision_retry_setup(struct world *w, struct vision_retry *v, const char *user, const char *message_id)
{
    memset(v, 0, sizeof(*v));
    v->user = user;
    v->models = e2e_printf("LINEBOT_MODELS=[{\"name\":\"eye\",\"model\":\"model-eye\",\"provider\":\"custom\","
                           "\"base_url\":\"%s\",\"api_key_env\":\"KEY_A\",\"vision\":true}]",
                           fake_llm_base_url(w->llm));
    v->jpeg = media_jpeg(&v->len);
    fake_line_set_content(w->line, message_id, v->jpeg, v->len, "image/jpeg", 0);
    fake_llm_push_answer(w->llm, VISION_RETRY_ANSWER, 0); /* the killed attempt */
    fake_llm_push_answer(w->llm, VISION_RETRY_ANSWER, 0); /* the retry */
    v->ev = ev_message(w, &(struct ev){.user = user, .message_type = "image", .message_id = message_id});
}

const char *const *vision_retry_env(struct vision_retry *v, bool kill)
{
    size_t n = 0;
    v->env[n++] = v->models;
    v->env[n++] = "KEY_A=" E2E_LLM_KEY;
    v->env[n++] = "LINEBOT_LANG=en";
    v->env[n++] = "LINEBOT_PUSH_FALLBACK=1";
    if (kill)
        v->env[n++] = "LINEBOT_FAILPOINT=worker_after_llm";
    v->env[n] = NULL;
    return v->env;
}

void vision_retry_assert_answered_once(struct world *w, struct vision_retry *v)
{
    size_t n = world_answers_grace(w, v->user, 1, 2000);
    if (n != 1) {
        char *t = world_texts(w, v->user);
        fail_msg("after a kill -9 between fetch and answer: want exactly 1 answer, got %zu:\n%s", n, t);
    }
    struct fake_line_message m;
    assert_true(fake_line_message_at(w->line, fake_line_message_count(w->line) - 1, &m));
    assert_string_equal(m.text, VISION_RETRY_ANSWER);

    assert_int_equal(fake_llm_request_count(w->llm), 2);
    struct fake_llm_image got[2];
    size_t count = fake_llm_request_images(w->llm, 1, got, 2);
    assert_int_equal(count, 1);
    assert_string_equal(got[0].mime, "image/jpeg");
    assert_true(got[0].len == v->len && memcmp(got[0].data, v->jpeg, v->len) == 0);
    fake_llm_images_free(got, count);
}

void vision_retry_free(struct vision_retry *v)
{
    free(v->jpeg);
    free(v->models);
    memset(v, 0, sizeof(*v));
}
