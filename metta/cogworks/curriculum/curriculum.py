"""Curriculum: a pool of active tasks, sampled by an algorithm, the weakest evicted.

The pool holds `num_active_tasks` task ids, one per slot.  `get_task` draws a slot by the
algorithm's weights (uniform without one); `complete_task` records a score for the task's
slot, and once the task has been completed `min_presentations_for_eviction` times and
fewer than `eviction_percentile`% of the evictable tasks score below it (it is among the
lowest), the slot gets a fresh task.  Scores for eviction are the algorithm's learning progress (a task that is
learnt or unlearnable stops progressing), or the mean score without an algorithm.

Weights are recomputed lazily, once after a completion changed them; a draw is a binary
search in their cumulative sum, so `get_task` never rescans the pool per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from metta.cogworks.curriculum.learning_progress import LearningProgress
from metta.cogworks.curriculum.task_generator import TaskGenerator
from metta.mettagrid import EnvConfig


@dataclass(frozen=True)
class Task:
    task_id: int
    env_cfg: EnvConfig

    @property
    def label(self) -> str:
        return self.env_cfg.label


class Curriculum:
    def __init__(
        self,
        task_generator: TaskGenerator,
        num_active_tasks: int = 16,
        min_presentations_for_eviction: Optional[int] = 5,
        eviction_percentile: float = 20.0,
        algorithm: Optional[LearningProgress] = None,
        seed: int = 0,
    ) -> None:
        if num_active_tasks < 1:
            raise ValueError(f"num_active_tasks must be >= 1, got {num_active_tasks}")
        if min_presentations_for_eviction is not None and min_presentations_for_eviction < 1:
            raise ValueError(
                f"min_presentations_for_eviction must be >= 1 or null, got {min_presentations_for_eviction}"
            )
        if not 0 <= eviction_percentile <= 100:
            raise ValueError(f"eviction_percentile must be in [0, 100], got {eviction_percentile}")
        self.generator = task_generator
        self.min_presentations = min_presentations_for_eviction
        self.eviction_percentile = eviction_percentile
        self.algorithm = algorithm
        self.rng = np.random.default_rng(seed)
        self.task_ids = self.rng.integers(0, 2**62, num_active_tasks)
        self.slot_of = {int(t): s for s, t in enumerate(self.task_ids)}
        self.completions = np.zeros(num_active_tasks, dtype=np.int64)
        self.score_sum = np.zeros(num_active_tasks)
        self.evictions = 0
        self.agent_step = 0
        if algorithm is not None:
            algorithm.allocate(num_active_tasks)
        self._cdf: Optional[np.ndarray] = None
        self._cache: dict[int, EnvConfig] = {}

    @property
    def num_active_tasks(self) -> int:
        return len(self.task_ids)

    def get_task(self) -> Task:
        if self._cdf is None:
            self._cdf = np.cumsum(self.probabilities())
        slot = min(int(np.searchsorted(self._cdf, self.rng.random() * self._cdf[-1], side="right")), len(self._cdf) - 1)
        return self.task(int(self.task_ids[slot]))

    def task(self, task_id: int) -> Task:
        """The task with this id (configs of active tasks are cached)."""
        cfg = self._cache.get(task_id)
        if cfg is None:
            cfg = self.generator.get_task(task_id)
            if task_id in self.slot_of:
                self._cache[task_id] = cfg
        return Task(task_id, cfg)

    def probabilities(self) -> np.ndarray:
        if self.algorithm is None:
            return np.full(self.num_active_tasks, 1.0 / self.num_active_tasks)
        return self.algorithm.weights(self.agent_step)

    @property
    def needs_advantages(self) -> bool:
        """Whether completions must wait for the trainer's GAE (lp_input: gae)."""
        return self.algorithm is not None and self.algorithm.needs_advantages

    def complete_task(
        self,
        task_id: int,
        score: float,
        task_scaled_performance: Optional[float] = None,
        step_time: Optional[float] = None,
        mean_advantage: Optional[float] = None,
    ) -> None:
        """Record a finished episode of `task_id` (ignored if the task was evicted meanwhile)."""
        slot = self.slot_of.get(task_id)
        if slot is None:
            return
        self.completions[slot] += 1
        self.score_sum[slot] += score
        if self.algorithm is not None:
            signal = self.algorithm.score_of(score, task_scaled_performance, mean_advantage)
            if signal is not None:
                self.algorithm.update(slot, signal, step_time)
        self._cdf = None
        self._maybe_evict(slot)

    def _maybe_evict(self, slot: int) -> None:
        if self.min_presentations is None or self.num_active_tasks < 2:
            return
        evictable = self.completions >= self.min_presentations
        if not evictable[slot] or evictable.sum() < 2:
            return
        scores = self.eviction_scores()
        candidates, score = scores[evictable], scores[slot]
        # in the lowest eviction_percentile, but never among equals (nothing to prefer the others for)
        lowest = (candidates < score).sum() < self.eviction_percentile / 100 * len(candidates)
        if lowest and score < candidates.max():
            self._replace(slot)

    def eviction_scores(self) -> np.ndarray:
        if self.algorithm is not None:
            return self.algorithm.learning_progress()
        return self.score_sum / np.maximum(self.completions, 1)

    def _replace(self, slot: int) -> None:
        old = int(self.task_ids[slot])
        del self.slot_of[old]
        self._cache.pop(old, None)
        new = int(self.rng.integers(0, 2**62))
        while new in self.slot_of:
            new = int(self.rng.integers(0, 2**62))
        self.task_ids[slot] = new
        self.slot_of[new] = slot
        self.completions[slot] = 0
        self.score_sum[slot] = 0.0
        if self.algorithm is not None:
            self.algorithm.reset_slot(slot)
        self.evictions += 1

    def stats(self, top: int = 3) -> dict[str, float]:
        """`curriculum/*`: pool size, evictions, sampling entropy and Gini, lp of the top tasks."""
        p = self.probabilities()
        nonzero = p[p > 0]
        sorted_p = np.sort(p)
        n = len(p)
        gini = float((2 * np.arange(1, n + 1) - n - 1) @ sorted_p / (n * sorted_p.sum())) if n > 1 else 0.0
        out = {
            "curriculum/pool_size": float(n),
            "curriculum/evictions": float(self.evictions),
            "curriculum/sampling_entropy": float(-(nonzero * np.log(nonzero)).sum()),
            "curriculum/sampling_gini": gini,
            "curriculum/completions": float(self.completions.sum()),
        }
        if self.algorithm is not None:
            lp = self.algorithm.learning_progress()
            for rank, slot in enumerate(np.argsort(-lp)[:top]):
                out[f"curriculum/lp_top{rank + 1}"] = float(lp[slot])
                out[f"curriculum/lp_top{rank + 1}_prob"] = float(p[slot])
        return out

    def state_dict(self) -> dict:
        state = {
            "task_ids": self.task_ids.copy(),
            "completions": self.completions.copy(),
            "score_sum": self.score_sum.copy(),
            "evictions": self.evictions,
            "agent_step": self.agent_step,
            "rng": self.rng.bit_generator.state,
        }
        if self.algorithm is not None:
            state["algorithm"] = {k: np.copy(v) for k, v in self.algorithm.state_dict().items()}
        return state

    def load_state_dict(self, state: dict) -> None:
        if len(state["task_ids"]) != self.num_active_tasks:
            raise ValueError(
                f"the checkpoint's curriculum has {len(state['task_ids'])} active tasks, the config {self.num_active_tasks}"
            )
        self.task_ids = np.asarray(state["task_ids"]).copy()
        self.slot_of = {int(t): s for s, t in enumerate(self.task_ids)}
        self.completions = np.asarray(state["completions"]).copy()
        self.score_sum = np.asarray(state["score_sum"]).copy()
        self.evictions, self.agent_step = state["evictions"], state["agent_step"]
        self.rng.bit_generator.state = state["rng"]
        if self.algorithm is not None and "algorithm" in state:
            self.algorithm.load_state_dict({k: np.copy(v) for k, v in state["algorithm"].items()})
        self._cdf, self._cache = None, {}
