"""The SAMM reader on a miniature release: notes rows above the header, grayscale frames numbered from inside the
session, subjects 006..., samm_5 by default."""

import shutil

import cv2
import pytest

from mer_lightning.datasets.base import DataError
from tests.datasets.layouts import edit_sheet, reader, write

SHEET = "SAMM_Micro_FACS_Codes_v2.xlsx"


@pytest.fixture
def root(tmp_path):
    return write("samm", tmp_path / "SAMM")


def test_reads_below_the_notes_with_samm_5_labels(root):
    clips = reader("samm", root).clips()
    # 16 clips, the one disgust clip dropped by samm_5 (the writer names fear Anger and others Other)
    assert len(clips) == 15 and "disgust" not in {c.emotion for c in clips}
    first = clips[0]
    assert first.uid == "samm/006/006_1_1" and first.subject == "samm/006" and first.source_subject == "006"
    assert (first.emotion, first.label) == ("other", 4)
    assert first.frame_numbers[0] == 107 and (first.onset, first.apex, first.offset) == (2, 3, 5)
    assert cv2.imread(str(first.frames[0]), cv2.IMREAD_UNCHANGED).ndim == 2  # grayscale, as released
    assert {c.emotion for c in clips} == {"other", "surprise", "happiness", "contempt", "anger"}


def test_a_missing_apex_and_an_offset_past_the_last_frame_are_repaired_and_reported(root):
    edit_sheet(root / SHEET, {"Filename": "006_1_3"}, {"Apex Frame": None})
    edit_sheet(root / SHEET, {"Filename": "006_1_2"}, {"Offset Frame": 9999})
    by_id = {c.clip_id: c for c in reader("samm", root).clips()}
    assert by_id["006_1_3"].repairs == ("apex not annotated: middle frame taken",)
    assert by_id["006_1_3"].apex == (2 + 5) // 2
    assert (
        by_id["006_1_2"].offset == 5
        and "offset frame 9999 after the last frame 212: clamped" in by_id["006_1_2"].repairs
    )


@pytest.mark.parametrize(
    ("slip", "message"),
    [
        ("missing_frames", r"row {row}: frames 310 missing from .*006/006_1_3"),
        ("onset_after_offset", r"row {row}: onset frame 312 is after offset frame 309"),
        ("unknown_emotion", r"row {row}: emotion 'Joy' is not in class scheme 'samm_5'"),
        ("folder_without_row", r"clip folders with no sheet row: SAMM/007/007_9_9"),
    ],
)
def test_unusable_data_fails_naming_file_row_and_field(root, slip, message):
    row = edit_sheet(root / SHEET, {"Filename": "006_1_3"}, {})
    if slip == "missing_frames":
        (root / "SAMM/006/006_1_3/006_00310.jpg").unlink()
    elif slip == "onset_after_offset":
        edit_sheet(root / SHEET, {"Filename": "006_1_3"}, {"Onset Frame": 312, "Offset Frame": 309})
    elif slip == "unknown_emotion":
        edit_sheet(root / SHEET, {"Filename": "006_1_3"}, {"Estimated Emotion": "Joy"})
    else:
        shutil.copytree(root / "SAMM/006/006_1_3", root / "SAMM/007/007_9_9")
    with pytest.raises(DataError, match=message.format(row=row)) as error:
        reader("samm", root).clips()
    assert SHEET in str(error.value)
