"""Files that are either the old version or the new one, never a torn write."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Callable


def write_atomically(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """`write(file)` into a temporary file beside `path`, flushed to disk, then renamed over
    `path`: a kill at any moment leaves the previous file or the new one."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def write_text_atomically(path: str | Path, text: str) -> Path:
    return write_atomically(path, lambda f: f.write(text.encode()))
