"""The `Clip` record: one annotated expression sample, as every floor above sees it.

Readers turn a dataset's files into clips; the preprocessing turns clips into model inputs; protocols split clips
into folds. A clip knows where its frames are and what they were annotated with, never how they will be used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Clip:
    """One expression sample.

    `subject` is unique across every dataset the clip can be combined with (`"casme2/sub01"`); `source_subject`
    is the name the dataset itself uses (`"sub01"`). Frame indices (`onset`, `apex`, `offset`) are positions in
    `frames` (0-based), not the dataset's frame numbers, which stay in `frame_numbers`.
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
    repairs: tuple[str, ...] = field(default=())

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
