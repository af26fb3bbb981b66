"""Combining trained nets through a setting chosen on validation clips: the intensity router, and the task that
chooses its threshold on the validation clips alone and tests with it."""

from functools import partial
from types import SimpleNamespace

import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader

from mer_lightning.lit.choose import CHOICE_TABLE, ChooseOnValidation, best_index
from mer_lightning.models import IntensityRouter

CLASSES = ["negative", "positive"]


class Echo(nn.Module):
    """A 'trained net' whose class scores are its input: the test says what each net answers."""

    def __init__(self, in_chans: int = 1, num_classes: int = 2) -> None:
        super().__init__()
        self.unused = nn.Linear(1, 1)  # a weight, as trained nets have

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        return scores


def router() -> IntensityRouter:
    return IntensityRouter(strong=partial(Echo), subtle=partial(Echo), num_classes=2, strong_inputs=1)


def right_and_wrong(labels: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores that pick each label, and scores that pick the other class."""
    right = nn.functional.one_hot(torch.tensor(labels), 2).float()
    return right, 1 - right


def batch(intensity: list[float], labels: list[int], strong_right: list[bool], first_id: int = 0) -> dict:
    right, wrong = right_and_wrong(labels)
    mask = torch.tensor(strong_right)[:, None]
    return {
        "strong": torch.where(mask, right, wrong),
        "subtle": torch.where(mask, wrong, right),
        "intensity": torch.tensor(intensity)[:, None],
        "label": torch.tensor(labels),
        "clip_id": torch.arange(first_id, first_id + len(labels)),
    }


class Data(pl.LightningDataModule):
    """Validation and test batches, and the split the task checks for validation clips."""

    def __init__(self, val: list[dict], test: list[dict]) -> None:
        super().__init__()
        self.val, self.test = val, test
        self.split = SimpleNamespace(val=[object()] if val else [])

    def val_dataloader(self):
        return DataLoader(self.val, batch_size=None)

    def test_dataloader(self):
        return DataLoader(self.test, batch_size=None)


def trainer() -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )


def choose(net: IntensityRouter, metric: str = "uf1") -> ChooseOnValidation:
    return ChooseOnValidation(net, ["strong", "subtle", "intensity"], CLASSES, metric=metric)


def test_the_router_sends_intense_clips_to_the_strong_net_and_the_rest_to_the_subtle_one():
    net = router()
    b = batch([0.1, 0.5, 0.9], [0, 1, 0], [True, True, True])
    net.setting.fill_(0.5)
    assert net(b["strong"], b["subtle"], b["intensity"]).argmax(1).tolist() == [1, 1, 0]  # subtle, strong, strong
    parts = net.parts(b["strong"], b["subtle"], b["intensity"])
    assert net.candidates(parts).tolist() == pytest.approx([0.1, 0.3, 0.7, float("inf")])


def test_an_unchosen_setting_and_a_short_input_list_are_named():
    net = router()
    b = batch([0.1], [0], [True])
    with pytest.raises(RuntimeError, match="its threshold has not been chosen"):
        net(b["strong"], b["subtle"], b["intensity"])
    with pytest.raises(ValueError, match="the intensity \\(model.input_keys\\), got 2"):
        net.parts(b["strong"], b["intensity"])


def test_ties_are_broken_by_the_middle_of_the_best():
    assert best_index([0.1, 0.9, 0.9, 0.9, 0.2]) == 2
    assert best_index([0.9, 0.9, 0.1, 0.2]) == 0
    assert best_index([0.3]) == 0


def test_the_threshold_is_chosen_on_the_validation_clips_only_and_tested_with():
    # Validation: the subtle net is right below intensity 0.5, the strong one above: one threshold scores 1.0.
    val = [batch([0.1, 0.2, 0.3], [0, 1, 0], [False] * 3), batch([0.7, 0.8, 0.9], [1, 0, 1], [True] * 3, 3)]
    # Test clips would be best served by the opposite routing: if they were looked at, the choice would differ.
    test = [batch([0.2, 0.4, 0.8], [0, 1, 0], [True, True, False])]
    net = router()
    task = choose(net)
    data = Data(val, test)
    task.fit(trainer(), data)
    assert float(net.setting) == pytest.approx(0.5)  # midway between 0.3 and 0.7
    assert task.result().metrics == {"threshold": pytest.approx(0.5), "val_uf1": 1.0}
    table = pd.read_csv(pd.io.common.StringIO(task.result().artifacts[CHOICE_TABLE]))
    assert table["threshold"].tolist()[-1] == float("inf") and table["chosen"].sum() == 1
    assert table.loc[table["chosen"], "val_uf1"].item() == table["val_uf1"].max()
    trainer().test(task, datamodule=data, verbose=False)
    predictions = task.result().predictions
    assert predictions["probs"].argmax(1).tolist() == [1, 0, 1]  # every clip wrong: 0.2, 0.4 -> subtle, 0.8 -> strong


def test_choosing_needs_validation_clips_and_a_combination():
    with pytest.raises(ValueError, match="set protocol.val_subjects"):
        choose(router()).fit(trainer(), Data([], []))
    with pytest.raises(ValueError, match="a ChosenCombination net"):
        ChooseOnValidation(nn.Linear(2, 2), ["x"], CLASSES)
    with pytest.raises(ValueError, match="task.metric must be one of"):
        choose(router(), metric="f1")
