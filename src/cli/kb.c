/* kb.c - `linebot kb`: the operator's knowledge base (issue 12).
 *
 *   add [--kb NAME] PATH|URL...    add or replace documents (.txt, .md, .html, .pdf,
 *                                  http(s) URLs)
 *   sync [--kb NAME] DIR           mirror a folder: add new and changed files,
 *                                  remove the documents whose files are gone
 *   list [--kb NAME]               the documents
 *   remove [--kb NAME] DOC_ID|PATH|URL
 *   search [--kb NAME] [-k N] QUERY
 *   bind NAME CHAT_ID, unbind CHAT_ID
 *   eval [--kb NAME] [-k N] FILE   recall@k and MRR, in its own module (kb_eval.c)
 *   reembed [--kb NAME]            embed every passage again (kb_embed.c)
 *
 * A document is read here (the file, its SHA-256), then made pure data by
 * core/: kb_html.c or kb_chunk.c read its structure, kb_chunk.c cuts it,
 * kb_terms.c gives each chunk's terms; io/store_kb.c writes it. A PDF's
 * text comes from io/kb_pdf.c (pdftotext), a URL's document from
 * io/kb_fetch.c; io/kb_prepare.c does the reading and cutting, shared with
 * the files users send the bot. A document is keyed by its real path, so the same file
 * added from another working directory is the same document, or by its URL
 * as given. Result lines are tab-separated on stdout:
 * `id status chunks path` (status added, replaced, unchanged or removed);
 * each problem is one line on stderr, and the documents that did work stay
 * added. On a terminal (stderr), add and sync show their progress on one
 * line that updates itself; piped, only the result lines are written. With
 * LINEBOT_EMBED_MODEL set, each changed document's chunks are embedded
 * (cli/kb_embed.c) before they are written. */
#include "cli/kb.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_store.h"
#include "cli/kb_eval.h"
#include "cli/kb_embed.h"
#include "cli/term_text.h"
#include "core/alloc.h"
#include "core/kb_terms.h"
#include "core/sigcommon.h"
#include "core/utf8.h"
#include "config.h"
#include "io/clock.h"
#include "io/http_client.h"
#include "io/kb_fetch.h"
#include "io/kb_prepare.h"
#include "io/store.h"

#define FILE_MAX (64 * 1024 * 1024) /* bytes of one document */
#define QUERY_TERMS_MAX 64
#define SNIPPET_CHARS 80
#define K_DEFAULT 5
#define K_MAX 100

const char cli_kb_usage[] =
    "Usage: linebot kb COMMAND [--kb NAME] ...\n"
    "\n"
    "The knowledge base the bot answers from, in its store (LINEBOT_DB, as for `linebot serve`):\n"
    "  add [--kb NAME] PATH|URL...      add or replace files (.txt, .md, .html, .pdf) and URLs\n"
    "  sync [--kb NAME] DIR             mirror a folder: add new and changed files, remove the\n"
    "                                   documents whose files are gone (idempotent)\n"
    "  list [--kb NAME]                 the documents: id, path, title, chunks, time added\n"
    "  remove [--kb NAME] DOC_ID|PATH|URL\n"
    "                                   remove a document\n"
    "  search [--kb NAME] [-k N] QUERY  the best passages: rank, score, id, title, heading, text\n"
    "  bind NAME CHAT_ID                the chat (a user, group or room id) uses knowledge base NAME\n"
    "  unbind CHAT_ID                   the chat uses `default` again (when it exists)\n"
    "  eval [--kb NAME] [-k N] FILE     recall@k and MRR of the search over questions (JSON Lines)\n"
    "  reembed [--kb NAME]              embed every passage again with LINEBOT_EMBED_MODEL\n"
    "\n"
    "--kb NAME picks the knowledge base (default: `default`; names starting with chat: are\n"
    "reserved). `linebot kb COMMAND --help` tells more about one command.\n";

static const struct {
    const char *name;
    const char *needs; /* what a usage error says is missing */
    const char *help;
} command_help[] = {
    {"add", "at least one PATH or URL", "Usage: linebot kb add [--kb NAME] PATH|URL...\n\n"
            "Adds each file (.txt, .md or .markdown, .html or .htm, .pdf) or http(s) URL to the knowledge\n"
            "base, or replaces it when its content changed. PDFs are read with pdftotext (Debian:\n"
            "poppler-utils). A URL is fetched (redirects followed, at most 16 MiB) and read as HTML, PDF\n"
            "or text by what it is. Prints one line per document: id, status (added, replaced or\n"
            "unchanged), chunks, path or URL, tab-separated. A document that cannot be added gets one\n"
            "line on stderr and exit status 1; the others stay added.\n"},
    {"sync", "a DIR", "Usage: linebot kb sync [--kb NAME] DIR\n\n"
             "Mirrors DIR (and the folders in it; names starting with a dot are skipped): adds new and\n"
             "changed files, and removes the documents under DIR whose files are gone (a `removed`\n"
             "line each). Running it again changes nothing.\n"},
    {"list", "nothing", "Usage: linebot kb list [--kb NAME]\n\n"
             "One line per document: id, path, title, chunks, time added (UTC), tab-separated.\n"},
    {"remove", "a DOC_ID, a PATH or a URL", "Usage: linebot kb remove [--kb NAME] DOC_ID|PATH|URL\n\n"
               "Removes a document, by the id `kb list` shows or by its path or URL.\n"},
    {"search", "a QUERY", "Usage: linebot kb search [--kb NAME] [-k N] QUERY\n\n"
               "The N best passages for QUERY (default 5, at most 100), one per line: rank, score, document\n"
               "id, title (or path), heading, and the passage's first 80 characters, tab-separated.\n"},
    {"bind", "a NAME and a CHAT_ID", "Usage: linebot kb bind NAME CHAT_ID\n\n"
             "The chat (a user id U..., a group C... or a room R...) answers from knowledge base NAME.\n"},
    {"unbind", "a CHAT_ID", "Usage: linebot kb unbind CHAT_ID\n\n"
               "The chat answers from knowledge base `default` again, when it exists.\n"},
    {"reembed", "nothing", KB_EMBED_REEMBED_HELP},
};

/* ---- output ---- */

static bool progress_on;    /* stderr is a terminal */
static bool progress_shown; /* a progress line is on the screen */

static void progress_clear(void)
{
    if (progress_shown) {
        fputs("\r\033[K", stderr);
        progress_shown = false;
    }
}

__attribute__((format(printf, 1, 2))) static void progress(const char *fmt, ...)
{
    va_list ap;

    if (!progress_on)
        return;
    fputs("\r\033[K", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
    progress_shown = true;
}

__attribute__((format(printf, 1, 2))) static void problem(const char *fmt, ...)
{
    va_list ap;

    progress_clear();
    fputs("linebot kb: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

__attribute__((format(printf, 1, 2))) static void result(const char *fmt, ...)
{
    va_list ap;

    progress_clear();
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* Text for one tab-separated field on a terminal (term_text.h: no control
 * characters, tabs and newlines are spaces), with runs of spaces made one
 * and none at the ends; at most `max_chars` characters (0: all). malloc'd. */
static char *field(const char *s, size_t max_chars)
{
    char *out = term_text_clean(s, false);
    size_t o = 0, chars = 0;

    for (const char *p = out; *p && (max_chars == 0 || chars < max_chars); p++) {
        if (*p == ' ' && (o == 0 || out[o - 1] == ' '))
            continue;
        out[o++] = *p;
        /* Count characters, not bytes: continuation bytes are 10xxxxxx. */
        if (((unsigned char)p[1] & 0xc0) != 0x80)
            chars++;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    return out;
}

/* ---- documents ---- */

/* Reads a whole file; NULL with *why set when it cannot. */
static char *read_file(const char *path, size_t *len, const char **why)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *why = strerror(errno);
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *data = xmalloc(cap);
    for (;;) {
        if (n == cap) {
            if (cap >= FILE_MAX) {
                *why = "larger than 64 MiB";
                free(data);
                fclose(f);
                return NULL;
            }
            cap *= 2;
            data = xrealloc(data, cap);
        }
        size_t got = fread(data + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        *why = strerror(errno ? errno : EIO);
        free(data);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = n;
    return data;
}

struct run {
    struct store *st;
    const char *kb;
    char *const *env;
    struct http_client *http; /* made for the first URL */
    size_t files_done, files_total;
    size_t chunks_done;
    size_t batch_base; /* chunks_done before the current document */
    int failures;
    struct kb_embedder *embedder; /* NULL: LINEBOT_EMBED_MODEL is unset */
};

static void on_batch(void *arg, size_t written)
{
    struct run *r = arg;
    progress("kb: files %zu/%zu, chunks %zu%s", r->files_done, r->files_total, r->batch_base + written,
             kb_embed_progress(r->embedder));
}

static void on_embedded(void *arg)
{
    on_batch(arg, 0);
}

static const char *status_name(enum kb_put_status s)
{
    return s == KB_ADDED ? "added" : s == KB_REPLACED ? "replaced" : "unchanged";
}

static bool is_url(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

/* Fetches a URL's document (kb_fetch.h), and tells its kind; NULL with
 * *why set (in `err`) when it cannot be added. */
static char *fetch_url(struct run *r, const char *url, size_t *len, enum kb_doc_kind *kind, char *err, size_t errlen,
                       const char **why)
{
    if (!r->http) {
        struct config cfg;
        if (http_global_init() != 0) {
            *why = "cannot be fetched: libcurl could not start";
            return NULL;
        }
        if (config_load_store(&cfg, r->env, err, errlen) == 0) { /* SSL_CERT_FILE */
            http_use_ca_bundle(cfg.ca_file);
            config_free(&cfg);
        }
        r->http = http_client_new();
    }
    struct kb_fetched doc;
    if (kb_fetch(r->http, url, &doc, err, errlen) != 0) {
        *why = err;
        return NULL;
    }
    *kind = kb_doc_kind_of(doc.kind);
    *len = doc.len;
    return doc.data;
}

/* Adds one file, known by its real path, or a URL. Prints its line or its problem. */
static void add_file(struct run *r, const char *real, const char *shown)
{
    bool url = is_url(real);
    /* The name given: a link may point to a file of another name. A URL's
     * kind comes with its content. */
    enum kb_doc_kind kind = url ? KB_DOC_HTML : kb_doc_kind_of(shown);
    const char *why = NULL;
    size_t len = 0;
    char *data = NULL;
    char err[512];

    if (kind == KB_DOC_UNSUPPORTED) {
        problem("%s: not a supported file type (.txt, .md, .html, .pdf)", shown);
        r->failures++;
        return;
    }
    data = url ? fetch_url(r, real, &len, &kind, err, sizeof err, &why) : read_file(real, &len, &why);
    if (!data) {
        problem("%s: %s%s", shown, url ? "" : "cannot be read: ", why);
        r->failures++;
        return;
    }
    char hash[SIG_SHA256_HEX_LEN + 1];
    if (!sig_sha256_hex(data, len, hash))
        alloc_fail("EVP_Digest", len); /* OpenSSL fails it only for want of memory */
    const char *name = url ? real : strrchr(real, '/') ? strrchr(real, '/') + 1 : real; /* a title's fallback */
    struct kb_prepared prep;
    why = kb_prepare(data, len, kind, name, &prep, NULL);
    if (why) {
        problem("%s: %s", shown, why);
        r->failures++;
        free(data);
        return;
    }
    struct kb_put put = {
        .kb = r->kb, .path = real, .title = prep.title, .content_hash = hash, .bytes = (int64_t)len,
        .chunks = prep.rows, .n_chunks = prep.pieces.n, .progress = on_batch, .progress_arg = r,
    };
    kb_embed_prepare(r->embedder, &put, prep.rows, prep.pieces.n);
    int64_t id = 0;
    enum kb_put_status status;
    r->batch_base = r->chunks_done;
    if (store_kb_put(r->st, &put, clock_now_ms(), &id, &status) != 0) {
        problem("%s: not added: %s", shown, store_last_error(r->st));
        r->failures++;
    } else {
        char *path = field(real, 0);
        result("%" PRId64 "\t%s\t%zu\t%s\n", id, status_name(status), prep.pieces.n, path);
        free(path);
        r->chunks_done += prep.pieces.n;
    }
    r->files_done++;
    progress("kb: files %zu/%zu, chunks %zu%s", r->files_done, r->files_total, r->chunks_done,
             kb_embed_progress(r->embedder));
    kb_embed_done(r->embedder);
    kb_prepared_free(&prep);
    free(data);
}

/* ---- sync: the files of a folder ---- */

struct paths {
    char **items;
    size_t n, cap;
};

static void paths_add(struct paths *p, char *path)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->items = xrealloc_array(p->items, p->cap, sizeof *p->items);
    }
    p->items[p->n++] = path;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The supported files under `dir`, recursively; names starting with a dot
 * are skipped, and links to folders are not followed (no loops). */
static int walk_dir(const char *dir, struct paths *found, int depth)
{
    DIR *d = opendir(dir);
    if (!d) {
        problem("%s: cannot be read: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *path = xasprintf("%s/%s", dir, e->d_name);
        struct stat lst, sst;
        if (lstat(path, &lst) != 0) {
            free(path);
            continue;
        }
        if (S_ISDIR(lst.st_mode) && depth < 64) {
            if (walk_dir(path, found, depth + 1) != 0)
                rc = -1;
            free(path);
        } else if ((S_ISREG(lst.st_mode) || (S_ISLNK(lst.st_mode) && stat(path, &sst) == 0 && S_ISREG(sst.st_mode))) &&
                   kb_doc_kind_of(path) != KB_DOC_UNSUPPORTED) {
            paths_add(found, path);
        } else {
            free(path);
        }
    }
    closedir(d);
    return rc;
}

/* ---- commands ---- */

static int cmd_add(struct run *r, char **paths, int n)
{
    r->files_total = (size_t)n;
    for (int i = 0; i < n; i++) {
        char real[PATH_MAX];
        struct stat sb;
        if (is_url(paths[i])) { /* the document's key is the URL as given */
            add_file(r, paths[i], paths[i]);
            continue;
        }
        if (!realpath(paths[i], real) || stat(real, &sb) != 0) {
            problem("%s: %s", paths[i], strerror(errno));
            r->failures++;
            r->files_done++;
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            problem("%s: is a folder (use `linebot kb sync %s`)", paths[i], paths[i]);
            r->failures++;
            r->files_done++;
            continue;
        }
        add_file(r, real, paths[i]);
    }
    if (r->http) {
        http_client_free(r->http);
        http_global_cleanup();
    }
    progress_clear();
    return r->failures ? 1 : 0;
}

static int cmd_sync(struct run *r, const char *dir)
{
    char real[PATH_MAX];
    struct stat sb;

    if (!realpath(dir, real) || stat(real, &sb) != 0) {
        problem("%s: %s", dir, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        problem("%s: is not a folder (use `linebot kb add %s`)", dir, dir);
        return 1;
    }
    struct paths found = {0};
    bool complete = walk_dir(real, &found, 0) == 0;
    if (found.n > 0)
        qsort(found.items, found.n, sizeof *found.items, cmp_path);
    r->files_total = found.n;
    for (size_t i = 0; i < found.n; i++)
        add_file(r, found.items[i], found.items[i]);

    /* Documents under the folder whose files are gone. A folder that could
     * not be read completely removes nothing: its files may still be there. */
    struct kb_doc_info *docs = NULL;
    size_t n = 0;
    size_t prefix = strlen(real);
    if (!complete) {
        r->failures++;
    } else if (store_kb_docs(r->st, r->kb, 0, NULL, &docs, &n) != 0) {
        problem("cannot list the documents: %s", store_last_error(r->st));
        r->failures++;
    }
    for (size_t i = 0; i < n; i++) {
        const char *path = docs[i].path;
        if (strncmp(path, real, prefix) != 0 || (prefix > 1 && path[prefix] != '/'))
            continue;
        if (bsearch(&path, found.items, found.n, sizeof *found.items, cmp_path))
            continue;
        struct kb_doc_info gone;
        int rc = store_kb_remove(r->st, r->kb, docs[i].id, NULL, &gone);
        if (rc < 0) {
            problem("%s: not removed: %s", path, store_last_error(r->st));
            r->failures++;
        } else if (rc == 1) {
            char *shown = field(gone.path, 0);
            result("%" PRId64 "\tremoved\t%" PRId64 "\t%s\n", gone.id, gone.chunks, shown);
            free(shown);
            kb_doc_info_clear(&gone);
        }
    }
    kb_doc_infos_free(docs, n);
    for (size_t i = 0; i < found.n; i++)
        free(found.items[i]);
    free(found.items);
    progress_clear();
    return r->failures ? 1 : 0;
}

static void iso_time(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm))
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(out, 32, "-");
}

static int cmd_list(struct run *r)
{
    struct kb_doc_info *docs = NULL;
    size_t n = 0;

    if (store_kb_docs(r->st, r->kb, 0, NULL, &docs, &n) != 0) {
        problem("cannot list the documents: %s", store_last_error(r->st));
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!docs[i].live)
            continue;
        char added[32];
        iso_time(docs[i].added_at_ms, added);
        char *path = field(docs[i].path, 0), *title = field(docs[i].title, 0);
        result("%" PRId64 "\t%s\t%s\t%" PRId64 "\t%s\n", docs[i].id, path, title, docs[i].chunks, added);
        free(path);
        free(title);
    }
    kb_doc_infos_free(docs, n);
    return 0;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static int cmd_remove(struct run *r, const char *what)
{
    int64_t id = 0;
    char real[PATH_MAX];
    const char *path = NULL;

    if (all_digits(what) && strlen(what) < 18) {
        id = strtoll(what, NULL, 10);
    } else if (is_url(what)) {
        path = what;
    } else {
        /* The path as stored: real, when the file is still there. */
        path = realpath(what, real) ? real : what;
    }
    struct kb_doc_info gone;
    int rc = store_kb_remove(r->st, r->kb, id, path, &gone);
    if (rc < 0) {
        problem("%s: not removed: %s", what, store_last_error(r->st));
        return 1;
    }
    if (rc == 0) {
        problem("%s: no such document in knowledge base %s (see `linebot kb list`)", what, r->kb);
        return 1;
    }
    char *shown = field(gone.path, 0);
    result("%" PRId64 "\tremoved\t%" PRId64 "\t%s\n", gone.id, gone.chunks, shown);
    free(shown);
    kb_doc_info_clear(&gone);
    return 0;
}

static int cmd_search(struct run *r, const char *query, int k)
{
    struct kb_terms t;
    kb_terms_of_question(query, strlen(query), QUERY_TERMS_MAX, &t);
    struct kb_hit *hits = NULL;
    size_t n = 0;
    int rc = store_kb_search(r->st, r->kb, (const char *const *)t.items, t.n, k, &hits, &n);
    kb_terms_free(&t);
    if (rc != 0) {
        problem("search failed: %s", store_last_error(r->st));
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        const struct kb_hit *h = &hits[i];
        char *title = field(*h->title ? h->title : h->path, 0);
        char *heading = field(*h->heading ? h->heading : "-", 0);
        char *snippet = field(h->body, SNIPPET_CHARS);
        result("%zu\t%.4f\t%" PRId64 "\t%s\t%s\t%s\n", i + 1, h->score, h->doc_id, title, heading, snippet);
        free(title);
        free(heading);
        free(snippet);
    }
    kb_hits_free(hits, n);
    return 0;
}

static int cmd_bind(struct run *r, const char *chat_id)
{
    int rc = store_kb_bind(r->st, chat_id, r->kb, clock_now_ms());
    if (rc < 0) {
        problem("cannot bind %s: %s", chat_id, store_last_error(r->st));
        return 1;
    }
    if (rc == 1) {
        problem("there is no knowledge base %s yet (add documents with `linebot kb add --kb %s PATH`)", r->kb, r->kb);
        return 1;
    }
    result("%s now answers from knowledge base %s\n", chat_id, r->kb);
    return 0;
}

static int cmd_unbind(struct run *r, const char *chat_id)
{
    int rc = store_kb_unbind(r->st, chat_id);
    if (rc < 0) {
        problem("cannot unbind %s: %s", chat_id, store_last_error(r->st));
        return 1;
    }
    result(rc == 1 ? "%s now answers from knowledge base " KB_DEFAULT_NAME " (when it exists)\n"
                   : "%s had no knowledge base of its own\n",
           chat_id);
    return 0;
}

/* ---- arguments ---- */

__attribute__((format(printf, 2, 3))) static int usage_error(const char *help, const char *fmt, ...)
{
    va_list ap;

    fputs("linebot kb: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", help);
    return 2;
}

/* A knowledge base name the commands take: what the store takes, but not
 * the per-chat names (chat:...). NULL, or what is wrong. */
static const char *name_problem(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > KB_NAME_MAX)
        return "must be 1 to 64 characters";
    if (strncmp(name, "chat:", 5) == 0)
        return "starts with chat:, which is reserved for the knowledge bases of chats";
    if (!utf8_valid(name, len) || name[0] == ' ' || name[len - 1] == ' ')
        return "must be UTF-8 text without spaces at either end";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return "must not contain control characters";
    return NULL;
}

int cli_kb(int argc, char **argv, char *const *env)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;
    const char *help = cli_kb_usage;
    const char *needs = NULL;

    if (!cmd)
        return usage_error(cli_kb_usage, "which command?");
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(cli_kb_usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "eval") == 0) /* its own module: cli/kb_eval.c */
        return cli_kb_eval(argc - 1, argv + 1, env);
    for (size_t i = 0; i < sizeof command_help / sizeof command_help[0]; i++)
        if (strcmp(cmd, command_help[i].name) == 0) {
            help = command_help[i].help;
            needs = command_help[i].needs;
        }
    if (help == cli_kb_usage)
        return usage_error(cli_kb_usage, "unknown command %s", cmd);

    const char *kb = KB_DEFAULT_NAME;
    int k = K_DEFAULT;
    char **words = xcalloc((size_t)argc + 1, sizeof *words);
    int n_words = 0;
    bool options_done = false;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
            fputs(help, stdout);
            free(words);
            return 0;
        }
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
        } else if (!options_done && strcmp(arg, "--kb") == 0 && strcmp(cmd, "bind") != 0 &&
                   strcmp(cmd, "unbind") != 0) {
            if (i + 1 >= argc) {
                free(words);
                return usage_error(help, "--kb needs a name");
            }
            kb = argv[++i];
        } else if (!options_done && strcmp(arg, "-k") == 0 && strcmp(cmd, "search") == 0) {
            char *end = NULL;
            long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
            if (i + 1 >= argc || !end || *end || v < 1 || v > K_MAX) {
                free(words);
                return usage_error(help, "-k needs a number from 1 to %d", K_MAX);
            }
            k = (int)v;
            i++;
        } else if (!options_done && arg[0] == '-' && arg[1]) {
            free(words);
            return usage_error(help, "unknown option %s", arg);
        } else {
            words[n_words++] = argv[i];
        }
    }

    bool is_add = strcmp(cmd, "add") == 0, is_sync = strcmp(cmd, "sync") == 0;
    bool is_search = strcmp(cmd, "search") == 0, is_bind = strcmp(cmd, "bind") == 0;
    int want = is_add ? -1 : strcmp(cmd, "list") == 0 || strcmp(cmd, "reembed") == 0 ? 0 : is_bind ? 2 : 1;
    int rc = 2;
    if ((want < 0 && n_words == 0) || n_words < want) {
        rc = usage_error(help, "%s needs %s", cmd, needs);
        goto out;
    }
    if (want >= 0 && n_words > want && !is_search) {
        rc = usage_error(help, "%s: too many arguments", cmd);
        goto out;
    }
    if (is_bind)
        kb = words[0];
    const char *bad = name_problem(kb);
    if (bad) {
        rc = usage_error(help, "knowledge base name %s %s", kb, bad);
        goto out;
    }
    const char *chat_id = is_bind ? words[1] : strcmp(cmd, "unbind") == 0 ? words[0] : NULL;
    if (chat_id && !cli_chat_id_valid(chat_id)) {
        rc = usage_error(help, "%s is not a LINE user, group or room id (U..., C... or R...)", chat_id);
        goto out;
    }

    bool is_reembed = strcmp(cmd, "reembed") == 0;
    bool writes = is_add || is_sync || is_bind;
    struct store *st = cli_store_open("kb", env, writes, &rc);
    if (!st)
        goto out;
    progress_on = isatty(STDERR_FILENO) == 1;
    struct run r = {.st = st, .kb = kb, .env = env};
    if ((is_add || is_sync || is_reembed) && kb_embed_open(st, kb, env, is_reembed, &r.embedder, &rc) != 0) {
        store_close(st);
        goto out;
    }
    if (!is_reembed)
        kb_embed_on_progress(r.embedder, on_embedded, &r);
    if (is_reembed) {
        rc = kb_embed_reembed(r.embedder, progress_on);
    } else if (is_add) {
        rc = cmd_add(&r, words, n_words);
    } else if (is_sync) {
        rc = cmd_sync(&r, words[0]);
    } else if (strcmp(cmd, "list") == 0) {
        rc = cmd_list(&r);
    } else if (strcmp(cmd, "remove") == 0) {
        rc = cmd_remove(&r, words[0]);
    } else if (is_search) {
        /* QUERY may come as several words. */
        size_t len = 1;
        for (int i = 0; i < n_words; i++)
            len += strlen(words[i]) + 1;
        char *query = xcalloc(1, len);
        for (int i = 0; i < n_words; i++) {
            if (i > 0)
                strcat(query, " ");
            strcat(query, words[i]);
        }
        rc = cmd_search(&r, query, k);
        free(query);
    } else if (is_bind) {
        rc = cmd_bind(&r, chat_id);
    } else {
        rc = cmd_unbind(&r, chat_id);
    }
    kb_embed_close(r.embedder);
    store_close(st);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "linebot kb: could not write the output\n");
        rc = 1;
    }
out:
    free(words);
    return rc;
}
