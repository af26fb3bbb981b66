"""Choosing a combination's setting on validation clips: how a stage that fuses earlier stages' nets is "trained".

The net is a `models.fusion.ChosenCombination` (nets trained in earlier stages, loaded by `init` and usually frozen).
Fitting it runs Lightning's validation loop once over the fold's validation clips (`protocol.val_subjects`, drawn
from the training side, which no earlier stage trained on), scores every candidate value of its setting there, and
keeps the best; the test subject is never looked at. It is then tested as any classifier.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import pytorch_lightning as pl
import torch
from torch import nn

from mer_lightning import metrics
from mer_lightning.lit.classify import ClassificationTask
from mer_lightning.models.fusion import ChosenCombination

METRICS = ("uf1", "uar", "accuracy")
CHOICE_TABLE = "choice.csv"


def best_index(scores: Sequence[float]) -> int:
    """The position of the best score; among equal best scores, the middle one (for a range of thresholds or
    weights that score alike, a value inside it rather than at its edge)."""
    best = max(scores)
    tied = [i for i, score in enumerate(scores) if score == best]
    return tied[(len(tied) - 1) // 2]


class ChooseOnValidation(ClassificationTask):
    """Fits `net` (a `ChosenCombination`) by choosing its setting: the candidate with the best `metric` (`uf1`,
    `uar` or `accuracy`, pooled over the validation clips, over the classes present there) wins. Records the chosen
    value (`final/<setting name>`), its validation score (`final/val_<metric>`) and every candidate's score
    (`choice.csv`). Nothing is trained: `optimizer` is not needed."""

    def __init__(
        self,
        net: nn.Module,
        input_keys: Sequence[str],
        class_names: Sequence[str],
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        loss: nn.Module | None = None,
        metric: str = "uf1",
    ) -> None:
        if not isinstance(net, ChosenCombination):
            raise ValueError(
                f"task=choose chooses the setting of a ChosenCombination net (models.fusion), got {type(net).__name__}"
            )
        if metric not in METRICS:
            raise ValueError(f"task.metric must be one of {METRICS}, got {metric!r}")
        super().__init__(net, input_keys, class_names, optimizer, scheduler, loss)
        self.metric = metric

    def fit(self, trainer: pl.Trainer, datamodule: pl.LightningDataModule, ckpt_path: str | None = None) -> None:
        if not datamodule.split.val:
            raise ValueError(
                "task=choose chooses its setting on validation subjects, and this fold has none: set "
                "protocol.val_subjects (training subjects held out from every stage's training)"
            )
        trainer.validate(self, datamodule=datamodule, verbose=False)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        parts = self.net.parts(*(batch[key] for key in self.input_keys))
        self._outputs["val"].append({"clip_id": batch["clip_id"], "label": batch["label"], **parts})

    def on_validation_epoch_end(self) -> None:
        rows = self._take("val")
        labels = rows.pop("label")
        rows.pop("clip_id")
        candidates = self.net.candidates(rows)
        scores = [
            metrics.scores(labels, self.net.combine(rows, value).argmax(1), self.num_classes, present_only=True)[
                self.metric
            ]
            for value in candidates
        ]
        chosen = best_index(scores)
        self.net.setting.fill_(float(candidates[chosen]))
        name = self.net.setting_name
        self.final_metrics.update({name: float(candidates[chosen]), f"val_{self.metric}": scores[chosen]})
        self.artifacts[CHOICE_TABLE] = pd.DataFrame(
            {
                name: candidates.tolist(),
                f"val_{self.metric}": scores,
                "chosen": [i == chosen for i in range(len(scores))],
            }
        ).to_csv(index=False)
        self.log(f"val/{self.metric}", scores[chosen], rank_zero_only=True, sync_dist=False)
