"""Every bad input the readers and the preprocessing answer, each made on a miniature release and checked against the
message (or the stated repair) that docs/bad-inputs.md lists for it. The table and these cases are kept in step: a
kind in one is a kind in the other."""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mer_lightning.datasets.base import DataError
from mer_lightning.datasets.synthetic.layouts import write_xlsx
from mer_lightning.preprocess.images import read_image
from mer_lightning.preprocess.sample import PreprocessError
from mer_lightning.preprocess.steps import Landmarks, LoadFrames, LoadKeyFrames
from tests.conftest import REPO, run_cli, write_tiny_set
from tests.datasets.layouts import edit_sheet, reader, write
from tests.preprocess.tiny_clips import write_clip

TABLE = REPO / "docs" / "bad-inputs.md"
CASME2_SHEET = "CASME2-coding-synthetic.xlsx"
FIRST = {"Subject": "01", "Filename": "EP01_01"}  # sub01/EP01_01: img1..img8, onset 3, apex 4, offset 6
CASES: dict[str, tuple[Callable[[Path], str], str]] = {}


def case(kind: str, expected: str):
    """Registers how to make one kind of bad input and the message (a regex) it must give."""

    def register(make: Callable[[Path], str]) -> Callable[[Path], str]:
        CASES[kind] = (make, expected)
        return make

    return register


def failure(run: Callable[[], object]) -> str:
    """The message of the DataError or PreprocessError that `run` raises."""
    with pytest.raises((DataError, PreprocessError)) as error:
        run()
    return str(error.value)


def casme2(tmp_path: Path) -> Path:
    return write("casme2", tmp_path / "CASME2")


def casme2_clips(root: Path, *overrides: str):
    return reader("casme2", root, *overrides).clips()


def first_clip(root: Path, *overrides: str):
    (clip,) = [c for c in casme2_clips(root, *overrides) if c.uid == "casme2/sub01/EP01_01"]
    return clip


def first_folder(root: Path) -> Path:
    return root / "CASME2_RAW_selected" / "sub01" / "EP01_01"


# --- releases and their sheets ---------------------------------------------------------------------------------------


@case("root_missing", r"dataset 'casme2': root folder .*/nowhere does not exist \(set dataset.root\)")
def _(tmp_path):
    return failure(lambda: casme2_clips(tmp_path / "nowhere"))


@case("no_sheet", r"no annotation sheet matching 'CASME2-coding-\*.xlsx' under .*CASME2 \(set dataset.sheet\)")
def _(tmp_path):
    root = casme2(tmp_path)
    (root / CASME2_SHEET).unlink()
    return failure(lambda: casme2_clips(root))


@case(
    "two_sheets",
    r"2 annotation sheets match 'CASME2-coding-\*.xlsx' under .*CASME2: CASME2-coding-20190701.xlsx, "
    r"CASME2-coding-synthetic.xlsx; choose one with dataset.sheet=CASME2-coding-synthetic.xlsx",
)
def _(tmp_path):
    root = casme2(tmp_path)
    shutil.copy(root / CASME2_SHEET, root / "CASME2-coding-20190701.xlsx")
    return failure(lambda: casme2_clips(root))


@case(
    "old_excel_without_reader",
    r"CASME2-coding-synthetic.xlsx: an old Excel \(97-2003, .xls\) workbook, whatever its "
    r"name says; reading it needs the package python-calamine",
)
def _(tmp_path):
    root = casme2(tmp_path)
    (root / CASME2_SHEET).write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504))  # an OLE2 (.xls) header
    saved = sys.modules.get("python_calamine")
    sys.modules["python_calamine"] = None  # as if it were not installed
    try:
        return failure(lambda: casme2_clips(root))
    finally:
        if saved is None:
            del sys.modules["python_calamine"]
        else:
            sys.modules["python_calamine"] = saved


@case("damaged_workbook", r"CASME2-coding-synthetic.xlsx: cannot read it as a spreadsheet \(BadZipFile: ")
def _(tmp_path):
    root = casme2(tmp_path)
    (root / CASME2_SHEET).write_text("Subject,Filename\n01,EP01_01\n")
    return failure(lambda: casme2_clips(root))


@case("missing_tab", r"cannot read tab 'HS': .*; its tabs are \['VIS'\]")
def _(tmp_path):
    root = tmp_path / "SMIC-E"
    root.mkdir()
    write_xlsx(root / "SMIC-E_annotation.xlsx", {"VIS": pd.DataFrame([[1, "s1_ne_01", 1, 2, "negative"]])})
    return failure(lambda: reader("smic_e", root).clips())


@case(
    "renamed_column",
    r"no header row in its first 20 rows holds the columns \['Estimated Emotion'\] "
    r"\(dataset.columns.emotion='Estimated Emotion'\); the closest, row 1, holds \['Subject', "
    r"'Filename', 'OnsetFrame', 'ApexFrame', 'OffsetFrame', 'Action Units', 'Emotion'\]",
)
def _(tmp_path):
    root = casme2(tmp_path)
    sheet = pd.read_excel(root / CASME2_SHEET, dtype=object).rename(columns={"Estimated Emotion": "Emotion"})
    write_xlsx(root / CASME2_SHEET, sheet)
    return failure(lambda: casme2_clips(root))


@case("empty_subject", r"CASME2-coding-synthetic.xlsx, row 2: empty field subject \(column 'Subject'\)")
def _(tmp_path):
    root = casme2(tmp_path)
    edit_sheet(root / CASME2_SHEET, FIRST, {"Subject": None})
    return failure(lambda: casme2_clips(root))


@case("empty_filename", r"CASME2-coding-synthetic.xlsx, row 2: empty field clip \(column 'Filename'\)")
def _(tmp_path):
    root = casme2(tmp_path)
    edit_sheet(root / CASME2_SHEET, FIRST, {"Filename": None})
    return failure(lambda: casme2_clips(root))


@case(
    "duplicate_rows",
    r"CASME2-coding-synthetic.xlsx: rows 2 and 3 are both subject '01', clip 'EP01_01': delete "
    r"the wrong one",
)
def _(tmp_path):
    root = casme2(tmp_path)
    edit_sheet(root / CASME2_SHEET, {"Subject": "01", "Filename": "EP01_02"}, {"Filename": "EP01_01"})
    return failure(lambda: casme2_clips(root))


@case(
    "unknown_emotion",
    r"CASME2-coding-synthetic.xlsx, row 2: emotion 'joy' is not in class scheme 'casme2_5' "
    r"\(known: \[",
)
def _(tmp_path):
    root = casme2(tmp_path)
    edit_sheet(root / CASME2_SHEET, FIRST, {"Estimated Emotion": "joy"})
    return failure(lambda: casme2_clips(root))


@case("clip_folder_missing", r"row 2: clip folder .*CASME2_RAW_selected/sub01/EP01_01 does not exist")
def _(tmp_path):
    root = casme2(tmp_path)
    shutil.rmtree(first_folder(root))
    return failure(lambda: casme2_clips(root, "dataset.clip_glob=null"))


@case(
    "folder_without_row",
    r"CASME2-coding-synthetic.xlsx: clip folders with no sheet row: "
    r"CASME2_RAW_selected/sub01/EP09_09 \(under .*; a copy with extra folders can set "
    r"dataset.clip_glob=null\)",
)
def _(tmp_path):
    root = casme2(tmp_path)
    shutil.copytree(first_folder(root), first_folder(root).with_name("EP09_09"))
    return failure(lambda: casme2_clips(root))


@case(
    "no_frames",
    r"row 2: no frames matching '\^\(\?:reg_\)\?img\(\\d\+\)\\.jpg\$' \(dataset.frame_regex\) in "
    r".*sub01/EP01_01",
)
def _(tmp_path):
    root = casme2(tmp_path)
    for frame in first_folder(root).glob("*.jpg"):
        frame.rename(frame.with_suffix(".tif"))
    return failure(lambda: casme2_clips(root))


@case("frames_missing_between", r"row 2: frames 4 missing from .*sub01/EP01_01 \(between onset 3 and offset 6\)")
def _(tmp_path):
    root = casme2(tmp_path)
    (first_folder(root) / "img4.jpg").unlink()
    return failure(lambda: casme2_clips(root))


@case("key_frames_outside_the_clip", r"row 2: frames 900..910 missing: .*sub01/EP01_01 holds frames 1..8")
def _(tmp_path):
    root = casme2(tmp_path)
    edit_sheet(root / CASME2_SHEET, FIRST, {"OnsetFrame": 900, "ApexFrame": 905, "OffsetFrame": 910})
    return failure(lambda: casme2_clips(root))


@case("onset_after_offset", r"row 2: onset frame 6 is after offset frame 3")
def _(tmp_path):
    root = casme2(tmp_path)
    edit_sheet(root / CASME2_SHEET, FIRST, {"OnsetFrame": 6, "OffsetFrame": 3})
    return failure(lambda: casme2_clips(root))


@case("not_a_frame_number", r"row 2: onset 'three' / offset '6' are not frame numbers")
def _(tmp_path):
    root = casme2(tmp_path)
    edit_sheet(root / CASME2_SHEET, FIRST, {"OnsetFrame": "three"})
    return failure(lambda: casme2_clips(root))


@case("apex_refused", r"row 2: apex '/' is not a frame between onset and offset")
def _(tmp_path):
    root = casme2(tmp_path)
    edit_sheet(root / CASME2_SHEET, FIRST, {"ApexFrame": "/"})
    return failure(lambda: casme2_clips(root, "dataset.apex_policy=error"))


@case("apex_missing_repaired", r"^apex '/' is not a frame number: middle frame taken$")
def _(tmp_path):
    root = casme2(tmp_path)
    edit_sheet(root / CASME2_SHEET, FIRST, {"ApexFrame": "/"})
    clip = first_clip(root)
    return "; ".join(clip.repairs)


@case("offset_past_the_last_frame_repaired", r"^offset frame 99 after the last frame 8: clamped$")
def _(tmp_path):
    root = casme2(tmp_path)
    edit_sheet(root / CASME2_SHEET, FIRST, {"OffsetFrame": 99})
    clip = first_clip(root)
    return "; ".join(clip.repairs)


@case("frame_is_a_broken_link", r"row 2: frame .*sub01/EP01_01/img5.jpg is not a file \(a broken link\?\)")
def _(tmp_path):
    root = casme2(tmp_path)
    frame = first_folder(root) / "img5.jpg"
    frame.unlink()
    frame.symlink_to(tmp_path / "gone.jpg")
    return failure(lambda: casme2_clips(root))


@case("two_files_of_one_frame", r"row 2: img01.jpg and img1.jpg in .*sub01/EP01_01 are both frame 1")
def _(tmp_path):
    root = casme2(tmp_path)
    shutil.copy(first_folder(root) / "img1.jpg", first_folder(root) / "img01.jpg")
    return failure(lambda: casme2_clips(root))


@case("frame_names_in_capitals", r"^8 frames, from IMG1.JPG$")
def _(tmp_path):
    root = casme2(tmp_path)
    for frame in first_folder(root).glob("*.jpg"):
        frame.rename(frame.with_name(frame.name.upper()))
    clip = first_clip(root)
    return f"{clip.num_frames} frames, from {clip.frames[0].name}"  # found: the frame pattern ignores case


@case(
    "name_not_matching_its_pattern",
    r"row \d+: clip 'disgust1-1' does not match '\^\(\?P<video_name>\[\^_\]\+\)_' "
    r"\(dataset.patterns.clip\)",
)
def _(tmp_path):
    root = write("casme_sq", tmp_path / "CASME_sq")
    edit_sheet(root / "CAS(ME)^2code_final.xlsx", {0: 1, 1: "disgust1_1"}, {1: "disgust1-1"})
    return failure(lambda: reader("casme_sq", root).clips())


@case(
    "name_not_in_a_naming_tab",
    r"row \d+: video_name 'anger1' is not in tab 2 of .*\(column 1; "
    r"dataset.lookups.video_code\)",
)
def _(tmp_path):
    root = write("casme_sq", tmp_path / "CASME_sq")
    edit_sheet(root / "CAS(ME)^2code_final.xlsx", {0: 1, 1: "disgust1_1"}, {1: "anger1_1"})
    return failure(lambda: reader("casme_sq", root).clips())


@case(
    "folder_not_matching_its_pattern",
    r"clip folder .*micro/negative/clip7: its path 'HS/s1/micro/negative/clip7' "
    r"does not match dataset.path_regex",
)
def _(tmp_path):
    root = write("smic", tmp_path / "SMIC")
    shutil.copytree(root / "HS/s1/micro/negative/s1_ne_01", root / "HS/s1/micro/negative/clip7")
    return failure(lambda: reader("smic", root).clips())


@case("unknown_emotion_code", r"S001_002_00000003_emotion.txt: emotion code 9 is not one of \[0, 1, 2, 3, 4, 5, 6, 7\]")
def _(tmp_path):
    root = write("ckplus", tmp_path / "CK+")
    (root / "Emotion/S001/002/S001_002_00000003_emotion.txt").write_text("   9.0000000e+00\n")
    return failure(lambda: reader("ckplus", root).clips())


@case(
    "landmark_files_missing",
    r"S001_002_00000003_emotion.txt: landmark files \['S001_002_00000002_landmarks.txt'\] "
    r"missing from .*Landmarks/S001/002 \(1 of 3; or set dataset.landmarks=null\)",
)
def _(tmp_path):
    root = write("ckplus", tmp_path / "CK+")
    (root / "Landmarks/S001/002/S001_002_00000002_landmarks.txt").unlink()
    return failure(lambda: reader("ckplus", root).clips())


@case("half_an_interval", r"row 2: expression 2 has onset '20' \(Onset2F\) but offset '' \(Offset2F\): both or neither")
def _(tmp_path):
    root = tmp_path / "SMIC-E"
    folder = root / "HS" / "s1" / "s1_ne_01"
    folder.mkdir(parents=True)
    for number in range(1, 31):
        (folder / f"image{number:06d}.jpg").touch()
    row = {
        "Subject": 1,
        "Filename": "s1_ne_01",
        "OnsetF": 2,
        "OffsetF": 9,
        "Onset2F": 20,
        "Offset2F": None,
        "Emotion": "negative",
    }
    write_xlsx(root / "SMIC-E_annotation.xlsx", {"HS": pd.DataFrame([row])})
    return failure(lambda: reader("smic_e", root).clips())


# --- membership lists ------------------------------------------------------------------------------------------------


def megc2019(tmp_path: Path, members: str):
    roots = {layout: write(layout, tmp_path / layout) for layout in ("casme2", "samm", "smic")}
    path = tmp_path / "list.csv"
    path.write_text(members)
    return reader(
        "megc2019", None, *(f"dataset.datasets.{k}.root={v}" for k, v in roots.items()), f"dataset.members={path}"
    )


@case("list_missing", r"membership list .*/absent.csv not found \(dataset.members\)")
def _(tmp_path):
    dataset = megc2019(tmp_path, "")
    dataset.members = tmp_path / "absent.csv"
    return failure(dataset.clips)


@case(
    "list_of_another_dataset",
    r"list.csv: datasets \['mmew'\] are not members of 'megc2019' \(\['casme2', 'samm', "
    r"'smic'\]\)",
)
def _(tmp_path):
    return failure(megc2019(tmp_path, "dataset,subject,clip\nmmew,s1,x\n").clips)


@case("list_header_lacking_a_column", r"list.csv: the header row \['data', 'subject', 'video'\] has no column clip")
def _(tmp_path):
    return failure(megc2019(tmp_path, "data,subject,video\ncasme2,sub01,EP01_01\n").clips)


@case(
    "list_matching_no_clip",
    r"list.csv: none of its 1 samm clips is among the \d+ this copy has: it lists e.g. "
    r"samm/6/SAMM_006_1_1 \(dataset/subject/clip\), the copy has e.g. samm/006/006_1_\d",
)
def _(tmp_path):
    return failure(megc2019(tmp_path, "samm,6,SAMM_006_1_1\n").clips)


# --- frames and landmarks, as the preprocessing reads them -----------------------------------------------------------


def jpeg_clip(tmp_path: Path):
    """sub01/EP01_01 of a miniature CASME II, its frames replaced by noisy 64x64 JPEGs (a few kB of scan data, as
    real frames have after their headers)."""
    import cv2

    clip = first_clip(casme2(tmp_path), "dataset.landmarks=landmarks.npy")
    rng = np.random.default_rng(0)
    for frame in clip.frames:
        frame.write_bytes(cv2.imencode(".jpg", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))[1].tobytes())
    return clip


@case("truncated_jpeg", r"image .*sub01/EP01_01/img4.jpg is damaged: Premature end of JPEG file")
def _(tmp_path):
    clip = jpeg_clip(tmp_path)
    apex = clip.frames[clip.apex]
    apex.write_bytes(apex.read_bytes()[: apex.stat().st_size * 3 // 4])
    return failure(lambda: LoadKeyFrames()({"clip": clip}))


@case("corrupt_jpeg_data", r"image .*sub01/EP01_01/img3.jpg is damaged: Corrupt JPEG data")
def _(tmp_path):
    clip = jpeg_clip(tmp_path)
    onset = clip.frames[clip.onset]
    data = bytearray(onset.read_bytes())
    data[len(data) * 3 // 4 : len(data) * 3 // 4 + 12] = b"\xff\x00" * 6
    onset.write_bytes(bytes(data))
    return failure(lambda: LoadKeyFrames()({"clip": clip}))


@case("not_an_image", r"cannot read image .*img4.jpg: not an image OpenCV decodes, or truncated")
def _(tmp_path):
    clip = jpeg_clip(tmp_path)
    clip.frames[clip.apex].write_bytes(b"GIF? no: a text file")
    return failure(lambda: LoadKeyFrames()({"clip": clip}))


@case("truncated_png", r"cannot read image .*img5.png: not an image OpenCV decodes, or truncated")
def _(tmp_path):
    clip = write_clip(tmp_path / "clip")
    frame = clip.frames[clip.apex]
    frame.write_bytes(frame.read_bytes()[: frame.stat().st_size // 2])
    return str(pytest.raises(PreprocessError, read_image, frame).value)


@case("frame_gone_since_read", r"clip casme2/sub01/EP01_01: cannot read .*img4.jpg: No such file or directory")
def _(tmp_path):
    from mer_lightning.preprocess.cache import InputCache

    clip = jpeg_clip(tmp_path)
    clip.frames[clip.apex].unlink()
    return failure(lambda: InputCache(tmp_path / "cache", {}).path(clip))


@case("frames_of_two_sizes", r"frame .*img5.png is 64x32, but .*img1.png is 64x64")
def _(tmp_path):
    import cv2

    clip = write_clip(tmp_path / "clip")
    cv2.imwrite(str(clip.frames[4]), np.zeros((32, 64, 3), np.uint8))
    return failure(lambda: LoadFrames(span="clip")({"clip": clip}))


@case(
    "landmarks_of_the_wrong_shape",
    r"landmarks .*landmarks.npy: expected \(68, 2\) or \(T, 68, 2\) points, got "
    r"\(8, 5, 2\)",
)
def _(tmp_path):
    clip = write_clip(tmp_path / "clip")
    np.save(clip.landmarks, np.zeros((8, 5, 2)))
    return failure(lambda: Landmarks()(LoadFrames()({"clip": clip})))


@case("landmarks_of_other_frames", r"landmarks.npy holds landmarks of 3 frames, the clip has 8")
def _(tmp_path):
    clip = write_clip(tmp_path / "clip")
    np.save(clip.landmarks, np.zeros((3, 68, 2)))
    return failure(lambda: Landmarks()(LoadFrames()({"clip": clip})))


@case("no_landmark_file", r"has no landmark file; use landmark backend dlib or fan")
def _(tmp_path):
    clip = jpeg_clip(tmp_path)
    clip = type(clip)(**{**clip.__dict__, "landmarks": None})
    return failure(lambda: Landmarks()(LoadFrames()({"clip": clip})))


# --- the checks ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_bad_input_gives_its_message(kind, tmp_path):
    make, expected = CASES[kind]
    message = make(tmp_path)
    assert re.search(expected, message), f"{kind}: {message!r} does not match {expected!r}"


def test_the_table_lists_every_kind_and_only_those():
    listed = re.findall(r"^\| `([a-z_]+)` \|", TABLE.read_text(), flags=re.MULTILINE)
    assert len(listed) == len(set(listed)) >= 25
    assert sorted(listed) == sorted(CASES)


def test_under_on_error_skip_every_clip_fault_is_left_out_and_listed(tmp_path):
    root = casme2(tmp_path)
    everything = casme2_clips(root)
    edit_sheet(root / CASME2_SHEET, FIRST, {"Subject": None})
    edit_sheet(root / CASME2_SHEET, {"Subject": "01", "Filename": "EP01_02"}, {"Estimated Emotion": "joy"})
    third = next(c for c in everything if c.source_subject == "sub02")
    third.frames[third.onset + 1].unlink()
    skipped: dict[str, str] = {}
    clips = reader("casme2", root).clips(skipped)
    assert sorted(c.uid for c in everything) == sorted(
        [*(c.uid for c in clips), "casme2/sub01/EP01_01", "casme2/sub01/EP01_02", third.uid]
    )
    assert len(skipped) == 4
    reasons = "\n".join(skipped.values())
    assert "empty field subject" in reasons and "emotion 'joy'" in reasons and f"{third.uid.split('/')[-1]}" in reasons
    assert "a clip folder with no row" in reasons  # sub01/EP01_01, whose row lost its subject
    with pytest.raises(DataError, match="empty field subject"):
        reader("casme2", root).clips()


@pytest.mark.slow
def test_the_command_line_tools_print_one_clean_message(tmp_path):
    root = write("casme2", tmp_path / "CASME2")
    (root / CASME2_SHEET).unlink()
    for module, args in (
        ("mer_lightning.describe", ["describe"]),
        ("mer_lightning.preprocess_cli", []),
        ("mer_lightning.train", ["protocol.test_subject=sub01"]),
    ):
        result = run_cli(module, *args, "dataset=casme2", f"dataset.root={root}", root=tmp_path, check=False)
        assert result.returncode == 1, (module, result.stderr[-2000:])
        assert f"no annotation sheet matching 'CASME2-coding-*.xlsx' under {root} (set dataset.sheet)" in result.stderr
        assert "Traceback" not in result.stderr, (module, result.stderr[-2000:])
    full = run_cli(
        "mer_lightning.describe",
        "describe",
        "dataset=casme2",
        f"dataset.root={root}",
        root=tmp_path,
        check=False,
        env={"HYDRA_FULL_ERROR": "1"},
    )
    assert full.returncode == 1 and "Traceback" in full.stderr and "DataError: no annotation sheet" in full.stderr


@pytest.mark.slow
def test_a_sweep_lists_its_failed_folds_with_their_clean_messages(tmp_path, tiny_overrides):
    generated = write_tiny_set(tmp_path)
    assert generated.returncode == 0
    folder = tmp_path / "data" / "synthetic" / "CASME2_RAW_selected" / "sub02" / "EP01_01"
    for frame in folder.glob("img*.jpg"):  # every frame of one clip truncated: every fold reads it
        frame.write_bytes(frame.read_bytes()[: frame.stat().st_size * 4 // 5])
    result = run_cli("mer_lightning.train", "-m", *tiny_overrides, "trainer.max_epochs=1", root=tmp_path, check=False)
    assert result.returncode == 1
    assert "3 fold job(s) failed" in result.stderr
    assert re.search(
        rf"InputError: clip synthetic/sub02/EP01_01: image {folder}/img\d+.jpg is damaged: Premature end "
        "of JPEG file",
        result.stderr,
    )
    assert "Traceback" not in result.stderr
