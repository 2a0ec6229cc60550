/* fuzz_completion.c - libFuzzer target for the LLM response parser:
 * completion_parse_response, completion_parse_meta, completion_strip_think
 * and completion_error_hint.
 *
 * The whole input is a response body (an exact-size copy, so reading past its
 * length is caught). Beyond "no crash, no leak, no UB", it checks what callers
 * rely on:
 *   - a parsed answer is non-empty, valid UTF-8, and has no surrounding
 *     whitespace; on failure there is a reason and no answer;
 *   - stripping <think> never grows the text, keeps valid UTF-8 valid (tags are
 *     ASCII, so no cut lands inside a character), and leaves text without a
 *     tag unchanged;
 *   - the usage counts are -1 or not negative;
 *   - a 400's hint is NULL or one of the fixed texts, which name a setting. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/completion.h"
#include "core/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_ws(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static void check_strip(const uint8_t *data, size_t size)
{
    char *text = xstrndup((const char *)data, size); /* stops at the first NUL */
    size_t len = strlen(text);
    char *clean = completion_strip_think(text);
    if (clean == NULL || strlen(clean) > len)
        abort();
    if (utf8_valid(text, len) && !utf8_valid(clean, strlen(clean)))
        abort();
    if (strstr(text, "<think>") == NULL && strstr(text, "</think>") == NULL && strcmp(clean, text) != 0)
        abort();
    free(clean);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool started;
    if (!started) {
        alloc_init(); /* jansson allocates as in the binary: failure aborts */
        started = true;
    }
    char *body = xmalloc(size ? size : 1);
    memcpy(body, data, size);

    char *answer = NULL;
    char err[128] = "";
    int rc = completion_parse_response(body, size, &answer, err, sizeof err);
    if (rc == 0) {
        size_t n = answer ? strlen(answer) : 0;
        if (n == 0 || !utf8_valid(answer, n) || is_ws(answer[0]) || is_ws(answer[n - 1]))
            abort();
    } else if (rc != -1 || answer != NULL || err[0] == '\0') {
        abort();
    }
    free(answer);

    struct completion_meta meta;
    completion_parse_meta(body, size, &meta);
    if (meta.prompt_tokens < -1 || meta.completion_tokens < -1 || meta.total_tokens < -1)
        abort();
    if (meta.model != NULL && !utf8_valid(meta.model, strlen(meta.model)))
        abort();
    free(meta.model);

    /* A 400's hint is one of the fixed texts, each naming the setting that
     * changes the parameter (never a piece of the body). */
    const char *hint = completion_error_hint(body, size);
    if (hint != NULL && strstr(hint, "LINEBOT_") == NULL && strstr(hint, "LLM_") == NULL)
        abort();

    check_strip(data, size);
    free(body);
    return 0;
}
