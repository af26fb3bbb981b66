"""CK+ (Lucey et al. 2010), the posed macro-expression set used for pre-training.

`cohn-kanade-images/S{NNN}/{NNN}/S{NNN}_{NNN}_{frame:08d}.png`, one sequence per folder, going from neutral (the
first frame) to the peak (the last). Only sequences with an `Emotion/S{NNN}/{NNN}/*_emotion.txt` file (one code,
0-7) carry a label; the others (about 260 of 593 in the release) are left out by design. `Landmarks/...` holds
68 points per frame, one `*_landmarks.txt` file of "x y" lines per image: a clip points at its sequence's landmark
folder and reads them with `read_ckplus_landmarks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from mer_lightning.clip import Clip
from mer_lightning.datasets.base import ClipDataset, DataError, ReadReport, Skipped, check_unique, skipping
from mer_lightning.datasets.frames import clip_span, frame_pattern, key_frames, list_frames
from mer_lightning.datasets.schemes import ClassScheme

NUM_LANDMARKS = 68


def read_ckplus_landmarks(folder: Path) -> np.ndarray:
    """(T, 68, 2) float32 points of a CK+ sequence: its folder's `*_landmarks.txt` files in frame order, each 68
    lines of "x y" in scientific notation."""
    files = sorted(Path(folder).glob("*_landmarks.txt"))
    if not files:
        raise ValueError(f"{folder}: no *_landmarks.txt files")
    points = []
    for path in files:
        frame = np.loadtxt(path, dtype=np.float64, ndmin=2)
        if frame.shape != (NUM_LANDMARKS, 2):
            raise ValueError(f"{path}: expected 68 lines of 'x y', got an array of shape {frame.shape}")
        points.append(frame)
    return np.stack(points).astype(np.float32)


class CkPlusDataset(ClipDataset):
    """Labelled CK+ sequences: onset = the first (neutral) frame, apex = offset = the last (peak) frame.

    `images`, `emotions` and `landmarks` are folders under the root, each holding `S{NNN}/{NNN}/`; `emotion_codes`
    maps the codes of the emotion files to emotion words.
    """

    def __init__(
        self,
        name: str,
        root: str | Path,
        classes: str | Mapping | ClassScheme,
        images: str,
        emotions: str,
        emotion_codes: Mapping[int, str],
        frame_regex: str,
        landmarks: str | None = None,
        fps: float | None = None,
    ) -> None:
        super().__init__(name, classes, fps)
        self.root = Path(root)
        self.images = images
        self.emotions = emotions
        self.emotion_codes = {int(code): word for code, word in emotion_codes.items()}
        self.frame_regex = frame_pattern(frame_regex)
        self.landmarks = landmarks

    def clips(self, skipped: Skipped | None = None) -> list[Clip]:
        emotions = self.root / self.emotions
        if not emotions.is_dir():
            raise DataError(f"dataset {self.name!r}: emotion folder {emotions} does not exist (set dataset.root)")
        files = sorted(emotions.glob("*/*/*_emotion.txt"))
        if not files:
            raise DataError(f"dataset {self.name!r}: no */*/*_emotion.txt files under {emotions}")
        self.report = ReadReport(sources={f"{self.name} emotions": emotions})
        clips = []
        for path in files:
            with skipping(skipped, str(path)):
                if (clip := self._clip(path)) is not None:
                    clips.append(clip)
        check_unique(clips)
        return clips

    def _emotion(self, path: Path) -> str:
        text = path.read_text().split()
        try:
            (code,) = (float(t) for t in text)
        except ValueError:
            raise DataError(f"{path}: expected one emotion code, found {' '.join(text)!r}") from None
        if code != int(code) or int(code) not in self.emotion_codes:
            raise DataError(f"{path}: emotion code {code:g} is not one of {sorted(self.emotion_codes)}")
        return self.emotion_codes[int(code)]

    def _clip(self, path: Path) -> Clip | None:
        subject, sequence = path.parent.parent.name, path.parent.name
        emotion = self._emotion(path)
        label = self.classify(emotion, str(path))
        if label is None:
            return None
        folder = self.root / self.images / subject / sequence
        if not folder.is_dir():
            raise DataError(f"{path}: image folder {folder} does not exist")
        frames, numbers = list_frames(folder, self.frame_regex, str(path))
        span = {**clip_span(numbers), "apex": str(numbers[-1])}
        onset, apex, offset, repairs = key_frames(span, numbers, folder, str(path))
        landmarks = None
        if self.landmarks:
            landmarks = self.root / self.landmarks / subject / sequence
            present = {p.name for p in landmarks.glob("*_landmarks.txt")} if landmarks.is_dir() else set()
            wanted = [f"{frame.stem}_landmarks.txt" for frame in frames]
            if not set(wanted) <= present:
                lacking = [name for name in wanted if name not in present]
                raise DataError(
                    f"{path}: landmark files {lacking[:3]} missing from {landmarks} "
                    f"({len(lacking)} of {len(wanted)}; or set dataset.landmarks=null)"
                )
        return Clip(
            dataset=self.name,
            subject=f"{self.name}/{subject}",
            source_subject=subject,
            clip_id=sequence,
            frames=frames,
            frame_numbers=numbers,
            onset=onset,
            apex=apex,
            offset=offset,
            emotion=emotion,
            label=label,
            landmarks=landmarks,
            read_landmarks=read_ckplus_landmarks,
            repairs=repairs,
        )
