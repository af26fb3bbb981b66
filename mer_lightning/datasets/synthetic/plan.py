"""What each subject's clips show: the emotions of a subject's plan and the FACS action units of each emotion."""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from mer_lightning.datasets.synthetic.settings import SyntheticSettings, rng_for

# The default plan's vocabulary: CASME II's emotions.
CASME2_EMOTIONS = ("happiness", "disgust", "repression", "surprise", "fear", "sadness", "others")
NEGATIVE_EMOTIONS = ("disgust", "repression", "fear", "sadness")  # the default plan's negatives, in turn
# Each emotion's AU combinations, one drawn per clip (a repeated one is drawn more often). "R14"/"L14": AU14 on the
# subject's right or left side only. A neutral clip has no action unit: only the head jitter, brightness and noise
# of every clip.
EMOTION_AUS: dict[str, tuple[str, ...]] = {
    "happiness": ("6+12", "12", "6+12"),
    "disgust": ("4+9", "4+7"),
    "repression": ("14", "15", "17", "15+17", "14+17"),
    "surprise": ("1+2", "1+2+5", "1+2+26"),
    "fear": ("1+2+4+20", "4+5"),
    "sadness": ("1+4+15",),
    "anger": ("4+5+7+23", "4+7+23", "4+5+7+23"),  # brows lowered, lids raised and tightened, lips tightened
    "contempt": ("R14", "L14"),  # one lip corner tightened
    "tense": ("4+7+24", "7+24", "4+24"),  # lids tightened, lips pressed
    "neutral": ("",),
}
OTHERS_POOL = (10, 18, 23, 24, 25, 38, 43)  # AUs the default plan's emotions do not use; "others" take one or two
EMOTIONS = (*EMOTION_AUS, "others")  # every emotion a plan may hold


class ActionUnit(NamedTuple):
    """A FACS action unit; `side` "R" or "L" when only that half of the face (the subject's right or left) moves."""

    number: int
    side: str = ""

    def __str__(self) -> str:
        return f"{self.side}{self.number}"


def emotion_plan(settings: SyntheticSettings, subject: int) -> list[str]:
    """The emotions of a subject's clips, in clip order.

    `others_fraction` of them are "others" and `neutral_fraction` "neutral" (leaving at least three other clips when
    there are that many); the rest follow `settings.emotions` in turn, each subject starting one emotion further on,
    or, by default, CASME II's plan: the three composite classes in near-equal numbers, negatives cycling through
    their four emotions. The order is shuffled."""
    n = settings.clips_per_subject
    n_others = min(int(round(n * settings.others_fraction)), max(0, n - 3))
    n_neutral = min(int(round(n * settings.neutral_fraction)), max(0, n - 3 - n_others))
    expressive = n - n_others - n_neutral
    if settings.emotions is None:
        plan = _casme2_plan(subject, expressive)
    else:
        plan = [settings.emotions[(subject - 1 + k) % len(settings.emotions)] for k in range(expressive)]
    plan += ["others"] * n_others + ["neutral"] * n_neutral
    rng_for(settings, subject, 2).shuffle(plan)
    return plan


def _casme2_plan(subject: int, count: int) -> list[str]:
    """`count` emotions: negative, positive and surprise in turn (each subject starting one class further on), the
    negatives cycling through disgust, repression, fear and sadness."""
    classes = ["negative", "positive", "surprise"]
    start = (subject - 1) % 3
    order = classes[start:] + classes[:start]
    plan = []
    negatives = 0
    for k in range(count):
        cls = order[k % 3]
        if cls == "negative":
            plan.append(NEGATIVE_EMOTIONS[(subject - 1 + negatives) % len(NEGATIVE_EMOTIONS)])
            negatives += 1
        else:
            plan.append("happiness" if cls == "positive" else "surprise")
    return plan


def pick_action_units(emotion: str, rng: np.random.Generator) -> list[ActionUnit]:
    """One of the emotion's AU combinations ("others": one or two AUs of `OTHERS_POOL`), drawn from `rng`."""
    if emotion == "others":
        count = 1 if rng.random() < 0.7 else 2
        return sorted(ActionUnit(int(a)) for a in rng.choice(OTHERS_POOL, size=count, replace=False))
    if emotion not in EMOTION_AUS:
        raise ValueError(f"unknown emotion {emotion!r}; known: {EMOTIONS}")
    combo = EMOTION_AUS[emotion][int(rng.integers(len(EMOTION_AUS[emotion])))]
    return parse_action_units(combo)


def parse_action_units(text: str) -> list[ActionUnit]:
    """`"1+2+26"` -> AUs 1, 2, 26 (sorted); `"R14"` is AU14 on the subject's right only; intensity letters (`"4B"`)
    are ignored."""
    return sorted({ActionUnit(int(number), side) for side, number in re.findall(r"([LR]?)(\d+)", text.upper())})
