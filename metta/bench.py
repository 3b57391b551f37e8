"""`python -m metta.bench [breakdown|env|vecenv|train|...]`: throughput of a hot path, as one JSON line.

Agent steps per second = environment steps x agents / seconds.  `breakdown` (the default) takes
one configuration, with the same Hydra overrides as `python -m metta.train`, and measures it
layer by layer in one sitting: the batched env alone (the serial backend), the env in
CurriculumEnv with the run's curriculum, the multiprocess backend with the run's worker count
(random actions for these three), and end-to-end training (whole trainer epochs with their
checkpoints and evaluations) with the trainer's phase profile.  `--compare OVERRIDES` measures
a second configuration (the first plus these overrides) run for run alternately with the first
and prints the ratios: the machine is shared and noisy, so only same-sitting ratios compare.
`env`: the batched environment in this process.  `vecenv`: the serial backend and the
multiprocess backend measured alternately.  `train`: end-to-end training alone (no evaluation).
With `--anchor-python`, the reference engine (../shared/anchors/mettagrid_arena_sps.py, run by
that interpreter) is measured in the same sitting, run for run alternating with ours, and the
ratio of the medians is reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from metta.cogworks.curriculum import Curriculum
    from metta.mettagrid import EnvConfig
    from metta.rl.trainer import Trainer

_ANCHOR = Path(__file__).resolve().parents[1].parent / "shared" / "anchors" / "mettagrid_arena_sps.py"
_TASKS = {"arena": "make_arena", "arena_easy_shaped": "make_arena_easy_shaped"}


def _make(task: str):
    from metta.mettagrid import builders

    return getattr(builders, _TASKS[task])()


def bench_env(task: str | EnvConfig, num_envs: int, seconds: float, seed: int = 0, workers: int = 0) -> float:
    """`workers` = 0: the serial batched env; else the multiprocess backend with that many workers."""
    from metta.mettagrid import MettaGridEnv
    from metta.rl.vecenv import MultiprocessVecEnv

    cfg = _make(task) if isinstance(task, str) else task
    if workers:
        env = MultiprocessVecEnv(cfg, num_envs=num_envs, num_workers=workers, seed=seed)
    else:
        env = MettaGridEnv(cfg, num_envs=num_envs, seed=seed)
    try:
        return _run(env, seconds, seed)[0]
    finally:
        env.close()


def learning_progress_curriculum(task: str, seed: int = 0) -> Curriculum:
    """16 bucketed variants of `task` sampled by learning progress (what `env --curriculum` wraps)."""
    from metta.cogworks.curriculum import BucketedTaskGenerator, Curriculum, LearningProgress

    generator = BucketedTaskGenerator(env=_make(task), buckets={"game.agent.rewards.inventory.heart": [0.5, 1.0]})
    return Curriculum(generator, num_active_tasks=16, algorithm=LearningProgress(), seed=seed)


def bench_curriculum_env(curriculum: Curriculum, num_envs: int, seconds: float, seed: int = 0) -> tuple[float, float]:
    """The env in CurriculumEnv with tasks from `curriculum`: agent-steps/s, and the share of wall
    time the wrapper spent on finished episodes, timed inside it (a figure the machine's noise
    does not swamp, unlike the difference of two SPS runs)."""
    from metta.cogworks.curriculum import CurriculumEnv
    from metta.mettagrid import MettaGridEnv

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
    bd_p = sub.add_parser("breakdown", help="one configuration layer by layer (the default); --compare two")
    bd_p.add_argument("overrides", nargs="*", help="Hydra overrides, as for python -m metta.train")
    bd_p.add_argument("--compare", metavar="OVERRIDES", help="a second configuration: these overrides on top (quoted)")
    bd_p.add_argument("--seconds", type=float, default=4.0, help="length of one env, CurriculumEnv or vecenv run")
    bd_p.add_argument("--train-seconds", type=float, default=15.0, help="length of one training run")
    bd_p.add_argument("--runs", type=int, default=3)
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
    train_p = sub.add_parser("train", help="end-to-end PPO training of the default trainer, evaluation off")
    train_p.add_argument("overrides", nargs="*", help="Hydra overrides, as for python -m metta.train")
    train_p.add_argument("--seconds", type=float, default=20.0, help="length of one run")
    train_p.add_argument("--runs", type=int, default=3)
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in sub.choices and argv[0] not in ("-h", "--help"):
        argv = ["breakdown", *argv]
    args = parser.parse_args(argv)
    if args.what == "breakdown":
        print(json.dumps(_bench_breakdown(args)))
        return
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
            sps, share = bench_curriculum_env(learning_progress_curriculum(args.task), args.envs, args.seconds)
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
    setup = _Setup(["trainer.evaluate_interval=0", *args.overrides])
    try:
        warmup_s = setup.warm_up()
        runs = [setup.train_sps(args.seconds) for _ in range(args.runs)]
    finally:
        setup.close()
    return {
        "bench": "train",
        "overrides": args.overrides,
        **setup.describe(),
        "warmup_s": round(warmup_s, 2),
        "agent_sps_runs": [round(r) for r in runs],
        "agent_sps_median": round(statistics.median(runs)),
        "phase_share": setup.phase_share(runs),
    }


class _Setup:
    """One configuration, built as `python -m metta.train` builds it (WandB off, a temporary run
    directory), and its measures.  `train_sps` runs whole trainer steps: the epoch, then the
    checkpoint and evaluation when due, as a run pays them."""

    def __init__(self, overrides: list[str]) -> None:
        import tempfile

        from hydra import compose, initialize_config_dir
        from hydra.errors import HydraException

        from metta.train import ConfigError, build

        self.overrides = overrides
        configs = Path(__file__).resolve().parents[1] / "configs"
        self._run_dir = tempfile.TemporaryDirectory()
        try:
            with initialize_config_dir(config_dir=str(configs), version_base=None):
                self.cfg = compose("train", overrides=["wandb=disabled", *overrides])
            self.trainer: Trainer = build(self.cfg, Path(self._run_dir.name), "bench").trainer
        except (ConfigError, HydraException) as e:
            self._run_dir.cleanup()
            print(f"config error: {e}", file=sys.stderr)
            sys.exit(2)
        self.phases: list[dict[str, float]] = []

    def describe(self) -> dict:
        import torch

        t = self.trainer
        return {"device": str(t.device), "torch_threads": torch.get_num_threads(), "agents": t.agents,
                "batch_size": t.cfg.batch_size}  # fmt: skip

    def warm_up(self) -> float:
        """Start the trainer and run two epochs (compile the env core, warm the allocator)."""
        t0 = time.perf_counter()
        self.trainer.start()
        for _ in range(2):
            self.trainer.step()
        return time.perf_counter() - t0

    @property
    def workers(self) -> int:
        return self.trainer.cfg.workers()

    def env_sps(self, seconds: float, workers: int = 0) -> float:
        return bench_env(self.trainer.env_cfg, self.trainer.cfg.num_envs, seconds, seed=1, workers=workers)

    def curriculum_env_sps(self, seconds: float) -> float:
        """In CurriculumEnv with a fresh copy of the run's curriculum (the trainer's keeps its state)."""
        from hydra.utils import instantiate

        curriculum = instantiate(self.cfg.curriculum, _convert_="all")
        return bench_curriculum_env(curriculum, self.trainer.cfg.num_envs, seconds, seed=1)[0]

    def train_sps(self, seconds: float) -> float:
        t = self.trainer
        t.timer.total = dict.fromkeys(t.timer.total, 0.0)
        steps, start = t.agent_step, time.perf_counter()
        while time.perf_counter() - start < seconds:
            t.step()
        self.phases.append(dict(t.timer.total))
        return (t.agent_step - steps) / (time.perf_counter() - start)

    def phase_share(self, runs: list[float]) -> dict[str, float]:
        """The trainer's phase profile of the median run."""
        median = statistics.median(runs)
        profile = self.phases[runs.index(median)] if median in runs else self.phases[-1]
        whole = sum(profile.values())
        return {k: round(v / whole, 3) for k, v in profile.items() if v}

    def close(self) -> None:
        self.trainer.close()
        self._run_dir.cleanup()


_LAYERS = ("env", "curriculum_env", "multiprocess", "train")


def _bench_breakdown(args) -> dict:
    """Each layer of one configuration (and of `--compare`'s, alternately), in agent-steps/s."""
    setups = [_Setup(args.overrides)]
    if args.compare is not None:
        setups.append(_Setup([*args.overrides, *args.compare.split()]))
    try:
        for setup in setups:
            setup.warm_up()
        runs: list[dict[str, list[float]]] = [{layer: [] for layer in _LAYERS} for _ in setups]
        for _ in range(args.runs):
            for setup, out in zip(setups, runs):
                out["env"].append(setup.env_sps(args.seconds))
                out["curriculum_env"].append(setup.curriculum_env_sps(args.seconds))
                out["multiprocess"].append(setup.env_sps(args.seconds, workers=setup.workers))
                out["train"].append(setup.train_sps(args.train_seconds))
        results = [_layers(setup, out) for setup, out in zip(setups, runs)]
    finally:
        for setup in setups:
            setup.close()
    if len(results) == 1:
        return {"bench": "breakdown", **results[0]}
    a, b = results
    ratios = {layer: round(b["agent_sps"][layer] / a["agent_sps"][layer], 3) for layer in _LAYERS}
    return {"bench": "compare", "a": a, "b": b, "ratio_b_vs_a": ratios}


def _layers(setup: _Setup, runs: dict[str, list[float]]) -> dict:
    medians = {layer: round(statistics.median(values)) for layer, values in runs.items()}
    return {
        "overrides": setup.overrides,
        **setup.describe(),
        "workers": setup.workers,
        "agent_sps": medians,
        "agent_sps_runs": {layer: [round(v) for v in values] for layer, values in runs.items()},
        "curriculum_env_overhead_pct": round(100 * (1 - medians["curriculum_env"] / medians["env"]), 1),
        "train_phase_share": setup.phase_share(runs["train"]),
    }


if __name__ == "__main__":
    main()
