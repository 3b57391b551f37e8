"""The run's per-task completion stream: `<run_dir>/completions/part-NNNNN.parquet` + `metadata.json`.

One row per finished (scored) episode: task_id, task_label, seed, completion_index (0 for a
task's first completion), episode_return, task_scaled_performance (NaN without a target),
agent_step, sps.  Rows are buffered and written as a new part at each checkpoint, so the
files on disk always match the newest checkpoint; a resumed run first drops parts written
after it.  This stream is what the reward time-series analysis reads.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any, Optional

import pyarrow as pa
import pyarrow.parquet as pq

from metta.common.files import write_atomically, write_text_atomically

SCHEMA = pa.schema(
    [
        ("task_id", pa.int64()),
        ("task_label", pa.string()),
        ("seed", pa.int64()),
        ("completion_index", pa.int64()),
        ("episode_return", pa.float64()),
        ("task_scaled_performance", pa.float64()),
        ("agent_step", pa.int64()),
        ("sps", pa.float64()),
    ]
)
_PART = re.compile(r"^part-(\d+)\.parquet$")


class CompletionWriter:
    def __init__(self, run_dir: str | Path, seed: int) -> None:
        self.directory = Path(run_dir) / "completions"
        self.seed = seed
        self.rows: list[dict[str, Any]] = []
        self.tasks: dict[int, dict[str, Any]] = {}  # task_id -> label and env config, for metadata.json
        self.parts_written = 0

    def add(self, row: dict[str, Any], env_cfg_dump: Optional[dict] = None) -> None:
        self.rows.append({**row, "seed": self.seed})
        if row["task_id"] not in self.tasks:
            self.tasks[row["task_id"]] = {"label": row["task_label"], "env_cfg": env_cfg_dump}

    def flush(self) -> None:
        """Write buffered rows as the next part, and the metadata."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.rows:
            table = pa.Table.from_pylist(self.rows, schema=SCHEMA)
            part = self.directory / f"part-{self.parts_written:05d}.parquet"
            write_atomically(part, lambda f: pq.write_table(table, f))
            self.parts_written += 1
            self.rows = []
        metadata = {
            "seed": self.seed,
            "code_version": _code_version(),
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "tasks": {str(task_id): info for task_id, info in self.tasks.items()},
        }
        write_text_atomically(self.directory / "metadata.json", json.dumps(metadata, indent=1))

    def state_dict(self) -> dict:
        return {"parts_written": self.parts_written, "tasks": self.tasks}

    def load_state_dict(self, state: dict) -> None:
        """Resume: parts after the checkpoint's are stale (their epochs will be redone)."""
        self.parts_written = state["parts_written"]
        self.tasks = dict(state["tasks"])
        self.rows = []
        if self.directory.is_dir():
            for path in self.directory.iterdir():
                m = _PART.match(path.name)
                if m and int(m.group(1)) >= self.parts_written:
                    path.unlink()


def read_completions(run_dir: str | Path) -> pa.Table:
    """Every completion of a run, in order."""
    directory = Path(run_dir) / "completions"
    parts = sorted(p for p in directory.glob("part-*.parquet")) if directory.is_dir() else []
    if not parts:
        raise FileNotFoundError(f"no completions in {directory} (did the run reach its first checkpoint?)")
    return pa.concat_tables(pq.read_table(p, schema=SCHEMA) for p in parts)


def _code_version() -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
