#!/usr/bin/env bash
# in5490's comparison: PPO, reward shaping (a bonus once per suggestion an episode), policy
# influencing (a logit bias on the suggested action, annealed to zero over the first half) and
# both, with the same PPO settings and seeds. Each run's eval.json records the environment's mean
# return over all its training episodes (in5490's "mean reward"); `gridmentor report` tabulates it.
# Usage: scripts/in5490.sh ENV FRAMES PLANNER OUT SEED... (release build; a finished run is
# skipped, an unfinished one resumed from its latest.state, so nothing already trained is lost)
#   scripts/in5490.sh MiniGrid-DoorKey-8x8-v0 2000000 expert runs/in5490 1 2 3 4 5 6 7 8
set -euo pipefail
ENV="$1"; FRAMES="$2"; PLANNER="$3"; OUT="$4"; shift 4
BIN="${CARGO_TARGET_DIR:-target}/release/gridmentor"
mkdir -p "$OUT"
for s in "$@"; do
  for v in ppo shaping influence both; do
    run="$OUT/$v-s$s"
    [ -f "$run/eval.json" ] && continue
    if [ -d "$run" ]; then
      # Stopped before its end: go on from its own config.json (train refuses a folder it
      # cannot resume, with the reason).
      "$BIN" train --resume --out "$run" --frames "$FRAMES" --env-threads 0 --quiet > /dev/null
      continue
    fi
    case $v in
      ppo) a=(--algo ppo) ;;
      shaping) a=(--algo shaping --planner "$PLANNER" --shaping-bonus 0.1 --shaping-bias 0) ;;
      influence) a=(--algo shaping --planner "$PLANNER" --shaping-bonus 0 --shaping-bias 1) ;;
      both) a=(--algo shaping --planner "$PLANNER" --shaping-bonus 0.1 --shaping-bias 1) ;;
    esac
    "$BIN" train --env "$ENV" "${a[@]}" --frames "$FRAMES" --seed "$s" --env-threads 0 \
      --out "$run" --quiet > /dev/null   # the result is also the run's eval.json
  done
done
