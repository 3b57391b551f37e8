"""Learning curves from run directories: a metric against agent steps, with the performance
thresholds the runs tracked, as a PNG and a markdown table.

    python -m metta.analysis.learning_curves train_dir/arena_easy_shaped.seed0 train_dir/... \\
        --metric env_agent/heart.gained --out docs/img/arena_easy_shaped_hearts.png

Each run's `metrics.jsonl` holds the metric on the epochs that had it (episode statistics
exist only where episodes ended) and, for a run started with `+performance_thresholds=...`,
the tracker's smoothed value and first crossings (`performance_threshold/<name>/...`) on
every epoch.  The plot draws the metric thin and the tracker's smoothed value thick, with a
dashed line at each target and a dot where the run first crossed it; the table gives the
samples, minutes and dollars the tracker recorded for each threshold.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

STEP = "metric/agent_step"
THRESHOLD_PREFIX = "performance_threshold/"


class RunError(ValueError):
    """A run directory that holds no usable metrics; the message names it."""


@dataclass
class Threshold:
    name: str
    metric: str
    target: float
    achieved: bool
    smoothed: float
    samples: float
    minutes: float
    cost: float


@dataclass
class Run:
    label: str
    seed: object
    rows: pd.DataFrame  # one row per epoch, NaN where the epoch lacked a metric
    thresholds: list[Threshold]
    hourly_cost: float

    @property
    def agent_steps(self) -> int:
        return int(self.rows[STEP].iloc[-1])


def read_run(run_dir: str | Path) -> Run:
    run_dir = Path(run_dir)
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise RunError(f"{run_dir}: no metrics.jsonl (not a run directory of python -m metta.train?)")
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise RunError(f"{path}: empty (the run has not finished an epoch)")
    try:
        rows = pd.DataFrame([json.loads(line) for line in lines]).astype(float, errors="ignore")
    except json.JSONDecodeError as e:
        raise RunError(f"{path}: not JSON lines ({e})") from None
    config = run_dir / "config.yaml"
    seed = OmegaConf.load(config).get("seed") if config.is_file() else None
    last = rows.iloc[-1]
    names = sorted({key[len(THRESHOLD_PREFIX) :].rsplit("/", 1)[0] for key in rows if key.startswith(THRESHOLD_PREFIX)})
    thresholds = [
        Threshold(
            name=name,
            metric=str(last[f"{THRESHOLD_PREFIX}{name}/metric"]),
            target=float(last[f"{THRESHOLD_PREFIX}{name}/target_value"]),
            achieved=bool(last[f"{THRESHOLD_PREFIX}{name}/achieved"]),
            **{field: _number(last, f"{THRESHOLD_PREFIX}{name}/{key}") for field, key in (
                ("smoothed", "final_smoothed_value"), ("samples", "samples_to_threshold"),
                ("minutes", "minutes_to_threshold"), ("cost", "cost_to_threshold"))},
        )  # fmt: skip
        for name in names
    ]
    return Run(run_dir.name, seed, rows, thresholds, _number(last, "monitor/cost/hourly_total"))


def _number(row: pd.Series, key: str) -> float:
    value = row.get(key)
    return float("nan") if value is None or pd.isna(value) else float(value)


def plot(runs: list[Run], metric: str, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(9, 5))
    targets: dict[float, str] = {}
    for i, run in enumerate(runs):
        color = f"C{i}"
        if metric not in run.rows:
            raise RunError(f"{run.label}: no {metric} in metrics.jsonl")
        points = run.rows[[STEP, metric]].dropna()
        ax.plot(points[STEP] / 1e6, points[metric], color=color, alpha=0.3, linewidth=0.8)
        watching = [t for t in run.thresholds if t.metric == metric]
        if watching:
            smoothed = run.rows[[STEP, f"{THRESHOLD_PREFIX}{watching[0].name}/final_smoothed_value"]].dropna()
            ax.plot(smoothed.iloc[:, 0] / 1e6, smoothed.iloc[:, 1], color=color, linewidth=2,
                    label=f"{run.label} (smoothed)")  # fmt: skip
        else:
            ax.plot([], [], color=color, label=run.label)
        first_step = run.rows[STEP].min()
        for t in watching:
            targets[t.target] = t.name
            # a run resumed from another's checkpoint inherits its crossings: that run draws those
            if t.achieved and t.samples >= first_step:
                ax.plot(t.samples / 1e6, t.target, "o", color=color, markersize=7)
    for target, name in targets.items():
        ax.axhline(target, color="grey", linestyle="--", linewidth=1)
        ax.annotate(name, (1, target), xycoords=("axes fraction", "data"), xytext=(-4, 3),
                    textcoords="offset points", color="grey", fontsize=8, ha="right")  # fmt: skip
    ax.set_xlabel("agent steps (millions)")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per agent per episode (thin: each epoch's episodes; dot: first crossing)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def table(runs: list[Run]) -> str:
    """Markdown: per run, its seed and length, and per threshold the samples/minutes/dollars to it."""
    names = sorted({t.name for run in runs for t in run.thresholds})
    header = ["run", "seed", "agent steps", *(f"{n}: samples / minutes / $" for n in names), "price"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for run in runs:
        by_name = {t.name: t for t in run.thresholds}
        cells = [run.label, str(run.seed), f"{run.agent_steps / 1e6:.1f}M"]
        for name in names:
            t = by_name.get(name)
            if t is None:
                cells.append("-")
            elif t.achieved:
                cells.append(f"**{t.samples / 1e6:.2f}M** / {t.minutes:.1f} / ${t.cost:.2f}")
            else:
                cells.append(f"not reached (smoothed {t.smoothed:.2f})")
        cells.append("-" if pd.isna(run.hourly_cost) else f"${run.hourly_cost:.3f}/h")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m metta.analysis.learning_curves", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run directories (train_dir/<run>)")
    parser.add_argument("--metric", default="env_agent/heart.gained")
    parser.add_argument("--out", default="learning_curves.png", help="the PNG; the table goes beside it as .md")
    args = parser.parse_args(argv)
    try:
        runs = [read_run(path) for path in args.runs]
        png = plot(runs, args.metric, args.out)
    except RunError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    text = table(runs)
    png.with_suffix(".md").write_text(text + "\n")
    print(text)
    print(f"\nplot: {png}")


if __name__ == "__main__":
    main()
