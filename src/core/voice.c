/* voice.c - transcription answers, estimates and the transcript line (see
 * voice.h). */
#include "core/voice.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/utf8.h"

void voice_transcript_free(struct voice_transcript *t)
{
    if (!t)
        return;
    free(t->text);
    t->text = NULL;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char *voice_clean_text(const char *text)
{
    char *clean = utf8_sanitize(text ? text : "", text ? strlen(text) : 0);
    size_t start = 0, end = strlen(clean);
    while (start < end && is_space((unsigned char)clean[start]))
        start++;
    end = start + utf8_prefix(clean + start, end - start, VOICE_TRANSCRIPT_MAX);
    while (end > start && is_space((unsigned char)clean[end - 1]))
        end--;
    char *out = xstrndup(clean + start, end - start);
    free(clean);
    return out;
}

/* A non-negative integer (or a number, rounded up) at `key`, else -1. */
static int64_t count_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        return json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -1;
    if (json_is_real(v)) {
        double d = json_real_value(v);
        return d >= 0 && d < 1e12 ? (int64_t)d + (d > (double)(int64_t)d) : -1;
    }
    return -1;
}

int voice_parse_transcription(const char *body, size_t len, struct voice_transcript *out, char *err, size_t errlen)
{
    *out = (struct voice_transcript){.prompt_tokens = -1, .completion_tokens = -1, .seconds = -1};
    json_t *root = json_loadb(body ? body : "", len, 0, NULL);
    const char *text = json_string_value(json_object_get(root, "text"));
    if (!json_is_object(root) || !text) {
        snprintf(err, errlen, "the transcription answer has no \"text\" string");
        json_decref(root);
        return -1;
    }
    out->text = voice_clean_text(text);
    const json_t *usage = json_object_get(root, "usage");
    out->prompt_tokens = count_at(usage, "input_tokens");
    if (out->prompt_tokens < 0)
        out->prompt_tokens = count_at(usage, "prompt_tokens");
    out->completion_tokens = count_at(usage, "output_tokens");
    if (out->completion_tokens < 0)
        out->completion_tokens = count_at(usage, "completion_tokens");
    out->seconds = count_at(usage, "seconds");
    json_decref(root);
    if (!out->text[0]) {
        snprintf(err, errlen, "the transcript is empty");
        return 1;
    }
    return 0;
}

int64_t voice_estimate_tokens(int64_t duration_ms)
{
    if (duration_ms <= 0)
        return 1;
    int64_t seconds = duration_ms / 1000 + (duration_ms % 1000 != 0);
    return seconds * VOICE_TOKENS_PER_SECOND;
}

char *voice_transcript_line(const char *transcript)
{
    char *clean = voice_clean_text(transcript);
    /* One line: every run of white space is one space. */
    size_t n = 0;
    for (size_t i = 0; clean[i]; i++) {
        if (is_space((unsigned char)clean[i])) {
            if (n && clean[n - 1] != ' ')
                clean[n++] = ' ';
        } else {
            clean[n++] = clean[i];
        }
    }
    clean[n] = '\0';
    bool cut = utf8_chars(clean, n) > VOICE_LINE_CHARS;
    if (cut) {
        n = utf8_chars_prefix(clean, n, VOICE_LINE_CHARS - 1);
        while (n && clean[n - 1] == ' ')
            n--;
    }
    char *line = xasprintf("\xF0\x9F\x8E\xA4 \"%.*s%s\"", (int)n, clean, cut ? "\xE2\x80\xA6" : "");
    free(clean);
    return line;
}
