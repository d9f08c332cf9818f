#!/usr/bin/env python3
"""Measure the peers' env throughput, in the same JSON-line shape as `gridmentor bench env --json`.

- Farama MiniGrid (pinned 3.2.0): MiniGrid-DoorKey-8x8-v0 via gymnasium.make, one thread, random
  actions, reset on terminated/truncated (resets timed). env.step computes the 7x7x3 observation.
- NAVIX (pinned 0.7.4, JAX on CPU): Navix-DoorKey-8x8-v0 with --navix-envs vmapped envs, random
  actions drawn inside a jit-compiled lax.scan of vmapped env.step (NAVIX autoresets inside step).
  Compile time is excluded (a first call compiles and warms up; the second is timed, with
  block_until_ready). By default the observation is NAVIX's 7x7x3 `symbolic_first_person` and
  max_steps is 640, as in MiniGrid's DoorKey-8x8 (NAVIX's own defaults are the full-grid
  `symbolic` observation and max_steps=100; --navix-defaults uses those).

One JSON line per peer on stdout. A peer that cannot be imported or run prints
{"bench":"env","impl":NAME,"error":...} instead; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from importlib import metadata


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def bench_minigrid(steps: int, seed: int) -> dict:
    import gymnasium as gym
    import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
    import numpy as np

    env_id = "MiniGrid-DoorKey-8x8-v0"
    env = gym.make(env_id)
    env.reset(seed=seed)
    # Actions drawn up front: the peer is not charged for Python-side sampling.
    actions = np.random.default_rng(seed).integers(0, 7, size=steps).tolist()
    episodes = 0
    start = time.perf_counter()
    for a in actions:
        _obs, _r, terminated, truncated, _info = env.step(a)
        if terminated or truncated:
            episodes += 1
            env.reset()
    seconds = time.perf_counter() - start
    env.close()
    return {
        "bench": "env",
        "impl": "minigrid",
        "version": _version("minigrid"),
        "env": env_id,
        "mode": "single",
        "threads": 1,
        "steps": steps,
        "episodes": episodes,
        "seconds": seconds,
        "steps_per_sec": steps / seconds,
    }


def bench_navix(total_steps: int, num_envs: int, seed: int, navix_defaults: bool) -> dict:
    import jax
    import jax.numpy as jnp
    import navix as nx

    env_id = "Navix-DoorKey-8x8-v0"
    if navix_defaults:
        env = nx.make(env_id)
        obs_name = "symbolic"
    else:
        env = nx.make(
            env_id,
            max_steps=640,
            observation_fn=nx.observations.symbolic_first_person,
        )
        obs_name = "symbolic_first_person"
    length = max(1, total_steps // num_envs)

    def body(carry, _):
        ts, key, episodes = carry
        key, sub = jax.random.split(key)
        actions = jax.random.randint(sub, (num_envs,), 0, 7)
        ts = jax.vmap(env.step)(ts, actions)
        episodes = episodes + jnp.sum(ts.step_type > 0, dtype=jnp.int32)
        return (ts, key, episodes), None

    @jax.jit
    def run(ts, key):
        (ts, key, episodes), _ = jax.lax.scan(
            body, (ts, key, jnp.int32(0)), None, length=length
        )
        return ts, key, episodes

    key = jax.random.PRNGKey(seed)
    key, reset_key = jax.random.split(key)
    ts = jax.jit(jax.vmap(env.reset))(jax.random.split(reset_key, num_envs))

    t0 = time.perf_counter()
    ts, key, _ = jax.block_until_ready(run(ts, key))  # compile + warm-up, not timed
    compile_seconds = time.perf_counter() - t0

    start = time.perf_counter()
    ts, key, episodes = jax.block_until_ready(run(ts, key))
    seconds = time.perf_counter() - start
    steps = length * num_envs
    return {
        "bench": "env",
        "impl": "navix",
        "version": _version("navix"),
        "jax": _version("jax"),
        "env": env_id,
        "mode": "batched",
        "threads": len(os.sched_getaffinity(0)),
        "num_envs": num_envs,
        "obs": obs_name,
        "max_steps": int(env.max_steps),
        "steps": steps,
        "episodes": int(episodes),
        "seconds": seconds,
        "compile_seconds": compile_seconds,
        "steps_per_sec": steps / seconds,
    }


def frames_to_solve(frames_and_returns, per_update_frames, bar=0.9):
    """First frame count at which the mean return of the last 100 finished episodes reaches
    `bar` (the same rule as ours, read from metrics.csv's return_mean); None if never."""
    recent = []
    for update, returns in enumerate(frames_and_returns, start=1):
        recent.extend(returns)
        recent = recent[-100:]
        if len(recent) >= 10 and sum(recent) / len(recent) >= bar:
            return update * per_update_frames
    return None


def bench_navix_ppo(frames: int, seed: int) -> dict:
    """NAVIX's own PPO (navix.agents.PPO) on Navix-DoorKey-5x5-v0 with the 7x7x3 first-person
    view, JAX on CPU, our defaults where NAVIX has the knob (16 envs x 128 steps, 4 epochs of
    8 minibatches of 256, lr 1e-3, GAE 0.95, clip 0.2, entropy 0.01, value 0.5, grad norm 0.5).
    Timed: the compiled training (compile time reported apart) and end to end."""
    import jax
    import numpy as np
    import navix as nx
    from navix.agents import PPO, PPOHparams
    from navix.agents.models import ActorCritic, ConvEncoder

    env = nx.make(
        "Navix-DoorKey-5x5-v0", observation_fn=nx.observations.symbolic_first_person
    )
    hp = PPOHparams(
        budget=frames,
        num_envs=16,
        num_steps=128,
        num_minibatches=8,
        num_epochs=4,
        lr=1e-3,
        gae_lambda=0.95,
        clip_eps=0.2,
        ent_coef=0.01,
        vf_coef=0.5,
        max_grad_norm=0.5,
    )
    agent = PPO(
        hparams=hp,
        network=ActorCritic(
            action_dim=len(env.action_set),
            actor_encoder=ConvEncoder(),
            critic_encoder=ConvEncoder(),
        ),
        env=env,
    )
    key = jax.random.PRNGKey(seed)
    t0 = time.perf_counter()
    compiled = jax.jit(agent.train).lower(key).compile()
    compile_seconds = time.perf_counter() - t0
    start = time.perf_counter()
    _state, logs = jax.block_until_ready(compiled(key))
    seconds = time.perf_counter() - start
    per_update = hp.num_envs * hp.num_steps
    updates = frames // per_update
    done = np.asarray(logs["done_mask"]).astype(bool)
    rets = np.asarray(logs["returns"])
    per_update_returns = []
    for u in range(updates):
        # (num_steps, num_envs) in time order: episodes in the order they ended.
        per_update_returns.append([float(r) for r in rets[u][done[u]]])
    solved = frames_to_solve(per_update_returns, per_update)
    last = [r for rs in per_update_returns[-10:] for r in rs]
    return {
        "bench": "ppo",
        "impl": "navix",
        "version": _version("navix"),
        "jax": _version("jax"),
        "env": "Navix-DoorKey-5x5-v0",
        "obs": "symbolic_first_person",
        "frames": updates * per_update,
        "seconds": seconds,
        "compile_seconds": compile_seconds,
        "fps": updates * per_update / seconds,
        "fps_with_compile": updates * per_update / (seconds + compile_seconds),
        "frames_to_solve": solved,
        "final_return": sum(last) / len(last) if last else None,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--only", choices=["minigrid", "navix", "navix-ppo"], help="run just one peer"
    )
    p.add_argument(
        "--navix-ppo-frames",
        type=int,
        default=0,
        help="also run NAVIX's PPO on DoorKey-5x5 for this many frames (0: skip)",
    )
    p.add_argument("--minigrid-steps", type=int, default=100_000)
    p.add_argument("--navix-steps", type=int, default=2_000_000, help="total, over all envs")
    p.add_argument("--navix-envs", type=int, default=1024)
    p.add_argument(
        "--navix-defaults",
        action="store_true",
        help="NAVIX's own defaults (full-grid symbolic obs, max_steps=100)",
    )
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    jobs = {
        "minigrid": lambda: bench_minigrid(args.minigrid_steps, args.seed),
        "navix": lambda: bench_navix(
            args.navix_steps, args.navix_envs, args.seed, args.navix_defaults
        ),
    }
    if args.navix_ppo_frames > 0 or args.only == "navix-ppo":
        jobs["navix-ppo"] = lambda: bench_navix_ppo(args.navix_ppo_frames or 150_000, args.seed)
    failed = False
    for name, job in jobs.items():
        if args.only and name != args.only:
            continue
        try:
            record = job()
        except Exception as e:  # noqa: BLE001  (any failure of a peer is reported, not raised)
            traceback.print_exc(file=sys.stderr)
            bench = "ppo" if name == "navix-ppo" else "env"
            impl = "navix" if name == "navix-ppo" else name
            record = {"bench": bench, "impl": impl, "error": f"{type(e).__name__}: {e}"}
            failed = True
        print(json.dumps(record), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
