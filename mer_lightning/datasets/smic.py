"""SMIC (Li et al. 2013), HS / VIS / NIR: no coding sheet, the class is the folder a clip sits in.

`{modality}/s{N}/micro/{negative|positive|surprise}/{clip}/image{N}.bmp`. Subject folders `s1`, `s2`, ... become
`s01`, `s02`, ... (and clip `s1_ne_01` becomes `s01_ne_01`), as the MEGC lists name them. A clip runs from its
first to its last frame. SMIC annotates no apex: the reader takes the middle frame and records the repair, so a
pipeline can spot the apex from motion instead (`preprocess.steps.ApexSpotting` with `replace: repaired`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from mer_lightning.clip import Clip
from mer_lightning.datasets.base import ClipDataset, DataError, ReadReport, Skipped, check_unique, skipping
from mer_lightning.datasets.frames import clip_span, frame_pattern, key_frames, list_frames
from mer_lightning.datasets.schemes import ClassScheme, normalise_emotion


class SmicDataset(ClipDataset):
    """Clips from the folders matching `clip_glob` (a template over `modality`); `path_regex`, matched against a
    folder's path under the root, names the parts that `subject_name` and `clip_name` are built from, and its
    group `emotion` is the raw emotion. `fps_by_modality` gives each camera's frame rate."""

    def __init__(
        self,
        name: str,
        root: str | Path,
        classes: str | Mapping | ClassScheme,
        modality: str,
        clip_glob: str,
        path_regex: str,
        frame_regex: str,
        subject_name: str,
        clip_name: str,
        fps_by_modality: Mapping[str, float] | None = None,
    ) -> None:
        rates = dict(fps_by_modality or {})
        if rates and modality not in rates:
            raise ValueError(f"dataset.modality must be one of {sorted(rates)}, got {modality!r}")
        super().__init__(name, classes, rates.get(modality))
        self.root = Path(root)
        self.modality = modality
        self.clip_glob = clip_glob.format(modality=modality)
        self.path_regex = re.compile(path_regex)
        if "emotion" not in self.path_regex.groupindex:
            raise ValueError(f"dataset.path_regex must capture the class folder as (?P<emotion>...): {path_regex!r}")
        self.frame_regex = frame_pattern(frame_regex)
        self.subject_name = subject_name
        self.clip_name = clip_name

    def clips(self, skipped: Skipped | None = None) -> list[Clip]:
        if not self.root.is_dir():
            raise DataError(f"dataset {self.name!r}: root folder {self.root} does not exist (set dataset.root)")
        folders = sorted(p for p in self.root.glob(self.clip_glob) if p.is_dir())
        if not folders:
            raise DataError(f"dataset {self.name!r}: no clip folders matching {self.clip_glob!r} under {self.root}")
        self.report = ReadReport(sources={f"{self.name} clip folders": self.root / self.clip_glob})
        clips = []
        for folder in folders:
            with skipping(skipped, str(folder)):
                if (clip := self._clip(folder)) is not None:
                    clips.append(clip)
        check_unique(clips)
        return clips

    def _clip(self, folder: Path) -> Clip | None:
        relative = folder.relative_to(self.root).as_posix()
        match = self.path_regex.search(relative)
        if match is None:
            raise DataError(
                f"clip folder {folder}: its path {relative!r} does not match dataset.path_regex "
                f"{self.path_regex.pattern!r}"
            )
        parts = match.groupdict()
        where = f"clip folder {folder}"
        label = self.classify(parts["emotion"], where)
        if label is None:
            return None
        frames, numbers = list_frames(folder, self.frame_regex, where)
        onset, apex, offset, repairs = key_frames(clip_span(numbers), numbers, folder, where)
        source_subject = self.subject_name.format(**parts)
        return Clip(
            dataset=self.name,
            subject=f"{self.name}/{source_subject}",
            source_subject=source_subject,
            clip_id=self.clip_name.format(**parts),
            frames=frames,
            frame_numbers=numbers,
            onset=onset,
            apex=apex,
            offset=offset,
            emotion=normalise_emotion(parts["emotion"]),
            label=label,
            repairs=repairs,
        )
