import numpy as np
import pytest

from mer_lightning.preprocess.magnify import magnify

FPS, T = 30.0, 32
TIME = np.arange(T) / FPS
IN_BAND, OUT_OF_BAND = 3.75, 11.25  # Hz; whole numbers of periods over 32 frames at 30 fps
LOW, HIGH = 3.0, 4.5


def brightening(frequency, amplitude=4.0):
    """A grey clip whose central 8x8 patch brightens and darkens sinusoidally."""
    frames = np.full((T, 32, 32, 3), 100.0)
    frames[:, 12:20, 12:20] += amplitude * np.sin(2 * np.pi * frequency * TIME)[:, None, None, None]
    return np.rint(frames).astype(np.uint8)


def moving_spot(amplitude_px=0.3):
    """A grey Gaussian spot whose x position oscillates by a fraction of a pixel at the in-band frequency."""
    ys, xs = np.indices((32, 48))
    shift = amplitude_px * np.sin(2 * np.pi * IN_BAND * TIME)
    spots = [60 + 150 * np.exp(-((xs - 24 - s) ** 2 + (ys - 16) ** 2) / (2 * 4.0**2)) for s in shift]
    return np.rint(np.stack(spots)).astype(np.uint8), shift


def centre_x(frames):
    weight = np.clip(frames.astype(np.float64) - 60, 0, None)
    xs = np.indices(frames.shape[1:])[1]
    return (xs * weight).sum(axis=(1, 2)) / weight.sum(axis=(1, 2))


def temporal_spread(frames):
    return frames[:, 14:18, 14:18].astype(np.float64).std(axis=0).mean()


@pytest.mark.parametrize(
    "pyramid, temporal_filter, gain",
    [
        ("laplacian", "ideal", 4.0),
        ("laplacian", "butterworth", 3.0),
        ("gaussian", "ideal", 1.5),  # the coarsest level is a blur, so a small patch gains less
        ("gaussian", "butterworth", 1.5),
    ],
)
def test_in_band_brightening_is_amplified_and_out_of_band_is_not(pyramid, temporal_filter, gain):
    in_band = brightening(IN_BAND)
    out = magnify(in_band, 5.0, LOW, HIGH, FPS, pyramid, 3, temporal_filter)
    assert out.shape == in_band.shape and out.dtype == np.uint8
    assert temporal_spread(out) > gain * temporal_spread(in_band)
    out_of_band = brightening(OUT_OF_BAND)
    ratio = temporal_spread(magnify(out_of_band, 5.0, LOW, HIGH, FPS, pyramid, 3, temporal_filter))
    assert ratio < 1.3 * temporal_spread(out_of_band)


def test_sub_pixel_motion_is_magnified():
    frames, shift = moving_spot()
    out = magnify(frames[..., None].repeat(3, axis=-1), 5.0, LOW, HIGH, FPS, "laplacian", 3)[..., 0]
    before, after = np.ptp(centre_x(frames)), np.ptp(centre_x(out))
    assert after > 4.0 * before
    assert np.corrcoef(centre_x(out), shift)[0, 1] > 0.99  # same direction and timing, just larger


@pytest.mark.parametrize("pyramid", ["laplacian", "gaussian"])
def test_alpha_zero_returns_the_input(pyramid):
    frames = brightening(IN_BAND)
    np.testing.assert_array_equal(magnify(frames, 0.0, LOW, HIGH, FPS, pyramid, 3), frames)
    grey, _ = moving_spot()
    np.testing.assert_array_equal(magnify(grey, 0.0, LOW, HIGH, FPS, pyramid, 2, "butterworth"), grey)


def test_still_clip_is_unchanged():
    still = np.full((T, 16, 16, 3), 77, dtype=np.uint8)
    np.testing.assert_array_equal(magnify(still, 20.0, LOW, HIGH, FPS), still)


def test_rejects_bad_settings():
    frames = brightening(IN_BAND)
    with pytest.raises(ValueError, match="low < high"):
        magnify(frames, 5.0, 5.0, 4.0, FPS)
    with pytest.raises(ValueError, match="Butterworth"):
        magnify(frames, 5.0, 3.0, 15.0, FPS, temporal_filter="butterworth")
    with pytest.raises(ValueError, match="pyramid levels"):
        magnify(frames, 5.0, LOW, HIGH, FPS, levels=8)
    with pytest.raises(ValueError, match="pyramid"):
        magnify(frames, 5.0, LOW, HIGH, FPS, pyramid="steerable")
