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
from mer_lightning.datasets.base import ClipDataset, DataError, ReadReport, Skipped, check_unique, skipping
from mer_lightning.datasets.frames import APEX_POLICIES, frame_pattern, key_frames, list_frames
from mer_lightning.datasets.schemes import ClassScheme, normalise_emotion
from mer_lightning.datasets.sheets import column_map, find_sheet, read_sheet

_GLOB_CHARS = re.compile(r"[*?\[]")
REQUIRED_FIELDS = ("subject", "clip", "onset", "offset", "emotion")


class SheetFramesDataset(ClipDataset):
    """Clips from a coding sheet; each row names a folder of numbered frames.

    `clip_dir`, `subject_name` and `clip_name` are `str.format` templates over the row's fields (the keys of
    `columns`: for CASME II `CASME2_RAW_selected/sub{subject:0>2}/{clip}`) and the named groups of `patterns`
    (`{field: regex}`, for names built from parts of a field); a `clip_dir` with glob characters must match exactly
    one folder. `frame_regex` captures the frame number in a file name (any case). `sheet` is a glob that must match
    one file (a release shipping two sheets: name the one to read); `tab` is its tab (index or name). `header` names
    the columns of a sheet without a header row; `keep` (`{field: [values]}`) keeps only rows with those values
    (CAS(ME)^2's expression type). Rows with neither clip name nor onset are notes and skipped; a row with an empty
    subject, clip, onset, offset or emotion is an error, and so are two rows of one clip. `clip_glob` lists the clip
    folders the release holds: one without a sheet row is an error.

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
        tab: int | str = 0,
    ) -> None:
        super().__init__(name, classes, fps)
        if apex_policy not in APEX_POLICIES:
            raise ValueError(f"dataset.apex_policy must be one of {APEX_POLICIES}, got {apex_policy!r}")
        self.root = Path(root)
        self.sheet = sheet
        self.columns = column_map(columns)
        missing = [f for f in REQUIRED_FIELDS if f not in self.columns]
        if missing:
            raise ValueError(f"dataset.columns must name the sheet's columns of {missing} (has {sorted(self.columns)})")
        for setting, fields in (("patterns", patterns or {}), ("keep", keep or {})):
            unknown = sorted(set(fields) - set(self.columns))
            if unknown:
                raise ValueError(
                    f"dataset.{setting}: {unknown} are not fields of dataset.columns {sorted(self.columns)}"
                )
        self.clip_dir = clip_dir
        self.frame_regex = frame_pattern(frame_regex)
        self.subject_name = subject_name
        self.clip_name = clip_name
        self.landmarks = landmarks
        self.apex_policy = apex_policy
        self.header = list(header) if header else None
        self.patterns = {field: re.compile(regex) for field, regex in (patterns or {}).items()}
        self.keep = {field: {normalise_emotion(v) for v in values} for field, values in (keep or {}).items()}
        self.clip_glob = clip_glob
        self.tab = tab

    def clips(self, skipped: Skipped | None = None) -> list[Clip]:
        if not self.root.is_dir():
            raise DataError(f"dataset {self.name!r}: root folder {self.root} does not exist (set dataset.root)")
        sheet_path = find_sheet(self.root, self.sheet)
        self.report = ReadReport(sources={f"{self.name} sheet": sheet_path})
        table = read_sheet(sheet_path, self.columns, names=self.header, tab=self.tab)
        self._prepare(sheet_path)
        clips, referenced, rows = [], [], {}
        for record in table.to_dict("records"):
            where = f"{sheet_path}, row {record['_row']}"
            value = {field: str(record[col]).strip() for field, col in self.columns.items()}
            if not value["clip"] and not value["onset"]:
                continue
            self._check_duplicate(value, record["_row"], rows, sheet_path)
            with skipping(skipped, where):
                empty = [field for field in REQUIRED_FIELDS if not value[field]]
                if empty:
                    names = ", ".join(f"{field} (column {self.columns[field]!r})" for field in empty)
                    raise DataError(f"{where}: empty field {names}")
                fields = self._fields(value, where)
                referenced.append(self._format(self.clip_dir, "clip_dir", fields, where))
                if any(normalise_emotion(value[field]) not in allowed for field, allowed in self.keep.items()):
                    continue
                label = self.classify(value["emotion"], where)
                if label is not None:
                    clips += [
                        self._clip(fields, annotation, label, where, suffix)
                        for annotation, suffix in self._expressions(value, record, where)
                    ]
        check_unique(clips)
        self._check_folders(sheet_path, referenced, skipped)
        return clips

    def _check_duplicate(self, value: dict[str, str], row: int, rows: dict[tuple, int], sheet_path: Path) -> None:
        """Two rows of one clip (one subject and clip name) are an error naming both rows."""
        key = (value["subject"].lstrip("0").lower(), value["clip"].lower())
        if key in rows:
            raise DataError(
                f"{sheet_path}: rows {rows[key]} and {row} are both subject {value['subject']!r}, clip "
                f"{value['clip']!r}: delete the wrong one"
            )
        rows[key] = row

    def _expressions(
        self, value: dict[str, str], record: Mapping[str, str], where: str
    ) -> list[tuple[dict[str, str], str]]:
        """Hook: the expressions a row annotates, each as its values (onset, apex, offset) and what its clip id adds
        to `clip_name`; one per row here, several per video in SMIC-E's sheets."""
        return [(value, "")]

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

    def _clip(self, fields: dict[str, str], value: dict[str, str], label: int, where: str, suffix: str = "") -> Clip:
        folder = self._folder(self._format(self.clip_dir, "clip_dir", fields, where), where)
        frames, numbers = list_frames(folder, self.frame_regex, where)
        onset, apex, offset, repairs = key_frames(value, numbers, folder, where, self.apex_policy)
        source_subject = self._format(self.subject_name, "subject_name", fields, where)
        return Clip(
            dataset=self.name,
            subject=f"{self.name}/{source_subject}",
            source_subject=source_subject,
            clip_id=self._format(self.clip_name, "clip_name", fields, where) + suffix,
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

    def _check_folders(self, sheet_path: Path, referenced: list[str], skipped: Skipped | None) -> None:
        """Every clip folder of the release (`clip_glob`) has a sheet row, kept or not (with `skipped`: each one
        without is recorded there)."""
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
        if orphans and skipped is not None:
            skipped.update(
                {str(self.root / o): f"{self.root / o}: a clip folder with no row in {sheet_path}" for o in orphans}
            )
        elif orphans:
            shown = ", ".join(orphans[:10]) + (f" and {len(orphans) - 10} more" if len(orphans) > 10 else "")
            raise DataError(
                f"{sheet_path}: clip folders with no sheet row: {shown} (under {self.root}; a copy with extra folders "
                "can set dataset.clip_glob=null)"
            )
