"""CK+ (Lucey et al. 2010), the posed macro-expression set used for pre-training.

`cohn-kanade-images/S{NNN}/{NNN}/S{NNN}_{NNN}_{frame:08d}.png`, one sequence per folder, going from neutral (the
first frame) to the peak (the last). Only sequences with an `Emotion/S{NNN}/{NNN}/*_emotion.txt` file (one code,
0-7) carry a label; the others (about 260 of 593 in the release) are left out by design. `Landmarks/...` holds
68 points per frame; a clip points at its first frame's file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from mer_lightning.clip import Clip
from mer_lightning.datasets.base import ClipDataset, DataError, check_unique
from mer_lightning.datasets.schemes import ClassScheme
from mer_lightning.datasets.sheet_frames import key_frames


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
        self.frame_regex = re.compile(frame_regex)
        self.landmarks = landmarks

    def clips(self) -> list[Clip]:
        emotions = self.root / self.emotions
        if not emotions.is_dir():
            raise DataError(f"dataset {self.name!r}: emotion folder {emotions} does not exist (set dataset.root)")
        files = sorted(emotions.glob("*/*/*_emotion.txt"))
        if not files:
            raise DataError(f"dataset {self.name!r}: no */*/*_emotion.txt files under {emotions}")
        clips = [clip for path in files if (clip := self._clip(path)) is not None]
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
        try:
            label = self.label(emotion)
        except KeyError as err:
            raise DataError(f"{path}: {err.args[0]}") from None
        if label is None:
            return None
        folder = self.root / self.images / subject / sequence
        if not folder.is_dir():
            raise DataError(f"{path}: image folder {folder} does not exist")
        numbered = sorted(
            (int(m.group(1)), p) for p in folder.iterdir() if (m := self.frame_regex.search(p.name))
        )
        if not numbered:
            raise DataError(f"{path}: no frames matching {self.frame_regex.pattern!r} in {folder}")
        numbers = tuple(n for n, _ in numbered)
        peak = str(numbers[-1])
        span = {"onset": str(numbers[0]), "apex": peak, "offset": peak}
        onset, apex, offset, repairs = key_frames(span, numbers, folder, str(path))
        landmarks = None
        if self.landmarks:
            landmarks = self.root / self.landmarks / subject / sequence / f"{numbered[0][1].stem}_landmarks.txt"
            if not landmarks.is_file():
                raise DataError(f"{path}: landmark file {landmarks} does not exist (or set dataset.landmarks=null)")
        return Clip(
            dataset=self.name,
            subject=f"{self.name}/{subject}",
            source_subject=subject,
            clip_id=sequence,
            frames=tuple(p for _, p in numbered),
            frame_numbers=numbers,
            onset=onset,
            apex=apex,
            offset=offset,
            emotion=emotion,
            label=label,
            landmarks=landmarks,
            repairs=repairs,
        )
