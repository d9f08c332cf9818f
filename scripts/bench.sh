#!/usr/bin/env bash
# `make bench`: our env throughput beside the peers', all measured in this run.
#
#   ours single  (1 thread)      vs  Farama MiniGrid 3.2.0 (1 thread)
#   ours batched (all cores)     vs  NAVIX 0.7.4 (1024 vmapped envs, JAX on CPU)
#   the server: proxy overhead (cached /v1/chat/completions at a fixed rate vs the same call
#   straight to a fake upstream, p50/p99), leaderboard and upload throughput, on loopback
#
# The peers live in a venv at ${GRIDMENTOR_CACHE:-$HOME/.cache/gridmentor}/bench-venv, created
# and filled (pinned versions) only when missing. A peer that cannot be installed or run is
# reported and skipped; the exit status is non-zero only if our own build or bench fails.
#
# Knobs (environment): BENCH_STEPS (ours, single), BENCH_BATCHED_STEPS (ours, batched, total),
# BENCH_THREADS (ours, batched; default all cores), BENCH_MINIGRID_STEPS, BENCH_NAVIX_STEPS
# (total over the envs), BENCH_NAVIX_ENVS, BENCH_SKIP_PEERS=1, BENCH_PPO_FRAMES (PPO on
# DoorKey-5x5, ours and NAVIX's `navix.agents.PPO`, same frames; 0 skips it), BENCH_SERVER_RATE
# (requests/s of the proxy bench, default 2000), BENCH_SERVER_SECS (default 3; 0 skips the
# server bench).
set -uo pipefail

cd "$(dirname "$0")/.."

ENV_ID=MiniGrid-DoorKey-8x8-v0
OUR_STEPS=${BENCH_STEPS:-5000000}
OUR_BATCHED_STEPS=${BENCH_BATCHED_STEPS:-10000000}
MINIGRID_STEPS=${BENCH_MINIGRID_STEPS:-100000}
NAVIX_STEPS=${BENCH_NAVIX_STEPS:-2000000}
NAVIX_ENVS=${BENCH_NAVIX_ENVS:-1024}
PPO_FRAMES=${BENCH_PPO_FRAMES:-150000}
SERVER_RATE=${BENCH_SERVER_RATE:-2000}
SERVER_SECS=${BENCH_SERVER_SECS:-3}

CACHE=${GRIDMENTOR_CACHE:-$HOME/.cache/gridmentor}
VENV=$CACHE/bench-venv
# Pinned peers; jax pinned to the version NAVIX 0.7.4 was checked against here.
MINIGRID_PKGS=(minigrid==3.2.0 gymnasium==1.4.0)
NAVIX_PKGS=(navix==0.7.4 jax==0.10.2 jaxlib==0.10.2)

say() { printf 'bench: %s\n' "$*" >&2; }

# --- ours -------------------------------------------------------------------------------
say "building gridmentor (release)"
if ! ${GRIDMENTOR_RELEASE_BUILD:-cargo build --release --workspace --bins --features gridmentor-server/smollm2} --quiet; then
    say "FAILED: the release build"
    exit 1
fi
BIN="${CARGO_TARGET_DIR:-target}/release/gridmentor"

threads_arg=()
[ -n "${BENCH_THREADS:-}" ] && threads_arg=(--threads "$BENCH_THREADS")

say "ours: single, $OUR_STEPS steps"
if ! ours_single=$("$BIN" bench env --env "$ENV_ID" --steps "$OUR_STEPS" --json); then
    say "FAILED: gridmentor bench env (single)"
    exit 1
fi
echo "$ours_single"
say "ours: batched, $OUR_BATCHED_STEPS steps"
if ! ours_batched=$("$BIN" bench env --env "$ENV_ID" --steps "$OUR_BATCHED_STEPS" --batched \
    "${threads_arg[@]}" --json); then
    say "FAILED: gridmentor bench env (batched)"
    exit 1
fi
echo "$ours_batched"

ours_ppo="" ours_solve=""
if [ "$PPO_FRAMES" -gt 0 ]; then
    say "ours: PPO on MiniGrid-DoorKey-5x5-v0, $PPO_FRAMES frames, CPU"
    ppo_dir=$(mktemp -d)
    if ours_ppo=$("$BIN" train --env MiniGrid-DoorKey-5x5-v0 --frames "$PPO_FRAMES" --seed 1 \
        --device cpu --eval-episodes 10 --quiet --out "$ppo_dir/run"); then
        echo "$ours_ppo"
        # Frames at which the mean return of the last 100 episodes first reaches 0.9.
        ours_solve=$(awk -F, 'NR > 1 && $4 >= 10 && $5 >= 0.9 { print $2; exit }' \
            "$ppo_dir/run/metrics.csv")
    else
        say "FAILED: gridmentor train (PPO bench)"
        exit 1
    fi
    rm -rf "$ppo_dir"
fi

# --- peers ------------------------------------------------------------------------------
# Installs a peer's packages into the venv unless they are already there at those versions.
ensure_pkgs() {
    if "$VENV/bin/python" - "$@" <<'EOF' 2>/dev/null; then return 0; fi
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    if version(name) != want:
        sys.exit(1)
EOF
    say "installing $* into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2
}

minigrid_status="" navix_status=""
peer_lines=""
if [ "${BENCH_SKIP_PEERS:-0}" = 1 ]; then
    minigrid_status="skipped (BENCH_SKIP_PEERS=1)" navix_status=$minigrid_status
elif ! { [ -x "$VENV/bin/python" ] || { mkdir -p "$CACHE" && python3 -m venv "$VENV" >&2; }; }; then
    minigrid_status="not available: could not create a venv at $VENV (python3 -m venv)"
    navix_status=$minigrid_status
else
    only=()
    if ! ensure_pkgs "${MINIGRID_PKGS[@]}"; then
        minigrid_status="not available: pip install ${MINIGRID_PKGS[*]} failed"
        only=(--only navix)
    fi
    if ! ensure_pkgs "${NAVIX_PKGS[@]}"; then
        navix_status="not available: pip install ${NAVIX_PKGS[*]} failed"
        only=(--only minigrid)
    fi
    if [ -n "$minigrid_status" ] && [ -n "$navix_status" ]; then
        :
    else
        say "peers: MiniGrid $MINIGRID_STEPS steps, NAVIX $NAVIX_STEPS steps over $NAVIX_ENVS envs"
        ppo_arg=()
        [ -z "$navix_status" ] && ppo_arg=(--navix-ppo-frames "$PPO_FRAMES")
        peer_lines=$("$VENV/bin/python" scripts/bench_peers.py "${only[@]}" \
            --minigrid-steps "$MINIGRID_STEPS" --navix-steps "$NAVIX_STEPS" \
            --navix-envs "$NAVIX_ENVS" "${ppo_arg[@]}")
        [ -n "$peer_lines" ] && echo "$peer_lines"
    fi
fi

# --- table ------------------------------------------------------------------------------
field() { # field NAME JSON -> value of a number or string field ("" if absent)
    printf '%s\n' "$2" | sed -n "s/.*\"$1\": *\"\{0,1\}\([^,\"}]*\).*/\1/p" | head -n1
}
peer_line() { # peer_line BENCH IMPL -> the peer's JSON line of that bench ("env" or "ppo")
    printf '%s\n' "$peer_lines" | grep "\"bench\": *\"$1\"" | grep "\"impl\": *\"$2\"" | head -n1
}
peer_error() { printf '%s\n' "$1" | sed -n 's/.*"error": *"\(.*\)"}$/\1/p'; }

mg_line=$(peer_line env minigrid)
nx_line=$(peer_line env navix)
mg_sps=$(field steps_per_sec "$mg_line")
nx_sps=$(field steps_per_sec "$nx_line")
if [ -z "$minigrid_status" ] && [ -z "$mg_sps" ]; then
    minigrid_status="failed: $(peer_error "$mg_line")"
    [ -z "$mg_line" ] && minigrid_status="failed (no result; see stderr above)"
fi
if [ -z "$navix_status" ] && [ -z "$nx_sps" ]; then
    navix_status="failed: $(peer_error "$nx_line")"
    [ -z "$nx_line" ] && navix_status="failed (no result; see stderr above)"
fi

ours_s=$(field steps_per_sec "$ours_single")
ours_b=$(field steps_per_sec "$ours_batched")
ours_bt=$(field threads "$ours_batched")

row() { # row LABEL OURS PEER_LABEL PEER_SPS PEER_STATUS
    if [ -n "$4" ]; then
        awk -v l="$1" -v o="$2" -v pl="$3" -v p="$4" 'BEGIN {
            printf "%-24s %14.0f   %-34s %14.0f   %7.1fx\n", l, o, pl, p, o / p }'
    else
        awk -v l="$1" -v o="$2" -v pl="$3" 'BEGIN {
            printf "%-24s %14.0f   %-34s %14s   %8s\n", l, o, pl, "-", "-" }'
        printf '  %s: %s\n' "$3" "$5"
    fi
}

echo
echo "env steps/s, $ENV_ID, random actions, 7x7x3 observation every step"
printf '%-24s %14s   %-34s %14s   %8s\n' "ours" "steps/s" "peer" "steps/s" "ours/peer"
row "single (1 thread)" "$ours_s" "MiniGrid 3.2.0 (1 thread)" "$mg_sps" "$minigrid_status"
row "batched ($ours_bt threads)" "$ours_b" "NAVIX 0.7.4 ($NAVIX_ENVS envs, JAX CPU)" "$nx_sps" "$navix_status"

if [ "$PPO_FRAMES" -gt 0 ]; then
    nxp_line=$(peer_line ppo navix)
    nxp_fps=$(field fps "$nxp_line")
    nxp_fpsc=$(field fps_with_compile "$nxp_line")
    nxp_comp=$(field compile_seconds "$nxp_line")
    nxp_solve=$(field frames_to_solve "$nxp_line")
    [ "$nxp_solve" = null ] && nxp_solve=""
    nxp_status=$navix_status
    if [ -z "$nxp_status" ] && [ -z "$nxp_fps" ]; then
        nxp_status="failed: $(peer_error "$nxp_line")"
        [ -z "$nxp_line" ] && nxp_status="failed (no result; see stderr above)"
    fi
    echo
    echo "PPO, DoorKey-5x5, $PPO_FRAMES frames, 16 envs x 128 steps, CPU, end to end"
    echo "(frames to solve: first frames where the mean return of the last 100 episodes >= 0.9)"
    row "ours frames/s" "$(field fps "$ours_ppo")" "NAVIX PPO frames/s (compiled)" "$nxp_fps" "$nxp_status"
    [ -n "$nxp_fpsc" ] && row "ours frames/s" "$(field fps "$ours_ppo")" \
        "NAVIX PPO incl. $(printf '%.0f' "$nxp_comp") s compile" "$nxp_fpsc" ""
    printf '%-24s %14s   %-34s %14s\n' "ours frames to solve" "${ours_solve:-not solved}" \
        "NAVIX frames to solve" "${nxp_solve:-not solved}"
fi

# --- the embedded LLM ---------------------------------------------------------------------
# SmolLM2-135M-Instruct as the server runs it: idle, then with a PPO training run on the same
# cores (what a user sees when the demo serves while they train). No peer: llama.cpp's figures
# come from `make test-llamacpp` when it is built.
LLM_BIN="${CARGO_TARGET_DIR:-target}/release/gridmentor-llm-bench"
if [ "${BENCH_LLM:-1}" = 0 ]; then
    say "embedded LLM: skipped (BENCH_LLM=0)"
elif [ ! -x "$LLM_BIN" ] || ! scripts/fetch-model.sh >/dev/null; then
    say "embedded LLM: not available (no $LLM_BIN or no model file)"
else
    llm_val() { printf '%s\n' "$1" | grep "\"what\": \"$2\"" | sed -n 's/.*"value": \([0-9.]*\).*/\1/p'; }
    say "embedded LLM: idle"
    llm_idle=$("$LLM_BIN" --label idle) || say "FAILED: gridmentor-llm-bench (idle)"
    echo "$llm_idle"
    # Issue 19's targets are for 2 idle cores: the same bench with both.
    say "embedded LLM: idle, 2 threads"
    llm_idle2=$("$LLM_BIN" --threads 2 --label idle) || say "FAILED: gridmentor-llm-bench (idle, 2 threads)"
    echo "$llm_idle2"
    say "embedded LLM: beside a PPO training run"
    busy_dir=$(mktemp -d)
    "$BIN" train --env MiniGrid-DoorKey-5x5-v0 --frames 100000000 --seed 1 --device cpu \
        --quiet --out "$busy_dir/run" >/dev/null 2>&1 &
    busy_pid=$!
    sleep 5
    llm_busy=$("$LLM_BIN" --label training) || say "FAILED: gridmentor-llm-bench (busy)"
    kill "$busy_pid" 2>/dev/null; wait "$busy_pid" 2>/dev/null
    rm -rf "$busy_dir"
    echo "$llm_busy"
    echo
    echo "embedded LLM (SmolLM2-135M-Instruct): idle with 1 and 2 threads, 1 thread beside a PPO training run"
    echo "(target on 2 idle cores: generation >= 100 tokens/s, a warm scored plan <= 300 ms)"
    printf '%-34s %12s %12s %12s\n' "" "idle, 1" "idle, 2" "training, 1"
    for w in prompt_tokens_per_sec generation_tokens_per_sec scored_plan_first_ms scored_plan_ms; do
        printf '%-34s %12s %12s %12s\n' "$w" "$(llm_val "$llm_idle" $w)" "$(llm_val "$llm_idle2" $w)" \
            "$(llm_val "$llm_busy" $w)"
    done
fi

# --- the server ---------------------------------------------------------------------------
if [ "$SERVER_SECS" != 0 ]; then
    say "server: proxy overhead at $SERVER_RATE req/s for $SERVER_SECS s, leaderboard, uploads"
    # The example of the release build, with the workspace's one feature set (nothing rebuilt).
    if ! cargo build --release --workspace --features gridmentor-server/smollm2 \
        --example load_bench --quiet; then
        say "FAILED: building the server bench (server/examples/load_bench.rs)"
        exit 1
    fi
    echo
    if ! "${CARGO_TARGET_DIR:-target}/release/examples/load_bench" --rate "$SERVER_RATE" \
        --secs "$SERVER_SECS"; then
        say "FAILED: the server bench"
        exit 1
    fi
fi
exit 0
