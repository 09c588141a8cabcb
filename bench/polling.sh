#!/usr/bin/env bash
# polling.sh: echo over HTTP long-polling, the Node reference contract server
# (shared/contract/node, npm socket.io) against ours (examples/contract-server),
# with the load generator bench/pollload.
#
#   bench/polling.sh [--reps 3] [--dur 8s] [--warmup 2s] [--clients 100] [--out DIR]
#
# Each repetition runs both servers back to back (freshly started, the order
# alternating), the server pinned to SERVER_CPUS (default the first allowed
# CPU) and the load generator to LOAD_CPUS (the others), as shared/bench/
# compare.sh does. Prints a table per repetition, the medians, and
# ours/node ratios computed per repetition (median of them). The last line is
# one JSON object. Exit 0 when every run was valid, 3 otherwise.
# Env: SIO_BENCH_CACHE (default ~/.cache/sio-bench), BASE_PORT (3500),
# SERVER_CPUS, LOAD_CPUS, OURS_ENV (extra env for our server, e.g. PPROF_ADDR=...),
# OURS_BIN (a prebuilt contract server to run instead, e.g. for before/after).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
die() { echo "polling.sh: $*" >&2; exit 1; }
log() { echo "$*" >&2; }

REPS=3 DUR=8s WARMUP=2s CLIENTS=100 OUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --reps) REPS=$2; shift 2 ;;
    --dur) DUR=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "polling.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ $REPS =~ ^[0-9]+$ ]] && [ "$REPS" -ge 1 ] && [ "$REPS" -le 50 ] || die "--reps must be 1..50"
[[ $CLIENTS =~ ^[0-9]+$ ]] || die "--clients must be a number"
for t in go node npm; do command -v "$t" >/dev/null || die "'$t' not found in PATH"; done

CACHE=${SIO_BENCH_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/sio-bench}
BIN=$CACHE/polling-bin
NS=$CACHE/contract-node
mkdir -p "$BIN" "$NS" || die "cannot create $CACHE"
log "== building into $BIN"
(cd "$ROOT" && go build -o "$BIN/pollload" ./bench/pollload && go build -o "$BIN/contract-server" ./examples/contract-server) >&2 ||
  die "go build failed"
SRC=$ROOT/../shared/contract/node
[ -f "$SRC/server.js" ] || die "Node contract server not found at $SRC"
for f in server.js package.json package-lock.json; do install -m 0644 "$SRC/$f" "$NS/$f" || die "cannot copy $f"; done
if [ ! -f "$NS/node_modules/socket.io/package.json" ] || ! cmp -s "$NS/package-lock.json" "$NS/.installed-lock"; then
  log "== npm ci (contract-node)"
  (cd "$NS" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed in $NS"
  cp "$NS/package-lock.json" "$NS/.installed-lock"
fi

ALLOWED=$(awk '/^Cpus_allowed_list:/ {print $2}' /proc/self/status)
PIN_SRV=() PIN_LOAD=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  SERVER_CPUS=${SERVER_CPUS:-${ALLOWED%%[-,]*}}
  LOAD_CPUS=${LOAD_CPUS:-$(taskset -c -p $$ | awk '{print $NF}' | tr ',' '\n' |
    awk -F- -v s="$SERVER_CPUS" '{ a = $1; b = ($2 == "" ? $1 : $2); for (i = a; i <= b; i++) if (i != s) print i }' | paste -sd,)}
  PIN_SRV=(taskset -c "$SERVER_CPUS") PIN_LOAD=(taskset -c "$LOAD_CPUS")
  log "== server on CPU $SERVER_CPUS, load generator on CPU $LOAD_CPUS"
else
  log "warning: no pinning (needs taskset and 2 CPUs)"
fi

OUT=${OUT:-$CACHE/polling-runs/$(date +%Y%m%d-%H%M%S)-$$}
mkdir -p "$OUT" || die "cannot create $OUT"
PORT=${BASE_PORT:-3500}
SPID=""
stop_server() {
  [ -n "$SPID" ] || return 0
  kill -TERM "$SPID" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SPID" 2>/dev/null
  wait "$SPID" 2>/dev/null
  SPID=""
}
trap 'stop_server' EXIT
trap 'stop_server; exit 130' INT TERM

# run NAME REP: start the server (taskset execs it, so $! is the server), wait
# for its "listening on" line, run the load, stop it.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
run() {
  local name=$1 rep=$2 slog="$OUT/$1-$2.server.log" res="$OUT/$1-$2.json"
  PORT=$((PORT + 1))
  while port_busy "$PORT"; do PORT=$((PORT + 1)); done
  case $name in
    node) (cd "$NS" && exec env PORT=$PORT ${PIN_SRV[@]+"${PIN_SRV[@]}"} node server.js) > "$slog" 2>&1 < /dev/null & ;;
    ours) env PORT=$PORT ${OURS_ENV:-} ${PIN_SRV[@]+"${PIN_SRV[@]}"} "${OURS_BIN:-$BIN/contract-server}" > "$slog" 2>&1 < /dev/null & ;;
  esac
  SPID=$!
  for _ in $(seq 1 300); do grep -q "listening on" "$slog" 2>/dev/null && break; kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  if ! grep -q "listening on" "$slog"; then
    echo '{"ok":false,"error":"server did not start"}' > "$res"; stop_server; return
  fi
  sleep 0.3
  log "== rep $rep: $name (pid $SPID $(cat "/proc/$SPID/comm" 2>/dev/null), port $PORT)"
  timeout 120 ${PIN_LOAD[@]+"${PIN_LOAD[@]}"} "$BIN/pollload" -url "http://127.0.0.1:$PORT/socket.io/" \
    -clients "$CLIENTS" -duration "$DUR" -warmup "$WARMUP" -pid "$SPID" -label "$name" > "$res" 2> "$OUT/$name-$rep.load.log"
  [ -s "$res" ] || echo '{"ok":false,"error":"load generator produced nothing"}' > "$res"
  stop_server
}

for rep in $(seq 1 "$REPS"); do
  if [ $((rep % 2)) = 1 ]; then run node "$rep"; run ours "$rep"; else run ours "$rep"; run node "$rep"; fi
done

node - "$OUT" "$REPS" <<'EOF'
const fs = require("fs");
const [dir, reps] = [process.argv[2], +process.argv[3]];
const read = (n, r) => { try { return JSON.parse(fs.readFileSync(`${dir}/${n}-${r}.json`, "utf8").trim().split("\n").pop()); } catch (e) { return { ok: false, error: String(e) }; } };
const valid = (x) => x.ok && x.connect_errors === 0 && x.runtime_errors === 0 && x.bad_replies === 0;
const med = (a) => { a = a.filter((v) => v != null && isFinite(v)).sort((x, y) => x - y); if (!a.length) return null; const m = a.length >> 1; return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2; };
const f = (v, d = 1) => (v == null ? "-" : v.toFixed(d));
const metrics = [["acks_per_s", "acks/s", 0, "higher"], ["server_cpu_us_per_ack", "CPU us/ack", 1, "lower"], ["p99_us", "p99 us", 0, "lower"], ["p50_us", "p50 us", 0, "lower"]];
let invalid = 0;
const rows = { node: [], ours: [] };
console.log("rep  server  acks/s  CPUus/ack  p50us  p99us  srvCPU%  loadCPU%  valid");
for (let r = 1; r <= reps; r++) for (const n of ["node", "ours"]) {
  const x = read(n, r); const ok = valid(x); if (!ok) invalid++;
  rows[n].push(ok ? x : null);
  console.log(`${r}    ${n.padEnd(6)}  ${f(x.acks_per_s, 0).padStart(6)}  ${f(x.server_cpu_us_per_ack).padStart(9)}  ${f(x.p50_us, 0).padStart(5)}  ${f(x.p99_us, 0).padStart(5)}  ${f(x.server_cpu_pct, 0).padStart(7)}  ${f(x.loadgen_cpu_pct, 0).padStart(8)}  ${ok ? "yes" : "NO " + (x.error || x.first_error || "")}`);
}
console.log("\nmetric        node (median)  ours (median)  ours/node  better");
const ratios = {};
for (const [k, label, d, better] of metrics) {
  const mn = med(rows.node.map((x) => x && x[k])), mo = med(rows.ours.map((x) => x && x[k]));
  const rr = med(rows.node.map((x, i) => (x && rows.ours[i] ? rows.ours[i][k] / x[k] : null)));
  ratios[k] = { node: mn, ours: mo, ours_over_node: rr, better };
  console.log(`${label.padEnd(12)}  ${f(mn, d).padStart(13)}  ${f(mo, d).padStart(13)}  ${f(rr, 2).padStart(9)}  ${better}`);
}
console.log(JSON.stringify({ bench: "sio-polling-echo", reps, ratios, invalid_runs: invalid, results_dir: dir }));
process.exitCode = invalid ? 3 : 0;
EOF
