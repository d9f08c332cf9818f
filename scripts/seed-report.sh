#!/usr/bin/env bash
# The report over the four seed tasks from one command: each algorithm at its best settings, for
# each seed of SEEDS (default: 1 2), trained here; the runs' small files are kept in docs/report/seed-runs and drawn with
# `gridmentor report` into docs/report/report.md and one SVG of learning curves per task.
#
#   scripts/seed-report.sh            # train what is missing, then draw (about 25 minutes a seed on 2 idle cores)
#   SEEDS=1 scripts/seed-report.sh    # one seed
#   scripts/seed-report.sh --draw     # draw again from docs/report/seed-runs alone
#   scripts/seed-report.sh --list     # the runs
#
# Runs go to ${SEED_RUNS:-runs/seed}/NAME (NAME: task-algorithm, then -sN for seeds other than 1); a run whose eval.json exists is kept, not trained again,
# so an interrupted call picks up where it stopped (a half-finished run is trained again from
# scratch). Only config.json, metrics.csv and eval.json are copied to docs/report/seed-runs
# (checkpoints and TensorBoard files stay in the run folder). The trainer is the release build of
# this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

TASKS=(SimpleDoorKey KeyInBox RandomBoxKey ColoredDoorKey)
# What made PPO and the students learn these tasks (README, "LLM4Teach"): the memory map centred
# on the agent, as one-hot planes with colours relative to the first door seen (ColoredDoorKey's
# right key is the one of the door's colour, which plain colour planes did not teach in 600k
# frames), MiniGrid's CNN, 64 envs, normalised advantages, a constant learning rate.
EGO="--obs ego-map-door-relative --net minigrid-cnn --envs 64 --norm-adv true --anneal-lr false"
# algorithm tag | train arguments (the env, --seed and --out are added)
# (in the order they run: every task's run of one algorithm, then the next algorithm)
ALGOS=(
  "when2ask|--algo when2ask --planner expert --frames 8192"
  "llm4teach|--algo llm4teach --planner expert $EGO --frames 100000"
  "ppo|--algo ppo $EGO --frames 100000"
  "ihac|--algo ihac --planner expert $EGO --frames 100000"
  "skills-rl|--algo skills-rl --frames 50000"
)

SEEDS="${SEEDS:-1 2}"
# A run's folder: task-algorithm, with -sN for seeds other than 1 (the first report's runs).
name() {
  local suffix=""
  [ "$3" = 1 ] || suffix="-s$3"
  echo "${1,,}-${2%%|*}$suffix"
}

draw_only=0
case "${1:-}" in
  "") ;;
  --draw) draw_only=1 ;;
  --list)
    for seed in $SEEDS; do for a in "${ALGOS[@]}"; do for t in "${TASKS[@]}"; do
      echo "$(name "$t" "$a" "$seed"): gridmentor train --env $t ${a#*|} --seed $seed"
    done; done; done
    exit 0 ;;
  *) echo "usage: scripts/seed-report.sh [--draw | --list]" >&2; exit 2 ;;
esac

${GRIDMENTOR_RELEASE_BUILD:-cargo build --release --workspace --bins --features gridmentor-server/smollm2} --quiet
BIN="${CARGO_TARGET_DIR:-target}/release/gridmentor"
RUNS="${SEED_RUNS:-runs/seed}"
KEEP=docs/report/seed-runs

if [ "$draw_only" = 0 ]; then
  mkdir -p "$RUNS" "$KEEP"
  for seed in $SEEDS; do
    for a in "${ALGOS[@]}"; do
      for t in "${TASKS[@]}"; do
        name="$(name "$t" "$a" "$seed")"
        run="$RUNS/$name"
        if [ ! -f "$run/eval.json" ]; then
          rm -rf "$run"
          echo "== $name: gridmentor train --env $t ${a#*|} --seed $seed" >&2
          start=$(date +%s)
          # shellcheck disable=SC2086 # the arguments are words
          "$BIN" train --env "$t" ${a#*|} --seed "$seed" --out "$run" >/dev/null
          echo "== $name: $(( $(date +%s) - start )) s" >&2
        fi
        mkdir -p "$KEEP/$name"
        cp "$run/config.json" "$run/metrics.csv" "$run/eval.json" "$KEEP/$name/"
      done
    done
  done
fi

"$BIN" report --runs "$KEEP" --out docs/report --env SimpleDoorKey --env KeyInBox \
  --env RandomBoxKey --env ColoredDoorKey
echo "drew docs/report/report.md and its SVGs from $KEEP" >&2
