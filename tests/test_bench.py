"""The benchmark entry point runs and prints one JSON line."""

import json
import subprocess
import sys


QUICK = ("--seconds", "0.2", "--runs", "1")


def bench(*args: str, quick=(*QUICK, "--envs", "2")) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "metta.bench", *args, *quick], check=True, capture_output=True, text=True
    ).stdout.strip().splitlines()
    assert len(out) == 1
    return json.loads(out[0])


def test_bench_env_prints_one_json_line():
    result = bench("env")
    assert result["bench"] == "env" and result["agents_per_env"] == 24
    assert result["agent_sps_median"] > 0


def test_bench_vecenv_measures_both_backends():
    result = bench("vecenv", "--workers", "2")
    assert result["workers"] == 2
    assert result["serial_sps_median"] > 0 and result["multiprocess_sps_median"] > 0


def test_bench_env_with_curriculum_reports_the_wrappers_share():
    result = bench("env", "--task", "arena_easy_shaped", "--curriculum")
    assert result["curriculum_env_sps_median"] > 0
    assert 0 <= result["curriculum_env_completion_time_pct"] < 100


TINY = ["trainer.num_envs=2", "trainer.batch_size=768", "trainer.minibatch_size=768"]


def run_bench(*args: str) -> dict:
    return bench(*args, quick=(*QUICK, "--train-seconds", "0.5"))


def test_bench_without_a_subcommand_breaks_one_configuration_down_layer_by_layer():
    result = run_bench(*TINY)
    assert result["bench"] == "breakdown" and result["overrides"] == TINY
    assert set(result["agent_sps"]) == {"env", "curriculum_env", "multiprocess", "train"}
    assert all(v > 0 for v in result["agent_sps"].values())
    assert result["workers"] == 1 and result["agents"] == 48
    assert {"env", "forward", "learn"} <= set(result["train_phase_share"])


def test_bench_compare_runs_the_second_configuration_and_prints_ratios():
    result = run_bench(*TINY, "--compare", "trainer.checkpoint_interval=1 trainer.rollout_workers=2")
    assert result["bench"] == "compare"
    assert result["b"]["overrides"] == [*TINY, "trainer.checkpoint_interval=1", "trainer.rollout_workers=2"]
    assert result["a"]["workers"] == 1 and result["b"]["workers"] == 2
    assert "checkpoint" in result["b"]["train_phase_share"]  # every epoch of b checkpoints
    for layer, ratio in result["ratio_b_vs_a"].items():
        assert ratio == round(result["b"]["agent_sps"][layer] / result["a"]["agent_sps"][layer], 3)


def test_bench_names_a_bad_override():
    proc = subprocess.run([sys.executable, "-m", "metta.bench", "trainer.minibatch_size=1000"],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2 and "minibatch_size (1000) must divide batch_size" in proc.stderr
