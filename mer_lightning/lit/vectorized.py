"""Folds side by side: tasks of one architecture, one per fold, trained at once as one vectorised model.

The folds' weights are stacked (`torch.func.stack_module_state`) and each training step evaluates every fold's
objective (`Task.losses`) in one call vectorised over the fold axis (`torch.func.vmap`): a small net's step costs
about as many dispatches for K folds as for one. The folds' objectives are summed, so each fold's gradient is its own,
and one optimizer steps over the stacked weights: optimizers whose update is element by element (Adam, SGD, ...) are
then K independent ones. BatchNorm statistics are stacked like the weights, so each fold keeps its own. Each fold
draws its batches from its own loader with its own random state (torch, numpy, Python), as it would alone, so
the batches a fold trains on are those it trains on in its own process.

What cannot be the same: random operations inside the net (dropout) draw each fold's mask from one shared stream
(`randomness="different"`), not from the fold's own, so a net with dropout is trained on other masks than alone (the
same method, another draw). Without them a fold's weights match its sequential training to float tolerance.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from mer_lightning.lit.task import Task

# Their update of a weight reads only that weight's gradient and state: one of them over stacked folds is K of them.
ELEMENTWISE_OPTIMIZERS = (
    torch.optim.Adam,
    torch.optim.AdamW,
    torch.optim.SGD,
    torch.optim.RMSprop,
    torch.optim.Adagrad,
    torch.optim.Adamax,
    torch.optim.NAdam,
    torch.optim.RAdam,
    torch.optim.Adadelta,
)
# Lightning runs these inside its training loop, which folds side by side replace; a task overriding one is refused.
LOOP_HOOKS = (
    "fit",
    "training_step",
    "configure_optimizers",
    "optimizer_step",
    "configure_gradient_clipping",
    "on_fit_start",
    "on_fit_end",
    "on_train_start",
    "on_train_end",
    "on_train_epoch_start",
    "on_train_epoch_end",
    "on_train_batch_start",
    "on_train_batch_end",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "on_before_zero_grad",
)


class NotVectorizable(ValueError):
    """These folds cannot train side by side; the message says why (run them with the basic launcher)."""


def check_task(task: Task) -> None:
    """Refuses a task that does not train the same way side by side as alone, naming what stands in the way."""
    hooks = [hook for hook in LOOP_HOOKS if getattr(type(task), hook) is not getattr(Task, hook)]
    if hooks:
        raise NotVectorizable(
            f"task {type(task).__name__} overrides {hooks}, which Lightning's training loop calls; folds side by side "
            "train outside that loop (only the objective, Task.losses, is vectorised)"
        )
    optimizer = getattr(task.optimizer_factory, "func", task.optimizer_factory)
    if optimizer not in ELEMENTWISE_OPTIMIZERS:
        raise NotVectorizable(
            f"optimizer {getattr(optimizer, '__name__', optimizer)}: one optimizer steps every fold's weights at once, "
            f"which equals one per fold only for element-wise updates ({[o.__name__ for o in ELEMENTWISE_OPTIMIZERS]})"
        )
    scheduler = getattr(task.scheduler_factory, "func", task.scheduler_factory)
    if scheduler is torch.optim.lr_scheduler.ReduceLROnPlateau:
        raise NotVectorizable(
            "scheduler ReduceLROnPlateau follows one monitored figure; folds side by side share "
            "one learning rate schedule"
        )


@dataclass
class RandomState:
    """The global random states a fold's data loading draws from: torch's, numpy's and Python's."""

    torch_state: torch.Tensor
    numpy_state: tuple
    python_state: tuple

    @classmethod
    def capture(cls) -> RandomState:
        return cls(torch.get_rng_state(), np.random.get_state(), random.getstate())

    def restore(self) -> None:
        torch.set_rng_state(self.torch_state)
        np.random.set_state(self.numpy_state)
        random.setstate(self.python_state)


class FoldStream:
    """A fold's training batches, each epoch a new pass of its loader drawn with the fold's own random state."""

    def __init__(self, loader: Iterable, state: RandomState) -> None:
        self.loader = loader
        self.state = state

    @contextmanager
    def _own_state(self) -> Iterator[None]:
        outside = RandomState.capture()
        self.state.restore()
        try:
            yield
        finally:
            self.state = RandomState.capture()
            outside.restore()

    def epoch(self) -> Iterator[dict[str, torch.Tensor]]:
        with self._own_state():
            batches = iter(self.loader)
        while True:
            with self._own_state():
                batch = next(batches, None)
            if batch is None:
                return
            yield batch


class _Objective(nn.Module):
    """`forward` = the task's training objective, so that `functional_call` can evaluate it with other weights."""

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.task = task

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.task.losses(batch)


# Per fold, per epoch: the batch-size-weighted mean of each loss the task reports (as Lightning logs `train/<name>`).
EpochLosses = list[dict[str, float]]
OnEpoch = Callable[[int, int, list[dict[str, float]]], None]


class VectorizedFit:
    """Trains `tasks` (one per fold, one architecture, in train mode with their frozen parts as configured) for
    `max_epochs` on their `streams`, side by side, then writes each fold's final weights back into its task."""

    def __init__(
        self, tasks: Sequence[Task], streams: Sequence[FoldStream], max_epochs: int, device: torch.device | str = "cpu"
    ) -> None:
        if len(tasks) != len(streams) or not tasks:
            raise ValueError(f"one stream per task: {len(tasks)} tasks, {len(streams)} streams")
        for task in tasks:
            check_task(task)
        self.tasks = list(tasks)
        self.streams = list(streams)
        self.max_epochs = max_epochs
        self.device = torch.device(device)
        template = tasks[0]
        for task in tasks:
            task.train()
        params, buffers = stack_module_state(self.tasks)
        self.params = {name: _leaf(value.to(self.device)) for name, value in params.items()}
        self.buffers = {name: value.to(self.device) for name, value in buffers.items()}
        self.objective = _Objective(template)
        self.optimizer = template.optimizer_factory([p for p in self.params.values() if p.requires_grad])
        self.scheduler = template.scheduler_factory(self.optimizer) if template.scheduler_factory else None
        self.steps = 0

    def fit(self, on_epoch: OnEpoch | None = None) -> None:
        """`on_epoch(epoch, last_step, losses)` after every epoch: the index of its last optimizer step (the step
        Lightning logs epoch figures at) and each fold's mean losses."""
        for epoch in range(self.max_epochs):
            totals: list[dict[str, float]] = [defaultdict(float) for _ in self.tasks]
            counts = [0] * len(self.tasks)
            for batches in self._lockstep(epoch):
                for fold, losses in enumerate(self._step(batches)):
                    size = len(batches[fold]["clip_id"])
                    counts[fold] += size
                    for name, value in losses.items():
                        totals[fold][name] += value * size
            if self.scheduler is not None:
                self.scheduler.step()
            if on_epoch is not None:
                means = [{name: total / count for name, total in fold.items()} for fold, count in zip(totals, counts)]
                on_epoch(epoch, self.steps - 1, means)
        self._write_back()

    def _lockstep(self, epoch: int) -> Iterator[list[dict[str, torch.Tensor]]]:
        """Every fold's next batch, step after step; folds must take the same number of steps (one optimizer)."""
        passes = [stream.epoch() for stream in self.streams]
        while True:
            batches = [next(one, None) for one in passes]
            if all(b is None for b in batches):
                return
            if any(b is None for b in batches):
                done = [fold for fold, b in enumerate(batches) if b is None]
                raise NotVectorizable(
                    f"epoch {epoch}: folds {done} ran out of batches before the others (step {self.steps}); folds "
                    "side by side take one optimizer step together, so they must draw as many batches per epoch"
                )
            yield batches

    def _step(self, batches: list[dict[str, torch.Tensor]]) -> list[dict[str, float]]:
        """One optimizer step of every fold; folds whose batches have the same shapes share one vectorised call."""
        groups: dict[tuple, list[int]] = defaultdict(list)
        for fold, batch in enumerate(batches):
            groups[tuple((key, tuple(value.shape)) for key, value in sorted(batch.items()))].append(fold)
        total = 0.0
        per_fold: list[dict[str, float]] = [{} for _ in batches]
        for folds in groups.values():
            stacked = {key: torch.stack([batches[f][key] for f in folds]).to(self.device) for key in batches[folds[0]]}
            losses = self._losses(folds, stacked)
            total = total + losses["loss"].sum()
            for name, values in losses.items():
                for fold, value in zip(folds, values.detach().cpu().tolist()):
                    per_fold[fold][name] = value
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        self.steps += 1
        return per_fold

    def _losses(self, folds: list[int], batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The objective of the folds `folds` on their stacked batches; their BatchNorm statistics updated."""
        whole = len(folds) == len(self.tasks)
        index = torch.tensor(folds, device=self.device)
        params = self.params if whole else {name: value[index] for name, value in self.params.items()}
        buffers = self.buffers if whole else {name: value[index] for name, value in self.buffers.items()}
        try:
            losses = vmap(self._objective, randomness="different")(params, buffers, batch)
        except Exception as error:
            if self.steps:
                raise
            raise NotVectorizable(
                f"model {type(self.tasks[0].net).__name__} cannot run under torch.func.vmap, so its folds cannot "
                f"train side by side: {type(error).__name__}: {error}"
            ) from error
        if not whole:
            with torch.no_grad():
                for name, value in buffers.items():
                    self.buffers[name][index] = value
        return losses

    def _objective(
        self, params: Mapping[str, torch.Tensor], buffers: Mapping[str, torch.Tensor], batch: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        state = {f"task.{name}": value for name, value in (*params.items(), *buffers.items())}
        return functional_call(self.objective, state, (batch,), strict=True)

    @torch.no_grad()
    def _write_back(self) -> None:
        for fold, task in enumerate(self.tasks):
            for name, tensor in (*task.named_parameters(), *task.named_buffers()):
                stacked = self.params.get(name, self.buffers.get(name))
                tensor.copy_(stacked[fold].to(tensor.device))


def _leaf(value: torch.Tensor) -> torch.Tensor:
    """A stacked weight as a leaf of its own (trainable if the folds' weights were)."""
    return value.detach().requires_grad_(value.requires_grad)
