#!/usr/bin/env bash
# Install what a fresh machine lacks for building and testing gridmentor. Idempotent and quiet
# when everything is already there. Usage: scripts/setup.sh [--browser | --axe | --gpu]
#   --browser  headless Chromium and Firefox with their WebDriver servers (wasm and e2e tests),
#              and axe-core
#   --axe      only axe-core (npm), the e2e test's accessibility check, in target/npm/
#   --gpu      only a Vulkan driver for `--device wgpu` (make test-wgpu): Mesa's, whose llvmpipe
#              is a software adapter when the machine has no GPU
set -euo pipefail

WASM_BINDGEN_VERSION=0.2.130   # must equal the wasm-bindgen crate pinned in web/Cargo.toml
GECKODRIVER_VERSION=0.37.1     # WebDriver for Firefox (crates.io; Debian has no package)
AXE_CORE_VERSION=4.14.1        # accessibility rules the e2e test runs in the page (npm)
root="$(cd "$(dirname "$0")/.." && pwd)"
want_browser=0
want_axe=0
want_gpu=0
case "${1:-}" in
  --browser) want_browser=1; want_axe=1 ;;
  --axe) want_axe=1 ;;
  --gpu) want_gpu=1 ;;
  "") ;;
  *) echo "usage: scripts/setup.sh [--browser | --axe | --gpu]" >&2; exit 2 ;;
esac

say() { printf '[setup] %s\n' "$*"; }

# The wasm tools (everything but --gpu and --axe, which need no wasm).
if [ "$want_gpu" = 0 ] && [ "${1:-}" != --axe ]; then
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    say "adding rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi

  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
    say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
    # No --locked: the registry mirror lacks one locked dependency (see DESIGN.md).
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
fi

apt_install() {
  local SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -q "$@" >/dev/null 2>&1 || {
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q "$@" >/dev/null
  }
}

if [ "$want_browser" = 1 ]; then
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    say "installing chromium and chromium-driver (Debian packages)"
    apt_install chromium chromium-driver
  fi
  if ! command -v firefox >/dev/null && ! command -v firefox-esr >/dev/null; then
    say "installing firefox-esr (Debian package)"
    apt_install firefox-esr
  fi
  if [ "$(geckodriver --version 2>/dev/null | awk 'NR==1{print $2}')" != "$GECKODRIVER_VERSION" ]; then
    say "installing geckodriver $GECKODRIVER_VERSION (about two minutes, once)"
    # Its own target dir: the workspace's is not for tools.
    CARGO_TARGET_DIR="${TMPDIR:-/tmp}/geckodriver-build" cargo install geckodriver --version "$GECKODRIVER_VERSION" --force
    rm -rf "${TMPDIR:-/tmp}/geckodriver-build"
  fi
fi
if [ "$want_axe" = 1 ]; then
  # Under target/ (git ignores it), not a package.json of the repository: a test tool only.
  axe_dir="$root/target/npm"
  have="$(node -p "require('$axe_dir/node_modules/axe-core/package.json').version" 2>/dev/null || true)"
  if [ "$have" != "$AXE_CORE_VERSION" ]; then
    if ! command -v npm >/dev/null; then
      say "installing npm (Debian package)"
      apt_install npm
    fi
    say "installing axe-core $AXE_CORE_VERSION (npm) into target/npm"
    mkdir -p "$axe_dir"
    npm install --prefix "$axe_dir" --no-save --no-audit --no-fund --no-package-lock --silent "axe-core@$AXE_CORE_VERSION"
  fi
fi
if [ "$want_gpu" = 1 ] && [ "$(uname -s)" = Linux ]; then
  # Mesa's Vulkan drivers: the GPUs' own (radv, anv, ...) and llvmpipe (lavapipe) for none.
  if ! dpkg-query -W -f='${Status}' mesa-vulkan-drivers 2>/dev/null | grep -q "ok installed"; then
    say "installing mesa-vulkan-drivers (Debian package: Vulkan drivers, llvmpipe without a GPU)"
    apt_install mesa-vulkan-drivers
  fi
fi
exit 0
