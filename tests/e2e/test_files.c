/* test_files.c - files users send, with the real binary (issue 13).
 *
 * The fake LINE serves the files' bytes (a PDF written here by hand, UTF-8
 * text) at /v2/bot/message/{id}/content, and 404 for what it does not have.
 * The oracles: the texts LINE delivered (the file's name and its passages,
 * each bad input's notice naming its reason), and the transcript of what
 * the model saw: a later question gets the file's passage as a numbered
 * source, and the answer ends with the sources. The text file's case runs
 * on SQLite and on PostgreSQL (LINEBOT_TEST_PG_URL). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "media.h"
#include "pg_scratch.h"

#define USER_A "Ue2e0000000000000000000000000000a"
#define USER_B "Ue2e0000000000000000000000000000b"

static json_t *file_event(struct world *w, const char *user, const char *id, const char *name, size_t size)
{
    json_t *ev = ev_message(w, &(struct ev){.user = user, .message_type = "file", .message_id = id});
    json_t *msg = json_object_get(ev, "message");
    json_object_set_new(msg, "fileName", json_string(name));
    json_object_set_new(msg, "fileSize", json_integer((json_int_t)size));
    return ev;
}

static void send_file(struct world *w, const char *user, const char *id, const char *name, const void *data,
                      size_t len, const char *type)
{
    if (data)
        fake_line_set_content(w->line, id, data, len, type, 0);
    send_event(w, file_event(w, user, id, name, len));
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static const char notes[] = "# Garden notes\n\nThe lemon tree is watered every Tuesday with rainwater.\n";

/* A .txt file: its reply names it and its passages; a later question gets
 * its passage as a source; the same file again is unchanged; /files lists
 * it, /files clear removes it, and questions no longer see it. */
static void text_file_then_question(void **state, const char *db)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_LANG=en", db, NULL});
    send_file(w, USER_A, "f-1", "garden.md", notes, strlen(notes), "text/markdown");
    assert_answers(w, USER_A, 1);
    char *texts = world_texts(w, USER_A);
    assert_contains(texts, "I've read \"garden.md\" (1 passage(s)). You can now ask me about it.");
    free(texts);
    assert_int_equal(fake_llm_request_count(w->llm), 0);

    fake_llm_set_fixed_answer(w->llm, "Every Tuesday [1].");
    send_text(w, USER_A, "when is the lemon tree watered?");
    assert_answers(w, USER_A, 2);
    char *tr = fake_llm_request_transcript(w->llm, 0);
    assert_contains(tr, "[1] Garden notes");
    assert_contains(tr, "watered every Tuesday with rainwater");
    free(tr);
    texts = world_texts(w, USER_A);
    assert_contains(texts, "Every Tuesday [1].");
    assert_contains(texts, "[1] Garden notes");
    free(texts);

    /* Another user's chat does not see it. */
    fake_llm_set_fixed_answer(w->llm, "I don't know.");
    send_text(w, USER_B, "when is the lemon tree watered?");
    assert_answers(w, USER_B, 1);
    tr = fake_llm_request_transcript(w->llm, 1);
    assert_not_contains(tr, "rainwater");
    free(tr);

    send_file(w, USER_A, "f-2", "garden.md", notes, strlen(notes), "text/markdown");
    assert_answers(w, USER_A, 3);
    texts = world_texts(w, USER_A);
    assert_contains(texts, "I already have \"garden.md\" and it hasn't changed.");
    free(texts);

    send_text(w, USER_A, "/files");
    assert_answers(w, USER_A, 4);
    texts = world_texts(w, USER_A);
    assert_contains(texts, "Documents in this chat:\n1. garden.md (1)\nSend /files clear to remove them.");
    free(texts);

    send_text(w, USER_A, "/files clear");
    assert_answers(w, USER_A, 5);
    texts = world_texts(w, USER_A);
    assert_contains(texts, "Done: I removed 1 document(s) from this chat.");
    free(texts);
    send_text(w, USER_A, "/files");
    assert_answers(w, USER_A, 6);
    texts = world_texts(w, USER_A);
    assert_contains(texts, "There are no documents in this chat.");
    free(texts);

    size_t before = fake_llm_request_count(w->llm);
    send_text(w, USER_A, "when is the lemon tree watered?");
    assert_answers(w, USER_A, 7);
    tr = fake_llm_request_transcript(w->llm, before);
    assert_not_contains(tr, "rainwater");
    free(tr);

    /* `linebot admin forget` of the user drops the chat's documents too. */
    send_file(w, USER_A, "f-3", "garden.md", notes, strlen(notes), "text/markdown");
    assert_answers(w, USER_A, 8);
    char *out = NULL, *err = NULL;
    assert_int_equal(bot_run(w, (const char *[]){"admin", "forget", USER_A, "--json", NULL},
                             db ? (const char *[]){db, NULL} : NULL, &out, &err),
                     0);
    json_t *forgot = json_loads(out, 0, NULL);
    assert_non_null(forgot);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(forgot, "removed"), "documents")), 1);
    json_decref(forgot);
    free(out);
    free(err);
    send_text(w, USER_A, "/files");
    assert_answers(w, USER_A, 9);
    texts = world_texts(w, USER_A);
    assert_int_equal(count_of(texts, "There are no documents in this chat."), 2); /* after clear, after forget */
    free(texts);
    world_finish(w);
}

static void test_text_file_sqlite(void **state) { text_file_then_question(state, NULL); }
static void test_text_file_postgres(void **state) { pg_scratch_run(state, "files", text_file_then_question); }

static const char *const guide_pages[] = {
    "Aquarium visitor guide\nThe otters are fed at three in the afternoon.",
    "Tickets\nA day ticket costs nine euros.",
};

/* A PDF: read by pdftotext, asked about; a corrupt one gets its notice. */
static void test_pdf_file(void **state)
{
    if (!media_have_pdftotext())
        skip();
    struct world *w = world_start(state, (const char *[]){"LINEBOT_LANG=en", NULL});
    size_t len = 0;
    char *pdf = media_pdf(guide_pages, 2, &len);
    send_file(w, USER_A, "p-1", "guide.pdf", pdf, len, "application/pdf");
    assert_answers(w, USER_A, 1);
    char *texts = world_texts(w, USER_A);
    assert_contains(texts, "I've read \"guide.pdf\"");
    free(texts);

    fake_llm_set_fixed_answer(w->llm, "Nine euros [1].");
    send_text(w, USER_A, "how much is a day ticket?");
    assert_answers(w, USER_A, 2);
    char *tr = fake_llm_request_transcript(w->llm, 0);
    assert_contains(tr, "A day ticket costs nine euros.");
    free(tr);
    texts = world_texts(w, USER_A);
    assert_contains(texts, "[1] Aquarium visitor guide");
    free(texts);

    send_file(w, USER_A, "p-2", "broken.pdf", pdf, len / 3, "application/pdf");
    assert_answers(w, USER_A, 3);
    texts = world_texts(w, USER_A);
    assert_contains(texts, "Sorry, I couldn't read the PDF \"broken.pdf\"");
    free(texts);
    free(pdf);

    /* unfollow deletes the chat's documents. */
    send_event(w, ev_unfollow(w, &(struct ev){.user = USER_A}));
    world_quiet(w);
    send_text(w, USER_A, "/files");
    assert_answers(w, USER_A, 4);
    texts = world_texts(w, USER_A);
    assert_contains(texts, "There are no documents in this chat.");
    free(texts);
    world_finish(w);
}

/* Files that cannot be added, each with the notice that names why. */
static const struct bad_file {
    const char *id, *name, *data;
    size_t len;
    const char *type, *says;
} bad_files[] = {
    {"b-1", "sheet.xlsx", "PK\x03\x04", 4, "application/octet-stream",
     "Sorry, I can only read .txt, .md, .html and .pdf files."},
    /* a .pdf that is no PDF: the bytes say so, whatever the name */
    {"b-2", "fake.pdf", "just text", 9, "application/pdf", "Sorry, I couldn't read the PDF \"fake.pdf\""},
    /* a .txt that is no UTF-8 */
    {"b-3", "latin.txt", "caf\xe9 au lait", 12, "text/plain",
     "Sorry, I couldn't read \"latin.txt\": it isn't UTF-8 text or HTML."},
    /* expired: LINE no longer has it */
    {"b-5", "gone.txt", NULL, 0, NULL, "Sorry, LINE no longer has that file"},
};

/* Each file that cannot be added gets a notice naming why, and no model call. */
static void test_bad_files(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_LANG=en", "LINEBOT_MAX_CONTENT_MB=1", NULL});
    size_t n_bad = sizeof bad_files / sizeof bad_files[0];
    for (size_t i = 0; i < n_bad; i++) {
        const struct bad_file *f = &bad_files[i];
        send_file(w, USER_A, f->id, f->name, f->data, f->len, f->type);
        assert_answers(w, USER_A, i + 1);
        struct fake_line_message last; /* this file's notice, not an earlier one's */
        assert_true(fake_line_message_at(w->line, fake_line_message_count(w->line) - 1, &last));
        assert_contains(last.text, f->says);
    }
    char *texts;

    /* too large: as LINE's fileSize says (nothing fetched), or as the bytes
     * turn out when fileSize understates them (the fetch stops at the cap) */
    size_t big = 1024 * 1024 + 10;
    char *data = malloc(big);
    memset(data, 'a', big);
    send_file(w, USER_A, "b-4", "big.txt", data, big, "text/plain");
    assert_answers(w, USER_A, n_bad + 1);
    assert_int_equal(fake_line_request_count(w->line, "GET", "/v2/bot/message/b-4/content"), 0);
    texts = world_texts(w, USER_A);
    assert_contains(texts, "Sorry, that file is too large for me. The limit is 1 MB.");
    free(texts);
    fake_line_set_content(w->line, "b-4b", data, big, "text/plain", 0);
    send_event(w, file_event(w, USER_A, "b-4b", "big.txt", 100));
    free(data);
    assert_answers(w, USER_A, n_bad + 2);
    assert_int_equal(fake_line_request_count(w->line, "GET", "/v2/bot/message/b-4b/content"), 1);
    texts = world_texts(w, USER_A);
    assert_int_equal(count_of(texts, "Sorry, that file is too large for me. The limit is 1 MB."), 2);
    free(texts);

    assert_int_equal(fake_llm_request_count(w->llm), 0);
    send_text(w, USER_A, "/files");
    assert_answers(w, USER_A, n_bad + 3);
    texts = world_texts(w, USER_A);
    assert_contains(texts, "There are no documents in this chat.");
    free(texts);

    /* A name is shown as sent, even with the "{}" the texts fill. */
    send_file(w, USER_A, "b-6", "odd {} name.txt", "Plain words.", 12, "text/plain");
    assert_answers(w, USER_A, n_bad + 4);
    texts = world_texts(w, USER_A);
    assert_contains(texts, "I've read \"odd {} name.txt\" (1 passage(s)).");
    free(texts);
    send_text(w, USER_A, "/files");
    assert_answers(w, USER_A, n_bad + 5);
    texts = world_texts(w, USER_A);
    assert_contains(texts, "1. odd {} name.txt (1)\nSend /files clear");
    free(texts);
    world_finish(w);
}

#define GROUP "Ce2e00000000000000000000000000001"

/* In a group a file alone is chatter: not fetched, not answered. A message
 * addressing the bot that quotes it adds it to the group's documents, and
 * the question is answered from it. */
static void test_group_quote_adds(void **state)
{
    struct world *w = world_start(state, (const char *[]){"LINEBOT_LANG=en", "LINEBOT_TRIGGER=bot", NULL});
    fake_line_set_content(w->line, "g-1", notes, strlen(notes), "text/plain", 0);
    json_t *ev = file_event(w, USER_A, "g-1", "garden.md", strlen(notes));
    json_t *source = json_object_get(ev, "source");
    json_object_set_new(source, "type", json_string("group"));
    json_object_set_new(source, "groupId", json_string(GROUP));
    send_event(w, ev);
    world_quiet(w);
    assert_int_equal(fake_line_request_count(w->line, "GET", "/v2/bot/message/g-1/content"), 0);
    assert_answers(w, GROUP, 0);

    fake_llm_set_fixed_answer(w->llm, "On Tuesdays [1].");
    send_event(w, ev_message(w, &(struct ev){.user = USER_B, .group = GROUP, .text = "bot when is the lemon tree watered?",
                                             .quoted_message_id = "g-1"}));
    assert_answers(w, GROUP, 1);
    char *tr = fake_llm_request_transcript(w->llm, 0);
    assert_contains(tr, "watered every Tuesday with rainwater");
    free(tr);
    char *texts = world_texts(w, GROUP);
    assert_contains(texts, "[1] Garden notes");
    free(texts);

    /* Later questions in the group find it without quoting it. */
    send_event(w, ev_message(w, &(struct ev){.user = USER_B, .group = GROUP, .text = "bot what about the lemon tree?"}));
    assert_answers(w, GROUP, 2);
    tr = fake_llm_request_transcript(w->llm, 1);
    assert_contains(tr, "watered every Tuesday with rainwater");
    free(tr);

    /* Quoting a message without content: the text is answered alone. */
    send_event(w, ev_message(w, &(struct ev){.user = USER_B, .group = GROUP, .text = "bot and this?",
                                             .quoted_message_id = "no-such"}));
    assert_answers(w, GROUP, 3);
    world_finish(w);
}

int main(void)
{
    if (!pg_scratch_url())
        fprintf(stderr, "[  SKIPPED ] PostgreSQL cases: LINEBOT_TEST_PG_URL is not set\n");
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_text_file_sqlite),
        E2E_TEST(test_text_file_postgres),
        E2E_TEST(test_pdf_file),
        E2E_TEST(test_bad_files),
        E2E_TEST(test_group_quote_adds),
    };
    return E2E_RUN(tests);
}
