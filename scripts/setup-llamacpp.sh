#!/usr/bin/env bash
# llama.cpp's OpenAI-compatible server, the real third-party upstream of `make test-llamacpp`:
# llama-cpp-python[server] from PyPI, which builds llama.cpp from source (43 minutes measured
# on 2 cores busy with other builds), in a venv cached at
# ${GRIDMENTOR_CACHE:-$HOME/.cache/gridmentor}/llamacpp. A second run with the venv in place
# builds nothing. Prints the venv's python.
set -euo pipefail

VERSION="0.3.16"
CACHE="${GRIDMENTOR_CACHE:-$HOME/.cache/gridmentor}"
VENV="$CACHE/llamacpp/venv"
PY="$VENV/bin/python"

installed() {
    [ -x "$PY" ] && "$PY" - "$VERSION" <<'EOF' >/dev/null 2>&1
import sys, importlib.metadata as m
import llama_cpp.server  # noqa: F401  (the [server] extra is there)
sys.exit(0 if m.version("llama_cpp_python") == sys.argv[1] else 1)
EOF
}

if ! installed; then
    command -v python3 >/dev/null || { echo "setup-llamacpp: python3 is missing" >&2; exit 1; }
    command -v c++ >/dev/null || { echo "setup-llamacpp: a C++ compiler is missing (apt-get install g++)" >&2; exit 1; }
    echo "setup-llamacpp: building llama-cpp-python[server]==$VERSION into $VENV (up to 45 minutes)" >&2
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --upgrade pip >&2
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$VENV/bin/pip" install --quiet "llama-cpp-python[server]==$VERSION" >&2
    installed || { echo "setup-llamacpp: llama_cpp.server does not import after the install" >&2; exit 1; }
fi
echo "$PY"
