"""Composite sets on miniature releases of every member: one scheme applied by source (MEGC 2019's rule), subject
ids kept apart, membership lists, and the named composites (megc2019, cde, fused4, fused9) read end to end."""

from collections import Counter

import pytest

from mer_lightning.datasets.base import DataError
from mer_lightning.protocols import LeaveOneDatasetOut, resolve_subject
from tests.datasets.layouts import reader, write

LAYOUTS = {
    "casme": "CASME",
    "casme2": "CASME2",
    "casme_sq": "CASME_sq",
    "samm": "SAMM",
    "smic": "SMIC",
    "ckplus": "CK+",
}


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("releases")
    return {layout: write(layout, base / folder) for layout, folder in LAYOUTS.items()}


def composite(name: str, roots: dict, *overrides: str):
    members = {
        "megc2019": ("smic", "casme2", "samm"),
        "cde": ("casme", "casme2", "smic"),
        "fused4": ("casme", "casme2", "casme_sq", "smic", "samm"),
        "fused9": ("casme", "casme2", "casme_sq", "samm"),
    }[name]
    return reader(name, None, *(f"dataset.datasets.{m}.root={roots[m]}" for m in members), *overrides)


def test_megc2019_applies_the_composite_rule_by_source(roots):
    clips = composite("megc2019", roots).clips()
    per_source = Counter((c.dataset, c.emotion) for c in clips)
    assert per_source[("casme2", "fear")] == 0 and per_source[("samm", "anger")] == 2  # SAMM fear-like: negative
    assert {c.label for c in clips if c.dataset == "samm" and c.emotion in ("anger", "contempt", "disgust")} == {0}
    assert not {c.emotion for c in clips} & {"others", "other"}
    assert {c.dataset for c in clips} == {"smic", "casme2", "samm"}
    subjects = {c.subject for c in clips}
    assert {"casme2/sub01", "samm/006", "smic/s01"} <= subjects and len(subjects) == 6
    assert resolve_subject("sub01", clips) == "casme2/sub01" and resolve_subject("006", clips) == "samm/006"
    assert LeaveOneDatasetOut().folds(clips) == ["casme2", "samm", "smic"]


def test_a_membership_list_restricts_the_set_and_names_what_the_copy_lacks(roots, tmp_path):
    members = tmp_path / "labels.csv"
    members.write_text(
        "dataset,subject,clip,label\ncasme2,sub01,EP01_02,2\nsmic,s02,s02_po_01,1\n"
        "samm,006,006_1_2,2\ncasme2,sub04,EP12_01f,0\ncasme2,sub01,EP01_01,0\n"
    )
    dataset = composite("megc2019", roots, f"dataset.members={members}")
    assert sorted(c.uid for c in dataset.clips()) == ["casme2/sub01/EP01_02", "samm/006/006_1_2", "smic/s02/s02_po_01"]
    assert dataset.missing_members == ["casme2/sub01/EP01_01", "casme2/sub04/EP12_01f"]  # dropped "others"; absent
    members.write_text("dataset,subject,clip\nmmew,s1,x\n")
    with pytest.raises(DataError, match=r"labels.csv: datasets \['mmew'\] are not members of 'megc2019'"):
        composite("megc2019", roots, f"dataset.members={members}").clips()


@pytest.mark.parametrize(
    ("name", "sizes", "classes"),
    [
        ("cde", {"casme": 16, "casme2": 14, "smic": 14}, ("negative", "positive", "surprise")),
        (
            "fused4",
            {"casme": 16, "casme2": 16, "casme_sq": 12, "smic": 14, "samm": 16},
            ("negative", "positive", "surprise", "other"),
        ),
        (
            "fused9",
            {"casme": 16, "casme2": 16, "casme_sq": 12, "samm": 14},
            ("anger", "disgust", "fear", "happiness", "other", "repression", "sadness", "surprise", "tense"),
        ),
    ],
)
def test_the_named_composites_read_every_member(roots, name, sizes, classes):
    dataset = composite(name, roots)
    clips = dataset.clips()
    assert dataset.class_names == classes
    assert Counter(c.dataset for c in clips) == sizes
    assert dataset.frame_rates()["casme"] == 60 and dataset.frame_rates()["casme2"] == 200


def test_any_readers_compose_from_the_command_line(roots):
    dataset = reader(
        "composite",
        None,
        "+dataset@dataset.datasets.ckplus=ckplus",
        "+dataset@dataset.datasets.casme2=casme2",
        f"dataset.datasets.ckplus.root={roots['ckplus']}",
        f"dataset.datasets.casme2.root={roots['casme2']}",
        "dataset.classes=binary",
    )
    clips = dataset.clips()
    assert dataset.class_names == ("negative", "positive")
    assert {c.dataset for c in clips} == {"ckplus", "casme2"} and {c.emotion for c in clips} >= {"happiness", "fear"}
