/* admin.c - `linebot admin`: what the bot keeps, for the operator.
 *
 * Five commands on the store named by LINEBOT_DB (SQLite or PostgreSQL, the
 * same operations of io/store.h on both):
 *   stats            events, answers, apologies, failures and tokens per day and model
 *   chats            every chat: id, type, last activity, model, persona, messages, events
 *   history CHAT_ID  the chat's turns, oldest first
 *   forget ID        everything kept about a user or a chat: the documents the
 *                    chat sent (io/kb_chat.h), one by one, then the rest in one
 *                    transaction
 *   export CHAT_ID   the chat and its history as one JSON object
 *
 * Output is an aligned table, or JSON with --json (stats, chats and history:
 * one array of objects; forget and export: one object). What is printed came
 * from LINE users, so a table never passes their control characters to the
 * terminal (an escape sequence in a message must not drive the operator's
 * terminal): they are shown as U+FFFD. JSON escapes them itself.
 *
 * The persona of a chat is its preset's name, "(custom)" for a text of its
 * own, or "-" (null) for the default. The model of a chat is the one that
 * answered last. */
#include "cli/admin.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <utf8proc.h>

#include "cli/cli_store.h"
#include "cli/term_text.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/utf8.h"
#include "io/kb_chat.h"
#include "io/store.h"

const char cli_admin_usage[] =
    "Usage: linebot admin [--json] COMMAND\n"
    "\n"
    "What the bot keeps in its store (LINEBOT_DB, as for `linebot serve`):\n"
    "  stats            events, answers, apologies, failures and tokens, per day and model\n"
    "  chats            every chat: id, type, last activity, model, persona, messages, events\n"
    "  history CHAT_ID  the chat's history, oldest first\n"
    "  forget ID        erase everything kept about a user or a chat (one transaction)\n"
    "  export CHAT_ID   the chat and its history as one JSON object\n"
    "\n"
    "--json prints JSON instead of a table: an array of objects (stats, chats, history),\n"
    "or one object (forget, export).\n";

/* ---- text for a terminal ---- */

/* Columns a clean line takes on a terminal (wide CJK characters take two). */
static size_t display_width(const char *s, size_t len)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t left = (utf8proc_ssize_t)len;
    size_t width = 0;

    while (left > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        if (n <= 0) {
            n = 1;
            cp = 0xfffd;
        }
        int w = utf8proc_charwidth(cp);
        width += w > 0 ? (size_t)w : 0;
        p += n;
        left -= n;
    }
    return width;
}

/* ---- an aligned table ---- */

struct table {
    size_t n_cols;
    const char *const *head;  /* column titles */
    const bool *right;        /* right-aligned columns (numbers); may be NULL */
    char **cells;             /* n_rows * n_cols clean strings, owned */
    size_t n_rows, cap;
};

/* Appends a row of n_cols strings (copied and cleaned; NULL shows as "-").
 * Only the last column keeps its newlines. */
static void table_row(struct table *t, const char *const *cells)
{
    if (t->n_rows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = xrealloc_array(t->cells, t->cap * t->n_cols, sizeof *t->cells);
    }
    for (size_t c = 0; c < t->n_cols; c++)
        t->cells[t->n_rows * t->n_cols + c] = term_text_clean(cells[c] ? cells[c] : "-", c + 1 == t->n_cols);
    t->n_rows++;
}

static void pad(FILE *out, size_t n)
{
    while (n-- > 0)
        fputc(' ', out);
}

/* Prints the titles and rows, two spaces between columns. The last column is
 * not padded on the right; its further lines start under its first. */
static void table_print(const struct table *t, FILE *out)
{
    size_t *width = xcalloc(t->n_cols, sizeof *width);
    size_t indent = 0;

    for (size_t c = 0; c < t->n_cols; c++) {
        width[c] = display_width(t->head[c], strlen(t->head[c]));
        for (size_t r = 0; r < t->n_rows; r++) {
            const char *cell = t->cells[r * t->n_cols + c];
            size_t w = display_width(cell, strlen(cell));
            if (w > width[c])
                width[c] = w;
        }
        if (c + 1 < t->n_cols)
            indent += width[c] + 2;
    }
    for (size_t r = 0; r <= t->n_rows; r++) {
        for (size_t c = 0; c < t->n_cols; c++) {
            const char *cell = r == 0 ? t->head[c] : t->cells[(r - 1) * t->n_cols + c];
            size_t w = display_width(cell, strlen(cell));
            bool last = c + 1 == t->n_cols;
            if (t->right && t->right[c])
                pad(out, width[c] - w);
            if (!last) {
                fputs(cell, out);
                if (!(t->right && t->right[c]))
                    pad(out, width[c] - w);
                fputs("  ", out);
                continue;
            }
            for (const char *line = cell;;) { /* the last column, line by line */
                const char *nl = strchr(line, '\n');
                fwrite(line, 1, nl ? (size_t)(nl - line) : strlen(line), out);
                if (!nl)
                    break;
                fputc('\n', out);
                pad(out, indent);
                line = nl + 1;
            }
        }
        fputc('\n', out);
    }
    free(width);
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
        free(t->cells[i]);
    free(t->cells);
}

/* ---- values ---- */

/* UTC time of `ms`: "2026-12-07 09:12:03" for a table, or ISO 8601
 * "2026-12-07T09:12:03.120Z" for JSON. */
static void format_time(int64_t ms, bool iso, char *out, size_t len)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;

    if (!gmtime_r(&secs, &tm)) {
        snprintf(out, len, "?");
        return;
    }
    if (iso) {
        char day[32];
        strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out, len, "%s.%03dZ", day, (int)(ms - (int64_t)secs * 1000));
    } else {
        strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
    }
}

static void format_day(int64_t day, char *out, size_t len)
{
    time_t secs = (time_t)(day * 86400);
    struct tm tm;

    if (!gmtime_r(&secs, &tm) || strftime(out, len, "%Y-%m-%d", &tm) == 0)
        snprintf(out, len, "?");
}

/* The kind of chat, from the first letter LINE gives its ids. */
static const char *chat_type_of(const char *id)
{
    switch (id[0]) {
    case 'U': return "user";
    case 'C': return "group";
    case 'R': return "room";
    default: return "unknown";
    }
}

static const char *role_name(enum turn_role role)
{
    switch (role) {
    case TURN_USER: return "user";
    case TURN_ASSISTANT: return "assistant";
    case TURN_CONTEXT: return "context";
    }
    return "context";
}

/* Prints `json` (stolen) on stdout. */
static void print_json(json_t *json)
{
    json_dumpf(json, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(json);
}

/* A JSON string of stored text, NULL as null. jansson takes only valid
 * UTF-8; the bot stores nothing else, but a database may hold anything, so
 * invalid bytes become U+FFFD rather than a lost row. */
static json_t *string_or_null(const char *s)
{
    if (!s)
        return json_null();
    if (utf8_valid(s, strlen(s)))
        return json_string(s);
    struct buf out;
    buf_init(&out, strlen(s) * 3);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t len = utf8proc_iterate(p, -1, &cp);
        if (len <= 0 ? buf_add(&out, "\xEF\xBF\xBD", 3) != 0 : buf_add(&out, p, (size_t)len) != 0)
            break; /* cannot happen: the cap fits three bytes per input byte */
        p += len > 0 ? len : 1;
    }
    json_t *j = json_string(buf_str(&out));
    buf_free(&out);
    return j ? j : json_null();
}

/* ---- the commands ---- */

static void stats_row(struct table *t, const char *day, const char *model, const struct store_day_stats *r)
{
    const int64_t v[7] = {r->events,        r->answered,          r->apologized,  r->failed,
                          r->prompt_tokens, r->completion_tokens, r->total_tokens};
    char num[7][24];

    for (int k = 0; k < 7; k++)
        snprintf(num[k], sizeof num[k], "%" PRId64, v[k]);
    table_row(t, (const char *const[]){day, model, num[0], num[1], num[2], num[3], num[4], num[5], num[6]});
}

static void add_to_total(struct store_day_stats *total, const struct store_day_stats *r)
{
    total->events += r->events;
    total->answered += r->answered;
    total->apologized += r->apologized;
    total->failed += r->failed;
    total->prompt_tokens += r->prompt_tokens;
    total->completion_tokens += r->completion_tokens;
    total->total_tokens += r->total_tokens;
}

static int admin_stats(struct store *st, bool as_json)
{
    struct store_day_stats *rows = NULL, total = {0};
    size_t n = 0;

    if (store_admin_stats(st, &rows, &n) != 0) {
        fprintf(stderr, "linebot admin stats: %s\n", store_last_error(st));
        return 1;
    }
    if (as_json) {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++) {
            char day[32];
            format_day(rows[i].day, day, sizeof day);
            json_array_append_new(
                list, json_pack("{s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "day", day, "model",
                                string_or_null(rows[i].model), "events", (json_int_t)rows[i].events, "answered",
                                (json_int_t)rows[i].answered, "apologies", (json_int_t)rows[i].apologized, "failed",
                                (json_int_t)rows[i].failed, "prompt_tokens", (json_int_t)rows[i].prompt_tokens,
                                "completion_tokens", (json_int_t)rows[i].completion_tokens, "total_tokens",
                                (json_int_t)rows[i].total_tokens));
        }
        print_json(list);
    } else if (n == 0) {
        printf("No events yet.\n");
    } else {
        static const char *const head[] = {"DAY (UTC)", "MODEL", "EVENTS", "ANSWERED", "APOLOGIES", "FAILED",
                                           "PROMPT TOKENS", "COMPLETION TOKENS", "TOTAL TOKENS"};
        static const bool right[] = {false, false, true, true, true, true, true, true, true};
        struct table t = {.n_cols = 9, .head = head, .right = right};
        for (size_t i = 0; i < n; i++) {
            char day[32];
            format_day(rows[i].day, day, sizeof day);
            stats_row(&t, day, rows[i].model, &rows[i]);
            add_to_total(&total, &rows[i]);
        }
        if (n > 1) /* a total of one row says nothing new */
            stats_row(&t, "total", "", &total);
        table_print(&t, stdout);
        table_free(&t);
    }
    store_day_stats_free(rows, n);
    return 0;
}

static json_t *chat_json(const struct store_chat_info *c, const char *chat_id)
{
    char when[48];

    if (c)
        format_time(c->last_active_ms, true, when, sizeof when);
    return json_pack("{s:o, s:s, s:o, s:o, s:o, s:I, s:I}", "chat_id", string_or_null(chat_id), "type",
                     chat_type_of(chat_id),
                     "last_activity", c ? json_string(when) : json_null(), "model",
                     string_or_null(c ? c->model : NULL), "persona", string_or_null(c ? c->persona : NULL),
                     "messages", (json_int_t)(c ? c->messages : 0), "events", (json_int_t)(c ? c->events : 0));
}

static int admin_chats(struct store *st, bool as_json)
{
    struct store_chat_info *rows = NULL;
    size_t n = 0;

    if (store_admin_chats(st, NULL, &rows, &n) != 0) {
        fprintf(stderr, "linebot admin chats: %s\n", store_last_error(st));
        return 1;
    }
    if (as_json) {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, chat_json(&rows[i], rows[i].chat_id));
        print_json(list);
    } else if (n == 0) {
        printf("No chats yet.\n");
    } else {
        static const char *const head[] = {"CHAT ID", "TYPE", "LAST ACTIVITY (UTC)", "MODEL", "PERSONA",
                                           "MESSAGES", "EVENTS"};
        static const bool right[] = {false, false, false, false, false, true, true};
        struct table t = {.n_cols = 7, .head = head, .right = right};
        for (size_t i = 0; i < n; i++) {
            char when[32], messages[24], events[24];
            format_time(rows[i].last_active_ms, false, when, sizeof when);
            snprintf(messages, sizeof messages, "%" PRId64, rows[i].messages);
            snprintf(events, sizeof events, "%" PRId64, rows[i].events);
            table_row(&t, (const char *const[]){rows[i].chat_id, chat_type_of(rows[i].chat_id), when, rows[i].model,
                                                rows[i].persona, messages, events});
        }
        table_print(&t, stdout);
        table_free(&t);
    }
    store_chat_info_free(rows, n);
    return 0;
}

static json_t *turns_json(const struct turn *turns, size_t n)
{
    json_t *list = json_array();

    for (size_t i = 0; i < n; i++) {
        char when[48];
        format_time(turns[i].timestamp_ms, true, when, sizeof when);
        json_array_append_new(list, json_pack("{s:s, s:I, s:s, s:o, s:o, s:o}", "time", when, "timestamp_ms",
                                              (json_int_t)turns[i].timestamp_ms, "role", role_name(turns[i].role),
                                              "speaker", string_or_null(turns[i].speaker), "text",
                                              string_or_null(turns[i].text), "message_id",
                                              string_or_null(turns[i].message_id)));
    }
    return list;
}

static int admin_history(struct store *st, const char *chat_id, bool as_json)
{
    struct turn *turns = NULL;
    size_t n = 0;

    if (store_admin_history(st, chat_id, &turns, &n) != 0) {
        fprintf(stderr, "linebot admin history: %s\n", store_last_error(st));
        return 1;
    }
    if (as_json) {
        print_json(turns_json(turns, n));
    } else if (n == 0) {
        printf("No history kept for %s.\n", chat_id);
    } else {
        static const char *const head[] = {"TIME (UTC)", "ROLE", "SPEAKER", "TEXT"};
        struct table t = {.n_cols = 4, .head = head};
        for (size_t i = 0; i < n; i++) {
            char when[32];
            format_time(turns[i].timestamp_ms, false, when, sizeof when);
            table_row(&t, (const char *const[]){when, role_name(turns[i].role), turns[i].speaker, turns[i].text});
        }
        table_print(&t, stdout);
        table_free(&t);
    }
    turns_free(turns, n);
    return 0;
}

static int admin_forget(struct store *st, const char *id, bool as_json)
{
    struct store_forget_counts c;

    /* The files the chat sent (io/kb_chat.h), a knowledge base of its own,
     * first: the transaction then drops that knowledge base, emptied. */
    int64_t documents = 0;
    if (kb_chat_forget(st, id, &documents) != 0) {
        fprintf(stderr, "linebot admin forget: the chat's documents were not all removed (run it again): %s\n",
                store_last_error(st));
        return 1;
    }
    if (store_admin_forget(st, id, &c) != 0) {
        fprintf(stderr, "linebot admin forget: only the chat's documents were removed: %s\n", store_last_error(st));
        return 1;
    }
    if (as_json) {
        print_json(json_pack("{s:s, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "id", id, "removed", "turns",
                             (json_int_t)c.turns, "group_turns", (json_int_t)c.group_turns, "bot_messages",
                             (json_int_t)c.bot_messages, "profiles", (json_int_t)c.profiles, "rate_rows",
                             (json_int_t)c.rate_rows, "payloads", (json_int_t)c.payloads, "choices",
                             (json_int_t)c.choices, "personas", (json_int_t)c.personas, "memory",
                             (json_int_t)c.memory, "documents", (json_int_t)documents));
        return 0;
    }
    const struct {
        const char *what;
        int64_t count;
    } lines[] = {
        {"history turns of the chat", c.turns},
        {"turns in groups and rooms (with the bot's answers)", c.group_turns},
        {"ids of the bot's messages", c.bot_messages},
        {"cached display names", c.profiles},
        {"rate-limit counters", c.rate_rows},
        {"contents of finished events", c.payloads},
        {"model choice of the chat", c.choices},
        {"the chat's persona", c.personas},
        {"facts remembered about the user", c.memory},
        {"documents the chat sent", documents},
    };
    static const char *const head[] = {"REMOVED", "COUNT"};
    static const bool right[] = {false, true};
    struct table t = {.n_cols = 2, .head = head, .right = right};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        char count[24];
        snprintf(count, sizeof count, "%" PRId64, lines[i].count);
        table_row(&t, (const char *const[]){lines[i].what, count});
    }
    printf("Forgot %s.\n", id);
    table_print(&t, stdout);
    table_free(&t);
    return 0;
}

/* Always JSON: the chat's row of `chats` (zeros and nulls for a chat the
 * store does not know) with its history. */
static int admin_export(struct store *st, const char *chat_id)
{
    struct store_chat_info *rows = NULL;
    struct turn *turns = NULL;
    size_t n_rows = 0, n_turns = 0;

    if (store_admin_chats(st, chat_id, &rows, &n_rows) != 0 ||
        store_admin_history(st, chat_id, &turns, &n_turns) != 0) {
        fprintf(stderr, "linebot admin export: %s\n", store_last_error(st));
        store_chat_info_free(rows, n_rows);
        return 1;
    }
    json_t *chat = chat_json(n_rows ? &rows[0] : NULL, chat_id);
    json_object_set_new(chat, "history", turns_json(turns, n_turns));
    print_json(chat);
    store_chat_info_free(rows, n_rows);
    turns_free(turns, n_turns);
    return 0;
}

/* ---- the command line ---- */

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("linebot admin: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", cli_admin_usage);
    return 2;
}

int cli_admin(int argc, char **argv, char *const *env)
{
    const char *words[3] = {NULL, NULL, NULL};
    size_t n_words = 0;
    bool as_json = false;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0) {
            fputs(cli_admin_usage, stdout);
            return 0;
        }
        if (strcmp(arg, "--json") == 0)
            as_json = true;
        else if (arg[0] == '-')
            return usage_error("unknown option %s", arg);
        else if (n_words < 3)
            words[n_words++] = arg;
        else
            return usage_error("unexpected argument %s", arg);
    }
    if (n_words == 0)
        return usage_error("which command?");

    const char *cmd = words[0];
    bool takes_id = strcmp(cmd, "history") == 0 || strcmp(cmd, "forget") == 0 || strcmp(cmd, "export") == 0;
    if (!takes_id && strcmp(cmd, "stats") != 0 && strcmp(cmd, "chats") != 0)
        return usage_error("unknown command %s", cmd);
    if (takes_id && n_words != 2)
        return usage_error(n_words < 2 ? "%s needs an id (see `linebot admin chats`)" : "%s takes one id", cmd);
    if (!takes_id && n_words != 1)
        return usage_error("unexpected argument %s", words[1]);
    if (takes_id && !cli_chat_id_valid(words[1]))
        return usage_error("%s is not a LINE user, group or room id (letters and digits, as `linebot admin "
                           "chats` shows them)",
                           words[1]);

    int rc;
    struct store *st = cli_store_open("admin", env, false, &rc);
    if (!st)
        return rc;

    if (strcmp(cmd, "stats") == 0)
        rc = admin_stats(st, as_json);
    else if (strcmp(cmd, "chats") == 0)
        rc = admin_chats(st, as_json);
    else if (strcmp(cmd, "history") == 0)
        rc = admin_history(st, words[1], as_json);
    else if (strcmp(cmd, "forget") == 0)
        rc = admin_forget(st, words[1], as_json);
    else
        rc = admin_export(st, words[1]);
    store_close(st);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "linebot admin: could not write the output\n");
        return 1;
    }
    return rc;
}
