"""Reconstruction: a net trained to reproduce its input, to pre-train an encoder without labels.

Nistor & Czibula's FIR stage (facial image reconstruction): a convolutional autoencoder on face frames, whose encoder
later stages start from. The task tests nothing; it reports its final reconstruction error and leaves a figure of
inputs beside their reconstructions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from matplotlib.figure import Figure
from torch import nn
from torch.nn import functional as F

from mer_lightning.lit.task import Task

GRID = "reconstructions.png"


def reconstruction_figure(inputs: torch.Tensor, outputs: torch.Tensor, title: str) -> Figure:
    """Inputs (top row) above their reconstructions (bottom row); (N, C, H, W), grey from the first channel unless
    there are three."""
    count = len(inputs)
    figure = Figure(figsize=(1.3 * count + 0.4, 3.0), dpi=90)
    axes = figure.subplots(2, count, squeeze=False)
    for row, images in enumerate((inputs, outputs)):
        for column, image in enumerate(images.detach().float().cpu()):
            ax = axes[row, column]
            ax.set_axis_off()
            if image.shape[0] == 3:
                ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
            else:
                ax.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_title("input" if row == 0 else "reconstruction", fontsize=8, loc="left")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure


@torch.no_grad()
def reconstruction_report(
    task: Task, reconstruct: Callable[[dict[str, torch.Tensor]], torch.Tensor], grid_items: int
) -> tuple[float, Figure]:
    """Mean squared error of `reconstruct(batch)` against the input `task.input_keys[0]` over the training items,
    in eval mode, and the figure of `grid_items` of them, evenly spaced over the set (so, of different clips)."""
    was_training = task.training
    task.eval()
    key = task.input_keys[0]
    loader = task.trainer.datamodule.eval_loader("train")
    total, count = 0.0, 0
    for batch in loader:
        batch = task.transfer_batch_to_device(batch, task.device, 0)
        output, target = reconstruct(batch), batch[key]
        total += F.mse_loss(output, target, reduction="sum").item() / target[0].numel()
        count += len(target)
    shown = task.transfer_batch_to_device(
        loader.dataset[torch.linspace(0, count - 1, min(grid_items, count)).round().long().tolist()], task.device, 0
    )
    figure = reconstruction_figure(shown[key], reconstruct(shown), "")
    task.train(was_training)
    mse = total / max(count, 1)
    figure.suptitle(f"{key}: training items and their reconstructions (mean squared error {mse:.4g})", fontsize=9)
    return mse, figure


class AutoencodeTask(Task):
    """Trains `net(x) -> x_hat` by mean squared error on the input named by `input_keys[0]` (scaled 0..1 for the
    figure to show it as it is). At the end of fitting: `reconstruction_mse` over the training items, in eval mode,
    and a figure of the first `grid_items` of them."""

    def __init__(
        self,
        net: nn.Module,
        input_keys: Sequence[str],
        class_names: Sequence[str],
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        grid_items: int = 8,
    ) -> None:
        super().__init__(net, input_keys, class_names, optimizer, scheduler)
        self.grid_items = grid_items

    def reconstruction_loss(self, output: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.mse_loss(output, batch[self.input_keys[0]])

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"loss": self.reconstruction_loss(self(batch), batch)}

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        loss = self.reconstruction_loss(self(batch), batch)
        self.log("val/reconstruction_mse", loss, on_step=False, on_epoch=True, batch_size=len(batch["clip_id"]))

    @torch.no_grad()
    def on_fit_end(self) -> None:
        self.final_metrics["reconstruction_mse"], self.artifacts[GRID] = reconstruction_report(
            self, lambda batch: self(batch), self.grid_items
        )
