"""`python -m metta.analysis.reward_timeseries pull|metrics|plots|report|all` (spec 004).

    pull     --runs train_dir/a train_dir/b ... | --wandb-project P [--tags T ...] [--names N ...]
    metrics  per (task, seed) slope, noise and reward-SPS r; per task the seed/task variance ratio
    plots    PNGs under <out>/plots
    report   <out>/report.md with recommendations computed from the metrics
    all      the four in order, with a progress bar
    compare  --experiment NAME=RUN_OR_MULTIRUN_DIR ...: noise, late slope and SPS side by side
Everything is written under --out (default analysis/reward_timeseries).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from metta.analysis.reward_timeseries.metrics import MetricsConfig, stream_metrics, variance_ratios
from metta.analysis.reward_timeseries.pull import AnalysisInputError, load_samples, pull_local, pull_wandb

STEPS = ("pull", "metrics", "plots", "report")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out = Path(args.out)
    cfg = MetricsConfig(args.slope_window, args.noise_window, args.slope_method, args.ema_alpha)
    steps = STEPS if args.command == "all" else (args.command,)
    try:
        if args.command == "compare":
            print(_compare(args, out, cfg))
            return 0
        for i, step in enumerate(steps):
            if len(steps) > 1:
                _progress(i, len(steps), step)
            message = _STEP[step](args, out, cfg)
            print(message)
        if len(steps) > 1:
            _progress(len(steps), len(steps), "done")
    except AnalysisInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def _pull(args, out: Path, cfg: MetricsConfig) -> str:
    if args.wandb_project:
        summary = pull_wandb(out, args.wandb_project, args.wandb_entity, args.tags, args.names)
    elif args.runs:
        summary = pull_local(args.runs, out)
    else:
        raise AnalysisInputError("pull needs --runs RUN_DIR ... or --wandb-project PROJECT")
    (out / "pull_summary.txt").write_text(f"dropped_nan {summary.dropped_nan}\n")
    return (f"pulled {summary.samples:,} samples in {summary.streams} streams from {len(summary.runs)} run(s)"
            + (f"; dropped {summary.dropped_nan} NaN rewards" if summary.dropped_nan else ""))  # fmt: skip


def _metrics(args, out: Path, cfg: MetricsConfig) -> str:
    samples = load_samples(out)
    start = time.perf_counter()
    per_stream = stream_metrics(samples, cfg)
    ratios = variance_ratios(per_stream)
    elapsed = time.perf_counter() - start
    per_stream.to_parquet(out / "metrics.parquet", index=False)
    per_stream.to_csv(out / "metrics.csv", index=False)
    ratios.to_csv(out / "variance_ratios.csv", index=False)
    ratios.to_parquet(out / "variance_ratios.parquet", index=False)
    return (
        f"metrics for {len(per_stream)} streams ({len(samples):,} samples) in {elapsed:.2f} s -> {out / 'metrics.csv'}"
    )


def _plots(args, out: Path, cfg: MetricsConfig) -> str:
    from metta.analysis.reward_timeseries.plots import plot_all

    samples, per_stream, ratios = _load_metrics(out)
    paths = plot_all(samples, per_stream, ratios, out, cfg)
    return f"plots: {', '.join(str(p) for p in paths)}"


def _report(args, out: Path, cfg: MetricsConfig) -> str:
    from metta.analysis.reward_timeseries.report import write_report

    samples, per_stream, ratios = _load_metrics(out)
    plots = sorted((out / "plots").glob("*.png"))
    dropped = _dropped_nan(out)
    return f"report: {write_report(samples, per_stream, ratios, plots, out, cfg, dropped)}"


def _compare(args, out: Path, cfg: MetricsConfig) -> str:
    from metta.analysis.reward_timeseries.compare import compare, run_dirs_of

    if not args.experiment:
        raise AnalysisInputError("compare needs --experiment NAME=PATH (at least one)")
    experiments = {}
    for spec in args.experiment:
        name, _, path = spec.partition("=")
        if not name or not path:
            raise AnalysisInputError(f"--experiment {spec!r}: expected NAME=PATH")
        experiments[name] = run_dirs_of(Path(path))
    table = compare(experiments, out, cfg)
    return f"compared {len(table)} experiments -> {out / 'compare.csv'}, {out / 'compare.png'}"


def _load_metrics(out: Path):
    if not (out / "metrics.parquet").exists():
        raise AnalysisInputError(f"no metrics in {out}: run `metrics` first")
    ratios = pd.read_parquet(out / "variance_ratios.parquet")
    return load_samples(out), pd.read_parquet(out / "metrics.parquet"), ratios


def _dropped_nan(out: Path) -> int:
    path = out / "pull_summary.txt"
    return int(path.read_text().split()[1]) if path.exists() else 0


def _progress(done: int, total: int, label: str) -> None:
    width = 24
    filled = width * done // total
    print(f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label}", flush=True)


_STEP = {"pull": _pull, "metrics": _metrics, "plots": _plots, "report": _report}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m metta.analysis.reward_timeseries", description=__doc__.splitlines()[0]
    )
    parser.add_argument("command", choices=[*STEPS, "all", "compare"])
    parser.add_argument("--experiment", action="append", help="compare: NAME=run dir or multirun dir (repeat)")
    parser.add_argument(
        "--out", default="analysis/reward_timeseries", help="where data/, metrics, plots/, report.md go"
    )
    parser.add_argument("--runs", nargs="+", help="run directories (train_dir/<run>) to pull from")
    parser.add_argument("--wandb-project", help="pull from these WandB runs instead")
    parser.add_argument("--wandb-entity")
    parser.add_argument("--tags", nargs="+")
    parser.add_argument("--names", nargs="+")
    parser.add_argument("--slope-window", type=int, default=25)
    parser.add_argument("--noise-window", type=int, default=10)
    parser.add_argument("--slope-method", choices=["rolling", "ema"], default="rolling")
    parser.add_argument("--ema-alpha", type=float, default=0.1)
    return parser


if __name__ == "__main__":
    sys.exit(main())
