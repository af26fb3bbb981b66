"""The last stage of a method that combines models trained by earlier stages through one free setting.

Meta-MMFNet sums a micro model's and a macro model's class distances with a weight alpha; a joint framework routes
each clip to one of two models by a threshold on the size of its expression. Either way the stage's net holds the
earlier stages' nets as submodules (loaded by `init`, kept fixed by `freeze`) and the setting as a buffer of the net;
this task trains nothing and chooses that setting on the fold's validation clips (`protocol.val_subjects`: training
subjects that no stage trained on), never on the test subject. The chosen value stays in the buffer, so the stage's
saved weights hold it and `mer-eval -m from_sweep=...` tests the very same combination.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch
from torch import nn

from mer_lightning.lit.classify import ClassificationTask
from mer_lightning.lit.task import mean_by_clip
from mer_lightning.selection import check_criterion, select

SELECTION = "selection.json"
# This task has nothing to train by design: its stage runs no epoch (trainer.max_epochs: 0) and has no optimiser.
warnings.filterwarnings("ignore", message=r"`LightningModule.configure_optimizers` returned `None`")


class SelectOnValidation(ClassificationTask):
    """Chooses the value of the net's buffer `parameter` among `candidates` by `criterion` (a figure of
    `metrics.scores`: uf1, uar, ...) on the validation clips, at the end of fitting; ties go to the candidate listed
    first. One candidate is a fixed value, used without validation clips. Logs the choice (`final/<parameter>`) and
    `selection.json`: every candidate's validation scores and the clips they were measured on. Tests as
    `ClassificationTask` does (class probabilities: the softmax of the net's output)."""

    def __init__(
        self,
        net: nn.Module,
        input_keys: Sequence[str],
        class_names: Sequence[str],
        parameter: str,
        candidates: Sequence[float],
        criterion: str = "uf1",
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
    ) -> None:
        super().__init__(net, input_keys, class_names, optimizer, scheduler)
        check_criterion(criterion)
        try:
            net.get_buffer(parameter)
        except AttributeError as err:
            raise ValueError(f"task.parameter: {type(net).__name__} has no buffer {parameter!r} to choose") from err
        if not candidates:
            raise ValueError(f"task.candidates: no value of {parameter} to choose from")
        self.parameter = parameter
        self.candidates = [float(c) for c in candidates]
        self.criterion = criterion

    def configure_optimizers(self) -> None:
        return None

    def on_fit_start(self) -> None:
        if self.trainer.max_epochs != 0:
            raise ValueError(
                f"this stage chooses {self.parameter} and trains nothing: set its trainer.max_epochs to 0 (got "
                f"{self.trainer.max_epochs})"
            )

    @torch.no_grad()
    def on_fit_end(self) -> None:
        datamodule = self.trainer.datamodule
        clips = datamodule.split.val
        if len(self.candidates) > 1 and not clips:
            raise ValueError(
                f"task.candidates lists {len(self.candidates)} values of {self.parameter}, but the fold has no "
                "validation clips to choose on: set protocol.val_subjects (e.g. 2), or give one candidate (a fixed "
                "value)"
            )
        buffer = self.net.get_buffer(self.parameter)
        if len(self.candidates) == 1:
            buffer.fill_(self.candidates[0])
            self.final_metrics[self.parameter] = self.candidates[0]
            self.artifacts[SELECTION] = {"parameter": self.parameter, "fixed": self.candidates[0]}
            return
        training = self.training
        self.eval()
        predictions, labels, clip_ids = {}, None, None
        for value in self.candidates:
            buffer.fill_(value)
            rows = mean_by_clip(self._validation_rows(datamodule.eval_loader("val")))
            predictions[value] = rows["probs"].argmax(1).numpy()
            labels, clip_ids = rows["label"].numpy(), rows["clip_id"].tolist()
        self.train(training)
        choice = select(predictions, labels, self.num_classes, self.criterion)
        buffer.fill_(choice.value)
        self.final_metrics[self.parameter] = choice.value
        self.artifacts[SELECTION] = {
            "parameter": self.parameter, "criterion": self.criterion, "chosen": choice.value,
            "candidates": choice.table, "clips": [datamodule.clips[i].uid for i in clip_ids],
        }

    def _validation_rows(self, loader) -> dict[str, torch.Tensor]:
        rows = []
        for batch in loader:
            batch = {key: value.to(self.device) for key, value in batch.items()}
            rows.append({"clip_id": batch["clip_id"].cpu(), "label": batch["label"].cpu(),
                         "probs": torch.softmax(self.logits(batch), dim=1).cpu()})
        return {key: torch.cat([r[key] for r in rows]) for key in rows[0]}
