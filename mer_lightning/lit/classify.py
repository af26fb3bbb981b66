"""Supervised classification of clips (or of their frames): the training task of most MER methods."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from mer_lightning import metrics
from mer_lightning.lit.task import Task, TaskResult


class ClassificationTask(Task):
    """Trains `net` with a cross-entropy-style loss; `input_keys` name the batch entries passed to `net.forward`.

    Test predictions are keyed by `clip_id`: the rows of one clip (its frames, when the data module serves frames,
    or a clip a distributed sampler repeated) are averaged into one row of class probabilities per clip, and kept in
    `test_predictions`. Validation figures come from `metrics.py`, as every UF1/UAR of the project does.
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
        super().__init__(net, input_keys, class_names, optimizer, scheduler)
        self.loss = loss if loss is not None else nn.CrossEntropyLoss()
        self._outputs: dict[str, list[dict[str, torch.Tensor]]] = {"val": [], "test": []}
        self.test_predictions: dict[str, torch.Tensor] = {}

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The class scores of a batch (tasks whose net has several outputs pick theirs)."""
        return self(batch)

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"loss": self.loss(self.logits(batch), batch["label"])}

    def _collect(self, stage: str, batch: dict[str, torch.Tensor]) -> None:
        probs = torch.softmax(self.logits(batch), dim=1)
        self._outputs[stage].append({"clip_id": batch["clip_id"], "label": batch["label"], "probs": probs})

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._collect("val", batch)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._collect("test", batch)

    def on_validation_epoch_end(self) -> None:
        predictions = self._take("val")
        if predictions:
            scores = metrics.scores(
                predictions["label"], predictions["probs"].argmax(1), self.num_classes, present_only=True
            )
            for name in ("uf1", "uar", "accuracy"):
                self.log(f"val/{name}", scores[name], rank_zero_only=True, sync_dist=False)

    def on_test_epoch_end(self) -> None:
        self.test_predictions = self._take("test")

    def _take(self, stage: str) -> dict[str, torch.Tensor]:
        outputs, self._outputs[stage] = self._outputs[stage], []
        return self.gather_by_clip(outputs)

    def result(self) -> TaskResult:
        result = super().result()
        result.predictions = self.test_predictions or None
        return result
