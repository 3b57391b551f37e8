"""Checkpoints: atomic writes, the newest readable one on resume, the last few kept.

A checkpoint is one `torch.save`d dict (policy, optimizer, agent_step, epoch, RNG states and
the state of anything else attached to the run) written to a temporary file in the same
directory, flushed to disk and renamed over its final name, so a kill at any moment leaves
either the previous set or the new one, never a torn file.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Optional

import torch

from metta.common.files import write_atomically

log = logging.getLogger(__name__)

_NAME = re.compile(r"^checkpoint_(\d+)\.pt$")


class CheckpointStore:
    def __init__(self, directory: str | Path, keep: int = 3) -> None:
        self.directory = Path(directory)
        self.keep = keep

    def paths(self) -> list[Path]:
        """Existing checkpoints, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.directory.iterdir() if (m := _NAME.match(p.name))]
        return [p for _, p in sorted(found)]

    def save(self, state: dict[str, Any], epoch: int) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = write_atomically(self.directory / f"checkpoint_{epoch:07d}.pt", lambda f: torch.save(state, f))
        for old in self.paths()[: -self.keep]:
            old.unlink()
        return path

    def load_latest(self, map_location: str | torch.device = "cpu") -> Optional[tuple[dict[str, Any], Path]]:
        """The newest checkpoint that loads; a corrupt one is reported and skipped."""
        for path in reversed(self.paths()):
            try:
                return torch.load(path, map_location=map_location, weights_only=False), path
            except Exception as e:  # torn or overwritten files raise many kinds of errors
                log.warning("checkpoint %s is unreadable (%s: %s); trying the previous one", path, type(e).__name__, e)
        return None
