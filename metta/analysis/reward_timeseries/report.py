"""`report`: report.md, its recommendations computed from the metrics table.

Suggested EMA rate per task: for white noise of standard deviation sigma, an EMA with rate
a has standard deviation sigma * sqrt(a / (2 - a)).  Asking that to be a tenth of the task's
reward spread s (its 90th minus 10th percentile reward) gives a = 2 t^2 / (1 + t^2) with
t = 0.1 s / sigma, clipped to [0.001, 1]: noisier tasks get slower EMAs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from metta.analysis.reward_timeseries.metrics import MetricsConfig

TARGET_NOISE_FRACTION = 0.1


def suggested_ema_rate(noise: float, spread: float) -> float:
    if not np.isfinite(spread) or spread <= 0:
        return float("nan")  # no signal to track
    if not np.isfinite(noise) or noise <= 0:
        return 1.0
    t = TARGET_NOISE_FRACTION * spread / noise
    return float(np.clip(2 * t * t / (1 + t * t), 0.001, 1.0))


def task_table(samples: pd.DataFrame, per_stream: pd.DataFrame) -> pd.DataFrame:
    """Per task: mean noise and slope over its seeds, reward spread, suggested EMA rate."""
    spread = samples.groupby("task")["reward"].agg(lambda r: r.quantile(0.9) - r.quantile(0.1))
    table = per_stream.groupby("task").agg(
        seeds=("seed", "size"), samples=("samples", "sum"), mean_reward=("mean_reward", "mean"),
        noise=("noise_mean", "mean"), slope=("slope_mean", "mean"),
    )  # fmt: skip
    table["reward_spread"] = spread
    table["suggested_ema_timescale"] = [
        suggested_ema_rate(n, s) for n, s in zip(table["noise"], table["reward_spread"])
    ]
    return table.reset_index()


def write_report(samples: pd.DataFrame, per_stream: pd.DataFrame, ratios: pd.DataFrame, plots: list[Path],
                 out: str | Path, cfg: MetricsConfig = MetricsConfig(), dropped_nan: int = 0) -> Path:  # fmt: skip
    out = Path(out)
    tasks = task_table(samples, per_stream)
    lines = [
        "# LP reward time-series report",
        "",
        f"{len(tasks)} tasks, {len(per_stream)} (task, seed) streams, {len(samples):,} samples"
        + (f"; {dropped_nan} NaN rewards dropped at pull." if dropped_nan else "."),
        f"Slope: {cfg.slope_method} ({cfg.slope_window}-sample least squares)"
        if cfg.slope_method == "rolling"
        else f"Slope: EMA (rate {cfg.ema_alpha}) of reward differences.",
        f"Noise: rolling standard deviation over {cfg.noise_window} samples.",
        "",
        "## Recommendations",
        "",
        *_recommendations(tasks, per_stream, ratios, cfg),
        "",
        "## Per task",
        "",
        markdown_table(tasks.round(4)),
        "",
        "## Seed vs task variance",
        "",
        markdown_table(ratios.round(4)),
        "",
        "## Plots",
        "",
        *[f"![{p.stem}]({p.relative_to(out).as_posix()})" for p in plots],
        "",
    ]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path


def _recommendations(
    tasks: pd.DataFrame, per_stream: pd.DataFrame, ratios: pd.DataFrame, cfg: MetricsConfig
) -> list[str]:
    out = []
    noisy = tasks.dropna(subset=["noise"]).sort_values("noise")
    if len(noisy) >= 2 and noisy["noise"].iloc[0] > 0:
        low, high = noisy.iloc[0], noisy.iloc[-1]
        out.append(
            f"- Task `{high.task}` is {high.noise / low.noise:.1f}x as noisy as task `{low.task}` "
            f"(rolling std {high.noise:.3g} vs {low.noise:.3g}): use a longer EMA timescale for it."
        )
    elif len(noisy) == 1:
        out.append(f"- Only task `{noisy.iloc[0].task}` has enough samples for a noise estimate.")
    short = per_stream[per_stream["samples"] < max(cfg.slope_window, cfg.noise_window)]
    if len(short):
        out.append(f"- {len(short)} stream(s) have fewer samples than a window ({cfg.slope_window}/{cfg.noise_window}): "
                   f"their slope/noise are not computable ({_some(short['task'] + '/' + short['seed'].astype(str))}).")  # fmt: skip
    rates = tasks.dropna(subset=["suggested_ema_timescale"])
    if len(rates):
        groups = rates.groupby(rates["suggested_ema_timescale"].map(lambda a: float(f"{a:.1g}")))["task"].apply(list)
        for rate, members in groups.items():
            out.append(f"- Suggested `ema_timescale` {rate:g} for {len(members)} task(s): {_some(members)} "
                       f"(EMA noise at {TARGET_NOISE_FRACTION:.0%} of the task's reward spread).")  # fmt: skip
    flat = tasks[tasks["reward_spread"] == 0]
    if len(flat):
        out.append(f"- {len(flat)} task(s) with every reward equal, no learning signal: {_some(flat['task'])} "
                   "(a candidate for eviction or a different reward target).")  # fmt: skip
    computable = ratios[ratios["not_computable"] == ""]
    seed_dominated = computable[computable["variance_ratio"] > 1]
    if len(seed_dominated):
        out.append(f"- Seeds differ more than tasks for {', '.join(f'`{t}` ({r:.2g})' for t, r in zip(seed_dominated['task'], seed_dominated['variance_ratio']))}: "
                   "pool learning-progress statistics across seeds cautiously and run more seeds.")  # fmt: skip
    elif len(computable):
        out.append(f"- Tasks dominate the variance (all {len(computable)} computable ratios < 1): "
                   "per-task learning-progress statistics are meaningful.")  # fmt: skip
    for reason, group in ratios[ratios["not_computable"] != ""].groupby("not_computable"):
        out.append(f"- Variance ratio not computable ({reason}) for {len(group)} task(s): {_some(group['task'])}.")
    if "reward_sps_corr" in per_stream:
        corr = per_stream["reward_sps_corr"].dropna()
        if len(corr):
            worst = per_stream.loc[corr.abs().idxmax()]
            out.append(f"- Strongest reward-SPS correlation: r = {worst.reward_sps_corr:.2f} (`{worst.task}`, seed {worst.seed})"
                       + (": SPS-aware gating may matter here." if abs(worst.reward_sps_corr) > 0.5 else "; SPS barely tracks reward."))  # fmt: skip
    return out or ["- Not enough data for a recommendation."]


def _some(names, limit: int = 5) -> str:
    names = [f"`{n}`" for n in names]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def markdown_table(df: pd.DataFrame) -> str:
    header = "| " + " | ".join(df.columns) + " |"
    rule = "|" + "---|" * len(df.columns)
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *rows])
