#!/usr/bin/env bash
# bench/kb.sh - the knowledge base's speed (issue 12, part 5): ingestion,
# query latency (lexical and vector) and peak RSS, on SQLite.
#
#   bench/kb.sh           full run: 10k and 100k chunks (about 8 minutes on
#                         an idle machine); writes bench/RESULTS-kb.md
#   bench/kb.sh --quick   1k and 5k chunks, fewer queries (under a minute):
#                         checks that the harness works; writes its table
#                         under build-bench/kb-quick/ only
#
# For each size: a synthetic corpus of Markdown documents in Japanese,
# Traditional Chinese and English (linebot-kb-bench gen: 20 sections a
# document, one chunk each) is added to a fresh SQLite store by
# `linebot kb sync` (timed, with its peak RSS); then linebot-kb-bench query
# times searches made as the bot makes them (terms, then the store's BM25 for
# 8 passages), in one process, so that the start of a process does not count.
# Vectors: a copy of that store gets 1024-dimension vectors for every chunk
# from `linebot kb reembed` (timed, with its peak RSS) against a fake
# embeddings server on loopback (linebot-kb-bench embed-serve), then
# linebot-kb-bench query in its vector mode times the bot's path with
# LINEBOT_EMBED_MODEL set: the lexical search and, on a thread of its own
# meanwhile, the question embedded by the fake over HTTP and the vectors
# held in memory (int8) searched by brute-force cosine; then the fusion of
# both rankings, and reports the peak RSS of the process holding all the
# vectors.
# Targets: 100k-chunk lexical query p99 under 20 ms; vector query p99 under
# 50 ms.
#
# Exit status: 0 when the harness ran (a missed target is a result: the
# table says MISS), 1 when it broke, 2 on a bad option.
set -euo pipefail

MODE=full
for arg in "$@"; do
  case "$arg" in
    --quick) MODE=quick ;;
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "kb.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BB=${BENCH_BUILD_DIR:-$ROOT/build-bench}
RUN=$BB/kb-$MODE
START_TS=$(date +%s)
if [ "$MODE" = full ]; then
  SIZES=(10000 100000); QUERIES=2000; OUT_MD=$HERE/RESULTS-kb.md
else
  SIZES=(1000 5000); QUERIES=300; OUT_MD=$RUN/RESULTS-kb.md
fi
P99_TARGET_MS=20     # lexical, at the largest size of the full run: 100k chunks
VEC_P99_TARGET_MS=50 # vector, the same
VEC_DIMS=1024
EMBED_MODEL=bench-embed-$VEC_DIMS

say() { echo "kb.sh: $*" >&2; }
die() { say "$*"; exit 1; }
kv() { # "k1=v1 k2=v2" key -> value
  tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2; exit }'
}
calc() { awk "BEGIN { printf \"%s\", $* }"; }

rm -rf "$RUN"
mkdir -p "$RUN"
say "build linebot and linebot-kb-bench (Release) -> $BB"
cmake -S "$ROOT" -B "$BB" -DCMAKE_BUILD_TYPE=Release -DLINEBOT_BUILD_TESTS=OFF >"$RUN/build.log" 2>&1 ||
  { tail -20 "$RUN/build.log" >&2; die "configuring failed"; }
cmake --build "$BB" --target linebot linebot-kb-bench -j"$(nproc)" >>"$RUN/build.log" 2>&1 ||
  { tail -20 "$RUN/build.log" >&2; die "building failed"; }
DRIVER=$BB/linebot-kb-bench
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

# The fake embeddings server, for the whole run: it serves until its
# standard input (a FIFO this script holds open) closes.
mkfifo "$RUN/embed.in"
"$DRIVER" embed-serve "$VEC_DIMS" <"$RUN/embed.in" >"$RUN/embed.out" 2>"$RUN/embed.log" &
EMBED_PID=$!
exec {EMBED_FD}>"$RUN/embed.in"
stop_embed() { exec {EMBED_FD}>&-; wait "$EMBED_PID" 2>/dev/null || true; }
trap stop_embed EXIT
for _ in $(seq 50); do [ -s "$RUN/embed.out" ] && break; sleep 0.1; done
EMBED_URL=$(sed -n 's/^base_url=//p' "$RUN/embed.out")
[ -n "$EMBED_URL" ] || die "the fake embeddings server did not start: $(cat "$RUN/embed.log")"

# A copy of the lexical store `db` gets vectors from `kb reembed`, then the
# bot's vector path is timed on it. Prints `kb reembed`'s figures, then the
# query's, prefixed reembed_ and vq_.
vector_query() { # db -> "reembed_seconds=... vq_p50_ms=... ..."
  local vdb=${1%.db}-vec.db embed reembed vq
  cp "$1" "$vdb"
  [ ! -f "$1-wal" ] || cp "$1-wal" "$vdb-wal"
  embed=(env LINEBOT_DB="$vdb" LINEBOT_EMBED_MODEL="$EMBED_MODEL" LINEBOT_EMBED_BASE_URL="$EMBED_URL"
         LINEBOT_EMBED_API_KEY_ENV=KB_BENCH_EMBED_KEY KB_BENCH_EMBED_KEY=bench)
  reembed=$("$DRIVER" run "${embed[@]}" "$BB/linebot" kb reembed 2>>"$RUN/reembed.log") ||
    die "kb reembed failed: $reembed (see $RUN/reembed.log)"
  vq=$("$DRIVER" query "$vdb" default "$QUERIES" 11 "$EMBED_URL" "$EMBED_MODEL" 2>>"$RUN/vector-query.log") ||
    die "vector query failed (see $RUN/vector-query.log)"
  R[$2,vdb_mb]=$(calc "$(stat -c %s "$vdb") / 1048576")
  rm -f "$vdb" "$vdb-wal" "$vdb-shm"
  echo "$(sed 's/\([a-z0-9_]*=\)/reembed_\1/g' <<<"$reembed") $(sed 's/\([a-z0-9_]*=\)/vq_\1/g' <<<"$vq")"
}

declare -A R
for size in "${SIZES[@]}"; do
  dir=$RUN/corpus-$size db=$RUN/kb-$size.db
  say "$size chunks: corpus"
  gen=$("$DRIVER" gen "$dir" "$size" 7) || die "gen failed"
  bytes=$(kv "$gen" bytes)
  say "$size chunks: kb sync ($(calc "$bytes / 1048576" | cut -c1-6) MB)"
  ingest=$(LINEBOT_DB=$db "$DRIVER" run "$BB/linebot" kb sync "$dir") || die "kb sync failed: $ingest"
  chunks=$(LINEBOT_DB=$db "$BB/linebot" kb list | awk -F'\t' '{ s += $4 } END { print s + 0 }')
  [ "$chunks" -gt 0 ] || die "kb sync added no chunks"
  say "$size chunks: $QUERIES queries"
  query=$("$DRIVER" query "$db" default "$QUERIES" 11) || die "query failed"
  R[$size,chunks]=$chunks
  R[$size,mb]=$(calc "$bytes / 1048576")
  R[$size,mbps]=$(calc "$bytes / 1048576 / $(kv "$ingest" seconds)")
  R[$size,ingest_s]=$(kv "$ingest" seconds)
  R[$size,ingest_rss]=$(kv "$ingest" maxrss_kib)
  R[$size,p50]=$(kv "$query" p50_ms)
  R[$size,p99]=$(kv "$query" p99_ms)
  R[$size,mean]=$(kv "$query" mean_ms)
  R[$size,hits]=$(kv "$query" hits_per_query)
  R[$size,query_rss]=$(kv "$query" maxrss_kib)
  R[$size,db_mb]=$(calc "$(stat -c %s "$db") / 1048576")
  say "$size chunks: kb reembed ($VEC_DIMS dimensions), $QUERIES queries with vectors"
  vector_query "$db" "$size" >"$RUN/vector-$size.txt"
  vec=$(cat "$RUN/vector-$size.txt")
  for k in p50_ms p99_ms mean_ms embed_p99_ms top_p50_ms top_p99_ms load_ms maxrss_kib; do
    R[$size,vq_$k]=$(kv "$vec" "vq_$k")
  done
  R[$size,reembed_s]=$(kv "$vec" reembed_seconds)
  R[$size,reembed_rss]=$(kv "$vec" reembed_maxrss_kib)
  echo "size=$size chunks=$chunks bytes=$bytes $ingest $query $vec" >>"$RUN/raw.txt"
  rm -rf "$dir"
done

mib() { calc "$1 / 1024" | awk '{ printf "%.1f", $1 }'; }
f2() { awk -v v="$1" 'BEGIN { printf "%.2f", v }'; }
last=${SIZES[${#SIZES[@]}-1]}
verdict=MISS
awk -v p="${R[$last,p99]}" -v t="$P99_TARGET_MS" 'BEGIN { exit !(p < t) }' && verdict=PASS
[ "$MODE" = full ] || verdict="($verdict at $last chunks; the target is for 100k)"
vverdict=MISS
awk -v p="${R[$last,vq_p99_ms]}" -v t="$VEC_P99_TARGET_MS" 'BEGIN { exit !(p < t) }' && vverdict=PASS
[ "$MODE" = full ] || vverdict="($vverdict at $last chunks; the target is for 100k)"

table() {
  local s
  printf '| figure |'; for s in "${SIZES[@]}"; do printf ' %s chunks |' "${R[$s,chunks]}"; done; echo ' target | result |'
  printf '|---|'; for s in "${SIZES[@]}"; do printf -- '---:|'; done; echo '---|---|'
  printf '| Text added (MB) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(f2 "${R[$s,mb]}")"; done; echo ' | |'
  printf '| Ingestion, lexical: `kb sync` (MB of text/s) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(f2 "${R[$s,mbps]}")"; done; echo ' | |'
  printf '| Peak RSS of `kb sync` (MiB) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(mib "${R[$s,ingest_rss]}")"; done; echo ' | |'
  printf '| Lexical query p50 (ms) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(f2 "${R[$s,p50]}")"; done; echo ' | |'
  printf '| Lexical query p99 (ms) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(f2 "${R[$s,p99]}")"; done; echo " < $P99_TARGET_MS ms at 100k | $verdict |"
  printf '| Lexical query mean (ms) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(f2 "${R[$s,mean]}")"; done; echo ' | |'
  printf '| Peak RSS of the query process (MiB) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(mib "${R[$s,query_rss]}")"; done; echo ' | |'
  printf '| Database file (MiB) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(f2 "${R[$s,db_mb]}")"; done; echo ' | |'
  printf '| Embedding, `kb reembed` (s) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(f2 "${R[$s,reembed_s]}")"; done; echo ' | |'
  printf '| Peak RSS of `kb reembed` (MiB) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(mib "${R[$s,reembed_rss]}")"; done; echo ' | |'
  printf '| Vector query p50 (ms) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(f2 "${R[$s,vq_p50_ms]}")"; done; echo ' | |'
  printf '| Vector query p99 (ms) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(f2 "${R[$s,vq_p99_ms]}")"; done; echo " < $VEC_P99_TARGET_MS ms at 100k | $vverdict |"
  printf '| Vector query mean (ms) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(f2 "${R[$s,vq_mean_ms]}")"; done; echo ' | |'
  printf '| of which: the question'"'"'s embedding, p99 (ms) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(f2 "${R[$s,vq_embed_p99_ms]}")"; done; echo ' | |'
  printf '| of which: cosine over the vectors in memory, p50 / p99 (ms) |'; for s in "${SIZES[@]}"; do printf ' %s / %s |' "$(f2 "${R[$s,vq_top_p50_ms]}")" "$(f2 "${R[$s,vq_top_p99_ms]}")"; done; echo ' | |'
  printf '| First vector question: reading the vectors (ms) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(f2 "${R[$s,vq_load_ms]}")"; done; echo ' | |'
  printf '| Peak RSS of the query process holding the vectors (MiB) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(mib "${R[$s,vq_maxrss_kib]}")"; done; echo ' | |'
  printf '| Database file with vectors (MiB) |'; for s in "${SIZES[@]}"; do printf ' %s |' "$(f2 "${R[$s,vdb_mb]}")"; done; echo ' | |'
}

{
  echo "# Benchmark results: the knowledge base"
  echo
  echo "Written by \`bench/kb.sh$( [ "$MODE" = quick ] && echo ' --quick')\` on $(date -u '+%Y-%m-%d %H:%M UTC'); the run took $(( $(date +%s) - START_TS )) s. See the top of bench/kb.sh for how each figure is measured."
  echo
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load average before the run $LOADAVG_START, after $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- linebot $("$BB/linebot" version | awk 'NR == 1 { v = $2 } /^commit / { c = " (commit " $2 ")" } END { print v c }') (Release); SQLite $(pkg-config --modversion sqlite3 2>/dev/null || echo '?'); store on $(df -hT "$RUN" | awk 'NR == 2 { print $2 }') (WAL, production durability)"
  echo "- Corpus: synthetic Markdown, a third each Japanese, Traditional Chinese and English documents (a fifth of each document's sections in another language), 20 sections of one chunk each a document; added by one \`linebot kb sync\` into a fresh store"
  echo "- Queries: $QUERIES questions of one to four words in one language each, after 50 to warm up, each searched as the bot searches (core/kb_terms, store_kb_search for 8 passages), in one process"
  echo "- Vectors: $VEC_DIMS dimensions from a fake embeddings server on loopback (linebot-kb-bench embed-serve: each term of the text adds ±1 to 8 hashed dimensions), written by \`linebot kb reembed\` into a copy of the store, held in memory as int8 (core/vec.h). A vector query is the bot's whole path with LINEBOT_EMBED_MODEL set (run/stage_retrieve.c): the lexical search and, on a thread of its own meanwhile, the question embedded by the fake over HTTP and brute-force cosine over every vector (run/kb_vectors.h); then reciprocal rank fusion, and the passages found by vectors alone read from the store; the same questions as the lexical ones"
  echo
  table
  echo
  echo "The query process's peak RSS with vectors is the memory a bot needs for one knowledge base of that size: $VEC_DIMS int8 dimensions are 1 KiB a chunk (float32 would be 4 KiB: 400 MB at 100k, more than a 256 MB Lambda)."
} >"$OUT_MD"

cat "$OUT_MD"
say "written: $OUT_MD"
