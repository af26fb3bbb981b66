"""Supervised classification of clips: the training task of most MER methods."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytorch_lightning as pl
import torch
from torch import nn
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_recall,
)


class ClassificationTask(pl.LightningModule):
    """Trains `net` with a cross-entropy-style loss; `input_keys` name the batch entries passed to `net.forward`.

    Test predictions are keyed by `clip_id` and de-duplicated across ranks (a distributed sampler pads the last
    batch by repeating clips), then kept in `test_predictions` for the caller to record.
    """

    def __init__(
        self,
        net: nn.Module,
        input_keys: Sequence[str],
        class_names: Sequence[str],
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        loss: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.input_keys = list(input_keys)
        self.class_names = list(class_names)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.loss = loss if loss is not None else nn.CrossEntropyLoss()
        self._outputs: dict[str, list[dict[str, torch.Tensor]]] = {"val": [], "test": []}
        self.test_predictions: dict[str, torch.Tensor] = {}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net(*(batch[key] for key in self.input_keys))

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.loss(self(batch), batch["label"])
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=len(batch["label"]))
        return loss

    def _collect(self, stage: str, batch: dict[str, torch.Tensor]) -> None:
        probs = torch.softmax(self(batch), dim=1)
        self._outputs[stage].append({"clip_id": batch["clip_id"], "label": batch["label"], "probs": probs})

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._collect("val", batch)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._collect("test", batch)

    def on_validation_epoch_end(self) -> None:
        self._log_scores("val", self._gather("val"))

    def on_test_epoch_end(self) -> None:
        self.test_predictions = self._gather("test")
        self._log_scores("test", self.test_predictions)

    def _gather(self, stage: str) -> dict[str, torch.Tensor]:
        """All ranks' outputs of the epoch, one row per clip, ordered by clip id."""
        outputs, self._outputs[stage] = self._outputs[stage], []
        if not outputs:
            return {}
        local = {key: torch.cat([o[key] for o in outputs]) for key in outputs[0]}
        if self.trainer.world_size > 1:
            local = self._all_gather_ragged(local)
        order = torch.argsort(local["clip_id"], stable=True)
        local = {key: value[order] for key, value in local.items()}
        first = torch.ones_like(local["clip_id"], dtype=torch.bool)
        first[1:] = local["clip_id"][1:] != local["clip_id"][:-1]
        return {key: value[first].cpu() for key, value in local.items()}

    def _all_gather_ragged(self, local: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """`all_gather` for ranks holding different numbers of rows: pad with clip id -1, then drop the padding."""
        size = int(self.all_gather(torch.tensor(len(local["clip_id"]), device=self.device)).max())
        padded = {}
        for key, value in local.items():
            pad = value.new_full((size - len(value), *value.shape[1:]), -1 if key == "clip_id" else 0)
            padded[key] = self.all_gather(torch.cat([value, pad])).flatten(0, 1)
        real = padded["clip_id"] >= 0
        return {key: value[real] for key, value in padded.items()}

    def _log_scores(self, stage: str, predictions: dict[str, torch.Tensor]) -> None:
        if not predictions:
            return
        for name, value in self.scores(predictions).items():
            if value.ndim == 0:
                self.log(f"{stage}/{name}", value, rank_zero_only=True, sync_dist=False)

    def scores(self, predictions: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """UF1/UAR over the classes present in the ground truth, accuracy, per-class figures and the confusion."""
        preds, target, k = predictions["probs"].argmax(1), predictions["label"], self.num_classes
        present = torch.unique(target)
        f1 = multiclass_f1_score(preds, target, k, average="none", zero_division=0)
        recall = multiclass_recall(preds, target, k, average="none", zero_division=0)
        scores = {
            "uf1": f1[present].mean(),
            "uar": recall[present].mean(),
            "accuracy": multiclass_accuracy(preds, target, k, average="micro"),
            "confusion": multiclass_confusion_matrix(preds, target, k),
        }
        for index in present.tolist():
            scores[f"f1_{self.class_names[index]}"] = f1[index]
            scores[f"recall_{self.class_names[index]}"] = recall[index]
        return scores

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer)}}
