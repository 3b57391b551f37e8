"""Per-epoch statistics: episode infos into means, losses into means, the phase profile, and
the watch for runs that get slower over time."""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterable, Optional

import torch

# Timed phases: an epoch's rollout (env, forward, copy) and update (learn), the bookkeeping
# (stats), and the duties after some epochs (checkpoint, eval).  `timing/<phase>` is the time
# spent in it since the previous metrics row.
PHASES = ("env", "forward", "copy", "learn", "stats", "checkpoint", "eval")


class EpisodeStats:
    """Means of the numeric fields of the episodes that ended this epoch.

    `env_agent/<stat>` are already per-agent means within an episode; `episode_return` feeds
    `overview/reward` (the mean return per agent of the episodes finished this epoch).  Desync's
    first episodes, cut to a random length, are left out as the curriculum leaves them out: a
    37-step episode holds no hearts, and would pull the thresholds' metric down."""

    def __init__(self) -> None:
        self._sums: dict[str, float] = defaultdict(float)
        self.episodes = 0

    def add(self, infos: Iterable[dict]) -> None:
        for info in infos:
            if info.get("desync_episode"):
                continue
            self.episodes += 1
            for key, value in info.items():
                if key.startswith("env_agent/") or key in ("episode_return", "episode_length"):
                    self._sums[key] += value

    def pop(self) -> dict[str, float]:
        """The epoch's means (empty if no episode ended), and a fresh start."""
        if not self.episodes:
            return {}
        means = {key: total / self.episodes for key, total in self._sums.items()}
        out = {key: value for key, value in means.items() if key.startswith("env_agent/")}
        out["overview/reward"] = means["episode_return"]
        out["overview/episode_length"] = means["episode_length"]
        out["overview/episodes"] = float(self.episodes)
        self._sums.clear()
        self.episodes = 0
        return out


class LossStats:
    """Means of the PPO loss parts over the minibatches of an epoch, as `losses/<name>`."""

    def __init__(self) -> None:
        self._parts: dict[str, list[torch.Tensor]] = defaultdict(list)

    def add(self, parts: dict[str, torch.Tensor]) -> None:
        for key, value in parts.items():
            self._parts[key].append(value.detach())

    def pop(self) -> dict[str, float]:
        out = {f"losses/{key}": torch.stack(values).mean().item() for key, values in self._parts.items()}
        self._parts.clear()
        return out


class PhaseTimer:
    """Wall time per phase (PufferLib-style profile): per epoch for logging, and in total."""

    def __init__(self) -> None:
        self.epoch = dict.fromkeys(PHASES, 0.0)
        self.total = dict.fromkeys(PHASES, 0.0)

    @contextmanager
    def __call__(self, phase: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.epoch[phase] += elapsed
            self.total[phase] += elapsed

    def pop(self) -> dict[str, float]:
        out = {f"timing/{phase}": seconds for phase, seconds in self.epoch.items()}
        self.epoch = dict.fromkeys(PHASES, 0.0)
        return out

    def summary(self) -> str:
        """The run's profile as a small table, slowest phase first."""
        whole = sum(self.total.values()) or 1.0
        lines = [f"{'phase':<8} {'seconds':>9} {'share':>6}"]
        for phase, seconds in sorted(self.total.items(), key=lambda kv: -kv[1]):
            lines.append(f"{phase:<8} {seconds:9.1f} {100 * seconds / whole:5.1f}%")
        return "\n".join(lines)


class SlowdownWatch:
    """Spec 003's "gets slower over time": a warning when `overview/sps` stays more than `drop`
    below the run's early median for `patience` epochs in a row, naming the phase whose time
    per epoch grew most.  The early median is taken over `baseline_epochs` epochs after the
    first two (which compile and warm up); a resumed run takes its own.  One warning per
    slowdown: SPS must recover before another is given."""

    WARMUP_EPOCHS = 2

    def __init__(self, drop: float, patience: int, baseline_epochs: int) -> None:
        self.drop, self.patience, self.baseline_epochs = drop, patience, baseline_epochs
        self._seen = 0
        self._early: list[dict[str, float]] = []
        self._slow: list[dict[str, float]] = []
        self._warned = False

    def update(self, row: dict[str, float]) -> Optional[str]:
        """Feed one epoch's row (`overview/sps`, `timing/*`); returns a warning when one is due."""
        sample = {key: value for key, value in row.items() if key == "overview/sps" or key.startswith("timing/")}
        self._seen += 1
        if self.drop <= 0 or self._seen <= self.WARMUP_EPOCHS:
            return None
        if len(self._early) < self.baseline_epochs:
            self._early.append(sample)
            return None
        early_sps = _median(self._early, "overview/sps")
        if sample["overview/sps"] >= (1 - self.drop) * early_sps:
            self._slow.clear()
            self._warned = False
            return None
        if self._warned:  # this slowdown was reported; nothing more to keep until SPS recovers
            return None
        self._slow.append(sample)
        if len(self._slow) < self.patience:
            return None
        self._warned = True
        now = _median(self._slow, "overview/sps")
        early = {key: _median(self._early, key) for key in sample if key.startswith("timing/")}
        slow = {key: _median(self._slow, key) for key in early}
        grew = max(early, key=lambda key: slow[key] - early[key])
        message = (
            f"SPS has stayed more than {100 * self.drop:.0f}% below this run's early median for "
            f"{len(self._slow)} epochs: {now:,.0f} vs {early_sps:,.0f} agent steps/s ({100 * (1 - now / early_sps):.0f}% "
            f"slower); {grew} grew most, {early[grew]:.3f} -> {slow[grew]:.3f} s per epoch"
        )
        # Phases holding at least 5% of an early epoch: if all of them slowed alike, the cause
        # is outside the run (another process on the cores, throttling), not one part of it.
        main = [key for key, seconds in early.items() if seconds >= 0.05 * sum(early.values())]
        ratios = [slow[key] / early[key] for key in main]
        if len(main) >= 2 and min(ratios) >= 1 + self.drop / 2:
            message += (
                f"; every main phase slowed ({', '.join(k.split('/')[1] for k in main)}: x{min(ratios):.1f}-"
                f"x{max(ratios):.1f}), so look outside the run: another process on these cores, throttling"
            )
        return message


def _median(samples: list[dict[str, float]], key: str) -> float:
    return statistics.median(sample.get(key, 0.0) for sample in samples)
