"""The SMIC reader on a miniature SMIC-HS tree: the class is the folder, s1 -> s01, the apex repaired as
unannotated (middle frame), smic_3 by default."""

import shutil

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mer_lightning.datasets.base import DataError
from mer_lightning.preprocess.steps import ApexSpotting, LoadFrames
from tests.datasets.layouts import CONF, reader, write


@pytest.fixture
def root(tmp_path):
    return write("smic", tmp_path / "SMIC")


def test_classes_from_folders_and_subjects_named_as_the_megc_lists_do(root):
    clips = reader("smic", root).clips()
    assert len(clips) == 14  # the two "others" clips have no SMIC folder
    assert {c.subject for c in clips} == {"smic/s01", "smic/s02"}
    first = clips[0]
    assert first.uid == "smic/s01/s01_ne_01" and first.source_subject == "s01"
    assert (first.emotion, first.label) == ("negative", 0)
    assert {c.emotion: c.label for c in clips} == {"negative": 0, "positive": 1, "surprise": 2}
    assert (first.onset, first.offset) == (0, first.num_frames - 1) and first.frame_numbers[0] == 1041


def test_no_apex_is_annotated_the_middle_frame_is_taken_and_reported(root):
    for clip in reader("smic", root).clips():
        assert clip.apex == clip.offset // 2
        assert clip.repairs == ("apex not annotated: middle frame taken",)


def test_smic_2_drops_surprise_and_other_cameras_have_their_frame_rate(root):
    assert {c.emotion for c in reader("smic", root, "dataset.classes=smic_2").clips()} == {"negative", "positive"}
    (root / "HS").rename(root / "NIR")
    nir = reader("smic", root, "dataset.modality=NIR")
    assert nir.fps == 25 and len(nir.clips()) == 14


@pytest.mark.parametrize(
    ("slip", "message"),
    [
        ("missing_frames", r"clip folder .*s1_ne_01: frames 1043 missing from"),
        ("unknown_emotion", r"clip folder .*micro/happy/s1_ha_01: emotion 'happy' is not in class scheme 'smic_3'"),
        (
            "misnamed_folder",
            r"clip folder .*micro/negative/clip7: its path 'HS/s1/micro/negative/clip7' does not "
            r"match dataset.path_regex",
        ),
    ],
)
def test_unusable_data_fails_naming_the_folder(root, slip, message):
    first = root / "HS/s1/micro/negative/s1_ne_01"
    if slip == "missing_frames":
        (first / "image001043.bmp").unlink()
    elif slip == "unknown_emotion":
        shutil.copytree(first, root / "HS/s1/micro/happy/s1_ha_01")
    else:
        shutil.copytree(first, root / "HS/s1/micro/negative/clip7")
    with pytest.raises(DataError, match=message):
        reader("smic", root).clips()


def test_a_pipeline_can_spot_the_apex_the_reader_left_unannotated(root):
    """The reader stays on its floor (middle frame, reported); motion spotting is a preprocessing step."""
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        pipeline = instantiate(compose("train", overrides=["preprocessing=flow_ststnet_spotted"]).preprocessing)
    assert isinstance(pipeline.steps["frames"], LoadFrames) and isinstance(pipeline.steps["apex"], ApexSpotting)
    clip = next(c for c in reader("smic", root).clips() if c.uid == "smic/s01/s01_po_01")
    sample = {"clip": clip}
    for name in ("frames", "apex"):
        sample = pipeline.steps[name](sample)
    assert (clip.apex, sample["key_positions"]["apex"]) == (1, 2)  # middle frame; the rendered apex
