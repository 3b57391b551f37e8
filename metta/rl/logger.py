"""Where epoch metrics go: always `metrics.jsonl` in the run directory, and WandB.

The run directory's file is the record every analysis reads (DESIGN.md decision 6); WandB
(online, offline or disabled) is for looking at runs, never a dependency of the analysis.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any, Optional

from metta.common.files import write_text_atomically

STEP_KEY = "metric/agent_step"


class MetricsFile:
    """One JSON object per epoch, appended and flushed as it is logged."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def rewind(self, epoch: int) -> None:
        """Drop rows after `epoch`: a resumed run redoes those epochs from its checkpoint."""
        if not self.path.exists():
            return
        kept = [
            line for line in self.path.read_text().splitlines() if line and json.loads(line)["metric/epoch"] <= epoch
        ]
        write_text_atomically(self.path, "".join(line + "\n" for line in kept))

    def log(self, row: dict[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        with open(self.path, "a") as f:
            f.write(json.dumps(clean) + "\n")


class WandbLogger:
    """A real `wandb` run; `mode="offline"` writes it under the run directory for `wandb sync`."""

    def __init__(
        self,
        mode: str = "offline",
        project: str = "metta",
        entity: Optional[str] = None,
        group: Optional[str] = None,
        tags: Optional[list[str]] = None,
    ) -> None:
        if mode not in ("online", "offline", "disabled"):
            raise ValueError(f"wandb.mode must be online, offline or disabled, got {mode!r}")
        self.mode, self.project, self.entity, self.group = mode, project, entity, group
        self.tags = list(tags or [])
        self.run = None

    def start(self, run_name: str, run_dir: Path, config: dict[str, Any]) -> None:
        import wandb

        self.run = wandb.init(
            mode=self.mode,
            project=self.project,
            entity=self.entity,
            group=self.group,
            tags=self.tags,
            name=run_name,
            id=_run_id(run_name),
            dir=str(run_dir),
            config=config,
            resume="allow",
            settings=wandb.Settings(silent=True, console="off"),
        )
        self.run.define_metric("*", step_metric=STEP_KEY)

    def log(self, row: dict[str, Any]) -> None:
        if self.run is not None:
            self.run.log(row)

    def save(self, pattern: str, base_path: Path) -> None:
        """Keep files with the WandB run (synced with it when offline), e.g. the completion stream."""
        if self.run is not None:
            self.run.save(pattern, base_path=str(base_path), policy="now")

    def summary(self, values: dict[str, Any]) -> None:
        """Final values on the run's summary (what the WandB run table shows)."""
        if self.run is not None:
            self.run.summary.update(values)

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None


def _run_id(run_name: str) -> str:
    """A WandB id for the run directory's name: the same run resumes the same WandB run."""
    clean = re.sub(r"[^A-Za-z0-9_.=-]", "-", run_name)
    if len(clean) <= 64:
        return clean
    return f"{clean[:55]}-{hashlib.sha1(run_name.encode()).hexdigest()[:8]}"
