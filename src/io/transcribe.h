/* transcribe.h - a voice message to text, by the catalogue's transcription
 * model (issue 13).
 *
 * Two shapes, chosen by the model's "audio_via":
 *   - "transcriptions" (the default): OpenAI's POST {base}/audio/transcriptions,
 *     multipart with `file` (named voice.m4a, audio/mp4: LINE records m4a,
 *     and OpenAI judges the format by the file name) and `model`; the answer
 *     is JSON {"text": ...} with an optional "usage";
 *   - "chat": POST {base}/chat/completions with one user message holding the
 *     part {"type":"input_audio","input_audio":{"data":"data:audio/mp4;
 *     base64,..."}}; the transcript is choices[0].message.content. This is
 *     DashScope's compatible mode for qwen3-asr-flash (OpenAI's own
 *     input_audio takes only wav and mp3).
 * Thin, like llm.h: nothing is logged; `err` says why, never the key. */
#ifndef LINEBOT_TRANSCRIBE_H
#define LINEBOT_TRANSCRIBE_H

#include <stddef.h>
#include <stdint.h>

#include "core/models.h"
#include "core/voice.h"
#include "io/llm.h"

enum transcribe_result {
    TRANSCRIBE_OK,
    TRANSCRIBE_EMPTY,     /* the service heard no words */
    TRANSCRIBE_REFUSED,   /* a 4xx other than 408, 409 and 429: the recording (or the request) refused */
    TRANSCRIBE_FAILED,    /* no usable answer in time: 5xx, timeouts, garbage */
    TRANSCRIBE_CANCELLED, /* the client's cancel flag was set (shutdown) */
};

/* Transcribes the `len` bytes of m4a at `data` with `model` before
 * `deadline_ms` (clock_monotonic_ms). On TRANSCRIBE_OK `out` holds the
 * transcript and what the service said of its usage (-1 each when nothing);
 * free it with voice_transcript_free whatever the result. */
enum transcribe_result transcribe_audio(struct llm_client *llm, const struct model_entry *model, const void *data,
                                        size_t len, int64_t deadline_ms, struct voice_transcript *out, char *err,
                                        size_t errlen);

const char *transcribe_result_name(enum transcribe_result r);

#endif
