"""Stand-ins of the three MEGC 2019 releases, laid out as they are distributed, holding exactly the clips of the
official composite list (`$MER_SHARED_DATA/megc2019-ststnet-flow/labels.csv`) plus the clips of the releases that
the list leaves out, so that a composite read of them is checked against the published counts.

Frames are empty files (readers list frames, they do not decode them). Emotions are raw release words that the
composite3 scheme maps to the list's class: CASME II negatives alternate disgust and repression, SAMM's cycle through
its five negative words, SMIC's are its folder names.
"""

from __future__ import annotations

from itertools import cycle
from pathlib import Path

import pandas as pd

from mer_lightning.datasets.synthetic.layouts import write_xlsx

CASME2_COLUMNS = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion"]
# CASME II clips the official list leaves out: others, fear and sadness (composite3 drops them), and two whose
# annotation is slipped (an apex of "/", an onset equal to the apex), which a copy without the list keeps.
CASME2_EXTRA = [
    ("01", "EP99_01", 1, 2, 3, "others"),
    ("02", "EP99_02", 1, 2, 3, "fear"),
    ("24", "EP07_01", 1, 2, 3, "sadness"),
    ("24", "EP07_04f", 1, 2, 3, "sadness"),
    ("24", "EP10_03", 1, 2, 3, "sadness"),
    ("04", "EP12_01f", 1, "/", 3, "disgust"),
    ("05", "EP09_05f", 2, 2, 3, "repression"),
]
RELABELLED_2019 = {"EP07_01", "EP07_04f", "EP10_03"}  # sub24: sadness in the 2014 sheet, surprise in the 2019 one
SAMM_HEADER = [
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
SMIC_WORDS = {"0": "negative", "1": "positive", "2": "surprise"}
SMIC_CODES = {"negative": "ne", "positive": "po", "surprise": "sur"}


def _frames(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).touch()


def write_casme2(root: Path, listed: pd.DataFrame, sheets: tuple[str, ...] = ("20140508",)) -> Path:
    negative = cycle(["disgust", "repression"])
    words = {"1": "happiness", "2": "surprise"}
    rows = [
        (s.removeprefix("sub"), clip, 1, 2, 3, words.get(label) or next(negative))
        for s, clip, label in listed[["subject", "clip", "label"]].itertuples(index=False)
    ]
    for subject, clip, *_ in [*rows, *CASME2_EXTRA]:
        _frames(root / "CASME2_RAW_selected" / f"sub{subject}" / clip, ["img1.jpg", "img2.jpg", "img3.jpg"])
    for date in sheets:
        table = [
            [int(s), clip, on, apex, off, "4", "surprise" if date >= "2019" and clip in RELABELLED_2019 else e]
            for s, clip, on, apex, off, e in [*rows, *CASME2_EXTRA]
        ]
        write_xlsx(root / f"CASME2-coding-{date}.xlsx", pd.DataFrame(table, columns=CASME2_COLUMNS))
    return root


def write_samm(root: Path, listed: pd.DataFrame) -> Path:
    negative = cycle(["Anger", "Contempt", "Disgust", "Fear", "Sadness"])
    words = {"1": "Happiness", "2": "Surprise"}
    notes = [["SAMM micro-movements (stand-in)"], [], ["Frame numbers are the session's."]]
    table = [[*n, *[""] * (len(SAMM_HEADER) - len(n))] for n in notes] + [SAMM_HEADER]
    extra = [("006", "006_9_9", None), ("007", "007_9_9", None)]  # "Other": composite3 drops them
    for subject, clip, label in [*listed[["subject", "clip", "label"]].itertuples(index=False), *extra]:
        _frames(root / "SAMM" / subject / clip, [f"{subject}_{n:05d}.jpg" for n in (101, 102, 103)])
        emotion = "Other" if label is None else words.get(label) or next(negative)
        table.append([int(subject), clip, 1, 101, 102, 103, 3, "Micro - 1/2", "4", emotion, "", ""])
    write_xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", pd.DataFrame(table), header=False)
    return root


def write_smic(root: Path, listed: pd.DataFrame) -> Path:
    for subject, clip, label in listed[["subject", "clip", "label"]].itertuples(index=False):
        number = int(subject.removeprefix("s"))
        emotion = SMIC_WORDS[label]
        name = f"s{number}_{clip.split('_', 1)[1]}"  # the release's s1_ne_01 for the list's s01_ne_01
        _frames(root / "HS" / f"s{number}" / "micro" / emotion / name, [f"image{n:06d}.bmp" for n in (1, 2, 3)])
    return root


def write_standins(labels: Path, root: Path, casme2_sheets: tuple[str, ...] = ("20140508",)) -> dict[str, Path]:
    """`root/{CASME2,SAMM,SMIC}` holding the list's clips; returns each member's root."""
    listed = pd.read_csv(labels, dtype=str)
    part = {name: listed[listed["dataset"] == name] for name in ("casme2", "samm", "smic")}
    return {
        "casme2": write_casme2(root / "CASME2", part["casme2"], casme2_sheets),
        "samm": write_samm(root / "SAMM", part["samm"]),
        "smic": write_smic(root / "SMIC", part["smic"]),
    }
