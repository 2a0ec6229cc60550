/* voice.h - voice messages (issue 13): what a transcription service answered,
 * what a recording costs when the service does not say, and the line that
 * shows the user what was understood.
 *
 * Pure. The transcription call itself is io/transcribe.c; the stage that
 * fetches, transcribes and hands the transcript on is run/stage_transcribe.c. */
#ifndef LINEBOT_VOICE_H
#define LINEBOT_VOICE_H

#include <stddef.h>
#include <stdint.h>

/* The most of a transcript that is kept (bytes, cut between characters): a
 * recording within LINEBOT_MAX_AUDIO_S says far less; more is a hostile or
 * broken answer, and the model need not read it. */
#define VOICE_TRANSCRIPT_MAX 8000
/* Characters of the transcript shown in the answer's first line. */
#define VOICE_LINE_CHARS 60
/* The estimate for a recording when the provider reports no usage: audio
 * models count about 25 tokens per second of speech (Qwen's audio encoder:
 * one token per 40 ms; OpenAI's audio input is of the same order). */
#define VOICE_TOKENS_PER_SECOND 25

/* What an OpenAI-compatible POST /audio/transcriptions answered. */
struct voice_transcript {
    char *text;                /* valid UTF-8, trimmed, non-empty, at most VOICE_TRANSCRIPT_MAX bytes */
    int64_t prompt_tokens;     /* usage: input_tokens (or prompt_tokens); -1 when absent */
    int64_t completion_tokens; /* usage: output_tokens (or completion_tokens); -1 when absent */
    int64_t seconds;           /* usage {"type":"duration","seconds":N} (whisper-1), rounded up; -1 when absent */
};
void voice_transcript_free(struct voice_transcript *t);

/* Reads {"text": "...", "usage": {...}} from a 200 body (hostile: every field
 * checked for its type). Returns 0, 1 when the text is empty (nothing was
 * heard), or -1 with a short reason in `err` (no body content). */
int voice_parse_transcription(const char *body, size_t len, struct voice_transcript *out, char *err, size_t errlen);

/* `text` made fit to keep: invalid UTF-8 repaired, trimmed, cut to
 * VOICE_TRANSCRIPT_MAX bytes between characters (malloc'd; "" when nothing
 * is left). */
char *voice_clean_text(const char *text);

/* The estimated tokens of a recording of `duration_ms` (VOICE_TOKENS_PER_
 * SECOND, a started second counting whole); at least 1. */
int64_t voice_estimate_tokens(int64_t duration_ms);

/* The answer's first line: 🎤 "transcript", on one line (line breaks and
 * runs of spaces become one space), cut to VOICE_LINE_CHARS characters
 * with "…" when longer (malloc'd). */
char *voice_transcript_line(const char *transcript);

#endif
