"""Datasets released as one folder of frames per clip plus a coding sheet (CASME, CASME II, SAMM, CAS(ME)^2).

Everything that differs between releases (sheet name, header names, folder and file names) is a setting, so a
user whose copy differs overrides a config value instead of editing code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path

from mer_lightning.clip import Clip
from mer_lightning.datasets.base import ClipDataset, DataError, check_unique
from mer_lightning.datasets.schemes import ClassScheme, normalise_emotion
from mer_lightning.datasets.sheets import column_map, find_sheet, read_sheet

APEX_POLICIES = ("middle", "error")
_GLOB_CHARS = re.compile(r"[*?\[]")


class SheetFramesDataset(ClipDataset):
    """Clips from a coding sheet; each row names a folder of numbered frames.

    `clip_dir`, `subject_name` and `clip_name` are `str.format` templates over the row's fields (the keys of
    `columns`: for CASME II `CASME2_RAW_selected/sub{subject:0>2}/{clip}`) and the named groups of `patterns`
    (`{field: regex}`, for names built from parts of a field); a `clip_dir` with glob characters must match exactly
    one folder. `frame_regex` captures the frame number in a file name. `header` names the columns of a sheet
    without a header row; `keep` (`{field: [values]}`) keeps only rows with those values (CAS(ME)^2's expression
    type). Rows with neither clip name nor onset are notes and skipped. `clip_glob` lists the clip folders the
    release holds: one without a sheet row is an error.

    A missing apex is repaired by `apex_policy` ("middle": the middle frame between onset and offset); key frames
    past the frames present are clamped. Each repair is recorded on the clip.
    """

    def __init__(
        self,
        name: str,
        root: str | Path,
        classes: str | Mapping | ClassScheme,
        sheet: str,
        columns: Mapping[str, str],
        clip_dir: str,
        frame_regex: str,
        subject_name: str = "{subject}",
        clip_name: str = "{clip}",
        landmarks: str | None = None,
        apex_policy: str = "middle",
        header: Sequence[str] | None = None,
        patterns: Mapping[str, str] | None = None,
        keep: Mapping[str, Sequence[str]] | None = None,
        clip_glob: str | None = None,
        fps: float | None = None,
    ) -> None:
        super().__init__(name, classes, fps)
        if apex_policy not in APEX_POLICIES:
            raise ValueError(f"dataset.apex_policy must be one of {APEX_POLICIES}, got {apex_policy!r}")
        self.root = Path(root)
        self.sheet = sheet
        self.columns = column_map(columns)
        for setting, fields in (("patterns", patterns or {}), ("keep", keep or {})):
            unknown = sorted(set(fields) - set(self.columns))
            if unknown:
                raise ValueError(f"dataset.{setting}: {unknown} are not fields of dataset.columns {sorted(self.columns)}")
        self.clip_dir = clip_dir
        self.frame_regex = re.compile(frame_regex)
        self.subject_name = subject_name
        self.clip_name = clip_name
        self.landmarks = landmarks
        self.apex_policy = apex_policy
        self.header = list(header) if header else None
        self.patterns = {field: re.compile(regex) for field, regex in (patterns or {}).items()}
        self.keep = {field: {normalise_emotion(v) for v in values} for field, values in (keep or {}).items()}
        self.clip_glob = clip_glob

    def clips(self) -> list[Clip]:
        if not self.root.is_dir():
            raise DataError(f"dataset {self.name!r}: root folder {self.root} does not exist (set dataset.root)")
        sheet_path = find_sheet(self.root, self.sheet)
        table = read_sheet(sheet_path, self.columns.values(), names=self.header)
        self._prepare(sheet_path)
        clips, referenced = [], []
        for record in table.to_dict("records"):
            where = f"{sheet_path}, row {record['_row']}"
            value = {field: str(record[col]).strip() for field, col in self.columns.items()}
            if not value["clip"] and not value.get("onset"):
                continue
            fields = self._fields(value, where)
            referenced.append(self._format(self.clip_dir, "clip_dir", fields, where))
            if any(normalise_emotion(value[field]) not in allowed for field, allowed in self.keep.items()):
                continue
            try:
                label = self.label(value["emotion"])
            except KeyError as err:
                raise DataError(f"{where}: {err.args[0]}") from None
            if label is not None:
                clips.append(self._clip(fields, value, label, where))
        check_unique(clips)
        self._check_folders(sheet_path, referenced)
        return clips

    def _prepare(self, sheet_path: Path) -> None:
        """Hook: read what a release keeps beside its rows (CAS(ME)^2's naming tabs) before the rows are read."""

    def _fields(self, value: dict[str, str], where: str) -> dict[str, str]:
        """The template fields of a row: its values, plus the named groups of `patterns`."""
        fields = dict(value)
        for field, pattern in self.patterns.items():
            match = pattern.search(value[field])
            if match is None:
                raise DataError(
                    f"{where}: {field} {value[field]!r} does not match {pattern.pattern!r} (dataset.patterns.{field})"
                )
            fields.update(match.groupdict())
        return fields

    def _format(self, template: str, setting: str, fields: dict[str, str], where: str) -> str:
        try:
            return template.format(**fields)
        except (KeyError, IndexError, ValueError) as err:
            raise DataError(
                f"{where}: dataset.{setting} {template!r} cannot be filled ({err!r}); fields: {sorted(fields)}"
            ) from None

    def _clip(self, fields: dict[str, str], value: dict[str, str], label: int, where: str) -> Clip:
        folder = self._folder(self._format(self.clip_dir, "clip_dir", fields, where), where)
        frames, numbers = self._frames(folder, where)
        onset, apex, offset, repairs = key_frames(value, numbers, folder, where, self.apex_policy)
        source_subject = self._format(self.subject_name, "subject_name", fields, where)
        return Clip(
            dataset=self.name,
            subject=f"{self.name}/{source_subject}",
            source_subject=source_subject,
            clip_id=self._format(self.clip_name, "clip_name", fields, where),
            frames=frames,
            frame_numbers=numbers,
            onset=onset,
            apex=apex,
            offset=offset,
            emotion=normalise_emotion(value["emotion"]),
            label=label,
            action_units=value.get("action_units", ""),
            landmarks=folder / self.landmarks if self.landmarks else None,
            repairs=repairs,
        )

    def _folder(self, relative: str, where: str) -> Path:
        if not _GLOB_CHARS.search(relative):
            folder = self.root / relative
            if not folder.is_dir():
                raise DataError(f"{where}: clip folder {folder} does not exist")
            return folder
        matches = sorted(p for p in self.root.glob(relative) if p.is_dir())
        if len(matches) != 1:
            found = "no folder" if not matches else f"{len(matches)} folders ({', '.join(p.name for p in matches)})"
            raise DataError(f"{where}: clip folder {self.root / relative} matches {found}; it must match one")
        return matches[0]

    def _frames(self, folder: Path, where: str) -> tuple[tuple[Path, ...], tuple[int, ...]]:
        numbered = []
        for path in folder.iterdir():
            match = self.frame_regex.search(path.name)
            if match:
                numbered.append((int(match.group(1)), path))
        if not numbered:
            raise DataError(f"{where}: no frames matching {self.frame_regex.pattern!r} in {folder}")
        numbered.sort()
        return tuple(p for _, p in numbered), tuple(n for n, _ in numbered)

    def _check_folders(self, sheet_path: Path, referenced: list[str]) -> None:
        """Every clip folder of the release (`clip_glob`) has a sheet row, kept or not."""
        if not self.clip_glob:
            return
        exact = {r for r in referenced if not _GLOB_CHARS.search(r)}
        patterns = [r for r in referenced if _GLOB_CHARS.search(r)]
        orphans = [
            folder.relative_to(self.root).as_posix()
            for folder in sorted(self.root.glob(self.clip_glob))
            if folder.is_dir()
        ]
        orphans = [o for o in orphans if o not in exact and not any(fnmatchcase(o, p) for p in patterns)]
        if orphans:
            shown = ", ".join(orphans[:10]) + (f" and {len(orphans) - 10} more" if len(orphans) > 10 else "")
            raise DataError(
                f"{sheet_path}: clip folders with no sheet row: {shown} (under {self.root}; a copy with extra folders "
                "can set dataset.clip_glob=null)"
            )


def frame_number(raw: str | None) -> int | None:
    """A sheet cell as a frame number (`"46"`, `"46.0"`), None when it is not one (`"/"`, empty)."""
    try:
        return int(float(raw or ""))
    except ValueError:
        return None


def key_frames(
    value: Mapping[str, str], numbers: Sequence[int], folder: Path, where: str, apex_policy: str = "middle"
) -> tuple[int, int, int, tuple[str, ...]]:
    """Positions in `folder`'s frame list (`numbers`) of the onset, apex and offset frame numbers in `value`, with
    the repairs made; `where` names the sheet row (or file) in errors.

    Onset and offset must be frame numbers, onset not after offset, and the frames between them all present; an
    onset before the first frame or an offset after the last is clamped, and an apex that is missing or outside
    onset..offset is replaced by `apex_policy` ("middle"; "error" refuses the clip).
    """
    repairs: list[str] = []
    first, last = numbers[0], numbers[-1]
    onset_number, offset_number = frame_number(value.get("onset")), frame_number(value.get("offset"))
    if onset_number is None or offset_number is None:
        raise DataError(f"{where}: onset {value.get('onset')!r} / offset {value.get('offset')!r} are not frame numbers")
    if onset_number > offset_number:
        raise DataError(f"{where}: onset frame {onset_number} is after offset frame {offset_number}")
    if onset_number > last or offset_number < first:
        raise DataError(
            f"{where}: frames {onset_number}..{offset_number} missing: {folder} holds frames {first}..{last}"
        )
    if onset_number < first:
        repairs.append(f"onset frame {onset_number} before the first frame {first}: clamped")
        onset_number = first
    if offset_number > last:
        repairs.append(f"offset frame {offset_number} after the last frame {last}: clamped")
        offset_number = last
    present = set(numbers)
    missing = [n for n in range(onset_number, offset_number + 1) if n not in present]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise DataError(
            f"{where}: frames {shown} missing from {folder} (between onset {onset_number} and offset {offset_number})"
        )
    position = {n: i for i, n in enumerate(numbers)}
    onset, offset = position[onset_number], position[offset_number]
    apex_number = frame_number(value.get("apex"))
    if apex_number is not None and onset_number <= apex_number <= offset_number:
        return onset, position[apex_number], offset, tuple(repairs)
    if apex_policy == "error":
        raise DataError(f"{where}: apex {value.get('apex')!r} is not a frame between onset and offset")
    if not value.get("apex"):
        repairs.append("apex not annotated: middle frame taken")
    elif apex_number is None:
        repairs.append(f"apex {value['apex']!r} is not a frame number: middle frame taken")
    else:
        repairs.append(f"apex frame {apex_number} outside onset..offset {onset_number}..{offset_number}: middle frame taken")
    return onset, (onset + offset) // 2, offset, tuple(repairs)
