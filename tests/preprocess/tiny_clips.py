"""Tiny clips on disk for preprocessing tests: PNG frames of a drawn face and its 68 landmarks as a `.npy`.

The brows and mouth corners move with a raised-cosine profile peaking at the apex, and the landmarks move with them,
so flow, differences, dynamic images and landmark features all have something to see; `motion=0` gives a still clip
whose frames are byte-identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from mer_lightning.clip import Clip

MOVING = [*range(17, 27), 48, 54, 60, 64]  # brows and mouth corners


def face_landmarks(height: int = 64, width: int = 64) -> np.ndarray:
    """A frontal iBUG 68-point layout filling most of a height x width frame."""
    unit = np.zeros((68, 2))
    unit[0:17] = np.stack([np.linspace(0.15, 0.85, 17), 0.5 + 0.3 * np.sin(np.linspace(0, np.pi, 17))], axis=1)
    unit[17:22] = np.stack([np.linspace(0.22, 0.45, 5), np.full(5, 0.28)], axis=1)
    unit[22:27] = np.stack([np.linspace(0.55, 0.78, 5), np.full(5, 0.28)], axis=1)
    unit[27:36] = np.stack([np.full(9, 0.5), np.linspace(0.35, 0.6, 9)], axis=1)
    ring = np.stack([np.linspace(-0.06, 0.06, 6), np.array([0, -0.02, -0.02, 0, 0.02, 0.02])], axis=1)
    unit[36:42] = [0.35, 0.38] + ring
    unit[42:48] = [0.65, 0.38] + ring
    unit[48:68] = np.stack([np.linspace(0.38, 0.62, 20), 0.72 + 0.03 * np.sin(np.linspace(0, 2 * np.pi, 20))], axis=1)
    return (unit * [width, height]).astype(np.float32)


def profile(num_frames: int, onset: int, apex: int, offset: int) -> np.ndarray:
    t = np.arange(num_frames, dtype=np.float64)
    rise = 0.5 - 0.5 * np.cos(np.pi * np.clip((t - onset) / max(apex - onset, 1), 0, 1))
    fall = 0.5 - 0.5 * np.cos(np.pi * np.clip((offset - t) / max(offset - apex, 1), 0, 1))
    return np.where(t <= apex, rise, fall)


def draw_face(landmarks: np.ndarray, height: int, width: int, texture: np.ndarray) -> np.ndarray:
    image = texture.copy()
    points = np.rint(landmarks * 16).astype(np.int32)  # cv2 draws at 1/16 pixel with shift=4
    cv2.fillPoly(image, [points[0:17]], (200, 170, 150), cv2.LINE_AA, shift=4)
    for group, colour in ((slice(17, 22), (60, 40, 30)), (slice(22, 27), (60, 40, 30)), (slice(48, 60), (150, 60, 60))):
        cv2.polylines(image, [points[group]], False, colour, 2, cv2.LINE_AA, shift=4)
    for eye in (slice(36, 42), slice(42, 48)):
        cv2.fillPoly(image, [points[eye]], (30, 30, 30), cv2.LINE_AA, shift=4)
    cv2.polylines(image, [points[27:36]], False, (120, 90, 80), 1, cv2.LINE_AA, shift=4)
    return image


def write_clip(
    folder: Path,
    num_frames: int = 8,
    onset: int = 1,
    apex: int = 4,
    offset: int = 6,
    height: int = 64,
    width: int = 64,
    motion: float = 2.0,
    clip_id: str = "EP01",
    subject: str = "sub01",
    label: int = 0,
) -> Clip:
    """Writes img1.png ... and landmarks.npy (T, 68, 2) into `folder`, and returns the clip over them."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    texture = rng.integers(60, 120, (height, width, 3)).astype(np.uint8)
    texture = cv2.GaussianBlur(texture, (3, 3), 0)
    neutral = face_landmarks(height, width)
    strength = profile(num_frames, onset, apex, offset) * motion
    frames, landmarks = [], []
    for t in range(num_frames):
        points = neutral.copy()
        points[MOVING, 1] -= strength[t]
        landmarks.append(points)
        path = folder / f"img{t + 1}.png"
        cv2.imwrite(str(path), cv2.cvtColor(draw_face(points, height, width, texture), cv2.COLOR_RGB2BGR))
        frames.append(path)
    np.save(folder / "landmarks.npy", np.stack(landmarks))
    return Clip(
        dataset="tiny",
        subject=f"tiny/{subject}",
        source_subject=subject,
        clip_id=clip_id,
        frames=tuple(frames),
        onset=onset,
        apex=apex,
        offset=offset,
        emotion="happiness",
        label=label,
        landmarks=folder / "landmarks.npy",
    )


def write_clips(root: Path, subjects: Sequence[str], per_subject: int, size: int = 8) -> list[Clip]:
    """`per_subject` three-frame clips (onset, apex, offset) of each subject, EP00, EP01, ..., labelled 0, 1, 2, 0, ...:
    the smallest clips a data module, a sampler or an augmentation can be run on."""
    return [
        write_clip(root / f"{s}_{i}", 3, 0, 1, 2, size, size, subject=s, clip_id=f"EP{i:02d}", label=i % 3)
        for s in subjects
        for i in range(per_subject)
    ]
