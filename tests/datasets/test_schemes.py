"""Class schemes are data: per-dataset entries, inline schemes from config, and the published groupings."""

import pytest

from mer_lightning.datasets.schemes import SCHEMES, ClassScheme, resolve_scheme


def label(scheme: str, emotion: str, dataset: str = "") -> str | None:
    found = SCHEMES[scheme].label(emotion, dataset)
    return None if found is None else SCHEMES[scheme].classes[found]


def test_megc2019_negative_depends_on_the_source_dataset():
    assert [label("composite3", e, "casme2") for e in ("disgust", "repression", "fear", "sadness")] == [
        "negative",
        "negative",
        None,
        None,
    ]
    assert [label("composite3", e, "samm") for e in ("Anger", "Contempt", "Disgust", "Fear", "Sadness", "Other")] == [
        "negative"
    ] * 5 + [None]
    assert label("composite3", "negative", "smic") == "negative" and label("composite3", "Happiness") == "positive"


@pytest.mark.parametrize(
    ("scheme", "emotion", "expected"),
    [
        ("cde3", "tense", "negative"),
        ("cde3", "fear", "negative"),
        ("cde3", "others", None),
        ("fused4", "anger", "negative"),
        ("fused4", "others", "other"),
        ("fused4", "surprise", "surprise"),
        ("fused9", "tense", "tense"),
        ("fused9", "others", "other"),
        ("fused9", "contempt", None),
        ("samm_5", "Other", "other"),
        ("samm_5", "sadness", None),
        ("smic_2", "surprise", None),
        ("binary", "repression", "negative"),
        ("binary", "surprise", None),
        ("ckplus_7", "neutral", None),
        ("casme_4", "repression", "others"),
        ("casme2_5", "fear", None),
    ],
)
def test_published_groupings(scheme, emotion, expected):
    assert label(scheme, emotion) == expected


def test_an_unknown_emotion_or_scheme_is_an_error_naming_it():
    with pytest.raises(KeyError, match="emotion 'joy' is not in class scheme 'smic_3'"):
        SCHEMES["smic_3"].label("joy")
    with pytest.raises(KeyError, match="unknown class scheme 'nope'"):
        resolve_scheme("nope")


def test_inline_schemes_take_per_dataset_entries_and_check_their_targets():
    scheme = resolve_scheme(
        {"name": "mine", "classes": ["a", "b"], "mapping": {"X": "a", "Y": "b"}, "per_dataset": {"samm": {"y": None}}}
    )
    assert scheme.label("x") == 0 and scheme.label("Y") == 1 and scheme.label("Y", "samm") is None
    with pytest.raises(ValueError, match=r"maps to classes it does not list: \['c'\]"):
        ClassScheme("bad", ("a",), {"x": "a"}, per_dataset={"samm": {"y": "c"}})
