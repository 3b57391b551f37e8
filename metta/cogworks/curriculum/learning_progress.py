"""Learning-progress task sampling (after Kanitscheider et al. 2021, as in Metta).

Per pool slot i, with scores x arriving as the slot's task completes:

    fast_i <- fast_i + a      * (x - fast_i)          a = ema_timescale
    slow_i <- slow_i + a / k  * (x - slow_i)          k = slow_timescale_factor
    (both start at the task's first score, not at 0, so neither lags behind a new task)

At sampling time, with lo / hi the lowest / highest score seen in the run (scores are put on
[0, 1] so tasks with different reward scales compare; task-scaled performance already is):

    p(v)  = clip((v - lo) / (hi - lo), 0, 1)
    R(p)  = p (1 - s) / (p + s (1 - 2p))              s = progress_smoothing
    lp_i  = |R(p(fast_i)) - R(p(slow_i))|
            + exploration_bonus                       while slot i has < 2 scores
    z_i   = (lp_i - mean(lp)) / (std(lp) + 1e-8)      over the slots
    w_i   = sigmoid(z_score_amplification * z_i)
          * (4 p(fast_i) (1 - p(fast_i))) ** frontier_weight        frontier weighting
          * (median(t) / t_i) ** sps_gating                          t_i: seconds per env step
    w_i   = 0 outside the max_sampling_tasks largest lp (when set)   active-pool cap
    P_i   = w_i / sum(w)

`z_score_amplification` may follow a schedule instead: `z_score_schedule` =
[[until_agent_step, value], ..., [null, value]] (e.g. 30 for the first N steps, then 10).
The slot arrays make a rescore O(pool) numpy work, done once per completion, never per draw.
"""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class LearningProgressConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ema_timescale: float = Field(0.1, gt=0, le=1, description="fast EMA rate per completion")
    slow_timescale_factor: float = Field(5.0, ge=1, description="the slow EMA is this many times slower")
    progress_smoothing: float = Field(0.05, gt=0, lt=0.5, description="s of the reweighting R(p)")
    exploration_bonus: float = Field(0.1, ge=0, description="added to lp while a task has fewer than 2 scores")
    z_score_amplification: float = Field(10.0, gt=0, description="sharpness of the sigmoid over z-scored lp")
    z_score_schedule: Optional[list[tuple[Optional[int], float]]] = Field(
        None, description="[[until_agent_step, amplification], ..., [null, amplification]] (annealing)"
    )
    lp_input: Literal["episode_return", "task_scaled_performance", "gae"] = Field(
        "episode_return", description="the score fed to the EMAs (gae: the episode's mean GAE advantage)"
    )
    max_sampling_tasks: Optional[int] = Field(None, ge=1, description="only the top-k lp tasks are sampled")
    frontier_weight: float = Field(0.0, ge=0, description="exponent of the 4p(1-p) frontier weight (0: off)")
    sps_gating: float = Field(0.0, ge=0, description="exponent of the step-time down-weighting (0: off)")

    @model_validator(mode="after")
    def _schedule_ends_open(self) -> "LearningProgressConfig":
        schedule = self.z_score_schedule
        if schedule is not None:
            if not schedule or schedule[-1][0] is not None or any(until is None for until, _ in schedule[:-1]):
                raise ValueError("z_score_schedule must be [[until_agent_step, value], ..., [null, value]]")
        return self

    def amplification(self, agent_step: int) -> float:
        if self.z_score_schedule is None:
            return self.z_score_amplification
        for until, value in self.z_score_schedule[:-1]:
            if agent_step < until:
                return value
        return self.z_score_schedule[-1][1]


class LearningProgress:
    """The per-slot state and the weights above; the Curriculum owns the pool of slots."""

    def __init__(self, **config) -> None:
        self.config = LearningProgressConfig(**config)

    def allocate(self, slots: int) -> None:
        self.fast = np.zeros(slots)
        self.slow = np.zeros(slots)
        self.count = np.zeros(slots, dtype=np.int64)
        self.step_time = np.full(slots, np.nan)
        self.lo, self.hi = np.inf, -np.inf

    def reset_slot(self, slot: int) -> None:
        self.fast[slot] = self.slow[slot] = 0.0
        self.count[slot] = 0
        self.step_time[slot] = np.nan

    @property
    def needs_advantages(self) -> bool:
        return self.config.lp_input == "gae"

    def score_of(
        self, episode_return: float, task_scaled_performance: Optional[float], mean_advantage: Optional[float]
    ) -> Optional[float]:
        """The number this algorithm learns from (None: this completion has none)."""
        return {
            "episode_return": episode_return,
            "task_scaled_performance": task_scaled_performance,
            "gae": mean_advantage,
        }[self.config.lp_input]

    def update(self, slot: int, score: float, step_time: Optional[float] = None) -> None:
        c = self.config
        if self.count[slot] == 0:
            self.fast[slot] = self.slow[slot] = score
        else:
            self.fast[slot] += c.ema_timescale * (score - self.fast[slot])
            self.slow[slot] += c.ema_timescale / c.slow_timescale_factor * (score - self.slow[slot])
        self.count[slot] += 1
        self.lo, self.hi = min(self.lo, score), max(self.hi, score)
        if step_time is not None:
            old = self.step_time[slot]
            self.step_time[slot] = step_time if np.isnan(old) else old + c.ema_timescale * (step_time - old)

    def learning_progress(self) -> np.ndarray:
        c = self.config
        fast, slow = self._normalized(self.fast), self._normalized(self.slow)
        lp = np.abs(self._reweight(fast) - self._reweight(slow))
        return lp + c.exploration_bonus * (self.count < 2)

    def weights(self, agent_step: int = 0) -> np.ndarray:
        c = self.config
        lp = self.learning_progress()
        z = (lp - lp.mean()) / (lp.std() + 1e-8)
        w = 0.5 * (1.0 + np.tanh(0.5 * c.amplification(agent_step) * z))  # sigmoid, without exp overflow
        if c.frontier_weight:
            p = self._normalized(self.fast)
            w = w * (4 * p * (1 - p)) ** c.frontier_weight
        if c.sps_gating and not np.isnan(self.step_time).all():
            t = np.where(np.isnan(self.step_time), np.nanmedian(self.step_time), self.step_time)
            w = w * (np.median(t) / t) ** c.sps_gating
        if c.max_sampling_tasks is not None and c.max_sampling_tasks < len(w):
            keep = np.argpartition(-lp, c.max_sampling_tasks - 1)[: c.max_sampling_tasks]
            capped = np.zeros_like(w)
            capped[keep] = w[keep]
            w = capped
        total = w.sum()
        return w / total if total > 0 else np.full(len(w), 1.0 / len(w))

    def _normalized(self, values: np.ndarray) -> np.ndarray:
        if not self.hi > self.lo:
            return np.zeros_like(values)
        return np.clip((values - self.lo) / (self.hi - self.lo), 0.0, 1.0)

    def _reweight(self, p: np.ndarray) -> np.ndarray:
        s = self.config.progress_smoothing
        return p * (1 - s) / (p + s * (1 - 2 * p))

    def state_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("fast", "slow", "count", "step_time", "lo", "hi")}

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)
