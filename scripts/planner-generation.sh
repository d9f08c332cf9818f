#!/usr/bin/env bash
# The planner + skills agent planning by *generation* with a real LLM: SmolLM2-135M-Instruct (the
# embedded model's GGUF) served by llama.cpp's OpenAI-compatible server, which cannot score, so
# every plan is written by the model and parsed by core. 100 held-out episodes (seed 1000000) of
# each seed task; the JSON reports go to docs/report/planner-generation/. About 40 minutes on 2
# idle cores (and the llama.cpp build of scripts/setup-llamacpp.sh the first time).
#
#   scripts/planner-generation.sh                 # the four seed tasks
#   scripts/planner-generation.sh SimpleDoorKey   # some of them
set -euo pipefail
cd "$(dirname "$0")/.."

TASKS=("$@")
[ "${#TASKS[@]}" -gt 0 ] || TASKS=(SimpleDoorKey KeyInBox RandomBoxKey ColoredDoorKey)
PORT="${LLAMACPP_PORT:-8091}"
OUT=docs/report/planner-generation

${GRIDMENTOR_RELEASE_BUILD:-cargo build --release --workspace --bins --features gridmentor-server/smollm2} --quiet
BIN="${CARGO_TARGET_DIR:-target}/release/gridmentor"
PY="$(scripts/setup-llamacpp.sh)"
MODEL="$(scripts/fetch-model.sh)"

"$PY" -m llama_cpp.server --model "$MODEL" --model_alias smollm2-llamacpp --chat_format chatml \
  --host 127.0.0.1 --port "$PORT" --n_ctx 2048 --n_threads 2 >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 1 120); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/v1/models" && break
  kill -0 "$server" 2>/dev/null || { echo "llama.cpp's server exited" >&2; exit 1; }
  sleep 1
done

mkdir -p "$OUT"
for env in "${TASKS[@]}"; do
  start=$(date +%s)
  "$BIN" eval --env "$env" --agent planner --planner "http://127.0.0.1:$PORT/v1#smollm2-llamacpp" \
    --episodes 100 --seed 1000000 --json > "$OUT/gen-eval-$env.json"
  echo "$env: $(( $(date +%s) - start )) s" >&2
done
