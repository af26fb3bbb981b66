import numpy as np
import pytest

from mer_lightning.preprocess.difference import frame_difference


def frames():
    onset = np.full((4, 5, 3), 100, dtype=np.uint8)
    apex = onset.copy()
    apex[1, 2] = (250, 0, 100)
    return onset, apex


def test_signed_difference_does_not_wrap_around():
    onset, apex = frames()
    difference = frame_difference(onset, apex)
    assert difference.dtype == np.float32 and difference.shape == (4, 5, 3)
    np.testing.assert_array_equal(difference[1, 2], [150, -100, 0])
    assert np.count_nonzero(difference) == 2


def test_linear_rescale_keeps_no_change_at_the_middle():
    onset, apex = frames()
    difference = frame_difference(onset, apex, rescale="linear")
    assert difference[0, 0, 0] == 127.5
    np.testing.assert_allclose(difference[1, 2], [202.5, 77.5, 127.5])
    full = frame_difference(np.zeros((1, 1)), np.full((1, 1), 255), rescale="linear")
    assert full[0, 0] == 255.0


def test_minmax_rescale_fills_the_range_and_handles_no_change():
    onset, apex = frames()
    difference = frame_difference(onset, apex, rescale="minmax")
    assert difference.min() == 0.0 and difference.max() == 255.0
    assert difference[1, 2, 1] == 0.0 and difference[1, 2, 0] == 255.0
    still = frame_difference(onset, onset, rescale="minmax")
    np.testing.assert_array_equal(still, 0.0)


def test_rejects_mismatched_frames_and_unknown_rescale():
    onset, apex = frames()
    with pytest.raises(ValueError, match="one shape"):
        frame_difference(onset, apex[:2])
    with pytest.raises(ValueError, match="rescale"):
        frame_difference(onset, apex, rescale="log")
