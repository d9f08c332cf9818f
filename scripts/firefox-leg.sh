#!/usr/bin/env bash
# Run a test command in headless Firefox: checks that Firefox and geckodriver ($GECKODRIVER, or
# on PATH) are here, then runs "$@" with GECKODRIVER set. A missing browser fails under CI=true
# and is skipped, loudly, otherwise (`make setup-browser` installs both).
# Usage: scripts/firefox-leg.sh WHAT CMD...
set -euo pipefail
what="$1"; shift
driver="${GECKODRIVER:-$(command -v geckodriver || true)}"
browser="$(command -v firefox || command -v firefox-esr || true)"
missing=""
[ -n "$browser" ] || missing="firefox (Debian: firefox-esr)"
[ -n "$driver" ] && [ -x "$driver" ] || missing="${missing:+$missing and }geckodriver"
if [ -n "$missing" ]; then
  if [ "${CI:-}" = true ]; then
    echo "FAILED: $what in Firefox: $missing not installed (make setup-browser)" >&2
    exit 1
  fi
  echo "SKIPPED: $what in Firefox: $missing not installed (make setup-browser installs it)" >&2
  exit 0
fi
echo "[firefox] $what: $("$browser" --version 2>/dev/null), $("$driver" --version 2>/dev/null | sed -n 1p)"
export GECKODRIVER="$driver" FIREFOX_BIN="$browser"
exec "$@"
