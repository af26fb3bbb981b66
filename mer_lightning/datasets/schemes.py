"""Class schemes as data: each maps a dataset's raw emotion words to the classes of a published protocol.

An emotion missing from a scheme's mapping is an error (the reader names the clip); an emotion mapped to `None` is
dropped on purpose, as the composite protocols drop "others".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ClassScheme:
    name: str
    classes: tuple[str, ...]
    mapping: Mapping[str, str | None]

    def __post_init__(self) -> None:
        unknown = {c for c in self.mapping.values() if c is not None} - set(self.classes)
        if unknown:
            raise ValueError(f"class scheme {self.name!r} maps to classes it does not list: {sorted(unknown)}")

    def label(self, emotion: str) -> int | None:
        """Class index of a raw emotion, `None` when the scheme drops it; `KeyError` when it does not know it."""
        key = normalise_emotion(emotion)
        if key not in self.mapping:
            raise KeyError(
                f"emotion {emotion!r} is not in class scheme {self.name!r} (known: {sorted(self.mapping)})"
            )
        target = self.mapping[key]
        return None if target is None else self.classes.index(target)


def normalise_emotion(emotion: str) -> str:
    return emotion.strip().lower()


_NEGATIVE_3 = {
    "disgust": "negative", "repression": "negative", "anger": "negative", "contempt": "negative",
    "fear": "negative", "sadness": "negative", "negative": "negative", "tense": "negative",
}

SCHEMES: dict[str, ClassScheme] = {
    scheme.name: scheme
    for scheme in [
        # MEGC 2019 composite: negative / positive / surprise; "others" and unclear emotions are dropped.
        ClassScheme(
            "composite3",
            ("negative", "positive", "surprise"),
            {**_NEGATIVE_3, "happiness": "positive", "positive": "positive",
             "surprise": "surprise", "others": None, "other": None},
        ),
        # CASME II's usual 5 classes.
        ClassScheme(
            "casme2_5",
            ("happiness", "disgust", "repression", "surprise", "others"),
            {"happiness": "happiness", "disgust": "disgust", "repression": "repression", "surprise": "surprise",
             "others": "others", "fear": None, "sadness": None},
        ),
        # The CASME II vocabulary as it is (7 emotions).
        ClassScheme(
            "casme2_7",
            ("happiness", "disgust", "repression", "surprise", "fear", "sadness", "others"),
            {e: e for e in ("happiness", "disgust", "repression", "surprise", "fear", "sadness", "others")},
        ),
    ]
}


def resolve_scheme(spec: str | Mapping) -> ClassScheme:
    """A scheme by name, or an inline one from config: `{name, classes, mapping}`."""
    if isinstance(spec, str):
        if spec not in SCHEMES:
            raise KeyError(f"unknown class scheme {spec!r}; known: {sorted(SCHEMES)}")
        return SCHEMES[spec]
    return ClassScheme(
        name=str(spec.get("name", "custom")),
        classes=tuple(spec["classes"]),
        mapping={normalise_emotion(k): v for k, v in dict(spec["mapping"]).items()},
    )
