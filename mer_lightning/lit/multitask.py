"""Classification and reconstruction at once, through one encoder: a weighted sum of the two tasks' losses.

Nistor & Czibula's MIXT ablation: instead of pre-training the encoder by reconstruction and then by expression
recognition, one net with a classifier head and a decoder head learns both together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from mer_lightning.lit.autoencode import GRID, reconstruction_report
from mer_lightning.lit.classify import ClassificationTask


class MultitaskTask(ClassificationTask):
    """`net(x) -> (logits, reconstruction)`; loss = `classification_weight` x the classification loss +
    `reconstruction_weight` x the mean squared error against the input `input_keys[0]`. Predicts and tests as
    `ClassificationTask`; at the end of fitting also reports the reconstruction as `AutoencodeTask` does."""

    def __init__(
        self,
        net: nn.Module,
        input_keys: Sequence[str],
        class_names: Sequence[str],
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        loss: nn.Module | None = None,
        classification_weight: float = 1.0,
        reconstruction_weight: float = 1.0,
        grid_items: int = 8,
    ) -> None:
        super().__init__(net, input_keys, class_names, optimizer, scheduler, loss)
        if classification_weight < 0 or reconstruction_weight < 0 or classification_weight + reconstruction_weight == 0:
            raise ValueError(
                "task: classification_weight and reconstruction_weight must be >= 0 and not both 0, got "
                f"{classification_weight} and {reconstruction_weight}"
            )
        self.classification_weight = classification_weight
        self.reconstruction_weight = reconstruction_weight
        self.grid_items = grid_items

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self(batch)[0]

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        logits, reconstruction = self(batch)
        classification = self.loss(logits, batch["label"])
        reconstruction = F.mse_loss(reconstruction, batch[self.input_keys[0]])
        loss = self.classification_weight * classification + self.reconstruction_weight * reconstruction
        return {"loss": loss, "classification_loss": classification, "reconstruction_mse": reconstruction}

    @torch.no_grad()
    def on_fit_end(self) -> None:
        self.final_metrics["reconstruction_mse"], self.artifacts[GRID] = reconstruction_report(
            self, lambda batch: self(batch)[1], self.grid_items
        )
