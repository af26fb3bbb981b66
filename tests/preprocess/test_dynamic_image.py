import numpy as np
import pytest

from mer_lightning.preprocess.dynamic_image import dynamic_image, rank_pooling_weights


def direct_sum(length, offset):
    """sum_{i=t..T} (2i - T - offset) / i, written out term by term."""
    return np.array([sum((2 * i - length - offset) / i for i in range(t, length + 1)) for t in range(1, length + 1)])


@pytest.mark.parametrize("length", [1, 2, 3, 7, 30])
def test_closed_forms_match_the_sums(length):
    np.testing.assert_allclose(rank_pooling_weights(length, "bilen"), direct_sum(length, 1), atol=1e-12)
    np.testing.assert_allclose(rank_pooling_weights(length, "learnet"), direct_sum(length, 0), atol=1e-12)


def test_hand_computed_three_frames():
    # H_1 = 1, H_2 = 3/2, H_3 = 11/6: alpha_1 = 6 - 4 * 11/6, alpha_2 = 4 - 4 * 5/6, alpha_3 = 2 - 4 * 1/3.
    np.testing.assert_allclose(rank_pooling_weights(3, "bilen"), [-4 / 3, 2 / 3, 2 / 3])
    # learnet: alpha_3 = 3/3, alpha_2 = 1/2 + 1, alpha_1 = -1 + 3/2.
    np.testing.assert_allclose(rank_pooling_weights(3, "learnet"), [1 / 2, 3 / 2, 1])
    frames = np.array([[[10.0]], [[40.0]], [[70.0]]])  # (T, H, W) grey, brightening by 30 a frame
    raw = dynamic_image(frames, "bilen", rescale=False)
    np.testing.assert_allclose(raw, [[-4 / 3 * 10 + 2 / 3 * 40 + 2 / 3 * 70]], rtol=1e-6)


def test_bilen_weights_sum_to_zero_and_learnet_to_length():
    for length in (2, 5, 16, 100):
        assert abs(rank_pooling_weights(length, "bilen").sum()) < 1e-9
        assert rank_pooling_weights(length, "learnet").sum() == pytest.approx(length)


def test_still_clip_gives_zero_raw_and_defined_rescaled_image():
    frame = np.random.default_rng(0).integers(0, 256, (8, 6, 3), dtype=np.uint8)
    still = np.repeat(frame[None], 10, axis=0)
    raw = dynamic_image(still, "bilen", rescale=False)
    assert raw.shape == (8, 6, 3) and raw.dtype == np.float32
    np.testing.assert_allclose(raw, 0.0, atol=1e-9)
    rescaled = dynamic_image(still, "bilen")
    assert np.isfinite(rescaled).all()
    np.testing.assert_array_equal(rescaled, 0.0)
    # learnet does not cancel the still content: its raw image is T times the frame.
    np.testing.assert_allclose(dynamic_image(still, "learnet", rescale=False), 10.0 * frame, rtol=1e-5)


def test_rescaled_image_spans_0_to_255_and_brightening_pixels_are_bright():
    frames = np.zeros((6, 4, 4, 3), dtype=np.uint8)
    frames[:, 0, 0] = (np.arange(6) * 40)[:, None]  # brightens over time
    frames[:, 3, 3] = (200 - np.arange(6) * 40)[:, None]  # darkens over time
    image = dynamic_image(frames)
    assert image.min() == 0.0 and image.max() == pytest.approx(255.0)
    assert image[0, 0, 0] == pytest.approx(255.0) and image[3, 3, 0] == 0.0


def test_rejects_unknown_variant_and_empty_clip():
    with pytest.raises(ValueError, match="variant"):
        rank_pooling_weights(3, "nope")
    with pytest.raises(ValueError, match="at least one frame"):
        rank_pooling_weights(0)
