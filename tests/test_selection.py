"""Choosing a setting of trained models (Meta-MMFNet's alpha, a routing threshold) on validation clips: the rule,
and the task that applies it at the end of a fusion stage, which never looks at the test subject."""

from dataclasses import dataclass

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from mer_lightning.datamodule import MERDataModule
from mer_lightning.lit.select import SELECTION, SelectOnValidation
from mer_lightning.preprocess.pipeline import Pipeline
from mer_lightning.protocols import LeaveOneSubjectOut
from mer_lightning.selection import select
from tests.preprocess.tiny_clips import write_clip
from tests.test_augment import TinyDataset

CLASSES = 3


def test_the_best_candidate_wins_and_ties_go_to_the_first_listed():
    labels = [0, 0, 1, 2]
    predictions = {0.0: [1, 1, 1, 2], 0.5: [0, 0, 1, 2], 1.0: [0, 0, 1, 2], 2.0: [0, 1, 1, 2]}
    choice = select(predictions, labels, CLASSES)
    assert choice.value == 0.5 and [row["value"] for row in choice.table] == [0.0, 0.5, 1.0, 2.0]
    assert choice.table[1]["uf1"] == 1.0 and choice.table[0]["overall_accuracy"] == 0.5
    # by overall accuracy 0.5 and 1.0 still tie (4/4): the first listed wins whatever the order of the keys' values
    assert select({1.0: [0, 0, 1, 2], 0.5: [0, 0, 1, 2]}, labels, CLASSES, "overall_accuracy").value == 1.0
    with pytest.raises(ValueError, match="criterion 'f1' is not a figure"):
        select(predictions, labels, CLASSES, "f1")
    with pytest.raises(ValueError, match="candidate 0.0 predicts 3 items, not 4"):
        select({0.0: [0, 0, 1]}, labels, CLASSES)


class Blend(nn.Module):
    """Two 'models' in one input: class scores x[:, :C] + weight * x[:, C:], `weight` a buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("weight", torch.tensor(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :CLASSES] + self.weight * x[:, CLASSES:]


@dataclass(frozen=True)
class Evidence:
    """On `weighted_subject`'s clips the first model is wrong and the second right (a weight of 2 wins); on every
    other subject's, the first is right and the second wrong (a weight of 0 wins)."""

    weighted_subject: str

    def __call__(self, sample):
        clip = sample["clip"]
        right, wrong = np.eye(CLASSES)[clip.label], np.eye(CLASSES)[(clip.label + 1) % CLASSES]
        first, second = (wrong, right) if clip.source_subject == self.weighted_subject else (right, wrong)
        sample["x"] = np.concatenate([first, second]).astype(np.float32)
        return sample


@pytest.fixture
def clips(tmp_path):
    return [write_clip(tmp_path / f"{s}_{i}", num_frames=3, onset=0, apex=1, offset=2, height=8, width=8,
                       subject=s, clip_id=f"EP{i:02d}", label=i % CLASSES)
            for s in ("sub01", "sub02", "sub03", "sub04") for i in range(6)]


def fit(tmp_path, clips, candidates, val_subjects=1, weighted="val", max_epochs=0):
    protocol = LeaveOneSubjectOut("sub01", val_subjects=val_subjects)
    split = protocol.split(clips)
    weighted_subject = split.val[0].source_subject if weighted == "val" and split.val else weighted
    module = MERDataModule(TinyDataset(clips), Pipeline({"x": Evidence(weighted_subject)}, outputs=["x"]), protocol,
                           str(tmp_path / "cache"), eval_batch_size=4)
    task = SelectOnValidation(Blend(), ["x"], ["a", "b", "c"], parameter="weight", candidates=candidates)
    trainer = pl.Trainer(max_epochs=max_epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(task, datamodule=module)
    return task, split


def test_the_weight_is_chosen_on_the_validation_subject_alone(tmp_path, clips):
    task, split = fit(tmp_path, clips, [0.0, 1.0, 2.0])
    assert float(task.net.weight) == 2.0 and task.result().metrics == {"weight": 2.0}
    record = task.result().artifacts[SELECTION]
    assert sorted(record["clips"]) == sorted(c.uid for c in split.val)
    assert not {c.subject for c in split.test} & {uid.rsplit("/", 1)[0] for uid in record["clips"]}
    uf1 = [row["uf1"] for row in record["candidates"]]
    assert uf1[0] == 0.0 < uf1[1] < uf1[2] == 1.0


def test_the_test_subjects_clips_cannot_sway_the_choice(tmp_path, clips):
    # Were the test subject's clips (sub01) looked at, 2 would win there; the validation subject's say 0.
    task, split = fit(tmp_path, clips, [0.0, 1.0, 2.0], weighted="sub01")
    assert float(task.net.weight) == 0.0
    assert "tiny/sub01" not in {uid.rsplit("/", 1)[0] for uid in task.result().artifacts[SELECTION]["clips"]}


def test_one_candidate_is_a_fixed_value_that_needs_no_validation(tmp_path, clips):
    task, _ = fit(tmp_path, clips, [0.7], val_subjects=0)
    assert float(task.net.weight) == pytest.approx(0.7) and task.result().artifacts[SELECTION] == {
        "parameter": "weight", "fixed": pytest.approx(0.7)}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"candidates": [0.0, 1.0], "val_subjects": 0}, "no validation clips to choose on: set protocol.val_subjects"),
    ({"candidates": [0.0, 1.0], "max_epochs": 3}, "trains nothing: set its trainer.max_epochs to 0"),
])
def test_a_choice_that_cannot_be_made_says_why(tmp_path, clips, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit(tmp_path, clips, **kwargs)


def test_the_parameter_must_be_a_buffer_of_the_net():
    with pytest.raises(ValueError, match="Blend has no buffer 'alpha'"):
        SelectOnValidation(Blend(), ["x"], ["a", "b", "c"], parameter="alpha", candidates=[1.0])
