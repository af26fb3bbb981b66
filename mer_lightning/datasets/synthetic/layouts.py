"""Layout writers: rendered clips put on disk the way each release lays them out, so its reader reads them."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from mer_lightning.datasets.synthetic.motion import RenderedClip
from mer_lightning.datasets.synthetic.plan import NEGATIVE_EMOTIONS
from mer_lightning.datasets.synthetic.settings import SyntheticSettings

CASME2_COLUMNS = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion")
CASME2_SHEET = "CASME2-coding-synthetic.xlsx"
_FIXED_TIME = (2000, 1, 1, 0, 0, 0)


def casme2_clip_name(index: int) -> str:
    """CASME II style `EPxx_yy` (episodes of four takes); the name carries no label information."""
    return f"EP{index // 4 + 1:02d}_{index % 4 + 1:02d}"


def encode_jpeg(frame: np.ndarray, quality: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buffer.tobytes()


def write_xlsx(path: Path, table: pd.DataFrame | Mapping[str, pd.DataFrame], header: bool = True) -> None:
    """`table` (or several tabs, by name) as an xlsx whose bytes depend on its content only (openpyxl stamps the
    time in two places); `header=False` writes the rows alone, as sheets with notes above the header are laid out."""
    buffer = io.BytesIO()
    tabs = table if isinstance(table, Mapping) else {"Sheet1": table}
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, tab in tabs.items():
            tab.to_excel(writer, sheet_name=name, index=False, header=header)
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, data)


def write_casme2_layout(root: str | Path, clips: Iterable[RenderedClip], settings: SyntheticSettings) -> Path:
    """Write clips as the CASME II release lays them out: `CASME2_RAW_selected/subNN/EPxx_yy/img1.jpg ...` with a
    `landmarks.npy` (T, 68, 2) per clip, and the coding sheet (frame numbers are the img numbers, from 1)."""
    root = Path(root)
    rows = []
    for clip in clips:
        name = casme2_clip_name(clip.index)
        folder = root / "CASME2_RAW_selected" / f"sub{clip.subject:02d}" / name
        folder.mkdir(parents=True, exist_ok=True)
        for number, frame in enumerate(clip.frames, start=1):
            (folder / f"img{number}.jpg").write_bytes(encode_jpeg(frame, settings.jpeg_quality))
        np.save(folder / "landmarks.npy", clip.landmarks.astype(np.float32))
        rows.append(
            [
                f"{clip.subject:02d}",
                name,
                clip.onset + 1,
                clip.apex + 1,
                clip.offset + 1,
                clip.action_units,
                clip.emotion,
            ]
        )
    write_xlsx(root / CASME2_SHEET, pd.DataFrame(rows, columns=list(CASME2_COLUMNS)))
    return root


def encode_image(frame: np.ndarray, extension: str, settings: SyntheticSettings, grayscale: bool = False) -> bytes:
    """An RGB frame as the bytes of a `.jpg`, `.png` or `.bmp` file (grayscale on request, as SAMM's are)."""
    image = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY if grayscale else cv2.COLOR_RGB2BGR)
    options = [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality] if extension == ".jpg" else []
    ok, buffer = cv2.imencode(extension, image, options)
    if not ok:
        raise RuntimeError(f"{extension} encoding failed")
    return buffer.tobytes()


def _write_frames(
    folder: Path, frames: np.ndarray, names: Iterable[str], settings: SyntheticSettings, grayscale: bool = False
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in zip(names, frames):
        (folder / name).write_bytes(encode_image(frame, Path(name).suffix, settings, grayscale))


# Each release's words for the generator's emotions: CASME II's are mapped to ones the release has, keeping the
# classes of the composite schemes (a negative emotion stays negative); any other is written as it is (SAMM: with a
# capital), and the dataset's class scheme decides about it.
CASME_EMOTIONS = {"others": "tense"}
SAMM_EMOTIONS = {"repression": "Contempt", "fear": "Anger", "others": "Other"}
VALENCE = {
    "happiness": "positive",
    "surprise": "surprise",
    "others": "others",
    "neutral": "neutral",
    **dict.fromkeys((*NEGATIVE_EMOTIONS, "anger", "contempt", "tense"), "negative"),
}
SMIC_CODES = {"negative": "ne", "positive": "po", "surprise": "sur"}
# CK+'s emotion codes; repression is written as contempt (AU14, the dimpler), tense and others get none (unlabelled).
CKPLUS_CODES = {
    "neutral": 0,
    "anger": 1,
    "contempt": 2,
    "repression": 2,
    "disgust": 3,
    "fear": 4,
    "happiness": 5,
    "sadness": 6,
    "surprise": 7,
}
CASME_SQ_SUBJECT_CODE = 14  # participant 1 is s15, as in the release
CASME_SQ_VIDEO = ("0101", "disgust1", "disgustingteeth")  # video code, name, description


def write_casme_layout(root: str | Path, clips: Iterable[RenderedClip], settings: SyntheticSettings) -> Path:
    """CASME: `CASME_raw_selected/subNN/EPxx_yy/imgN.jpg` and `CASME-coding-synthetic.xlsx` (subjects as numbers,
    columns OnsetF / ApexF1 / OffsetF / Emotion; "others" written as tense, which CASME has instead)."""
    root = Path(root)
    rows = []
    for clip in clips:
        name = casme2_clip_name(clip.index)
        names = [f"img{n}.jpg" for n in range(1, len(clip.frames) + 1)]
        _write_frames(root / "CASME_raw_selected" / f"sub{clip.subject:02d}" / name, clip.frames, names, settings)
        rows.append(
            [
                clip.subject,
                name,
                clip.onset + 1,
                clip.apex + 1,
                "",
                clip.offset + 1,
                clip.action_units,
                CASME_EMOTIONS.get(clip.emotion, clip.emotion),
            ]
        )
    columns = ["Subject", "Filename", "OnsetF", "ApexF1", "ApexF2", "OffsetF", "Action Units", "Emotion"]
    write_xlsx(root / "CASME-coding-synthetic.xlsx", pd.DataFrame(rows, columns=columns))
    return root


def write_casme_sq_layout(root: str | Path, clips: Iterable[RenderedClip], settings: SyntheticSettings) -> Path:
    """CAS(ME)^2: each subject's clips one after the other in one long video
    `rawpic/s{code}/{code}_{video}.../imgN.jpg`,
    every third clip a macro-expression; `CAS(ME)^2code_final.xlsx` without a header row (participant number,
    expression name, onset, apex, offset, AUs, emotion by valence, type, self-report) and its naming-rule tabs."""
    root = Path(root)
    code, video, description = CASME_SQ_VIDEO
    by_subject: dict[int, list[RenderedClip]] = {}
    for clip in clips:
        by_subject.setdefault(clip.subject, []).append(clip)
    rows, participants = [], []
    for subject, subject_clips in by_subject.items():
        subject_code = subject + CASME_SQ_SUBJECT_CODE
        participants.append([f"participant {subject}", subject_code, subject])
        folder = root / "rawpic" / f"s{subject_code}" / f"{subject_code}_{code}{description}"
        start = 1
        for k, clip in enumerate(subject_clips, start=1):
            names = [f"img{n}.jpg" for n in range(start, start + len(clip.frames))]
            _write_frames(folder, clip.frames, names, settings)
            kind = "macro-expression" if k % 3 == 0 else "micro-expression"
            rows.append(
                [
                    subject,
                    f"{video}_{k}",
                    start + clip.onset,
                    start + clip.apex,
                    start + clip.offset,
                    clip.action_units,
                    VALENCE[clip.emotion],
                    kind,
                    clip.emotion,
                ]
            )
            start += len(clip.frames)
    tabs = {
        "code_final": pd.DataFrame(rows),
        "naming rule1": pd.DataFrame(participants),
        "naming rule2": pd.DataFrame([[code, video]]),
    }
    write_xlsx(root / "CAS(ME)^2code_final.xlsx", tabs, header=False)
    return root


def write_samm_layout(root: str | Path, clips: Iterable[RenderedClip], settings: SyntheticSettings) -> Path:
    """SAMM: `SAMM/{sss}/{sss}_{n}_{k}/{sss}_{frame:05d}.jpg` in grayscale (subject 1 is 006, frame numbers from
    inside the session, not from 1), and `SAMM_Micro_FACS_Codes_v2.xlsx` whose header row follows rows of notes."""
    root = Path(root)
    header = [
        "Subject",
        "Filename",
        "Inducement Code",
        "Onset Frame",
        "Apex Frame",
        "Offset Frame",
        "Duration",
        "Micro",
        "Action Units",
        "Estimated Emotion",
        "Objective Classes",
        "Notes",
    ]
    notes = [
        ["SAMM micro-movement FACS codes (synthetic)"],
        ["Frame numbers are those of the session's files."],
        [],
        ["Estimated Emotion is the emotion the inducement aimed at."],
    ]
    rows = [[*note, *[""] * (len(header) - len(note))] for note in notes] + [header]
    for clip in clips:
        subject = f"{clip.subject + 5:03d}"
        name = f"{subject}_{clip.index // 3 + 1}_{clip.index % 3 + 1}"
        first = 100 * (clip.index + 1) + 7
        names = [f"{subject}_{n:05d}.jpg" for n in range(first, first + len(clip.frames))]
        _write_frames(root / "SAMM" / subject / name, clip.frames, names, settings, grayscale=True)
        rows.append(
            [
                clip.subject + 5,
                name,
                clip.index // 3 + 1,
                first + clip.onset,
                first + clip.apex,
                first + clip.offset,
                clip.offset - clip.onset + 1,
                "Micro - 1/2",
                clip.action_units,
                SAMM_EMOTIONS.get(clip.emotion, clip.emotion.capitalize()),
                "",
                "",
            ]
        )
    write_xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", pd.DataFrame(rows), header=False)
    return root


def write_smic_layout(root: str | Path, clips: Iterable[RenderedClip], settings: SyntheticSettings) -> Path:
    """SMIC-HS: `HS/s{n}/micro/{negative|positive|surprise}/s{n}_{ne|po|sur}_{k:02d}/image{N:06d}.bmp`, the class
    the folder (by valence; SMIC has no "others", so those clips are not written), no sheet and no apex."""
    root = Path(root)
    counts: dict[tuple[int, str], int] = {}
    for clip in clips:
        valence = VALENCE[clip.emotion]
        if valence not in SMIC_CODES:
            continue
        k = counts[clip.subject, valence] = counts.get((clip.subject, valence), 0) + 1
        folder = root / "HS" / f"s{clip.subject}" / "micro" / valence / f"s{clip.subject}_{SMIC_CODES[valence]}_{k:02d}"
        first = 1000 * clip.subject + 10 * clip.index
        names = [f"image{n:06d}.bmp" for n in range(first + clip.onset, first + clip.offset + 1)]
        _write_frames(folder, clip.frames[clip.onset : clip.offset + 1], names, settings)
    return root


def write_ckplus_layout(root: str | Path, clips: Iterable[RenderedClip], settings: SyntheticSettings) -> Path:
    """CK+: each clip from onset (neutral) to apex (peak) as `cohn-kanade-images/S{sss}/{nnn}/S{sss}_{nnn}_{f:08d}.png`,
    its 68 landmarks per frame in `Landmarks/.../*_landmarks.txt`, and an `Emotion/.../*_emotion.txt` code (0-7)
    named after the peak frame ("others" sequences get none: unlabelled, as most of CK+'s are)."""
    root = Path(root)
    for clip in clips:
        subject, sequence = f"S{clip.subject:03d}", f"{clip.index + 1:03d}"
        stems = [f"{subject}_{sequence}_{n:08d}" for n in range(1, clip.apex - clip.onset + 2)]
        frames = clip.frames[clip.onset : clip.apex + 1]
        _write_frames(root / "cohn-kanade-images" / subject / sequence, frames, [f"{s}.png" for s in stems], settings)
        marks = root / "Landmarks" / subject / sequence
        marks.mkdir(parents=True, exist_ok=True)
        for stem, points in zip(stems, clip.landmarks[clip.onset : clip.apex + 1]):
            (marks / f"{stem}_landmarks.txt").write_text("".join(f"   {x:.7e}   {y:.7e}\n" for x, y in points))
        if clip.emotion in CKPLUS_CODES:
            emotion = root / "Emotion" / subject / sequence
            emotion.mkdir(parents=True, exist_ok=True)
            (emotion / f"{stems[-1]}_emotion.txt").write_text(f"   {CKPLUS_CODES[clip.emotion]:.7e}\n")
    return root


WRITERS: dict[str, Callable[[Path, Iterable[RenderedClip], SyntheticSettings], Path]] = {
    "casme": write_casme_layout,
    "casme2": write_casme2_layout,
    "casme_sq": write_casme_sq_layout,
    "ckplus": write_ckplus_layout,
    "samm": write_samm_layout,
    "smic": write_smic_layout,
}
