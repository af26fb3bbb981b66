"""CASME II beyond tests/test_casme2_reader.py: the cropped release, the generator's layout, MEGC 2019's rule for
CASME II, missing frames and folders without a row."""

import shutil

import pytest

from mer_lightning.datasets.base import DataError
from tests.datasets.layouts import edit_sheet, reader, write

SHEET = "CASME2-coding-synthetic.xlsx"


@pytest.fixture
def root(tmp_path):
    return write("casme2", tmp_path / "CASME2")


def test_casme2_5_is_the_default_and_fear_is_dropped(root):
    clips = reader("casme2", root).clips()
    assert len(clips) == 14  # 16 clips, the two fear clips dropped
    assert {c.emotion for c in clips} == {"happiness", "disgust", "repression", "surprise", "others"}
    assert clips[0].uid == "casme2/sub01/EP01_01" and clips[0].label == 4  # others


def test_the_composite_drops_casme2_fear_and_sadness_but_not_other_sets_fear(root):
    clips = reader("casme2", root, "dataset.classes=composite3").clips()
    assert "fear" not in {c.emotion for c in clips} and "others" not in {c.emotion for c in clips}
    renamed = reader("casme2", root, "dataset.classes=composite3", "dataset.name=other_set").clips()
    assert [c.label for c in renamed if c.emotion == "fear"] == [0, 0]  # negative elsewhere


def test_the_cropped_release_reads_through_its_config(root):
    (root / "CASME2_RAW_selected").rename(root / "Cropped")
    for frame in (root / "Cropped").glob("*/*/img*.jpg"):
        frame.rename(frame.with_name(f"reg_{frame.name}"))
    clips = reader("casme2_cropped", root).clips()
    assert len(clips) == 14 and clips[0].frames[0].name == "reg_img1.jpg"


@pytest.mark.parametrize(
    ("slip", "message"),
    [
        ("missing_frames", r"row {row}: frames 3 missing from .*sub01/EP01_03"),
        ("folder_without_row", r"clip folders with no sheet row: CASME2_RAW_selected/sub02/EP09_09"),
    ],
)
def test_missing_frames_and_a_folder_without_a_row_are_errors(root, slip, message):
    row = edit_sheet(root / SHEET, {"Filename": "EP01_03", "Subject": "01"}, {})
    if slip == "missing_frames":
        (root / "CASME2_RAW_selected/sub01/EP01_03/img3.jpg").unlink()
    else:
        shutil.copytree(root / "CASME2_RAW_selected/sub01/EP01_03", root / "CASME2_RAW_selected/sub02/EP09_09")
    with pytest.raises(DataError, match=message.format(row=row)) as error:
        reader("casme2", root).clips()
    assert SHEET in str(error.value)
    if slip == "folder_without_row":
        assert len(reader("casme2", root, "dataset.clip_glob=null").clips()) == 14
