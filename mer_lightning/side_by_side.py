"""Folds side by side (`mer-train -m hydra/launcher=vectorized`): the runner the vectorized launcher calls.

Fold jobs whose configs differ only in the fold (`group_key`) are run a group at a time in one process: each is
prepared as its own fold run (`prepare`: seeded, its data, net, task and trainer built as `mer-train` builds them
alone), the group is trained as one vectorised model (`fit`, lit/vectorized.py), then each fold is tested and
recorded by the same code as a fold trained alone (`finish`): its own MLflow fold run with its own predictions.
Settings that train differently outside Lightning's loop are refused with the reason (`check_config`).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mer_lightning.lit.vectorized import FoldStream, NotVectorizable, RandomState, VectorizedFit
from mer_lightning.train import FoldRun, Stage, StageParts, fold_run

log = logging.getLogger(__name__)
# Trainer settings the vectorised loop does not implement, with the values that mean "not used".
UNSUPPORTED_TRAINER = {
    "gradient_clip_val": (None, 0),
    "accumulate_grad_batches": (1,),
    "max_steps": (-1, None),
    "limit_train_batches": (None, 1.0),
    "num_nodes": (1,),
}


@dataclass
class PreparedFold:
    run: FoldRun
    stage: Stage
    parts: StageParts
    state: RandomState  # the fold's random state when its own training would have begun


def group_key(cfg: DictConfig) -> str:
    """Jobs with the same key differ only in their fold (and may train side by side)."""
    setting = instantiate(cfg.protocol).fold_setting
    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("hydra", None)
    plain["protocol"].pop(setting, None)
    return OmegaConf.to_yaml(OmegaConf.create(plain))


def check_config(cfg: DictConfig) -> None:
    """Refuses what folds side by side would not do as each fold does alone, saying why."""
    reasons = []
    if cfg.stage_order:
        reasons.append(f"stage_order {list(cfg.stage_order)}: a fold's stages run one after another")
    if not cfg.fit:
        reasons.append("fit: false: nothing to train (test given weights with the basic launcher)")
    if cfg.callbacks:
        reasons.append(f"callbacks {list(cfg.callbacks)} hook Lightning's training loop")
    if cfg.protocol.get("record_oracle"):
        reasons.append("protocol.record_oracle tests every epoch inside Lightning's training loop")
    if cfg.test_checkpoint:
        reasons.append(f"test_checkpoint={cfg.test_checkpoint} needs checkpoints chosen during training")
    if str(cfg.trainer.get("strategy", "auto")) != "auto" or str(cfg.trainer.get("devices", 1)) not in ("1", "auto"):
        reasons.append("trainer: one device, strategy auto (folds side by side fill one device)")
    precision = str(cfg.trainer.get("precision") or "32")
    if precision not in ("32", "32-true"):
        reasons.append(f"trainer.precision={precision}: the vectorised loop trains in float32")
    for key, unused in UNSUPPORTED_TRAINER.items():
        if cfg.trainer.get(key, unused[0]) not in unused:
            reasons.append(f"trainer.{key}={cfg.trainer[key]} is not implemented by the vectorised loop")
    if reasons:
        raise NotVectorizable(
            "these folds cannot train side by side (run them with the basic launcher): " + "; ".join(reasons)
        )


def prepare(cfg: DictConfig) -> PreparedFold:
    """Opens the fold's run and builds its one stage, exactly as the fold would be built alone."""
    check_config(cfg)
    run = fold_run(cfg)
    run.start()
    try:
        stage = run.stages[0]
        parts = run.build_stage(stage, run.folder.stage(stage.name), run.run_id, held_out=None)
        if parts.datamodule.split.val:
            raise NotVectorizable(
                "protocol: validation subjects are evaluated every epoch inside Lightning's loop; "
                "folds side by side train without a validation split"
            )
    except BaseException as error:
        run.fail(error)
        raise
    return PreparedFold(run, stage, parts, RandomState.capture())


def fit(folds: Sequence[PreparedFold]) -> None:
    """Trains the folds side by side, in groups taking as many steps per epoch, and records each fold's per-epoch
    losses as Lightning would (`train/<name>` and `epoch` at the epoch's last step)."""
    by_steps: dict[int | None, list[PreparedFold]] = defaultdict(list)
    for fold in folds:
        by_steps[_steps_per_epoch(fold.parts.datamodule.train_dataloader())].append(fold)
    try:
        for group in by_steps.values():
            _fit_group(group)
    except BaseException as error:  # the launcher fails every job of the call with it
        for fold in folds:
            fold.run.fail(error)
        raise


def _steps_per_epoch(loader) -> int | None:
    """Batches per epoch, when the loader knows (a configured batch sampler may not: its folds are checked as they
    train)."""
    try:
        return len(loader)
    except TypeError:
        return None


def _fit_group(group: list[PreparedFold]) -> None:
    trainer = group[0].parts.trainer
    streams = [FoldStream(fold.parts.datamodule.train_dataloader(), fold.state) for fold in group]
    history: list[list[tuple[int, int, dict[str, float]]]] = [[] for _ in group]

    def keep(epoch: int, step: int, losses: list[dict[str, float]]) -> None:
        for fold, values in enumerate(losses):
            history[fold].append((epoch, step, values))

    log.info("training %d folds side by side: %s", len(group), ", ".join(f.run.fold for f in group))
    VectorizedFit([f.parts.task for f in group], streams, trainer.max_epochs, trainer.strategy.root_device).fit(keep)
    now = int(time.time() * 1000)
    for fold, epochs in zip(group, history):  # kept with the fold's record, which its upload sends to its run
        rows = [("epoch", float(epoch), step, now) for epoch, step, _ in epochs]
        rows += [(f"train/{name}", value, step, now) for _, step, values in epochs for name, value in values.items()]
        fold.parts.record.append_epochs(rows)


def finish(fold: PreparedFold) -> float:
    """Tests and records the trained fold as `mer-train` does; returns its UF1."""
    try:
        scores = fold.run.test_and_record(fold.stage, fold.parts)
    except BaseException as error:
        fold.run.fail(error)
        raise
    return fold.run.end(scores)["uf1"]
