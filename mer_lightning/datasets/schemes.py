"""Class schemes as data: each maps a dataset's raw emotion words to the classes of a published protocol.

An emotion missing from a scheme's mapping is an error (the reader names the clip); an emotion mapped to `None` is
dropped on purpose, as the composite protocols drop "others". A scheme may also hold per-dataset entries, for
protocols whose rule differs by source: MEGC 2019 counts SAMM's fear and sadness as negative but drops CASME II's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClassScheme:
    """`mapping` holds the entries every dataset shares; `per_dataset[name]` adds to or overrides them for the
    dataset of that name (the reader's `name`, e.g. `casme2`)."""

    name: str
    classes: tuple[str, ...]
    mapping: Mapping[str, str | None]
    per_dataset: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        targets = [*self.mapping.values(), *(t for m in self.per_dataset.values() for t in m.values())]
        unknown = {c for c in targets if c is not None} - set(self.classes)
        if unknown:
            raise ValueError(f"class scheme {self.name!r} maps to classes it does not list: {sorted(unknown)}")

    def label(self, emotion: str, dataset: str = "") -> int | None:
        """Class index of a raw emotion, `None` when the scheme drops it; `KeyError` when it does not know it."""
        key = normalise_emotion(emotion)
        mapping = {**self.mapping, **self.per_dataset.get(dataset, {})}
        if key not in mapping:
            raise KeyError(f"emotion {emotion!r} is not in class scheme {self.name!r} (known: {sorted(mapping)})")
        target = mapping[key]
        return None if target is None else self.classes.index(target)


def normalise_emotion(emotion: str) -> str:
    return emotion.strip().lower()


# Every negative emotion word of the micro-expression sets (SMIC and CAS(ME)^2 label by valence directly).
_NEGATIVE = ("anger", "contempt", "disgust", "fear", "sadness", "repression", "tense", "negative")
_POSITIVE = ("happiness", "positive")
_OTHER = ("others", "other")


def _to(target: str | None, emotions: tuple[str, ...]) -> dict[str, str | None]:
    return dict.fromkeys(emotions, target)


SCHEMES: dict[str, ClassScheme] = {
    scheme.name: scheme
    for scheme in [
        # MEGC 2019 composite (SMIC-HS + CASME II + SAMM): negative = CASME II disgust and repression, SAMM anger,
        # contempt, disgust, fear and sadness, SMIC negative; positive; surprise. Others dropped, and CASME II's
        # fear and sadness too.
        ClassScheme(
            "composite3",
            ("negative", "positive", "surprise"),
            {**_to("negative", _NEGATIVE), **_to("positive", _POSITIVE), "surprise": "surprise", **_to(None, _OTHER)},
            per_dataset={"casme2": {"fear": None, "sadness": None}},
        ),
        # CASME II's usual 5 classes (Yan et al. 2014 baseline and most LOSO papers); fear and sadness dropped.
        ClassScheme(
            "casme2_5",
            ("happiness", "disgust", "repression", "surprise", "others"),
            {
                "happiness": "happiness",
                "disgust": "disgust",
                "repression": "repression",
                "surprise": "surprise",
                "others": "others",
                "fear": None,
                "sadness": None,
            },
        ),
        # The CASME II vocabulary as it is (7 emotions).
        ClassScheme(
            "casme2_7",
            ("happiness", "disgust", "repression", "surprise", "fear", "sadness", "others"),
            {e: e for e in ("happiness", "disgust", "repression", "surprise", "fear", "sadness", "others")},
        ),
        # CASME's 4 classes as Wang et al. (TICS, 2015) group them: negative, positive, surprise, others (tense and
        # repression).
        ClassScheme(
            "casme_4",
            ("negative", "positive", "surprise", "others"),
            {
                **_to("negative", ("disgust", "sadness", "fear", "contempt")),
                "happiness": "positive",
                "surprise": "surprise",
                **_to("others", ("tense", "repression")),
            },
        ),
        # SAMM's usual 5 classes (anger, contempt, happiness, surprise, other); its few disgust, fear and sadness
        # clips dropped.
        ClassScheme(
            "samm_5",
            ("anger", "contempt", "happiness", "surprise", "other"),
            {
                "anger": "anger",
                "contempt": "contempt",
                "happiness": "happiness",
                "surprise": "surprise",
                **_to("other", _OTHER),
                **_to(None, ("disgust", "fear", "sadness")),
            },
        ),
        # SMIC's own classes (the folder names).
        ClassScheme(
            "smic_3", ("negative", "positive", "surprise"), {e: e for e in ("negative", "positive", "surprise")}
        ),
        # SMIC positive vs negative, surprise dropped (Li et al. 2013).
        ClassScheme(
            "smic_2", ("negative", "positive"), {"negative": "negative", "positive": "positive", "surprise": None}
        ),
        # Meta-MMFNet's CDE (CASME + CASME II + SMIC): surprise; positive = happiness; negative = disgust, repression,
        # tense, sadness, fear, contempt. Others dropped.
        ClassScheme(
            "cde3",
            ("negative", "positive", "surprise"),
            {
                **_to("negative", ("disgust", "repression", "tense", "sadness", "fear", "contempt", "negative")),
                **_to("positive", _POSITIVE),
                "surprise": "surprise",
                **_to(None, _OTHER),
            },
        ),
        # Gong et al. 2022, 4 classes over CASME, CASME II, CAS(ME)^2, SMIC, SAMM: positive = happiness; surprise;
        # other = others; negative = every other emotion. CAS(ME)^2's own 4 classes are these.
        ClassScheme(
            "fused4",
            ("negative", "positive", "surprise", "other"),
            {
                **_to("negative", _NEGATIVE),
                **_to("positive", _POSITIVE),
                "surprise": "surprise",
                **_to("other", _OTHER),
            },
        ),
        # Gong et al. 2022, 9 classes over CASME, CASME II, CAS(ME)^2, SAMM. Contempt is not among them: dropped.
        ClassScheme(
            "fused9",
            ("anger", "disgust", "fear", "happiness", "other", "repression", "sadness", "surprise", "tense"),
            {
                **{
                    e: e
                    for e in ("anger", "disgust", "fear", "happiness", "repression", "sadness", "surprise", "tense")
                },
                **_to("other", _OTHER),
                "contempt": None,
            },
        ),
        # Valence only, over any set's vocabulary: negative vs positive; surprise and others dropped.
        ClassScheme(
            "binary",
            ("negative", "positive"),
            {**_to("negative", _NEGATIVE), **_to("positive", _POSITIVE), **_to(None, ("surprise", *_OTHER))},
        ),
        # Nistor & Czibula's emotion-recognition stage on macro-expressions, before their micro-expression stage:
        # positive = happiness; negative = anger, contempt, disgust, fear, sadness (and repression and tense, the
        # micro-expression sets' other negatives); surprise; neutral. Others dropped.
        ClassScheme(
            "macro4",
            ("positive", "negative", "surprise", "neutral"),
            {
                **_to("positive", _POSITIVE),
                **_to("negative", _NEGATIVE),
                "surprise": "surprise",
                "neutral": "neutral",
                **_to(None, _OTHER),
            },
        ),
        # CK+'s 7 labelled emotions (codes 1-7); neutral (code 0) dropped.
        ClassScheme(
            "ckplus_7",
            ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise"),
            {
                **{e: e for e in ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")},
                "neutral": None,
            },
        ),
    ]
}


def resolve_scheme(spec: str | Mapping[str, Any] | ClassScheme) -> ClassScheme:
    """A scheme by name, or an inline one from config: `{name, classes, mapping, per_dataset}`."""
    if isinstance(spec, ClassScheme):
        return spec
    if isinstance(spec, str):
        if spec not in SCHEMES:
            raise KeyError(f"unknown class scheme {spec!r}; known: {sorted(SCHEMES)}")
        return SCHEMES[spec]
    return ClassScheme(
        name=str(spec.get("name", "custom")),
        classes=tuple(spec["classes"]),
        mapping={normalise_emotion(k): v for k, v in dict(spec["mapping"]).items()},
        per_dataset={
            str(dataset): {normalise_emotion(k): v for k, v in dict(entries).items()}
            for dataset, entries in dict(spec.get("per_dataset") or {}).items()
        },
    )
