import cv2
import numpy as np
import pytest

from mer_lightning.preprocess.align import (
    align_clip,
    eye_alignment_transform,
    eye_centres,
    similarity_from_two_points,
    transform_points,
)


def synthetic_face(angle_deg, scale, shift):
    """A 200x200 image with two bright eye blobs, and 68 landmarks whose eye rings circle the blobs, all moved by
    one rotation/scale/translation."""
    rng = np.random.default_rng(1)
    landmarks = rng.uniform(60, 140, (68, 2))
    ring = 4.0 * np.stack([np.cos(np.arange(6) * np.pi / 3), np.sin(np.arange(6) * np.pi / 3)], axis=1)
    landmarks[36:42] = np.array([70.0, 80.0]) + ring
    landmarks[42:48] = np.array([130.0, 80.0]) + ring
    image = np.zeros((200, 200, 3), dtype=np.uint8)
    for centre in ((70, 80), (130, 80)):
        cv2.circle(image, centre, 5, (255, 255, 255), -1)
    move = cv2.getRotationMatrix2D((100.0, 100.0), angle_deg, scale)
    move[:, 2] += shift
    return cv2.warpAffine(image, move, (200, 200)), transform_points(landmarks, move)


def blob_centres(image):
    gray = image[..., 0].astype(np.float64)
    _, labels = cv2.connectedComponents((gray > 127).astype(np.uint8))
    ys, xs = np.indices(gray.shape)
    centres = [(xs[labels == k].mean(), ys[labels == k].mean()) for k in (1, 2)]
    return np.array(sorted(centres))


def test_two_point_similarity_is_exact_and_reflection_free():
    source = np.array([[10.0, 20.0], [30.0, 25.0]])
    target = np.array([[5.0, 5.0], [-10.0, 40.0]])
    matrix = similarity_from_two_points(source, target)
    np.testing.assert_allclose(transform_points(source, matrix), target, atol=1e-5)
    linear = matrix[:, :2]
    assert np.linalg.det(linear) > 0
    np.testing.assert_allclose(linear @ linear.T, np.eye(2) * np.linalg.det(linear), atol=1e-9)
    with pytest.raises(ValueError, match="coincide"):
        similarity_from_two_points(source[[0, 0]], target)


@pytest.mark.parametrize("angle, scale, shift", [(20.0, 1.3, (8.0, -5.0)), (-35.0, 0.7, (-12.0, 10.0))])
def test_rotated_scaled_face_gets_its_eyes_at_the_canonical_positions(angle, scale, shift):
    image, landmarks = synthetic_face(angle, scale, shift)
    positions = ((0.3, 0.4), (0.7, 0.4))
    aligned, transform = align_clip(image[None], landmarks, (120, 100), positions)
    assert aligned.shape == (1, 120, 100, 3) and aligned.dtype == np.uint8
    expected = np.array(positions) * [100, 120]
    np.testing.assert_allclose(transform_points(eye_centres(landmarks), transform), expected, atol=1e-4)
    np.testing.assert_allclose(blob_centres(aligned[0]), expected, atol=0.6)


def test_every_frame_gets_the_same_transform():
    image, landmarks = synthetic_face(15.0, 1.1, (3.0, 4.0))
    frames = np.stack([image, np.roll(image, 2, axis=1), image // 2])
    aligned, transform = align_clip(frames, landmarks, 96)
    np.testing.assert_array_equal(transform, eye_alignment_transform(landmarks, 96))
    for frame, out in zip(frames, aligned):
        np.testing.assert_array_equal(out, cv2.warpAffine(frame, transform, (96, 96), flags=cv2.INTER_LINEAR))
    # The 2-pixel shift of the second frame survives alignment (scaled by the transform), it is not aligned away.
    shift = blob_centres(aligned[1])[:, 0] - blob_centres(aligned[0])[:, 0]
    assert np.all(shift > 0.5)


def test_grey_frames_keep_their_layout():
    image, landmarks = synthetic_face(0.0, 1.0, (0.0, 0.0))
    aligned, _ = align_clip(image[None, ..., 0].repeat(2, axis=0), landmarks, (64, 48))
    assert aligned.shape == (2, 64, 48)
    with pytest.raises(ValueError, match=r"\(T, H, W"):
        align_clip(image[..., 0], landmarks, 64)
