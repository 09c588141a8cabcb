#!/usr/bin/env bash
# One command on a fresh machine (Go 1.26): builds what sio-host needs and
# runs it, serving the browser example with the example plugins (chat with
# rooms, echo) on http://127.0.0.1:3000. State is in memory (no adapter).
#
#   scripts/run-host.sh [sio-host flags...]      # ADDR=127.0.0.1:3000 by default
#
# 1. the example plugins -> bin/plugins/{chat,echo}.wasm
# 2. the wasm browser client -> examples/browser/sio/ (when cmd/sio-wasm has
#    its build tool; skipped with a message otherwise)
# 3. sio-host -> bin/sio-host, then runs it with examples/plugins/sio-host.json.
# Rebuilding a plugin while it runs (scripts/build-plugins.sh) hot-reloads it.
set -euo pipefail
cd "$(dirname "$0")/.."
ADDR=${ADDR:-127.0.0.1:3000}

echo "== example plugins"
scripts/build-plugins.sh bin/plugins echo chat

if grep -qsE '^func main\(\) \{$' cmd/sio-wasm/*.go; then
  echo "== wasm browser client"
  go run ./cmd/sio-wasm -o examples/browser/sio
else
  echo "== wasm browser client: skipped (cmd/sio-wasm has no build tool yet); the page will not load its client"
fi

echo "== sio-host"
go build -o bin/sio-host ./cmd/sio-host
echo "== serving http://$ADDR (Ctrl-C to stop)"
exec bin/sio-host -addr "$ADDR" -static examples/browser -plugins bin/plugins -config examples/plugins/sio-host.json "$@"
