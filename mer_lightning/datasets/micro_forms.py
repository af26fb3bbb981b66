"""Micro-expressions made from macro-expression sequences: each clip in its general form and in a micro form.

Choi, Kim & Song test a model trained on general (macro) expressions on micro-expressions synthesized from the same
sequences: the first three frames of each CK+ sequence (neutral, then the first faint motion), made into nine by
frame interpolation. `MicroForms` gives both forms as clips: the clip as recorded, and its micro form, the same
clip (same subject, frames and landmarks) whose expression ends `frames` frames after its onset, in a dataset of its
own (`<dataset>_micro`), so that protocols can keep it out of training (`protocol.eval_only`) and summaries score
each form apart and both together. Stretching the short span to a sequence is the preprocessing's work
(`LoadFrames` with `sampling: flow`).
"""

from __future__ import annotations

import dataclasses

from mer_lightning.clip import Clip
from mer_lightning.datasets.base import ClipDataset, DataError, DatasetWrapper, Skipped, check_unique, skipping


class MicroForms(DatasetWrapper):
    """Every clip of `dataset` (its general form), then each one's micro form: onset, apex and offset at its onset,
    its last frame and its `frames`-th frame from the onset, in dataset `<clip's dataset><suffix>`."""

    def __init__(self, dataset: ClipDataset, frames: int = 3, suffix: str = "_micro") -> None:
        super().__init__(dataset)
        if frames < 2:
            raise ValueError(f"dataset.frames must be >= 2 (a micro form is a motion), got {frames}")
        if not suffix:
            raise ValueError("dataset.suffix must name the micro forms' dataset apart from the general forms'")
        self.frames = frames
        self.suffix = suffix

    def clips(self, skipped: Skipped | None = None) -> list[Clip]:
        general = self.read(skipped)
        micro = []
        for clip in general:
            with skipping(skipped, f"{clip.uid} ({self.suffix[1:] or 'micro'} form)"):
                micro.append(self._micro(clip))
        clips = [*general, *micro]
        check_unique(clips)
        return clips

    def frame_rates(self) -> dict[str, float | None]:
        rates = self.dataset.frame_rates()
        return {**rates, **{f"{name}{self.suffix}": fps for name, fps in rates.items()}}

    def _micro(self, clip: Clip) -> Clip:
        end = clip.onset + self.frames - 1
        if end >= clip.num_frames:
            raise DataError(
                f"clip {clip.uid} has {clip.num_frames - clip.onset} frames from its onset; its micro "
                f"form takes {self.frames} (dataset.frames)"
            )
        return dataclasses.replace(clip, dataset=f"{clip.dataset}{self.suffix}", apex=end, offset=end)
