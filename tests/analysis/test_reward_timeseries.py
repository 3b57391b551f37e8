"""Reward time-series analysis: metrics against hand-computed values, the CLI on real streams."""

import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metta.analysis.reward_timeseries.__main__ import main
from metta.analysis.reward_timeseries.metrics import MetricsConfig, stream_metrics, variance_ratios
from metta.analysis.reward_timeseries.pull import pull_local, pull_wandb
from metta.analysis.reward_timeseries.report import suggested_ema_rate
from metta.cogworks.curriculum import CompletionWriter


def stream(task, seed, rewards, sps=None):
    n = len(rewards)
    return pd.DataFrame({"task": task, "seed": seed, "sample_index": np.arange(n), "reward": np.asarray(rewards, float),
                         "sps": np.ones(n) if sps is None else sps})  # fmt: skip


def test_linear_stream_by_hand():
    m = stream_metrics(stream("a", "0", 2.0 * np.arange(30)))
    row = m.iloc[0]
    assert row.slope_mean == pytest.approx(2.0) and row.slope_p10 == pytest.approx(2.0)
    # every 10-sample window of 2i: std of 0, 2, ..., 18 with ddof 1 = 2 * sqrt(55 / 6)
    assert row.noise_mean == pytest.approx(2 * math.sqrt(55 / 6))
    ema = stream_metrics(stream("a", "0", 2.0 * np.arange(30)), MetricsConfig(slope_method="ema"))
    assert ema.iloc[0].slope_mean == pytest.approx(2.0)  # the differences are all 2


def test_windows_do_not_cross_streams_and_short_streams_are_nan():
    df = pd.concat([stream("a", "0", np.arange(30.0)), stream("a", "1", np.zeros(30)), stream("b", "0", np.ones(5))])
    m = stream_metrics(df).set_index(["task", "seed"])
    assert m.loc[("a", "0"), "slope_mean"] == pytest.approx(1.0)
    assert m.loc[("a", "1"), "slope_mean"] == 0.0 and m.loc[("a", "1"), "noise_mean"] == 0.0  # no leak from "a/0"
    assert math.isnan(m.loc[("b", "0"), "slope_mean"]) and math.isnan(m.loc[("b", "0"), "noise_mean"])


def test_noise_and_slope_of_a_noisy_trend():
    rng = np.random.default_rng(0)
    m = stream_metrics(stream("a", "0", 0.01 * np.arange(20_000) + rng.normal(0, 0.5, 20_000))).iloc[0]
    assert m.slope_mean == pytest.approx(0.01, abs=0.002)
    assert m.noise_mean == pytest.approx(0.5 * 0.9727, rel=0.02)  # E[s] = c4(10) * sigma


def test_variance_ratio_by_hand():
    per_stream = pd.DataFrame({"task": ["a", "a", "b", "b", "c"], "seed": ["0", "1", "0", "1", "0"],
                               "mean_reward": [1.0, 3.0, 5.0, 5.0, 9.0]})  # fmt: skip
    r = variance_ratios(per_stream).set_index("task")
    across = np.var([2.0, 5.0, 9.0])
    assert r.loc["a", "variance_ratio"] == pytest.approx(1.0 / across)
    assert r.loc["b", "variance_ratio"] == 0.0
    assert math.isnan(r.loc["c", "variance_ratio"]) and r.loc["c", "not_computable"] == "one seed: no seed variance"


def test_reward_sps_correlation():
    rewards = np.sin(np.arange(50.0))
    m = stream_metrics(stream("a", "0", rewards, sps=3 * rewards + 1)).iloc[0]
    assert m.reward_sps_corr == pytest.approx(1.0)


def test_suggested_ema_rate_follows_the_noise():
    # t = 0.1 * spread / noise; a = 2t^2 / (1 + t^2)
    assert suggested_ema_rate(noise=0.1, spread=1.0) == pytest.approx(1.0)
    assert suggested_ema_rate(noise=1.0, spread=1.0) == pytest.approx(2 * 0.01 / 1.01)
    assert math.isnan(suggested_ema_rate(noise=0.0, spread=0.0))


def write_run(run_dir: Path, seed: int, tasks: dict[str, np.ndarray]):
    """A run directory's completion stream, written by the trainer's own writer."""
    writer = CompletionWriter(run_dir, seed)
    for task_id, (label, rewards) in enumerate(tasks.items()):
        for i, r in enumerate(rewards):
            writer.add({"task_id": task_id, "task_label": label, "completion_index": i, "episode_return": float(r),
                        "task_scaled_performance": float("nan"), "agent_step": 1000 * i, "sps": 5e4})  # fmt: skip
    writer.flush()


def synthetic_runs(root: Path, noisy: float, calm: float) -> list[Path]:
    rng = np.random.default_rng(1)
    runs = []
    for seed in range(3):
        run = root / f"run{seed}"
        write_run(run, seed, {"arena/noisy": 0.002 * np.arange(200) + rng.normal(0, noisy, 200),
                              "arena/calm": 1.0 + rng.normal(0, calm, 200)})  # fmt: skip
        runs.append(run)
    return runs


def recommendations(out: Path) -> str:
    text = (out / "report.md").read_text()
    return text.split("## Recommendations")[1].split("## Per task")[0]


def test_all_writes_data_metrics_plots_and_a_report_that_follows_the_data(tmp_path, capsys):
    runs = synthetic_runs(tmp_path / "a", noisy=1.0, calm=0.1)
    out = tmp_path / "out"
    assert main(["all", "--runs", *map(str, runs), "--out", str(out)]) == 0
    assert "4/4" in capsys.readouterr().out  # the progress bar got to the end
    assert sorted(p.name for p in (out / "data" / "arena_noisy").iterdir()) == ["0.parquet", "1.parquet", "2.parquet"]
    data = pd.read_parquet(out / "data" / "arena_noisy" / "0.parquet")
    assert list(data.columns[:5]) == ["sample_index", "reward", "agent_step", "sps", "task_scaled_performance"]
    assert data["sample_index"].tolist() == list(range(200))
    for png in ("reward_vs_sample", "slope_vs_sample", "noise_by_task", "variance_ratios"):
        assert (out / "plots" / f"{png}.png").stat().st_size > 10_000
    first = recommendations(out)
    assert "Task `arena_noisy` is " in first and "as noisy as task `arena_calm`" in first
    ratio = float(first.split("`arena_noisy` is ")[1].split("x")[0])
    assert 8 < ratio < 12  # noise 1.0 vs 0.1

    runs = synthetic_runs(tmp_path / "b", noisy=0.2, calm=0.1)
    out_b = tmp_path / "out_b"
    assert main(["all", "--runs", *map(str, runs), "--out", str(out_b)]) == 0
    second = recommendations(out_b)
    assert second != first and 1.5 < float(second.split("`arena_noisy` is ")[1].split("x")[0]) < 2.5


def test_bad_input_is_explained_without_a_traceback(tmp_path):
    cmd = [sys.executable, "-m", "metta.analysis.reward_timeseries"]
    missing = subprocess.run([*cmd, "pull", "--runs", str(tmp_path / "nope"), "--out", str(tmp_path / "o")],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert missing.returncode == 2 and "no completions in" in missing.stderr and "Traceback" not in missing.stderr
    no_pull = subprocess.run(
        [*cmd, "metrics", "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120
    )
    assert no_pull.returncode == 2 and "run `pull` first" in no_pull.stderr


def test_nan_rewards_are_dropped_and_counted_single_seeds_and_short_streams_reported(tmp_path):
    write_run(tmp_path / "r", 0, {"arena/x": np.r_[np.ones(20), np.nan, np.nan], "arena/y": np.arange(40.0)})
    out = tmp_path / "out"
    assert main(["all", "--runs", str(tmp_path / "r"), "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "2 NaN rewards dropped" in report
    assert "one seed: no seed variance" in report
    assert "fewer samples than a window" in report and "`arena_x/0`" in report


class FakeFile:
    def __init__(self, path: Path, name: str):
        self.path, self.name = path, name

    def download(self, root: str, replace: bool):
        target = Path(root) / self.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.path, target)


class FakeRun:
    def __init__(self, run_dir: Path):
        self.name = run_dir.name
        self._dir = run_dir

    def files(self):
        return [FakeFile(p, f"completions/{p.name}") for p in (self._dir / "completions").iterdir()]


class FakeApi:
    """wandb.Api's surface that pull_wandb uses: runs(path, filters) -> runs with files()."""

    def __init__(self, runs):
        self._runs, self.asked = runs, []

    def runs(self, path, filters):
        self.asked.append((path, filters))
        return self._runs


def test_pull_from_wandb_downloads_the_saved_streams(tmp_path):
    runs = synthetic_runs(tmp_path, noisy=1.0, calm=0.1)
    api = FakeApi([FakeRun(r) for r in runs])
    summary = pull_wandb(tmp_path / "out", "metta", entity="team", tags=["lp"], api=api)
    assert api.asked == [("team/metta", {"tags": {"$in": ["lp"]}})]
    assert summary.streams == 6 and summary.samples == 1200
    local = pull_local(runs, tmp_path / "local")
    assert local.samples == summary.samples


def test_compare_puts_experiments_side_by_side(tmp_path):
    calm = synthetic_runs(tmp_path / "calm", noisy=0.2, calm=0.1)
    noisy = synthetic_runs(tmp_path / "noisy", noisy=2.0, calm=1.0)
    out = tmp_path / "cmp"
    assert main(["compare", "--experiment", f"calm={tmp_path / 'calm'}", "--experiment", f"noisy={noisy[0]}",
                 "--out", str(out)]) == 0  # fmt: skip
    table = pd.read_csv(out / "compare.csv").set_index("experiment")
    assert table.loc["calm", "runs"] == 3 and table.loc["noisy", "runs"] == 1 and len(calm) == 3
    assert table.loc["noisy", "reward_noise"] > 5 * table.loc["calm", "reward_noise"]
    assert table.loc["calm", "median_sps"] == 5e4
    assert (out / "compare.png").stat().st_size > 10_000


@pytest.mark.slow
def test_all_on_three_short_seeded_training_runs(tmp_path):
    extra = tmp_path / "configs" / "curriculum"
    extra.mkdir(parents=True)
    (extra / "two_tasks.yaml").write_text(  # two labels, each in every seed's pool of 8
        "_target_: metta.cogworks.curriculum.Curriculum\n"
        "task_generator:\n  _target_: metta.cogworks.curriculum.BucketedTaskGenerator\n  env: ${env}\n"
        "  buckets:\n    game.agent.rewards.inventory.ore_red: [0.1, 0.5]\n"
        "num_active_tasks: 8\nmin_presentations_for_eviction: null\nalgorithm: null\nseed: ${seed}\n"
    )
    train = [sys.executable, "-m", "metta.train", "-m", f"train_dir={tmp_path}", "run=lp", "seed=0,1,2",
             f"hydra.searchpath=[file://{tmp_path / 'configs'}]", "curriculum=two_tasks",
             "trainer.num_envs=2", "trainer.batch_size=768", "trainer.minibatch_size=256", "trainer.total_timesteps=6144",
             "trainer.checkpoint_interval=4", "trainer.evaluate_interval=0", "env.game.max_steps=8", "wandb=disabled"]  # fmt: skip
    proc = subprocess.run(train, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = [tmp_path / "lp" / str(job) for job in range(3)]
    out = tmp_path / "analysis"
    assert main(["all", "--runs", *map(str, runs), "--out", str(out), "--slope-window", "5", "--noise-window", "4"]) == 0
    tasks = sorted(p.name for p in (out / "data").iterdir())
    assert len(tasks) == 2 and all("ore_red=" in t for t in tasks)
    assert sorted(p.name for p in (out / "data" / tasks[0]).iterdir()) == ["0.parquet", "1.parquet", "2.parquet"]
    metrics = pd.read_csv(out / "metrics.csv")
    assert len(metrics) == 6 and metrics["noise_mean"].notna().all()
    ratios = pd.read_parquet(out / "variance_ratios.parquet")
    assert (ratios["seeds"] == 3).all()
    # computable, or (at this toy scale every return is 0) explained
    assert (ratios["variance_ratio"].notna() | (ratios["not_computable"] == "task means are all equal")).all()
    report = (out / "report.md").read_text()
    assert "## Recommendations" in report and "reward_vs_sample.png" in report
