"""Faces: one neutral face per subject, painted from a parametric iBUG 68-point template."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from mer_lightning.datasets.synthetic.settings import SyntheticSettings, rng_for

SUPERSAMPLE = 2  # faces are painted at 2x, then area-downsampled (anti-aliased edges)

# The mirror of each iBUG landmark across the face's vertical axis.
MIRROR = np.array(
    [16 - i for i in range(17)]
    + [43 - i for i in range(17, 27)]
    + [27, 28, 29, 30]
    + [66 - i for i in range(31, 36)]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [102 - i for i in range(48, 55)]
    + [114 - i for i in range(55, 60)]
    + [124 - i for i in range(60, 65)]
    + [132 - i for i in range(65, 68)]
)


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
        return rotation_matrix(self.roll)

    def to_face_units(self, points: np.ndarray) -> np.ndarray:
        return ((points - self.centre) / self.scale) @ self.rotation()

    def head_weight(self, points: np.ndarray) -> np.ndarray:
        """How much a point moves with the head (1 on head and hair, 0 on the background, smooth in between)."""
        u = self.to_face_units(points)
        r = np.sqrt((u[..., 0] / 1.3) ** 2 + ((u[..., 1] - 0.05) / 1.45) ** 2)
        t = np.clip((r - 1.0) / 0.35, 0.0, 1.0)
        return 0.5 * (1.0 + np.cos(np.pi * t))


def rotation_matrix(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


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
    pts[0:17, 0] = np.cos(a) * (1 - chin_taper * s**4)
    pts[0:17, 1] = jaw_top + (chin_y - jaw_top) * s**0.8
    k = np.arange(5)
    bx = np.linspace(-brow_outer, -brow_inner, 5)
    by = brow_y + 0.03 - brow_arch * np.sin(np.pi * (k + 0.7) / 5.4)
    pts[17:22] = np.stack([bx, by], 1)
    pts[27:31] = np.stack([np.zeros(4), np.linspace(eye_y - 0.02, nose_tip, 4)], 1)
    pts[31:36] = np.stack([np.linspace(-nose_w, nose_w, 5), nose_tip + np.array([0.04, 0.075, 0.09, 0.075, 0.04])], 1)
    ex = -eye_dx
    pts[36:42] = [
        (ex - eye_w, eye_y),
        (ex - 0.35 * eye_w, eye_y - eye_up),
        (ex + 0.35 * eye_w, eye_y - eye_up),
        (ex + eye_w, eye_y + 0.01),
        (ex + 0.35 * eye_w, eye_y + eye_down),
        (ex - 0.35 * eye_w, eye_y + eye_down),
    ]
    w = mouth_w
    pts[48:55] = [
        (-w, mouth_y),
        (-0.6 * w, mouth_y - 0.8 * lip_up),
        (-0.22 * w, mouth_y - lip_up),
        (0, mouth_y - 0.85 * lip_up),
        (0.22 * w, mouth_y - lip_up),
        (0.6 * w, mouth_y - 0.8 * lip_up),
        (w, mouth_y),
    ]
    pts[55:60] = [
        (0.6 * w, mouth_y + 0.75 * lip_down),
        (0.24 * w, mouth_y + 0.97 * lip_down),
        (0, mouth_y + lip_down),
        (-0.24 * w, mouth_y + 0.97 * lip_down),
        (-0.6 * w, mouth_y + 0.75 * lip_down),
    ]
    pts[60:65] = [
        (-0.85 * w, mouth_y),
        (-0.3 * w, mouth_y - 0.012),
        (0, mouth_y - 0.008),
        (0.3 * w, mouth_y - 0.012),
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
    rng = rng_for(settings, subject, 0)
    h, w, ss = settings.height, settings.width, SUPERSAMPLE
    units, shape = _template(rng)
    size = min(h, w)
    scale = size * rng.uniform(0.28, 0.31)
    roll = math.radians(rng.uniform(-3, 3))
    centre = np.array([w / 2 + rng.uniform(-0.03, 0.03) * w, h / 2 - 0.1 * scale + rng.uniform(-0.03, 0.03) * h])
    rot = rotation_matrix(roll)

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
    p.paint(
        p.polygon([(-0.42, chin_y - 0.5), (0.42, chin_y - 0.5), (0.5, 3.0), (-0.5, 3.0)], 0.03),
        textured(skin * 0.82, texture_level),
        1.0,
    )
    for side in (-1, 1):
        p.paint(p.ellipse((side * 0.98, jaw_top + 0.12), (0.12, 0.22), 0.02), textured(skin * 0.9, texture_level))
    face_mask = p.polygon(contour, 0.015)
    skin_img = textured(skin, texture_level)
    # shading: darker towards the face's edge and under the chin
    grid = np.stack(np.meshgrid(np.arange(ws), np.arange(hs)), -1).astype(np.float64)
    uv = ((grid - (ss - 1) / 2) / ss - centre) / scale @ rot
    r2 = uv[..., 0] ** 2 + ((uv[..., 1] - 0.1) / 1.15) ** 2
    skin_img *= np.clip(1.05 - 0.28 * r2**1.5, 0.6, 1.1).astype(np.float32)[..., None]
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
        brow = units[lo : lo + 5]
        mask = p.polyline(brow, brow_thick, 0.01) + 0.6 * p.polyline(brow + (0, 0.015), brow_thick * 0.6, 0.01)
        p.paint(
            np.clip(mask, 0, 1) * (0.75 + 0.25 * _smooth_noise(rng, (hs, ws), 0.6 * ss).clip(-1, 1)), hair * 0.8, 0.9
        )
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
