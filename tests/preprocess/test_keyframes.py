import numpy as np
import pytest

from mer_lightning.preprocess.keyframes import (
    flow_interpolate,
    middle_apex,
    sample_indices,
    spot_apex,
    temporal_interpolate,
)


def blob(cx, cy=32.0, height=64, width=96, sigma=5.0):
    """A bright Gaussian spot on a dark (20) background, RGB uint8."""
    ys, xs = np.indices((height, width))
    spot = 220 * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2)) + 20
    return np.repeat(spot[..., None], 3, axis=-1).round().astype(np.uint8)


def centroid_x(image):
    weight = np.clip(image[..., 0].astype(np.float64) - 20, 0, None)
    return (np.indices(weight.shape)[1] * weight).sum() / weight.sum()


def test_middle_apex():
    assert middle_apex(0, 10) == 5
    assert middle_apex(3, 4) == 3
    with pytest.raises(ValueError):
        middle_apex(5, 2)


@pytest.mark.parametrize("motion", ["absdiff", "farneback", "dis"])
def test_spot_apex_finds_the_largest_displacement_from_onset(motion):
    displacement = [0, 0, 1, 2, 3, 4, 6, 5, 4, 3, 2]  # largest at frame 6
    frames = np.stack([blob(30 + d) for d in displacement])
    assert spot_apex(frames, 0, 10, motion) == 6
    assert spot_apex(frames, 1, 5, motion) == 5  # restricted to onset..offset, returned as an index into frames
    still = np.repeat(blob(30)[None], 4, axis=0)
    assert spot_apex(still, 0, 3, motion) == 0


def test_spot_apex_rejects_bad_ranges_and_motions():
    frames = np.zeros((3, 8, 8), np.uint8)
    with pytest.raises(ValueError, match="onset"):
        spot_apex(frames, 2, 1)
    with pytest.raises(ValueError, match="motion"):
        spot_apex(frames, 0, 2, "magic")


def test_uniform_sampling():
    np.testing.assert_array_equal(sample_indices(10, 4), [0, 3, 6, 9])
    np.testing.assert_array_equal(sample_indices(3, 5), [0, 0, 1, 2, 2])
    np.testing.assert_array_equal(sample_indices(7, 1), [0])


def test_temporal_interpolation_blends_neighbours():
    frames = np.array([0, 10, 40], dtype=np.uint8)[:, None, None] * np.ones((1, 2, 3), np.uint8)
    out = temporal_interpolate(frames, 5)  # positions 0, 0.5, 1, 1.5, 2
    assert out.shape == (5, 2, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0, 0], [0, 5, 10, 25, 40])
    np.testing.assert_allclose(temporal_interpolate(frames[:1], 3)[:, 0, 0], [0, 0, 0])
    np.testing.assert_allclose(temporal_interpolate(frames, 2)[:, 0, 0], [0, 40])


@pytest.mark.parametrize("method", ["farneback", "dis"])
def test_flow_interpolation_moves_the_spot_instead_of_cross_fading(method):
    first, second = blob(40), blob(48)
    frames = flow_interpolate(np.stack([first, second]), 5, method)  # positions 0, 1/4, 1/2, 3/4, 1
    assert frames.shape == (5, 64, 96, 3) and frames.dtype == np.uint8
    for k, frame in enumerate(frames[1:-1], start=1):
        assert centroid_x(frame) == pytest.approx(40 + 8 * k / 4, abs=0.3)
        assert frame[..., 0].max() >= 235  # one full-strength spot, not two faded halves
    cross_fade = 0.5 * first.astype(np.float32) + 0.5 * second
    assert cross_fade[..., 0].max() < 200


def test_three_frames_made_into_nine_keep_the_three_and_fill_between_them():
    clip = np.stack([blob(40), blob(44), blob(52)])
    nine = flow_interpolate(clip, 9)
    assert nine.shape == (9, 64, 96, 3)
    for kept, original in zip((0, 4, 8), clip):
        np.testing.assert_array_equal(nine[kept], original)
    xs = [centroid_x(frame) for frame in nine]
    assert all(a < b for a, b in zip(xs, xs[1:]))  # the spot moves on through every synthesised frame
    assert xs[6] == pytest.approx(44 + 8 * 2 / 4, abs=0.4)


def test_interpolating_identical_frames_returns_them():
    frame = blob(40)
    np.testing.assert_array_equal(flow_interpolate(np.stack([frame, frame]), 4), np.stack([frame] * 4))
    np.testing.assert_array_equal(flow_interpolate(frame[None], 3), np.stack([frame] * 3))
    with pytest.raises(ValueError, match="n >= 1"):
        flow_interpolate(frame[None], 0)
