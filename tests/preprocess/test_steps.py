"""Each pipeline step on tiny clips written to disk: what it adds to the sample, and how it fails."""

import dataclasses

import cv2
import numpy as np
import pytest
from skimage import data

from mer_lightning.clip import Repair
from mer_lightning.preprocess.landmark_features import sfem_intensity
from mer_lightning.preprocess.landmarks import LandmarkError
from mer_lightning.preprocess.pipeline import Pipeline
from mer_lightning.preprocess.sample import PreprocessError
from mer_lightning.preprocess.steps import (
    Align,
    ApexSpotting,
    DynamicImage,
    ExpressionIntensity,
    FrameDifference,
    LandmarkFeatures,
    Landmarks,
    LoadFrames,
    LoadKeyFrames,
    Magnify,
    OpticalFlow,
    Regions,
    RelativeToKeyFrame,
    Resize,
    face,
)
from tests.preprocess.tiny_clips import write_clip


@pytest.fixture
def clip(tmp_path):
    return write_clip(tmp_path / "clip", num_frames=10, onset=1, apex=4, offset=8)


def run(clip, *pipeline_steps):
    sample = {"clip": clip}
    for step in pipeline_steps:
        sample = step(sample)
    return sample


# --- loading -------------------------------------------------------------------------------------------------------


def test_load_key_frames_records_where_the_key_frames_are(clip):
    sample = run(clip, LoadKeyFrames(keys=("apex", "onset")))
    assert sample["frames"].shape == (2, 64, 64, 3) and sample["frames"].dtype == np.uint8
    assert sample["key_positions"] == {"apex": 0, "onset": 1}
    np.testing.assert_array_equal(sample["frame_positions"], [4, 1])


def test_load_frames_reads_onset_to_offset_or_the_whole_clip(clip):
    sample = run(clip, LoadFrames())
    assert len(sample["frames"]) == 8 and sample["key_positions"] == {"onset": 0, "apex": 3, "offset": 7}
    whole = run(clip, LoadFrames(span="clip"))
    assert len(whole["frames"]) == 10 and whole["key_positions"] == {"onset": 1, "apex": 4, "offset": 8}
    np.testing.assert_array_equal(whole["frames"][1:9], sample["frames"])


def test_load_frames_samples_to_a_fixed_count(clip):
    uniform = run(clip, LoadFrames(num_frames=4))
    np.testing.assert_array_equal(uniform["frame_positions"], [1, 3, 6, 8])  # round(linspace(0, 7, 4)) + onset
    assert uniform["key_positions"] == {"onset": 0, "apex": 1, "offset": 3}  # apex 4 is nearest to frame 3
    interpolated = run(clip, LoadFrames(num_frames=15, sampling="interpolate"))
    assert interpolated["frames"].shape == (15, 64, 64, 3) and interpolated["frames"].dtype == np.uint8
    np.testing.assert_allclose(interpolated["frame_positions"], np.linspace(1, 8, 15))
    assert interpolated["key_positions"]["apex"] == 6  # position 4.0 exactly


def test_three_frames_stretched_to_nine_along_the_flow_keep_the_first_and_third(clip):
    three = dataclasses.replace(clip, apex=clip.onset + 2, offset=clip.onset + 2)  # a micro form (MicroForms)
    real = run(three, LoadFrames())["frames"]
    nine = run(three, LoadFrames(num_frames=9, sampling="flow"))
    assert nine["frames"].shape == (9, 64, 64, 3) and nine["frames"].dtype == np.uint8
    np.testing.assert_array_equal(nine["frames"][[0, 4, 8]], real)  # frames 1, 2 and 3 of the clip, unchanged
    np.testing.assert_allclose(nine["frame_positions"], np.linspace(1, 3, 9))
    assert nine["key_positions"] == {"onset": 0, "apex": 8, "offset": 8}
    between = nine["frames"][1:4].astype(np.float32)
    assert not any(np.array_equal(frame, real[0]) or np.array_equal(frame, real[1]) for frame in between)
    with pytest.raises(ValueError, match="flow_method"):
        LoadFrames(sampling="flow", flow_method="raft")


def test_optical_flow_finds_key_frames_whichever_loader_read_them(clip):
    flow = OpticalFlow(method="farneback")
    by_keys = run(clip, LoadKeyFrames(), flow)["flow"]
    by_span = run(clip, LoadFrames(), flow)["flow"]
    assert by_keys.shape == (3, 64, 64)
    np.testing.assert_array_equal(by_keys, by_span)
    with pytest.raises(ValueError, match="key frame 'offset' is not among the loaded frames"):
        run(clip, LoadKeyFrames(), OpticalFlow(target="offset"))


def test_an_unreadable_frame_is_named_with_its_clip(clip):
    clip.frames[4].write_bytes(b"not a png")
    pipeline = Pipeline({"frames": LoadKeyFrames()}, outputs=["frames"])
    with pytest.raises(PreprocessError, match=r"clip tiny/sub01/EP01: cannot read image .*img5\.png"):
        pipeline(clip)


def test_frames_of_different_sizes_are_named(clip):
    cv2.imwrite(str(clip.frames[4]), np.zeros((32, 64, 3), np.uint8))
    with pytest.raises(PreprocessError, match=r"img5\.png is 64x32"):
        run(clip, LoadFrames())


@pytest.mark.parametrize(
    ("make", "setting"),
    [
        (lambda: LoadFrames(span="middle"), "span"),
        (lambda: LoadFrames(num_frames=0), "num_frames"),
        (lambda: LoadFrames(sampling="random"), "sampling"),
        (lambda: LoadKeyFrames(keys=("peak",)), "keys"),
        (lambda: ApexSpotting(policy="largest"), "policy"),
        (lambda: Landmarks(backend="openface"), "backend"),
        (lambda: Landmarks(backend="dlib", options={"weights": "x"}), "options"),
        (lambda: Landmarks(backend="annotation", options={"upsample": 2}), "options"),
        (lambda: Align(size=(0, 10)), "size"),
        (lambda: Align(eye_positions=(0.3, 0.7)), "eye_positions"),
        (lambda: OpticalFlow(source="start"), "source/target"),
        (lambda: FrameDifference(rescale="log"), "rescale"),
        (lambda: DynamicImage(variant="fast"), "variant"),
        (lambda: DynamicImage(segment=("offset", "onset")), "segment"),
        (lambda: DynamicImage(size=(112,)), "size"),
        (lambda: Regions(kind="grid"), "kind"),
        (lambda: Regions(names=("forehead",)), "names"),
        (lambda: Regions(kind="aouayeb", names=("mouth", "chin")), "names"),
        (lambda: Regions(source="flow", time_first=True), "time_first"),
        (lambda: Regions(source="flow", grey=True), "grey"),
        (lambda: Magnify(low=30, high=20), "low"),
        (lambda: Magnify(pyramid="steerable"), "pyramid"),
        (lambda: Resize(key="flow", size=(28, 28.5)), "size"),
    ],
)
def test_a_bad_setting_fails_when_the_step_is_made_and_names_it(make, setting):
    with pytest.raises(ValueError, match=rf"preprocessing: .*{setting}"):
        make()


# --- apex ----------------------------------------------------------------------------------------------------------


def test_apex_spotting_replaces_the_apex_by_policy(clip):
    annotated = dataclasses.replace(clip, apex=2)
    assert run(annotated, LoadFrames(), ApexSpotting())["key_positions"]["apex"] == 3  # frame 4 moved most
    assert run(annotated, LoadFrames(), ApexSpotting(policy="middle"))["key_positions"]["apex"] == 3  # (0 + 7) // 2
    kept = run(annotated, LoadFrames(), ApexSpotting(replace="repaired"))
    assert kept["key_positions"]["apex"] == 1
    repaired = dataclasses.replace(annotated, repairs=(Repair("apex", "apex '' unusable: middle frame taken"),))
    assert run(repaired, LoadFrames(), ApexSpotting(replace="repaired"))["key_positions"]["apex"] == 3


# --- landmarks and alignment ---------------------------------------------------------------------------------------


def test_annotated_landmarks_of_the_onset_or_of_every_loaded_frame(clip):
    stored = np.load(clip.landmarks)
    onset = run(clip, LoadFrames(), Landmarks())["landmarks"]
    np.testing.assert_array_equal(onset, stored[1])
    tracked = run(clip, LoadFrames(num_frames=3), Landmarks(track=True))["landmarks"]
    np.testing.assert_array_equal(tracked, stored[[1, 5, 8]])  # round(linspace(0, 7, 3)) = 0, 4, 7, plus onset 1
    blended = run(clip, LoadFrames(num_frames=15, sampling="interpolate"), Landmarks(track=True))["landmarks"]
    np.testing.assert_allclose(blended[1], (stored[1] + stored[2]) / 2, atol=1e-5)  # position 1.5


def test_annotation_problems_are_named(clip, tmp_path):
    np.save(clip.landmarks, np.zeros((3, 68, 2), np.float32))
    with pytest.raises(PreprocessError, match=r"landmarks.npy holds landmarks of 3 frames, the clip has 10"):
        run(clip, LoadFrames(), Landmarks())
    np.save(clip.landmarks, np.zeros((68, 2), np.float32))
    with pytest.raises(PreprocessError, match="track: true needs every frame"):
        run(clip, LoadFrames(), Landmarks(track=True))
    with pytest.raises(PreprocessError, match="has no landmark file"):
        run(dataclasses.replace(clip, landmarks=None), LoadFrames(), Landmarks())


class FakeDetector:
    """Stands in for a detection backend: records the frames it sees, finds no face in a dark one."""

    seen: list = []

    def __init__(self, upsample: int = 1) -> None:
        self.upsample = upsample

    def detect(self, image):
        FakeDetector.seen.append(image)
        if image.mean() < 10:
            raise LandmarkError("no face found")
        return np.full((68, 2), self.upsample, np.float32)


def test_detectors_run_on_the_onset_frame_unless_tracking(clip, monkeypatch):
    monkeypatch.setitem(face._DETECTORS, "dlib", FakeDetector)
    face._detector.cache_clear()
    FakeDetector.seen = []
    sample = run(clip, LoadFrames(), Landmarks(backend="dlib", options={"upsample": 3}))
    assert sample["landmarks"].shape == (68, 2) and sample["landmarks"][0, 0] == 3
    assert len(FakeDetector.seen) == 1 and np.shares_memory(FakeDetector.seen[0], sample["frames"][0])
    tracked = run(clip, LoadFrames(), Landmarks(backend="dlib", track=True, options={"upsample": 3}))
    assert tracked["landmarks"].shape == (8, 68, 2) and len(FakeDetector.seen) == 9
    cv2.imwrite(str(clip.frames[1]), np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(PreprocessError, match=r"img2\.png: no face found"):
        run(clip, LoadFrames(), Landmarks(backend="dlib", options={"upsample": 3}))
    face._detector.cache_clear()


@pytest.mark.slow
def test_dlib_landmarks_on_a_real_face(tmp_path):
    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    face = dataclasses.replace(write_clip(tmp_path / "c", num_frames=3, onset=0, apex=1, offset=2), frames=(path,) * 3)
    points = run(face, LoadFrames(), Landmarks(backend="dlib"))["landmarks"]
    assert points[17:27, 1].mean() < points[36:48, 1].mean() < points[30:36, 1].mean() < points[48:68, 1].mean()


def test_align_moves_the_onset_eyes_to_their_place_with_one_transform(clip):
    size = (80, 60)
    sample = run(clip, LoadFrames(), Landmarks(track=True), Align(size=size, eye_positions=((0.25, 0.4), (0.75, 0.4))))
    assert sample["frames"].shape == (8, 80, 60, 3)
    onset = sample["landmarks"][0]
    np.testing.assert_allclose(onset[36:42].mean(0), [15, 32], atol=1e-3)
    np.testing.assert_allclose(onset[42:48].mean(0), [45, 32], atol=1e-3)
    # The eyes do not move in the clip, so with one transform they stay put on every frame.
    np.testing.assert_allclose(sample["landmarks"][:, 36:48], np.broadcast_to(onset[36:48], (8, 12, 2)), atol=1e-3)


def test_align_names_landmarks_that_are_not_a_face(clip):
    np.save(clip.landmarks, np.zeros((10, 68, 2), np.float32))
    with pytest.raises(PreprocessError, match="cannot align"):
        run(clip, LoadFrames(), Landmarks(), Align())
    with pytest.raises(ValueError, match="needs landmarks"):
        run(clip, LoadFrames(), Align())


# --- model inputs --------------------------------------------------------------------------------------------------


def test_dynamic_image_of_a_still_clip_is_all_zero(tmp_path):
    still = write_clip(tmp_path / "still", motion=0.0)
    image = run(still, LoadFrames(), DynamicImage(size=(16, 24)))["dynamic"]
    assert image.shape == (3, 16, 24) and image.dtype == np.float32 and not image.any()


def test_dynamic_image_of_a_segment(clip):
    sample = run(clip, LoadFrames(), DynamicImage(segment=("onset", "apex"), variant="learnet"))
    assert sample["dynamic"].shape == (3, 64, 64) and 0 <= sample["dynamic"].min() < sample["dynamic"].max() <= 255


def test_frame_difference_is_apex_minus_onset_channels_first(clip):
    sample = run(clip, LoadKeyFrames(), FrameDifference(rescale="none", output="d"))
    expected = sample["frames"][1].astype(np.float32) - sample["frames"][0]
    np.testing.assert_array_equal(sample["d"], expected.transpose(2, 0, 1))


def test_regions_of_frames_and_of_an_input(clip):
    sample = run(clip, LoadKeyFrames(), Landmarks(), OpticalFlow(method="farneback"))
    frames = Regions(names=("right_eye", "mouth"), size=(16, 20))(dict(sample))["regions"]
    assert frames.shape == (2, 2, 3, 16, 20) and frames.dtype == np.float32
    flow = Regions(kind="aouayeb", source="flow", size=(12, 12))(dict(sample))["regions"]
    assert flow.shape == (6, 3, 12, 12)
    sequence = Regions(names=("right_eye", "mouth"), size=(16, 20), time_first=True)(dict(sample))["regions"]
    np.testing.assert_array_equal(sequence, frames.swapaxes(0, 1))  # (T, R, C, h, w): frame by frame
    grey = Regions(names=("mouth",), size=(16, 20), time_first=True, grey=True)(dict(sample))["regions"]
    assert grey.shape == (2, 1, 1, 16, 20)
    luma = frames[1, :, :1] * 0.299 + frames[1, :, 1:2] * 0.587 + frames[1, :, 2:] * 0.114  # mouth, every frame
    assert np.abs(grey[:, 0] - luma).max() < 3  # the luma of the colour crops (up to rounding and resampling)


def test_landmark_features_and_intensity_need_tracked_landmarks(clip):
    sample = run(clip, LoadFrames(num_frames=5), Landmarks(track=True), LandmarkFeatures(), ExpressionIntensity())
    maps = sample["lmf"]
    assert maps.shape == (4, 1, 68, 68) and maps.min() >= -1 and maps.max() == 255
    assert sample["sfem"].shape == (1,) and sample["sfem"].dtype == np.float32
    assert sample["sfem"][0] == pytest.approx(sfem_intensity(sample["landmarks"]))
    for step in (LandmarkFeatures(), ExpressionIntensity()):
        with pytest.raises(ValueError, match=f"{type(step).__name__} needs landmarks of every frame"):
            run(clip, LoadFrames(), Landmarks(), step)


def test_magnify_enlarges_the_change_and_keeps_a_still_clip(clip, tmp_path):
    loaded = run(clip, LoadFrames())
    magnified = Magnify(alpha=5, low=10, high=100, fps=200, levels=2)(dict(loaded))["frames"]
    change = lambda frames: np.abs(frames[3].astype(float) - frames[0]).sum()  # noqa: E731
    assert magnified.dtype == np.uint8 and change(magnified) > 1.5 * change(loaded["frames"])
    still = run(write_clip(tmp_path / "still", motion=0.0), LoadFrames())
    np.testing.assert_array_equal(Magnify(levels=2)(dict(still))["frames"], still["frames"])
    with pytest.raises(PreprocessError, match="cannot magnify"):
        Magnify(levels=9)(dict(still))


def test_resize_works_on_sequences(clip):
    sample = {"lmf": np.ones((4, 1, 68, 68), np.float32)}
    assert Resize(key="lmf", size=(32, 30))(sample)["lmf"].shape == (4, 1, 32, 30)


def test_a_sequence_relative_to_its_onset_is_what_moved_since(clip):
    sample = run(clip, LoadFrames(num_frames=4), Landmarks(), Regions(names=("mouth",), size=(8, 8), time_first=True))
    regions = sample["regions"].copy()
    relative = RelativeToKeyFrame(key="regions", frame="onset")(dict(sample))["regions"]
    np.testing.assert_array_equal(relative, regions - regions[0])  # the onset is the first loaded frame
    apex = sample["key_positions"]["apex"]
    assert not relative[0].any() and relative[apex].any()
    with pytest.raises(ValueError, match="one entry per loaded frame"):
        RelativeToKeyFrame()({**sample, "regions": regions.swapaxes(0, 1)[:, :2]})
    with pytest.raises(ValueError, match="preprocessing: frame"):
        RelativeToKeyFrame(frame="peak")
