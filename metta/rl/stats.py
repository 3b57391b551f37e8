"""Per-epoch statistics: episode infos into means, losses into means, and the phase profile."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterable

import torch

PHASES = ("env", "forward", "copy", "learn", "stats")


class EpisodeStats:
    """Means of the numeric fields of the episodes that ended this epoch.

    `env_agent/<stat>` are already per-agent means within an episode; `episode_return` feeds
    `overview/reward` (the mean return per agent of the episodes finished this epoch)."""

    def __init__(self) -> None:
        self._sums: dict[str, float] = defaultdict(float)
        self.episodes = 0

    def add(self, infos: Iterable[dict]) -> None:
        for info in infos:
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
