"""`mer-train`: one fold of a protocol, from config to an MLflow fold run. `mer-train -m` runs every fold."""

from __future__ import annotations

import json
import logging

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mer_lightning.tracking import Tracker, predictions_table

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict:
    """Fits and tests one fold, recording it as an MLflow run; returns the fold's test scores."""
    pl.seed_everything(cfg.seed, workers=True)
    protocol = instantiate(cfg.protocol)
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


def _fit_and_test(cfg: DictConfig, protocol, tracker: Tracker, run_id: str) -> dict:
    datamodule = instantiate(
        cfg.datamodule, dataset=instantiate(cfg.dataset), pipeline=instantiate(cfg.preprocessing), protocol=protocol
    )
    datamodule.setup("fit")
    tracker.client.set_tag(run_id, "mer.class_names", json.dumps(list(datamodule.class_names)))
    net = instantiate(cfg.model.net)(
        in_chans=datamodule.num_channels(cfg.model.input_keys[0]), num_classes=datamodule.num_classes
    )
    task = instantiate(cfg.task, net=net, input_keys=list(cfg.model.input_keys), class_names=datamodule.class_names)
    callbacks = [instantiate(c) for c in cfg.get("callbacks", {}).values()]
    trainer: pl.Trainer = instantiate(cfg.trainer, logger=tracker.lightning_logger(run_id), callbacks=callbacks)
    trainer.fit(task, datamodule=datamodule)
    trainer.test(task, datamodule=datamodule, ckpt_path=cfg.test_checkpoint, verbose=False)
    predictions = task.test_predictions
    table = predictions_table(
        datamodule.clips,
        predictions["clip_id"].numpy(),
        predictions["label"].numpy(),
        predictions["probs"].float().numpy(),
        datamodule.class_names,
    )
    return tracker.record_fold(run_id, table, datamodule.class_names, datamodule.skipped)


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    return train(cfg)["uf1"]


if __name__ == "__main__":
    main()
