"""Qualitative and descriptive analysis of a fold's model, as callbacks that render artifacts for the fold run.

A callback here fills `artifacts` (artifact path -> `matplotlib.figure.Figure`, text or JSON-able data) and knows
nothing of where they go: the fold run (`train.py`) hands every callback's `artifacts` to the tracker. Figures are
built on `matplotlib.figure.Figure`, never pyplot, so no GUI backend or global figure state is involved.

- `ResponseMaps`: the response maps of named layers for one clip of each class (LEARNet's Fig. 3/4), and optionally
  a baseline's first-layer maps beside the model's (Fig. 5).
- `ComplexityTable`: layers, parameters and multiply-adds of the model and of comparison models at the fold's input
  (LEARNet's Table X).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Mapping, Sequence

import pytorch_lightning as pl
import torch
from matplotlib.figure import Figure
from torch import nn

from mer_lightning.lit.classify import ClassificationTask
from mer_lightning.models.complexity import complexity_table, format_complexity_table
from mer_lightning.models.responses import capture_responses
from mer_lightning.models.weights import load_weights

log = logging.getLogger(__name__)

Artifact = Figure | str | Mapping | list
NetFactory = Callable[..., nn.Module]  # a `_partial_` model config: called with in_chans and num_classes


def _sanitize(text: str) -> str:
    """A clip uid or class name as one path component of an artifact."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _show_input(axes, image: torch.Tensor) -> None:
    """A (C, H, W) input as the figure shows it: RGB when it has 3 channels, else its first channel, min-max scaled."""
    image = image.float()
    image = image if image.shape[0] == 3 else image[:1]
    image = (image - image.min()) / (image.max() - image.min()).clamp(min=1e-12)
    axes.imshow(image.permute(1, 2, 0).numpy() if image.shape[0] == 3 else image[0].numpy(), cmap="gray")


def response_figure(
    image: torch.Tensor, rows: Sequence[tuple[str, torch.Tensor]], title: str, max_channels: int = 16
) -> Figure:
    """One row per response (label, (C, h, w)): the input at the left of the first row, then up to `max_channels`
    channel maps, each scaled to its own range (as the paper's figures show them)."""
    columns = 1 + min(max_channels, max(response.shape[0] for _, response in rows))
    figure = Figure(figsize=(1.05 * columns, 1.2 * len(rows) + 0.5), dpi=90)
    axes = figure.subplots(len(rows), columns, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    _show_input(axes[0, 0], image)
    axes[0, 0].set_title("input", fontsize=7)
    for r, (label, response) in enumerate(rows):
        axes[r, 1].set_title(label, fontsize=7, loc="left")
        for c in range(min(max_channels, response.shape[0])):
            axes[r, 1 + c].imshow(response[c].float().numpy(), cmap="jet")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure


class ResponseMaps(pl.Callback):
    """After the test, the responses of named layers for one clip of each class, as one figure per clip and panel.

    Args:
        panels: figure name -> module names of the net (e.g. LEARNet's `first_layer: [stem]`,
            `accretion: [paths12.first.conv1, paths12.second.conv1, paths12.add1]`); each is one row of the figure.
        stages: where a clip of each class is looked for, in order (the first clip of the class in the first stage
            holding one); the figure's title says which stage it came from.
        max_channels: channel maps shown per layer.
        compare_net: a baseline to show beside the model (Fig. 5), as a `_partial_` model config; null for none.
        compare_name: its name in the figure.
        compare_layers: its module names (e.g. timm ResNet's `act1`, VGG's `features.1`, GoogLeNet's `conv1`).
        compare_panel: the panel of the model that the baseline's rows go beside.
        compare_weights: a weights file for the baseline; null trains it on the fold's training clips with the
            run's own recipe (optimiser, scheduler, loss, batches) for `compare_epochs` epochs.
        compare_epochs: epochs of that training.
    """

    def __init__(
        self,
        panels: Mapping[str, Sequence[str]],
        stages: Sequence[str] = ("test", "train"),
        max_channels: int = 16,
        compare_net: NetFactory | None = None,
        compare_name: str = "baseline",
        compare_layers: Sequence[str] = (),
        compare_panel: str = "first_layer",
        compare_weights: str | None = None,
        compare_epochs: int = 1,
    ) -> None:
        if not panels:
            raise ValueError("callbacks: ResponseMaps needs at least one panel of layer names")
        unknown = [s for s in stages if s not in ("test", "train", "val")]
        if unknown or not stages:
            raise ValueError(f"callbacks: ResponseMaps stages {list(stages)} must be among test, train, val")
        if compare_net is not None and (not compare_layers or compare_panel not in panels):
            raise ValueError(
                f"callbacks: a compare_net needs compare_layers and a compare_panel among the panels {list(panels)}"
            )
        self.panels = {name: list(layers) for name, layers in panels.items()}
        self.stages = list(stages)
        self.max_channels = max_channels
        self.compare_net = compare_net
        self.compare_name = compare_name
        self.compare_layers = list(compare_layers)
        self.compare_panel = compare_panel
        self.compare_weights = compare_weights
        self.compare_epochs = compare_epochs
        self.artifacts: dict[str, Artifact] = {}

    def _examples(self, datamodule: pl.LightningDataModule, num_classes: int) -> list[tuple[int, str, dict]]:
        """(class, stage, one-clip batch) for the first clip of each class found, looking in `stages` in order.

        Reads the stages' stored tensors, not their loaders, so a training clip is shown un-augmented."""
        loaders = {
            "test": datamodule.test_dataloader,
            "train": datamodule.train_dataloader,
            "val": datamodule.val_dataloader,
        }
        examples = []
        for label in range(num_classes):
            for stage in self.stages:
                loader = loaders[stage]()
                if not loader:
                    continue
                tensors = loader.dataset.tensors
                hits = torch.nonzero(tensors["label"] == label).flatten()
                if len(hits):
                    index = int(hits[0])
                    examples.append((label, stage, {key: value[index : index + 1] for key, value in tensors.items()}))
                    break
        return examples

    def _baseline(self, trainer: pl.Trainer, task: ClassificationTask) -> nn.Module:
        """The comparison net, loaded from `compare_weights` or trained on the fold's training clips."""
        datamodule = trainer.datamodule
        # on_test_end runs inside the test's inference mode: the baseline's parameters and training need autograd.
        with torch.inference_mode(False), torch.enable_grad():
            net = self.compare_net(in_chans=datamodule.num_channels(task.input_keys[0]), num_classes=task.num_classes)
            if self.compare_weights:
                return load_weights(net, self.compare_weights)
            baseline = ClassificationTask(
                net,
                task.input_keys,
                task.class_names,
                task.optimizer_factory,
                task.scheduler_factory,
                copy.deepcopy(task.loss).train(),
            )
            pl.Trainer(
                max_epochs=self.compare_epochs,
                accelerator="cpu" if task.device.type == "cpu" else "auto",
                devices=1,
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
            ).fit(baseline, train_dataloaders=datamodule.train_dataloader())
        return net

    @torch.no_grad()
    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_rank != 0:
            return
        task: ClassificationTask = pl_module
        baseline = self._baseline(trainer, task).to(task.device).eval() if self.compare_net else None
        was_training = task.training
        task.eval()
        clips = trainer.datamodule.clips
        for label, stage, batch in self._examples(trainer.datamodule, task.num_classes):
            inputs = tuple(batch[key].to(task.device) for key in task.input_keys)
            layers = [layer for panel in self.panels.values() for layer in panel]
            responses = capture_responses(task.net, inputs, layers)
            predicted = task.class_names[int(task.net(*inputs).argmax(1))]
            clip = clips[int(batch["clip_id"][0])].uid
            name = f"{_sanitize(task.class_names[label])}_{_sanitize(clip)}"
            title = f"{clip} ({stage} clip), class {task.class_names[label]}, predicted {predicted}"
            image = batch[task.input_keys[0]][0]
            for panel, panel_layers in self.panels.items():
                rows = [(layer, responses[layer][0].cpu()) for layer in panel_layers]
                self.artifacts[f"responses/{panel}/{name}.png"] = response_figure(
                    image, rows, f"{panel}: {title}", self.max_channels
                )
            if baseline is not None:
                theirs = capture_responses(baseline, inputs, self.compare_layers)
                rows = [
                    (f"{task.net.__class__.__name__} {layer}", responses[layer][0].cpu())
                    for layer in self.panels[self.compare_panel]
                ]
                rows += [(f"{self.compare_name} {layer}", theirs[layer][0].cpu()) for layer in self.compare_layers]
                self.artifacts[f"responses/compare_{_sanitize(self.compare_name)}/{name}.png"] = response_figure(
                    image, rows, f"{self.compare_panel} beside {self.compare_name}: {title}", self.max_channels
                )
        task.train(was_training)


class ComplexityTable(pl.Callback):
    """At the start of the fit, layers, parameters and multiply-adds of the net and of `others` at the fold's input.

    `others` maps names to `_partial_` model configs, built for the fold's channels and classes. Single-input models
    only (the input of the first input key). Logged as `complexity.txt` and `complexity.json`, and printed.
    """

    def __init__(self, others: Mapping[str, NetFactory] | None = None) -> None:
        self.others = dict(others or {})
        self.artifacts: dict[str, Artifact] = {}

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        task: ClassificationTask = pl_module
        if len(task.input_keys) != 1:
            raise ValueError(f"callbacks: ComplexityTable takes single-input models, this one reads {task.input_keys}")
        shape = tuple(trainer.datamodule.train_dataloader().dataset.tensors[task.input_keys[0]].shape[1:])
        models: dict[str, nn.Module] = {type(task.net).__name__: task.net}
        for name, factory in self.others.items():
            models[name] = factory(in_chans=shape[0], num_classes=task.num_classes)
        rows = complexity_table(models, shape)
        table = format_complexity_table(rows)
        log.info("complexity at input %s, %d classes:\n%s", shape, task.num_classes, table)
        self.artifacts["complexity.txt"] = f"input {shape}, {task.num_classes} classes\n{table}\n"
        self.artifacts["complexity.json"] = {"input_shape": list(shape), "num_classes": task.num_classes, "rows": rows}
