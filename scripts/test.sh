#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs what the tests
# need (Go modules, npm packages from the pinned lock files), then runs vet
# for both GOOS, the wasm build, the race-enabled test suite with external
# dependencies required (SIO_REQUIRE_DEPS=1: a missing Node fails instead of
# skipping), and each fuzz target for a short time.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-8s}

step() { printf '\n== %s\n' "$*"; }

step "install"
go mod download
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "node and npm are required (Node 20+)"; exit 1
fi
(cd test/interop && npm ci --no-audit --no-fund --loglevel=error)

# --- browser: the wasm client (test/browser) -------------------------------
# Debian's chromium (never a downloaded browser) and the pinned playwright-core;
# the browser build is vetted and kept free of net/http.
step "browser: install and check the wasm client"
if [ -z "${SIO_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is required: apt-get install chromium (or set SIO_CHROMIUM)"; exit 1
  fi
fi
(cd test/browser && npm ci --no-audit --no-fund --loglevel=error)
GOOS=js GOARCH=wasm go vet ./transport/wasm/... ./cmd/sio-wasm/
if GOOS=js GOARCH=wasm go list -deps ./cmd/sio-wasm | grep -qx net/http; then
  echo "the browser build imports net/http:"; GOOS=js GOARCH=wasm go list -deps ./cmd/sio-wasm | grep -x 'net/http'; exit 1
fi
# --- end browser -------------------------------------------------------------

# --- plugins: the wasm plugin host (plugins/, cmd/sio-host, test/plugins) ----
# wabt's wat2wasm checks that the committed binaries of the hand-written
# WebAssembly test plugins (plugins/testdata/*.wat) are up to date; the Go
# guest SDK, the example plugins and the test plugin are vetted for wasip1.
# The tests use test/interop's socket.io-client and test/browser's
# playwright-core, installed above.
step "plugins: install and vet the guests"
if ! command -v wat2wasm >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wabt >/dev/null
  else
    echo "wat2wasm not found (Debian package wabt): the .wat check will be skipped"
  fi
fi
GOOS=wasip1 GOARCH=wasm go vet ./plugins/guest/ ./examples/plugins/... ./test/plugins/testdata/guest/
# --- end plugins -------------------------------------------------------------

# --- cluster: Redis adapter and recovery (adapter/, test/cluster) ------------
# Debian's redis-server, started on 127.0.0.1 on a free port for the test run
# and stopped at exit (SIO_TEST_REDIS_URL; REDIS_SERVER lets tests start private ones,
# e.g. to restart Redis under a cluster); the pinned Node.js packages of
# test/cluster (@socket.io/redis-adapter 8.3.0, @socket.io/redis-emitter,
# socket.io, socket.io-client).
step "cluster: redis-server and test/cluster packages"
if ! command -v redis-server >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis-server is required: apt-get install redis-server"; exit 1
  fi
fi
(cd test/cluster && npm ci --no-audit --no-fund --loglevel=error)
redis_port=""
for p in $(seq 6390 6490); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then redis_port=$p; break; fi
done
[ -n "$redis_port" ] || { echo "no free port for redis-server"; exit 1; }
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
  --protected-mode no --loglevel warning >"${TMPDIR:-/tmp}/sio-test-redis.log" 2>&1 &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; then break; fi
  sleep 0.1
done
# Only the cluster tests see it: servers of other tests must stay single nodes.
export SIO_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
REDIS_SERVER="$(command -v redis-server)"
export REDIS_SERVER
echo "redis-server $(redis-server --version | awk '{print $3}') on $SIO_TEST_REDIS_URL"
# --- end cluster -------------------------------------------------------------

step "format and vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi
go vet ./...
GOOS=js GOARCH=wasm go vet ./engine/...
GOOS=js GOARCH=wasm go build ./engine/...

step "tests (race detector, external dependencies required)"
SIO_REQUIRE_DEPS=1 go test -race -count=1 ./...

step "fuzz targets, ${FUZZTIME} each beyond their seed corpus"
for pkg in $(go list ./engine/... ./plugins ./adapter/redisadapter ./transport/nethttp); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "-- $pkg $target"
    # Quiet when it passes; everything (the failing input, its trace) when not.
    fuzz() { go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1; }
    status=0; out=$(fuzz) || status=$?
    if [ "$status" != 0 ] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input' <<<"$out"; then
      # Go 1.26's fuzz coordinator can report its own -fuzztime deadline as
      # a failure on a loaded machine (golang/go#75804, fixed in 1.27): no
      # input failed, so the target runs once more.
      echo "(the Go fuzz deadline race, golang/go#75804: once more)"
      status=0; out=$(fuzz) || status=$?
    fi
    if [ "$status" != 0 ]; then
      echo "$out" | tail -n 60
      for f in $(git ls-files --others --exclude-standard -- '*testdata/fuzz/*'); do
        echo "new failing input $f:"; cat "$f"
      done
      exit 1
    fi
    echo "$out" | tail -n 2
  done
done
echo
echo "all tests passed"
