"""Callbacks of the training tasks."""

from __future__ import annotations

import random

import numpy as np
import pytorch_lightning as pl
import torch

from mer_lightning import interrupts


class TestEveryEpoch(pl.Callback):
    """Predicts the test clips after every training epoch, for the opt-in oracle audit only.

    Choosing an epoch by these predictions is what several published methods do and what this project never does
    for its headline; the summary reports the resulting figures as `oracle_*`, beside the honest ones. The epochs'
    predictions are kept in training checkpoints, so a resumed fold audits every epoch.
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
            rows.append(
                {"clip_id": batch["clip_id"], "label": batch["label"], "prediction": pl_module(batch).argmax(1)}
            )
        self.epochs.append({key: torch.cat([r[key] for r in rows]).cpu() for key in rows[0]})
        pl_module.train(was_training)

    def state_dict(self) -> dict:
        return {"epochs": self.epochs}

    def load_state_dict(self, state_dict: dict) -> None:
        self.epochs = list(state_dict["epochs"])


def random_state() -> dict:
    """The random generators' states (torch, CUDA, NumPy, Python), as tensors and plain values (weights_only)."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss],
        "python": random.getstate(),
    }


def set_random_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


class RandomState(pl.Callback):
    """Keeps the random generators' states in training checkpoints and restores them on resume, so that a fold
    resumed from its last epoch shuffles, drops out and augments as it would have uninterrupted: the same
    predictions."""

    def state_dict(self) -> dict:
        return random_state()

    def load_state_dict(self, state_dict: dict) -> None:
        set_random_state(state_dict)


class StartEpoch(pl.Callback):
    """The epoch training starts at: 0, or the one a resumed stage continues from. Also puts back, once Lightning
    has set its signal handlers, those of a launcher (submitit lets SIGTERM pass until its pre-emption signal)."""

    def __init__(self) -> None:
        self.epoch = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epoch = trainer.current_epoch
        interrupts.keep_launcher_handlers()
