"""A disk cache of model inputs, one `.npz` per clip, safe under parallel sweeps.

The key covers the clip's source files (path, size, modification time: a regenerated set is a miss), the full
settings of every step and `FORMAT_VERSION`. Entries are written to a temporary file and renamed into place, so a
reader never sees half an entry and two jobs computing the same clip at once both end with a whole one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mer_lightning.clip import Clip

FORMAT_VERSION = 1


def clip_fingerprint(clip: Clip) -> dict:
    files = [*clip.frames, *([clip.landmarks] if clip.landmarks else [])]
    stats = []
    for path in files:
        stat = Path(path).stat()
        stats.append((str(path), stat.st_size, stat.st_mtime_ns))
    return {"uid": clip.uid, "keys": (clip.onset, clip.apex, clip.offset), "files": stats}


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


class InputCache:
    """`get_or_compute(clip, compute)` returns the clip's arrays, computing and storing them on a miss."""

    def __init__(self, root: str | Path, settings: dict) -> None:
        self.settings_key = digest({"settings": settings, "format": FORMAT_VERSION})
        self.root = Path(root) / self.settings_key[:16]

    def path(self, clip: Clip) -> Path:
        return self.root / f"{digest(clip_fingerprint(clip))[:32]}.npz"

    def get_or_compute(self, clip: Clip, compute: Callable[[Clip], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        path = self.path(clip)
        if path.exists():
            with np.load(path) as stored:
                return {key: stored[key] for key in stored.files}
        arrays = compute(clip)
        self.root.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                np.savez(file, **arrays)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return arrays
