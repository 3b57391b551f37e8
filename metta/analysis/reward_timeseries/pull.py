"""`pull`: per-task completion streams -> `<out>/data/<task>/<seed>.parquet` + `metadata.json`.

Sources: run directories (their `completions/` stream, written by CurriculumEnv), or WandB
runs, whose `completions/` files the trainer saves with the run (downloaded whole, so no
history sampling is involved).  Samples are normalized by completion order: sample 0 is the
first completion of that task in that seed.  A task is its label (the env config's name and
bucket values), so tasks with the same rules pool across task ids.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np
import pandas as pd

from metta.cogworks.curriculum import read_completions

COLUMNS = ["sample_index", "reward", "agent_step", "sps", "task_scaled_performance", "task_id"]


class AnalysisInputError(ValueError):
    """Input the analysis cannot use; the message says which and why."""


@dataclass
class PullSummary:
    streams: int = 0
    samples: int = 0
    dropped_nan: int = 0
    runs: list[str] = field(default_factory=list)


def task_slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=,-]+", "_", label).strip("_") or "task"


def pull_local(run_dirs: Iterable[str | Path], out: str | Path) -> PullSummary:
    out = Path(out)
    summary = PullSummary()
    metadata: dict[str, Any] = {}
    seen: set[tuple[str, str]] = set()
    for run_dir in map(Path, run_dirs):
        try:
            table = read_completions(run_dir).to_pandas()
        except FileNotFoundError as e:
            raise AnalysisInputError(str(e)) from None
        if table.empty:
            raise AnalysisInputError(f"{run_dir}: the completion stream is empty")
        run_meta = _run_metadata(run_dir)
        summary.runs.append(str(run_dir))
        nan = table["episode_return"].isna()
        summary.dropped_nan += int(nan.sum())
        table = table[~nan]
        for (label, seed), stream in table.groupby(["task_label", "seed"], sort=True):
            slug = task_slug(label)
            seed_key = str(seed) if (slug, str(seed)) not in seen else f"{seed}-{run_dir.name}"
            seen.add((slug, seed_key))
            stream = stream.sort_values(["agent_step", "completion_index"], kind="stable")
            data = pd.DataFrame({
                "sample_index": np.arange(len(stream)),
                "reward": stream["episode_return"].to_numpy(float),
                "agent_step": stream["agent_step"].to_numpy(),
                "sps": stream["sps"].to_numpy(float),
                "task_scaled_performance": stream["task_scaled_performance"].to_numpy(float),
                "task_id": stream["task_id"].to_numpy(),
            })  # fmt: skip
            path = out / "data" / slug / f"{seed_key}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            data.to_parquet(path, index=False)
            task_id = str(int(stream["task_id"].iloc[0]))
            entry = metadata.setdefault(slug, {"task_label": label, "seeds": {}})
            entry["seeds"][seed_key] = {
                "run_dir": str(run_dir),
                "samples": len(data),
                "env_cfg": run_meta.get("tasks", {}).get(task_id, {}).get("env_cfg"),
                "code_version": run_meta.get("code_version", "unknown"),
                "timestamp": run_meta.get("written_at"),
            }
            summary.streams += 1
            summary.samples += len(data)
    if not summary.streams:
        raise AnalysisInputError("no completions to pull (every reward was NaN)")
    (out / "metadata.json").write_text(json.dumps({"pulled_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                                   "tasks": metadata}, indent=1))  # fmt: skip
    return summary


def pull_wandb(
    out: str | Path,
    project: str,
    entity: Optional[str] = None,
    tags: Optional[list[str]] = None,
    names: Optional[list[str]] = None,
    api: Any = None,
) -> PullSummary:
    """Runs chosen by project and tags or names; their saved `completions/` files, pulled as above."""
    if api is None:
        import wandb

        api = wandb.Api()
    filters: dict[str, Any] = {}
    if tags:
        filters["tags"] = {"$in": list(tags)}
    if names:
        filters["display_name"] = {"$in": list(names)}
    path = f"{entity}/{project}" if entity else project
    runs = list(api.runs(path, filters=filters))
    if not runs:
        raise AnalysisInputError(f"no WandB runs in {path} match {filters or 'the project'}")
    with tempfile.TemporaryDirectory() as tmp:
        run_dirs = []
        for run in runs:
            run_dir = Path(tmp) / run.name
            files = [f for f in run.files() if f.name.startswith("completions/")]
            if not files:
                raise AnalysisInputError(f"WandB run {run.name} has no completions/ files (was it trained by metta?)")
            for f in files:
                f.download(root=str(run_dir), replace=True)
            run_dirs.append(run_dir)
        return pull_local(run_dirs, out)


def load_samples(out: str | Path) -> pd.DataFrame:
    """Every pulled stream as one table with `task` and `seed` columns."""
    data = Path(out) / "data"
    paths = sorted(data.glob("*/*.parquet")) if data.is_dir() else []
    if not paths:
        raise AnalysisInputError(f"no pulled streams under {data}: run `pull` first")
    frames = []
    for p in paths:
        frame = pd.read_parquet(p)
        frame.insert(0, "seed", p.stem)
        frame.insert(0, "task", p.parent.name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _run_metadata(run_dir: Path) -> dict:
    path = run_dir / "completions" / "metadata.json"
    return json.loads(path.read_text()) if path.exists() else {}
