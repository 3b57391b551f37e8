"""The warning for runs that get slower over time (spec 003): when, and which phase it names."""

import logging
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from metta.rl.stats import SlowdownWatch
from metta.train import build


def epoch(sps: float, env: float = 0.05, learn: float = 0.2, forward: float = 0.1) -> dict:
    return {"overview/sps": sps, "timing/env": env, "timing/learn": learn, "timing/forward": forward}


def test_warns_once_after_enough_slow_epochs_in_a_row_and_names_the_phase_that_grew():
    watch = SlowdownWatch(drop=0.2, patience=3, baseline_epochs=5)
    warmup = [watch.update(epoch(10.0, env=3.0)) for _ in range(2)]  # compile epochs: never the reference
    baseline = [watch.update(epoch(100.0 + i)) for i in range(5)]
    assert warmup == [None, None] and baseline == [None] * 5
    # single slow epochs (a checkpoint, episode resets) and mild dips are no slowdown
    assert [watch.update(epoch(s)) for s in (70, 70, 100, 85, 85, 85, 70, 100)] == [None] * 8
    slow = [watch.update(epoch(60.0, env=0.3)) for _ in range(6)]
    assert slow[:2] == [None, None] and slow[3:] == [None] * 3
    assert "timing/env grew most, 0.050 -> 0.300 s per epoch" in slow[2]
    assert "60 vs 102 agent steps/s" in slow[2] and "3 epochs" in slow[2]
    assert "look outside the run" not in slow[2]  # only the env slowed
    assert watch.update(epoch(100.0)) is None  # recovered
    again = [watch.update(epoch(50.0, learn=0.9)) for _ in range(3)]
    assert again[2] is not None and "timing/learn grew most" in again[2]


def test_a_slowdown_of_every_phase_points_outside_the_run():
    """Another process on the cores (what happened to the proof runs when tests ran beside them)
    slows every phase alike; the warning says so instead of blaming the largest phase."""
    watch = SlowdownWatch(drop=0.2, patience=2, baseline_epochs=3)
    for _ in range(5):
        watch.update(epoch(100.0, env=0.05, learn=0.5))
    assert watch.update(epoch(60.0, env=0.08, learn=0.8, forward=0.16)) is None
    message = watch.update(epoch(60.0, env=0.08, learn=0.8, forward=0.16))
    assert "timing/learn grew most" in message
    assert "every main phase slowed (env, learn, forward: x1.6-x1.6), so look outside the run" in message


def test_zero_drop_turns_the_warning_off():
    watch = SlowdownWatch(drop=0.0, patience=1, baseline_epochs=1)
    assert [watch.update(epoch(s)) for s in (100, 100, 100, 1, 1, 1)] == [None] * 6


@pytest.mark.slow
def test_the_trainer_warns_when_its_env_slows_down(tmp_path, caplog):
    configs = Path(__file__).resolve().parents[2] / "configs"
    overrides = ["trainer.num_envs=1", "trainer.batch_size=192", "trainer.minibatch_size=192",  # 8 steps an epoch
                 "trainer.evaluate_interval=0", "trainer.sps_baseline_epochs=3", "trainer.sps_drop_epochs=2",
                 "wandb=disabled"]  # fmt: skip
    with initialize_config_dir(config_dir=str(configs), version_base=None):
        cfg = compose("train", overrides=overrides)
    trainer = build(cfg, tmp_path, "slow").trainer
    trainer.start()
    try:
        for _ in range(6):
            trainer.step()
        env_step = trainer.env.step

        def slow_step(actions):  # from here on each step takes 0.5 s longer: far beyond any machine's noise
            time.sleep(0.5)
            return env_step(actions)

        trainer.env.step = slow_step
        with caplog.at_level(logging.WARNING, logger="metta.rl.trainer"):
            for _ in range(3):
                trainer.step()
    finally:
        trainer.close()
    warnings = [r.getMessage() for r in caplog.records if "early median" in r.getMessage()]
    assert len(warnings) == 1 and "timing/env grew most" in warnings[0], warnings
