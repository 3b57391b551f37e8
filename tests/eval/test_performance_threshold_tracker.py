"""The tracker: smoothing from the first value, first crossings, NaN when unreached, names as spec 000."""

import logging
import math

import pytest
from pydantic import ValidationError

from metta.eval.aws_pricing import Price
from metta.eval.cost import CostMeter
from metta.eval.performance_threshold_tracker import PerformanceThresholdTracker

HEARTS = "env_agent/heart.gained"


def tracker(**threshold):
    t = {"name": "h2", "metric": HEARTS, "target_value": 2.0, "smoothing_factor": 0.5, **threshold}
    meter = CostMeter(Price("g5.4xlarge", False, "us-east-1", 2.0, "fallback"), num_nodes=3)  # $6/h
    return PerformanceThresholdTracker([t], meter)


def test_smoothing_starts_at_the_first_value_and_the_first_crossing_is_recorded():
    t = tracker()
    t.update({HEARTS: 1.0}, samples=100, elapsed_time=600)
    assert t.get_results()["h2"].final_smoothed_value == 1.0  # not 0.5: no lag from a zero start
    t.update({"overview/sps": 5.0}, samples=200, elapsed_time=1200)  # no episode this epoch: unchanged
    t.update({HEARTS: 2.5}, samples=300, elapsed_time=1800)  # 0.5 * 2.5 + 0.5 * 1.0 = 1.75
    assert not t.get_results()["h2"].achieved
    t.update({HEARTS: 3.0}, samples=400, elapsed_time=2400)  # 0.5 * 3 + 0.5 * 1.75 = 2.375
    r = t.get_results()["h2"]
    assert r.achieved and r.samples_to_threshold == 400 and r.minutes_to_threshold == 40
    assert r.cost_to_threshold == pytest.approx(6.0 * 2400 / 3600)
    t.update({HEARTS: 10.0}, samples=500, elapsed_time=3000)
    assert t.get_results()["h2"].samples_to_threshold == 400  # the first crossing stays


@pytest.mark.parametrize("comparison, values, reached", [
    ("<=", [5.0, 1.0], True), ("<", [2.0], False), (">", [2.0], False), (">=", [2.0], True),
])  # fmt: skip
def test_comparisons(comparison, values, reached):
    t = tracker(comparison=comparison, smoothing_factor=1.0)
    for i, v in enumerate(values):
        t.update({HEARTS: v}, samples=i, elapsed_time=i)
    assert t.get_results()["h2"].achieved is reached


def test_wandb_names_are_spec_000s_and_unreached_is_nan():
    t = tracker()
    t.update({HEARTS: 0.5}, samples=10, elapsed_time=3600)
    m = t.get_wandb_metrics()
    assert {k for k in m if k.startswith("performance_threshold/")} == {
        f"performance_threshold/h2/{field}"
        for field in ("metric", "target_value", "achieved", "final_smoothed_value", "samples_to_threshold",
                      "minutes_to_threshold", "cost_to_threshold")
    }  # fmt: skip
    assert m["performance_threshold/h2/metric"] == HEARTS and m["performance_threshold/h2/achieved"] is False
    assert all(
        math.isnan(m[f"performance_threshold/h2/{f}"])
        for f in ("samples_to_threshold", "minutes_to_threshold", "cost_to_threshold")
    )
    assert m["monitor/cost/hourly_total"] == 6.0 and m["monitor/cost/accrued_total"] == pytest.approx(6.0)


def test_state_round_trip_and_a_resume_priced_on_other_hardware():
    a = tracker()
    a.update({HEARTS: 1.0}, samples=10, elapsed_time=1800)  # $3 at $6/h
    b = PerformanceThresholdTracker(
        [t.model_dump() for t in a.thresholds], CostMeter(Price("p3.2xlarge", False, "us-east-1", 1.0, "api"), 1)
    )
    b.load_state_dict(a.state_dict())
    b.update({HEARTS: 1.0}, samples=20, elapsed_time=3600)  # the second half hour at $1/h
    assert b.calculate_total_cost() == pytest.approx(3.0 + 0.5)
    assert b.get_results()["h2"].final_smoothed_value == 1.0


def test_unknown_metric_warns_with_the_available_ones(caplog):
    t = tracker(metric="env_agent/hearts.gained")
    with caplog.at_level(logging.WARNING):
        t.check_metrics([HEARTS, "overview/reward"])
    assert "env_agent/hearts.gained" in caplog.text and "env_agent/heart.gained, overview/reward" in caplog.text


@pytest.mark.parametrize("bad, field", [
    ({"metric": None}, "metric"), ({"comparison": "!="}, "comparison"), ({"smoothing_factor": -0.1}, "smoothing_factor"),
])  # fmt: skip
def test_bad_thresholds_name_the_field(bad, field):
    with pytest.raises(ValidationError, match=field):
        tracker(**bad)
