"""Protocol splits: the test side never trains or validates, validation comes from the training side, subjects and
clips can be named either way, and every fold value survives the command line the sweeper writes."""

from dataclasses import replace
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate

from mer_lightning.clip import Clip
from mer_lightning.protocols import HoldOut, LeaveOneDatasetOut, LeaveOneSubjectOut, LeaveOneVideoOut

CONF = str(Path(__file__).parents[1] / "conf")


def clip(dataset: str, subject: str, name: str) -> Clip:
    return Clip(
        dataset=dataset,
        subject=f"{dataset}/{subject}",
        source_subject=subject,
        clip_id=name,
        frames=(Path("f.jpg"),),
        onset=0,
        apex=0,
        offset=0,
        emotion="surprise",
        label=2,
    )


CLIPS = [clip("casme2", f"sub0{s}", f"c{k}") for s in range(1, 5) for k in range(3)] + [clip("samm", "006", "c0")]


def test_folds_are_every_subject_once():
    assert LeaveOneSubjectOut().folds(CLIPS) == [
        "casme2/sub01",
        "casme2/sub02",
        "casme2/sub03",
        "casme2/sub04",
        "samm/006",
    ]


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


# --- LOVO, LODO, hold-out ------------------------------------------------------------------------------------------

MIXED = CLIPS + [clip("samm", "007", "c1"), clip("ckplus", "S005", "001"), clip("ckplus", "S010", "002")]


def test_lovo_tests_each_clip_once_and_validates_on_training_clips_only():
    folds = LeaveOneVideoOut().folds(MIXED)
    assert len(folds) == len(MIXED) == len(set(folds)) and "casme2/sub01/c0" in folds
    split = LeaveOneVideoOut(test_clip="sub01/c0", val_clips=3, seed=1).split(MIXED)
    assert [c.uid for c in split.test] == ["casme2/sub01/c0"]
    assert "casme2/sub01/c1" in {c.uid for c in split.train}  # the subject's other clips train
    assert len(split.val) == 3 and not {c.uid for c in split.val} & {c.uid for c in split.train + split.test}
    with pytest.raises(ValueError, match="'c0' is ambiguous"):
        LeaveOneVideoOut(test_clip="c0").split(MIXED)


def test_lodo_folds_are_the_datasets_and_the_test_dataset_never_trains():
    assert LeaveOneDatasetOut().folds(MIXED) == ["casme2", "ckplus", "samm"]
    split = LeaveOneDatasetOut(test_dataset="samm", val_subjects=2, seed=0).split(MIXED)
    assert {c.dataset for c in split.test} == {"samm"} and len(split.test) == 2
    assert "samm" not in {c.dataset for c in split.train + split.val}
    assert len({c.subject for c in split.val}) == 2
    with pytest.raises(ValueError, match="two datasets or more"):
        LeaveOneDatasetOut().folds(CLIPS[:3])
    with pytest.raises(ValueError, match=r"\['smic'\] are not datasets"):
        LeaveOneDatasetOut(test_dataset="smic").split(MIXED)


def test_hold_out_trains_and_tests_on_the_named_sets_only():
    protocol = HoldOut(train_datasets=["ckplus"], test_datasets=["casme2", "samm"])
    assert protocol.folds(MIXED) == ["ckplus_to_casme2+samm"] and protocol.fold == "ckplus_to_casme2+samm"
    split = protocol.split(MIXED)
    assert {c.dataset for c in split.train} == {"ckplus"} and {c.dataset for c in split.test} == {"casme2", "samm"}
    unused = HoldOut(train_datasets=["ckplus"], test_datasets=["samm"]).split(MIXED)
    assert not {c.dataset for c in unused.train + unused.test} & {"casme2"}
    with pytest.raises(ValueError, match="both training and testing"):
        HoldOut(train_datasets=["samm"], test_datasets=["samm"])


@pytest.mark.parametrize(
    ("protocol", "settings"),
    [
        ("loso", []),
        ("lovo", []),
        ("lodo", []),
        ("holdout", ["protocol.train_datasets=[ckplus]", "protocol.test_datasets=[casme2,samm]"]),
    ],
)
def test_every_fold_value_survives_the_command_line(protocol, settings):
    """The sweeper runs a fold as `protocol.<fold_setting>=<fold>`: each protocol's fold values must read back."""
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        base = instantiate(compose("train", overrides=[f"protocol={protocol}", "seed=0", *settings]).protocol)
        folds = base.folds(MIXED)
        parser = OverridesParser.create()
        assert [parser.parse_override(f"protocol.{base.fold_setting}={f}").value() for f in folds] == folds
        cfg = compose(
            "train",
            overrides=[f"protocol={protocol}", "seed=0", *settings, f"protocol.{base.fold_setting}={folds[-1]}"],
        )
    configured = instantiate(cfg.protocol)
    assert configured.fold == folds[-1] and configured.split(MIXED).test


# --- datasets only evaluated on ------------------------------------------------------------------------------------

# A macro-expression set and the micro-expressions synthesized from it: the same people, the same clip names.
GENERAL = [clip("ckplus", f"S00{s}", f"00{k}") for s in range(1, 5) for k in range(2)]
FORMS = GENERAL + [replace(c, dataset="ckplus_micro") for c in GENERAL]


@pytest.mark.parametrize(
    "protocol",
    [
        LeaveOneSubjectOut(test_subject="S002", val_subjects=1, seed=0, eval_only=["ckplus_micro"]),
        LeaveOneVideoOut(test_clip="ckplus/S002/000", val_clips=4, seed=0, eval_only=["ckplus_micro"]),
    ],
)
def test_eval_only_datasets_are_validated_and_tested_on_but_never_trained_on(protocol):
    split = protocol.fold_clips(FORMS)
    full = type(protocol)(**{**vars(protocol), "eval_only": []}).fold_clips(FORMS)
    assert full.train == protocol.split(FORMS).train  # a protocol's own split knows nothing of eval_only
    assert {c.dataset for c in split.train} == {"ckplus"}
    assert [c.uid for c in split.train] == [c.uid for c in full.train if c.dataset == "ckplus"]
    assert split.val == full.val and split.test == full.test  # evaluation sides unchanged
    pretraining = protocol.training_split(FORMS, split.test + split.val)
    assert {c.dataset for c in pretraining.train} == {"ckplus"}


def test_loso_tests_both_forms_of_the_test_subject_and_validates_on_both_forms():
    split = LeaveOneSubjectOut(test_subject="S002", val_subjects=1, seed=0, eval_only=["ckplus_micro"]).fold_clips(
        FORMS
    )
    assert sorted(c.uid for c in split.test) == [
        "ckplus/S002/000",
        "ckplus/S002/001",
        "ckplus_micro/S002/000",
        "ckplus_micro/S002/001",
    ]
    assert {c.dataset for c in split.val} == {"ckplus", "ckplus_micro"}


def test_an_eval_only_name_that_is_no_dataset_is_named():
    with pytest.raises(ValueError, match=r"protocol.eval_only: \['ckplus_mikro'\] are not datasets"):
        LeaveOneSubjectOut(test_subject="S002", eval_only=["ckplus_mikro"]).fold_clips(FORMS)
