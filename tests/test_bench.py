"""The benchmark entry point runs and prints one JSON line."""

import json
import subprocess
import sys


def test_bench_env_prints_one_json_line():
    out = subprocess.run(
        [sys.executable, "-m", "metta.bench", "env", "--seconds", "0.2", "--runs", "1", "--envs", "2"],
        check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()  # fmt: skip
    assert len(out) == 1
    result = json.loads(out[0])
    assert result["bench"] == "env" and result["agents_per_env"] == 24
    assert result["agent_sps_median"] > 0
