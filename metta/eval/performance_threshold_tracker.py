"""Performance thresholds: when a smoothed metric first reaches its target, and at what cost.

Each threshold smooths its metric with an exponential moving average,

    s <- a * x + (1 - a) * s        a = smoothing_factor

starting from the first value seen (s = x), not from 0: started at 0, `s` would lag the
metric by ~1/a updates (about 20 epochs with episodes at a = 0.1) and report thresholds
late.  The first update at which `s` compares true against `target_value` records the agent
steps, the minutes of training and the dollars spent so far; thresholds never reached
report NaN for those three.  The metric is only read on epochs that have it (episode
statistics appear on epochs in which an episode ended).

The dollars come from a `CostMeter`: the hourly price of the instance x nodes, integrated
over training time, so a run resumed on other hardware is priced with each machine's rate.
"""

from __future__ import annotations

import logging
import math
import operator
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from metta.eval.aws_pricing import AWSPricingClient
from metta.eval.cost import CostMeter
from metta.eval.instance_info import SkyPilotInstanceInfo

log = logging.getLogger(__name__)

_COMPARE = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


class PerformanceThreshold(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="the key in performance_threshold/<name>/...")
    metric: str = Field(min_length=1, description="a metric the trainer logs, e.g. env_agent/heart.gained")
    target_value: float = Field(description="the value the smoothed metric must reach")
    comparison: Literal[">=", "<=", ">", "<"] = Field(">=", description="how the smoothed value meets the target")
    smoothing_factor: float = Field(0.1, gt=0, le=1, description="EMA weight of the newest value")


class _Thresholds(BaseModel):  # validates the list so errors read thresholds.<i>.<field>
    thresholds: list[PerformanceThreshold]


@dataclass
class ThresholdResult:
    achieved: bool = False
    samples_to_threshold: float = math.nan
    minutes_to_threshold: float = math.nan
    cost_to_threshold: float = math.nan
    final_smoothed_value: float = math.nan


class PerformanceThresholdTracker:
    def __init__(self, thresholds: list[PerformanceThreshold | dict], cost: Optional[CostMeter] = None) -> None:
        self.thresholds = _Thresholds(thresholds=thresholds).thresholds
        names = [t.name for t in self.thresholds]
        if len(set(names)) != len(names):
            raise ValueError(f"threshold names must be unique, got {names}")
        self.cost = cost
        self.results = {t.name: ThresholdResult() for t in self.thresholds}

    def check_metrics(self, available: Iterable[str]) -> None:
        """Warn, at start-up, about thresholds whose metric the trainer never logs."""
        known = sorted(set(available))
        for t in self.thresholds:
            if t.metric not in known:
                log.warning("threshold %s watches %r, which the trainer does not log; available: %s",
                            t.name, t.metric, ", ".join(known))  # fmt: skip

    def update(self, metrics: dict[str, Any], samples: int, elapsed_time: float) -> None:
        """One epoch: `samples` agent steps so far, `elapsed_time` seconds of training so far."""
        if self.cost is not None:
            self.cost.advance(elapsed_time)
        for t in self.thresholds:
            value = metrics.get(t.metric)
            if value is None or not math.isfinite(value):
                continue
            result = self.results[t.name]
            previous = result.final_smoothed_value
            smoothed = (
                value if math.isnan(previous) else t.smoothing_factor * value + (1 - t.smoothing_factor) * previous
            )
            result.final_smoothed_value = smoothed
            if not result.achieved and _COMPARE[t.comparison](smoothed, t.target_value):
                result.achieved = True
                result.samples_to_threshold = float(samples)
                result.minutes_to_threshold = elapsed_time / 60
                result.cost_to_threshold = self.calculate_total_cost()
                log.info("threshold %s reached: %s %s %g after %d agent steps, %.1f min, $%.2f", t.name, t.metric,
                         t.comparison, t.target_value, samples, result.minutes_to_threshold, result.cost_to_threshold)  # fmt: skip

    def calculate_total_cost(self) -> float:
        return self.cost.accrued if self.cost is not None else math.nan

    def get_results(self) -> dict[str, ThresholdResult]:
        return {name: ThresholdResult(**asdict(result)) for name, result in self.results.items()}

    def get_wandb_metrics(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for t in self.thresholds:
            r = self.results[t.name]
            prefix = f"performance_threshold/{t.name}"
            out[f"{prefix}/metric"] = t.metric
            out[f"{prefix}/target_value"] = t.target_value
            out[f"{prefix}/achieved"] = r.achieved
            out[f"{prefix}/final_smoothed_value"] = r.final_smoothed_value
            out[f"{prefix}/samples_to_threshold"] = r.samples_to_threshold
            out[f"{prefix}/minutes_to_threshold"] = r.minutes_to_threshold
            out[f"{prefix}/cost_to_threshold"] = r.cost_to_threshold
        if self.cost is not None:
            out.update(self.cost.metrics())
        return out

    def state_dict(self) -> dict:
        state: dict[str, Any] = {"results": {name: asdict(r) for name, r in self.results.items()}}
        if self.cost is not None:
            state["cost"] = self.cost.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        for name, result in state["results"].items():
            if name in self.results:  # a threshold added since keeps its fresh result
                self.results[name] = ThresholdResult(**result)
        if self.cost is not None and "cost" in state:
            self.cost.load_state_dict(state["cost"])


def build_tracker(
    thresholds: list[dict], aws: dict, pricing: AWSPricingClient, machine: dict
) -> PerformanceThresholdTracker:
    """The tracker of a `configs/performance_thresholds/*.yaml` file: its thresholds, priced for
    the machine SkyPilotInstanceInfo finds (`aws`: the file's fallback instance; `machine`: the
    `aws` config group)."""
    info = SkyPilotInstanceInfo.detect(
        instance_type=aws["instance_type"],
        use_spot=aws.get("use_spot", False),
        region=machine["region"],
        task_yaml=machine.get("skypilot_task_yaml"),
        metadata=machine.get("metadata", "auto"),
        metadata_endpoint=machine["metadata_endpoint"],
    )
    price = pricing.price(info.instance_type, info.use_spot, info.region)
    log.info("pricing %s x %d node(s), instance from %s", price.describe(), info.num_nodes, info.source)
    return PerformanceThresholdTracker(thresholds, CostMeter(price, info.num_nodes))
