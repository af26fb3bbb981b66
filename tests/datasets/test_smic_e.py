"""The SMIC-E reader on a stand-in laid out as the release is: one workbook with a tab per camera, a row per long
video, several micro-expressions per video (OnsetF/OffsetF, Onset2F/Offset2F, ...), each a clip."""

from pathlib import Path

import pandas as pd
import pytest

from mer_lightning.datasets.base import DataError
from mer_lightning.datasets.synthetic.layouts import write_xlsx
from tests.datasets.layouts import reader

COLUMNS = [
    "Subject",
    "Filename",
    "FirstF",
    "OnsetF",
    "OffsetF",
    "Onset2F",
    "Offset2F",
    "Onset3F",
    "Offset3F",
    "Emotion",
]
# (subject, video, first frame, frames, emotion, intervals)
HS = [
    (1, "s1_ne_01", 1001, 60, "negative", [(1010, 1020)]),
    (1, "s1_po_01", 2001, 80, "positive", [(2005, 2015), (2040, 2052)]),
    (2, "s2_sur_01", 501, 90, "surprise", [(510, 518), (530, 541), (570, 580)]),
]
VIS = [(2, "s2_sur_01", 101, 30, "surprise", [(103, 105), (112, 115)])]


def write_release(root: Path) -> Path:
    tabs = {}
    for modality, videos in (("HS", HS), ("VIS", VIS), ("NIR", VIS)):
        rows = []
        for subject, video, first, count, emotion, intervals in videos:
            folder = root / modality / f"s{subject}" / video
            folder.mkdir(parents=True)
            for number in range(first, first + count):
                (folder / f"image{number:06d}.jpg").touch()
            cells = [x for interval in intervals for x in interval] + [""] * (6 - 2 * len(intervals))
            rows.append([subject, video, first, *cells, emotion])
        notes = [["Frame numbers are those of the video's image files."] + [""] * (len(COLUMNS) - 1)]
        tabs[modality] = pd.DataFrame([*rows, *notes], columns=COLUMNS)
    write_xlsx(root / "SMIC-E_annotation.xlsx", tabs)
    return root


@pytest.fixture
def root(tmp_path):
    return write_release(tmp_path / "SMIC-E")


def test_every_micro_expression_of_a_long_video_is_a_clip(root):
    clips = reader("smic_e", root).clips()
    assert [c.clip_id for c in clips] == [
        "s01_ne_01",
        "s01_po_01",
        "s01_po_01_2",
        "s02_sur_01",
        "s02_sur_01_2",
        "s02_sur_01_3",
    ]
    by_id = {c.clip_id: c for c in clips}
    second = by_id["s01_po_01_2"]
    assert second.uid == "smic_e/s01/s01_po_01_2" and second.subject == "smic_e/s01"
    assert second.num_frames == 80 and second.frame_numbers[0] == 2001  # the whole video
    assert (second.frame_numbers[second.onset], second.frame_numbers[second.offset]) == (2040, 2052)
    assert second.apex == (second.onset + second.offset) // 2 and second.repaired("apex")
    assert (second.emotion, second.label) == ("positive", 1)


def test_each_camera_is_its_own_tab_and_frame_rate(root):
    hs, vis = reader("smic_e", root), reader("smic_e", root, "dataset.modality=VIS")
    assert (hs.fps, vis.fps) == (100, 25)
    clips = vis.clips()
    assert [c.clip_id for c in clips] == ["s02_sur_01", "s02_sur_01_2"]
    assert all(c.frames[0].parts[-4] == "VIS" for c in clips)


@pytest.mark.parametrize(
    ("slip", "message"),
    [
        (
            "half_interval",
            r"SMIC-E_annotation.xlsx, row 3: expression 2 has onset '2040' \(Onset2F\) but offset '' "
            r"\(Offset2F\): both or neither",
        ),
        (
            "interval_past_video",
            r"SMIC-E_annotation.xlsx, row 2: frames 1200..1210 missing: .*HS/s1/s1_ne_01 holds "
            r"frames 1001..1060",
        ),
        ("no_tab", r"SMIC-E_annotation.xlsx: cannot read tab 'HS': .*; its tabs are \['VIS', 'NIR'\]"),
    ],
)
def test_slips_of_the_sheet_are_named(root, slip, message):
    path = root / "SMIC-E_annotation.xlsx"
    tabs = pd.read_excel(path, sheet_name=None, dtype=object)
    if slip == "half_interval":
        tabs["HS"].loc[1, "Offset2F"] = None
    elif slip == "interval_past_video":
        tabs["HS"].loc[0, ["OnsetF", "OffsetF"]] = [1200, 1210]
    else:
        del tabs["HS"]
    write_xlsx(path, tabs)
    with pytest.raises(DataError, match=message):
        reader("smic_e", root).clips()


def test_a_bad_modality_is_refused_naming_the_setting(root):
    with pytest.raises(Exception, match=r"dataset.modality must be one of \['HS', 'NIR', 'VIS'\], got 'IR'"):
        reader("smic_e", root, "dataset.modality=IR")
