"""`python -m metta.bench env`: throughput of a hot path, printed as one JSON line.

Agent steps per second = environment steps x agents / seconds, random actions, one process.
With `--anchor-python`, the reference engine (../shared/anchors/mettagrid_arena_sps.py, run by
that interpreter) is measured in the same sitting, run for run alternating with ours, and the
ratio of the medians is reported: the machine is shared and noisy, so only same-run ratios
compare.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

_ANCHOR = Path(__file__).resolve().parents[1].parent / "shared" / "anchors" / "mettagrid_arena_sps.py"
_TASKS = {"arena": "make_arena", "arena_easy_shaped": "make_arena_easy_shaped"}


def _make(task: str):
    from metta.mettagrid import builders

    return getattr(builders, _TASKS[task])()


def bench_env(task: str, num_envs: int, seconds: float, seed: int = 0) -> float:
    from metta.mettagrid import MettaGridEnv

    env = MettaGridEnv(_make(task), num_envs=num_envs, seed=seed)
    env.reset(seed)
    actions = np.random.default_rng(seed).integers(0, env.single_action_space.n, (4096, env.num_agents), np.int32)
    steps = 0
    start = time.perf_counter()
    while True:
        for _ in range(64):
            env.step(actions[steps & 4095])
            steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps * env.num_agents / elapsed


def _anchor_run(python: str, script: Path, seconds: float) -> float:
    out = subprocess.run(
        [python, str(script), "--seconds", str(seconds), "--runs", "1"], check=True, capture_output=True, text=True
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["agent_sps_median"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m metta.bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    env_p = sub.add_parser("env", help="batched environment stepping, one process")
    env_p.add_argument("--task", choices=sorted(_TASKS), default="arena")
    env_p.add_argument("--envs", type=int, default=16, help="environments stepped per call")
    env_p.add_argument("--seconds", type=float, default=5.0, help="length of one run")
    env_p.add_argument("--runs", type=int, default=3)
    env_p.add_argument("--anchor-python", help="interpreter with mettagrid==0.26.22 to measure the anchor")
    env_p.add_argument("--anchor-script", type=Path, default=_ANCHOR)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    bench_env(args.task, args.envs, 0.0)  # compile (or load the cache) and touch every code path once
    warmup_s = time.perf_counter() - t0
    ours, anchor = [], []
    for _ in range(args.runs):
        ours.append(bench_env(args.task, args.envs, args.seconds))
        if args.anchor_python:
            anchor.append(_anchor_run(args.anchor_python, args.anchor_script, args.seconds))
    result = {
        "bench": "env",
        "task": args.task,
        "num_envs": args.envs,
        "agents_per_env": _make(args.task).game.num_agents,
        "warmup_s": round(warmup_s, 2),
        "agent_sps_runs": [round(r) for r in ours],
        "agent_sps_median": round(statistics.median(ours)),
    }
    if anchor:
        result["anchor_sps_runs"] = [round(r) for r in anchor]
        result["anchor_sps_median"] = round(statistics.median(anchor))
        result["ratio_vs_anchor"] = round(statistics.median(ours) / statistics.median(anchor), 1)
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
