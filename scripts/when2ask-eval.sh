#!/usr/bin/env bash
# When2Ask: the trained mediator against its baselines on the same 100 held-out seeds, with the
# planner it was trained with. One line per agent: {"agent_arg", "wall_s", "r": eval JSON}.
# Usage: scripts/when2ask-eval.sh PLANNER ENV MEDIATOR.ckpt OUT.jsonl (release build)
set -euo pipefail
P="$1"; ENV="$2"; CK="$3"; OUT="$4"
BIN="${CARGO_TARGET_DIR:-target}/release/gridmentor"
: > "$OUT"
for a in "mediator:$CK" always hardcoded never "random:p=0.5"; do
  s=$(date +%s%N)
  r=$("$BIN" eval --env "$ENV" --agent "$a" --planner "$P" --style when2ask --greedy --episodes 100 --seed 1000000 --json 2>/dev/null | tail -n 1)
  e=$(date +%s%N)
  echo "{\"agent_arg\":\"$a\",\"wall_s\":$(( (e - s) / 1000000 ))e-3,\"r\":$r}" >> "$OUT"
done
