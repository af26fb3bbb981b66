"""What every training task shares, and the one shape in which a task hands its results to the fold.

A task is a LightningModule with one job (classify, autoencode, multitask, ...). It wraps a plain `nn.Module` and
feeds it the batch entries named by `input_keys`, in order. When its stage ends it returns a `TaskResult`: per-clip
test predictions with class probabilities (none for a stage that tests nothing), the figures it measured, and the
artifacts it rendered, so that the tracker records any task without knowing which one it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pytorch_lightning as pl
import torch
from matplotlib.figure import Figure
from torch import nn

Artifact = Figure | str | Mapping | list


@dataclass
class TaskResult:
    """`predictions`: `clip_id`, `label` and `probs` (clips x classes), one row per test clip, or None;
    `metrics`: figures measured at the end of the stage; `artifacts`: path -> figure, text or JSON-able data."""

    predictions: dict[str, torch.Tensor] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, Artifact] = field(default_factory=dict)


class Task(pl.LightningModule):
    """A plain `net` trained by one objective on data of the classes `class_names` (every task is built the same
    way, whether its objective uses them or not). Modules named in `freeze` keep their weights and stay in eval mode
    (BatchNorm statistics included) while the rest trains."""

    def __init__(
        self,
        net: nn.Module,
        input_keys: Sequence[str],
        class_names: Sequence[str],
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.input_keys = list(input_keys)
        self.class_names = list(class_names)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.frozen: list[str] = []
        # What the task measured and rendered at the end of its stage (e.g. the final reconstruction error).
        self.final_metrics: dict[str, float] = {}
        self.artifacts: dict[str, Artifact] = {}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def forward(self, batch: dict[str, torch.Tensor]):
        return self.net(*(batch[key] for key in self.input_keys))

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The training objective of a batch as `{"loss": minimised, other name: logged beside it}`: a function of
        the batch and the weights alone, so that folds side by side can evaluate it for each fold at once."""
        raise NotImplementedError(f"{type(self).__name__} does not say what it minimises: define losses(batch)")

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        losses = self.losses(batch)
        for name, value in losses.items():
            self.log(f"train/{name}", value, on_step=False, on_epoch=True, batch_size=len(batch["clip_id"]))
        return losses["loss"]

    def freeze(self, modules: Iterable[str]) -> None:
        """Stops training the named modules of `net` (`""` is the whole net)."""
        for name in modules:
            module = self.net.get_submodule(name)
            module.requires_grad_(False)
            module.eval()
            self.frozen.append(name)

    def train(self, mode: bool = True) -> Task:
        super().train(mode)
        for name in self.frozen:
            self.net.get_submodule(name).eval()
        return self

    def fit(self, trainer: pl.Trainer, datamodule: pl.LightningDataModule, ckpt_path: str | None = None) -> None:
        """How a stage trains this task: Lightning's training loop, from the training state in `ckpt_path` when an
        interrupted stage resumes (a task that only chooses a setting on validation clips runs the validation loop
        instead)."""
        trainer.fit(self, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)

    def result(self) -> TaskResult:
        """What the stage hands the fold; tasks that test add their predictions."""
        return TaskResult(metrics=dict(self.final_metrics), artifacts=dict(self.artifacts))

    def configure_optimizers(self):
        trainable = [p for p in self.parameters() if p.requires_grad]
        if not trainable:
            raise ValueError(
                f"every parameter of {type(self.net).__name__} is frozen: nothing to train (freeze: {self.frozen})"
            )
        optimizer = self.optimizer_factory(trainable)
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer)}}

    def gather_by_clip(self, outputs: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """Rows of every rank, one per clip, ordered by clip id: float entries (probabilities) averaged over the rows
        of a clip (its frames, when a task predicts frame by frame, or the clips a distributed sampler repeats to pad
        a batch), the others taken from its first row."""
        if not outputs:
            return {}
        rows = {key: torch.cat([o[key] for o in outputs]) for key in outputs[0]}
        if self.trainer.world_size > 1:
            rows = self._all_gather_ragged(rows)
        return mean_by_clip({key: value.cpu() for key, value in rows.items()})

    def _all_gather_ragged(self, local: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """`all_gather` for ranks holding different numbers of rows: pad with clip id -1, then drop the padding."""
        size = int(self.all_gather(torch.tensor(len(local["clip_id"]), device=self.device)).max())
        padded = {}
        for key, value in local.items():
            pad = value.new_full((size - len(value), *value.shape[1:]), -1 if key == "clip_id" else 0)
            padded[key] = self.all_gather(torch.cat([value, pad])).flatten(0, 1)
        real = padded["clip_id"] >= 0
        return {key: value[real] for key, value in padded.items()}


def mean_by_clip(rows: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One row per `clip_id`, in clip id order: float entries averaged over the clip's rows, others its first row's."""
    ids, inverse = torch.unique(rows["clip_id"], sorted=True, return_inverse=True)
    n = len(inverse)
    first = torch.full((len(ids),), n, dtype=torch.long).scatter_reduce(0, inverse, torch.arange(n), reduce="amin")
    counts = torch.zeros(len(ids)).index_add_(0, inverse, torch.ones(n))
    merged = {"clip_id": ids}
    for key, value in rows.items():
        if key == "clip_id":
            continue
        if value.is_floating_point():
            total = torch.zeros((len(ids), *value.shape[1:]), dtype=value.dtype).index_add_(0, inverse, value)
            merged[key] = total / counts.to(value.dtype).view(-1, *[1] * (value.ndim - 1))
        else:
            merged[key] = value[first]
    return merged
