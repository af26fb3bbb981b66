"""What every reader of frame folders shares: listing a clip's numbered frames and placing its key frames in them.

Releases number their frames in the file names (`img46.jpg`, `006_05123.jpg`, `S005_001_00000011.png`) and
annotate key frames by those numbers; a clip holds its frames in number order and its key frames as positions in
that list. The checks and the repairs of slips (a key frame outside the frames present, a missing apex) are the
same for every release, and so are their messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from mer_lightning.clip import Repair
from mer_lightning.datasets.base import DataError

APEX_POLICIES = ("middle", "error")


def frame_pattern(regex: str) -> re.Pattern:
    """A setting's frame-name regex (its first group the frame number), matched regardless of case: `IMG1.JPG` is
    frame 1 as `img1.jpg` is."""
    pattern = re.compile(regex, re.IGNORECASE)
    if pattern.groups < 1:
        raise ValueError(f"frame_regex {regex!r} must capture the frame number in a group, e.g. '^img(\\d+)\\.jpg$'")
    return pattern


def list_frames(folder: Path, pattern: re.Pattern, where: str) -> tuple[tuple[Path, ...], tuple[int, ...]]:
    """The frames of `folder` whose names match `pattern`, in frame-number order, and their numbers; `where` names
    the sheet row or file the clip comes from, in errors. A folder with no frame, two files of one frame number or a
    frame that is not a readable file (a broken link) is refused."""
    numbered: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        match = pattern.search(path.name)
        if not match:
            continue
        number = int(match.group(1))
        if number in numbered:
            raise DataError(f"{where}: {numbered[number].name} and {path.name} in {folder} are both frame {number}")
        if not path.is_file():
            raise DataError(f"{where}: frame {path} is not a file (a broken link?)")
        numbered[number] = path
    if not numbered:
        raise DataError(f"{where}: no frames matching '{pattern.pattern}' (dataset.frame_regex) in {folder}")
    numbers = tuple(sorted(numbered))
    return tuple(numbered[n] for n in numbers), numbers


def frame_number(raw: str | None) -> int | None:
    """A sheet cell as a frame number (`"46"`, `"46.0"`), None when it is not one (`"/"`, empty)."""
    try:
        return int(float(raw or ""))
    except ValueError:
        return None


def key_frames(
    value: Mapping[str, str], numbers: Sequence[int], folder: Path, where: str, apex_policy: str = "middle"
) -> tuple[int, int, int, tuple[Repair, ...]]:
    """Positions in `folder`'s frame list (`numbers`) of the onset, apex and offset frame numbers in `value`, with
    the repairs made; `where` names the sheet row (or file) in errors.

    Onset and offset must be frame numbers, onset not after offset, and the frames between them all present; an
    onset before the first frame or an offset after the last is clamped, and an apex that is missing or outside
    onset..offset is replaced by `apex_policy` ("middle"; "error" refuses the clip).
    """
    repairs: list[Repair] = []
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
        repairs.append(Repair("onset", f"onset frame {onset_number} before the first frame {first}: clamped"))
        onset_number = first
    if offset_number > last:
        repairs.append(Repair("offset", f"offset frame {offset_number} after the last frame {last}: clamped"))
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
        note = "apex not annotated: middle frame taken"
    elif apex_number is None:
        note = f"apex {value['apex']!r} is not a frame number: middle frame taken"
    else:
        note = f"apex frame {apex_number} outside onset..offset {onset_number}..{offset_number}: middle frame taken"
    return onset, (onset + offset) // 2, offset, (*repairs, Repair("apex", note))


def clip_span(numbers: Sequence[int]) -> dict[str, str]:
    """Key frames of a clip annotated by its frames alone (SMIC's, CK+'s): onset the first, offset the last."""
    return {"onset": str(numbers[0]), "offset": str(numbers[-1])}
