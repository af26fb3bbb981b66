"""Motion: each action unit a smooth displacement field of Gaussian bumps on its landmarks, and clips rendered by
warping a subject's neutral face along the sum of its AUs' fields over time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from mer_lightning.datasets.synthetic.faces import MIRROR, Face, render_face
from mer_lightning.datasets.synthetic.plan import ActionUnit, emotion_plan, parse_action_units, pick_action_units
from mer_lightning.datasets.synthetic.settings import SyntheticSettings, rng_for


class Bump(NamedTuple):
    """One Gaussian bump of an AU's motion, for the image-left half of the face (mirrored onto the right) or on the
    midline. Face units: half the face width is 1, x outward = -1, y down = +1."""

    at: tuple[int, ...]  # landmarks whose mean is the centre
    direction: tuple[float, float]  # relative to the AU's peak
    offset: tuple[float, float] = (0.0, 0.0)  # from that mean, e.g. up onto the forehead


# AU -> (bump sigma in face units, bumps). A clip's AUs blend (`_displacement`), scaled to the clip's peak displacement.
AU_MOTION: dict[int, tuple[float, tuple[Bump, ...]]] = {
    1: (
        0.11,
        (
            Bump((21,), (0.15, -1.0)),
            Bump((20,), (0.05, -0.8)),
            Bump((19,), (0.0, -0.35)),
            Bump((21,), (0.0, -0.7), (0.0, -0.17)),
            Bump((20,), (0.0, -0.5), (0.0, -0.17)),
        ),
    ),
    2: (
        0.11,
        (
            Bump((17,), (-0.1, -1.0)),
            Bump((18,), (0.0, -1.0)),
            Bump((19,), (0.0, -0.6)),
            Bump((18,), (0.0, -0.6), (0.0, -0.17)),
            Bump((17,), (0.0, -0.6), (0.0, -0.15)),
        ),
    ),
    4: (
        0.11,
        (
            Bump((21,), (0.75, 0.65)),
            Bump((20,), (0.55, 0.65)),
            Bump((19,), (0.3, 0.5)),
            Bump((21, 22), (0.0, 0.5)),
            Bump((21,), (0.5, 0.4), (0.0, -0.15)),
        ),
    ),
    5: (0.06, (Bump((37,), (0.0, -0.8)), Bump((38,), (0.0, -0.8)))),
    6: (0.14, (Bump((41, 48), (0.0, -1.0)), Bump((36, 48), (-0.1, -0.8)), Bump((31, 41), (0.0, -0.6)))),
    7: (0.06, (Bump((40,), (0.1, -0.8)), Bump((41,), (0.0, -0.8)), Bump((37,), (0.0, 0.3)), Bump((38,), (0.0, 0.3)))),
    9: (
        0.11,
        (
            Bump((31,), (0.1, -1.0)),
            Bump((32,), (0.0, -0.8)),
            Bump((33,), (0.0, -0.6)),
            Bump((50,), (0.0, -0.4)),
            Bump((28,), (0.0, -0.3)),
        ),
    ),
    10: (0.09, (Bump((50,), (0.0, -1.0)), Bump((49,), (0.0, -0.8)), Bump((51,), (0.0, -0.9)))),
    12: (
        0.12,
        (
            Bump((48,), (-0.6, -0.8)),
            Bump((60,), (-0.6, -0.8)),
            Bump((59,), (-0.3, -0.4)),
            Bump((49,), (-0.3, -0.4)),
            Bump((48, 3), (-0.4, -0.8)),
        ),
    ),
    14: (0.12, (Bump((48,), (0.7, -0.15)), Bump((60,), (0.7, -0.15)))),
    15: (
        0.12,
        (
            Bump((48,), (-0.15, 1.0)),
            Bump((60,), (-0.15, 1.0)),
            Bump((59,), (0.0, 0.5)),
            Bump((48,), (0.0, 0.7), (0.0, 0.15)),
        ),
    ),
    17: (
        0.13,
        (
            Bump((57,), (0.0, -1.0)),
            Bump((58,), (0.0, -0.9)),
            Bump((8,), (0.0, -0.8)),
            Bump((7,), (0.0, -0.5)),
            Bump((48,), (0.0, 0.35)),
        ),
    ),
    18: (0.1, (Bump((48,), (1.0, 0.0)), Bump((49,), (0.5, 0.1)), Bump((59,), (0.5, -0.1)))),
    20: (0.12, (Bump((48,), (-1.0, 0.15)), Bump((60,), (-1.0, 0.15)), Bump((59,), (-0.5, 0.1)))),
    23: (0.08, (Bump((48,), (0.5, 0.0)), Bump((51,), (0.0, 0.4)), Bump((57,), (0.0, -0.4)))),
    24: (0.08, (Bump((51,), (0.0, 0.6)), Bump((57,), (0.0, -0.6)), Bump((50,), (0.0, 0.5)))),
    25: (0.08, (Bump((66,), (0.0, 0.6)), Bump((57,), (0.0, 0.5)), Bump((62,), (0.0, -0.3)))),
    26: (
        0.12,
        (
            Bump((8,), (0.0, 1.0)),
            Bump((7,), (0.0, 0.9)),
            Bump((6,), (0.0, 0.6)),
            Bump((57,), (0.0, 0.8)),
            Bump((58,), (0.0, 0.7)),
            Bump((66,), (0.0, 0.4)),
        ),
    ),
    38: (0.07, (Bump((31,), (-1.0, 0.0)), Bump((32,), (-0.4, 0.0)))),
    43: (0.06, (Bump((37,), (0.0, 0.8)), Bump((38,), (0.0, 0.8)))),
}


@dataclass(frozen=True, eq=False)
class RenderedClip:
    """One clip in memory. `onset`/`apex`/`offset` are 0-based frame positions; `index` is the clip's place in its
    subject's plan; `subject` is 1-based."""

    subject: int
    index: int
    emotion: str
    action_units: str
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    landmarks: np.ndarray  # (T, 68, 2) float32 (x, y) pixels
    onset: int
    apex: int
    offset: int


def _bumps(
    face: Face, action_units: Iterable[ActionUnit], spread: float = 1.0
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Per AU: bump centres (N, 2) px, directions (N, 2) px-unit vectors in the image, sigma px (times `spread`).

    A one-sided AU ("R14") keeps the bumps of the subject's right half (the image's left, as `AU_MOTION` gives them)
    or of the left half (their mirror images), and those on the midline."""
    units = face.to_face_units(face.landmarks)
    rot = face.rotation()
    out = []
    for au in action_units:
        if au.number not in AU_MOTION:
            raise ValueError(f"no motion defined for AU{au.number}; known: {sorted(AU_MOTION)}")
        sigma, bumps = AU_MOTION[au.number]
        centres, directions = [], []
        for bump in bumps:
            mirrored = tuple(int(MIRROR[i]) for i in bump.at)
            midline = sorted(mirrored) == sorted(bump.at)
            halves = [(bump.at, 1.0)] + ([] if midline else [(mirrored, -1.0)])
            if au.side and not midline:
                halves = [halves[0] if au.side == "R" else halves[1]]
            for at, side in halves:
                centres.append(units[list(at)].mean(0) + (side * bump.offset[0], bump.offset[1]))
                directions.append((side * bump.direction[0], bump.direction[1]))
        centres_px = face.centre + face.scale * (np.array(centres) @ rot.T)
        out.append((centres_px, np.array(directions) @ rot.T, sigma * spread * face.scale))
    return out


def _displacement(points: np.ndarray, bumps: list, gains: Iterable[float]) -> np.ndarray:
    """The AU displacement at `points` (..., 2): the Gaussian-weighted mean of every bump's direction (times its AU's
    gain), the weights normalised wherever they sum past 1 -- so overlapping bumps, of one AU or of several, blend
    instead of adding up, and no point moves much more than the strongest bump. Points farther than 4 sigma from
    all of an AU's bumps are not moved by it."""
    flat = points.reshape(-1, 2)
    moved = np.zeros(flat.shape, np.float64)
    weight = np.zeros(len(flat), np.float64)
    for (centres, directions, sigma), gain in zip(bumps, gains):
        near = np.all((flat > centres.min(0) - 4 * sigma) & (flat < centres.max(0) + 4 * sigma), axis=1)
        d2 = ((flat[near][:, None, :] - centres[None]) ** 2).sum(-1)
        w = np.exp(-d2 / (2 * sigma**2))
        moved[near] += gain * (w @ directions)
        weight[near] += w.sum(1)
    return (moved / np.maximum(1.0, weight)[:, None]).reshape(points.shape)


def _profile(length: int, onset: int, apex: int, offset: int) -> np.ndarray:
    """Raised cosine: 0 until onset, 1 at apex, 0 again from offset."""
    t = np.arange(length, dtype=np.float64)
    rise = 0.5 * (1 - np.cos(np.pi * np.clip((t - onset) / (apex - onset), 0, 1)))
    fall = 0.5 * (1 + np.cos(np.pi * np.clip((t - apex) / (offset - apex), 0, 1)))
    return np.where(t <= apex, rise, fall)


def _jitter(rng: np.random.Generator, length: int, limit: float) -> np.ndarray:
    """Smooth head shake (length, 2) px: filtered white noise, about limit/2 typical, never past `limit`."""
    kernel = np.array([1, 2, 3, 2, 1], float) / 9
    raw = rng.standard_normal((length + 4, 2))
    smooth = np.stack([np.convolve(raw[:, k], kernel, "valid") for k in range(2)], 1)
    smooth /= np.sqrt((kernel**2).sum())
    return limit * np.clip(0.5 * smooth, -1, 1)


def render_clip(
    face: Face, emotion: str, settings: SyntheticSettings, index: int = 0, action_units: str | None = None
) -> RenderedClip:
    """Clip `index` of `face`'s subject showing `emotion` (AUs drawn from the emotion's combinations unless given).

    Pure: the result depends only on the arguments, so readers, writers and tests can call it on their own."""
    rng = rng_for(settings, face.subject, 1, index)
    length = int(rng.integers(settings.min_frames, settings.max_frames + 1))
    margin = min(2, (length - 3) // 2)  # neutral frames before onset and after offset: up to 2 each
    onset = int(rng.integers(0, margin + 1))
    offset = length - 1 - int(rng.integers(0, margin + 1))
    apex = onset + int(np.clip(round(rng.uniform(0.35, 0.6) * (offset - onset)), 1, offset - onset - 1))
    picked = pick_action_units(emotion, rng)  # drawn even when AUs are given, so the rest of the clip is the same
    aus = parse_action_units(action_units) if action_units else picked
    spread = settings.amplitude_spread
    peak = settings.amplitude * settings.pixel_scale * rng.uniform(1 - spread, 1 + spread)
    au_gain = dict(zip(sorted(AU_MOTION), rng.uniform(0.85, 1.15, len(AU_MOTION))))  # a new AU changes every clip
    gains = [au_gain[au.number] for au in aus]
    offset_px = rng.uniform(-1.0, 1.0, 2) * settings.pixel_scale
    head = offset_px + _jitter(rng, length, settings.jitter * settings.pixel_scale)
    brightness = rng.uniform(0.94, 1.06)
    profile = _profile(length, onset, apex, offset)

    h, w = settings.height, settings.width
    bumps = _bumps(face, aus, settings.motion_spread)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    grid = np.stack([gx, gy], -1).astype(np.float64)
    field = _displacement(grid, bumps, gains)
    norm = peak / max(float(np.sqrt((field**2).sum(-1)).max()), 1e-9)  # the clip's largest motion is `peak` px
    fx, fy = (np.ascontiguousarray(field[..., k] * norm, np.float32) for k in range(2))
    moves = _displacement(face.landmarks, bumps, gains) * norm
    weight = face.head_weight(grid).astype(np.float32)
    landmark_weight = face.head_weight(face.landmarks)[:, None]

    frames = np.empty((length, h, w, 3), np.uint8)
    landmarks = np.empty((length, 68, 2), np.float32)
    for t in range(length):
        s_t, (hx, hy) = float(profile[t]), head[t]
        total = cv2.merge([cv2.addWeighted(fx, s_t, weight, hx, 0.0), cv2.addWeighted(fy, s_t, weight, hy, 0.0)])
        # backward warp: pixel x shows the neutral face at q where q + total(q) = x; two fixed-point steps from
        # q = x - total(x) leave an error below 0.15 px for fields this small and smooth
        mx, my = gx - total[..., 0], gy - total[..., 1]
        for _ in range(2):
            at_q = cv2.remap(total, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            mx, my = gx - at_q[..., 0], gy - at_q[..., 1]
        warped = cv2.remap(face.image, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
        warped *= np.float32(brightness)
        if settings.noise_std > 0:
            warped += np.float32(settings.noise_std) * rng.standard_normal(warped.shape, dtype=np.float32)
        frames[t] = np.clip(np.rint(warped), 0, 255)
        landmarks[t] = face.landmarks + s_t * moves + head[t] * landmark_weight
    return RenderedClip(
        subject=face.subject,
        index=index,
        emotion=emotion,
        action_units="+".join(str(a) for a in aus),
        frames=frames,
        landmarks=landmarks,
        onset=onset,
        apex=apex,
        offset=offset,
    )


def render_subject(settings: SyntheticSettings, subject: int) -> list[RenderedClip]:
    face = render_face(settings, subject)
    return [render_clip(face, e, settings, i) for i, e in enumerate(emotion_plan(settings, subject))]


def render_dataset(settings: SyntheticSettings) -> Iterator[RenderedClip]:
    """Every clip, subject by subject (a generator: one subject's clips in memory at a time)."""
    for subject in range(1, settings.subjects + 1):
        yield from render_subject(settings, subject)
