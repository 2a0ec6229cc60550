/* kb_eval.c - `linebot kb eval`: recall@k and MRR of the knowledge base's
 * search over a file of questions (see kb_eval.h).
 *
 * Each line of the file is a JSON object:
 *   {"q": "営業時間は？", "expect": "午前10時", "tag": "ja"}
 * "expect" is text that the passage answering the question contains (a
 * string, or a list of strings of which any will do), or null for a
 * question the documents do not answer: no passage should then reach
 * LINEBOT_KB_MIN_SCORE, or the bot would answer it from the wrong one.
 * "tag" (optional) groups questions in the figures, e.g. by language.
 *
 * The question is searched exactly as `kb search` and the bot's retrieve
 * stage do (kb_terms_of_question, then store_kb_search), so the figures measure
 * what users get. The whole file is read and checked first: a bad line
 * stops the run with its line number, before anything is searched, since
 * figures over part of a file would mislead.
 *
 * Output, tab-separated on stdout (README.md documents it):
 *   one line per question that did not come first, in file order:
 *     KIND LINE RANK SCORE QUESTION TITLE
 *     late  the expected passage came at RANK (2..k), with SCORE
 *     low   it came at RANK but its SCORE is under the minimum score: the
 *           bot would not give it to the model
 *     miss  it is not among the first k (RANK -, SCORE and TITLE of the
 *           first hit instead, - when none)
 *     noise a question with "expect": null has a passage at or above the
 *           minimum score (RANK 1, its SCORE and TITLE)
 *   then `min_score VALUE`, then a table with a header line:
 *     tag questions recall@K mrr above_min off_topic quiet
 *   one row per tag (first seen first) and `all`: questions with an
 *   expected passage, the share of them found among the first k, the mean
 *   reciprocal rank (0 when not found), how many were found with a score at
 *   or above the minimum, questions with "expect": null, and how many of
 *   those found nothing at or above it. */
#include "cli/kb_eval.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_store.h"
#include "cli/term_text.h"
#include "core/alloc.h"
#include "core/kb_terms.h"
#include "core/settings.h"
#include "io/store.h"

#define K_DEFAULT 5
#define K_MAX 100
#define QUERY_TERMS_MAX 64   /* as kb.c and stage_retrieve.c cut a question */
#define LINE_MAX_BYTES 65536 /* one question line; longer is a mistake */
#define FILE_MAX_BYTES (64 * 1024 * 1024)
#define QUESTIONS_MAX 100000
#define TITLE_CHARS 60

const char cli_kb_eval_usage[] =
    "Usage: linebot kb eval [--kb NAME] [-k N] [--min-score S] FILE.jsonl\n"
    "\n"
    "Measures how well the knowledge base finds the passage that answers each question of\n"
    "FILE, one JSON object a line:\n"
    "  {\"q\": \"What time do you open on Sunday?\", \"expect\": \"Sundays 10:00\", \"tag\": \"en\"}\n"
    "\"expect\" is text found in the passage that answers (or a list: any of them), or null for\n"
    "a question the documents do not answer (no passage should reach the minimum score). \"tag\"\n"
    "(optional) groups the figures. Questions are searched as the bot searches them.\n"
    "\n"
    "Prints, tab-separated: a line per question whose passage did not come first\n"
    "(late, low: under the minimum score, miss: not in the first N, noise: an unanswerable\n"
    "question found a passage), then the minimum score, then per tag and for all: questions,\n"
    "recall@N (default N 5), MRR, found at or above the minimum score, unanswerable questions,\n"
    "and how many of those found nothing. --min-score defaults to LINEBOT_KB_MIN_SCORE.\n";

struct question {
    int line;
    char *q;
    int tag;        /* index into the tallies; 0 is `all` */
    char **expect;  /* n_expect == 0: "expect": null */
    size_t n_expect;
};

struct tally {
    char *tag;
    size_t questions, found, above, off_topic, quiet;
    double rr_sum;
};

struct eval {
    struct question *questions;
    size_t n, cap;
    struct tally *tallies; /* [0] is `all` */
    size_t n_tallies;
};

static void eval_free(struct eval *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->questions[i].q);
        for (size_t j = 0; j < e->questions[i].n_expect; j++)
            free(e->questions[i].expect[j]);
        free(e->questions[i].expect);
    }
    free(e->questions);
    for (size_t i = 0; i < e->n_tallies; i++)
        free(e->tallies[i].tag);
    free(e->tallies);
}

static int eval_tag(struct eval *e, const char *tag)
{
    for (size_t i = 1; i < e->n_tallies; i++)
        if (strcmp(e->tallies[i].tag, tag) == 0)
            return (int)i;
    e->tallies = xrealloc_array(e->tallies, e->n_tallies + 1, sizeof *e->tallies);
    e->tallies[e->n_tallies] = (struct tally){.tag = xstrdup(tag)};
    return (int)e->n_tallies++;
}

/* A non-empty JSON string's text, or NULL. */
static const char *nonempty_string(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

/* One line's question into *q. NULL, or what is wrong with the line. */
static const char *eval_parse_line(struct eval *e, const char *text, int line, struct question *q, char *why,
                                   size_t whylen)
{
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);

    memset(q, 0, sizeof *q);
    q->line = line;
    if (!root) {
        snprintf(why, whylen, "not JSON: %s", jerr.text);
        return why;
    }
    const char *problem = NULL;
    json_t *expect = json_object_get(root, "expect"), *tag = json_object_get(root, "tag");
    if (!json_is_object(root))
        problem = "must be a JSON object such as {\"q\": \"...\", \"expect\": \"...\"}";
    else if (!nonempty_string(json_object_get(root, "q")))
        problem = "\"q\" must be the question, a non-empty string";
    else if (!expect)
        problem = "\"expect\" is missing (text of the passage that answers, or null)";
    else if (tag && !nonempty_string(tag))
        problem = "\"tag\" must be a non-empty string";
    else if (json_is_string(expect) || json_is_array(expect)) {
        size_t n = json_is_array(expect) ? json_array_size(expect) : 1;
        if (n == 0)
            problem = "\"expect\" must not be an empty list (null: the documents do not answer it)";
        for (size_t i = 0; i < n && !problem; i++)
            if (!nonempty_string(json_is_array(expect) ? json_array_get(expect, i) : expect))
                problem = "\"expect\" must hold non-empty strings";
        if (!problem) {
            q->expect = xcalloc(n, sizeof *q->expect);
            for (size_t i = 0; i < n; i++)
                q->expect[i] = xstrdup(json_string_value(json_is_array(expect) ? json_array_get(expect, i) : expect));
            q->n_expect = n;
        }
    } else if (!json_is_null(expect)) {
        problem = "\"expect\" must be a string, a list of strings, or null";
    }
    if (!problem) {
        q->q = xstrdup(json_string_value(json_object_get(root, "q")));
        q->tag = tag ? eval_tag(e, json_string_value(tag)) : 0;
    }
    json_decref(root);
    return problem;
}

/* Reads every question of `path`. 0, or -1 after one line on stderr. */
static int eval_read(struct eval *e, const char *path)
{
    FILE *f = fopen(path, "r");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) != 0) {
        fprintf(stderr, "linebot kb eval: %s: %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size > FILE_MAX_BYTES) {
        fprintf(stderr, "linebot kb eval: %s: %s\n", path,
                S_ISDIR(sb.st_mode) ? "is a folder" : !S_ISREG(sb.st_mode) ? "is not a file" : "larger than 64 MiB");
        fclose(f);
        return -1;
    }
    char *text = NULL;
    size_t cap = 0;
    ssize_t len;
    int line = 0, rc = 0;
    while (rc == 0 && (len = getline(&text, &cap, f)) >= 0) {
        line++;
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
            text[--len] = '\0';
        if (strspn(text, " \t") == (size_t)len)
            continue; /* blank lines are allowed */
        char why[256];
        const char *problem = NULL;
        struct question q = {0};
        if (len > LINE_MAX_BYTES)
            problem = "longer than 64 KiB";
        else if (strlen(text) != (size_t)len)
            problem = "has a NUL byte";
        else if (e->n >= QUESTIONS_MAX)
            problem = "more than 100000 questions";
        else
            problem = eval_parse_line(e, text, line, &q, why, sizeof why);
        if (problem) {
            char *shown = term_text_clean(problem, false);
            fprintf(stderr, "linebot kb eval: %s:%d: %s\n", path, line, shown);
            free(shown);
            rc = -1;
            break;
        }
        if (e->n == e->cap) {
            e->cap = e->cap ? e->cap * 2 : 64;
            e->questions = xrealloc_array(e->questions, e->cap, sizeof *e->questions);
        }
        e->questions[e->n++] = q;
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "linebot kb eval: %s: %s\n", path, strerror(errno ? errno : EIO));
        rc = -1;
    }
    if (rc == 0 && e->n == 0) {
        fprintf(stderr, "linebot kb eval: %s: no questions in it\n", path);
        rc = -1;
    }
    free(text);
    fclose(f);
    return rc;
}

/* The `k` best passages for `question`, searched as `kb search` and the
 * retrieve stage search (cli/kb.c, run/stage_retrieve.c). */
static int eval_search(struct store *st, const char *kb, const char *question, int k, struct kb_hit **hits,
                       size_t *n)
{
    struct kb_terms t;
    kb_terms_of_question(question, strlen(question), QUERY_TERMS_MAX, &t);
    int rc = store_kb_search(st, kb, (const char *const *)t.items, t.n, k, hits, n);
    kb_terms_free(&t);
    return rc;
}

/* The rank (1-based) of the first hit holding an expected text, 0 none. */
static size_t eval_rank(const struct question *q, const struct kb_hit *hits, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < q->n_expect; j++)
            if (strstr(hits[i].body, q->expect[j]))
                return i + 1;
    return 0;
}

/* A problem line: kind, line, rank, score, question, title. */
static void eval_report(const char *kind, const struct question *q, size_t rank, const struct kb_hit *hit)
{
    char rank_text[24] = "-", score_text[32] = "-";
    char *question = term_text_clean(q->q, false);
    char *title = NULL;

    if (rank)
        snprintf(rank_text, sizeof rank_text, "%zu", rank);
    if (hit) {
        snprintf(score_text, sizeof score_text, "%.4f", hit->score);
        title = term_text_clean(*hit->title ? hit->title : hit->path, false);
    }
    /* A title cut at TITLE_CHARS characters (continuation bytes are 10xxxxxx). */
    size_t chars = 0, cut = 0;
    for (const char *p = title ? title : ""; *p; p++, cut++)
        if (((unsigned char)*p & 0xc0) != 0x80 && chars++ == TITLE_CHARS)
            break;
    printf("%s\t%d\t%s\t%s\t%s\t%.*s\n", kind, q->line, rank_text, score_text, question, (int)cut,
           title ? title : "-");
    free(question);
    free(title);
}

/* Searches every question and adds it up. 0, or -1 (the store failed). */
static int eval_run(struct eval *e, struct store *st, const char *kb, int k, double min_score)
{
    for (size_t i = 0; i < e->n; i++) {
        const struct question *q = &e->questions[i];
        struct kb_hit *hits = NULL;
        size_t n = 0;
        if (eval_search(st, kb, q->q, k, &hits, &n) != 0) {
            fprintf(stderr, "linebot kb eval: line %d: search failed: %s\n", q->line, store_last_error(st));
            return -1;
        }
        struct tally *sets[2] = {&e->tallies[0], q->tag ? &e->tallies[q->tag] : NULL};
        size_t rank = q->n_expect ? eval_rank(q, hits, n) : 0;
        bool above = rank && hits[rank - 1].score >= min_score;
        bool quiet = n == 0 || hits[0].score < min_score;
        for (int s = 0; s < 2 && sets[s]; s++) {
            if (q->n_expect == 0) {
                sets[s]->off_topic++;
                sets[s]->quiet += quiet;
            } else {
                sets[s]->questions++;
                sets[s]->found += rank > 0;
                sets[s]->above += above;
                sets[s]->rr_sum += rank ? 1.0 / (double)rank : 0.0;
            }
        }
        if (q->n_expect == 0 && !quiet)
            eval_report("noise", q, 1, &hits[0]);
        else if (q->n_expect && rank == 0)
            eval_report("miss", q, 0, n ? &hits[0] : NULL);
        else if (q->n_expect && !above)
            eval_report("low", q, rank, &hits[rank - 1]);
        else if (q->n_expect && rank > 1)
            eval_report("late", q, rank, &hits[rank - 1]);
        kb_hits_free(hits, n);
    }
    return 0;
}

static void eval_print_row(const struct tally *t)
{
    double recall = t->questions ? (double)t->found / (double)t->questions : 0.0;
    double mrr = t->questions ? t->rr_sum / (double)t->questions : 0.0;
    char *tag = term_text_clean(t->tag, false);
    printf("%s\t%zu\t%.4f\t%.4f\t%zu\t%zu\t%zu\n", tag, t->questions, recall, mrr, t->above, t->off_topic, t->quiet);
    free(tag);
}

/* LINEBOT_KB_MIN_SCORE from `env` (its row's default when unset), read as
 * config.c reads it for the bot. -1 when it does not parse. */
static double eval_default_min_score(char *const *env)
{
    const char *v = settings_env_get(env, "LINEBOT_KB_MIN_SCORE");
    if (!v || !*v)
        v = settings_find("LINEBOT_KB_MIN_SCORE")->def;
    char *end = NULL;
    double s = strtod(v, &end);
    return end != v && !*end && s >= 0 && s <= 1000 ? s : -1;
}

static int eval_usage_error(const char *what)
{
    fprintf(stderr, "linebot kb eval: %s\n\n%s", what, cli_kb_eval_usage);
    return 2;
}

int cli_kb_eval(int argc, char **argv, char *const *env)
{
    const char *kb = KB_DEFAULT_NAME, *file = NULL;
    int k = K_DEFAULT;
    double min_score = -2;
    bool options_done = false;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!options_done && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
            fputs(cli_kb_eval_usage, stdout);
            return 0;
        } else if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
        } else if (!options_done && strcmp(arg, "--kb") == 0) {
            if (!value || !*value || strlen(value) > KB_NAME_MAX)
                return eval_usage_error("--kb needs a name (1 to 64 characters)");
            kb = argv[++i];
        } else if (!options_done && strcmp(arg, "-k") == 0) {
            long v = value ? strtol(value, &end, 10) : 0;
            if (!value || !end || *end || v < 1 || v > K_MAX)
                return eval_usage_error("-k needs a number from 1 to 100");
            k = (int)v;
            i++;
        } else if (!options_done && strcmp(arg, "--min-score") == 0) {
            double v = value ? strtod(value, &end) : -1;
            if (!value || end == value || *end || !(v >= 0 && v <= 1000))
                return eval_usage_error("--min-score needs a number from 0 to 1000");
            min_score = v;
            i++;
        } else if (!options_done && arg[0] == '-' && arg[1]) {
            char *what = xasprintf("unknown option %s", arg);
            int rc = eval_usage_error(what);
            free(what);
            return rc;
        } else if (file) {
            return eval_usage_error("one FILE only");
        } else {
            file = arg;
        }
    }
    if (!file)
        return eval_usage_error("eval needs a FILE of questions (JSON Lines)");
    if (min_score < -1 && (min_score = eval_default_min_score(env)) < 0) {
        fputs("linebot kb eval: LINEBOT_KB_MIN_SCORE must be a number from 0 to 1000\n", stderr);
        return 2;
    }

    struct eval e = {0};
    e.tallies = xcalloc(1, sizeof *e.tallies);
    e.tallies[0].tag = xstrdup("all");
    e.n_tallies = 1;
    int rc = 1;
    if (eval_read(&e, file) != 0)
        goto out;
    struct store *st = cli_store_open("kb eval", env, false, &rc);
    if (!st)
        goto out;
    struct kb_doc_info *docs = NULL;
    size_t n_docs = 0;
    if (store_kb_docs(st, kb, 0, NULL, &docs, &n_docs) != 0) {
        fprintf(stderr, "linebot kb eval: cannot list the documents: %s\n", store_last_error(st));
        rc = 1;
    } else if (n_docs == 0) {
        char *shown = term_text_clean(kb, false);
        fprintf(stderr, "linebot kb eval: knowledge base %s has no documents (add them with `linebot kb sync`)\n",
                shown);
        free(shown);
        rc = 1;
    } else if (eval_run(&e, st, kb, k, min_score) != 0) {
        rc = 1;
    } else {
        printf("min_score\t%.4f\n", min_score);
        printf("tag\tquestions\trecall@%d\tmrr\tabove_min\toff_topic\tquiet\n", k);
        for (size_t i = 1; i < e.n_tallies; i++)
            eval_print_row(&e.tallies[i]);
        eval_print_row(&e.tallies[0]);
        rc = 0;
    }
    kb_doc_infos_free(docs, n_docs);
    store_close(st);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fputs("linebot kb eval: could not write the output\n", stderr);
        rc = 1;
    }
out:
    eval_free(&e);
    return rc;
}
