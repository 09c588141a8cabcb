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
