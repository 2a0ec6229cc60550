/* stage_files.c - files users send: the chat's own knowledge base (issue 13).
 *
 * A file sent in a 1:1 chat (core/chat.c: CHAT_FILE) is fetched from LINE
 * right away (LINE deletes content after a while), judged by its bytes as
 * well as its name, read and cut as `linebot kb add` does (io/kb_prepare.h),
 * and written as one document of the knowledge base named
 * KB_CHAT_PREFIX + the chat id, keyed by its file name: the same file again
 * is "unchanged", a changed one with the same name replaces it. The reply
 * names the file and its passages; later questions in the chat search it
 * together with the bound or default knowledge base (stage_retrieve.c).
 * Passages are found lexically: the bot does not embed a chat's documents.
 *
 * What cannot be added gets a short notice naming why (core/texts.h): a type
 * the knowledge base cannot read, bytes that are no such file (a .pdf that
 * is no PDF, a .txt that is no UTF-8 text), a PDF that does not parse, a
 * reader missing on this machine (pdftotext or libxml2, e.g. on Lambda),
 * content too large or expired. The bytes live only in this job.
 *
 * In groups and rooms files are not kept (group chatter is not stored): a
 * message that addresses the bot and quotes one (a message the store does
 * not know, and not one of the bot's) makes the "files" stage fetch it by
 * its id, read it by its bytes (a PDF, else UTF-8 text or HTML), and add it
 * to KB_CHAT_PREFIX + the group id, keyed "message <id>", before the
 * question is answered with it; content that is no such file leaves the
 * question to be answered alone.
 *
 * /files lists the chat's documents, /files clear removes them; unfollow
 * and leave remove them with the rest of the chat (io/kb_chat.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/sigcommon.h"
#include "core/sniff.h"
#include "core/utf8.h"
#include "io/clock.h"
#include "io/kb_chat.h"
#include "io/kb_prepare.h"
#include "io/line_content.h"
#include "obs/log.h"
#include "run/stage.h"

#define FILES_NAME_SHOWN 60 /* bytes of a file name a reply shows at most */
#define FILES_LIST_MAX 30   /* documents /files lists */
#define FILES_GROUP_MS 10000 /* a quoted group file's fetch, at most (the model's time comes after) */

/* A file name fit to show back: valid UTF-8, one line, not too long. */
static char *shown_name(const char *name)
{
    if (!name || !*name || !utf8_valid(name, strlen(name)))
        return xstrdup("file");
    char *out = xstrndup(name, utf8_prefix(name, strlen(name), FILES_NAME_SHOWN));
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    return out;
}

/* The reply is `id` in the user's language, its first "{}" filled with `a`
 * and its second with `b`. Both are found in the text first: a file name
 * may hold "{}" too. */
static enum stage_result reply(struct job_ctx *ctx, enum text_id id, const char *a, const char *b)
{
    const char *t = texts_builtin(id, gather_lang(ctx));
    const char *x = strstr(t, "{}");
    const char *y = x ? strstr(x + 2, "{}") : NULL;
    free(ctx->reply_text);
    if (!y)
        ctx->reply_text = texts_fill(t, a);
    else
        ctx->reply_text = xasprintf("%.*s%s%.*s%s%s", (int)(x - t), t, a ? a : "", (int)(y - x - 2), x + 2,
                                    b ? b : "", y + 2);
    return STAGE_NEXT;
}

/* The kind the file is: its name's, checked against its bytes. A name that
 * says PDF must hold one; bytes that are a PDF are read as one whatever the
 * name; bytes that are an image or a recording are none of the kinds. */
static enum kb_doc_kind kind_of_bytes(enum kb_doc_kind by_name, const unsigned char *data, size_t len)
{
    enum sniff_kind sniffed = sniff_kind(data, len);
    if (sniffed == SNIFF_PDF)
        return KB_DOC_PDF;
    if (by_name == KB_DOC_PDF || sniffed != SNIFF_UNKNOWN)
        return KB_DOC_UNSUPPORTED;
    return by_name;
}

/* Reads and stores the fetched file. What cannot be added gets its notice
 * (and the model is not asked); an added file gets its reply, unless
 * `quiet`: a group's question about it is then answered. */
static enum stage_result add_document(struct job_ctx *ctx, const char *name, enum kb_doc_kind kind,
                                      const struct content *got, bool quiet)
{
    char *shown = shown_name(name);
    const char *data = (const char *)got->data;
    enum kb_doc_kind real = kind_of_bytes(kind, got->data, got->len);
    if (real == KB_DOC_UNSUPPORTED) {
        log_warn("file: its bytes are no %s (%zu bytes)", kind == KB_DOC_PDF ? "PDF" : "text or HTML", got->len);
        enum stage_result r = reply(ctx, kind == KB_DOC_PDF ? TEXT_FILES_BAD_PDF : TEXT_FILES_UNREADABLE, shown, NULL);
        ctx->use_model = false;
        free(shown);
        return r;
    }
    struct kb_prepared prep;
    enum kb_prepare_fail fail;
    const char *why = kb_prepare(data, got->len, real, name, &prep, &fail);
    if (why) {
        log_warn("file: not added: it %s", why);
        enum text_id id = fail == KB_PREPARE_NO_READER ? TEXT_FILES_NO_PDF
                          : real == KB_DOC_PDF         ? TEXT_FILES_BAD_PDF
                                                       : TEXT_FILES_UNREADABLE;
        enum stage_result r = reply(ctx, id, shown, NULL);
        ctx->use_model = false;
        free(shown);
        return r;
    }
    char hash[SIG_SHA256_HEX_LEN + 1];
    if (!sig_sha256_hex(data, got->len, hash))
        alloc_fail("EVP_Digest", got->len); /* OpenSSL fails it only for want of memory */
    char *kb = kb_chat_name(ctx->ev.chat_id);
    struct kb_put put = {.kb = kb, .path = name, .title = prep.title, .content_hash = hash,
                         .bytes = (int64_t)got->len, .chunks = prep.rows, .n_chunks = prep.pieces.n};
    int64_t doc_id = 0;
    enum kb_put_status status;
    enum stage_result r;
    if (store_kb_put(ctx->env->store, &put, clock_now_ms(), &doc_id, &status) != 0) {
        log_error("file: could not store it: %s", store_last_error(ctx->env->store));
        r = reply(ctx, TEXT_FILES_FAILED, NULL, NULL);
        ctx->use_model = false;
    } else if (quiet) {
        log_info("file: document %" PRId64 " of the group, %zu passage(s), %zu bytes", doc_id, prep.pieces.n,
                 got->len);
        r = STAGE_NEXT;
    } else {
        log_info("file: document %" PRId64 " %s, %zu passage(s), %zu bytes", doc_id,
                 status == KB_ADDED ? "added" : status == KB_REPLACED ? "replaced" : "unchanged", prep.pieces.n,
                 got->len);
        char count[24];
        snprintf(count, sizeof count, "%zu", prep.pieces.n);
        r = status == KB_UNCHANGED ? reply(ctx, TEXT_FILES_UNCHANGED, shown, NULL)
                                   : reply(ctx, TEXT_FILES_ADDED, shown, count);
    }
    free(kb);
    kb_prepared_free(&prep);
    free(shown);
    return r;
}

enum stage_result stage_act_file(struct job_ctx *ctx)
{
    const struct config *cfg = ctx->env->cfg;
    const struct line_event *ev = &ctx->ev;
    const char *name = ev->file_name ? ev->file_name : "";
    enum kb_doc_kind kind = kb_doc_kind_of(name);
    if (kind == KB_DOC_UNSUPPORTED) {
        log_info("file: not a type the knowledge base reads");
        return reply(ctx, TEXT_FILES_UNSUPPORTED, NULL, NULL);
    }
    char mb[16];
    snprintf(mb, sizeof mb, "%d", cfg->max_content_mb);
    if (ev->file_size > (int64_t)cfg->max_content_mb * 1024 * 1024) { /* LINE said so: nothing is fetched */
        log_info("file: %" PRId64 " bytes, over LINEBOT_MAX_CONTENT_MB", ev->file_size);
        return reply(ctx, TEXT_CONTENT_TOO_LARGE, mb, NULL);
    }
    struct content_source src = {.message_id = ev->message_id, .external_url = ev->content_url};
    struct content_policy policy = {.max_bytes = (size_t)cfg->max_content_mb * 1024 * 1024,
                                    .allow_loopback = cfg->test_allow_loopback_content};
    struct content got;
    char err[384];
    enum content_result r =
        line_content_get(ctx->env->line, &src, &policy, generate_deadline(ctx), &got, err, sizeof err);
    if (r == CONTENT_CANCELLED) {
        log_info("shutting down: giving the event back to the inbox");
        return STAGE_RELEASE;
    }
    if (r != CONTENT_OK) {
        log_warn("file %s not fetched (%s): %s", ev->message_id ? ev->message_id : "?", content_result_name(r), err);
        return reply(ctx, fetch_content_notice(r), mb, NULL);
    }
    enum stage_result result = add_document(ctx, name, kind, &got, false);
    content_free(&got);
    return result;
}

/* A group message's bytes, which came without a name: Markdown (HTML when
 * it opens with a tag) when they are UTF-8 without NUL bytes (plain text
 * reads the same as Markdown, and a Markdown file keeps its headings);
 * PDFs are told by kind_of_bytes. KB_DOC_UNSUPPORTED for anything else. */
static enum kb_doc_kind kind_of_unnamed(const struct content *got)
{
    const char *data = (const char *)got->data;
    if (sniff_kind(got->data, got->len) != SNIFF_UNKNOWN)
        return kind_of_bytes(KB_DOC_MARKDOWN, got->data, got->len);
    if (got->len == 0 || memchr(data, '\0', got->len) || !utf8_valid(data, got->len))
        return KB_DOC_UNSUPPORTED;
    size_t i = 0;
    while (i < got->len && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' || data[i] == '\t'))
        i++;
    return i < got->len && data[i] == '<' ? KB_DOC_HTML : KB_DOC_MARKDOWN;
}

enum stage_result stage_files(struct job_ctx *ctx)
{
    const struct line_event *ev = &ctx->ev;
    struct store *st = ctx->env->store;
    if (!ctx->use_model || ev->chat_type == CHAT_USER || ev->message_kind != MESSAGE_TEXT || !ev->quoted_message_id ||
        ctx->n_images)
        return STAGE_NEXT;
    /* Group chatter is not kept: a quoted message the store does not know,
     * and not one of the bot's, may be a file. It is fetched now, used. */
    char *text = NULL;
    int known = store_message_text(st, ev->chat_id, ev->quoted_message_id, &text);
    free(text);
    if (known != 0 || store_bot_message_is(st, ev->chat_id, ev->quoted_message_id) != 0)
        return STAGE_NEXT;
    const struct config *cfg = ctx->env->cfg;
    struct content_source src = {.message_id = ev->quoted_message_id};
    struct content_policy policy = {.max_bytes = (size_t)cfg->max_content_mb * 1024 * 1024,
                                    .allow_loopback = cfg->test_allow_loopback_content};
    struct content got;
    char err[384];
    enum content_result r = line_content_get(ctx->env->line, &src, &policy, stage_call_deadline(ctx, FILES_GROUP_MS),
                                             &got, err, sizeof err);
    if (r == CONTENT_CANCELLED)
        return STAGE_RELEASE;
    if (r != CONTENT_OK) {
        log_debug("the quoted message has no content to read (%s): answering the text alone", content_result_name(r));
        return STAGE_NEXT;
    }
    enum stage_result result = STAGE_NEXT;
    enum kb_doc_kind kind = kind_of_unnamed(&got);
    if (kind == KB_DOC_UNSUPPORTED) {
        log_info("the quoted message is no file the knowledge base reads: answering the text alone");
    } else {
        char *name = xasprintf("message %s%s", ev->quoted_message_id, kind == KB_DOC_PDF ? ".pdf" : "");
        result = add_document(ctx, name, kind, &got, true);
        free(name);
    }
    content_free(&got);
    return result;
}

/* /files: the documents, numbered, with their passages. */
static enum stage_result list_documents(struct job_ctx *ctx, const struct kb_doc_info *docs, size_t n)
{
    size_t cap = 64 + n * (FILES_NAME_SHOWN + 32), len = 0, shown = 0;
    char *list = xmalloc(cap);
    list[0] = '\0';
    for (size_t i = 0; i < n && shown < FILES_LIST_MAX; i++) {
        if (!docs[i].live)
            continue;
        char *name = shown_name(docs[i].path);
        len += (size_t)snprintf(list + len, cap - len, "%s%zu. %s (%" PRId64 ")", shown ? "\n" : "", shown + 1,
                                name, docs[i].chunks);
        free(name);
        shown++;
    }
    enum stage_result r = shown ? reply(ctx, TEXT_FILES_LIST, list, NULL) : reply(ctx, TEXT_FILES_EMPTY, NULL, NULL);
    free(list);
    return r;
}

enum stage_result stage_act_files(struct job_ctx *ctx)
{
    struct store *st = ctx->env->store;
    bool clear = ctx->decision.text && strcmp(ctx->decision.text, "clear") == 0;
    if (clear) {
        int64_t removed = 0;
        if (kb_chat_forget(st, ctx->ev.chat_id, &removed) != 0) {
            log_error("/files clear: %s", store_last_error(st));
            return reply(ctx, TEXT_FILES_FAILED, NULL, NULL);
        }
        log_info("/files clear: %" PRId64 " document(s) removed", removed);
        char count[24];
        snprintf(count, sizeof count, "%" PRId64, removed);
        return reply(ctx, TEXT_FILES_CLEARED, count, NULL);
    }
    char *kb = kb_chat_name(ctx->ev.chat_id);
    struct kb_doc_info *docs = NULL;
    size_t n = 0;
    int rc = store_kb_docs(st, kb, 0, NULL, &docs, &n);
    free(kb);
    if (rc != 0) {
        log_error("/files: %s", store_last_error(st));
        return reply(ctx, TEXT_FILES_FAILED, NULL, NULL);
    }
    enum stage_result r = list_documents(ctx, docs, n);
    kb_doc_infos_free(docs, n);
    return r;
}
