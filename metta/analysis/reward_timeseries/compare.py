"""`compare`: experiments side by side: reward noise, slope after convergence, SPS.

An experiment is a name and the run directories of its seeds (a multirun's job folders).
Per experiment, over its (task, seed) streams: the mean rolling noise, the mean slope over
the last quarter of each stream's samples ("after convergence"), the mean reward, and the
median SPS of its completions.  Written as compare.csv, compare.md and compare.png.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from metta.analysis.reward_timeseries.metrics import MetricsConfig, with_rolling_columns  # noqa: E402
from metta.analysis.reward_timeseries.pull import AnalysisInputError, load_samples, pull_local  # noqa: E402
from metta.analysis.reward_timeseries.report import markdown_table  # noqa: E402

LATE_FRACTION = 0.25


def run_dirs_of(path: Path) -> list[Path]:
    """A run directory, or a multirun folder whose job folders are run directories."""
    if (path / "completions").is_dir():
        return [path]
    jobs = sorted(p for p in path.iterdir() if (p / "completions").is_dir()) if path.is_dir() else []
    if not jobs:
        raise AnalysisInputError(f"{path} holds no run directory with completions/")
    return jobs


def compare(experiments: dict[str, list[Path]], out: str | Path, cfg: MetricsConfig = MetricsConfig()) -> pd.DataFrame:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, run_dirs in experiments.items():
        with tempfile.TemporaryDirectory() as tmp:
            pull_local(run_dirs, tmp)
            samples = with_rolling_columns(load_samples(tmp), cfg)
        length = samples.groupby(["task", "seed"])["sample_index"].transform("max") + 1
        late = samples[samples["sample_index"] >= (1 - LATE_FRACTION) * length]
        rows.append({
            "experiment": name,
            "runs": len(run_dirs),
            "streams": samples.groupby(["task", "seed"]).ngroups,
            "samples": len(samples),
            "mean_reward": samples["reward"].mean(),
            "reward_noise": samples["noise"].mean(),
            "late_slope": late["slope"].mean(),
            "median_sps": samples["sps"].median(),
        })  # fmt: skip
    table = pd.DataFrame(rows)
    table.to_csv(out / "compare.csv", index=False)
    (out / "compare.md").write_text(markdown_table(table.round(5)) + "\n")
    _plot(table, out / "compare.png")
    return table


def _plot(table: pd.DataFrame, path: Path) -> None:
    columns = [("reward_noise", "reward noise (rolling std)"), ("late_slope", "slope, last quarter (reward/sample)"),
               ("median_sps", "median SPS at completion")]  # fmt: skip
    fig, axes = plt.subplots(1, len(columns), figsize=(5 * len(columns), 4))
    for ax, (column, label) in zip(axes, columns):
        ax.bar(table["experiment"], table[column], color=[f"C{i % 10}" for i in range(len(table))])
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="x", rotation=30, labelsize=8)
    fig.suptitle("Learning-progress experiments side by side")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
