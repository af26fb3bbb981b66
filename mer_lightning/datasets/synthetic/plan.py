"""What each subject's clips show: the emotions of a subject's plan and the FACS action units of each emotion."""

from __future__ import annotations

import re

import numpy as np

from mer_lightning.datasets.synthetic.settings import SyntheticSettings, rng_for

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
    rng_for(settings, subject, 2).shuffle(plan)
    return plan


def pick_action_units(emotion: str, rng: np.random.Generator) -> list[int]:
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
