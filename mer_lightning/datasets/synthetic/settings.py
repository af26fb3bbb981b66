"""The generator's settings: every knob, checked when made, and the manifest that records them beside a generation."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import numpy as np

GENERATOR = "mer_lightning.datasets.synthetic"  # the manifest's name for the generator (kept when modules move)
FORMAT_VERSION = 1
MANIFEST = "generator.json"
REFERENCE_SIZE = 128  # `amplitude` and `jitter` are pixels of a frame whose shorter side is this
# Settings added after format 1, recorded in the manifest only when they differ from their default (which keeps what
# the generator did before they existed), so that earlier generations stay current.
LATER_SETTINGS = ("neutral_fraction", "emotions", "motion_spread")


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
    neutral_fraction: float = 0.0  # clips with no action unit, emotion "neutral"
    emotions: tuple[str, ...] | None = None  # the plan's emotions, in turn; None: CASME II's plan (`plan.py`)
    motion_spread: float = 1.0  # every AU's bumps this much wider: larger motions move broader areas of the face

    def __post_init__(self) -> None:
        from mer_lightning.datasets.synthetic.layouts import WRITERS  # these modules take the settings
        from mer_lightning.datasets.synthetic.plan import EMOTIONS

        if self.emotions is not None:
            object.__setattr__(self, "emotions", tuple(str(e) for e in self.emotions))  # a list, from config
        problems = []
        if self.subjects < 1 or self.clips_per_subject < 1:
            problems.append("subjects and clips_per_subject must be >= 1")
        if not 3 <= self.min_frames <= self.max_frames:
            problems.append("need 3 <= min_frames <= max_frames (onset, apex and offset are distinct frames)")
        if min(self.height, self.width) < 32:
            problems.append("height and width must be >= 32")
        if not 0 <= self.amplitude_spread < 1 or self.amplitude < 0 or self.noise_std < 0 or self.jitter < 0:
            problems.append("amplitude, noise_std, jitter must be >= 0 and amplitude_spread in [0, 1)")
        if not (
            0 <= self.others_fraction < 1
            and 0 <= self.neutral_fraction < 1
            and self.others_fraction + self.neutral_fraction < 1
        ):
            problems.append("others_fraction and neutral_fraction must be in [0, 1) and their sum below 1")
        if self.emotions is not None and (not self.emotions or not set(self.emotions) <= set(EMOTIONS)):
            problems.append(f"emotions must be null or a non-empty list of {list(EMOTIONS)}")
        if self.motion_spread <= 0:
            problems.append("motion_spread must be > 0")
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
        defaults = {f.name: f.default for f in fields(self)}
        settings = {k: v for k, v in asdict(self).items() if k not in LATER_SETTINGS or v != defaults[k]}
        return json.loads(
            json.dumps({"generator": GENERATOR, "format_version": FORMAT_VERSION, "settings": settings}, sort_keys=True)
        )


def rng_for(settings: SyntheticSettings, subject: int, stream: int, index: int = 0) -> np.random.Generator:
    """The generator of one stream (0 face, 1 clip, 2 plan) of one subject (and clip): seeded by all of them, so a
    subject's or a clip's content does not depend on how many others are made."""
    return np.random.default_rng([settings.seed, subject, stream, index])
