"""A neutral class from macro-expression sequences that start from a neutral face (CK+'s do: neutral to peak).

Nistor & Czibula's expression-recognition stage learns what an expressionless face looks like from CK+: "neutral"
samples are the first frames of each sequence, expressive ones its last frames. `NeutralOnsets` wraps any reader
whose clips start neutral and gives both, as clips.
"""

from __future__ import annotations

import dataclasses

from mer_lightning.clip import Clip
from mer_lightning.datasets.base import ClipDataset, DatasetWrapper, Skipped

NEUTRAL = "neutral"


class NeutralOnsets(DatasetWrapper):
    """Another dataset's clips, each cut to its last `frames` frames (the peak, which becomes onset, apex and
    offset of a one-frame clip when `frames` is 1), plus for each a "neutral" clip of its first `frames` frames
    (`<clip>_neutral`, same subject). The dataset's class scheme labels "neutral"; a scheme that drops it (CK+'s
    own `ckplus_7`) gives no neutral clips."""

    def __init__(self, dataset: ClipDataset, frames: int = 1) -> None:
        super().__init__(dataset)
        if frames < 1:
            raise ValueError(f"dataset.frames must be >= 1, got {frames}")
        self.frames = frames

    def clips(self, skipped: Skipped | None = None) -> list[Clip]:
        try:
            neutral = self.label(NEUTRAL)
        except KeyError as err:
            raise ValueError(
                f"dataset {self.name!r}: {err.args[0]}; a neutral class needs a scheme that names it "
                "(macro4), or maps it to null"
            ) from None
        clips = []
        for clip in self.read(skipped):
            count = min(self.frames, clip.num_frames)
            clips.append(_span(clip, clip.num_frames - count, clip.num_frames, clip.clip_id, clip.emotion, clip.label))
            if neutral is not None:
                clips.append(_span(clip, 0, count, f"{clip.clip_id}_{NEUTRAL}", NEUTRAL, neutral))
        return clips


def _span(clip: Clip, start: int, stop: int, clip_id: str, emotion: str, label: int) -> Clip:
    """Frames `start..stop-1` of a clip as a clip of its own: onset at its first frame, apex and offset at its last."""
    last = stop - start - 1
    return dataclasses.replace(
        clip,
        clip_id=clip_id,
        frames=clip.frames[start:stop],
        frame_numbers=clip.frame_numbers[start:stop] if clip.frame_numbers else (),
        onset=0,
        apex=last,
        offset=last,
        emotion=emotion,
        label=label,
        action_units="" if emotion == NEUTRAL else clip.action_units,
        landmarks=clip.landmarks if start == 0 else None,  # a reader's landmark file belongs to the first frame
    )
