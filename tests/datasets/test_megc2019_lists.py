"""The official MEGC 2019 list, in every shape the field distributes it, restricts stand-ins of the three releases to
the published composite: 442 clips of 68 subjects, 250 negative / 109 positive / 83 surprise."""

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from mer_lightning.datasets.base import DataError
from mer_lightning.describe import describe
from tests.datasets.layouts import reader
from tests.datasets.megc2019_standins import write_standins

pytestmark = pytest.mark.realdata
PUBLISHED = {"clips": 442, "subjects": 68, "classes": {"negative": 250, "positive": 109, "surprise": 83}}


@pytest.fixture(scope="module")
def releases(megc2019, tmp_path_factory) -> dict[str, Path]:
    return write_standins(megc2019 / "labels.csv", tmp_path_factory.mktemp("megc2019"))


@pytest.fixture(scope="module")
def official(megc2019) -> pd.DataFrame:
    """The list as MEGC 2019 ships it: `data,subject,clip,label`, SAMM subjects unpadded (`samm,6,006_1_2,0`)."""
    table = pd.read_csv(megc2019 / "labels.csv", dtype=str)[["dataset", "subject", "clip", "label"]]
    samm = table["dataset"] == "samm"
    table.loc[samm, "subject"] = table.loc[samm, "subject"].str.lstrip("0")
    return table


def megc2019_set(releases: dict[str, Path], *overrides: str):
    return reader("megc2019", None, *(f"dataset.datasets.{k}.root={v}" for k, v in releases.items()), *overrides)


def counts(clips) -> dict:
    return {
        "clips": len(clips),
        "subjects": len({c.subject for c in clips}),
        "classes": dict(Counter(("negative", "positive", "surprise")[c.label] for c in clips)),
    }


@pytest.mark.parametrize("shape", ["labels.csv as it is", "data column", "dataset column", "no header"])
def test_every_shape_of_the_list_gives_the_published_composite(releases, official, megc2019, tmp_path, shape):
    path = tmp_path / "list.csv"
    if shape == "labels.csv as it is":
        path = megc2019 / "labels.csv"
    elif shape == "no header":
        official.to_csv(path, header=False, index=False)  # casme2,sub01,EP02_01f,1 ... samm,6,006_1_2,0
        assert path.read_text().startswith("casme2,sub01,EP02_01f,1\n") and "\nsamm,6,006_1_2,0\n" in path.read_text()
    else:
        official.rename(columns={"dataset": shape.split()[0]}).to_csv(path, index=False)
    dataset = megc2019_set(releases, f"dataset.members={path}")
    assert counts(dataset.clips()) == PUBLISHED
    assert dataset.missing_members == []


def test_without_the_list_the_copies_give_two_more_casme2_clips(releases):
    clips = megc2019_set(releases).clips()
    assert len(clips) == 444 and Counter(c.dataset for c in clips) == {"casme2": 147, "samm": 133, "smic": 164}
    by_uid = {c.uid: c for c in clips}
    assert by_uid["casme2/sub04/EP12_01f"].repaired("apex")  # its apex "/": the middle frame
    assert not by_uid["casme2/sub05/EP09_05f"].repairs  # its onset is its apex: kept as it is


def test_a_list_that_matches_no_clip_of_a_member_says_so_with_both_sides_ids(releases, official, tmp_path):
    path = tmp_path / "list.csv"
    renamed = official.copy()
    samm = renamed["dataset"] == "samm"
    renamed.loc[samm, "clip"] = "SAMM_" + renamed.loc[samm, "clip"]
    renamed.to_csv(path, index=False)
    with pytest.raises(
        DataError,
        match=r"list.csv: none of its 133 samm clips is among the 133 this copy has: it "
        r"lists e.g. samm/6/SAMM_006_1_2 .*the copy has e.g. samm/006/006_1_2",
    ):
        megc2019_set(releases, f"dataset.members={path}").clips()


def test_describe_names_the_sheets_read_and_what_each_scheme_leaves_out(releases, megc2019):
    report = describe(megc2019_set(releases, f"dataset.members={megc2019 / 'labels.csv'}"))
    assert report.startswith("dataset megc2019: 442 clips of 68 subjects")
    assert f"read casme2 sheet: {releases['casme2'] / 'CASME2-coding-20140508.xlsx'}" in report
    assert f"read samm sheet: {releases['samm'] / 'SAMM_Micro_FACS_Codes_v2.xlsx'}" in report
    assert "scheme composite3 leaves out 5 casme2 clips: sadness 3, fear 1, others 1" in report
    assert "scheme composite3 leaves out 2 samm clips: other 2" in report
    assert "membership list" in report and "0 listed clips not in this copy" in report


def test_two_sheets_are_an_error_naming_both_and_a_setting_picks_one(megc2019, tmp_path):
    roots = write_standins(megc2019 / "labels.csv", tmp_path, casme2_sheets=("20140508", "20190701"))
    with pytest.raises(
        DataError,
        match=r"2 annotation sheets match 'CASME2-coding-\*.xlsx' under .*CASME2: "
        r"CASME2-coding-20140508.xlsx, CASME2-coding-20190701.xlsx; choose one with "
        r"dataset.sheet=",
    ):
        reader("casme2", roots["casme2"]).clips()
    older = reader("casme2", roots["casme2"], "dataset.sheet=CASME2-coding-20140508.xlsx", "dataset.classes=casme2_7")
    newer = reader("casme2", roots["casme2"], "dataset.sheet=CASME2-coding-20190701.xlsx", "dataset.classes=casme2_7")
    relabelled = {f"casme2/sub24/{c}" for c in ("EP07_01", "EP07_04f", "EP10_03")}
    assert {c.uid: c.emotion for c in older.clips() if c.uid in relabelled} == dict.fromkeys(relabelled, "sadness")
    assert {c.uid: c.emotion for c in newer.clips() if c.uid in relabelled} == dict.fromkeys(relabelled, "surprise")
