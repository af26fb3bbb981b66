"""The `Clip` record: one annotated expression sample, as every floor above sees it.

Readers turn a dataset's files into clips; the preprocessing turns clips into model inputs; protocols split clips
into folds. A clip knows where its frames are and what they were annotated with, never how they will be used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

KEY_FRAMES = ("onset", "apex", "offset")


class Repair(str):
    """A slip of a clip's annotation that its reader repaired: the sentence saying what it did (a `str`, so records
    and reports take it as it is), and `key`, the key frame it changed (`onset`, `apex` or `offset`), for the steps
    that treat repaired key frames differently."""

    key: str

    def __new__(cls, key: str, note: str) -> Repair:
        if key not in KEY_FRAMES:
            raise ValueError(f"a repair changes one of {KEY_FRAMES}, not {key!r}")
        repair = super().__new__(cls, note)
        repair.key = key
        return repair

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]  # pickles the key too
        return self.key, str(self)


@dataclass(frozen=True)
class Clip:
    """One expression sample.

    `subject` is unique across every dataset the clip can be combined with (`"casme2/sub01"`); `source_subject`
    is the name the dataset itself uses (`"sub01"`). Frame indices (`onset`, `apex`, `offset`) are positions in
    `frames` (0-based), not the dataset's frame numbers, which stay in `frame_numbers`. `landmarks` is the clip's
    landmark file (or folder), read by `read_landmarks` (the reader's parser of its release's format; by default a
    `.npy` array of (T, 68, 2) or (68, 2) points).
    """

    dataset: str
    subject: str
    clip_id: str
    frames: tuple[Path, ...]
    onset: int
    apex: int
    offset: int
    emotion: str
    label: int
    source_subject: str = ""
    action_units: str = ""
    frame_numbers: tuple[int, ...] = ()
    landmarks: Path | None = None
    repairs: tuple[Repair, ...] = field(default=())
    read_landmarks: Callable[[Path], np.ndarray] = np.load

    def __post_init__(self) -> None:
        if not self.frames:
            raise ValueError(f"clip {self.uid}: no frames")
        if not 0 <= self.onset <= self.apex <= self.offset < len(self.frames):
            raise ValueError(
                f"clip {self.uid}: key frames must satisfy 0 <= onset <= apex <= offset < {len(self.frames)}, "
                f"got onset={self.onset} apex={self.apex} offset={self.offset}"
            )

    @property
    def uid(self) -> str:
        """Identifier unique across datasets: `dataset/subject-as-named-by-the-dataset/clip`."""
        return f"{self.dataset}/{self.source_subject or self.subject}/{self.clip_id}"

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def repaired(self, key: str) -> bool:
        """Whether the reader repaired this key frame (`onset`, `apex` or `offset`)."""
        return any(repair.key == key for repair in self.repairs)
