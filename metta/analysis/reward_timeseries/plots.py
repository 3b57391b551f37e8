"""`plots`: PNG figures of the pulled streams and their metrics."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from metta.analysis.reward_timeseries.metrics import MetricsConfig, with_rolling_columns  # noqa: E402

MAX_PANELS = 12  # the tasks with the most samples; the report names what was left out


def plot_all(samples: pd.DataFrame, per_stream: pd.DataFrame, ratios: pd.DataFrame, out: str | Path,
             cfg: MetricsConfig = MetricsConfig()) -> list[Path]:  # fmt: skip
    out = Path(out) / "plots"
    out.mkdir(parents=True, exist_ok=True)
    rolled = with_rolling_columns(samples, cfg)
    tasks = rolled.groupby("task").size().sort_values(ascending=False).index[:MAX_PANELS].tolist()
    return [
        _panels(rolled, tasks, "rolling_mean", "noise", f"reward (rolling mean of {cfg.noise_window}, band: rolling std)",
                out / "reward_vs_sample.png"),
        _panels(rolled, tasks, "slope", None, f"slope (reward/sample, {cfg.slope_window}-sample regression)",
                out / "slope_vs_sample.png"),
        _noise_boxes(rolled, tasks, cfg, out / "noise_by_task.png"),
        _ratio_bars(ratios, out / "variance_ratios.png"),
    ]  # fmt: skip


def _panels(df: pd.DataFrame, tasks: list[str], column: str, band: str | None, ylabel: str, path: Path) -> Path:
    cols = min(3, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.2 * rows), squeeze=False)
    for ax, task in zip(axes.flat, tasks):
        for i, (seed, stream) in enumerate(df[df["task"] == task].groupby("seed")):
            color = f"C{i % 10}"
            x, y = stream["sample_index"].to_numpy(), stream[column].to_numpy()
            if column == "rolling_mean":
                ax.plot(x, stream["reward"], ".", color=color, alpha=0.15, markersize=2)
            ax.plot(x, y, color=color, label=f"seed {seed}")
            if band is not None:
                spread = stream[band].to_numpy()
                ax.fill_between(x, y - spread, y + spread, color=color, alpha=0.2)
        if column == "slope":
            ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_title(task, fontsize=8)
        ax.set_xlabel("sample (completion of this task)")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _noise_boxes(df: pd.DataFrame, tasks: list[str], cfg: MetricsConfig, path: Path) -> Path:
    data = [df.loc[df["task"] == t, "noise"].dropna().to_numpy() for t in tasks]
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(tasks)), 4.5))
    ax.boxplot([d if len(d) else np.array([np.nan]) for d in data], showfliers=False)
    ax.set_xticks(range(1, len(tasks) + 1), [t[-28:] for t in tasks], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(f"rolling std of reward ({cfg.noise_window} samples)")
    ax.set_title("Sampling noise per task (all seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _ratio_bars(ratios: pd.DataFrame, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(ratios)), 4.5))
    values = ratios["variance_ratio"].fillna(0).to_numpy()
    colors = ["C3" if v > 1 else "C0" for v in values]
    ax.bar(range(len(ratios)), values, color=colors)
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="seeds vary as much as tasks")
    for i, reason in enumerate(ratios["not_computable"]):
        if reason:
            ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(ratios)), [t[-28:] for t in ratios["task"]], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("Var(seed means) / Var(task means)")
    ax.set_title("Seed vs task variance (red: seeds differ more than tasks)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
