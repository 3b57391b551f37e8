"""`python -m metta.bench env|vecenv|train`: throughput of a hot path, printed as one JSON line.

Agent steps per second = environment steps x agents / seconds, random actions.  `env`: the
batched environment in this process.  `vecenv`: the serial backend and the multiprocess
backend (shared-memory workers) measured alternately in the same sitting.  `train`: whole
PPO epochs (rollout with the policy, GAE, update) of the trainer `python -m metta.train`
builds, from the same configs and overrides, in agent steps per second of wall time.
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


def bench_env(task: str, num_envs: int, seconds: float, seed: int = 0, workers: int = 0) -> float:
    """`workers` = 0: the serial batched env; else the multiprocess backend with that many workers."""
    from metta.mettagrid import MettaGridEnv
    from metta.rl.vecenv import MultiprocessVecEnv

    if workers:
        env = MultiprocessVecEnv(_make(task), num_envs=num_envs, num_workers=workers, seed=seed)
    else:
        env = MettaGridEnv(_make(task), num_envs=num_envs, seed=seed)
    try:
        return _run(env, seconds, seed)[0]
    finally:
        env.close()


def bench_curriculum_env(task: str, num_envs: int, seconds: float, seed: int = 0) -> tuple[float, float]:
    """The env in CurriculumEnv (tasks from a learning-progress curriculum): agent-steps/s, and
    the share of wall time the wrapper spent on finished episodes, timed inside it (a figure
    the machine's noise does not swamp, unlike the difference of two SPS runs)."""
    from metta.cogworks.curriculum import BucketedTaskGenerator, Curriculum, CurriculumEnv, LearningProgress
    from metta.mettagrid import MettaGridEnv

    generator = BucketedTaskGenerator(env=_make(task), buckets={"game.agent.rewards.inventory.heart": [0.5, 1.0]})
    curriculum = Curriculum(generator, num_active_tasks=16, algorithm=LearningProgress(), seed=seed)
    tasks = [curriculum.get_task() for _ in range(num_envs)]
    env = CurriculumEnv(MettaGridEnv([t.env_cfg for t in tasks], num_envs=num_envs, seed=seed), curriculum, tasks)
    try:
        sps, elapsed = _run(env, seconds, seed)
        return sps, env.completion_seconds / elapsed
    finally:
        env.close()


def bench_curriculum(pool: int, ops: int, seed: int = 0) -> float:
    """Microseconds per get_task + complete_task pair, learning progress on, eviction on."""
    from metta.cogworks.curriculum import Curriculum, LearningProgress, SingleTaskGenerator

    curriculum = Curriculum(
        SingleTaskGenerator(_make("arena_easy_shaped")), num_active_tasks=pool, algorithm=LearningProgress(), seed=seed
    )
    rng = np.random.default_rng(seed)
    for task_id in curriculum.task_ids[: min(pool, 2000)]:  # every task of a small pool scored at least once
        curriculum.complete_task(int(task_id), float(rng.random()))
    scores = rng.random(ops)
    start = time.perf_counter()
    for score in scores:
        curriculum.complete_task(curriculum.get_task().task_id, float(score))
    return (time.perf_counter() - start) / ops * 1e6


def _run(env, seconds: float, seed: int) -> tuple[float, float]:
    """(agent-steps/s, seconds run)."""
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
            return steps * env.num_agents / elapsed, elapsed


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
    env_p.add_argument("--curriculum", action="store_true", help="also the env wrapped in CurriculumEnv, alternately")
    ana_p = sub.add_parser("reward_metrics", help="reward time-series metrics over synthetic streams")
    ana_p.add_argument("--samples", type=int, default=1_000_000)
    ana_p.add_argument("--tasks", type=int, default=50)
    ana_p.add_argument("--seeds", type=int, default=3)
    ana_p.add_argument("--runs", type=int, default=3)
    cur_p = sub.add_parser("curriculum", help="curriculum get_task + complete_task cost by pool size")
    cur_p.add_argument("--pool", type=int, nargs="+", default=[16, 1000, 10000])
    cur_p.add_argument("--ops", type=int, default=3000)
    vec_p = sub.add_parser("vecenv", help="serial vs multiprocess rollout backends, same sitting")
    vec_p.add_argument("--task", choices=sorted(_TASKS), default="arena")
    vec_p.add_argument("--envs", type=int, default=16, help="environments in the batch")
    vec_p.add_argument("--workers", type=int, default=None, help="multiprocess workers (default: cores // 2)")
    vec_p.add_argument("--seconds", type=float, default=5.0, help="length of one run")
    vec_p.add_argument("--runs", type=int, default=3)
    train_p = sub.add_parser("train", help="end-to-end PPO training epochs of the default trainer")
    train_p.add_argument("overrides", nargs="*", help="Hydra overrides, as for python -m metta.train")
    train_p.add_argument("--seconds", type=float, default=20.0, help="length of one run")
    train_p.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    if args.what in ("vecenv", "train"):
        print(json.dumps(_bench_vecenv(args) if args.what == "vecenv" else _bench_train(args)))
        return
    if args.what == "reward_metrics":
        print(json.dumps(_bench_reward_metrics(args)))
        return
    if args.what == "curriculum":
        costs = {str(n): round(bench_curriculum(n, args.ops), 1) for n in args.pool}
        print(json.dumps({"bench": "curriculum", "ops": args.ops, "us_per_get_and_complete": costs}))
        return

    t0 = time.perf_counter()
    bench_env(args.task, args.envs, 0.0)  # compile (or load the cache) and touch every code path once
    warmup_s = time.perf_counter() - t0
    ours, anchor, wrapped, wrapper_share = [], [], [], []
    for _ in range(args.runs):
        ours.append(bench_env(args.task, args.envs, args.seconds))
        if args.curriculum:
            sps, share = bench_curriculum_env(args.task, args.envs, args.seconds)
            wrapped.append(sps)
            wrapper_share.append(share)
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
    if wrapped:
        result["curriculum_env_sps_runs"] = [round(r) for r in wrapped]
        result["curriculum_env_sps_median"] = round(statistics.median(wrapped))
        result["curriculum_env_overhead_pct"] = round(
            100 * (1 - statistics.median(wrapped) / statistics.median(ours)), 2
        )
        result["curriculum_env_completion_time_pct"] = round(100 * statistics.median(wrapper_share), 2)
    if anchor:
        result["anchor_sps_runs"] = [round(r) for r in anchor]
        result["anchor_sps_median"] = round(statistics.median(anchor))
        result["ratio_vs_anchor"] = round(statistics.median(ours) / statistics.median(anchor), 1)
    print(json.dumps(result))
    sys.stdout.flush()


def _bench_vecenv(args) -> dict:
    from metta.rl.vecenv import default_num_workers

    workers = args.workers or default_num_workers()
    bench_env(args.task, args.envs, 0.0)  # compile once in this process; spawned workers load the cache
    serial, multi = [], []
    for _ in range(args.runs):
        serial.append(bench_env(args.task, args.envs, args.seconds))
        multi.append(bench_env(args.task, args.envs, args.seconds, workers=workers))
    return {
        "bench": "vecenv",
        "task": args.task,
        "num_envs": args.envs,
        "workers": workers,
        "serial_sps_runs": [round(r) for r in serial],
        "serial_sps_median": round(statistics.median(serial)),
        "multiprocess_sps_runs": [round(r) for r in multi],
        "multiprocess_sps_median": round(statistics.median(multi)),
        "ratio_multiprocess_vs_serial": round(statistics.median(multi) / statistics.median(serial), 2),
    }


def _bench_reward_metrics(args) -> dict:
    """`stream_metrics` + `variance_ratios` over tasks x seeds streams of noisy trends."""
    import pandas as pd

    from metta.analysis.reward_timeseries.metrics import stream_metrics, variance_ratios

    streams = args.tasks * args.seeds
    per = args.samples // streams
    rng = np.random.default_rng(0)
    index = np.tile(np.arange(per), streams)
    slopes = np.repeat(rng.normal(0, 0.01, streams), per)
    samples = pd.DataFrame({
        "task": np.repeat([f"task{t}" for t in range(args.tasks)], args.seeds * per),
        "seed": np.tile(np.repeat([str(s) for s in range(args.seeds)], per), args.tasks),
        "sample_index": index,
        "reward": slopes * index + rng.normal(0, 1, per * streams),
        "sps": rng.normal(5e4, 1e3, per * streams),
    })  # fmt: skip
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        variance_ratios(stream_metrics(samples))
        times.append(time.perf_counter() - start)
    return {"bench": "reward_metrics", "samples": len(samples), "streams": streams,
            "seconds_runs": [round(t, 2) for t in times], "seconds_median": round(statistics.median(times), 2)}  # fmt: skip


def _bench_train(args) -> dict:
    import tempfile

    import torch
    from hydra import compose, initialize_config_dir

    from metta.train import build

    configs = Path(__file__).resolve().parents[1] / "configs"
    overrides = ["wandb=disabled", "trainer.evaluate_interval=0", *args.overrides]
    with initialize_config_dir(config_dir=str(configs), version_base=None):
        cfg = compose("train", overrides=overrides)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = build(cfg, Path(run_dir), "bench").trainer
        trainer.start()
        try:
            t0 = time.perf_counter()
            for _ in range(2):  # compile the env core, warm the allocator
                trainer.train_epoch()
            warmup_s = time.perf_counter() - t0
            runs, phases = [], []
            for _ in range(args.runs):
                trainer.timer.total = dict.fromkeys(trainer.timer.total, 0.0)
                steps, start = trainer.agent_step, time.perf_counter()
                while time.perf_counter() - start < args.seconds:
                    trainer.train_epoch()
                runs.append((trainer.agent_step - steps) / (time.perf_counter() - start))
                phases.append(dict(trainer.timer.total))
        finally:
            trainer.close()
    median = statistics.median(runs)
    profile = phases[runs.index(median)] if median in runs else phases[-1]
    whole = sum(profile.values())
    return {
        "bench": "train",
        "overrides": args.overrides,
        "device": str(trainer.device),
        "torch_threads": torch.get_num_threads(),
        "agents": trainer.agents,
        "batch_size": trainer.cfg.batch_size,
        "warmup_s": round(warmup_s, 2),
        "agent_sps_runs": [round(r) for r in runs],
        "agent_sps_median": round(median),
        "phase_share": {k: round(v / whole, 3) for k, v in profile.items() if v},
    }


if __name__ == "__main__":
    main()
