"""Learning curves: the threshold table read back from the tracker's metrics, the plot, bad runs,
and the arena_easy_shaped recipe end to end at toy scale."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from metta.analysis.learning_curves import main, read_run, table

ROOT = Path(__file__).resolve().parents[2]


def write_run(run_dir: Path, seed: int, crossed_at: float | None) -> None:
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(f"seed: {seed}\n")
    rows = []
    for epoch in range(1, 6):
        row = {"metric/epoch": epoch, "metric/agent_step": epoch * 1_000_000, "monitor/cost/hourly_total": 2.424}
        if epoch % 2:  # episodes ended on odd epochs only
            row["env_agent/heart.gained"] = 0.5 * epoch
        achieved = crossed_at is not None and epoch * 1e6 >= crossed_at
        prefix = "performance_threshold/heart_gained_2/"
        row.update({prefix + "metric": "env_agent/heart.gained", prefix + "target_value": 2.0,
                    prefix + "achieved": achieved, prefix + "final_smoothed_value": 0.4 * epoch,
                    prefix + "samples_to_threshold": crossed_at if achieved else None,
                    prefix + "minutes_to_threshold": 12.5 if achieved else None,
                    prefix + "cost_to_threshold": 0.505 if achieved else None})  # fmt: skip
        rows.append(row)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_table_reports_each_runs_crossing_or_its_smoothed_value(tmp_path):
    write_run(tmp_path / "a", seed=1, crossed_at=4_000_000)
    write_run(tmp_path / "b", seed=2, crossed_at=None)
    runs = [read_run(tmp_path / "a"), read_run(tmp_path / "b")]
    assert runs[0].seed == 1 and runs[0].agent_steps == 5_000_000
    lines = table(runs).splitlines()
    assert lines[2] == "| a | 1 | 5.0M | **4.00M** / 12.5 / $0.51 | $2.424/h |"
    assert lines[3] == "| b | 2 | 5.0M | not reached (smoothed 2.00) | $2.424/h |"


def test_cli_writes_the_plot_and_the_table_beside_it(tmp_path, capsys):
    write_run(tmp_path / "a", seed=1, crossed_at=4_000_000)
    main([str(tmp_path / "a"), "--out", str(tmp_path / "out" / "hearts.png")])
    assert (tmp_path / "out" / "hearts.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "**4.00M**" in (tmp_path / "out" / "hearts.md").read_text()
    assert "plot:" in capsys.readouterr().out


@pytest.mark.parametrize("content, message", [(None, "no metrics.jsonl"), ("", "empty"), ("{oops\n", "not JSON")])
def test_a_run_without_usable_metrics_is_named(tmp_path, capsys, content, message):
    run = tmp_path / "run"
    run.mkdir()
    if content is not None:
        (run / "metrics.jsonl").write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        main([str(run), "--out", str(tmp_path / "x.png")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and str(run) in err


@pytest.mark.slow
def test_arena_easy_shaped_recipe_trains_its_seeds_and_plots_them(tmp_path):
    toy = ["trainer.num_envs=2", "trainer.batch_size=768", "trainer.minibatch_size=256", "trainer.total_timesteps=3072",
           "trainer.evaluate_interval=0", "env.game.max_steps=12", "wandb=disabled"]  # fmt: skip
    out = tmp_path / "hearts.png"
    proc = subprocess.run(
        [sys.executable, "experiments/recipes/arena_easy_shaped.py", "--seeds", "0", "1", "--parallel",
         "--train-dir", str(tmp_path / "train_dir"), "--out", str(out), *toy],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for seed in (0, 1):
        run = read_run(tmp_path / "train_dir" / f"arena_easy_shaped.seed{seed}")
        assert run.seed == seed and run.agent_steps == 3072
        assert {t.name for t in run.thresholds} == {"heart_gained_2", "heart_gained_5"}
    assert out.exists() and "arena_easy_shaped.seed1 | 1 | 0.0M" in out.with_suffix(".md").read_text()
