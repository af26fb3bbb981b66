"""The CASME reader on a miniature release: sub01..., OnsetF / ApexF1 / OffsetF / Emotion, casme_4 by default."""

import shutil

import pytest

from mer_lightning.datasets.base import DataError
from tests.datasets.layouts import edit_sheet, reader, write

SHEET = "CASME-coding-synthetic.xlsx"


@pytest.fixture
def root(tmp_path):
    return write("casme", tmp_path / "CASME")


def test_reads_every_clip_with_casme_4_labels_and_subject_names(root):
    clips = reader("casme", root).clips()
    assert len(clips) == 16 and clips[0].uid == "casme/sub01/EP01_01"
    assert clips[0].subject == "casme/sub01" and clips[0].source_subject == "sub01"
    by_id = {c.uid: c for c in clips}
    assert (by_id["casme/sub01/EP01_01"].emotion, by_id["casme/sub01/EP01_01"].label) == ("tense", 3)  # others
    assert [by_id[f"casme/sub01/EP01_0{k}"].label for k in (2, 3)] == [2, 1]  # surprise, happiness
    happy = by_id["casme/sub01/EP01_03"]
    assert (happy.onset, happy.apex, happy.offset) == (2, 4, 5) and happy.frames[4].name == "img5.jpg"
    assert not any(c.repairs for c in clips)


def test_a_missing_apex_and_an_offset_past_the_last_frame_are_repaired_and_reported(root):
    edit_sheet(root / SHEET, {"Filename": "EP01_03"}, {"ApexF1": "/"})
    edit_sheet(root / SHEET, {"Filename": "EP01_02"}, {"OffsetF": 99})
    by_id = {c.clip_id: c for c in reader("casme", root).clips() if c.source_subject == "sub01"}
    assert by_id["EP01_03"].apex == (2 + 5) // 2 and by_id["EP01_03"].repairs == (
        "apex '/' is not a frame number: middle frame taken",
    )
    assert by_id["EP01_02"].offset == 5 and by_id["EP01_02"].repairs == (
        "offset frame 99 after the last frame 6: clamped",
    )


@pytest.mark.parametrize(
    ("slip", "message"),
    [
        ("missing_frames", r"row {row}: frames 4 missing from .*sub01/EP01_03"),
        ("onset_after_offset", r"row {row}: onset frame 6 is after offset frame 2"),
        ("unknown_emotion", r"row {row}: emotion 'joy' is not in class scheme 'casme_4'"),
        ("folder_without_row", r"clip folders with no sheet row: CASME_raw_selected/sub01/EP09_09"),
    ],
)
def test_unusable_data_fails_naming_file_row_and_field(root, slip, message):
    row = edit_sheet(root / SHEET, {"Filename": "EP01_03"}, {})
    if slip == "missing_frames":
        (root / "CASME_raw_selected/sub01/EP01_03/img4.jpg").unlink()
    elif slip == "onset_after_offset":
        edit_sheet(root / SHEET, {"Filename": "EP01_03"}, {"OnsetF": 6, "OffsetF": 2})
    elif slip == "unknown_emotion":
        edit_sheet(root / SHEET, {"Filename": "EP01_03"}, {"Emotion": "joy"})
    else:
        shutil.copytree(root / "CASME_raw_selected/sub01/EP01_03", root / "CASME_raw_selected/sub01/EP09_09")
    with pytest.raises(DataError, match=message.format(row=row)) as error:
        reader("casme", root).clips()
    assert SHEET in str(error.value)
