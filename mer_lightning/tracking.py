"""MLflow records: one run per fold (and per stage of a multi-stage fold), one summary run per sweep.

A sweep opens its summary run first (tagged `mer.run_type=summary`, holding the list of expected folds), each fold
run is its child (`mer.run_type=fold`, same `mer.sweep_id`), each stage of a multi-stage fold a child of the fold
run (`mer.run_type=stage`, `mer.stage`), and `summarize` rebuilds the summary from whatever fold runs finished,
naming the folds that are missing or failed. What is recorded is computed by `reports.py`; this module only writes
and reads the store. Entry points talk to MLflow through the `Tracker`'s methods alone.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException
from pytorch_lightning.loggers import MLFlowLogger

from mer_lightning import metrics, store
from mer_lightning.lit.task import Artifact, TaskResult
from mer_lightning.reports import (
    POOLED,
    Summary,
    best_test_epoch,
    confusion_figure,
    dataset_figure,
    fold_scores,
    loss_figure,
    subject_figure,
    summarize_predictions,
    transfer_figure,
)

log = logging.getLogger(__name__)
PREDICTIONS = "predictions.csv"
POOLED_PREDICTIONS = "pooled_predictions.csv"
EPOCH_PREDICTIONS = "epoch_predictions.csv"
EXPECTED_FOLDS = "expected_folds.json"
CONFIG = "config.yaml"
# Opens the experiment in the MLflow UI's training-runs view (MLflow 3 guesses, and may show the GenAI one).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
# The tags that say what a run is, beside its sweep and fold.
DESCRIPTION_TAGS = ("mer.dataset", "mer.model", "mer.protocol", "mer.overrides")
WEIGHTS = "weights.pt"
WEIGHT_DIGESTS = "weight_digests.json"
SPLIT = "split.json"
# Texts this process wrote as artifacts, by (tracking URI, run id, path): a sweep's summary reads its folds'
# predictions from here rather than download what the process itself recorded.
_WRITTEN: dict[tuple[str, str, str], str] = {}


@functools.cache
def git_sha() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def flatten(config: Mapping, prefix: str = "") -> dict[str, str]:
    """Nested config as `a.b.c -> value` params (MLflow keeps 6000 characters of a value)."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)[:6000]
    return flat


def sweep_title(tags: Mapping[str, str], folds: int, sweep_id: str) -> str:
    """A summary run's name, what a person scans the run list for: `resnet18 on casme2, loso (26 folds) SWEEP_ID`
    (a re-test says which sweep it re-tests)."""
    what = f"{tags.get('mer.model', '?')} on {tags.get('mer.dataset', '?')}, {tags.get('mer.protocol', '?')}"
    retest = f", re-test of {tags['mer.from_sweep']}" if tags.get("mer.from_sweep") else ""
    return f"{what} ({folds} fold{'s' if folds != 1 else ''}{retest}) {sweep_id}"


def comparison_title(name_a: str, name_b: str, sweep_a: str, sweep_b: str) -> str:
    """A comparison run's name from the two summary runs' names: what each sweep ran (`compare: ststnet on synthetic,
    loso vs resnet18 on synthetic, loso`), with the sweep ids when that alone does not tell them apart (two seeds).
    It starts with `compare:` so that the UI's run list, which cuts names short, does not show it as a sweep."""
    what_a, what_b = (name.split(" (")[0] for name in (name_a, name_b))
    return f"compare: {what_a} vs {what_b}" + (f" ({sweep_a} vs {sweep_b})" if what_a == what_b else "")


def metric_name(text: str) -> str:
    """`text` with what MLflow refuses in a metric name replaced by `_` (it takes letters, digits, `_-. /:`)."""
    return re.sub(r"[^\w\-. /:]", "_", text)


def open_in_training_view(tracking_uri: str, experiment_name: str = store.EXPERIMENT) -> str | None:
    """Tags every experiment of an existing store to open in the UI's training-runs view (experiments written before
    `EXPERIMENT_KIND` existed would open in the GenAI one); returns the id of `experiment_name`, if there."""
    client = MlflowClient(tracking_uri)
    for experiment in client.search_experiments():
        for key, value in EXPERIMENT_KIND.items():
            if experiment.tags.get(key) != value:
                client.set_experiment_tag(experiment.experiment_id, key, value)
    found = client.get_experiment_by_name(experiment_name)
    return found.experiment_id if found else None


class SweepProgress(NamedTuple):
    done: int  # fold runs of the sweep that finished
    total: int  # folds the sweep expects
    elapsed: float  # seconds since the sweep opened


class TrainedFold(NamedTuple):
    config_yaml: str
    weights: Path
    tags: dict[str, str]
    class_names: list[str]


class Tracker:
    """Writes fold and summary runs to one MLflow experiment (created on first use, unless `create=False`: readers
    such as `mer-summarize` refuse a store or experiment that is not there rather than leave an empty one)."""

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment_name: str = store.EXPERIMENT,
        artifact_location: str | None = None,
        sweep_id: str | None = None,
        sweep_run_id: str | None = None,
        create: bool = True,
    ) -> None:
        self.tracking_uri = store.tracking_uri(tracking_uri)
        if not create:
            store.check_exists(self.tracking_uri)
        self.client = MlflowClient(self.tracking_uri)
        self.sweep_id = sweep_id
        self.sweep_run_id = sweep_run_id
        self.experiment_name = experiment_name
        experiment = self.client.get_experiment_by_name(experiment_name)
        if experiment is None:
            if not create:
                known = [e.name for e in self.client.search_experiments()]
                raise LookupError(f"no experiment {experiment_name!r} in {store.describe(self.tracking_uri)}; "
                                  f"experiments there: {known}")
            self.experiment_id = self._create_experiment(experiment_name, artifact_location)
        else:
            self.experiment_id = experiment.experiment_id

    def _create_experiment(self, name: str, artifact_location: str | None) -> str:
        if artifact_location is None and store.sqlite_path(self.tracking_uri) is not None:
            artifact_location = str(store.sqlite_path(self.tracking_uri).parent / "artifacts")
        if artifact_location:
            Path(artifact_location).mkdir(parents=True, exist_ok=True)
            artifact_location = Path(artifact_location).resolve().as_uri()
        return self.client.create_experiment(name, artifact_location=artifact_location, tags=EXPERIMENT_KIND)

    def describe(self) -> str:
        return store.describe(self.tracking_uri)

    # fold and stage runs --------------------------------------------------------------------------------------

    def start_fold(self, tags: Mapping[str, str], config: Mapping, config_yaml: str, run_name: str) -> str:
        tags = {"mer.run_type": "fold", "mer.sweep_id": self.sweep_id or "", "mer.git_sha": git_sha(), **tags}
        if self.sweep_run_id:
            tags["mlflow.parentRunId"] = self.sweep_run_id
        run = self.client.create_run(self.experiment_id, tags=tags, run_name=run_name)
        run_id = run.info.run_id
        self.log_params(run_id, config)
        self.log_dataset(run_id, tags.get("mer.dataset"), config)
        self.client.log_text(run_id, config_yaml, CONFIG)
        return run_id

    def start_stage(self, fold_run_id: str, stage: str, index: int, tags: Mapping[str, str], run_name: str) -> str:
        """A stage of a multi-stage fold: a child run of the fold run, tagged `mer.stage` and `mer.stage_index`."""
        tags = {"mer.run_type": "stage", "mer.sweep_id": self.sweep_id or "", "mer.stage": stage,
                "mer.stage_index": str(index), "mlflow.parentRunId": fold_run_id, **tags}
        return self.client.create_run(self.experiment_id, tags=tags, run_name=run_name).info.run_id

    def lightning_logger(self, run_id: str) -> MLFlowLogger:
        # Unbuffered, MLflow's async logging thread polls its queue with a 1 s timeout, and each termination of the
        # fold's run (Lightning's logger, then ours) joins that thread: about 2 s idle per fold. Buffered, the thread
        # waits on its stop event (woken at once) and writes each second's metrics as one batch.
        os.environ.setdefault("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", "1")
        return MLFlowLogger(tracking_uri=self.tracking_uri, run_id=run_id, synchronous=False)

    def log_series(self, run_id: str, series: Mapping[str, Sequence[tuple[int, float]]]) -> None:
        """Figures per step (name -> (step, value) pairs), written in batches: what a logger streams during training,
        for training that ran without one (folds side by side)."""
        now = int(time.time() * 1000)
        items = [Metric(name, float(value), now, step) for name, points in series.items() for step, value in points]
        for start in range(0, len(items), 1000):
            self.client.log_batch(run_id, metrics=items[start : start + 1000])

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        if tags:
            self.client.log_batch(run_id, tags=[RunTag(key, str(value)) for key, value in tags.items()])

    def record_stage(
        self,
        run_id: str,
        result: TaskResult,
        split: Mapping[str, Sequence[str]],
        weights: Path | None,
        digests: Mapping[str, Mapping[str, str]],
    ) -> None:
        """What a stage leaves whatever its task: the figures it measured at its end (`final/<name>`), its artifacts,
        the clips it trained, validated and tested on (`split.json`, by uid), its net's final weights (the file, under
        its own name: `weights.pt`) and the digests of its modules at start and end."""
        if result.metrics:
            finals = [Metric(f"final/{k}", float(v), 0, 0) for k, v in result.metrics.items()]
            self.client.log_batch(run_id, metrics=finals)
        self.log_artifacts(run_id, result.artifacts)
        self.client.log_dict(run_id, {part: list(uids) for part, uids in split.items()}, SPLIT)
        if weights is not None:
            self.client.log_artifact(run_id, str(weights))
        self.client.log_dict(run_id, {k: dict(v) for k, v in digests.items()}, WEIGHT_DIGESTS)

    def record_fold(
        self,
        run_id: str,
        table: pd.DataFrame,
        class_names: Sequence[str],
        skipped: Mapping[str, str],
        repairs: Mapping[str, list[str]] | None = None,
    ) -> dict:
        """Logs the fold's predictions, test figures (`test/uf1`, ...), confusion matrix, skip and repair counts and
        lists (`repairs`: the reader's repairs of the fold's clips, by clip uid); returns its test figures."""
        scores = fold_scores(table, class_names)
        self._log_text(run_id, table.to_csv(index=False), PREDICTIONS)
        figures = [Metric(f"test/{k}", float(v), 0, 0) for k, v in scores.items()]
        tags = [RunTag("mer.class_names", json.dumps(list(class_names)))]
        # Logged even when zero, so runs can be filtered and compared on them.
        for name, listed in (("skipped_clips", skipped), ("repaired_clips", repairs or {})):
            figures.append(Metric(name, len(listed), int(time.time() * 1000), 0))
            tags.append(RunTag(f"mer.{name}", str(len(listed))))
            if listed:
                self.client.log_dict(run_id, dict(listed), f"{name}.json")
        self.client.log_batch(run_id, metrics=figures, tags=tags)
        confusion = metrics.confusion(table["label"], table["prediction"], len(class_names))
        self._log_confusion(run_id, confusion, class_names, "fold confusion")
        return scores

    def log_artifacts(self, run_id: str, artifacts: Mapping[str, Artifact]) -> None:
        """Artifacts a task or callback rendered (path -> figure, text, or JSON-able data), logged under their paths."""
        for path, artifact in artifacts.items():
            if isinstance(artifact, Figure):
                self.client.log_figure(run_id, artifact, path)
            elif isinstance(artifact, str):
                self.client.log_text(run_id, artifact, path)
            else:
                self.client.log_dict(run_id, artifact, path)

    def record_epoch_predictions(self, run_id: str, table: pd.DataFrame) -> None:
        """Per-epoch test predictions, kept for the oracle audit (`protocol.record_oracle=true`)."""
        self.client.log_text(run_id, table.to_csv(index=False), EPOCH_PREDICTIONS)
        self.client.set_tag(run_id, "mer.record_oracle", "true")

    def end_run(self, run_id: str) -> None:
        self.client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))

    def fail(self, run_id: str, error: BaseException) -> None:
        """Ends a run that did not complete, with the error that stopped it (`mer.error`)."""
        self.client.set_tag(run_id, "mer.error", f"{type(error).__name__}: {error}"[:5000])
        self.client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))

    def fail_fold(self, fold: str, error: BaseException) -> None:
        """A fold of this sweep whose job ended without closing its runs (SLURM cancelled it, or ended it at its time
        limit) gets its open fold and stage runs closed as FAILED with the error, or a failed fold run made if it
        never opened one: the summary then lists the fold as failed, not missing, and the run says why."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`mer.sweep_id` = '{self.sweep_id}' and tags.`mer.fold` = '{fold}'",
        )
        open_runs = [run.info.run_id for run in runs if run.info.status == "RUNNING"]
        if not any(run.data.tags.get("mer.run_type") == "fold" for run in runs):
            open_runs.append(self.start_fold({"mer.fold": fold}, config={}, config_yaml="", run_name=fold))
        for run_id in open_runs:
            self.fail(run_id, error)

    # sweeps ----------------------------------------------------------------------------------------------------

    def open_sweep(
        self, sweep_id: str, expected_folds: Sequence[str], tags: Mapping[str, str], config: Mapping | None = None
    ) -> str:
        """The sweep's summary run, created before its folds so that they can name it as their parent; named after
        what it runs (`ststnet on synthetic, loso (8 folds) 20261129-...`) and holding the sweep's composed `config`
        as params, so that runs can be searched and compared on any setting."""
        run = self.client.create_run(
            self.experiment_id,
            tags={"mer.run_type": "summary", "mer.sweep_id": sweep_id, "mer.git_sha": git_sha(),
                  "mer.n_folds": str(len(expected_folds)), **tags},
            run_name=sweep_title(tags, len(expected_folds), sweep_id),
        )
        self.log_params(run.info.run_id, config or {})
        self.log_dataset(run.info.run_id, tags.get("mer.dataset"), config or {})
        self._log_text(run.info.run_id, json.dumps(list(expected_folds)), EXPECTED_FOLDS)
        return run.info.run_id

    def log_dataset(self, run_id: str, name: str | None, config: Mapping) -> None:
        """The dataset a run used, as MLflow's dataset input: the UI's run list shows it in its Dataset column, and
        two runs on differently configured copies of one dataset show different digests (of the `dataset.` settings)."""
        if not name:
            return
        settings = {k: v for k, v in flatten(config).items() if k.startswith("dataset.")}
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
        root = settings.get("dataset.root", "None")  # flattened: a null root reads "None"
        source = "generated" if root in ("None", "") else root
        self.client.log_inputs(run_id, datasets=[DatasetInput(Dataset(name, digest, "local", source))])

    def log_params(self, run_id: str, config: Mapping) -> None:
        """A nested config as flat params (`trainer.max_epochs`), in batches of 100."""
        items = [Param(k, v) for k, v in flatten(config).items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start : start + 100])

    def sweep_params(self, sweep_id: str) -> dict[str, str]:
        """The params of a sweep's summary run (what a re-test of it was trained with)."""
        return dict(self._summary_run(sweep_id).data.params)

    def sweep_progress(self) -> SweepProgress | None:
        """How far this fold's sweep is (None outside a sweep): for the "fold k/n" lines."""
        if not self.sweep_run_id:
            return None
        summary = self.client.get_run(self.sweep_run_id)
        done = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`mer.sweep_id` = '{self.sweep_id}' and tags.`mer.run_type` = 'fold' "
                          "and attributes.status = 'FINISHED'",
            max_results=50000,
        )
        total = int(summary.data.tags.get("mer.n_folds", 0)) or len(done)
        return SweepProgress(len(done), total, time.time() - summary.info.start_time / 1000)

    def _runs(self, sweep_id: str, run_type: str) -> list:
        return self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`mer.sweep_id` = '{sweep_id}' and tags.`mer.run_type` = '{run_type}'",
            order_by=["attributes.start_time ASC"],
            max_results=50000,
        )

    def _log_text(self, run_id: str, text: str, path: str) -> None:
        self.client.log_text(run_id, text, path)
        _WRITTEN[(self.tracking_uri, run_id, path)] = text

    def _read_text(self, run_id: str, path: str) -> str:
        """An artifact's text: as this process wrote it, or downloaded."""
        written = _WRITTEN.get((self.tracking_uri, run_id, path))
        return written if written is not None else self._download(run_id, path).read_text()

    def _download(self, run_id: str, path: str) -> Path:
        directory = tempfile.mkdtemp(prefix="mer-")
        return Path(self.client.download_artifacts(run_id, path, directory))

    def _summary_run(self, sweep_id: str):
        summaries = self._runs(sweep_id, "summary")
        if not summaries:
            known = "\n".join(f"  {sweep}  {name}" for sweep, name in self.sweeps()[:20]) or "  (none)"
            raise LookupError(f"no sweep {sweep_id!r} in experiment {self.experiment_name!r} of "
                              f"{self.describe()}; its latest sweeps:\n{known}")
        return summaries[-1]

    def sweeps(self) -> list[tuple[str, str]]:
        """(sweep id, run name) of every sweep in the experiment, newest first."""
        runs = self.client.search_runs(
            [self.experiment_id], filter_string="tags.`mer.run_type` = 'summary'",
            order_by=["attributes.start_time DESC"], max_results=50000,
        )
        return [(r.data.tags.get("mer.sweep_id", ""), r.info.run_name) for r in runs]

    def expected_folds(self, sweep_id: str) -> list[str]:
        return json.loads(self._read_text(self._summary_run(sweep_id).info.run_id, EXPECTED_FOLDS))

    def sweep_tags(self, sweep_id: str) -> dict[str, str]:
        """What a sweep's summary run says it was (`mer.dataset`, `mer.model`, `mer.protocol`, `mer.overrides`)."""
        tags = self._summary_run(sweep_id).data.tags
        return {key: tags[key] for key in DESCRIPTION_TAGS if key in tags}

    def multirun_sweeps(self, multirun: str) -> list[str]:
        """The sweeps one `mer-train -m` started (one per combination of its other overrides), in start order."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`mer.multirun` = '{multirun}' and tags.`mer.run_type` = 'summary'",
            order_by=["attributes.start_time ASC"],
            max_results=50000,
        )
        return [run.data.tags["mer.sweep_id"] for run in runs]

    def summary_figures(self, sweep_id: str) -> tuple[dict[str, float], str]:
        """A sweep's pooled figures as its summary run holds them, and the overrides it ran with."""
        run = self._summary_run(sweep_id)
        return dict(run.data.metrics), run.data.tags.get("mer.overrides", "")

    def trained_fold(self, sweep_id: str, fold: str) -> TrainedFold:
        """A finished fold of the sweep, to test it again: its composed config (YAML text), the weights of the net
        it tested (its last stage's), downloaded, and the tags that describe it."""
        runs = [r for r in self._runs(sweep_id, "fold") if r.data.tags.get("mer.fold") == fold]
        finished = [r for r in runs if r.info.status == "FINISHED"]
        if not finished:
            states = ", ".join(r.info.status for r in runs) or "no run"
            raise LookupError(f"sweep {sweep_id!r} has no finished run of fold {fold!r} ({states})")
        run = finished[-1]
        weights_run = run.data.tags.get("mer.weights_run")
        if weights_run is None:
            raise LookupError(f"sweep {sweep_id!r}, fold {fold!r}: no weights were saved (save_weights=false)")
        return TrainedFold(
            self._download(run.info.run_id, CONFIG).read_text(),
            self._download(weights_run, WEIGHTS),
            {key: run.data.tags[key] for key in DESCRIPTION_TAGS if key in run.data.tags},
            json.loads(run.data.tags.get("mer.class_names", "[]")),
        )

    def pooled_predictions(self, sweep_id: str) -> tuple[pd.DataFrame, str]:
        """A sweep's pooled predictions, as its summary run holds them, and the summary run's name."""
        run = self._summary_run(sweep_id)
        try:
            table = pd.read_csv(self._download(run.info.run_id, POOLED_PREDICTIONS))
        except (OSError, MlflowException) as error:
            raise LookupError(f"sweep {sweep_id!r} has no pooled predictions yet (status {run.info.status}): "
                              f"run mer-summarize {sweep_id}") from error
        return table, run.info.run_name

    def record_comparison(self, sweep_a: str, sweep_b: str, name: str, figures: Mapping[str, float],
                          report: Mapping) -> str:
        """A comparison of two sweeps, as its own run (`mer.run_type=comparison`): the figures, and `comparison.json`."""
        run = self.client.create_run(
            self.experiment_id, run_name=name,
            tags={"mer.run_type": "comparison", "mer.sweep_a": sweep_a, "mer.sweep_b": sweep_b, "mer.git_sha": git_sha()},
        )
        self.client.log_batch(run.info.run_id, metrics=[Metric(k, float(v), 0, 0) for k, v in figures.items()])
        self.client.log_dict(run.info.run_id, dict(report), "comparison.json")
        self.end_run(run.info.run_id)
        return run.info.run_id

    def fold_names(self, sweep_id: str) -> list[str]:
        """The folds of a sweep that finished, in order."""
        return sorted({r.data.tags.get("mer.fold", "") for r in self._runs(sweep_id, "fold")
                       if r.info.status == "FINISHED"})

    def summarize(self, sweep_id: str) -> Summary:
        """Rebuilds the sweep's summary run from its fold runs (at the end of a sweep, or any time later)."""
        summary_run = self._summary_run(sweep_id)
        expected = json.loads(self._read_text(summary_run.info.run_id, EXPECTED_FOLDS))
        finished: dict[str, pd.DataFrame] = {}
        losses: dict[str, list[float]] = {}
        oracle: dict[str, pd.DataFrame] = {}
        failed: set[str] = set()
        class_names: list[str] = []
        for run in self._runs(sweep_id, "fold"):
            fold = run.data.tags.get("mer.fold", "")
            if run.info.status == "FINISHED":
                finished[fold] = pd.read_csv(io.StringIO(self._read_text(run.info.run_id, PREDICTIONS)))
                if "mer.trained_on" in run.data.tags:
                    finished[fold]["trained_on"] = run.data.tags["mer.trained_on"]
                losses[fold] = self._losses(run)
                class_names = json.loads(run.data.tags["mer.class_names"])
                if run.data.tags.get("mer.record_oracle") == "true":
                    oracle[fold] = best_test_epoch(pd.read_csv(self._download(run.info.run_id, EPOCH_PREDICTIONS)))
                failed.discard(fold)
            elif fold not in finished:
                failed.add(fold)
        if not finished:
            raise LookupError(f"sweep {sweep_id!r}: no fold finished (failed: {sorted(failed)})")
        table = pd.concat([finished[f] for f in sorted(finished)], ignore_index=True)
        summary = summarize_predictions(table, class_names)
        summary.failed_folds = sorted(failed)
        summary.missing_folds = sorted(set(expected) - set(finished) - failed)
        summary.run_id = summary_run.info.run_id
        if oracle and set(oracle) == set(finished):
            best = pd.concat(oracle.values(), ignore_index=True)
            summary.oracle = metrics.scores(best["label"], best["prediction"], len(class_names))
        self._log_summary(summary_run.info.run_id, summary, table, losses)
        return summary

    def _losses(self, fold_run) -> list[float]:
        """The training loss by epoch of the stage a fold tested (the fold run itself when it has one stage)."""
        run_id = fold_run.data.tags.get("mer.tested_run", fold_run.info.run_id)
        history = sorted(self.client.get_metric_history(run_id, "train/loss"), key=lambda m: (m.step, m.timestamp))
        return [m.value for m in history]

    def _log_summary(self, run_id: str, summary: Summary, table: pd.DataFrame, losses: dict[str, list[float]]) -> None:
        values = {key: summary.pooled[key] for key in ("uf1", "uar", "accuracy", "average_accuracy", "overall_accuracy")}
        for name, (low, high) in summary.intervals.items():
            values[f"{name}_ci_low"], values[f"{name}_ci_high"] = low, high
        values["n_clips"] = summary.pooled["n"]
        values["n_folds_missing_or_failed"] = len(summary.missing_folds) + len(summary.failed_folds)
        if summary.oracle:
            values["oracle_uf1"], values["oracle_uar"] = summary.oracle["uf1"], summary.oracle["uar"]
        for name, row in summary.per_class.iterrows():
            values[f"f1_{name}"], values[f"recall_{name}"] = row["f1"], row["recall"]
        if len(summary.per_dataset) > 1:
            for name, row in summary.per_dataset.drop(index=POOLED).iterrows():
                values.update({f"{name}/{key}": row[key] for key in ("uf1", "uar", "accuracy")})
        for subject, row in summary.per_subject.iterrows():  # grouped by the UI into one section per figure
            for name in ("uf1", "uar", "accuracy"):
                values[f"subject_{name}/{metric_name(str(subject))}"] = row[name]
        items = [Metric(k, float(v), 0, 0) for k, v in values.items()]
        for start in range(0, len(items), 1000):  # MLflow takes at most 1000 metrics a batch
            self.client.log_batch(run_id, metrics=items[start : start + 1000])
        self.client.log_text(run_id, table.to_csv(index=False), POOLED_PREDICTIONS)
        self.client.log_text(run_id, summary.per_subject.to_csv(), "per_subject.csv")
        self.client.log_text(run_id, summary.per_dataset.to_csv(), "per_dataset.csv")
        self.client.log_text(run_id, summary.per_class.to_csv(), "per_class.csv")
        self.client.log_dict(
            run_id, {"missing": summary.missing_folds, "failed": summary.failed_folds}, "missing_or_failed_folds.json"
        )
        self.client.set_tag(run_id, "mer.folds_missing_or_failed", str(values["n_folds_missing_or_failed"]))
        self._log_confusion(run_id, summary.confusion, summary.class_names, "pooled confusion")
        figures = {"per_subject.png": subject_figure(summary.per_subject)}
        if len(summary.per_dataset) > 1:
            figures["per_dataset.png"] = dataset_figure(summary.per_dataset)
        if any(losses.values()):
            figures["training_loss.png"] = loss_figure(losses)
        if len(summary.transfer) > 1:
            self.client.log_text(run_id, summary.transfer.to_csv(), "transfer_matrix.csv")
            figures["transfer_matrix.png"] = transfer_figure(summary.transfer)
        self.log_artifacts(run_id, figures)
        self.end_run(run_id)

    def _log_confusion(self, run_id: str, confusion: np.ndarray, class_names: Sequence[str], title: str) -> None:
        self.client.log_dict(
            run_id,
            {"classes": list(class_names), "matrix": confusion.tolist(), "row_rates": metrics.row_rates(confusion).tolist()},
            "confusion.json",
        )
        self.client.log_figure(run_id, confusion_figure(confusion, class_names, title), "confusion.png")
