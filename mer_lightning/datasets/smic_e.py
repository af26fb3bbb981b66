"""SMIC-E (Li et al. 2013, extended): SMIC's videos before they were cut, for spotting as well as recognition.

Each camera's long videos (`{modality}/s{N}/{video}/image{N}.jpg`) and one annotation workbook with a tab per camera
(HS, VIS, NIR); a row is a video (subject, file name, emotion) holding one or more micro-expressions, each an
onset/offset pair of columns (`OnsetF`/`OffsetF`, then `Onset2F`/`Offset2F`, `Onset3F`/`Offset3F`, ... where a video
holds more). Every micro-expression is a clip: the first keeps the video's name (the SMIC clip cut from it), the
next ones add `_2`, `_3`. Frame numbers are those of the video's files, so a clip's frames are the whole video and
its onset and offset positions in it. SMIC-E annotates no apex: the middle frame is taken and reported as a repair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mer_lightning.datasets.base import DataError
from mer_lightning.datasets.sheet_frames import SheetFramesDataset


class SmicLongDataset(SheetFramesDataset):
    """`SheetFramesDataset` over the tab of one camera (`modality`, also a template field), a clip per annotated
    interval: `columns.onset`/`columns.offset` name the first, `more_intervals` the (onset, offset) columns of the
    next ones, read where the tab has them and the row fills them."""

    def __init__(
        self,
        *,
        modality: str,
        fps_by_modality: Mapping[str, float],
        more_intervals: Sequence[Sequence[str]] = (),
        tab: str = "{modality}",
        **reader,
    ) -> None:
        if modality not in fps_by_modality:
            raise ValueError(f"dataset.modality must be one of {sorted(fps_by_modality)}, got {modality!r}")
        bad = [list(pair) for pair in more_intervals if len(pair) != 2]
        if bad:
            raise ValueError(f"dataset.more_intervals: each is [onset column, offset column], got {bad}")
        super().__init__(fps=fps_by_modality[modality], tab=tab.format(modality=modality), **reader)
        self.modality = modality
        self.more_intervals = [tuple(pair) for pair in more_intervals]

    def _fields(self, value: dict[str, str], where: str) -> dict[str, str]:
        return {**super()._fields(value, where), "modality": self.modality}

    def _expressions(
        self, value: dict[str, str], record: Mapping[str, str], where: str
    ) -> list[tuple[dict[str, str], str]]:
        expressions = [(value, "")]
        for number, (onset_column, offset_column) in enumerate(self.more_intervals, start=2):
            onset, offset = (str(record.get(column, "")).strip() for column in (onset_column, offset_column))
            if not onset and not offset:
                continue
            if not onset or not offset:
                raise DataError(
                    f"{where}: expression {number} has onset {onset!r} ({onset_column}) but offset "
                    f"{offset!r} ({offset_column}): both or neither"
                )
            expressions.append(({**value, "onset": onset, "offset": offset, "apex": ""}, f"_{number}"))
        return expressions
