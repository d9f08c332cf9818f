#!/usr/bin/env bash
# End to end: start the real server on a free loopback port, check its API, and load the page in
# headless Chromium, which must run the wasm and draw the grid. Usage: scripts/e2e.sh SERVER_BIN
set -euo pipefail
server="$1"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
log="$work/server.log"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$server" --addr "127.0.0.1:$port" --www "$root/www" --data "$work/data" >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "e2e FAILED: $*"; echo "--- server log"; cat "$log"; exit 1; }

for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
[ "$(curl -fsS "http://127.0.0.1:$port/healthz")" = ok ] || fail "healthz"
curl -fsS "http://127.0.0.1:$port/api/envs" | grep -q '"MiniGrid-DoorKey-8x8-v0"' || fail "/api/envs lacks DoorKey-8x8"
code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/envs/NoSuchEnv")"
[ "$code" = 404 ] || fail "unknown env answered $code, not 404"
curl -fsS "http://127.0.0.1:$port/pkg/gridmentor_web_bg.wasm" -o /dev/null || fail "wasm package not served"

browser="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$browser" ] || fail "chromium not installed (scripts/setup.sh --browser)"
flags=(--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$work/profile" --virtual-time-budget=10000)
url="http://127.0.0.1:$port/?env=MiniGrid-DoorKey-5x5-v0&seed=18446744073709551615"
dom="$("$browser" "${flags[@]}" --dump-dom "$url" 2>"$work/chromium.log")" || fail "chromium exited with an error"
grep -q 'data-ready="1"' <<<"$dom" || { echo "$dom" | head -50; fail "page did not finish loading the wasm"; }
grep -q 'use the key to open the door and then get to the goal' <<<"$dom" || fail "mission not shown"
grep -q '<dd id="status">playing</dd>' <<<"$dom" || fail "episode not started"
if grep -q 'class="error" role="alert">' <<<"$dom" && ! grep -q 'role="alert" hidden' <<<"$dom"; then fail "page shows an error"; fi
"$browser" "${flags[@]}" --window-size=1000,800 --screenshot="$work/page.png" "$url" 2>>"$work/chromium.log" || fail "screenshot"
[ -s "$work/page.png" ] || fail "empty screenshot"
mkdir -p "$root/target/e2e" && cp "$work/page.png" "$root/target/e2e/playground.png"
echo "e2e passed: server API, page loaded wasm and started an episode (screenshot target/e2e/playground.png)"
