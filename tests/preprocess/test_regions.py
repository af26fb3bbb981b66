import numpy as np

from mer_lightning.preprocess.regions import (
    AOUAYEB_FACE_SIZE,
    AOUAYEB_REGIONS,
    LANDMARK_GROUPS,
    aouayeb_face,
    crop_boxes,
    crop_regions,
    landmark_box,
)


def coordinate_image(height, width):
    """float32 image whose pixel value encodes its position: 1000 x + y."""
    ys, xs = np.indices((height, width))
    return (1000.0 * xs + ys).astype(np.float32)


def frontal_landmarks():
    """A rough frontal 68-point layout in a 200x200 image (only group positions matter here)."""
    points = np.zeros((68, 2), dtype=np.float32)
    points[0:17] = np.stack([np.linspace(30, 170, 17), 100 + 60 * np.sin(np.linspace(0, np.pi, 17))], axis=1)
    points[17:22] = np.stack([np.linspace(45, 90, 5), np.full(5, 55.0)], axis=1)
    points[22:27] = np.stack([np.linspace(110, 155, 5), np.full(5, 55.0)], axis=1)
    points[27:36] = np.stack([np.full(9, 100.0), np.linspace(70, 120, 9)], axis=1)
    ring = np.stack([np.linspace(-12, 12, 6), np.array([0, -4, -4, 0, 4, 4])], axis=1)
    points[36:42] = [70, 75] + ring
    points[42:48] = [130, 75] + ring
    points[48:68] = np.stack([np.linspace(75, 125, 20), 140 + 6 * np.sin(np.linspace(0, 2 * np.pi, 20))], axis=1)
    return points


def test_landmark_box_margin_and_squaring():
    points = np.array([[10.0, 20.0], [30.0, 25.0]])
    assert landmark_box(points, [0, 1], margin=0.0, square=False) == (10.0, 20.0, 30.0, 25.0)
    assert landmark_box(points, [0, 1], margin=0.0, square=True) == (10.0, 12.5, 30.0, 32.5)
    assert landmark_box(points, [0, 1], margin=0.25, square=True) == (5.0, 7.5, 35.0, 37.5)


def test_group_crops_contain_their_landmarks_and_have_the_right_shapes():
    image = np.zeros((200, 200, 3), dtype=np.uint8)
    landmarks = frontal_landmarks()
    for k, name in enumerate(LANDMARK_GROUPS):
        x, y = landmarks[list(LANDMARK_GROUPS[name])].mean(axis=0).round().astype(int)
        image[y - 4 : y + 5, x - 4 : x + 5] = 10 * (k + 1)  # a mark at the group's centroid
    names = list(LANDMARK_GROUPS)
    crops = crop_regions(image, landmarks, names, 32)
    assert crops.shape == (8, 32, 32, 3) and crops.dtype == np.uint8
    for k, crop in enumerate(crops):
        assert crop[12:20, 12:20].max() == 10 * (k + 1), names[k]  # the group's own mark is near the middle
    clip = np.stack([image, image // 2, image])
    assert crop_regions(clip, landmarks, ["mouth", "left_eye"], (24, 40)).shape == (2, 3, 24, 40, 3)
    assert crop_regions(image[..., 0], landmarks, ["nose"], 16).shape == (1, 16, 16)


def test_sides_are_the_subjects():
    landmarks = frontal_landmarks()
    right, left = (landmark_box(landmarks, LANDMARK_GROUPS[n]) for n in ("right_eye", "left_eye"))
    assert right[2] < left[0]  # the subject's right eye is on the image's left


def test_clip_frames_are_cut_by_the_same_box():
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 256, (4, 120, 100, 3), dtype=np.uint8)
    box = [(10.0, 20.0, 50.0, 60.0)]
    crops = crop_boxes(clip, box, 40)
    assert crops.shape == (1, 4, 40, 40, 3)
    for t in range(4):
        np.testing.assert_array_equal(crops[0, t], clip[t, 20:60, 10:50])


def test_boxes_leaving_the_image_are_padded_with_zeros():
    image = np.full((10, 10), 9, dtype=np.uint8)
    (crop,) = crop_boxes(image, [(-5, -5, 5, 5)], 10)
    np.testing.assert_array_equal(crop[:5], 0)
    np.testing.assert_array_equal(crop[:, :5], 0)
    np.testing.assert_array_equal(crop[5:, 5:], 9)


def test_aouayeb_regions_cut_the_published_boxes():
    face = coordinate_image(*AOUAYEB_FACE_SIZE)
    for x0, y0, x1, y1 in AOUAYEB_REGIONS.values():
        assert 0 <= x0 < x1 <= 240 and 0 <= y0 < y1 <= 280
        (crop,) = crop_boxes(face, [(x0, y0, x1, y1)], (y1 - y0, x1 - x0))
        np.testing.assert_array_equal(crop, face[y0:y1, x0:x1])


def test_aouayeb_face_fits_the_brow_to_chin_box():
    landmarks = frontal_landmarks()
    image = np.zeros((200, 200, 3), dtype=np.uint8)
    x0, x1 = int(landmarks[17, 0]), int(landmarks[26, 0])
    y0, y1 = int(landmarks[18, 1]), int(landmarks[8, 1])
    image[y0:y1, x0:x1] = 200
    face = aouayeb_face(image, landmarks)
    assert face.shape == (280, 240, 3)
    rows, cols = np.nonzero(face[..., 0] > 100)
    # The box (110 wide, ~105 high) is limited by the width: it fills all 240 columns and is centred vertically.
    assert cols.min() == 0 and cols.max() == 239
    assert abs((rows.min() + rows.max()) / 2 - 139.5) <= 1.5
    assert aouayeb_face(np.stack([image, image]), landmarks).shape == (2, 280, 240, 3)
