/* kb_bench.c - bench/kb.sh's driver for the knowledge base (issue 12, part 5).
 *
 *   linebot-kb-bench gen DIR CHUNKS [SEED]
 *       writes a synthetic corpus of about CHUNKS chunks into DIR: Markdown
 *       documents of SECTIONS sections, each section one chunk (under
 *       KB_CHUNK_TARGET characters), in Japanese, Traditional Chinese and
 *       English, a fifth of each document's sections in another language.
 *       Each language has 20000 words (everyday words of shops and clubs,
 *       then made-up ones), drawn as in real text: the word of rank r about
 *       1/(r + 50) as often, so that BM25's postings are long for a few
 *       terms and short for most. Prints `docs=N bytes=N`.
 *   linebot-kb-bench query DB KB QUERIES [SEED]
 *       opens the store DB and times QUERIES searches of knowledge base KB,
 *       made as the bot makes them (core/kb_terms.h, then store_kb_search
 *       for KB_SOURCES_MAX passages, as run/stage_retrieve.c), after a
 *       warm-up. Questions are one to four words drawn the same way, in one
 *       language each. Prints `queries= p50_ms= p99_ms= mean_ms= max_ms=
 *       hits_per_query= cpu_p50_ms= cpu_p99_ms= maxrss_kib=` (cpu: the
 *       processor time a search took, all threads, which compares builds
 *       on a busy machine; maxrss: its own peak RSS, getrusage).
 *   linebot-kb-bench query DB KB QUERIES SEED EMBED_BASE_URL MODEL
 *       the same questions searched as the bot searches with
 *       LINEBOT_EMBED_MODEL set (run/stage_retrieve.c): the lexical search,
 *       and, on a thread of its own meanwhile, the question embedded by
 *       the server at EMBED_BASE_URL (io/embed.h, over loopback HTTP) and
 *       the knowledge base's vectors in memory searched (run/kb_vectors.h:
 *       read from the store on the first question, in the warm-up); then
 *       the two rankings fused
 *       (core/rrf.h) and the passages found by vectors alone read. Prints
 *       the whole path's `p50_ms= p99_ms= mean_ms= max_ms=`, the embedding
 *       call's `embed_p50_ms= embed_p99_ms=`, the in-memory search's
 *       `top_p50_ms= top_p99_ms=`, `vectors= dims= load_ms=` and
 *       `maxrss_kib=`: the peak RSS of a process holding them all.
 *   linebot-kb-bench embed-serve DIMS
 *       a fake embeddings server (kb_fake_embed.h) of DIMS dimensions on
 *       loopback: prints `base_url=http://127.0.0.1:PORT/v1`, then serves
 *       until its standard input closes (bench/kb.sh keeps it open).
 *   linebot-kb-bench run CMD ARGS...
 *       runs CMD, its output to /dev/null, and prints `seconds= maxrss_kib=
 *       status=`: the wall time and the child's peak RSS (wait4), for
 *       `linebot kb sync` without a dependency on /usr/bin/time.
 *
 * In-process timing, since a `linebot kb search` per query would mostly
 * measure the start of a process. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/kb_answer.h"
#include "core/kb_terms.h"
#include "core/rrf.h"
#include "core/vec.h"
#include "io/clock.h"
#include "io/embed.h"
#include "io/http_client.h"
#include "io/store.h"
#include "kb_fake_embed.h"
#include "run/kb_vectors.h"

#define SECTIONS 20            /* sections, hence chunks, per document */
#define SECTION_CHARS_EN 420   /* bytes of an English section */
#define SECTION_CHARS_CJK 170  /* characters of a Japanese or Chinese section */
#define QUERY_TERMS_MAX 64     /* as stage_retrieve.c cuts a question */
#define WARMUP 50

static const char *const ja_words[] = {
    "営業時間", "料金", "予約", "駐車場", "会員", "受付", "支払い", "領収書", "返品", "交換", "配送", "送料",
    "在庫", "注文", "問い合わせ", "電話番号", "住所", "最寄り駅", "徒歩", "割引", "学生", "子ども", "大人",
    "団体", "貸切", "定休日", "祝日", "年末年始", "臨時休業", "メニュー", "コーヒー", "ランチ", "ディナー",
    "テイクアウト", "アレルギー", "キャンセル", "変更", "保険証", "診察", "検査", "処方箋", "部活動", "合宿",
    "部費", "顧問", "大会", "練習", "申込書", "締切", "書類", "証明書", "ポイント", "クーポン", "アプリ",
    "登録", "パスワード", "ログイン", "保証書", "修理", "延長", "入会金", "月会費", "体験", "ロッカー",
    "シャワー", "更衣室", "持ち物", "服装", "雨天", "中止", "振替", "返金", "手数料", "消費税", "分割払い",
};
static const char *const ja_glue[] = {"は", "の", "を", "に", "で", "と", "について", "から", "まで", "も"};
static const char *const ja_ends[] = {"です。", "ます。", "できます。", "ください。", "いたします。", "ありません。"};

static const char *const zh_words[] = {
    "營業時間", "價格", "預約", "停車場", "會員", "掛號", "付款", "發票", "退貨", "換貨", "運費", "庫存",
    "訂單", "客服", "電話", "地址", "捷運站", "步行", "折扣", "學生", "兒童", "成人", "團體", "包場", "公休",
    "國定假日", "春節", "菜單", "咖啡", "午餐", "晚餐", "外帶", "過敏原", "取消", "更改", "健保卡", "門診",
    "檢查", "藥品", "社團", "社費", "社課", "比賽", "練習", "報名表", "截止", "文件", "證明書", "點數",
    "優惠券", "應用程式", "註冊", "密碼", "登入", "保固", "維修", "延長", "入會費", "月費", "體驗課",
    "置物櫃", "淋浴間", "更衣室", "攜帶物品", "服裝", "雨天", "停課", "補課", "退費", "手續費", "營業稅",
    "分期付款", "外送", "訂金",
};
static const char *const zh_glue[] = {"的", "和", "請", "可以", "需要", "提供", "於", "及", "在", "每"};
static const char *const zh_ends[] = {"。", "，", "。", "；"};

static const char *const en_words[] = {
    "opening", "hours", "price", "booking", "parking", "member", "reception", "payment", "receipt", "return",
    "exchange", "delivery", "shipping", "stock", "order", "contact", "phone", "address", "station", "walk",
    "discount", "student", "child", "adult", "group", "private", "closed", "holiday", "menu", "coffee", "lunch",
    "dinner", "takeaway", "allergy", "cancel", "change", "insurance", "appointment", "checkup", "prescription",
    "club", "camp", "fee", "coach", "tournament", "practice", "application", "deadline", "document",
    "certificate", "points", "coupon", "app", "register", "password", "login", "warranty", "repair", "extend",
    "joining", "monthly", "trial", "locker", "shower", "changing", "bring", "clothes", "rain", "cancelled",
    "refund", "charge", "tax", "instalments", "deposit", "weekday", "weekend", "morning", "evening", "staff",
    "manager", "service", "room", "table", "seat", "ticket", "card", "cash", "online", "form", "email",
    "notice", "rules", "pets", "dogs", "bicycle", "library", "books", "printing", "wifi", "network", "lesson",
    "beginner", "advanced", "equipment", "rental", "helmet", "gloves", "towel", "shoes", "water", "snacks",
};
static const char *const en_glue[] = {"the", "a", "for", "and", "of", "to", "in", "with", "at", "on", "is", "are",
                                      "you", "we", "can", "please", "our", "your", "by", "from"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define VOCAB 20000 /* words per language: the lists above, then made-up words */

/* Made-up words are drawn from these: common Han characters (shared by
 * Japanese and Chinese, as much of their text is), katakana, and Latin
 * syllables. */
static const char han[] =
    "日一大年中会人本月長出時行見上後分子前間生業手方事地者新場員立開自定問金高合社部用力"
    "内来下理動同意物田作成体発主代実明入全学北外東西南京都市区町村店品価料費税円番号電話"
    "車駅道路口門室館院園所局課係部課週末朝昼夜午今先次毎回度期限利予約席数量額名称住所"
    "書類届証券票表紙図写真映画音楽茶酒肉魚米麺飯菓糖塩油水火木土空海山川林森花草石岩雪"
    "雨風雲晴温暖寒冷熱涼春夏秋冬犬猫鳥馬牛羊虫貝家屋建築工事修理保険医療薬病科歯眼耳鼻";
static const char kata[] = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン";
static const char consonants[] = "bcdfghklmnprstvw";
static const char vowels[] = "aeiou";

struct vocab {
    char **words; /* the list's words first: the most frequent */
    size_t n;
};
static struct vocab vocabs[3];

/* xorshift64*: the same corpus and questions for the same seed. */
static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

/* An index in [0, n), uniform. */
static size_t pick(size_t n)
{
    double u = (double)(rng_next() >> 11) / 9007199254740992.0;
    size_t i = (size_t)(u * (double)n);
    return i < n ? i : n - 1;
}

enum corpus_lang { CL_JA, CL_ZH, CL_EN };

/* `n` characters of a string of three-byte UTF-8 characters, at random. */
static void append_chars(char *out, size_t cap, const char *set, size_t n)
{
    size_t chars = strlen(set) / 3;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);
        if (len + 4 > cap)
            return;
        memcpy(out + len, set + 3 * pick(chars), 3);
        out[len + 3] = '\0';
    }
}

/* Each language's vocabulary: its list, then made-up words up to VOCAB. */
static void vocab_init(void)
{
    const char *const *lists[3] = {ja_words, zh_words, en_words};
    size_t sizes[3] = {COUNT(ja_words), COUNT(zh_words), COUNT(en_words)};
    for (int l = 0; l < 3; l++) {
        struct vocab *v = &vocabs[l];
        v->words = xcalloc(VOCAB, sizeof *v->words);
        for (size_t i = 0; i < VOCAB; i++) {
            char w[64] = "";
            if (i < sizes[l])
                snprintf(w, sizeof w, "%s", lists[l][i]);
            else if (l == CL_EN)
                for (size_t syl = 0, n = 2 + pick(3); syl < n; syl++)
                    snprintf(w + strlen(w), sizeof w - strlen(w), "%c%c", consonants[pick(strlen(consonants))],
                             vowels[pick(strlen(vowels))]);
            else if (l == CL_JA && pick(5) < 2)
                append_chars(w, sizeof w, kata, 3 + pick(3));
            else
                append_chars(w, sizeof w, han, 2 + pick(2));
            v->words[i] = xstrdup(w);
        }
        v->n = VOCAB;
    }
}

/* A word of `lang`, Zipf-Mandelbrot-like: the word of rank r comes about
 * 1/(r + ZIPF_SHIFT) as often as the others (r + ZIPF_SHIFT log-uniform).
 * The shift keeps the most common content word near 0.3% of the words, as
 * in real text, where the most common words are the glue (the, of, の). */
#define ZIPF_SHIFT 50.0
static const char *vocab_word(enum corpus_lang lang)
{
    const struct vocab *v = &vocabs[lang];
    double u = (double)(rng_next() >> 11) / 9007199254740992.0;
    double lo = log(ZIPF_SHIFT), hi = log((double)v->n + ZIPF_SHIFT);
    size_t r = (size_t)(exp(lo + u * (hi - lo)) - ZIPF_SHIFT);
    return v->words[r < v->n ? r : v->n - 1];
}

/* Appends one section's text in `lang` to `f`: a heading, then sentences. */
static size_t write_section(FILE *f, enum corpus_lang lang, size_t doc, size_t sec)
{
    size_t bytes = 0;
    if (lang == CL_EN) {
        bytes += (size_t)fprintf(f, "## %s %s\n\n", vocab_word(CL_EN), vocab_word(CL_EN));
        size_t chars = 0;
        while (chars < SECTION_CHARS_EN) {
            /* A sentence: six to twelve words, half of them glue. */
            size_t n = 6 + pick(7);
            for (size_t w = 0; w < n; w++) {
                const char *word = w % 2 ? en_glue[pick(COUNT(en_glue))] : vocab_word(CL_EN);
                chars += (size_t)fprintf(f, "%s%s", w ? " " : (chars ? " " : ""), word);
            }
            if (pick(4) == 0)
                chars += (size_t)fprintf(f, " %zu", 10 + pick(5000));
            chars += (size_t)fprintf(f, ".");
        }
        bytes += chars;
    } else {
        const char *const *glue = lang == CL_JA ? ja_glue : zh_glue;
        size_t n_glue = lang == CL_JA ? COUNT(ja_glue) : COUNT(zh_glue);
        const char *const *ends = lang == CL_JA ? ja_ends : zh_ends;
        size_t n_ends = lang == CL_JA ? COUNT(ja_ends) : COUNT(zh_ends);
        bytes += (size_t)fprintf(f, "## %s\n\n", vocab_word(lang));
        size_t chars = 0;
        while (chars < SECTION_CHARS_CJK) {
            size_t n = 2 + pick(3);
            for (size_t w = 0; w < n; w++) {
                const char *word = vocab_word(lang), *g = glue[pick(n_glue)];
                bytes += (size_t)fprintf(f, "%s%s", word, g);
                chars += strlen(word) / 3 + strlen(g) / 3; /* three bytes a character */
            }
            if (pick(3) == 0) {
                bytes += (size_t)fprintf(f, "%zu", 1 + pick(3000));
                chars += 3;
            }
            const char *end = ends[pick(n_ends)];
            bytes += (size_t)fprintf(f, "%s", end);
            chars += strlen(end) / 3;
        }
    }
    /* A word found in this section alone, as product codes and names are. */
    bytes += (size_t)fprintf(f, " (ref D%zuS%zu)\n\n", doc, sec);
    return bytes;
}

static int cmd_gen(const char *dir, long chunks, uint64_t seed)
{
    rng_state ^= seed * 0x9e3779b97f4a7c15ULL;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "kb-bench: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    size_t docs = (size_t)(chunks + SECTIONS - 1) / SECTIONS, bytes = 0;
    for (size_t d = 0; d < docs; d++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/doc-%06zu.md", dir, d);
        FILE *f = fopen(path, "w");
        if (!f) {
            fprintf(stderr, "kb-bench: %s: %s\n", path, strerror(errno));
            return 1;
        }
        enum corpus_lang lang = (enum corpus_lang)(d % 3);
        bytes += (size_t)fprintf(f, "# Document %zu\n\n", d);
        for (size_t s = 0; s < SECTIONS; s++)
            bytes += write_section(f, pick(5) == 0 ? (enum corpus_lang)pick(3) : lang, d, s);
        if (fclose(f) != 0) {
            fprintf(stderr, "kb-bench: %s: %s\n", path, strerror(errno));
            return 1;
        }
    }
    printf("docs=%zu bytes=%zu\n", docs, bytes);
    return 0;
}

/* A question: one to four words of one language, with its glue. */
static char *make_question(void)
{
    char q[512] = "";
    size_t n = 1 + pick(4);
    enum corpus_lang lang = (enum corpus_lang)pick(3);
    for (size_t w = 0; w < n; w++) {
        size_t len = strlen(q);
        if (lang == CL_EN)
            snprintf(q + len, sizeof q - len, "%s%s", w ? " " : "", vocab_word(CL_EN));
        else if (lang == CL_JA)
            snprintf(q + len, sizeof q - len, "%s%s", vocab_word(CL_JA),
                     w + 1 < n ? ja_glue[pick(COUNT(ja_glue))] : "はありますか");
        else
            snprintf(q + len, sizeof q - len, "%s%s", vocab_word(CL_ZH),
                     w + 1 < n ? zh_glue[pick(COUNT(zh_glue))] : "嗎");
    }
    return xstrdup(q);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* The processor time of the process (all its threads): unlike the wall
 * time, it barely grows when other processes share the cores, so two builds
 * compare on a busy machine. */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts ms[0..n) and returns its p-th fraction (0.5, 0.99): the smallest
 * value at or above that share of the values. */
static double percentile(double *ms, size_t n, double p)
{
    qsort(ms, n, sizeof *ms, cmp_double);
    size_t at = (size_t)((double)n * p + 0.999999);
    return ms[(at ? at : 1) - 1];
}

/* With LINEBOT_EMBED_MODEL: where the question's embedding comes from. */
struct vector_mode {
    struct http_client *http;
    struct embed_target target;
    size_t dims;       /* kb_vectors_ready's */
    double embed_ms, top_ms; /* the last search's parts */
};

/* The vectors' half of a search, as stage_retrieve.c's vector_finish and
 * fuse: `lex` are the lexical hits' chunk ids. Returns the passages found,
 * -1 on failure (with a reason on stderr). */
static long vector_finish(struct store *st, const char *kb, struct vector_mode *vm, struct kb_vector_search *vs,
                          const int64_t *lex, size_t n_lex)
{
    kb_vectors_search_wait(vs);
    vm->embed_ms = vs->embed_ms;
    vm->top_ms = vs->top_ms;
    if (vs->rc != 0) {
        fprintf(stderr, "kb-bench: embedding the question: %s\n", vs->err);
        return -1;
    }
    int64_t vec[KB_SOURCES_MAX], missing[KB_SOURCES_MAX];
    for (size_t i = 0; i < vs->n; i++)
        vec[i] = vs->hits[i].id;
    struct rrf_item fused[2 * KB_SOURCES_MAX];
    size_t n_f = rrf_fuse(lex, n_lex, vec, vs->n, RRF_K, fused, KB_SOURCES_MAX), n_missing = 0;
    for (size_t i = 0; i < n_f; i++)
        if (fused[i].rank_a == 0)
            missing[n_missing++] = fused[i].id;
    struct kb_hit *extra = NULL;
    size_t n_extra = 0;
    if (n_missing && store_kb_chunks(st, kb, missing, n_missing, 0, 0, &extra, &n_extra) != 0) {
        fprintf(stderr, "kb-bench: reading passages: %s\n", store_last_error(st));
        return -1;
    }
    kb_hits_free(extra, n_extra);
    return (long)n_f;
}

/* One search as the bot makes it (run/stage_retrieve.c's search_kb): with
 * vectors, their half runs on its thread during the lexical search.
 * Returns the hits found, -1 on failure. */
static long search_once(struct store *st, const char *kb, const char *question, struct vector_mode *vm)
{
    struct kb_vector_search vs;
    struct vec_hit vhits[KB_SOURCES_MAX];
    if (vm) {
        if (kb_vectors_ready(st, kb, vm->target.model, &vm->dims) != 1) {
            fprintf(stderr, "kb-bench: knowledge base %s has no vectors of %s\n", kb, vm->target.model);
            return -1;
        }
        vs = (struct kb_vector_search){.http = vm->http, .target = vm->target, .kb = kb, .question = question,
                                       .dims = vm->dims, .deadline_ms = clock_monotonic_ms() + 3000,
                                       .hits = vhits, .k = KB_SOURCES_MAX};
        kb_vectors_search_start(&vs);
    }
    struct kb_terms t;
    kb_terms_of_question(question, strlen(question), QUERY_TERMS_MAX, &t);
    struct kb_hit *hits = NULL;
    size_t n = 0;
    int rc = store_kb_search(st, kb, (const char *const *)t.items, t.n, KB_SOURCES_MAX, &hits, &n);
    kb_terms_free(&t);
    long found = rc == 0 ? (long)n : -1;
    if (vm) {
        int64_t lex[KB_SOURCES_MAX];
        for (size_t i = 0; i < n && i < KB_SOURCES_MAX; i++)
            lex[i] = hits[i].chunk_id;
        long fused = vector_finish(st, kb, vm, &vs, lex, n < KB_SOURCES_MAX ? n : KB_SOURCES_MAX);
        if (rc == 0)
            found = fused;
    }
    kb_hits_free(hits, n);
    return found;
}

static int cmd_query(const char *db, const char *kb, long queries, uint64_t seed, struct vector_mode *vm)
{
    char err[512];
    rng_state ^= seed * 0x9e3779b97f4a7c15ULL;
    struct store *st = store_open(db, err, sizeof err);
    if (!st) {
        fprintf(stderr, "kb-bench: %s: %s\n", db, err);
        return 1;
    }
    double *ms = xcalloc((size_t)queries, sizeof *ms), *embed_ms = xcalloc((size_t)queries, sizeof *ms),
           *top_ms = xcalloc((size_t)queries, sizeof *ms), *cpu = xcalloc((size_t)queries, sizeof *ms), load_ms = 0;
    long hits = 0;
    int rc = 0;
    for (long i = 0; i < WARMUP + queries; i++) {
        char *q = make_question();
        double t0 = now_ms(), c0 = cpu_ms();
        long n = search_once(st, kb, q, vm);
        double took = now_ms() - t0, took_cpu = cpu_ms() - c0;
        free(q);
        if (n < 0) {
            fprintf(stderr, "kb-bench: search failed: %s\n", store_last_error(st));
            rc = 1;
            break;
        }
        if (i == 0)
            load_ms = took; /* the first question reads the vectors */
        if (i >= WARMUP) {
            ms[i - WARMUP] = took;
            cpu[i - WARMUP] = took_cpu;
            if (vm) {
                embed_ms[i - WARMUP] = vm->embed_ms;
                top_ms[i - WARMUP] = vm->top_ms;
            }
            hits += n;
        }
    }
    store_close(st);
    if (rc == 0) {
        double sum = 0;
        for (long i = 0; i < queries; i++)
            sum += ms[i];
        size_t nq = (size_t)queries;
        double p50 = percentile(ms, nq, 0.5), p99 = percentile(ms, nq, 0.99);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("queries=%ld p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f max_ms=%.3f hits_per_query=%.2f", queries, p50,
               p99, sum / (double)queries, ms[nq - 1], (double)hits / (double)queries);
        if (vm)
            printf(" embed_p50_ms=%.3f embed_p99_ms=%.3f top_p50_ms=%.3f top_p99_ms=%.3f dims=%zu load_ms=%.1f",
                   percentile(embed_ms, nq, 0.5), percentile(embed_ms, nq, 0.99), percentile(top_ms, nq, 0.5),
                   percentile(top_ms, nq, 0.99), vm->dims, load_ms);
        printf(" cpu_p50_ms=%.3f cpu_p99_ms=%.3f maxrss_kib=%ld\n", percentile(cpu, nq, 0.5),
               percentile(cpu, nq, 0.99), ru.ru_maxrss);
    }
    free(ms);
    free(embed_ms);
    free(top_ms);
    free(cpu);
    return rc;
}

static int cmd_embed_serve(long dims)
{
    if (dims <= 0 || dims > VEC_DIMS_MAX) {
        fprintf(stderr, "kb-bench: dimensions must be 1 to %d\n", VEC_DIMS_MAX);
        return 2;
    }
    struct kb_fake_embed *f = kb_fake_embed_start((size_t)dims);
    if (!f) {
        fprintf(stderr, "kb-bench: the fake embeddings server did not start\n");
        return 1;
    }
    printf("base_url=http://127.0.0.1:%d/v1\n", kb_fake_embed_port(f));
    fflush(stdout);
    char sink[256];
    while (read(STDIN_FILENO, sink, sizeof sink) > 0 || errno == EINTR)
        errno = 0;
    kb_fake_embed_stop(f);
    return 0;
}

static int cmd_run(char **argv)
{
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        perror("kb-bench: fork");
        return 1;
    }
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, STDOUT_FILENO);
        execvp(argv[0], argv);
        perror("kb-bench: exec");
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) {
            perror("kb-bench: wait4");
            return 1;
        }
    printf("seconds=%.3f maxrss_kib=%ld status=%d\n", (now_ms() - t0) / 1000.0, ru.ru_maxrss,
           WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    alloc_init();
    vocab_init();
    if (argc >= 4 && strcmp(argv[1], "gen") == 0)
        return cmd_gen(argv[2], atol(argv[3]), argc > 4 ? strtoull(argv[4], NULL, 10) : 1);
    if (argc >= 5 && strcmp(argv[1], "query") == 0 && atol(argv[4]) > 0) {
        uint64_t seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 2;
        if (argc < 8)
            return cmd_query(argv[2], argv[3], atol(argv[4]), seed, NULL);
        struct vector_mode vm = {.http = http_client_new(), .target = {argv[6], "bench", argv[7]}};
        int rc = cmd_query(argv[2], argv[3], atol(argv[4]), seed, &vm);
        http_client_free(vm.http);
        return rc;
    }
    if (argc == 3 && strcmp(argv[1], "embed-serve") == 0)
        return cmd_embed_serve(atol(argv[2]));
    if (argc >= 3 && strcmp(argv[1], "run") == 0)
        return cmd_run(argv + 2);
    fprintf(stderr, "usage: linebot-kb-bench gen DIR CHUNKS [SEED] | query DB KB QUERIES [SEED [EMBED_BASE_URL MODEL]]"
                    " | embed-serve DIMS | run CMD...\n");
    return 2;
}
