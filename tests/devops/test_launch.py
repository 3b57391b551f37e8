"""The SkyPilot launcher's dry run and the arena recipe, run as a user would."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "arena_with_performance_tracking.sh"
LAUNCH = ROOT / "devops" / "skypilot" / "launch.py"


def recipe(*args, run="rec", timeout=300):
    env = {**os.environ, "PYTHON": sys.executable, "RUN": run}
    return subprocess.run([str(RECIPE), *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_dry_run_builds_the_multi_node_task_without_skypilot():
    out = recipe("--sky", "--nodes", "2", "--gpus", "4", "--no-spot", "--dry-run", "trainer.total_timesteps=1000")
    assert out.returncode == 0, out.stderr
    task = yaml.safe_load(out.stdout)
    assert task["num_nodes"] == 2 and task["resources"]["accelerators"] == "A10G:4"
    assert task["resources"]["use_spot"] is False
    assert task["envs"]["METTA_RUN"] == "rec"
    assert task["envs"]["METTA_OVERRIDES"] == "+performance_thresholds=arena trainer.total_timesteps=1000"
    assert "torchrun" in task["run"] and "--nnodes" in task["run"]


def test_launch_refuses_a_missing_run_name_and_unknown_options():
    for args in (["train", "--dry-run"], ["train", "run=x", "--nodez", "2", "--dry-run"]):
        out = subprocess.run([sys.executable, str(LAUNCH), *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert "run=NAME" in out.stderr or "--nodez" in out.stderr


def test_recipe_trains_here_with_thresholds(tmp_path):
    out = recipe(f"train_dir={tmp_path}", "trainer.num_envs=2", "trainer.batch_size=768", "trainer.minibatch_size=256",
                 "trainer.total_timesteps=768", "env.game.max_steps=12", "wandb=disabled")  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    results = json.loads((tmp_path / "rec" / "performance_thresholds.json").read_text())
    assert results["performance_threshold/heart_gained_2/target_value"] == 2.0
    assert results["monitor/cost/hourly_total"] == 2.424
