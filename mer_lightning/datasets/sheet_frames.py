"""Datasets released as one folder of frames per clip plus a coding sheet (CASME, CASME II, SAMM, CAS(ME)^2).

Everything that differs between releases (sheet name, header names, folder and file names) is a setting, so a
user whose copy differs overrides a config value instead of editing code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from mer_lightning.clip import Clip
from mer_lightning.datasets.base import ClipDataset, DataError, check_unique
from mer_lightning.datasets.sheets import column_map, find_sheet, read_sheet

APEX_POLICIES = ("middle", "error")


class SheetFramesDataset(ClipDataset):
    """Clips from a coding sheet; each row names a folder of numbered frames.

    `clip_dir` and `subject_name` are `str.format` templates over the row's `subject` and `clip` values (for
    CASME II: `CASME2_RAW_selected/sub{subject:0>2}/{clip}`); `frame_regex` captures the frame number in a file name.
    A missing apex is repaired by `apex_policy` ("middle": the middle frame between onset and offset); key frames
    past the last frame present are clamped. Each repair is recorded on the clip.
    """

    def __init__(
        self,
        name: str,
        root: str | Path,
        classes: str | Mapping,
        sheet: str,
        columns: Mapping[str, str],
        clip_dir: str,
        frame_regex: str,
        subject_name: str = "{subject}",
        landmarks: str | None = None,
        apex_policy: str = "middle",
    ) -> None:
        super().__init__(name, classes)
        if apex_policy not in APEX_POLICIES:
            raise ValueError(f"dataset.apex_policy must be one of {APEX_POLICIES}, got {apex_policy!r}")
        self.root = Path(root)
        self.sheet = sheet
        self.columns = column_map(columns)
        self.clip_dir = clip_dir
        self.frame_regex = re.compile(frame_regex)
        self.subject_name = subject_name
        self.landmarks = landmarks
        self.apex_policy = apex_policy

    def clips(self) -> list[Clip]:
        if not self.root.is_dir():
            raise DataError(f"dataset {self.name!r}: root folder {self.root} does not exist (set dataset.root)")
        sheet_path = find_sheet(self.root, self.sheet)
        table = read_sheet(sheet_path, self.columns.values())
        clips = []
        for record in table.to_dict("records"):
            clip = self._clip(sheet_path, record)
            if clip is not None:
                clips.append(clip)
        check_unique(clips)
        return clips

    def _clip(self, sheet_path: Path, record: dict) -> Clip | None:
        where = f"{sheet_path}, row {record['_row']}"
        value = {field: str(record[col]).strip() for field, col in self.columns.items()}
        try:
            label = self.scheme.label(value["emotion"])
        except KeyError as err:
            raise DataError(f"{where}: {err.args[0]}") from None
        if label is None:
            return None
        fields = {"subject": value["subject"], "clip": value["clip"]}
        folder = self.root / self.clip_dir.format(**fields)
        frames, numbers = self._frames(folder, where)
        onset, apex, offset, repairs = self._key_frames(value, numbers, where)
        source_subject = self.subject_name.format(**fields)
        return Clip(
            dataset=self.name,
            subject=f"{self.name}/{source_subject}",
            source_subject=source_subject,
            clip_id=value["clip"],
            frames=frames,
            frame_numbers=numbers,
            onset=onset,
            apex=apex,
            offset=offset,
            emotion=value["emotion"].lower(),
            label=label,
            action_units=value.get("action_units", ""),
            landmarks=folder / self.landmarks if self.landmarks else None,
            repairs=repairs,
        )

    def _frames(self, folder: Path, where: str) -> tuple[tuple[Path, ...], tuple[int, ...]]:
        if not folder.is_dir():
            raise DataError(f"{where}: clip folder {folder} does not exist")
        numbered = []
        for path in folder.iterdir():
            match = self.frame_regex.search(path.name)
            if match:
                numbered.append((int(match.group(1)), path))
        if not numbered:
            raise DataError(f"{where}: no frames matching {self.frame_regex.pattern!r} in {folder}")
        numbered.sort()
        return tuple(p for _, p in numbered), tuple(n for n, _ in numbered)

    def _key_frames(
        self, value: dict[str, str], numbers: tuple[int, ...], where: str
    ) -> tuple[int, int, int, tuple[str, ...]]:
        repairs: list[str] = []

        def position(field: str) -> int | None:
            raw = value.get(field, "")
            try:
                number = int(float(raw))
            except ValueError:
                return None
            if number > numbers[-1]:
                repairs.append(f"{field} frame {number} after the last frame {numbers[-1]}: clamped")
                number = numbers[-1]
            if number < numbers[0]:
                repairs.append(f"{field} frame {number} before the first frame {numbers[0]}: clamped")
                number = numbers[0]
            return next(i for i, n in enumerate(numbers) if n >= number)

        onset, offset = position("onset"), position("offset")
        if onset is None or offset is None:
            raise DataError(f"{where}: onset {value.get('onset')!r} / offset {value.get('offset')!r} are not frame numbers")
        if onset > offset:
            raise DataError(f"{where}: onset frame {value['onset']} is after offset frame {value['offset']}")
        apex = position("apex")
        if apex is None or not onset <= apex <= offset:
            if self.apex_policy == "error":
                raise DataError(f"{where}: apex {value.get('apex')!r} is not a frame between onset and offset")
            repairs.append(f"apex {value.get('apex')!r} unusable: middle frame taken")
            apex = (onset + offset) // 2
        return onset, apex, offset, tuple(repairs)
