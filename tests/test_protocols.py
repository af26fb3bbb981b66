"""LOSO splits: the test subject never trains or validates, and subjects can be named either way."""

from pathlib import Path

import pytest

from mer_lightning.clip import Clip
from mer_lightning.protocols import LeaveOneSubjectOut


def clip(dataset: str, subject: str, name: str) -> Clip:
    return Clip(dataset=dataset, subject=f"{dataset}/{subject}", source_subject=subject, clip_id=name,
                frames=(Path("f.jpg"),), onset=0, apex=0, offset=0, emotion="surprise", label=2)


CLIPS = [clip("casme2", f"sub0{s}", f"c{k}") for s in range(1, 5) for k in range(3)] + [clip("samm", "006", "c0")]


def test_folds_are_every_subject_once():
    assert LeaveOneSubjectOut().folds(CLIPS) == [
        "casme2/sub01", "casme2/sub02", "casme2/sub03", "casme2/sub04", "samm/006"]


def test_split_by_source_name_keeps_the_test_subject_out_of_training_and_validation():
    split = LeaveOneSubjectOut(test_subject="sub02", val_subjects=2, seed=3).split(CLIPS)
    assert {c.subject for c in split.test} == {"casme2/sub02"}
    assert "casme2/sub02" not in {c.subject for c in split.train + split.val}
    assert len({c.subject for c in split.val}) == 2
    assert not {c.subject for c in split.val} & {c.subject for c in split.train}
    assert len(split.train) + len(split.val) + len(split.test) == len(CLIPS)


def test_unknown_or_ambiguous_subjects_are_clear_errors():
    with pytest.raises(ValueError, match="'sub99' is not a subject of this dataset"):
        LeaveOneSubjectOut(test_subject="sub99").split(CLIPS)
    twins = CLIPS + [clip("smic", "sub01", "x")]
    with pytest.raises(ValueError, match="ambiguous"):
        LeaveOneSubjectOut(test_subject="sub01").split(twins)
    assert {c.subject for c in LeaveOneSubjectOut(test_subject="smic/sub01").split(twins).test} == {"smic/sub01"}


def test_a_single_fold_without_a_test_subject_says_how_to_sweep():
    with pytest.raises(ValueError, match="protocol.test_subject is not set.*-m"):
        LeaveOneSubjectOut().split(CLIPS)
