"""Callbacks of the training tasks."""

from __future__ import annotations

import pytorch_lightning as pl
import torch


class TestEveryEpoch(pl.Callback):
    """Predicts the test clips after every training epoch, for the opt-in oracle audit only.

    Choosing an epoch by these predictions is what several published methods do and what this project never does
    for its headline; the summary reports the resulting figures as `oracle_*`, beside the honest ones.
    """

    def __init__(self) -> None:
        self.epochs: list[dict[str, torch.Tensor]] = []

    @torch.no_grad()
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        was_training = pl_module.training
        pl_module.eval()
        rows = []
        for batch in trainer.datamodule.test_dataloader():
            batch = pl_module.transfer_batch_to_device(batch, pl_module.device, 0)
            rows.append({"clip_id": batch["clip_id"], "label": batch["label"], "prediction": pl_module(batch).argmax(1)})
        self.epochs.append({key: torch.cat([r[key] for r in rows]).cpu() for key in rows[0]})
        pl_module.train(was_training)
