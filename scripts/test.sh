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

step "format and vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi
go vet ./...
GOOS=js GOARCH=wasm go vet ./engine/...
GOOS=js GOARCH=wasm go build ./engine/...

step "tests (race detector, external dependencies required)"
SIO_REQUIRE_DEPS=1 go test -race -count=1 ./...

step "fuzz targets, ${FUZZTIME} each beyond their seed corpus"
for pkg in $(go list ./engine/...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "-- $pkg $target"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1 | tail -n 2
  done
done
echo
echo "all tests passed"
