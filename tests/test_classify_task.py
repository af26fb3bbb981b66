"""The classification task: batch keys mapped to model inputs, and predictions counted once per clip."""

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader

from mer_lightning.lit.classify import ClassificationTask


class TwoStream(nn.Module):
    """A toy two-input model: proves that `input_keys` feed `forward(x1, x2)` in order."""

    def __init__(self, in_chans: int = 1, num_classes: int = 3) -> None:
        super().__init__()
        self.first = nn.Linear(in_chans, num_classes)
        self.second = nn.Linear(in_chans, num_classes)
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        self.seen.append((x1, x2))
        return self.first(x1) + self.second(x2)


def task(net: nn.Module) -> ClassificationTask:
    return ClassificationTask(
        net, ["flow", "diff"], ["negative", "positive", "surprise"], optimizer=lambda p: torch.optim.SGD(p, lr=0.1)
    )


def batch(clip_ids, labels):
    n = len(clip_ids)
    return {
        "flow": torch.randn(n, 2),
        "diff": torch.randn(n, 2),
        "label": torch.tensor(labels),
        "clip_id": torch.tensor(clip_ids),
    }


def test_input_keys_feed_the_model_arguments_in_order():
    net = TwoStream(in_chans=2)
    b = batch([0, 1], [0, 1])
    task(net)(b)
    x1, x2 = net.seen[-1]
    assert torch.equal(x1, b["flow"]) and torch.equal(x2, b["diff"])


def test_a_clip_predicted_twice_is_counted_once():
    module = task(TwoStream(in_chans=2))
    first, repeat = batch([0, 1, 2], [0, 1, 2]), batch([2, 0], [2, 0])  # as a padding sampler repeats clips
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.test(module, dataloaders=DataLoader([first, repeat], batch_size=None), verbose=False)
    predictions = module.test_predictions
    assert predictions["clip_id"].tolist() == [0, 1, 2]
    assert predictions["label"].tolist() == [0, 1, 2]
    assert predictions["probs"].shape == (3, 3)
    assert torch.allclose(predictions["probs"].sum(1), torch.ones(3))


def test_fit_reduces_the_loss_on_a_learnable_toy_problem():
    torch.manual_seed(0)
    x = torch.randn(64, 2)
    labels = (x[:, 0] > 0).long()
    data = [{"flow": x, "diff": x, "label": labels, "clip_id": torch.arange(64)}] * 50
    module = task(TwoStream(in_chans=2))
    before = nn.functional.cross_entropy(module(data[0]), labels).item()
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    trainer.fit(module, train_dataloaders=DataLoader(data, batch_size=None))
    assert nn.functional.cross_entropy(module(data[0]), labels).item() < before / 2
