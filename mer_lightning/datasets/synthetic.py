"""Deterministic synthetic micro-expressions, written to disk in a real dataset's release layout.

MER datasets are licensed, so the project's default dataset is made here. The generator renders clips in memory
(`render_face`, `render_clip`, `render_dataset`) and a layout writer (`write_casme2_layout`) puts them on disk the
way the release does, so the ordinary reader (`SheetFramesDataset` with `CASME2_READER`) reads them;
`SyntheticDataset` is that reader generating the set on first use (`generate`: idempotent, atomic, safe to call from
several processes at once). Rendering knows nothing of layouts: the writers for the other releases (CASME, CAS(ME)^2,
SAMM, SMIC, CK+) take the same `RenderedClip`s, and all are registered in `WRITERS` (`mer-synth ROOT --layout samm`);
each writes what the release's reader reads with its config's defaults.

How a clip is made (frozen defaults, `SyntheticSettings()`; pixel sizes are for a 128x128 frame and scale with the
frame's shorter side):

- Faces: one per subject, drawn from a parametric iBUG 68-point template (jaw 0-16, brows 17-26, nose 27-35, eyes
  36-47, mouth 48-67) whose geometry varies per subject (eye spacing and size, brow height and arch, nose length,
  mouth width, lip thickness, chin), placed with a per-subject scale (face half-width 28-31% of the frame), position
  (+-3% of the frame) and roll (+-3 deg). Painted at 2x and area-downsampled: background, hair, ears, neck, skin
  (tone from light to dark, three scales of low-pass texture, shading, moles), brows, eyes (sclera, iris, pupil,
  lids, crease, socket shadow), nose (sides, nostrils, tip), nasolabial folds and lips, so that the pixels have
  real structure where the landmarks are.
- Motion: each action unit is a set of Gaussian bumps centred on its landmarks, each with its direction (mirrored
  for the two halves of the face, rotated with the face) -- a smooth displacement field. A clip's AUs are summed with
  per-AU gains U(0.85, 1.15), and the sum is scaled so that its largest displacement at apex is `amplitude` = 1.75 px
  times a per-clip gain U(0.7, 1.3): 1.2 to 2.3 px. The field follows a raised-cosine profile in time (0 at onset, 1
  at apex, 0 at offset) and is applied by backward warping (`cv2.remap`, bicubic, the inverse by fixed-point steps)
  of the neutral rendering; the landmarks move by the same field.
- Every frame also gets a smooth global head jitter (moving the head, not the background; at most `jitter` = 0.3 px
  per axis, about half that typically) on top of a per-clip head offset (up to 1 px), a per-clip brightness gain
  U(0.94, 1.06), and Gaussian sensor noise (`noise_std` = 2 grey levels); frames are stored as JPEG (quality 95).
- Clips: 16-24 frames (uniform per clip); onset at frame position 0-2, offset 0-2 frames before the end, apex at
  35-60% of the way from onset to offset.
- Emotions: CASME II's vocabulary, each with its characteristic AU combinations (`EMOTION_AUS`): happiness 6+12 / 12;
  disgust 4+9 / 4+7; repression 14 / 15 / 17 / 15+17 / 14+17; surprise 1+2 / 1+2+5 / 1+2+26; fear 1+2+4+20 / 4+5;
  sadness 1+4+15; others one or two AUs from a pool no other emotion uses (10, 18, 23, 24, 25, 38, 43). Under the
  3-class composite scheme the classes differ by where and which way the face moves (brows up: surprise; lip corners
  out and up: positive; brows down and together, nose up, lip corners down or in, chin up: negative).
- Per subject (`emotion_plan`): 16 clips, 1/8 of them "others" and the rest spread evenly over the three composite
  classes (5/5/4, rotating which class gets fewer), the negative ones cycling through disgust, repression, fear,
  sadness; the order is shuffled. 8 subjects.

Everything comes from numpy Generators seeded by (seed, subject, ...) so a subject's or a clip's content does not
depend on how many others are made, and the same settings give byte-identical files (the xlsx's zip timestamps and
document dates are fixed). AU14 is FACS's dimpler (lip corners tightened inward), AU23 the lip tightener.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import pandas as pd

from mer_lightning.clip import Clip
from mer_lightning.datasets.sheet_frames import SheetFramesDataset

FORMAT_VERSION = 1
MANIFEST = "generator.json"
REFERENCE_SIZE = 128  # `amplitude` and `jitter` are pixels of a frame whose shorter side is this
SUPERSAMPLE = 2  # faces are painted at 2x, then area-downsampled (anti-aliased edges)

EMOTIONS = ("happiness", "disgust", "repression", "surprise", "fear", "sadness", "others")
NEGATIVE_EMOTIONS = ("disgust", "repression", "fear", "sadness")
# Each emotion's AU combinations, one drawn per clip (a repeated one is drawn more often).
EMOTION_AUS: dict[str, tuple[str, ...]] = {
    "happiness": ("6+12", "12", "6+12"),
    "disgust": ("4+9", "4+7"),
    "repression": ("14", "15", "17", "15+17", "14+17"),
    "surprise": ("1+2", "1+2+5", "1+2+26"),
    "fear": ("1+2+4+20", "4+5"),
    "sadness": ("1+4+15",),
}
OTHERS_POOL = (10, 18, 23, 24, 25, 38, 43)  # AUs no other emotion uses; "others" clips take one or two

# The mirror of each iBUG landmark across the face's vertical axis.
MIRROR = np.array(
    [16 - i for i in range(17)] + [43 - i for i in range(17, 27)] + [27, 28, 29, 30]
    + [66 - i for i in range(31, 36)] + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [102 - i for i in range(48, 55)] + [114 - i for i in range(55, 60)]
    + [124 - i for i in range(60, 65)] + [132 - i for i in range(65, 68)]
)


class Bump(NamedTuple):
    """One Gaussian bump of an AU's motion, for the image-left half of the face (mirrored onto the right) or on the
    midline. Face units: half the face width is 1, x outward = -1, y down = +1."""

    at: tuple[int, ...]  # landmarks whose mean is the centre
    direction: tuple[float, float]  # relative to the AU's peak
    offset: tuple[float, float] = (0.0, 0.0)  # from that mean, e.g. up onto the forehead


# AU -> (bump sigma in face units, bumps). A clip's AUs blend (`_displacement`), scaled to the clip's peak displacement.
AU_MOTION: dict[int, tuple[float, tuple[Bump, ...]]] = {
    1: (0.11, (Bump((21,), (0.15, -1.0)), Bump((20,), (0.05, -0.8)), Bump((19,), (0.0, -0.35)),
               Bump((21,), (0.0, -0.7), (0.0, -0.17)), Bump((20,), (0.0, -0.5), (0.0, -0.17)))),
    2: (0.11, (Bump((17,), (-0.1, -1.0)), Bump((18,), (0.0, -1.0)), Bump((19,), (0.0, -0.6)),
               Bump((18,), (0.0, -0.6), (0.0, -0.17)), Bump((17,), (0.0, -0.6), (0.0, -0.15)))),
    4: (0.11, (Bump((21,), (0.75, 0.65)), Bump((20,), (0.55, 0.65)), Bump((19,), (0.3, 0.5)),
               Bump((21, 22), (0.0, 0.5)), Bump((21,), (0.5, 0.4), (0.0, -0.15)))),
    5: (0.06, (Bump((37,), (0.0, -0.8)), Bump((38,), (0.0, -0.8)))),
    6: (0.14, (Bump((41, 48), (0.0, -1.0)), Bump((36, 48), (-0.1, -0.8)), Bump((31, 41), (0.0, -0.6)))),
    7: (0.06, (Bump((40,), (0.1, -0.8)), Bump((41,), (0.0, -0.8)), Bump((37,), (0.0, 0.3)), Bump((38,), (0.0, 0.3)))),
    9: (0.11, (Bump((31,), (0.1, -1.0)), Bump((32,), (0.0, -0.8)), Bump((33,), (0.0, -0.6)), Bump((50,), (0.0, -0.4)),
               Bump((28,), (0.0, -0.3)))),
    10: (0.09, (Bump((50,), (0.0, -1.0)), Bump((49,), (0.0, -0.8)), Bump((51,), (0.0, -0.9)))),
    12: (0.12, (Bump((48,), (-0.6, -0.8)), Bump((60,), (-0.6, -0.8)), Bump((59,), (-0.3, -0.4)),
                Bump((49,), (-0.3, -0.4)), Bump((48, 3), (-0.4, -0.8)))),
    14: (0.12, (Bump((48,), (0.7, -0.15)), Bump((60,), (0.7, -0.15)))),
    15: (0.12, (Bump((48,), (-0.15, 1.0)), Bump((60,), (-0.15, 1.0)), Bump((59,), (0.0, 0.5)),
                Bump((48,), (0.0, 0.7), (0.0, 0.15)))),
    17: (0.13, (Bump((57,), (0.0, -1.0)), Bump((58,), (0.0, -0.9)), Bump((8,), (0.0, -0.8)), Bump((7,), (0.0, -0.5)),
                Bump((48,), (0.0, 0.35)))),
    18: (0.1, (Bump((48,), (1.0, 0.0)), Bump((49,), (0.5, 0.1)), Bump((59,), (0.5, -0.1)))),
    20: (0.12, (Bump((48,), (-1.0, 0.15)), Bump((60,), (-1.0, 0.15)), Bump((59,), (-0.5, 0.1)))),
    23: (0.08, (Bump((48,), (0.5, 0.0)), Bump((51,), (0.0, 0.4)), Bump((57,), (0.0, -0.4)))),
    24: (0.08, (Bump((51,), (0.0, 0.6)), Bump((57,), (0.0, -0.6)), Bump((50,), (0.0, 0.5)))),
    25: (0.08, (Bump((66,), (0.0, 0.6)), Bump((57,), (0.0, 0.5)), Bump((62,), (0.0, -0.3)))),
    26: (0.12, (Bump((8,), (0.0, 1.0)), Bump((7,), (0.0, 0.9)), Bump((6,), (0.0, 0.6)), Bump((57,), (0.0, 0.8)),
                Bump((58,), (0.0, 0.7)), Bump((66,), (0.0, 0.4)))),
    38: (0.07, (Bump((31,), (-1.0, 0.0)), Bump((32,), (-0.4, 0.0)))),
    43: (0.06, (Bump((37,), (0.0, 0.8)), Bump((38,), (0.0, 0.8)))),
}


@dataclass(frozen=True)
class SyntheticSettings:
    """Every knob of the generator; `generator.json` records them, and a folder is current when they are equal."""

    seed: int = 0
    subjects: int = 8
    clips_per_subject: int = 16
    min_frames: int = 16
    max_frames: int = 24
    height: int = 128
    width: int = 128
    amplitude: float = 1.75  # largest displacement at apex (px, 128-px frame), before the per-clip gain
    amplitude_spread: float = 0.3  # per-clip gain U(1 - spread, 1 + spread)
    noise_std: float = 2.0  # grey levels, per pixel and frame
    jitter: float = 0.3  # max global head shift per axis, px for a 128-px frame
    others_fraction: float = 0.125
    jpeg_quality: int = 95
    layout: str = "casme2"

    def __post_init__(self) -> None:
        problems = []
        if self.subjects < 1 or self.clips_per_subject < 1:
            problems.append("subjects and clips_per_subject must be >= 1")
        if not 3 <= self.min_frames <= self.max_frames:
            problems.append("need 3 <= min_frames <= max_frames (onset, apex and offset are distinct frames)")
        if min(self.height, self.width) < 32:
            problems.append("height and width must be >= 32")
        if not 0 <= self.amplitude_spread < 1 or self.amplitude < 0 or self.noise_std < 0 or self.jitter < 0:
            problems.append("amplitude, noise_std, jitter must be >= 0 and amplitude_spread in [0, 1)")
        if not 0 <= self.others_fraction < 1:
            problems.append("others_fraction must be in [0, 1)")
        if self.layout not in WRITERS:
            problems.append(f"layout must be one of {sorted(WRITERS)}")
        if problems:
            raise ValueError(f"SyntheticSettings: {'; '.join(problems)} (got {self})")

    @property
    def pixel_scale(self) -> float:
        """Frame pixels per reference pixel: motion sizes are relative to the face, not to the pixel grid."""
        return min(self.height, self.width) / REFERENCE_SIZE

    def manifest(self) -> dict:
        """What `generator.json` holds, as it reads back from JSON."""
        return json.loads(json.dumps(
            {"generator": __name__, "format_version": FORMAT_VERSION, "settings": asdict(self)}, sort_keys=True
        ))


@dataclass(frozen=True, eq=False)
class Face:
    """A subject's neutral face: its painting (made at 2x, area-downsampled), its landmarks (frame pixels) and the
    geometry the motion needs."""

    subject: int
    image: np.ndarray  # (H, W, 3) float32 RGB, 0..255
    landmarks: np.ndarray  # (68, 2) float64 (x, y) frame pixels
    centre: np.ndarray  # (2,) frame pixels: the origin of face units
    scale: float  # frame pixels per face unit (half the face width)
    roll: float  # radians

    def rotation(self) -> np.ndarray:
        return _rotation(self.roll)

    def to_face_units(self, points: np.ndarray) -> np.ndarray:
        return ((points - self.centre) / self.scale) @ self.rotation()

    def head_weight(self, points: np.ndarray) -> np.ndarray:
        """How much a point moves with the head (1 on head and hair, 0 on the background, smooth in between)."""
        u = self.to_face_units(points)
        r = np.sqrt((u[..., 0] / 1.3) ** 2 + ((u[..., 1] - 0.05) / 1.45) ** 2)
        t = np.clip((r - 1.0) / 0.35, 0.0, 1.0)
        return 0.5 * (1.0 + np.cos(np.pi * t))


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


def _rotation(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def _rng(settings: SyntheticSettings, subject: int, stream: int, index: int = 0) -> np.random.Generator:
    return np.random.default_rng([settings.seed, subject, stream, index])


# ---------------------------------------------------------------------------------------------------------- plan


def emotion_plan(settings: SyntheticSettings, subject: int) -> list[str]:
    """The emotions of a subject's clips, in clip order: all three composite classes in near-equal numbers (when
    there are at least three clips), a few "others", negatives cycling through their four emotions."""
    n = settings.clips_per_subject
    n_others = min(int(round(n * settings.others_fraction)), max(0, n - 3))
    classes = ["negative", "positive", "surprise"]
    start = (subject - 1) % 3
    order = classes[start:] + classes[:start]
    plan = []
    negatives = 0
    for k in range(n - n_others):
        cls = order[k % 3]
        if cls == "negative":
            plan.append(NEGATIVE_EMOTIONS[(subject - 1 + negatives) % len(NEGATIVE_EMOTIONS)])
            negatives += 1
        else:
            plan.append("happiness" if cls == "positive" else "surprise")
    plan += ["others"] * n_others
    _rng(settings, subject, 2).shuffle(plan)
    return plan


def _pick_action_units(emotion: str, rng: np.random.Generator) -> list[int]:
    if emotion == "others":
        count = 1 if rng.random() < 0.7 else 2
        return sorted(int(a) for a in rng.choice(OTHERS_POOL, size=count, replace=False))
    if emotion not in EMOTION_AUS:
        raise ValueError(f"unknown emotion {emotion!r}; known: {EMOTIONS}")
    combo = EMOTION_AUS[emotion][int(rng.integers(len(EMOTION_AUS[emotion])))]
    return parse_action_units(combo)


def parse_action_units(text: str) -> list[int]:
    """`"1+2+26"` -> `[1, 2, 26]` (sorted); letters of intensity or side (`"L12"`, `"4B"`) are ignored."""
    return sorted({int(m) for m in re.findall(r"\d+", text)})


# ---------------------------------------------------------------------------------------------------------- faces


def _template(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A subject's 68 landmarks in face units (x right, y down, half face width 1) and the shape values painting
    needs."""
    eye_y = -0.2 + rng.uniform(-0.04, 0.04)
    eye_dx = 0.42 * rng.uniform(0.92, 1.08)
    eye_w = 0.17 * rng.uniform(0.88, 1.12)
    eye_up = 0.075 * rng.uniform(0.8, 1.2)
    eye_down = 0.05 * rng.uniform(0.8, 1.2)
    brow_y = eye_y - rng.uniform(0.17, 0.25)
    brow_arch = rng.uniform(0.03, 0.08)
    brow_inner = 0.12 * rng.uniform(0.8, 1.3)
    brow_outer = eye_dx + eye_w + rng.uniform(0.08, 0.16)
    nose_tip = rng.uniform(0.2, 0.3)
    nose_w = 0.17 * rng.uniform(0.85, 1.2)
    mouth_y = nose_tip + rng.uniform(0.3, 0.4)
    mouth_w = 0.33 * rng.uniform(0.88, 1.12)
    lip_up = 0.07 * rng.uniform(0.7, 1.3)
    lip_down = 0.1 * rng.uniform(0.7, 1.3)
    chin_y = mouth_y + rng.uniform(0.35, 0.45)
    jaw_top = eye_y + rng.uniform(0.0, 0.1)
    chin_taper = rng.uniform(0.1, 0.3)

    pts = np.zeros((68, 2))
    a = np.pi * (1 - np.arange(17) / 16)  # pi .. 0: image left ear, chin, image right ear
    s = np.sin(a)
    pts[0:17, 0] = np.cos(a) * (1 - chin_taper * s ** 4)
    pts[0:17, 1] = jaw_top + (chin_y - jaw_top) * s ** 0.8
    k = np.arange(5)
    bx = np.linspace(-brow_outer, -brow_inner, 5)
    by = brow_y + 0.03 - brow_arch * np.sin(np.pi * (k + 0.7) / 5.4)
    pts[17:22] = np.stack([bx, by], 1)
    pts[27:31] = np.stack([np.zeros(4), np.linspace(eye_y - 0.02, nose_tip, 4)], 1)
    pts[31:36] = np.stack(
        [np.linspace(-nose_w, nose_w, 5), nose_tip + np.array([0.04, 0.075, 0.09, 0.075, 0.04])], 1
    )
    ex = -eye_dx
    pts[36:42] = [
        (ex - eye_w, eye_y), (ex - 0.35 * eye_w, eye_y - eye_up), (ex + 0.35 * eye_w, eye_y - eye_up),
        (ex + eye_w, eye_y + 0.01), (ex + 0.35 * eye_w, eye_y + eye_down), (ex - 0.35 * eye_w, eye_y + eye_down),
    ]
    w = mouth_w
    pts[48:55] = [
        (-w, mouth_y), (-0.6 * w, mouth_y - 0.8 * lip_up), (-0.22 * w, mouth_y - lip_up),
        (0, mouth_y - 0.85 * lip_up), (0.22 * w, mouth_y - lip_up), (0.6 * w, mouth_y - 0.8 * lip_up), (w, mouth_y),
    ]
    pts[55:60] = [
        (0.6 * w, mouth_y + 0.75 * lip_down), (0.24 * w, mouth_y + 0.97 * lip_down), (0, mouth_y + lip_down),
        (-0.24 * w, mouth_y + 0.97 * lip_down), (-0.6 * w, mouth_y + 0.75 * lip_down),
    ]
    pts[60:65] = [
        (-0.85 * w, mouth_y), (-0.3 * w, mouth_y - 0.012), (0, mouth_y - 0.008), (0.3 * w, mouth_y - 0.012),
        (0.85 * w, mouth_y),
    ]
    pts[65:68] = [(0.3 * w, mouth_y + 0.012), (0, mouth_y + 0.015), (-0.3 * w, mouth_y + 0.012)]
    # mirror the image-left half onto the right: brows 22-26, eyes 42-47
    for i in list(range(17, 22)) + list(range(36, 42)):
        pts[MIRROR[i]] = (-pts[i, 0], pts[i, 1])
    shape = {"brow_y": brow_y, "jaw_top": jaw_top, "chin_y": chin_y, "eye_w": eye_w, "eye_up": eye_up}
    return pts, shape


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    noise = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma)
    return noise / (noise.std() + 1e-6)


class _Painter:
    """Alpha-composites soft shapes, given in face units, onto the 2x canvas."""

    def __init__(self, canvas: np.ndarray, to_canvas: Callable[[np.ndarray], np.ndarray], unit: float) -> None:
        self.canvas = canvas
        self.to_canvas = to_canvas
        self.unit = unit  # canvas pixels per face unit

    def _finish(self, mask: np.ndarray, blur: float) -> np.ndarray:
        mask = mask.astype(np.float32) / 255.0
        return cv2.GaussianBlur(mask, (0, 0), blur * self.unit) if blur > 0 else mask

    def _fixed(self, points: np.ndarray) -> np.ndarray:
        return np.round(self.to_canvas(np.asarray(points, float)) * 16).astype(np.int32).reshape(-1, 1, 2)

    def polygon(self, points: np.ndarray, blur: float = 0.0) -> np.ndarray:
        mask = np.zeros(self.canvas.shape[:2], np.uint8)
        cv2.fillPoly(mask, [self._fixed(points)], 255, cv2.LINE_AA, 4)
        return self._finish(mask, blur)

    def polyline(self, points: np.ndarray, thickness: float, blur: float = 0.0, closed: bool = False) -> np.ndarray:
        mask = np.zeros(self.canvas.shape[:2], np.uint8)
        width = max(1, int(round(thickness * self.unit)))
        cv2.polylines(mask, [self._fixed(points)], closed, 255, width, cv2.LINE_AA, 4)
        return self._finish(mask, blur)

    def ellipse(self, centre, axes, blur: float = 0.0, angle: float = 0.0) -> np.ndarray:
        mask = np.zeros(self.canvas.shape[:2], np.uint8)
        c = tuple(int(v) for v in np.round(self.to_canvas(np.asarray(centre, float)[None])[0] * 16))
        ax = tuple(max(16, int(round(v * self.unit * 16))) for v in axes)
        cv2.ellipse(mask, c, ax, angle, 0, 360, 255, -1, cv2.LINE_AA, 4)
        return self._finish(mask, blur)

    def paint(self, mask: np.ndarray, colour, alpha: float = 1.0) -> None:
        a = (mask * alpha)[..., None]
        self.canvas *= 1 - a
        self.canvas += a * np.asarray(colour, np.float32)

    def shade(self, mask: np.ndarray, amount: float) -> None:
        """Darken (amount > 0) or lighten (amount < 0) under the mask."""
        self.canvas *= (1 - amount * mask)[..., None]


def render_face(settings: SyntheticSettings, subject: int) -> Face:
    """The neutral face of `subject` (1-based): its geometry, colours and texture come from the subject's seed."""
    rng = _rng(settings, subject, 0)
    h, w, ss = settings.height, settings.width, SUPERSAMPLE
    units, shape = _template(rng)
    size = min(h, w)
    scale = size * rng.uniform(0.28, 0.31)
    roll = math.radians(rng.uniform(-3, 3))
    centre = np.array([w / 2 + rng.uniform(-0.03, 0.03) * w, h / 2 - 0.1 * scale + rng.uniform(-0.03, 0.03) * h])
    rot = _rotation(roll)

    def to_canvas(u: np.ndarray) -> np.ndarray:
        return (centre + scale * (u @ rot.T)) * ss + (ss - 1) / 2

    canvas = np.zeros((h * ss, w * ss, 3), np.float32)
    p = _Painter(canvas, to_canvas, scale * ss)
    hs, ws = canvas.shape[:2]

    # background: a grey-blue wall with soft light falloff
    base = rng.uniform(70, 170) + rng.uniform(-12, 12, 3)
    yy = np.linspace(-1, 1, hs, dtype=np.float32)[:, None, None]
    canvas[:] = base * (1 + 0.08 * yy) + 6 * _smooth_noise(rng, (hs, ws), 12 * ss)[..., None]

    tone = rng.uniform(0, 1)
    skin = (1 - tone) * np.array([236, 198, 170]) + tone * np.array([118, 80, 58])
    skin = skin + np.array([rng.uniform(-8, 8), rng.uniform(-6, 6), rng.uniform(-6, 6)])
    hair = rng.uniform(25, 90) * np.array([1.0, 0.82, 0.66])
    texture_level = rng.uniform(0.6, 1.4)

    def textured(colour: np.ndarray, amount: float) -> np.ndarray:
        t = sum(k * _smooth_noise(rng, (hs, ws), sig * ss) for k, sig in ((0.035, 0.8), (0.03, 3.0), (0.03, 10.0)))
        return np.asarray(colour, np.float32) * (1 + amount * t)[..., None]

    jaw_top, brow_y, chin_y = shape["jaw_top"], shape["brow_y"], shape["chin_y"]
    forehead_top = brow_y - rng.uniform(0.45, 0.6)
    arc = np.linspace(0, np.pi, 25)
    forehead = np.stack([np.cos(arc) * units[16, 0], jaw_top - np.sin(arc) * (jaw_top - forehead_top)], 1)
    contour = np.concatenate([units[0:17], forehead[1:-1]])

    # hair (most subjects), neck, ears, face
    if rng.random() < 0.85:
        hair_top = forehead_top - 0.18
        hair_arc = np.stack([np.cos(arc) * 1.12, jaw_top + 0.25 - np.sin(arc) * (jaw_top + 0.25 - hair_top)], 1)
        p.paint(p.polygon(hair_arc, 0.02), textured(hair, 1.5), 1.0)
    p.paint(p.polygon([(-0.42, chin_y - 0.5), (0.42, chin_y - 0.5), (0.5, 3.0), (-0.5, 3.0)], 0.03),
            textured(skin * 0.82, texture_level), 1.0)
    for side in (-1, 1):
        p.paint(p.ellipse((side * 0.98, jaw_top + 0.12), (0.12, 0.22), 0.02), textured(skin * 0.9, texture_level))
    face_mask = p.polygon(contour, 0.015)
    skin_img = textured(skin, texture_level)
    # shading: darker towards the face's edge and under the chin
    grid = np.stack(np.meshgrid(np.arange(ws), np.arange(hs)), -1).astype(np.float64)
    uv = ((grid - (ss - 1) / 2) / ss - centre) / scale @ rot
    r2 = uv[..., 0] ** 2 + ((uv[..., 1] - 0.1) / 1.15) ** 2
    skin_img *= np.clip(1.05 - 0.28 * r2 ** 1.5, 0.6, 1.1).astype(np.float32)[..., None]
    p.paint(face_mask, skin_img, 1.0)
    for _ in range(int(rng.integers(3, 13))):  # moles and freckles
        spot = (rng.uniform(-0.7, 0.7), rng.uniform(brow_y - 0.25, chin_y - 0.15))
        radius = rng.uniform(0.01, 0.025)
        p.shade(p.ellipse(spot, (radius, radius), 0.006) * face_mask, rng.uniform(0.2, 0.45))

    # eyes: socket shadow, crease, sclera, iris, pupil, lids
    iris = rng.uniform(35, 110) * np.array([1.0, 0.72, 0.5]) if rng.random() < 0.85 else np.array([80, 100, 115.0])
    gaze = rng.uniform(-0.015, 0.015, 2)
    for lo, hi in ((36, 42), (42, 48)):
        eye = units[lo:hi]
        mid = eye.mean(0)
        p.shade(p.ellipse(mid + (0, -0.03), (shape["eye_w"] * 1.5, shape["eye_up"] * 2.8), 0.05), 0.13)
        upper = eye[[0, 1, 2, 3]] if lo == 36 else eye[[3, 2, 1, 0]]
        p.shade(p.polyline(upper + (0, -0.07), 0.02, 0.012), 0.18)
        white = p.polygon(eye, 0.004)
        p.paint(white, skin * 0.25 + np.array([170, 165, 160]), 0.95)
        ball = p.ellipse(mid + gaze, (0.062, 0.062), 0.004) * white
        p.paint(ball, iris, 1.0)
        p.paint(p.ellipse(mid + gaze, (0.025, 0.025), 0.003) * white, (12, 10, 10), 1.0)
        p.paint(p.ellipse(mid + gaze + (0.02, -0.02), (0.01, 0.01), 0.003) * white, (245, 245, 245), 0.8)
        p.paint(p.polyline(eye[[0, 1, 2, 3]], 0.028, 0.006), hair * 0.5, 0.9)
        p.paint(p.polyline(eye[[3, 4, 5, 0]], 0.012, 0.006), skin * 0.55, 0.6)
    # brows
    brow_thick = rng.uniform(0.045, 0.07)
    for lo in (17, 22):
        brow = units[lo:lo + 5]
        mask = p.polyline(brow, brow_thick, 0.01) + 0.6 * p.polyline(brow + (0, 0.015), brow_thick * 0.6, 0.01)
        p.paint(np.clip(mask, 0, 1) * (0.75 + 0.25 * _smooth_noise(rng, (hs, ws), 0.6 * ss).clip(-1, 1)),
                hair * 0.8, 0.9)
    # nose: sides, nostrils, wings, tip highlight
    for side in (31, 35):
        p.shade(p.polyline(units[[27, 28, 29, side]] + (0.04 * np.sign(units[side, 0]), 0), 0.05, 0.04), 0.22)
    for a, b in ((31, 32), (34, 35)):
        p.paint(p.ellipse((units[a] + units[b]) / 2 + (0, -0.01), (0.045, 0.022), 0.008), skin * 0.3, 0.75)
    p.shade(p.polyline(units[31:36], 0.03, 0.02), 0.25)
    p.shade(p.ellipse(units[30] + (0, -0.02), (0.06, 0.045), 0.03), -0.12)
    # nasolabial folds
    for side, corner in ((-1, 48), (1, 54)):
        wing = units[31 if side < 0 else 35] + (side * 0.07, 0.0)
        end = units[corner] + (side * 0.08, 0.07)
        bend = (wing + end) / 2 + (side * 0.05, 0.0)
        p.shade(p.polyline(np.stack([wing, bend, end]), 0.025, 0.025), 0.2)
    # lips: upper darker than lower, the mouth line, the shadow under the lower lip
    lip = skin * np.array([0.88, 0.58, 0.58]) * rng.uniform(0.9, 1.05)
    p.paint(p.polygon(units[[48, 49, 50, 51, 52, 53, 54, 64, 63, 62, 61, 60]], 0.006), lip * 0.88, 0.9)
    p.paint(p.polygon(units[[54, 55, 56, 57, 58, 59, 48, 60, 67, 66, 65, 64]], 0.006), lip, 0.9)
    p.paint(p.polygon(units[60:68], 0.004), (40, 20, 20), 0.9)
    p.paint(p.polyline(units[60:65], 0.014, 0.005), (45, 22, 22), 0.85)
    p.shade(p.ellipse(units[57] + (0, 0.07), (0.17, 0.04), 0.03), 0.12)

    landmarks = centre + scale * (units @ rot.T)
    image = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)
    return Face(subject, image, landmarks, centre, float(scale), roll)


# ---------------------------------------------------------------------------------------------------------- motion


def _bumps(face: Face, action_units: Iterable[int]) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Per AU: bump centres (N, 2) px, directions (N, 2) px-unit vectors in the image, sigma px."""
    units = face.to_face_units(face.landmarks)
    rot = face.rotation()
    out = []
    for au in action_units:
        if au not in AU_MOTION:
            raise ValueError(f"no motion defined for AU{au}; known: {sorted(AU_MOTION)}")
        sigma, bumps = AU_MOTION[au]
        centres, directions = [], []
        for bump in bumps:
            mirrored = tuple(int(MIRROR[i]) for i in bump.at)
            midline = sorted(mirrored) == sorted(bump.at)
            for at, side in [(bump.at, 1.0)] + ([] if midline else [(mirrored, -1.0)]):
                centres.append(units[list(at)].mean(0) + (side * bump.offset[0], bump.offset[1]))
                directions.append((side * bump.direction[0], bump.direction[1]))
        centres_px = face.centre + face.scale * (np.array(centres) @ rot.T)
        out.append((centres_px, np.array(directions) @ rot.T, sigma * face.scale))
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
        w = np.exp(-d2 / (2 * sigma ** 2))
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
    smooth /= np.sqrt((kernel ** 2).sum())
    return limit * np.clip(0.5 * smooth, -1, 1)


def render_clip(
    face: Face, emotion: str, settings: SyntheticSettings, index: int = 0, action_units: str | None = None
) -> RenderedClip:
    """Clip `index` of `face`'s subject showing `emotion` (AUs drawn from the emotion's combinations unless given).

    Pure: the result depends only on the arguments, so readers, writers and tests can call it on their own."""
    rng = _rng(settings, face.subject, 1, index)
    length = int(rng.integers(settings.min_frames, settings.max_frames + 1))
    margin = min(2, (length - 3) // 2)  # neutral frames before onset and after offset: up to 2 each
    onset = int(rng.integers(0, margin + 1))
    offset = length - 1 - int(rng.integers(0, margin + 1))
    apex = onset + int(np.clip(round(rng.uniform(0.35, 0.6) * (offset - onset)), 1, offset - onset - 1))
    picked = _pick_action_units(emotion, rng)  # drawn even when AUs are given, so the rest of the clip is the same
    aus = parse_action_units(action_units) if action_units else picked
    spread = settings.amplitude_spread
    peak = settings.amplitude * settings.pixel_scale * rng.uniform(1 - spread, 1 + spread)
    au_gain = dict(zip(sorted(AU_MOTION), rng.uniform(0.85, 1.15, len(AU_MOTION))))
    gains = [au_gain[au] for au in aus]
    offset_px = rng.uniform(-1.0, 1.0, 2) * settings.pixel_scale
    head = offset_px + _jitter(rng, length, settings.jitter * settings.pixel_scale)
    brightness = rng.uniform(0.94, 1.06)
    profile = _profile(length, onset, apex, offset)

    h, w = settings.height, settings.width
    bumps = _bumps(face, aus)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    grid = np.stack([gx, gy], -1).astype(np.float64)
    field = _displacement(grid, bumps, gains)
    norm = peak / max(float(np.sqrt((field ** 2).sum(-1)).max()), 1e-9)  # the clip's largest motion is `peak` px
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
        subject=face.subject, index=index, emotion=emotion, action_units="+".join(str(a) for a in aus),
        frames=frames, landmarks=landmarks, onset=onset, apex=apex, offset=offset,
    )


def render_subject(settings: SyntheticSettings, subject: int) -> list[RenderedClip]:
    face = render_face(settings, subject)
    return [render_clip(face, e, settings, i) for i, e in enumerate(emotion_plan(settings, subject))]


def render_dataset(settings: SyntheticSettings) -> Iterator[RenderedClip]:
    """Every clip, subject by subject (a generator: one subject's clips in memory at a time)."""
    for subject in range(1, settings.subjects + 1):
        yield from render_subject(settings, subject)


# ---------------------------------------------------------------------------------------------------------- layouts

CASME2_COLUMNS = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion")
CASME2_SHEET = "CASME2-coding-synthetic.xlsx"
# `SheetFramesDataset` arguments that read what `write_casme2_layout` writes.
CASME2_READER = {
    "sheet": "CASME2-coding-*.xlsx",
    "columns": {
        "subject": "Subject", "clip": "Filename", "onset": "OnsetFrame", "apex": "ApexFrame",
        "offset": "OffsetFrame", "action_units": "Action Units", "emotion": "Estimated Emotion",
    },
    "clip_dir": "CASME2_RAW_selected/sub{subject:0>2}/{clip}",
    "frame_regex": r"^img(\d+)\.jpg$",
    "subject_name": "sub{subject:0>2}",
    "landmarks": "landmarks.npy",
}
_FIXED_TIME = (2000, 1, 1, 0, 0, 0)


def casme2_clip_name(index: int) -> str:
    """CASME II style `EPxx_yy` (episodes of four takes); the name carries no label information."""
    return f"EP{index // 4 + 1:02d}_{index % 4 + 1:02d}"


def encode_jpeg(frame: np.ndarray, quality: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buffer.tobytes()


def write_xlsx(path: Path, table: pd.DataFrame | Mapping[str, pd.DataFrame], header: bool = True) -> None:
    """`table` (or several tabs, by name) as an xlsx whose bytes depend on its content only (openpyxl stamps the
    time in two places); `header=False` writes the rows alone, as sheets with notes above the header are laid out."""
    buffer = io.BytesIO()
    tabs = table if isinstance(table, Mapping) else {"Sheet1": table}
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, tab in tabs.items():
            tab.to_excel(writer, sheet_name=name, index=False, header=header)
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, data)


def write_casme2_layout(root: str | Path, clips: Iterable[RenderedClip], settings: SyntheticSettings) -> Path:
    """Write clips as the CASME II release lays them out: `CASME2_RAW_selected/subNN/EPxx_yy/img1.jpg ...` with a
    `landmarks.npy` (T, 68, 2) per clip, and the coding sheet (frame numbers are the img numbers, from 1)."""
    root = Path(root)
    rows = []
    for clip in clips:
        name = casme2_clip_name(clip.index)
        folder = root / "CASME2_RAW_selected" / f"sub{clip.subject:02d}" / name
        folder.mkdir(parents=True, exist_ok=True)
        for number, frame in enumerate(clip.frames, start=1):
            (folder / f"img{number}.jpg").write_bytes(encode_jpeg(frame, settings.jpeg_quality))
        np.save(folder / "landmarks.npy", clip.landmarks.astype(np.float32))
        rows.append([f"{clip.subject:02d}", name, clip.onset + 1, clip.apex + 1, clip.offset + 1,
                     clip.action_units, clip.emotion])
    write_xlsx(root / CASME2_SHEET, pd.DataFrame(rows, columns=list(CASME2_COLUMNS)))
    return root


def encode_image(frame: np.ndarray, extension: str, settings: SyntheticSettings, grayscale: bool = False) -> bytes:
    """An RGB frame as the bytes of a `.jpg`, `.png` or `.bmp` file (grayscale on request, as SAMM's are)."""
    image = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY if grayscale else cv2.COLOR_RGB2BGR)
    options = [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality] if extension == ".jpg" else []
    ok, buffer = cv2.imencode(extension, image, options)
    if not ok:
        raise RuntimeError(f"{extension} encoding failed")
    return buffer.tobytes()


def _write_frames(folder: Path, frames: np.ndarray, names: Iterable[str], settings: SyntheticSettings,
                  grayscale: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in zip(names, frames):
        (folder / name).write_bytes(encode_image(frame, Path(name).suffix, settings, grayscale))


# Each release's words for the generator's (CASME II) emotions. The classes of the composite schemes are kept: a
# negative emotion stays negative.
CASME_EMOTIONS = {"others": "tense"}
SAMM_EMOTIONS = {"happiness": "Happiness", "disgust": "Disgust", "repression": "Contempt", "surprise": "Surprise",
                 "fear": "Anger", "sadness": "Sadness", "others": "Other"}
VALENCE = {"happiness": "positive", "surprise": "surprise", "others": "others", **dict.fromkeys(NEGATIVE_EMOTIONS, "negative")}
SMIC_CODES = {"negative": "ne", "positive": "po", "surprise": "sur"}
CKPLUS_CODES = {"repression": 2, "disgust": 3, "fear": 4, "happiness": 5, "sadness": 6, "surprise": 7}  # others: none
CASME_SQ_SUBJECT_CODE = 14  # participant 1 is s15, as in the release
CASME_SQ_VIDEO = ("0101", "disgust1", "disgustingteeth")  # video code, name, description


def write_casme_layout(root: str | Path, clips: Iterable[RenderedClip], settings: SyntheticSettings) -> Path:
    """CASME: `CASME_raw_selected/subNN/EPxx_yy/imgN.jpg` and `CASME-coding-synthetic.xlsx` (subjects as numbers,
    columns OnsetF / ApexF1 / OffsetF / Emotion; "others" written as tense, which CASME has instead)."""
    root = Path(root)
    rows = []
    for clip in clips:
        name = casme2_clip_name(clip.index)
        names = [f"img{n}.jpg" for n in range(1, len(clip.frames) + 1)]
        _write_frames(root / "CASME_raw_selected" / f"sub{clip.subject:02d}" / name, clip.frames, names, settings)
        rows.append([clip.subject, name, clip.onset + 1, clip.apex + 1, "", clip.offset + 1, clip.action_units,
                     CASME_EMOTIONS.get(clip.emotion, clip.emotion)])
    columns = ["Subject", "Filename", "OnsetF", "ApexF1", "ApexF2", "OffsetF", "Action Units", "Emotion"]
    write_xlsx(root / "CASME-coding-synthetic.xlsx", pd.DataFrame(rows, columns=columns))
    return root


def write_casme_sq_layout(root: str | Path, clips: Iterable[RenderedClip], settings: SyntheticSettings) -> Path:
    """CAS(ME)^2: each subject's clips one after the other in one long video `rawpic/s{code}/{code}_{video}.../imgN.jpg`,
    every third clip a macro-expression; `CAS(ME)^2code_final.xlsx` without a header row (participant number,
    expression name, onset, apex, offset, AUs, emotion by valence, type, self-report) and its naming-rule tabs."""
    root = Path(root)
    code, video, description = CASME_SQ_VIDEO
    by_subject: dict[int, list[RenderedClip]] = {}
    for clip in clips:
        by_subject.setdefault(clip.subject, []).append(clip)
    rows, participants = [], []
    for subject, subject_clips in by_subject.items():
        subject_code = subject + CASME_SQ_SUBJECT_CODE
        participants.append([f"participant {subject}", subject_code, subject])
        folder = root / "rawpic" / f"s{subject_code}" / f"{subject_code}_{code}{description}"
        start = 1
        for k, clip in enumerate(subject_clips, start=1):
            names = [f"img{n}.jpg" for n in range(start, start + len(clip.frames))]
            _write_frames(folder, clip.frames, names, settings)
            kind = "macro-expression" if k % 3 == 0 else "micro-expression"
            rows.append([subject, f"{video}_{k}", start + clip.onset, start + clip.apex, start + clip.offset,
                         clip.action_units, VALENCE[clip.emotion], kind, clip.emotion])
            start += len(clip.frames)
    tabs = {
        "code_final": pd.DataFrame(rows),
        "naming rule1": pd.DataFrame(participants),
        "naming rule2": pd.DataFrame([[code, video]]),
    }
    write_xlsx(root / "CAS(ME)^2code_final.xlsx", tabs, header=False)
    return root


def write_samm_layout(root: str | Path, clips: Iterable[RenderedClip], settings: SyntheticSettings) -> Path:
    """SAMM: `SAMM/{sss}/{sss}_{n}_{k}/{sss}_{frame:05d}.jpg` in grayscale (subject 1 is 006, frame numbers from
    inside the session, not from 1), and `SAMM_Micro_FACS_Codes_v2.xlsx` whose header row follows rows of notes."""
    root = Path(root)
    header = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
              "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes"]
    notes = [["SAMM micro-movement FACS codes (synthetic)"], ["Frame numbers are those of the session's files."],
             [], ["Estimated Emotion is the emotion the inducement aimed at."]]
    rows = [[*note, *[""] * (len(header) - len(note))] for note in notes] + [header]
    for clip in clips:
        subject = f"{clip.subject + 5:03d}"
        name = f"{subject}_{clip.index // 3 + 1}_{clip.index % 3 + 1}"
        first = 100 * (clip.index + 1) + 7
        names = [f"{subject}_{n:05d}.jpg" for n in range(first, first + len(clip.frames))]
        _write_frames(root / "SAMM" / subject / name, clip.frames, names, settings, grayscale=True)
        rows.append([clip.subject + 5, name, clip.index // 3 + 1, first + clip.onset, first + clip.apex,
                     first + clip.offset, clip.offset - clip.onset + 1, "Micro - 1/2", clip.action_units,
                     SAMM_EMOTIONS[clip.emotion], "", ""])
    write_xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", pd.DataFrame(rows), header=False)
    return root


def write_smic_layout(root: str | Path, clips: Iterable[RenderedClip], settings: SyntheticSettings) -> Path:
    """SMIC-HS: `HS/s{n}/micro/{negative|positive|surprise}/s{n}_{ne|po|sur}_{k:02d}/image{N:06d}.bmp`, the class
    the folder (by valence; SMIC has no "others", so those clips are not written), no sheet and no apex."""
    root = Path(root)
    counts: dict[tuple[int, str], int] = {}
    for clip in clips:
        valence = VALENCE[clip.emotion]
        if valence not in SMIC_CODES:
            continue
        k = counts[clip.subject, valence] = counts.get((clip.subject, valence), 0) + 1
        folder = root / "HS" / f"s{clip.subject}" / "micro" / valence / f"s{clip.subject}_{SMIC_CODES[valence]}_{k:02d}"
        first = 1000 * clip.subject + 10 * clip.index
        names = [f"image{n:06d}.bmp" for n in range(first + clip.onset, first + clip.offset + 1)]
        _write_frames(folder, clip.frames[clip.onset : clip.offset + 1], names, settings)
    return root


def write_ckplus_layout(root: str | Path, clips: Iterable[RenderedClip], settings: SyntheticSettings) -> Path:
    """CK+: each clip from onset (neutral) to apex (peak) as `cohn-kanade-images/S{sss}/{nnn}/S{sss}_{nnn}_{f:08d}.png`,
    its 68 landmarks per frame in `Landmarks/.../*_landmarks.txt`, and an `Emotion/.../*_emotion.txt` code (0-7)
    named after the peak frame ("others" sequences get none: unlabelled, as most of CK+'s are)."""
    root = Path(root)
    for clip in clips:
        subject, sequence = f"S{clip.subject:03d}", f"{clip.index + 1:03d}"
        stems = [f"{subject}_{sequence}_{n:08d}" for n in range(1, clip.apex - clip.onset + 2)]
        frames = clip.frames[clip.onset : clip.apex + 1]
        _write_frames(root / "cohn-kanade-images" / subject / sequence, frames, [f"{s}.png" for s in stems], settings)
        marks = root / "Landmarks" / subject / sequence
        marks.mkdir(parents=True, exist_ok=True)
        for stem, points in zip(stems, clip.landmarks[clip.onset : clip.apex + 1]):
            (marks / f"{stem}_landmarks.txt").write_text("".join(f"   {x:.7e}   {y:.7e}\n" for x, y in points))
        if clip.emotion in CKPLUS_CODES:
            emotion = root / "Emotion" / subject / sequence
            emotion.mkdir(parents=True, exist_ok=True)
            (emotion / f"{stems[-1]}_emotion.txt").write_text(f"   {CKPLUS_CODES[clip.emotion]:.7e}\n")
    return root


WRITERS: dict[str, Callable[[Path, Iterable[RenderedClip], SyntheticSettings], Path]] = {
    "casme": write_casme_layout,
    "casme2": write_casme2_layout,
    "casme_sq": write_casme_sq_layout,
    "ckplus": write_ckplus_layout,
    "samm": write_samm_layout,
    "smic": write_smic_layout,
}


# ---------------------------------------------------------------------------------------------------------- generate


def is_current(root: str | Path, settings: SyntheticSettings) -> bool:
    """Whether `root` holds a complete generation with exactly these settings and this format version."""
    try:
        return json.loads((Path(root) / MANIFEST).read_text()) == settings.manifest()
    except (OSError, ValueError):
        return False


def generate(root: str | Path, settings: SyntheticSettings | None = None) -> Path:
    """Make `root` hold the dataset for `settings`; do nothing when it already does.

    The data is written to a temporary sibling and renamed into place, `generator.json` last, so `root` is always
    either absent, a complete older generation or a complete current one -- also when several processes call this
    at once (the losers see the winner's folder is current and drop their own). A `root` holding anything but an
    earlier generation is never replaced."""
    settings = settings or SyntheticSettings()
    root = Path(root).absolute()
    if is_current(root, settings):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{root.name}.partial-", dir=root.parent))
    try:
        os.chmod(partial, 0o755)
        WRITERS[settings.layout](partial, render_dataset(settings), settings)
        (partial / MANIFEST).write_text(json.dumps(settings.manifest(), indent=2, sort_keys=True) + "\n")
        _install(partial, root, settings)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return root


def _install(partial: Path, root: Path, settings: SyntheticSettings) -> None:
    for _ in range(100):
        if is_current(root, settings):
            return  # a concurrent call won; its files are the same as ours
        try:
            os.rename(partial, root)  # atomic; fails while `root` is a non-empty folder
            return
        except FileNotFoundError:
            continue
        except OSError:
            if not root.is_dir():
                raise
        if not (root / MANIFEST).exists() and any(root.iterdir()):
            raise FileExistsError(f"{root} exists and is not a synthetic dataset (no {MANIFEST}); not replacing it")
        stale = root.with_name(f".{root.name}.stale-{uuid.uuid4().hex}")
        try:
            os.rename(root, stale)
        except FileNotFoundError:
            continue
        if is_current(stale, settings):  # a concurrent winner installed it in the meantime: put it back
            try:
                os.rename(stale, root)
                continue
            except OSError:
                pass
        shutil.rmtree(stale, ignore_errors=True)
    raise RuntimeError(f"could not install the synthetic dataset at {root}: it keeps changing")


# ---------------------------------------------------------------------------------------------------------- dataset


class SyntheticDataset(SheetFramesDataset):
    """The synthetic set as a dataset: generated into `root` when first read (or when its settings changed), then
    read by the CASME II reader exactly as a CASME II release would be.

    `generator` holds `SyntheticSettings` fields (`{"subjects": 4}`); reader arguments default to `CASME2_READER`."""

    def __init__(
        self,
        name: str = "synthetic",
        root: str | Path = "data/synthetic",
        classes: str | Mapping = "composite3",
        generator: SyntheticSettings | Mapping | None = None,
        **reader,
    ) -> None:
        if not isinstance(generator, SyntheticSettings):
            generator = SyntheticSettings(**(generator or {}))
        self.settings = generator
        if self.settings.layout != "casme2":
            raise ValueError(f"SyntheticDataset reads the casme2 layout; generator.layout is {self.settings.layout!r}")
        super().__init__(name, root, classes, **{**CASME2_READER, **reader})

    def clips(self) -> list[Clip]:
        generate(self.root, self.settings)
        return super().clips()
