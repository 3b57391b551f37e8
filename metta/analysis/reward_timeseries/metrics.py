"""Per (task, seed) reward-stream metrics, vectorized over all streams at once.

Streams are rows `(task, seed, sample_index, reward, sps)` sorted by task, seed, sample.
Rolling windows never cross a stream boundary: each window statistic comes from cumulative
sums over the whole table, differenced at `i` and `i - window`, and is NaN where the window
would reach into the previous stream (the first `window - 1` samples of each stream).

- slope, `rolling` method: least-squares slope of reward on sample index over the last
  `slope_window` (25) samples, in reward per sample;
- slope, `ema` method: the mean over the stream of the EMA of first differences
  (reward[i] - reward[i-1]) with rate `ema_alpha`; it lags but needs no window;
- noise: rolling standard deviation (ddof 1) over the last `noise_window` (10) samples;
- reward-SPS correlation: Pearson's r of reward and SPS within the stream;
- variance ratio, per task: Var(seed means within the task) / Var(task means across tasks)
  (population variances); > 1 means the seeds of this task differ more than tasks do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class MetricsConfig:
    slope_window: int = 25
    noise_window: int = 10
    slope_method: Literal["rolling", "ema"] = "rolling"
    ema_alpha: float = 0.1


def stream_metrics(samples: pd.DataFrame, cfg: MetricsConfig = MetricsConfig()) -> pd.DataFrame:
    """One row per (task, seed): samples, mean reward, slope, noise, their spreads, reward-SPS r."""
    df, position = _sorted(samples)
    reward = _centred(df)
    if cfg.slope_method == "rolling":
        df["slope"] = _rolling_slope(position.astype(float), reward, position, cfg.slope_window)
    else:
        df["slope"] = _ema_of_differences(df, position, cfg.ema_alpha)
    df["noise"] = _rolling_std(reward, position, cfg.noise_window)

    grouped = df.groupby(["task", "seed"], sort=True)
    out = grouped.agg(
        samples=("reward", "size"),
        mean_reward=("reward", "mean"),
        slope_mean=("slope", "mean"),
        slope_median=("slope", "median"),
        slope_p10=("slope", lambda s: s.quantile(0.1)),
        slope_p90=("slope", lambda s: s.quantile(0.9)),
        noise_mean=("noise", "mean"),
        noise_median=("noise", "median"),
        noise_p10=("noise", lambda s: s.quantile(0.1)),
        noise_p90=("noise", lambda s: s.quantile(0.9)),
    )
    if "sps" in df:
        out["reward_sps_corr"] = grouped[["reward", "sps"]].apply(_pearson)
    return out.reset_index()


def with_rolling_columns(samples: pd.DataFrame, cfg: MetricsConfig = MetricsConfig()) -> pd.DataFrame:
    """The samples with their rolling mean / std / slope (for plots)."""
    df, position = _sorted(samples)
    df["rolling_mean"] = _rolling_sum(df["reward"].to_numpy(float), position, cfg.noise_window) / cfg.noise_window
    reward = _centred(df)
    df["noise"] = _rolling_std(reward, position, cfg.noise_window)
    df["slope"] = _rolling_slope(position.astype(float), reward, position, cfg.slope_window)
    return df


def variance_ratios(per_stream: pd.DataFrame) -> pd.DataFrame:
    """Per task: Var(seed means) / Var(task means); NaN (with a reason) where not computable."""
    task_means = per_stream.groupby("task")["mean_reward"].mean()
    across = float(task_means.var(ddof=0)) if len(task_means) > 1 else np.nan
    rows = []
    for task, group in per_stream.groupby("task"):
        seeds = len(group)
        within = float(group["mean_reward"].var(ddof=0)) if seeds > 1 else np.nan
        if seeds < 2:
            reason = "one seed: no seed variance"
        elif not np.isfinite(across):
            reason = "one task: no task variance"
        elif across == 0:
            reason = "task means are all equal"
        else:
            reason = ""
        ratio = within / across if not reason else np.nan
        rows.append({"task": task, "seeds": seeds, "seed_variance": within, "task_variance": across,
                     "variance_ratio": ratio, "not_computable": reason})  # fmt: skip
    return pd.DataFrame(rows)


def _sorted(samples: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The samples in stream order, and each sample's index within its stream."""
    df = samples.sort_values(["task", "seed", "sample_index"], kind="stable").reset_index(drop=True)
    stream = df.groupby(["task", "seed"], sort=False).ngroup().to_numpy()
    starts = np.r_[0, np.flatnonzero(np.diff(stream)) + 1] if len(df) else np.zeros(0, dtype=int)
    position = np.arange(len(df)) - np.repeat(starts, np.diff(np.r_[starts, len(df)]))
    return df, position


def _centred(df: pd.DataFrame) -> np.ndarray:
    """Rewards minus their stream's mean: sums of squares of raw rewards lose precision."""
    reward = df["reward"].to_numpy(float)
    return reward - df.groupby(["task", "seed"], sort=False)["reward"].transform("mean").to_numpy(float)


def _window_valid(position: np.ndarray, window: int) -> np.ndarray:
    return position >= window - 1


def _rolling_sum(values: np.ndarray, position: np.ndarray, window: int) -> np.ndarray:
    c = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(len(values))
    lo = np.maximum(idx + 1 - window, 0)
    out = c[idx + 1] - c[lo]
    return np.where(_window_valid(position, window), out, np.nan)


def _rolling_std(values: np.ndarray, position: np.ndarray, window: int) -> np.ndarray:
    if window < 2:
        return np.full(len(values), np.nan)
    s1 = _rolling_sum(values, position, window)
    s2 = _rolling_sum(values**2, position, window)
    var = (s2 - s1**2 / window) / (window - 1)
    var[np.abs(var) < 1e-12 * (1.0 + np.nanmax(np.abs(values)) ** 2)] = 0.0  # cancellation residue of equal values
    return np.sqrt(np.clip(var, 0.0, None))


def _rolling_slope(x: np.ndarray, y: np.ndarray, position: np.ndarray, window: int) -> np.ndarray:
    if window < 2:
        return np.full(len(y), np.nan)
    sx, sy = _rolling_sum(x, position, window), _rolling_sum(y, position, window)
    sxx, sxy = _rolling_sum(x * x, position, window), _rolling_sum(x * y, position, window)
    denominator = window * sxx - sx * sx
    return (window * sxy - sx * sy) / denominator


def _ema_of_differences(df: pd.DataFrame, position: np.ndarray, alpha: float) -> np.ndarray:
    """EMA (rate alpha, started at the first difference) of reward[i] - reward[i-1], per stream."""
    diff = np.where(position > 0, np.diff(df["reward"].to_numpy(float), prepend=np.nan), np.nan)
    series = pd.Series(diff, index=df.index)
    keys = [df["task"], df["seed"]]
    return series.groupby(keys, sort=False).transform(lambda s: s.ewm(alpha=alpha, adjust=False).mean()).to_numpy()


def _pearson(group: pd.DataFrame) -> float:
    r, s = group["reward"].to_numpy(float), group["sps"].to_numpy(float)
    if len(r) < 3 or r.std() == 0 or s.std() == 0:
        return np.nan
    return float(np.corrcoef(r, s)[0, 1])
