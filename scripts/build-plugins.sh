#!/usr/bin/env bash
# Builds example plugins (examples/plugins/NAME) to OUT/NAME.wasm, as WASI
# reactors: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
#
#   scripts/build-plugins.sh [OUT [NAME...]]
#
# OUT defaults to bin/plugins; NAMEs default to the plugins sio-host serves
# by default, echo and chat (faults, the misbehaving test plugin, only when
# named).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bin/plugins}
shift || true
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(echo chat)
mkdir -p "$out"
for name in "${names[@]}"; do
  [ -d "examples/plugins/$name" ] || { echo "build-plugins: no examples/plugins/$name" >&2; exit 1; }
  GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o "$out/$name.wasm.tmp" "./examples/plugins/$name"
  mv "$out/$name.wasm.tmp" "$out/$name.wasm" # a running sio-host reloads it once written whole
  echo "built $out/$name.wasm ($(wc -c <"$out/$name.wasm") bytes)"
done
