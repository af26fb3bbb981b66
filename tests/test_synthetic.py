"""The synthetic generator: deterministic, in the CASME II layout the reader expects, landmarks that follow the
pixels, idempotent and safe to call concurrently."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mer_lightning.datasets.schemes import SCHEMES
from mer_lightning.datasets.synthetic import (
    CASME2_COLUMNS,
    CASME2_EMOTIONS,
    CASME2_SHEET,
    EMOTIONS,
    MANIFEST,
    SyntheticDataset,
    SyntheticSettings,
    emotion_plan,
    generate,
    is_current,
    render_clip,
    render_dataset,
    render_face,
)
from tests.datasets.layouts import reader

TINY = SyntheticSettings(subjects=2, clips_per_subject=4, min_frames=8, max_frames=8, height=64, width=64)


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.parent.iterdir() if p.name.startswith(f".{root.name}.")]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("tiny") / "synthetic", TINY)


def test_same_settings_give_byte_identical_files(tiny, tmp_path):
    again = generate(tmp_path / "again", TINY)
    assert tree(tiny) == tree(again)
    assert tree(generate(tmp_path / "other_seed", SyntheticSettings(**{**TINY.__dict__, "seed": 1}))) != tree(tiny)


def test_layout_and_sheet(tiny):
    assert sorted(p.name for p in tiny.iterdir()) == sorted(["CASME2_RAW_selected", CASME2_SHEET, MANIFEST])
    raw = pd.read_excel(tiny / CASME2_SHEET, dtype=object)
    assert tuple(raw.columns) == CASME2_COLUMNS
    assert len(raw) == TINY.subjects * TINY.clips_per_subject
    sheet = pd.read_excel(tiny / CASME2_SHEET, dtype=str)
    assert sorted(set(sheet["Subject"])) == ["01", "02"]
    for row in raw.to_dict("records"):
        assert re.fullmatch(r"EP\d\d_\d\d", row["Filename"])
        assert re.fullmatch(r"\d+(\+\d+)*", row["Action Units"])
        assert row["Estimated Emotion"] in EMOTIONS
        assert all(isinstance(row[c], int) for c in ("OnsetFrame", "ApexFrame", "OffsetFrame"))
        assert 1 <= row["OnsetFrame"] < row["ApexFrame"] < row["OffsetFrame"] <= TINY.max_frames
        folder = tiny / "CASME2_RAW_selected" / f"sub{row['Subject']}" / row["Filename"]
        names = sorted(p.name for p in folder.iterdir())
        assert names == sorted([f"img{n}.jpg" for n in range(1, TINY.min_frames + 1)] + ["landmarks.npy"])
        frame = cv2.imread(str(folder / "img1.jpg"), cv2.IMREAD_UNCHANGED)
        assert frame.shape == (TINY.height, TINY.width, 3) and frame.dtype == np.uint8
        landmarks = np.load(folder / "landmarks.npy")
        assert landmarks.shape == (TINY.min_frames, 68, 2) and landmarks.dtype == np.float32
        assert ((landmarks >= 0) & (landmarks < TINY.width)).all()
    manifest = json.loads((tiny / MANIFEST).read_text())
    assert SyntheticSettings(**manifest["settings"]) == TINY and manifest["format_version"] >= 1


def test_the_casme2_reader_reads_it(tiny):
    casme2 = reader("casme2", tiny, "dataset.landmarks=landmarks.npy")
    clips = casme2.with_scheme("casme2_7").clips()
    assert len(clips) == TINY.subjects * TINY.clips_per_subject
    for clip in clips:
        assert clip.source_subject in ("sub01", "sub02") and not clip.repairs
        assert clip.frame_numbers == tuple(range(1, clip.num_frames + 1))
        assert 0 <= clip.onset < clip.apex < clip.offset < clip.num_frames
        assert np.load(clip.landmarks).shape == (clip.num_frames, 68, 2)
    composite = casme2.with_scheme("composite3").clips()
    labels = {
        subject: {c.label for c in composite if c.subject == subject} for subject in {c.subject for c in composite}
    }
    assert labels == {"casme2/sub01": {0, 1, 2}, "casme2/sub02": {0, 1, 2}}


BROWS_AND_UPPER_LIDS = [*range(17, 28), 37, 38, 43, 44]
MOUTH_AND_JAW = [*range(2, 15), *range(48, 68)]


@pytest.mark.parametrize(
    "aus, key, region",
    [
        ("12", [48, 54], MOUTH_AND_JAW),
        ("15", [48, 54], MOUTH_AND_JAW),
        ("26", [8, 57], MOUTH_AND_JAW),
        ("1+2", [19, 24], BROWS_AND_UPPER_LIDS),
        ("4", [21, 22], BROWS_AND_UPPER_LIDS),
    ],
)
def test_landmarks_move_where_the_pixels_move(aus, key, region):
    settings = SyntheticSettings(noise_std=0.0, jitter=0.0)
    face = render_face(settings, 3)
    clip = render_clip(face, "others", settings, index=5, action_units=aus)
    onset, apex = clip.frames[clip.onset].astype(np.float32), clip.frames[clip.apex].astype(np.float32)
    before, after = clip.landmarks[clip.onset], clip.landmarks[clip.apex]
    shift = np.linalg.norm(after - before, axis=1)
    assert 0.8 <= shift.max() <= 2.5 * settings.amplitude  # a few pixels at most
    moved = np.flatnonzero(shift > 0.4 * shift.max())
    assert set(key) <= set(moved)
    assert set(moved) <= set(region), f"AU{aus} moved landmarks {sorted(set(moved) - set(region))} outside its region"
    assert np.allclose(clip.landmarks[0], clip.landmarks[clip.offset], atol=1e-4)  # still before onset, after offset

    # the pixels changed around the moved landmarks and nowhere else
    change = np.abs(apex - onset).max(-1)
    yy, xx = np.mgrid[: settings.height, : settings.width]
    distance = np.min([np.hypot(xx - x, yy - y) for x, y in before[moved]], axis=0)
    assert change[distance < 16].sum() > 0.95 * change.sum()
    assert (change[distance > 16] > 1).mean() < 0.005  # a few pixels of a sharp edge (the hairline) at most

    # the texture under each moved landmark moved with it: the apex patch at the new position matches the onset
    # patch at the old one better than the apex patch at the old position does
    grey_on, grey_ap = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in (onset, apex))
    followed = stayed = 0.0
    for i in moved:
        ref = cv2.getRectSubPix(grey_on, (9, 9), tuple(map(float, before[i])))
        followed += np.abs(cv2.getRectSubPix(grey_ap, (9, 9), tuple(map(float, after[i]))) - ref).mean()
        stayed += np.abs(cv2.getRectSubPix(grey_ap, (9, 9), tuple(map(float, before[i]))) - ref).mean()
    assert followed < 0.35 * stayed


def test_generate_is_idempotent_and_regenerates_on_new_settings(tmp_path):
    root = tmp_path / "data"
    generate(root, TINY)
    frame = next(root.rglob("img1.jpg"))
    stamp = (root.stat().st_ino, frame.stat().st_mtime_ns)
    assert generate(root, TINY) == root.absolute()
    assert (root.stat().st_ino, frame.stat().st_mtime_ns) == stamp  # untouched

    changed = SyntheticSettings(**{**TINY.__dict__, "noise_std": 3.0})
    assert not is_current(root, changed)
    before = tree(root)
    generate(root, changed)
    assert is_current(root, changed) and not is_current(root, TINY)
    after = tree(root)
    assert before.keys() == after.keys() and before[MANIFEST] != after[MANIFEST]
    assert before[str(frame.relative_to(root))] != after[str(frame.relative_to(root))]
    assert not leftovers(root)


def test_generate_never_replaces_a_folder_it_did_not_write(tmp_path):
    root = tmp_path / "casme2"
    root.mkdir()
    (root / "precious.txt").write_text("real data")
    with pytest.raises(FileExistsError):
        generate(root, TINY)
    assert (root / "precious.txt").read_text() == "real data"
    assert not leftovers(root)


def test_concurrent_generation_leaves_one_complete_folder(tiny, tmp_path):
    root = tmp_path / "shared"
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: generate(root, TINY), range(3)))
    assert results == [root.absolute()] * 3
    assert tree(root) == tree(tiny)
    assert not leftovers(root)


@pytest.mark.parametrize("settings", [SyntheticSettings(), TINY], ids=["default", "tiny"])
def test_every_subject_has_the_three_composite_classes(settings):
    scheme = SCHEMES["composite3"]
    for subject in range(1, settings.subjects + 1):
        plan = emotion_plan(settings, subject)
        assert len(plan) == settings.clips_per_subject and set(plan) <= set(EMOTIONS)
        classes = Counter(scheme.classes[label] for e in plan if (label := scheme.label(e)) is not None)
        assert set(classes) == {"negative", "positive", "surprise"}
        assert max(classes.values()) - min(classes.values()) <= 1
    if settings == SyntheticSettings():
        assert Counter(emotion_plan(settings, 1))["others"] == 2
        everything = Counter(e for s in range(1, settings.subjects + 1) for e in emotion_plan(settings, s))
        assert set(everything) == set(CASME2_EMOTIONS)


def generator_overrides(settings: SyntheticSettings) -> list[str]:
    return [
        f"dataset.generator.{k}={json.dumps(v) if v is None or isinstance(v, tuple) else v}"
        for k, v in settings.__dict__.items()
    ]


def test_the_dataset_generates_itself_when_first_read(tmp_path):
    dataset = reader("synthetic", tmp_path / "synthetic", *generator_overrides(TINY))
    assert isinstance(dataset, SyntheticDataset) and dataset.settings == TINY
    assert not (tmp_path / "synthetic").exists()  # nothing happens before the clips are asked for
    clips = dataset.clips()
    assert is_current(tmp_path / "synthetic", TINY)
    assert len(clips) == TINY.subjects * TINY.clips_per_subject  # no "others" in a plan this small
    assert dataset.class_names == ("negative", "positive", "surprise")


@pytest.mark.parametrize("length", [3, 4, 6])
def test_short_clips_keep_onset_apex_offset_apart(length):
    settings = SyntheticSettings(min_frames=length, max_frames=length, height=48, width=48)
    face = render_face(settings, 1)
    for index, emotion in enumerate(emotion_plan(settings, 1)):
        clip = render_clip(face, emotion, settings, index)
        assert len(clip.frames) == length and 0 <= clip.onset < clip.apex < clip.offset < length


def test_bad_settings_are_refused():
    for bad in ({"min_frames": 2}, {"min_frames": 30}, {"height": 16}, {"amplitude_spread": 1.5}, {"layout": "x"}):
        with pytest.raises(ValueError):
            SyntheticSettings(**bad)


# --- settings added after the default set was frozen: at their defaults, the default set is what it always was ----

# sha256 of every clip's frames, landmarks and sheet row and of generator.json for `SyntheticSettings()`, recorded
# before neutral_fraction, emotions and motion_spread existed. If this changes, the default set changed: every cached
# input and every figure measured on it with it.
DEFAULT_SET_DIGEST = "67836a34826176405c9ef52ba9a8278448128fddbbfaa3c326708d60c8d609ce"


def content_digest(settings: SyntheticSettings) -> str:
    digest = hashlib.sha256(json.dumps(settings.manifest(), sort_keys=True).encode())
    for clip in render_dataset(settings):
        row = [clip.subject, clip.index, clip.emotion, clip.action_units, clip.onset, clip.apex, clip.offset]
        digest.update(json.dumps(row).encode())
        digest.update(clip.frames.tobytes())
        digest.update(clip.landmarks.tobytes())
    return digest.hexdigest()


@pytest.mark.slow
def test_the_default_set_is_unchanged_by_the_later_settings():
    assert content_digest(SyntheticSettings()) == DEFAULT_SET_DIGEST


def test_later_settings_at_their_defaults_are_not_recorded():
    """A folder generated before they existed stays current (it is not regenerated), and what its manifest says is
    still the whole truth."""
    format_1 = {
        "seed",
        "subjects",
        "clips_per_subject",
        "min_frames",
        "max_frames",
        "height",
        "width",
        "amplitude",
        "amplitude_spread",
        "noise_std",
        "jitter",
        "others_fraction",
        "jpeg_quality",
        "layout",
    }
    assert set(SyntheticSettings().manifest()["settings"]) == format_1
    later = SyntheticSettings(neutral_fraction=0.25, emotions=("anger", "tense"), motion_spread=2.0).manifest()
    assert later["settings"]["neutral_fraction"] == 0.25 and later["settings"]["emotions"] == ["anger", "tense"]
    assert later["settings"]["motion_spread"] == 2.0


def test_neutral_clips_have_no_action_unit_and_no_expression_motion():
    settings = SyntheticSettings(
        clips_per_subject=10,
        neutral_fraction=0.2,
        noise_std=0.0,
        jitter=0.0,
        height=64,
        width=64,
        min_frames=8,
        max_frames=8,
    )
    plan = emotion_plan(settings, 1)
    assert Counter(plan)["neutral"] == 2 and Counter(plan)["others"] == 1
    face = render_face(settings, 1)
    clips = [render_clip(face, emotion, settings, index) for index, emotion in enumerate(plan)]
    for clip in clips:
        still = np.abs(clip.frames.astype(int) - clip.frames[clip.onset].astype(int)).max()
        moved = np.abs(clip.landmarks - clip.landmarks[clip.onset]).max()
        if clip.emotion == "neutral":
            assert clip.action_units == "" and still == 0 and moved == 0
        else:
            assert clip.action_units and still > 10 and moved > 0.3


@pytest.mark.parametrize(
    "scheme, emotions, others, neutral",
    [
        ("fused4", ("anger", "disgust", "happiness", "surprise"), 2, 0),
        ("fused9", ("anger", "disgust", "fear", "happiness", "repression", "sadness", "surprise", "tense"), 2, 0),
        ("ckplus_7", ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise"), 0, 0),
        ("macro4", ("contempt", "happiness", "surprise"), 0, 3),
    ],
)
def test_a_plan_of_chosen_emotions_fills_every_class_of_its_scheme(scheme, emotions, others, neutral):
    settings = SyntheticSettings(
        subjects=3, emotions=emotions, others_fraction=others / 16, neutral_fraction=neutral / 16
    )
    classes = Counter()
    for subject in range(1, settings.subjects + 1):
        plan = emotion_plan(settings, subject)
        assert Counter(plan)["others"] == others and Counter(plan)["neutral"] == neutral
        assert set(plan) - {"others", "neutral"} == set(emotions)
        counts = Counter(plan[k] for k in range(len(plan)) if plan[k] in emotions)
        assert max(counts.values()) - min(counts.values()) <= 1  # in turn
        classes.update(SCHEMES[scheme].classes[label] for e in plan if (label := SCHEMES[scheme].label(e)) is not None)
    assert set(classes) == set(SCHEMES[scheme].classes)


def test_each_new_emotion_moves_its_own_action_units():
    settings = SyntheticSettings(noise_std=0.0, jitter=0.0)
    face = render_face(settings, 2)
    centre_x = face.landmarks[27:31, 0].mean()  # the nose bridge
    for emotion, expected in (("anger", {"4", "7", "23"}), ("tense", {"24"}), ("contempt", {"14"})):
        for index in range(6):
            clip = render_clip(face, emotion, settings, index)
            assert expected <= {a.lstrip("LR") for a in clip.action_units.split("+")}, clip.action_units
    # contempt is one-sided: the subject's right (the image's left) for R14, the other side for L14
    for side, sign in (("R", -1), ("L", 1)):
        clip = render_clip(face, "contempt", settings, 0, action_units=f"{side}14")
        shift = np.linalg.norm(clip.landmarks[clip.apex] - clip.landmarks[clip.onset], axis=1)
        moved = np.flatnonzero(shift > 0.4 * shift.max())
        assert len(moved) and (np.sign(face.landmarks[moved, 0] - centre_x) == sign).all(), (side, moved)
        assert clip.action_units == f"{side}14"


def test_sets_of_different_seeds_share_no_face():
    first, second = SyntheticSettings(), SyntheticSettings(seed=1000)
    faces = [render_face(s, subject).image for s in (first, second) for subject in range(1, 9)]
    for i in range(8):
        for j in range(8, 16):
            assert np.abs(faces[i] - faces[j]).mean() > 10, (i, j - 8)
    assert np.array_equal(render_face(first, 3).image, faces[2])  # while a seed's faces are its own, always


@pytest.mark.parametrize(
    "config, reader_type, classes",
    [
        ("synthetic_macro", "SheetFramesDataset", ("positive", "negative", "surprise", "neutral")),
        (
            "synthetic_ckplus",
            "CkPlusDataset",
            ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise"),
        ),
    ],
)
def test_the_macro_expression_sets_are_read_by_their_layouts_readers(tmp_path, config, reader_type, classes):
    small = [
        "dataset.generator.subjects=2",
        "dataset.generator.height=48",
        "dataset.generator.width=48",
        "dataset.generator.min_frames=6",
        "dataset.generator.max_frames=8",
    ]
    dataset = reader(config, None, f"paths.data_dir={tmp_path}", *small)
    assert type(dataset.dataset).__name__ == reader_type and dataset.root == tmp_path / config
    clips = dataset.clips()
    assert dataset.name == config and dataset.class_names == classes
    assert {dataset.class_names[c.label] for c in clips} == set(classes)
    assert all(c.dataset == config and c.read_landmarks(c.landmarks).shape == (c.num_frames, 68, 2) for c in clips)
    macro = dataset.settings
    assert macro.amplitude >= 3 * SyntheticSettings().amplitude and macro.seed != SyntheticSettings().seed
    if config == "synthetic_ckplus":  # CK+'s codes, 1 anger .. 7 surprise, in the emotion files
        codes = {int(float(p.read_text())) for p in tmp_path.glob(f"{config}/Emotion/*/*/*_emotion.txt")}
        assert codes == set(range(1, 8))
        assert all(c.onset == 0 and c.apex == c.offset == c.num_frames - 1 for c in clips)
    else:
        assert Counter(c.emotion for c in clips)["neutral"] == 2 * round(0.2 * 16)


def test_bad_new_settings_are_refused():
    for bad in (
        {"neutral_fraction": 1.0},
        {"neutral_fraction": 0.5, "others_fraction": 0.5},
        {"emotions": ["joy"]},
        {"emotions": []},
        {"motion_spread": 0.0},
    ):
        with pytest.raises(ValueError, match="SyntheticSettings"):
            SyntheticSettings(**bad)
