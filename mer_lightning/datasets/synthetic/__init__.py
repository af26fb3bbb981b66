"""Deterministic synthetic micro-expressions, written to disk in a real dataset's release layout.

MER datasets are licensed, so the project's default dataset is made here. The generator renders clips in memory
(`faces.render_face`, `motion.render_clip`, `motion.render_dataset`) and a layout writer (`layouts.WRITERS`) puts them
on disk the way a release does, so that the release's ordinary reader (its `conf/dataset/` config) reads them.
`SyntheticDataset` is that reader generating the set on first use (`install.generate`: idempotent, atomic, safe to
call from several processes at once). Rendering knows nothing of layouts: the writers for CASME, CASME II, CAS(ME)^2,
SAMM, SMIC and CK+ take the same `RenderedClip`s (`mer-synth ROOT --layout samm`); each writes what the release's
reader reads with its config's defaults.

How a clip is made (frozen defaults, `SyntheticSettings()`; pixel sizes are for a 128x128 frame and scale with the
frame's shorter side):

- Faces: one per subject, drawn from a parametric iBUG 68-point template (jaw 0-16, brows 17-26, nose 27-35, eyes
  36-47, mouth 48-67) whose geometry varies per subject (eye spacing and size, brow height and arch, nose length,
  mouth width, lip thickness, chin), placed with a per-subject scale (face half-width 28-31% of the frame), position
  (+-3% of the frame) and roll (+-3 deg). Painted at 2x and area-downsampled: background, hair, ears, neck, skin
  (tone from light to dark, three scales of low-pass texture, shading, moles), brows, eyes (sclera, iris, pupil,
  lids, crease, socket shadow), nose (sides, nostrils, tip), nasolabial folds and lips, so that the pixels have
  real structure where the landmarks are. Another `seed` gives other faces.
- Motion: each action unit is a set of Gaussian bumps centred on its landmarks, each with its direction (mirrored
  for the two halves of the face, rotated with the face; a one-sided AU such as "R14" keeps one half) -- a smooth
  displacement field. A clip's AUs are summed with per-AU gains U(0.85, 1.15), and the sum is scaled so that its
  largest displacement at apex is `amplitude` = 1.75 px times a per-clip gain U(0.7, 1.3): 1.2 to 2.3 px.
  `motion_spread` widens every bump (macro-expressions: larger motions over broader areas, which keeps the warp
  from folding the skin). The field follows a raised-cosine profile in time (0 at onset, 1 at apex, 0 at offset)
  and is applied by backward warping (`cv2.remap`, bicubic, the inverse by fixed-point steps) of the neutral
  rendering; the landmarks move by the same field.
- Every frame also gets a smooth global head jitter (moving the head, not the background; at most `jitter` = 0.3 px
  per axis, about half that typically) on top of a per-clip head offset (up to 1 px), a per-clip brightness gain
  U(0.94, 1.06), and Gaussian sensor noise (`noise_std` = 2 grey levels); frames are stored as JPEG (quality 95).
- Clips: 16-24 frames (uniform per clip); onset at frame position 0-2, offset 0-2 frames before the end, apex at
  35-60% of the way from onset to offset.
- Emotions (`plan.EMOTION_AUS`), each with its characteristic AU combinations: happiness 6+12 / 12; disgust 4+9 /
  4+7; repression 14 / 15 / 17 / 15+17 / 14+17; surprise 1+2 / 1+2+5 / 1+2+26; fear 1+2+4+20 / 4+5; sadness 1+4+15;
  anger 4+5+7+23 / 4+7+23; contempt R14 / L14 (one lip corner); tense 4+7+24 / 7+24 / 4+24; neutral none; others one
  or two AUs from a pool CASME II's other emotions do not use (10, 18, 23, 24, 25, 38, 43). Under the 3-class
  composite scheme the classes differ by where and which way the face moves (brows up: surprise; lip corners out
  and up: positive; brows down and together, nose up, lip corners down or in, chin up: negative).
- Per subject (`plan.emotion_plan`): 16 clips, `others_fraction` = 1/8 of them "others", `neutral_fraction` = 0
  neutral, the rest CASME II's plan: spread evenly over the three composite classes (5/5/4, rotating which class
  gets fewer), the negative ones cycling through disgust, repression, fear, sadness -- or, with `emotions` set, those
  emotions in turn; the order is shuffled. 8 subjects.

Everything comes from numpy Generators seeded by (seed, subject, ...) so a subject's or a clip's content does not
depend on how many others are made, and the same settings give byte-identical files (the xlsx's zip timestamps and
document dates are fixed); the settings added later leave the default set as it was. AU14 is FACS's dimpler (lip
corners tightened inward), AU23 the lip tightener, AU24 the lip pressor.
"""

from mer_lightning.datasets.synthetic.dataset import SyntheticDataset
from mer_lightning.datasets.synthetic.faces import Face, render_face
from mer_lightning.datasets.synthetic.install import generate, is_current
from mer_lightning.datasets.synthetic.layouts import (
    CASME2_COLUMNS,
    CASME2_SHEET,
    WRITERS,
)
from mer_lightning.datasets.synthetic.motion import AU_MOTION, RenderedClip, render_clip, render_dataset, render_subject
from mer_lightning.datasets.synthetic.plan import (
    CASME2_EMOTIONS,
    EMOTION_AUS,
    EMOTIONS,
    ActionUnit,
    emotion_plan,
    parse_action_units,
)
from mer_lightning.datasets.synthetic.settings import MANIFEST, SyntheticSettings

__all__ = [
    "AU_MOTION",
    "CASME2_COLUMNS",
    "CASME2_EMOTIONS",
    "CASME2_SHEET",
    "EMOTIONS",
    "EMOTION_AUS",
    "MANIFEST",
    "WRITERS",
    "ActionUnit",
    "Face",
    "RenderedClip",
    "SyntheticDataset",
    "SyntheticSettings",
    "emotion_plan",
    "generate",
    "is_current",
    "parse_action_units",
    "render_clip",
    "render_dataset",
    "render_face",
    "render_subject",
]
