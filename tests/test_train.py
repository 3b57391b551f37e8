"""`python -m metta.train` end to end at toy scale: the real Hydra app in a subprocess."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

TOY = [
    "trainer.num_envs=2",
    "trainer.batch_size=768",  # 2 envs x 24 agents x 16 steps
    "trainer.minibatch_size=256",
    "trainer.total_timesteps=3072",  # 4 epochs
    "trainer.checkpoint_interval=1",
    "trainer.evaluate_interval=2",
    "trainer.eval_episodes=1",
    "trainer.progress_interval_s=0",
    "env.game.max_steps=12",  # an episode ends in every epoch
    "wandb=disabled",
]


def train(tmp_path: Path, *overrides: str, flags=(), check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "metta.train", *flags, f"train_dir={tmp_path / 'train_dir'}", *overrides]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_trains_and_leaves_a_run_directory(tmp_path):
    proc = train(tmp_path, "run=toy", *TOY, "trainer.total_timesteps=1536")
    run_dir = tmp_path / "train_dir" / "toy"
    assert "agent steps" in proc.stdout and "SPS" in proc.stdout and "ETA" in proc.stdout  # progress line
    assert "heart.gained" in proc.stdout
    assert (run_dir / "config.yaml").read_text().count("batch_size: 768") == 1  # the resolved config
    assert (run_dir / "train.log").read_text().count("agent steps") >= 2
    metrics = rows(run_dir)
    assert [r["metric/epoch"] for r in metrics] == [1, 2]
    assert [r["metric/agent_step"] for r in metrics] == [768, 1536]
    last = metrics[-1]
    for key in ("overview/sps", "losses/policy_loss", "losses/value_loss", "losses/entropy", "losses/approx_kl",
                "timing/env", "timing/forward", "timing/copy", "timing/learn", "timing/stats",
                "env_agent/heart.gained", "overview/reward", "eval/reward", "eval/heart.gained"):  # fmt: skip
        assert key in last, key
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "checkpoint_0000001.pt", "checkpoint_0000002.pt"
    ]  # fmt: skip
    assert "phase" in proc.stdout and "learn" in proc.stdout  # the profile at the end


def test_rerunning_the_same_run_resumes(tmp_path):
    train(tmp_path, "run=r", *TOY, "trainer.total_timesteps=1536")
    first = torch.load(tmp_path / "train_dir/r/checkpoints/checkpoint_0000002.pt", weights_only=False)
    proc = train(tmp_path, "run=r", *TOY)
    assert "resumed from" in proc.stdout and "epoch 2" in proc.stdout
    metrics = rows(tmp_path / "train_dir" / "r")
    assert [r["metric/epoch"] for r in metrics] == [1, 2, 3, 4]
    final = torch.load(tmp_path / "train_dir/r/checkpoints/checkpoint_0000004.pt", weights_only=False)
    assert final["agent_step"] == 3072
    assert not torch.equal(final["policy"]["actor.weight"], first["policy"]["actor.weight"])


def test_resuming_with_another_policy_config_fails_naming_the_checkpoint(tmp_path):
    train(tmp_path, "run=p", *TOY, "trainer.total_timesteps=768")
    proc = train(tmp_path, "run=p", *TOY, "policy.hidden_size=64", check=False)
    assert proc.returncode == 2
    assert "checkpoint_0000001.pt does not fit this policy/optimizer" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert [r["metric/epoch"] for r in rows(tmp_path / "train_dir" / "p")] == [1]  # nothing lost or added


def test_sigkill_loses_at_most_one_interval_and_a_corrupt_checkpoint_is_skipped(tmp_path):
    cmd = [sys.executable, "-m", "metta.train", f"train_dir={tmp_path / 'train_dir'}", "run=k", *TOY,
           "trainer.total_timesteps=10000000", "trainer.evaluate_interval=0"]  # fmt: skip
    ckpts = tmp_path / "train_dir" / "k" / "checkpoints"
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(list(ckpts.glob("checkpoint_*.pt"))) < 3 and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = sorted(ckpts.glob("checkpoint_*.pt"))
    latest_epoch = int(saved[-1].stem.split("_")[1])
    logged = rows(tmp_path / "train_dir" / "k")[-1]["metric/epoch"]
    assert logged - latest_epoch <= 1  # checkpoint_interval=1: at most one epoch lost

    saved[-1].write_bytes(b"not a checkpoint")
    proc = train(tmp_path, "run=k", *TOY, f"trainer.total_timesteps={(latest_epoch + 1) * 768}")
    assert "is unreadable" in proc.stdout + proc.stderr
    assert f"epoch {latest_epoch - 1}," in proc.stdout  # resumed from the previous checkpoint
    epochs = [r["metric/epoch"] for r in rows(tmp_path / "train_dir" / "k")]
    assert epochs == list(range(1, latest_epoch + 2))  # no duplicated or missing epochs


def test_sigterm_finishes_the_epoch_and_checkpoints_it(tmp_path):
    cmd = [sys.executable, "-m", "metta.train", f"train_dir={tmp_path / 'train_dir'}", "run=t", *TOY,
           "trainer.total_timesteps=10000000", "trainer.evaluate_interval=0", "trainer.checkpoint_interval=1000"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    metrics = tmp_path / "train_dir" / "t" / "metrics.jsonl"
    deadline = time.time() + 120
    while (not metrics.exists() or len(metrics.read_text().splitlines()) < 2) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "re-run with run=t to resume" in out
    (saved,) = (tmp_path / "train_dir" / "t" / "checkpoints").glob("*.pt")
    assert torch.load(saved, weights_only=False)["epoch"] == rows(tmp_path / "train_dir" / "t")[-1]["metric/epoch"]


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.optimizer.lr=-0.001", "trainer.optimizer: Invalid learning rate: -0.001"),
        ("trainer.minibatch_size=500", "minibatch_size (500) must divide batch_size (768)"),
        ("trainer.batch_size=1024", "trainer.batch_size (1024) must be a multiple of the agents"),
        ("trainer.vectorization=multiprocessing trainer.rollout_workers=3", "rollout_workers (3) must be <= trainer.num_envs (2)"),
        ("trainer.gamma=1.5", "trainer.gamma: Input should be less than or equal to 1 (got 1.5)"),
        ("+trainer.learning_rate=0.1", "trainer.learning_rate: Extra inputs are not permitted"),
        ("env.game.max_steps=0", "env.game.max_steps"),
        ("trainer.evaluate_interval=1 trainer.checkpoint_interval=5", "evaluate_interval (1) must be >= checkpoint_interval (5)"),
        ("+policy.cnn_width=3", "policy: ConvPolicy.__init__() got an unexpected keyword argument 'cnn_width'"),
        ("+performance_thresholds=arena performance_thresholds.thresholds.1.smoothing_factor=-1",
         "configs/performance_thresholds/arena.yaml: performance_thresholds.thresholds.1.smoothing_factor: Input should be greater than 0"),
        ("+performance_thresholds=arena performance_thresholds.aws.instance_type=g9.mega",
         "instance type 'g9.mega' has no price"),
    ],
)  # fmt: skip
def test_bad_values_fail_before_training_naming_the_field(tmp_path, override, message):
    proc = train(tmp_path, "run=bad", *TOY, *override.split(), check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert not (tmp_path / "train_dir" / "bad" / "checkpoints").exists()


def test_unknown_override_is_refused_by_hydra(tmp_path):
    proc = train(tmp_path, "run=bad", *TOY, "trainer.learnin_rate=0.1", check=False)
    assert proc.returncode != 0 and "learnin_rate" in proc.stderr


def test_cfg_job_prints_the_composed_config(tmp_path):
    proc = train(tmp_path, "trainer.gamma=0.9", flags=["--cfg", "job"])
    assert "gamma: 0.9" in proc.stdout and "basic_easy_shaped" in proc.stdout
    assert not (tmp_path / "train_dir").exists()


def test_multirun_gives_each_job_its_own_run_directory(tmp_path):
    proc = train(tmp_path, "run=sweep", "seed=1,2", *TOY, "trainer.total_timesteps=768", flags=["-m"])
    sweep = tmp_path / "train_dir" / "sweep"
    assert sorted(p.name for p in sweep.iterdir() if (p / "metrics.jsonl").exists()) == ["0", "1"], proc.stdout
    assert "seed: 2" in (sweep / "1" / "config.yaml").read_text()
    a, b = (rows(sweep / r)[-1]["losses/value_loss"] for r in ("0", "1"))
    assert a != b  # different seeds, different runs


def test_lstm_policy_multiprocess_rollout_and_wandb_offline(tmp_path):
    train(tmp_path, "run=lstm", *TOY, "policy=conv_lstm", "trainer.bptt_horizon=8", "trainer.vectorization=multiprocessing",
          "trainer.rollout_workers=2", "trainer.total_timesteps=1536", "wandb=offline")  # fmt: skip
    run_dir = tmp_path / "train_dir" / "lstm"
    assert [r["metric/epoch"] for r in rows(run_dir)] == [1, 2]
    assert list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))


def test_non_finite_loss_stops_the_run_and_keeps_the_good_checkpoint(tmp_path):
    train(tmp_path, "run=nan", *TOY, "trainer.total_timesteps=1536")
    # resumed with an absurd learning rate (the config's hyperparameters win over the checkpoint's)
    proc = train(tmp_path, "run=nan", *TOY, "trainer.optimizer.lr=1e30", "trainer.max_grad_norm=1e30", check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "non-finite loss or gradient at epoch 2" in proc.stderr and "checkpoint_0000002.pt" in proc.stderr
    saved = sorted((tmp_path / "train_dir/nan/checkpoints").glob("*.pt"))
    assert [p.name for p in saved] == ["checkpoint_0000001.pt", "checkpoint_0000002.pt"]
    for path in saved:
        state = torch.load(path, weights_only=False)
        assert all(torch.isfinite(v).all() for v in state["policy"].values())


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tmp_path):
    """DistributedDataParallel over gloo: steps counted over both ranks, rank 0 writes, ranks agree."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "metta.train", f"train_dir={tmp_path / 'train_dir'}", "run=ddp", *TOY,
           "trainer.total_timesteps=3072"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    metrics = rows(tmp_path / "train_dir" / "ddp")
    assert [r["metric/agent_step"] for r in metrics] == [1536, 3072]  # 768 per rank per epoch
    assert len({r["metric/epoch"] for r in metrics}) == len(metrics)  # one writer
    final = torch.load(tmp_path / "train_dir/ddp/checkpoints/checkpoint_0000002.pt", weights_only=False)
    assert final["agent_step"] == 3072


def test_learning_progress_curriculum_trains_resumes_and_streams_completions(tmp_path):
    run = ["run=lp", *TOY, "curriculum=learning_progress", "curriculum.num_active_tasks=4",
           "curriculum.min_presentations_for_eviction=1"]  # fmt: skip
    train(tmp_path, *run, "trainer.total_timesteps=1536")
    run_dir = tmp_path / "train_dir" / "lp"
    first = rows(run_dir)
    assert first[-1]["curriculum/pool_size"] == 4 and "curriculum/sampling_gini" in first[-1]
    saved = torch.load(run_dir / "checkpoints" / "checkpoint_0000002.pt", weights_only=False)
    state = saved["curriculum_env"]["curriculum"]
    assert state["algorithm"]["count"].sum() > 0  # the learning-progress state is checkpointed

    proc = train(tmp_path, *run)
    assert "resumed from" in proc.stdout
    metrics = rows(run_dir)
    assert [r["metric/epoch"] for r in metrics] == [1, 2, 3, 4]
    evictions = [r["curriculum/evictions"] for r in metrics]
    assert evictions == sorted(evictions) and evictions[2] >= evictions[1]  # restored, not restarted
    from metta.cogworks.curriculum import read_completions

    completions = read_completions(run_dir).to_pylist()
    assert len(completions) == 2 * 4  # each 32-step run: 2 envs x 2 episodes of 12 steps
    assert max(r["agent_step"] for r in completions) <= 3072
    assert all(0 <= r["task_scaled_performance"] <= 1 for r in completions)


def test_thresholds_are_fed_by_the_trainers_stats_priced_and_resumed(tmp_path):
    run = ["run=thr", *TOY, "+performance_thresholds=arena", "wandb=offline",
           "performance_thresholds.thresholds.0.target_value=0.0"]  # fmt: skip
    proc = train(tmp_path, *run, "trainer.total_timesteps=1536")
    assert "source: fallback" in proc.stdout
    run_dir = tmp_path / "train_dir" / "thr"
    first = rows(run_dir)
    reached = first[0]  # an episode ends every epoch: the trainer's env_agent/heart.gained reached the tracker
    assert reached["performance_threshold/heart_gained_2/achieved"] is True
    assert reached["performance_threshold/heart_gained_2/samples_to_threshold"] == 768
    assert reached["performance_threshold/heart_gained_2/metric"] == "env_agent/heart.gained"
    assert reached["performance_threshold/heart_gained_5/samples_to_threshold"] is None  # NaN, unreached
    assert first[-1]["monitor/cost/hourly_total"] == 2.424
    wandb_records = next((run_dir / "wandb").glob("offline-run-*/run-*.wandb")).read_bytes()
    assert b"performance_threshold/heart_gained_2/samples_to_threshold" in wandb_records
    assert json.loads((run_dir / "performance_thresholds.json").read_text())["performance_threshold/heart_gained_2/achieved"]

    train(tmp_path, *run)  # resumed: the crossing and the accrued cost carry over
    metrics = rows(run_dir)
    assert [r["performance_threshold/heart_gained_2/samples_to_threshold"] for r in metrics] == [768] * 4
    costs = [r["monitor/cost/accrued_total"] for r in metrics]
    assert costs == sorted(costs) and costs[2] >= costs[1] > 0
