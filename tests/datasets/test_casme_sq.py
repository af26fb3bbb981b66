"""The CAS(ME)^2 reader on a miniature release: expressions inside one long video per subject, a coding sheet
without a header row, folder names found through the naming-rule tabs, micro-expressions by default, fused4 labels.
(No clip-folder-without-row check: a long video need not hold a micro-expression.)"""

import pytest

from mer_lightning.datasets.base import DataError
from tests.datasets.layouts import edit_sheet, reader, write

SHEET = "CAS(ME)^2code_final.xlsx"
SUBJECT, NAME, ONSET, APEX, OFFSET, EMOTION = 0, 1, 2, 3, 4, 6  # columns of the header-less sheet


@pytest.fixture
def root(tmp_path):
    return write("casme_sq", tmp_path / "CASME_sq")


def test_micro_expressions_by_default_inside_the_long_videos(root):
    clips = reader("casme_sq", root).clips()
    assert len(clips) == 12  # 16 expressions, every third one macro
    first = clips[0]
    assert first.uid == "casme_sq/s15/disgust1_1" and first.subject == "casme_sq/s15"
    assert (first.emotion, first.label) == ("others", 3)
    assert first.frames[0].parent.name == "15_0101disgustingteeth" and first.num_frames == 52
    assert (first.frame_numbers[first.onset], first.frame_numbers[first.apex], first.frame_numbers[first.offset]) == (
        3,
        4,
        6,
    )
    assert {c.subject for c in clips} == {"casme_sq/s15", "casme_sq/s16"}


def test_macro_expressions_on_request(root):
    both = reader("casme_sq", root, "dataset.keep.type=[micro-expression,macro-expression]").clips()
    macro = reader("casme_sq", root, "dataset.keep.type=[macro-expression]").clips()
    assert len(both) == 16 and len(macro) == 4 and "casme_sq/s15/disgust1_3" in {c.uid for c in macro}


def test_an_unannotated_apex_and_an_offset_past_the_video_are_repaired_and_reported(root):
    edit_sheet(root / SHEET, {SUBJECT: 1, NAME: "disgust1_2"}, {APEX: 0})
    edit_sheet(root / SHEET, {SUBJECT: 1, NAME: "disgust1_8"}, {OFFSET: 999})
    by_id = {c.clip_id: c for c in reader("casme_sq", root).clips() if c.source_subject == "s15"}
    assert by_id["disgust1_2"].repairs == ("apex frame 0 outside onset..offset 9..13: middle frame taken",)
    assert by_id["disgust1_2"].frame_numbers[by_id["disgust1_2"].apex] == 11
    assert by_id["disgust1_8"].repairs == ("offset frame 999 after the last frame 52: clamped",)


@pytest.mark.parametrize(
    ("slip", "message"),
    [
        ("missing_frames", r"row {row}: frames 10 missing from .*s15/15_0101disgustingteeth"),
        ("onset_after_offset", r"row {row}: onset frame 13 is after offset frame 9"),
        ("unknown_emotion", r"row {row}: emotion 'joy' is not in class scheme 'fused4'"),
        ("unknown_video", r"row {row}: video_name 'anger1' is not in tab 2 of .*dataset.lookups.video_code"),
    ],
)
def test_unusable_data_fails_naming_file_row_and_field(root, slip, message):
    row = edit_sheet(root / SHEET, {SUBJECT: 1, NAME: "disgust1_2"}, {})
    if slip == "missing_frames":
        (root / "rawpic/s15/15_0101disgustingteeth/img10.jpg").unlink()
    elif slip == "onset_after_offset":
        edit_sheet(root / SHEET, {SUBJECT: 1, NAME: "disgust1_2"}, {ONSET: 13, OFFSET: 9})
    elif slip == "unknown_emotion":
        edit_sheet(root / SHEET, {SUBJECT: 1, NAME: "disgust1_2"}, {EMOTION: "joy"})
    else:
        edit_sheet(root / SHEET, {SUBJECT: 1, NAME: "disgust1_2"}, {NAME: "anger1_2"})
    with pytest.raises(DataError, match=message.format(row=row)) as error:
        reader("casme_sq", root).clips()
    assert SHEET in str(error.value)


def release_standin(root):
    """CAS(ME)^2 as its release lays it out, written by hand: `code_final.xlsx`, whose first tab has no header row
    (participant, expression name, onset, apex, offset, AUs, emotion, type, self-report) and whose naming-rule tabs
    map participants to folder codes (tab 1: name, code, participant) and video names to video codes (tab 2: code as
    text with its leading zero, name); several long videos per subject under `rawpic/s{code}/{code}_{video}{desc}`."""
    import pandas as pd

    from mer_lightning.datasets.synthetic.layouts import write_xlsx

    videos = {
        "0101": ("disgust1", "disgustingteeth"),
        "0102": ("disgust2", "eatingworms"),
        "0502": ("happy2", "funnyerrors"),
    }
    for code, (_, description) in videos.items():
        for subject in (15, 16):
            folder = root / "rawpic" / f"s{subject}" / f"{subject}_{code}{description}"
            folder.mkdir(parents=True)
            for number in range(1, 61):
                (folder / f"img{number}.jpg").touch()
    rows = [
        [1, "disgust1_1", 5, 8, 12, "4", "negative", "micro-expression", "disgust"],
        [1, "disgust2_1", 20, 24, 40, "4+9", "negative", "macro-expression", "disgust"],
        [1, "happy2_1", 30, 0, 36, "12", "positive", "micro-expression", "happy"],  # apex 0: not annotated
        [2, "disgust2_1", 10, 12, 15, "9", "others", "micro-expression", "others"],
        [2, "happy2_1", 2, 4, 7, "6+12", "positive", "micro-expression", "happy"],
    ]
    tabs = {
        "CASFEcode_final": pd.DataFrame(rows),
        "naming rule1": pd.DataFrame([["p1", 15, 1], ["p2", 16, 2]]),
        "naming rule2": pd.DataFrame([[code, name] for code, (name, _) in videos.items()]),
    }
    write_xlsx(root / "code_final.xlsx", tabs, header=False)
    return root


def test_a_stand_in_laid_out_as_the_release_documents_it(tmp_path):
    root = release_standin(tmp_path / "CASME_sq")
    clips = reader("casme_sq", root).clips()
    assert [c.uid for c in clips] == [
        "casme_sq/s15/disgust1_1",
        "casme_sq/s15/happy2_1",
        "casme_sq/s16/disgust2_1",
        "casme_sq/s16/happy2_1",
    ]
    by_uid = {c.uid: c for c in clips}
    disgust = by_uid["casme_sq/s16/disgust2_1"]
    assert disgust.frames[0].parent.name == "16_0102eatingworms"  # video code 0102, not 0101 or 0502
    assert (disgust.emotion, disgust.label) == ("others", 3)
    happy = by_uid["casme_sq/s15/happy2_1"]
    assert happy.frames[0].parent.name == "15_0502funnyerrors" and happy.label == 1
    assert happy.repaired("apex") and happy.frame_numbers[happy.apex] == 33
    macro = reader("casme_sq", root, "dataset.keep.type=[macro-expression]").clips()
    assert [c.uid for c in macro] == ["casme_sq/s15/disgust2_1"]
    assert macro[0].frames[0].parent.name == "15_0102eatingworms"
