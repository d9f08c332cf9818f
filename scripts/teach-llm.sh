#!/usr/bin/env bash
# A teacher-guided run (LLM4Teach, IHAC, in5490's shaping) with a real LLM as the teacher:
# SmolLM2-135M-Instruct, embedded in a gridmentor-server this script starts on 127.0.0.1:PORT
# (no rate limit, a fresh data folder) and stops, scoring core's candidate plans through /v1/score.
# Then the student (greedy and sampled) and the teacher alone on the same 100 held-out episodes
# (seed 1000000), one JSON line each in OUT/evals.jsonl: {"agent_arg", "wall_s", "r": eval JSON}.
# Usage: scripts/teach-llm.sh ALGO ENV FRAMES OUT [train flags...]   (release build with smollm2;
# an existing OUT is resumed to FRAMES: `train --resume`, nothing trained is lost)
#   scripts/teach-llm.sh llm4teach KeyInBox 300000 runs/l4t-llm-keyinbox --obs ego-map \
#       --net minigrid-cnn --envs 64 --norm-adv true --anneal-lr false
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: scripts/teach-llm.sh ALGO ENV FRAMES OUT [train flags...]" >&2
  exit 2
fi
ALGO="$1"; ENV="$2"; FRAMES="$3"; OUT="$4"; shift 4
BIN="${CARGO_TARGET_DIR:-target}/release"
PORT="${TEACH_LLM_PORT:-8099}"
PLANNER="http://127.0.0.1:$PORT/v1#smollm2"

data=$(mktemp -d)
"$BIN/gridmentor-server" --addr "127.0.0.1:$PORT" --data "$data" --rate-limit 0 \
  > "$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
up=
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$PORT/v1/models" > /dev/null 2>&1 && { up=1; break; }
  kill -0 $server 2>/dev/null || { cat "$data/server.log" >&2; exit 1; }
  sleep 0.5
done
[ -n "$up" ] || { echo "teach-llm: the server on port $PORT did not answer in 60 s" >&2; exit 1; }

if [ -d "$OUT" ]; then
  # Stopped before its end, or finished with fewer frames: go on to FRAMES from latest.state.
  "$BIN/gridmentor" train --resume --out "$OUT" --frames "$FRAMES" --quiet > /dev/null
else
  "$BIN/gridmentor" train --algo "$ALGO" --env "$ENV" --planner "$PLANNER" --frames "$FRAMES" \
    --seed 1 --out "$OUT" --quiet "$@" > /dev/null
fi

: > "$OUT/evals.jsonl"
run_eval() {
  local label="$1"; shift
  local s e r
  s=$(date +%s%N)
  r=$("$BIN/gridmentor" eval --env "$ENV" "$@" --episodes 100 --seed 1000000 --json | tail -n 1)
  e=$(date +%s%N)
  echo "{\"agent_arg\":\"$label\",\"wall_s\":$(( (e - s) / 1000000 ))e-3,\"r\":$r}" >> "$OUT/evals.jsonl"
}
run_eval student-greedy --agent "checkpoint:$OUT/latest.ckpt" --greedy
run_eval student-sampled --agent "checkpoint:$OUT/latest.ckpt"
run_eval teacher-greedy --agent teacher --planner "$PLANNER" --greedy
run_eval teacher-sampled --agent teacher --planner "$PLANNER"
cat "$OUT/evals.jsonl"
