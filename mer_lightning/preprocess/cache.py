"""A disk cache of model inputs, one `.npz` per clip, safe under parallel sweeps, that never hands back wrong inputs.

The key covers the clip's source files (path, size, modification time: a regenerated set is a miss), the full
settings of every step and `FORMAT_VERSION`. Each entry also holds a record of what it is (`__entry__`: the settings
and clip it was made from, and a content hash of its arrays), checked on every read: an entry that cannot be read
(truncated, overwritten) or does not match its record (values changed, another clip's or setting's arrays) is a miss,
recomputed with a warning naming the clip and the file, never a crash or a silent use. Entries are written to a
temporary file and renamed into place, so a reader never sees half an entry and two jobs computing the same clip at
once both end with a whole one; they get the permissions of any file the user creates (group-readable under the usual
umask), so a shared cache serves a group. A cache folder that cannot be written to (read-only, another user's) still
serves the entries it has; what it lacks is computed in memory, with one warning.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mer_lightning.clip import Clip
from mer_lightning.preprocess.sample import PreprocessError

log = logging.getLogger(__name__)
FORMAT_VERSION = 2
# The entry's own record, stored beside the arrays (a JSON string: read without pickle).
RECORD = "__entry__"


def clip_fingerprint(clip: Clip) -> dict:
    """What a clip's entry is keyed by: its id, key frames and every source file's path, size and time."""
    files = [*clip.frames, *([clip.landmarks] if clip.landmarks else [])]
    stats = []
    for path in files:
        try:
            stat = Path(path).stat()
        except OSError as err:
            raise PreprocessError(f"clip {clip.uid}: cannot read {path}: {err.strerror or err}") from None
        stats.append((str(path), stat.st_size, stat.st_mtime_ns))
    return {"uid": clip.uid, "keys": (clip.onset, clip.apex, clip.offset), "files": stats}


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def content_digest(arrays: dict[str, np.ndarray]) -> str:
    """A hash of the arrays' names, dtypes, shapes and values."""
    sha = hashlib.sha256()
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        sha.update(f"{key}|{array.dtype.str}|{array.shape}|".encode())
        sha.update(array.data)
    return sha.hexdigest()


class InputCache:
    """`get_or_compute(clip, compute)` returns the clip's arrays, computing and storing them on a miss."""

    def __init__(self, root: str | Path, settings: dict) -> None:
        self.settings_key = digest({"settings": settings, "format": FORMAT_VERSION})
        self.root = Path(root) / self.settings_key[:16]
        self.read_only: str | None = None  # why entries cannot be written, once found

    def path(self, clip: Clip) -> Path:
        return self.root / f"{digest(clip_fingerprint(clip))[:32]}.npz"

    def get(self, clip: Clip) -> dict[str, np.ndarray] | None:
        """The clip's arrays if its entry exists, reads whole and matches its record; None (a miss) otherwise."""
        fingerprint = clip_fingerprint(clip)
        path = self.root / f"{digest(fingerprint)[:32]}.npz"
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                arrays = {key: stored[key] for key in stored.files}
        except Exception as error:  # noqa: BLE001 - whatever a damaged file raises, it is a miss
            log.warning(
                "cache entry %s of clip %s is unreadable (%s: %s): computing it again",
                path,
                clip.uid,
                type(error).__name__,
                error,
            )
            return None
        problem = self._mismatch(arrays.pop(RECORD, None), fingerprint, arrays)
        if problem:
            log.warning("cache entry %s of clip %s %s: computing it again", path, clip.uid, problem)
            return None
        return arrays

    def _mismatch(self, record: np.ndarray | None, fingerprint: dict, arrays: dict[str, np.ndarray]) -> str:
        """Why an entry's arrays are not the ones its record promises ("" when they are)."""
        if record is None:
            return "has no record of what it holds"
        try:
            made = json.loads(str(record))
        except ValueError:
            return "has an unreadable record"
        if made.get("settings") != self.settings_key:
            return "was made with other preprocessing settings"
        if made.get("clip") != json.loads(json.dumps(fingerprint)):
            return "was made from other source files"
        if made.get("content") != content_digest(arrays):
            return "holds values other than those it was written with (its content hash differs)"
        return ""

    def put(self, clip: Clip, arrays: dict[str, np.ndarray]) -> None:
        """Stores the clip's entry; on a cache folder that cannot be written to, warns once and keeps nothing."""
        if self.read_only is not None:
            return
        fingerprint = clip_fingerprint(clip)
        record = {"settings": self.settings_key, "clip": fingerprint, "content": content_digest(arrays)}
        path = self.root / f"{digest(fingerprint)[:32]}.npz"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        except OSError as error:
            self.read_only = f"{type(error).__name__}: {error.strerror or error}"
            log.warning(
                "the input cache %s cannot be written to (%s): inputs are computed in memory and not kept",
                self.root,
                self.read_only,
            )
            return
        try:
            with os.fdopen(handle, "wb") as file:
                np.savez(file, **arrays, **{RECORD: np.array(json.dumps(record, default=str))})
            os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; an entry is as readable as any file
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get_or_compute(self, clip: Clip, compute: Callable[[Clip], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        arrays = self.get(clip)
        if arrays is None:
            arrays = compute(clip)
            self.put(clip, arrays)
        return arrays


@functools.cache
def _umask() -> int:
    """The process's umask (read, not set and reset where the kernel tells it: setting it is not thread-safe)."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Umask:")), 8)
    except (OSError, StopIteration):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask
