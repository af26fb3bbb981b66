"""`mer-train`: one fold of a protocol, from config to an MLflow fold run. `mer-train -m` runs every fold.

`mer-eval` (evaluate.py) is the same fold run with `fit: false` and a `checkpoint` per fold (conf/eval.yaml).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import hydra
import pandas as pd
import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning_fabric.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from mer_lightning.datamodule import MERDataModule
from mer_lightning.metrics import scores
from mer_lightning.lit.callbacks import TestEveryEpoch
from mer_lightning.models.weights import load_weights
from mer_lightning.protocols import Protocol
from mer_lightning.tracking import Tracker, predictions_table

log = logging.getLogger(__name__)
# The repository's conf/ (installed editable), or a config tree of your own.
CONFIG_DIR = os.environ.get("MER_CONFIG_DIR", str(Path(__file__).resolve().parents[1] / "conf"))


def run_fold(cfg: DictConfig) -> dict:
    """Fits (unless `fit: false`) and tests one fold, recorded as an MLflow run; returns the fold's test scores."""
    pl.seed_everything(cfg.seed, workers=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    protocol: Protocol = instantiate(cfg.protocol)
    if rank_zero_only.rank != 0:
        # A DDP worker, started by rank 0 re-running this command: it trains and tests beside rank 0, which records.
        return _fit_and_test(cfg, protocol, tracker=None, run_id="")
    tracker: Tracker = instantiate(cfg.logger)
    choices = HydraConfig.get().runtime.choices
    fold = str(protocol.fold)
    run_id = tracker.start_fold(
        tags={
            "mer.dataset": str(choices.get("dataset")),
            "mer.model": str(cfg.model.name),
            "mer.protocol": str(choices.get("protocol")),
            "mer.fold": fold,
            f"mer.{protocol.fold_setting}": fold,
        },
        config=OmegaConf.to_container(cfg, resolve=True),
        config_yaml=OmegaConf.to_yaml(cfg, resolve=True),
        run_name=f"{cfg.model.name} {fold}",
    )
    try:
        scores = _fit_and_test(cfg, protocol, tracker, run_id)
    except BaseException as error:
        tracker.client.set_tag(run_id, "mer.error", f"{type(error).__name__}: {error}"[:5000])
        tracker.end_run(run_id, failed=True)
        raise
    tracker.end_run(run_id)
    log.info("fold %s: UF1 %.4f UAR %.4f accuracy %.4f", fold, scores["uf1"], scores["uar"], scores["accuracy"])
    return scores


def _fit_and_test(cfg: DictConfig, protocol: Protocol, tracker: Tracker | None, run_id: str) -> dict:
    dataset = instantiate(cfg.dataset)
    if cfg.label_control:
        dataset = instantiate(cfg.label_control)(dataset)
    datamodule: MERDataModule = instantiate(
        cfg.datamodule, dataset=dataset, pipeline=instantiate(cfg.preprocessing), protocol=protocol
    )
    datamodule.setup("fit")
    if tracker:
        tracker.client.set_tag(run_id, "mer.class_names", json.dumps(list(datamodule.class_names)))
    net = instantiate(cfg.model.net)(
        in_chans=datamodule.num_channels(cfg.model.input_keys[0]), num_classes=datamodule.num_classes
    )
    if cfg.checkpoint:
        subject = datamodule.split.test[0].source_subject
        load_weights(net, str(cfg.checkpoint).format(fold=protocol.fold, subject=subject))
    task = instantiate(cfg.task, net=net, input_keys=list(cfg.model.input_keys), class_names=datamodule.class_names)
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    oracle = TestEveryEpoch() if protocol.record_oracle else None
    # No validation subjects, no validation loop (an empty one makes Lightning warn in every fold).
    no_validation = {} if datamodule.split.val else {"limit_val_batches": 0}
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        logger=tracker.lightning_logger(run_id) if tracker else False,
        callbacks=[*callbacks, *([oracle] if oracle else [])],
        **no_validation,
    )
    if cfg.fit:
        trainer.fit(task, datamodule=datamodule)
    trainer.test(task, datamodule=datamodule, ckpt_path=cfg.test_checkpoint if cfg.fit else None, verbose=False)
    predictions = task.test_predictions
    if tracker is None:
        return scores(predictions["label"], predictions["probs"].argmax(1), datamodule.num_classes, present_only=True)
    for callback in callbacks:  # analysis callbacks (figures, tables) leave what they made in `artifacts`
        tracker.log_artifacts(run_id, getattr(callback, "artifacts", {}))
    table = predictions_table(
        datamodule.clips,
        predictions["clip_id"].numpy(),
        predictions["label"].numpy(),
        predictions["probs"].float().numpy(),
        datamodule.class_names,
    )
    if oracle:
        tracker.record_epoch_predictions(run_id, _epoch_table(oracle, datamodule))
    repairs = {c.uid: list(c.repairs) for c in datamodule.clips if c.repairs}
    return tracker.record_fold(run_id, table, datamodule.class_names, datamodule.skipped, repairs)


def _epoch_table(oracle: TestEveryEpoch, datamodule: MERDataModule) -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame({
                "epoch": epoch,
                "clip": [datamodule.clips[i].uid for i in rows["clip_id"].tolist()],
                "label": rows["label"].numpy(),
                "prediction": rows["prediction"].numpy(),
            })
            for epoch, rows in enumerate(oracle.epochs)
        ],
        ignore_index=True,
    )


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float:
    return run_fold(cfg)["uf1"]


if __name__ == "__main__":
    main()
