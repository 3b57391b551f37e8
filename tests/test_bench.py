"""The benchmark entry point runs and prints one JSON line."""

import json
import subprocess
import sys


def bench(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "metta.bench", *args, "--seconds", "0.2", "--runs", "1", "--envs", "2"],
        check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()  # fmt: skip
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
