"""`mer-train`: one fold of a protocol, from config to an MLflow fold run. `mer-train -m` runs every fold.

A fold runs its stages in order, all inside its Hydra job. An experiment lists them (`stage_order`, with each
stage's settings under `stages.<name>`); with none, the fold is one stage made of its own dataset, preprocessing,
model, task and trainer, recorded in the fold run alone. Every stage but the last only trains, on no clip of a
subject the fold tests or validates on; the last one is tested. Each saves its net's weights, which later stages
start named modules from (`init`). `mer-eval` (evaluate.py) is the same fold run with `fit: false`: given weights
per fold, or a finished sweep's own (`from_sweep`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import hydra
import pandas as pd
import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning_fabric.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint

from mer_lightning import console, interrupts, settings, sync
from mer_lightning.clip import Clip
from mer_lightning.configs import CONFIG_DIR
from mer_lightning.datamodule import MERDataModule
from mer_lightning.identity import fold_hash
from mer_lightning.input_errors import reports_input_errors
from mer_lightning.lit.callbacks import RandomState, StartEpoch, TestEveryEpoch, random_state, set_random_state
from mer_lightning.lit.task import Task, TaskResult
from mer_lightning.models.weights import load_weights
from mer_lightning.protocols import Protocol
from mer_lightning.records import FoldFolder, StageRecord
from mer_lightning.reports import fold_scores, predictions_table
from mer_lightning.stages import Handover, hand_over, module_digests, save_weights
from mer_lightning.store_check import StoreError
from mer_lightning.tracking import Tracker, description_tags, method_name

log = logging.getLogger(__name__)
# A stage's entry for these replaces the fold's (they come from config groups); for the settings it is merged over.
STAGE_GROUPS = ("dataset", "preprocessing", "model", "task")
STAGE_SETTINGS = ("datamodule", "trainer")
STAGE_KEYS = (*STAGE_GROUPS, *STAGE_SETTINGS, "init", "freeze")


@dataclass
class Stage:
    """One stage of a fold, as composed: `name` is `""` for the single stage of a one-stage fold."""

    name: str
    cfg: DictConfig  # dataset, preprocessing, datamodule, model, task, trainer
    init: list[Handover]
    freeze: list[str]
    tested: bool


def compose_stages(cfg: DictConfig) -> list[Stage]:
    """The fold's stages in order, each with the fold's groups and settings under its own entries (`cfg`: the
    fold's config, resolved)."""
    order, entries = list(cfg.stage_order or []), cfg.stages or {}
    if not order:
        if entries:
            raise ValueError(f"stages {sorted(entries)} are configured but stage_order is empty: list them in order")
        return [Stage("", OmegaConf.masked_copy(cfg, [*STAGE_GROUPS, *STAGE_SETTINGS]), [], [], tested=True)]
    unknown = sorted(set(order) - set(entries))
    if unknown:
        raise ValueError(f"stage_order names {unknown}, which have no entry under stages (have {sorted(entries)})")
    if len(set(order)) != len(order):
        raise ValueError(f"stage_order lists a stage twice: {order}")
    stages = []
    for index, name in enumerate(order):
        own = entries[name] or OmegaConf.create({})
        extra = sorted(set(own) - set(STAGE_KEYS))
        if extra:
            raise ValueError(f"stages.{name}: {extra} are not stage settings (choose from {list(STAGE_KEYS)})")
        tested = index == len(order) - 1
        if tested and "dataset" in own:
            raise ValueError(
                f"stages.{name}: the last stage is tested on the fold's dataset; set `dataset`, not "
                f"stages.{name}.dataset"
            )
        composed = {group: own[group] if group in own else cfg[group] for group in STAGE_GROUPS}
        composed.update({key: OmegaConf.merge(cfg[key], own.get(key) or {}) for key in STAGE_SETTINGS})
        init = [Handover.parse(module, spec) for module, spec in (own.get("init") or {}).items()]
        stages.append(Stage(name, OmegaConf.create(composed), init, list(own.get("freeze") or []), tested))
    return stages


def run_fold(cfg: DictConfig, tags: Mapping[str, str] | None = None, identity: str | None = None) -> dict:
    """Runs (fits unless `fit: false`, then tests) one fold's stages, recorded as an MLflow fold run with a child run
    per stage when there are several; returns the fold's test figures. `tags` describe the run (`mer.dataset`,
    `mer.model`, `mer.protocol`); by default, this Hydra job's choices. Settings are checked, and the fold's data
    read and split, before its run is created: a bad value leaves no FAILED run behind. `identity`: the fold's config
    hash (by default, of `cfg`; a re-test gives its own job's)."""
    return fold_run(cfg, tags, identity).run()


def fold_run(cfg: DictConfig, tags: Mapping[str, str] | None = None, identity: str | None = None) -> FoldRun:
    """The fold of this config, its settings checked, seeded, its split made, ready to run (rank 0 records it; a DDP
    worker only trains and tests)."""
    console.quiet()
    settings.check(cfg)
    interrupts.watch()
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if tags is None:
        choices = HydraConfig.get().runtime.choices
        tags = description_tags(choices, str(cfg.model.name))
    # Resolved once, so that a stage's config, taken out of the whole, keeps every value it interpolated.
    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    identity = identity or fold_hash(OmegaConf.to_container(cfg))
    protocol: Protocol = instantiate(cfg.protocol)
    stages = compose_stages(cfg)
    if not cfg.fit:  # given weights: the tested stage alone, its whole net loaded from them
        stages = [replace(stages[-1], init=[], freeze=[])]
    folder = FoldFolder(HydraConfig.get().runtime.output_dir)
    fold = FoldRun(cfg, protocol, stages, None, tags, identity, folder)
    fold.check_split()
    # A DDP worker (rank > 0, started by rank 0 re-running this command) trains and tests beside rank 0, which records.
    if rank_zero_only.rank == 0:
        fold.tracker = open_store(cfg.logger)
    return fold


@dataclass
class StageParts:
    """A stage built and not yet fitted: what fitting, testing and recording it take."""

    record: StageRecord
    datamodule: MERDataModule
    task: Task
    trainer: pl.Trainer
    callbacks: list
    oracle: TestEveryEpoch | None
    started: StartEpoch
    start: dict[str, str]  # module digests before training


def open_store(logger: DictConfig) -> Tracker:
    """The configured store (`logger`); one that cannot be used raises its own StoreError, naming the cause, not
    Hydra's wrapping of it."""
    try:
        return instantiate(logger)
    except InstantiationException as error:
        if isinstance(error.__cause__, StoreError):
            raise error.__cause__ from None
        raise


class ResultNotStored(RuntimeError):
    """The fold trained and tested, and its whole result is in its folder, but the store did not take it."""


class FoldRun:
    """One fold: its stages run in order, each writing its record to the fold's folder as it ends (rank 0), then
    uploading it to the store; the last one's test predictions make the fold's figures.

    The folder is also where a fold resumes from (records.py): a stage recorded `done` is not run again (later
    stages start from its saved weights), a stage interrupted mid-training continues from its `last.ckpt` (the end
    of its last finished epoch, random generators included), and the runs an earlier attempt opened are reopened.
    A store that fails does not stop the fold: it goes on locally and ends with `ResultNotStored`, its result whole
    in its folder for `mer-sync` or the sweep's resume to upload.
    """

    def __init__(
        self,
        cfg: DictConfig,
        protocol: Protocol,
        stages: list[Stage],
        tracker: Tracker | None,
        tags: Mapping[str, str],
        identity: str,
        folder: FoldFolder,
    ) -> None:
        self.cfg = cfg
        self.tags = dict(tags)
        self.protocol = protocol
        self.stages = stages
        self.tracker = tracker
        self.identity = identity
        self.folder = folder
        self.fold = str(protocol.fold)
        self.states: dict[str, dict[str, torch.Tensor]] = {}  # each finished stage's final weights, for hand-over
        self.run_id: str | None = None
        self.store_failure: str | None = None

    def run(self) -> dict:
        self.start()
        try:
            scores = self._run_stages()
        except BaseException as error:
            self.fail(error)
            raise
        return self.end(scores)

    def start(self) -> None:
        """Claims the fold's folder and opens its run (or reopens the one an earlier attempt left)."""
        resumed = self._claim_folder()
        if self.tracker is not None:
            self._announce()
            self.run_id = self._open_run(
                "",
                resumed,
                lambda: self.tracker.start_fold(
                    tags=self.folder.info["tags"],
                    config=OmegaConf.to_container(self.cfg),
                    config_yaml=OmegaConf.to_yaml(self.cfg),
                    run_name=self.folder.info["run_name"],
                ),
            )

    def fail(self, error: BaseException) -> None:
        """Closes the fold's run, KILLED when a signal stopped it, else FAILED (interrupts.stop_reason)."""
        if self.run_id:
            self._store("closing the fold's run", self.tracker.fail, self.run_id, error)

    def end(self, scores: dict) -> dict:
        """Uploads what of the fold's record the store lacks, its run then FINISHED; a store that did not take it
        ends the fold with ResultNotStored (its result whole in its folder)."""
        if self.tracker is not None and self._unstored():
            self._store("uploading the fold's result", sync.upload, self.folder, self.tracker, "resumed")
            if self._unstored():
                raise ResultNotStored(
                    f"fold {self.fold}: trained and tested, but the store failed ({self.store_failure}); its whole "
                    f"result is in {self.folder.path}: `mer-sync {self.folder.path}` uploads it (re-running the "
                    "sweep does too)"
                )
        self._report(scores)
        return scores

    def check_split(self) -> None:
        """Reads the tested stage's data and splits it, so that a fold the data cannot make (an unknown subject, a
        dataset root that is not there) is refused before its run is created."""
        self.protocol.split(self._tested_clips())

    def _announce(self) -> None:
        progress = self._store("reading the sweep's progress", self.tracker.sweep_progress)
        where = f"fold {progress.done + 1}/{progress.total}" if progress else "fold"
        log.info("%s: %s (%s on %s)", where, self.fold, method_name(self.tags), self.tags.get("mer.dataset"))

    def _report(self, scores: dict) -> None:
        figures = f"UF1 {scores['uf1']:.4f}  UAR {scores['uar']:.4f}  accuracy {scores['accuracy']:.4f}"
        progress = None
        if self.tracker is not None:
            progress = self._store("reading the sweep's progress", self.tracker.sweep_progress)
        if progress is None:
            log.info("fold %s: %s", self.fold, figures)
            return
        log.info(
            "fold %d/%d done (%s): %s; %s",
            progress.done,
            progress.total,
            self.fold,
            figures,
            console.progress(progress.done, progress.total, progress.elapsed),
        )

    def _unstored(self) -> bool:
        """Some of the fold's record is in its folder and not in the store."""
        return self.folder.pending or any(
            self.folder.stage(s.name).done and not self.folder.stage(s.name).stored for s in self.stages
        )

    def _claim_folder(self) -> str:
        """Makes the job's folder this fold's record, or checks it is already (a resumed attempt); returns what an
        earlier attempt left ("" for none)."""
        info = self.folder.info
        if info is not None and info["config_hash"] != self.identity:
            raise ValueError(
                f"{self.folder.path} holds the record of another fold (config hash {info['config_hash']}, "
                f"this one's {self.identity}): give this fold its own folder"
            )
        if info is None and rank_zero_only.rank == 0:
            self.folder.save_info(self._info())
            OmegaConf.save(self.cfg, self.folder.path / "config.yaml")
        if info is None:
            return ""
        done = [s.name or "fold" for s in self.stages if self.folder.stage(s.name).done]
        training = [s.name or "fold" for s in self.stages if self.folder.stage(s.name).checkpoint.is_file()]
        return (
            f"resumed ({'stages done: ' + ', '.join(done) + '; ' if done else ''}"
            f"{'from last.ckpt of ' + ', '.join(training) if training else 'no epoch saved'})"
        )

    def _info(self) -> dict:
        tags = {
            **self.tags,
            "mer.fold": self.fold,
            f"mer.{self.protocol.fold_setting}": self.fold,
            "mer.config_hash": self.identity,
            **({"mer.stages": ",".join(s.name for s in self.stages)} if self._staged else {}),
        }
        return {
            "fold": self.fold,
            "config_hash": self.identity,
            "tags": tags,
            "run_name": f"{method_name(self.tags)} {self.fold}",
            "stages": [
                {"name": s.name, "index": i, "run_name": f"{s.cfg.model.name} {self.fold} {s.name}".rstrip()}
                for i, s in enumerate(self.stages)
            ],
            "save_weights": bool(self.cfg.save_weights and self.cfg.fit),
            "store": self.tracker.store if self.tracker else None,
            "sweep_id": self.tracker.sweep_id if self.tracker else None,
            "sweep_run_id": self.tracker.sweep_run_id if self.tracker else None,
            "runs": {},
        }

    def _open_run(self, key: str, resumed: str, start) -> str | None:
        """The run of the fold (`key` "") or of a stage: the one an earlier attempt opened, reopened, or a new one."""
        runs = self.folder.info["runs"]
        previous = runs.get(key)
        if previous and self._store("reopening a run", self.tracker.reopen, previous, resumed or "resumed"):
            return previous
        run_id = self._store("starting a run", start)
        if run_id:
            self.folder.update_info(runs={**self.folder.info["runs"], key: run_id})
        return run_id

    def _store(self, what: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One exchange with the store, `call(*args, **kwargs)`; when it fails the fold goes on locally (reported once,
        kept for the end)."""
        try:
            return call(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - whatever the store raised, the fold's result stays local
            if self.store_failure is None:
                log.error(
                    "the store failed %s (%s: %s); the fold goes on and keeps its results in %s",
                    what,
                    type(error).__name__,
                    str(error).splitlines()[0] if str(error) else "",
                    self.folder.path,
                )
            self.store_failure = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            return None

    @property
    def _staged(self) -> bool:
        return bool(self.stages[0].name)

    def _run_stages(self) -> dict:
        held_out = self._held_out() if len(self.stages) > 1 else None
        scores: dict = {}
        for index, stage in enumerate(self.stages):
            record = self.folder.stage(stage.name)
            if record.done:  # finished by an earlier attempt: its weights hand over, its figures are in its record
                self.states[stage.name] = record.load_weights()
                set_random_state(torch.load(record.random_state, weights_only=True))
                log.info("fold %s: stage %s already done (%s)", self.fold, stage.name or "fold", record.path)
                scores = self.folder.result.scores() if stage.tested else {}
                continue
            run_id = self.run_id
            if self.tracker is not None and self._staged and self.run_id:
                run_id = self._open_run(
                    stage.name,
                    "resumed",
                    partial(
                        self.tracker.start_stage,
                        self.run_id,
                        stage.name,
                        index,
                        tags={"mer.fold": self.fold},
                        run_name=self.folder.info["stages"][index]["run_name"],
                    ),
                )
            try:
                scores = self._run_stage(stage, record, run_id, None if stage.tested else held_out)
            except BaseException as error:
                if self.tracker is not None and self._staged and run_id:
                    self._store("closing a stage's run", self.tracker.fail, run_id, error)
                raise
            if self.tracker is not None:
                self._store(
                    f"uploading stage {stage.name or 'fold'}", sync.upload, self.folder, self.tracker, "resumed"
                )
        return scores

    def _held_out(self) -> list[Clip]:
        """The clips the fold tests and validates on, which the stages before the last must not train on (nor on
        their subjects): what is chosen on validation subjects is then chosen on people no stage has seen."""
        split = self.protocol.fold_clips(self._tested_clips())
        return [*split.test, *split.val]

    def _tested_clips(self) -> list[Clip]:
        """The tested stage's clips, skipping under `datamodule.on_error=skip` what its data module will skip (a
        reader fault of one clip must not stop the fold before its data module would have skipped it)."""
        last = self.stages[-1]
        skipping: dict[str, str] | None = {} if last.cfg.datamodule.on_error == "skip" else None
        return self._dataset(last).clips(skipping)

    def _dataset(self, stage: Stage):
        dataset = instantiate(stage.cfg.dataset)
        return instantiate(self.cfg.label_control)(dataset) if stage.tested and self.cfg.label_control else dataset

    def _run_stage(self, stage: Stage, record: StageRecord, run_id: str | None, held_out: list[Clip] | None) -> dict:
        parts = self.build_stage(stage, record, run_id, held_out)
        if self.cfg.fit:
            parts.task.fit(parts.trainer, parts.datamodule, ckpt_path=self._resume_from(stage, record))
            if parts.started.epoch:
                log.info(
                    "fold %s: stage %s resumed at epoch %d from %s",
                    self.fold,
                    stage.name or "fold",
                    parts.started.epoch,
                    record.checkpoint,
                )
                if run_id:
                    self._store(
                        "tagging a run",
                        self.tracker.set_tags,
                        run_id,
                        {"mer.resumed_at_epoch": str(parts.started.epoch)},
                    )
        return self.test_and_record(stage, parts)

    def build_stage(
        self, stage: Stage, record: StageRecord, run_id: str | None, held_out: list[Clip] | None
    ) -> StageParts:
        """The stage's data (set up), net (handed over, loaded, frozen as configured), task and trainer (logging to
        `run_id` through the stage's `record`, keeping its last epoch there)."""
        cfg = stage.cfg
        datamodule: MERDataModule = instantiate(
            cfg.datamodule,
            dataset=self._dataset(stage),
            pipeline=instantiate(cfg.preprocessing),
            protocol=self.protocol,
            _partial_=True,
        )(held_out=held_out)  # the clips as they are (Hydra would make them configs)
        datamodule.setup("fit")
        net = instantiate(cfg.model.net)(
            in_chans=datamodule.num_channels(cfg.model.input_keys[0]), num_classes=datamodule.num_classes
        )
        hand_over(net, stage.init, self.states)
        if stage.tested and self.cfg.checkpoint:
            subject = datamodule.split.test[0].source_subject
            load_weights(net, str(self.cfg.checkpoint).format(fold=self.fold, subject=subject))
        task: Task = instantiate(
            cfg.task, net=net, input_keys=list(cfg.model.input_keys), class_names=datamodule.class_names
        )
        task.freeze(stage.freeze)
        start = module_digests(net)
        callbacks = [instantiate(c) for c in self.cfg.callbacks.values()] if stage.tested else []
        oracle = TestEveryEpoch() if stage.tested and self.protocol.record_oracle else None
        started = StartEpoch()
        keeping = (
            [
                ModelCheckpoint(dirpath=record.path, filename=record.checkpoint.stem, enable_version_counter=False),
                RandomState(),
            ]
            if self.cfg.last_checkpoint and self.cfg.fit
            else []
        )
        # No validation subjects, no validation loop (an empty one makes Lightning warn in every fold).
        no_validation = {} if datamodule.split.val else {"limit_val_batches": 0}
        # Lightning's progress bar by default on a terminal only (`trainer.enable_progress_bar: null`).
        bar = (
            {} if cfg.trainer.get("enable_progress_bar") is not None else {"enable_progress_bar": console.interactive()}
        )
        trainer: pl.Trainer = instantiate(
            cfg.trainer,
            logger=self.tracker.lightning_logger(run_id, record) if self.tracker else False,
            callbacks=[*callbacks, *([oracle] if oracle else []), started, *keeping],
            **({"enable_checkpointing": True} if keeping else {}),
            **no_validation,
            **bar,
        )
        return StageParts(record, datamodule, task, trainer, callbacks, oracle, started, start)

    def test_and_record(self, stage: Stage, parts: StageParts) -> dict:
        """Tests the (fitted) stage if it is the tested one, keeps its final weights and writes its record (rank 0)."""
        task, datamodule = parts.task, parts.datamodule
        if stage.tested:
            parts.trainer.test(
                task, datamodule=datamodule, verbose=False, ckpt_path=self.cfg.test_checkpoint if self.cfg.fit else None
            )
        self.states[stage.name] = {k: v.detach().cpu().clone() for k, v in task.net.state_dict().items()}
        if rank_zero_only.rank != 0:
            return self._scores(task.result(), datamodule) if stage.tested else {}
        digests = {"start": parts.start, "end": module_digests(task.net)}
        return self._record(stage, parts.record, task, datamodule, parts.callbacks, parts.oracle, digests)

    def _resume_from(self, stage: Stage, record: StageRecord) -> str | None:
        """The stage's last.ckpt when an earlier attempt left one that loads; else None (the stage starts over)."""
        if not record.checkpoint.is_file():
            return None
        try:
            torch.load(record.checkpoint, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - a checkpoint cut short by a kill is simply not resumed from
            log.warning(
                "fold %s: stage %s's %s cannot be read (%s: %s): the stage starts over",
                self.fold,
                stage.name or "fold",
                record.checkpoint,
                type(error).__name__,
                str(error).splitlines()[0],
            )
            return None
        return str(record.checkpoint)

    def _record(
        self,
        stage: Stage,
        record: StageRecord,
        task: Task,
        datamodule: MERDataModule,
        callbacks: list,
        oracle: TestEveryEpoch | None,
        digests: dict,
    ) -> dict:
        """Writes the stage's record (and, for the tested stage, the fold's result) to the fold's folder."""
        result = task.result()
        for callback in callbacks:  # analysis callbacks (figures, tables) leave what they made in `artifacts`
            result.artifacts.update(getattr(callback, "artifacts", {}))
        save_weights(task.net, record.weights)
        torch.save(random_state(), record.random_state)
        split = {part: [c.uid for c in getattr(datamodule.split, part)] for part in ("train", "val", "test")}
        record.write(result, split, digests)
        scores: dict = {}
        if stage.tested:
            repairs = {c.uid: list(c.repairs) for c in datamodule.clips if c.repairs}
            scores = self.folder.result.write(
                self._table(result, datamodule),
                datamodule.class_names,
                {"skipped_clips": datamodule.skipped, "repaired_clips": repairs},
                _epoch_table(oracle, datamodule) if oracle else None,
            )
            self.folder.update_info(trained_on="+".join(sorted({c.dataset for c in datamodule.split.train})))
            self.folder.result.mark_done()
        record.finish()
        return scores

    @staticmethod
    def _table(result: TaskResult, datamodule: MERDataModule) -> pd.DataFrame:
        if result.predictions is None:
            raise ValueError("the last stage of a fold must test: its task made no test predictions (task=classify?)")
        predictions = result.predictions
        return predictions_table(
            datamodule.clips,
            predictions["clip_id"].numpy(),
            predictions["label"].numpy(),
            predictions["probs"].float().numpy(),
            datamodule.class_names,
        )

    def _scores(self, result: TaskResult, datamodule: MERDataModule) -> dict:
        return fold_scores(self._table(result, datamodule), datamodule.class_names)


def _epoch_table(oracle: TestEveryEpoch, datamodule: MERDataModule) -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "epoch": epoch,
                    "clip": [datamodule.clips[i].uid for i in rows["clip_id"].tolist()],
                    "label": rows["label"].numpy(),
                    "prediction": rows["prediction"].numpy(),
                }
            )
            for epoch, rows in enumerate(oracle.epochs)
        ],
        ignore_index=True,
    )


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@reports_input_errors
def main(cfg: DictConfig) -> float:
    return run_fold(cfg)["uf1"]


if __name__ == "__main__":
    main()
