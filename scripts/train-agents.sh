#!/usr/bin/env bash
# Train the shipped agents of agents/ again, with the commands agents/README.md lists, and print
# each one's held-out evaluation (100 episodes from seed 1000000, as the server's leaderboard).
#
#   scripts/train-agents.sh                 # every agent (hours on 2 cores)
#   scripts/train-agents.sh doorkey-8x8-ppo keyinbox-when2ask   # some of them
#   scripts/train-agents.sh --list          # the names
#
# Runs go to runs/ship-NAME (an existing run folder is refused, not overwritten); the checkpoint
# is copied to agents/NAME.ckpt only with --install. The trainer is the release build of this
# checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

# name | env | train arguments | eval arguments (besides --env, --episodes, --seed)
# Train arguments "A; B" mean: train with A, then continue the run with `--resume B`.
AGENTS=(
  "doorkey-5x5-ppo|MiniGrid-DoorKey-5x5-v0|--algo ppo --frames 150000 --seed 1|--agent checkpoint:CKPT --greedy"
  "doorkey-8x8-ppo|MiniGrid-DoorKey-8x8-v0|--algo ppo --frames 1000000 --seed 1; --frames 4000000; --frames 8000000|--agent checkpoint:CKPT --greedy"
  "simpledoorkey-ppo|SimpleDoorKey|--algo ppo --obs ego-map --net minigrid-cnn --envs 64 --norm-adv true --anneal-lr false --frames 2000000 --seed 1|--agent checkpoint:CKPT --greedy"
  "simpledoorkey-llm4teach|SimpleDoorKey|--algo llm4teach --planner expert --frames 300000 --seed 1|--agent checkpoint:CKPT --greedy"
  "keyinbox-llm4teach|KeyInBox|--algo llm4teach --planner expert --frames 300000 --seed 1|--agent checkpoint:CKPT --greedy"
  "randomboxkey-llm4teach|RandomBoxKey|--algo llm4teach --planner expert --obs ego-map --net minigrid-cnn --envs 64 --norm-adv true --anneal-lr false --frames 300000 --seed 1|--agent checkpoint:CKPT --greedy"
  "coloreddoorkey-llm4teach|ColoredDoorKey|--algo llm4teach --planner expert --obs ego-map-door-relative --net minigrid-cnn --envs 64 --norm-adv true --anneal-lr false --frames 300000 --seed 1|--agent checkpoint:CKPT --greedy"
  "coloreddoorkey-bluered-llm4teach|ColoredDoorKey-LLM4Teach|--algo llm4teach --planner expert --obs ego-map-onehot --net minigrid-cnn --envs 64 --norm-adv true --anneal-lr false --frames 100000 --seed 1|--agent checkpoint:CKPT --greedy"
  "simpledoorkey-when2ask|SimpleDoorKey|--algo when2ask --planner expert --frames 8192 --seed 1|--agent mediator:CKPT --style when2ask --greedy"
  "keyinbox-when2ask|KeyInBox|--algo when2ask --planner expert --frames 8192 --seed 1|--agent mediator:CKPT --style when2ask --greedy"
  "randomboxkey-when2ask|RandomBoxKey|--algo when2ask --planner expert --frames 8192 --seed 1|--agent mediator:CKPT --style when2ask --greedy"
  "coloreddoorkey-when2ask|ColoredDoorKey|--algo when2ask --planner expert --frames 8192 --seed 1|--agent mediator:CKPT --style when2ask --greedy"
)

install=0
wanted=()
for a in "$@"; do
  case "$a" in
    --install) install=1 ;;
    --list) for e in "${AGENTS[@]}"; do echo "${e%%|*}"; done; exit 0 ;;
    -*) echo "unknown option $a (--install, --list)" >&2; exit 2 ;;
    *) wanted+=("$a") ;;
  esac
done
for w in "${wanted[@]}"; do
  printf '%s\n' "${AGENTS[@]}" | grep -q "^$w|" || { echo "no shipped agent named $w (--list)" >&2; exit 2; }
done

${GRIDMENTOR_RELEASE_BUILD:-cargo build --release --workspace --bins --features gridmentor-server/smollm2} --quiet
BIN="${CARGO_TARGET_DIR:-target}/release/gridmentor"

for e in "${AGENTS[@]}"; do
  IFS='|' read -r name env train evalargs <<<"$e"
  if [ "${#wanted[@]}" -gt 0 ] && ! printf '%s\n' "${wanted[@]}" | grep -qx "$name"; then continue; fi
  out="runs/ship-$name"
  echo "== $name: gridmentor train --env $env $train --out $out" >&2
  start=$(date +%s)
  IFS=';' read -r -a legs <<<"$train"
  # shellcheck disable=SC2086
  "$BIN" train --env "$env" ${legs[0]} --quiet --out "$out" >/dev/null
  for leg in "${legs[@]:1}"; do
    echo "   then: gridmentor train --resume $leg --out $out" >&2
    # shellcheck disable=SC2086
    "$BIN" train --resume $leg --quiet --out "$out" >/dev/null
  done
  echo "   trained in $(( $(date +%s) - start )) s" >&2
  ckpt="$out/latest.ckpt"
  # shellcheck disable=SC2086
  result=$("$BIN" eval --env "$env" ${evalargs//CKPT/$ckpt} --episodes 100 --seed 1000000 --json)
  echo "$name $result"
  if [ "$install" = 1 ]; then cp "$ckpt" "agents/$name.ckpt"; fi
done
