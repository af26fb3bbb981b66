import os

import face_alignment
import numpy as np
import pytest
import torch
from face_alignment.detection.sfd.net_s3fd import s3fd
from face_alignment.models import FAN
from skimage import data

from mer_lightning.preprocess.landmarks import (
    DlibLandmarks,
    FanLandmarks,
    LandmarkError,
    default_dlib_predictor_path,
    fan_weight_urls,
    heatmaps_to_points,
    url_file_name,
)

# --- dlib ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dlib_landmarks():
    return DlibLandmarks()  # loading the detector and the 100 MB predictor takes ~2.5 s


def test_the_predictor_ships_with_face_recognition_models():
    path = default_dlib_predictor_path()
    assert path.name == "shape_predictor_68_face_landmarks.dat" and path.is_file()


def test_a_missing_predictor_is_named(tmp_path):
    with pytest.raises(LandmarkError, match="nowhere.dat does not exist"):
        DlibLandmarks(predictor_path=tmp_path / "nowhere.dat")


@pytest.mark.slow
def test_dlib_puts_the_points_where_they_belong_on_a_real_face(dlib_landmarks):
    image = data.astronaut()
    points = dlib_landmarks.detect(image)
    assert points.shape == (68, 2) and points.dtype == np.float32
    x0, y0, x1, y1 = dlib_landmarks.face_box(image)
    # dlib's box is tight: brows and chin may pass it by a few pixels, so allow 15% of its size.
    pad_x, pad_y = 0.15 * (x1 - x0), 0.15 * (y1 - y0)
    assert np.all((points[:, 0] >= x0 - pad_x) & (points[:, 0] <= x1 + pad_x))
    assert np.all((points[:, 1] >= y0 - pad_y) & (points[:, 1] <= y1 + pad_y))
    eyes, nose_tip, mouth = points[36:48, 1].mean(), points[30:36, 1].mean(), points[48:68, 1].mean()
    brows, chin = points[17:27, 1].mean(), points[8, 1]
    assert brows < eyes < nose_tip < mouth < chin  # image y grows downwards
    assert points[36:42, 0].mean() < points[27:36, 0].mean() < points[42:48, 0].mean()  # 36-41 on the image's left


@pytest.mark.slow
def test_dlib_names_the_failure_on_a_blank_image(dlib_landmarks):
    with pytest.raises(LandmarkError, match="found no face in the 160x120 image"):
        dlib_landmarks.detect(np.zeros((120, 160, 3), dtype=np.uint8))


# --- FAN heatmap decoding ------------------------------------------------------------------------------------------


def gaussian_heatmaps(peaks, size=64, sigma=1.5):
    """(1, N, size, size) heatmaps with a Gaussian at each (x, y) peak."""
    ys, xs = np.indices((size, size))
    maps = [np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2)) for x, y in peaks]
    return np.stack(maps)[None].astype(np.float32)


def test_heatmap_decoding_of_known_peaks():
    # scale 0.32 makes the crop 64 px, the heatmap's own size; with the centre at (32, 32) image = heatmap coordinates.
    symmetric = gaussian_heatmaps([(20, 30), (5, 40)])
    np.testing.assert_allclose(heatmaps_to_points(symmetric, (32, 32), 0.32)[0], [[20.5, 30.5], [5.5, 40.5]])
    # A peak leaning right and up moves a quarter pixel each way.
    leaning = gaussian_heatmaps([(20.3, 29.7)])
    np.testing.assert_allclose(heatmaps_to_points(leaning, (32, 32), 0.32)[0], [[20.75, 30.25]])
    # The border pixel gets no quarter-pixel shift; scale and centre map back to the image.
    border = np.zeros((1, 1, 64, 64), np.float32)
    border[0, 0, 0, 63] = 1.0
    np.testing.assert_allclose(heatmaps_to_points(border, (32, 32), 0.32)[0], [[63.5, 0.5]])
    np.testing.assert_allclose(
        heatmaps_to_points(symmetric, (100, 50), 0.64)[0, 0], [(20.5 - 32) * 2 + 100, (30.5 - 32) * 2 + 50]
    )


@pytest.mark.slow
def test_heatmap_decoding_matches_face_alignment_before_its_truncation():
    from face_alignment.utils import get_preds_fromhm  # numba-compiled on first call (~10 s)

    rng = np.random.default_rng(0)
    heatmaps = gaussian_heatmaps(rng.uniform(0, 63, (68, 2)), sigma=2.0)
    heatmaps += rng.uniform(0, 0.05, heatmaps.shape).astype(np.float32)
    center, scale = np.array([312.3, 207.9]), 1.37
    _, theirs, _ = get_preds_fromhm(heatmaps, center, scale)
    ours = heatmaps_to_points(heatmaps, center, scale)
    np.testing.assert_array_equal(np.trunc(ours), theirs)  # face-alignment casts to int32


# --- FAN loading, offline ------------------------------------------------------------------------------------------


def test_fan_urls_come_from_face_alignment():
    urls = fan_weight_urls("sfd")
    assert urls == [
        face_alignment.api.models_urls["2DFAN-4"],
        face_alignment.detection.sfd.sfd_detector.models_urls["s3fd"],
    ]
    assert url_file_name(urls[0]) == "2DFAN4-11f355bf06.pth.tar"
    assert url_file_name("https://github.com/a/b/blob/master/blazeface.pth?raw=true") == "blazeface.pth"
    assert fan_weight_urls("sfd", {"path_to_detector": "/x/s3fd.pth"}) == urls[:1]
    with pytest.raises(ValueError, match="path_to_detector"):
        fan_weight_urls("scrfd")


def test_missing_fan_weights_are_named_with_folder_and_urls(tmp_path):
    with pytest.raises(LandmarkError) as error:
        FanLandmarks(torch_home=tmp_path)
    message = str(error.value)
    checkpoints = str(tmp_path / "hub" / "checkpoints")
    for url in fan_weight_urls("sfd"):
        assert url_file_name(url) in message and url in message
    assert checkpoints in message
    assert not (tmp_path / "hub" / "checkpoints").exists() or not os.listdir(checkpoints)  # nothing downloaded
    assert "TORCH_HOME" not in os.environ or os.environ["TORCH_HOME"] != str(tmp_path)  # restored


@pytest.fixture(scope="module")
def stand_in_torch_home(tmp_path_factory):
    """A TORCH_HOME holding stand-ins under face-alignment's own file names: a randomly initialised FAN state dict,
    and an S3FD state dict that is zero except for a bias making its coarsest level see one face per 128 px."""
    home = tmp_path_factory.mktemp("torch_home")
    checkpoints = home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    fan_url, detector_url = fan_weight_urls("sfd")
    torch.manual_seed(0)
    torch.save(FAN(4).state_dict(), checkpoints / url_file_name(fan_url))
    detector = s3fd()
    with torch.no_grad():
        for parameter in detector.parameters():
            parameter.zero_()
        for name, module in detector.named_modules():
            if name.endswith("mbox_conf"):  # background wins everywhere...
                module.bias[:-1] = 10.0
        detector.conv7_2_mbox_conf.bias.copy_(torch.tensor([0.0, 10.0]))  # ...except at the coarsest level
    torch.save(detector.state_dict(), checkpoints / url_file_name(detector_url))
    return home


@pytest.mark.slow
def test_fan_loads_offline_and_runs_end_to_end(stand_in_torch_home):
    landmarks = FanLandmarks(torch_home=stand_in_torch_home)
    image = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    points = landmarks.detect(image)  # random weights: the points mean nothing, but every stage ran
    assert points.shape == (68, 2) and points.dtype == np.float32 and np.isfinite(points).all()
    assert "TORCH_HOME" not in os.environ or os.environ["TORCH_HOME"] != str(stand_in_torch_home)


@pytest.mark.slow
def test_fan_names_the_failure_when_the_detector_finds_no_face(stand_in_torch_home):
    landmarks = FanLandmarks(torch_home=stand_in_torch_home, face_detector_kwargs={"filter_threshold": 1.1})
    with pytest.raises(LandmarkError, match="sfd face detector found no face in the 96x64 image"):
        landmarks.detect(np.zeros((64, 96, 3), dtype=np.uint8))


# --- annotations ---------------------------------------------------------------------------------------------------
