/* kb_terms.h - the search terms of a text, for the knowledge base (issue 12).
 *
 * Pure. Full-text tokenizers do not segment CJK text (FTS5's unicode61 takes
 * a run of kanji for one token), so the knowledge base indexes terms made
 * here, and turns a question into terms the same way:
 *   - the text is normalised with utf8proc: NFKC (full-width Latin and digits
 *     and half-width katakana fold to their usual forms; hiragana and
 *     katakana stay distinct) and case folding;
 *   - a run of CJK characters (Han, kana, Hangul) gives its overlapping
 *     character bigrams ("営業時間" -> 営業 業時 時間); a run of one CJK
 *     character gives that character;
 *   - any other run of letters, digits and marks is one term (a word), cut
 *     to KB_TERM_MAX_CHARS characters;
 *   - everything else separates terms.
 * Every term is made only of characters of the Unicode categories L, N and
 * M, so FTS5's unicode61 tokenizer (categories 'L* N* Co M*') reads a
 * space-joined list of terms back as exactly those terms. */
#ifndef LINEBOT_KB_TERMS_H
#define LINEBOT_KB_TERMS_H

#include <stddef.h>

#define KB_TERM_MAX_CHARS 64

struct kb_terms {
    char **items;   /* the terms in text order, with repeats; malloc'd */
    size_t n;
};

/* The terms of text[0, len). Invalid UTF-8 bytes separate terms. Never
 * fails (allocation failure aborts). Free with kb_terms_free. */
void kb_terms_of(const char *text, size_t len, struct kb_terms *out);

/* Removes repeats, keeping each term's first place (a question's terms). */
void kb_terms_dedup(struct kb_terms *t);

/* A question's terms, as the knowledge base searches them (`kb search`,
 * `kb eval`, the bot's retrieve stage): kb_terms_of, repeats removed, then
 * the terms made only of hiragana are left out when any other term remains,
 * and at most `max` terms are kept, the first ones. In a Japanese question
 * the hiragana pairs are nearly all grammar (ます, すか, ては, the particle
 * の alone): they match almost every Japanese passage, and they outweighed
 * the question's words in the evaluation set (tests/data/kb-eval: recall@5
 * in Japanese 0.88 with them, 0.92 without). A question written only in
 * hiragana keeps them: they are all it has. Documents are indexed with
 * every term, so this needs no new index. */
void kb_terms_of_question(const char *text, size_t len, size_t max, struct kb_terms *out);

/* The most postings a search reads: the chunks that hold a question's terms,
 * summed over its terms. A lexical search costs about that many rows (BM25 is
 * computed for every chunk that holds any term: about 2 us each on SQLite),
 * so this bounds a query's time however large the knowledge base grows.
 * 3000 holds the 100k-chunk p99 under 20 ms with room (bench/kb.sh; 4000
 * left 2 ms). What it costs: a term held by more than 3% of 100k chunks is
 * one BM25 weighs little; on questions made of such terms (300 to 4000
 * chunks each) 98 of 100 got the same top 5 as with 4000 (2000: 83), and
 * the evaluation set (far smaller) is not affected. */
#define KB_SEARCH_POSTINGS 3000

/* Which of a question's terms a search reads. terms[i] is held by chunks[i]
 * chunks (every knowledge base counted; < 0 reads as 0). The rarest terms are
 * kept while their chunks add up to at most `budget`; the rarest one always.
 * A term left out is one most chunks share, which BM25 weighs least. Ties go
 * by the term's bytes, so the choice does not depend on the order asked.
 * Moves the kept terms, in their first order, to the front of terms[] (and
 * their counts along) and returns how many there are. */
size_t kb_terms_within(const char **terms, long long *chunks, size_t n, long long budget);

/* The terms joined by single spaces (malloc'd; "" when there are none). */
char *kb_terms_join(const struct kb_terms *t);

void kb_terms_free(struct kb_terms *t);

#endif
