"""The CK+ reader on a miniature tree: emotion codes 0-7 from the Emotion files, neutral-to-peak sequences,
landmark files, unlabelled sequences left out, ckplus_7 by default."""

import numpy as np
import pytest

from mer_lightning.datasets.base import DataError
from mer_lightning.datasets.ckplus import read_ckplus_landmarks
from tests.datasets.layouts import reader, write


@pytest.fixture
def root(tmp_path):
    return write("ckplus", tmp_path / "CK+")


def test_labelled_sequences_from_neutral_to_peak(root):
    clips = reader("ckplus", root).clips()
    assert len(clips) == 14  # the two sequences without an emotion file are unlabelled
    first = clips[0]
    assert first.uid == "ckplus/S001/002" and first.subject == "ckplus/S001" and first.source_subject == "S001"
    assert (first.emotion, first.label) == ("surprise", 6)
    assert (first.onset, first.apex, first.offset) == (0, first.num_frames - 1, first.num_frames - 1)
    assert first.frames[0].name == "S001_002_00000001.png" and not first.repairs
    assert first.read_landmarks(first.landmarks).shape == (first.num_frames, 68, 2)  # one file per frame
    assert {c.emotion for c in clips} == {"surprise", "happiness", "disgust", "contempt", "fear"}


@pytest.mark.parametrize(
    ("slip", "message"),
    [
        ("unknown_code", r"S001_002_00000003_emotion.txt: emotion code 9 is not one of \[0, 1, 2, 3, 4, 5, 6, 7\]"),
        ("unknown_emotion", r"S001_002_00000003_emotion.txt: emotion 'anger' is not in class scheme 'casme_4'"),
        ("missing_frames", r"S001_002_00000003_emotion.txt: frames 2 missing from .*cohn-kanade-images/S001/002"),
        ("emotion_without_images", r"S001_002_00000003_emotion.txt: image folder .*S001/002 does not exist"),
    ],
)
def test_unusable_data_fails_naming_the_file(root, slip, message):
    emotion = root / "Emotion/S001/002/S001_002_00000003_emotion.txt"
    overrides = []
    if slip == "unknown_code":
        emotion.write_text("   9.0000000e+00\n")
    elif slip == "unknown_emotion":
        emotion.write_text("   1.0000000e+00\n")  # anger, which CASME's classes do not know
        overrides = ["dataset.classes=casme_4"]
    elif slip == "missing_frames":
        (root / "cohn-kanade-images/S001/002/S001_002_00000002.png").unlink()
    else:
        for frame in (root / "cohn-kanade-images/S001/002").iterdir():
            frame.unlink()
        (root / "cohn-kanade-images/S001/002").rmdir()
    with pytest.raises(DataError, match=message):
        reader("ckplus", root, *overrides).clips()


def test_landmark_files_are_parsed_by_the_reader(tmp_path):
    points = np.random.default_rng(0).uniform(0, 640, (3, 68, 2))
    for t, frame in enumerate(points, start=1):
        (tmp_path / f"S005_001_{t:08d}_landmarks.txt").write_text("".join(f"   {x:.7e}   {y:.7e}\n" for x, y in frame))
    read = read_ckplus_landmarks(tmp_path)
    assert read.dtype == np.float32
    np.testing.assert_allclose(read, points, rtol=1e-6)
    (tmp_path / "S005_001_00000004_landmarks.txt").write_text("   1.0e+00   2.0e+00\n")
    with pytest.raises(ValueError, match=r"S005_001_00000004_landmarks.txt: expected 68 lines of 'x y'"):
        read_ckplus_landmarks(tmp_path)
