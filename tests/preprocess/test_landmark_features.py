import numpy as np
import pytest

from mer_lightning.preprocess.landmark_features import (
    landmark_feature_maps,
    normalize_feature_maps,
    pairwise_distances,
    sfem_intensity,
)


def random_clip(frames=5, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.uniform(50, 200, (68, 2))
    return (base + rng.normal(0, 0.8, (frames, 68, 2))).astype(np.float32)


def test_maps_are_symmetric_with_zero_diagonal():
    maps = landmark_feature_maps(random_clip(frames=4))
    assert maps.shape == (3, 68, 68) and maps.dtype == np.float32
    np.testing.assert_allclose(maps, maps.transpose(0, 2, 1), atol=1e-5)
    np.testing.assert_array_equal(np.diagonal(maps, axis1=1, axis2=2), 0.0)


def test_lmf_and_its_normalisation_against_a_hand_computation_on_three_landmarks():
    # A 3-4-5 triangle; then point 1 moves from (3, 0) to (6, 0) and point 2 from (0, 4) to (0, 2).
    clip = np.array([[[0, 0], [3, 0], [0, 4]], [[0, 0], [6, 0], [0, 2]]], dtype=np.float32)
    np.testing.assert_allclose(pairwise_distances(clip[0]), [[0, 3, 4], [3, 0, 5], [4, 5, 0]])
    (lmf,) = landmark_feature_maps(clip)
    d01, d02, d12 = 6 - 3, 2 - 4, np.sqrt(6**2 + 2**2) - 5  # the distances' changes: +3, -2, +1.3246
    np.testing.assert_allclose(lmf, [[0, d01, d02], [d01, 0, d12], [d02, d12, 0]], rtol=1e-6)
    # m = max |LMF| = 3: 128 (x/m)^0.5 + 127 where x > 0, -128 (|x|/m)^0.5 + 127 where x < 0, 127 where x = 0
    image = normalize_feature_maps(lmf[None])[0]
    expected = [
        [127, 255, 127 - 128 * np.sqrt(2 / 3)],
        [255, 127, 127 + 128 * np.sqrt(d12 / 3)],
        [127 - 128 * np.sqrt(2 / 3), 127 + 128 * np.sqrt(d12 / 3), 127],
    ]
    np.testing.assert_allclose(image, expected, rtol=1e-6)  # 255, 22.49, 212.05
    assert image.dtype == np.float32


def test_rigid_motion_gives_no_feature():
    clip = random_clip(frames=1)[0]
    angle = np.deg2rad(10)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = clip @ rotation.T + [12.0, -7.0]
    np.testing.assert_allclose(landmark_feature_maps(np.stack([clip, moved])), 0.0, atol=1e-3)


def test_normalisation_formula_and_edge_cases():
    maps = np.array([[[0.0, 4.0], [-1.0, -4.0]]])
    np.testing.assert_allclose(
        normalize_feature_maps(maps),
        [[[127.0, 255.0], [127.0 - 128.0 * 0.5, -1.0]]],  # -4 -> -1, as the formula says
    )
    images = normalize_feature_maps(np.zeros((2, 68, 68)))
    assert np.isfinite(images).all()
    np.testing.assert_array_equal(images, 127.0)
    # Each frame is normalised by its own maximum: a frame of tiny motion still reaches 255.
    mixed = np.zeros((2, 3, 3))
    mixed[0, 0, 1] = 10.0
    mixed[1, 0, 1] = 0.01
    images = normalize_feature_maps(mixed)
    assert images[0, 0, 1] == 255.0 and images[1, 0, 1] == 255.0


def test_sfem_is_invariant_to_scaling_and_moving_the_face():
    clip = random_clip()
    value = sfem_intensity(clip)
    assert value > 0
    assert sfem_intensity(clip * 2) == pytest.approx(value, rel=1e-6)  # the same face, twice as large
    for s in (0.5, 3.0):
        assert sfem_intensity(clip * s) == pytest.approx(value, rel=1e-6)
    angle = np.deg2rad(25)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    assert sfem_intensity(clip @ rotation.T + 40.0) == pytest.approx(value, rel=1e-5)


def test_sfem_by_hand_on_one_map():
    clip = random_clip(frames=2)
    width = np.linalg.norm(clip[1, 0] - clip[1, 16])  # points 1 and 17 (1-based) of the frame the map ends on
    nose = np.linalg.norm(clip[1, 27] - clip[1, 33])  # points 28 and 34
    total = np.abs(pairwise_distances(clip[1]) - pairwise_distances(clip[0])).sum()
    assert sfem_intensity(clip) == pytest.approx(total / np.sqrt(width * nose), rel=1e-5)


def test_sfem_of_a_still_clip_is_zero_and_bigger_motion_is_more_intense():
    still = np.repeat(random_clip(frames=1), 4, axis=0)
    assert sfem_intensity(still) == 0.0
    base = random_clip(frames=1)[0]
    small = np.stack([base, base + np.r_[np.zeros((48, 2)), np.full((20, 2), 0.5)]])  # mouth points move a little
    large = np.stack([base, base + np.r_[np.zeros((48, 2)), np.full((20, 2), 5.0)]])
    assert 0 < sfem_intensity(small) < sfem_intensity(large)


def test_rejects_a_single_frame():
    with pytest.raises(ValueError, match="T >= 2"):
        landmark_feature_maps(random_clip(frames=1))
    with pytest.raises(ValueError, match="T >= 2"):
        sfem_intensity(random_clip(frames=1))
