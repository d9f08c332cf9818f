#!/usr/bin/env bash
# Print the path of the integration-test executable NAME from the workspace's test build
# (`cargo build --workspace --all-targets FEATURES...`), building what is stale. Running that
# file directly avoids `cargo test -p ... --test NAME`, which resolves features differently
# (dev-dependencies of the other members drop out) and rebuilds every dependency.
# Usage: scripts/test-bin.sh NAME [cargo build flags, e.g. --features gridmentor-server/smollm2]
set -euo pipefail
name="$1"; shift
exe=$(cargo build --workspace --all-targets "$@" --message-format=json \
  | grep '"reason":"compiler-artifact"' \
  | grep "\"kind\":\[\"test\"\][^}]*\"name\":\"$name\"" \
  | grep -o '"executable":"[^"]*"' | cut -d'"' -f4 | tail -n 1 || true)
if [ -z "$exe" ] || [ ! -x "$exe" ]; then
  echo "test-bin: no test executable named $name in the workspace build" >&2
  exit 1
fi
echo "$exe"
