"""MLflow records: one run per fold (and per stage of a multi-stage fold), one summary run per sweep.

A sweep opens its summary run first (tagged `mer.run_type=summary`, holding the list of expected folds), each fold
run is its child (`mer.run_type=fold`, same `mer.sweep_id`), each stage of a multi-stage fold a child of the fold
run (`mer.run_type=stage`, `mer.stage`), and `summarize` rebuilds the summary from whatever fold runs finished,
naming the folds that are missing or failed. What is recorded is computed by `reports.py`; this module only writes
and reads the store. Entry points talk to MLflow through the `Tracker`'s methods alone.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunStatus
from pytorch_lightning.loggers import MLFlowLogger

from mer_lightning import metrics
from mer_lightning.lit.task import Artifact, TaskResult
from mer_lightning.reports import Summary, best_test_epoch, confusion_figure, fold_scores, summarize_predictions

log = logging.getLogger(__name__)
PREDICTIONS = "predictions.csv"
EPOCH_PREDICTIONS = "epoch_predictions.csv"
EXPECTED_FOLDS = "expected_folds.json"
CONFIG = "config.yaml"
# The tags that say what a run is, beside its sweep and fold.
DESCRIPTION_TAGS = ("mer.dataset", "mer.model", "mer.protocol", "mer.overrides")
WEIGHTS = "weights.pt"
WEIGHT_DIGESTS = "weight_digests.json"
SPLIT = "split.json"


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


class TrainedFold(NamedTuple):
    config_yaml: str
    weights: Path
    tags: dict[str, str]


class Tracker:
    """Writes fold and summary runs to one MLflow experiment."""

    def __init__(
        self,
        tracking_uri: str,
        experiment_name: str = "mer-lightning",
        artifact_location: str | None = None,
        sweep_id: str | None = None,
        sweep_run_id: str | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri)
        self.sweep_id = sweep_id
        self.sweep_run_id = sweep_run_id
        experiment = self.client.get_experiment_by_name(experiment_name)
        if experiment is None:
            if artifact_location:
                Path(artifact_location).mkdir(parents=True, exist_ok=True)
                artifact_location = Path(artifact_location).resolve().as_uri()
            self.experiment_id = self.client.create_experiment(experiment_name, artifact_location=artifact_location)
        else:
            self.experiment_id = experiment.experiment_id

    # fold and stage runs --------------------------------------------------------------------------------------

    def start_fold(self, tags: Mapping[str, str], config: Mapping, config_yaml: str, run_name: str) -> str:
        tags = {"mer.run_type": "fold", "mer.sweep_id": self.sweep_id or "", "mer.git_sha": git_sha(), **tags}
        if self.sweep_run_id:
            tags["mlflow.parentRunId"] = self.sweep_run_id
        run = self.client.create_run(self.experiment_id, tags=tags, run_name=run_name)
        run_id = run.info.run_id
        items = [Param(k, v) for k, v in flatten(config).items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start : start + 100])
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

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(run_id, key, value)

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
        self.client.log_text(run_id, table.to_csv(index=False), PREDICTIONS)
        self.client.log_batch(run_id, metrics=[Metric(f"test/{k}", float(v), 0, 0) for k, v in scores.items()])
        self.client.set_tag(run_id, "mer.class_names", json.dumps(list(class_names)))
        confusion = metrics.confusion(table["label"], table["prediction"], len(class_names))
        self._log_confusion(run_id, confusion, class_names, "fold confusion")
        # Logged even when zero, so runs can be filtered and compared on them.
        for name, listed in (("skipped_clips", skipped), ("repaired_clips", repairs or {})):
            self.client.log_metric(run_id, name, len(listed))
            self.client.set_tag(run_id, f"mer.{name}", str(len(listed)))
            if listed:
                self.client.log_dict(run_id, dict(listed), f"{name}.json")
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

    # sweeps ----------------------------------------------------------------------------------------------------

    def open_sweep(self, sweep_id: str, expected_folds: Sequence[str], tags: Mapping[str, str]) -> str:
        """The sweep's summary run, created before its folds so that they can name it as their parent."""
        run = self.client.create_run(
            self.experiment_id,
            tags={"mer.run_type": "summary", "mer.sweep_id": sweep_id, "mer.git_sha": git_sha(), **tags},
            run_name=f"summary {sweep_id}",
        )
        self.client.log_dict(run.info.run_id, list(expected_folds), EXPECTED_FOLDS)
        return run.info.run_id

    def _runs(self, sweep_id: str, run_type: str) -> list:
        return self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`mer.sweep_id` = '{sweep_id}' and tags.`mer.run_type` = '{run_type}'",
            order_by=["attributes.start_time ASC"],
            max_results=50000,
        )

    def _download(self, run_id: str, path: str) -> Path:
        directory = tempfile.mkdtemp(prefix="mer-")
        return Path(self.client.download_artifacts(run_id, path, directory))

    def _summary_run(self, sweep_id: str):
        summaries = self._runs(sweep_id, "summary")
        if not summaries:
            raise LookupError(f"no summary run for sweep {sweep_id!r} in experiment {self.experiment_id}")
        return summaries[-1]

    def expected_folds(self, sweep_id: str) -> list[str]:
        return json.loads(self._download(self._summary_run(sweep_id).info.run_id, EXPECTED_FOLDS).read_text())

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
        )

    def summarize(self, sweep_id: str) -> Summary:
        """Rebuilds the sweep's summary run from its fold runs (at the end of a sweep, or any time later)."""
        summary_run = self._summary_run(sweep_id)
        expected = json.loads(self._download(summary_run.info.run_id, EXPECTED_FOLDS).read_text())
        finished: dict[str, pd.DataFrame] = {}
        oracle: dict[str, pd.DataFrame] = {}
        failed: set[str] = set()
        class_names: list[str] = []
        for run in self._runs(sweep_id, "fold"):
            fold = run.data.tags.get("mer.fold", "")
            if run.info.status == "FINISHED":
                finished[fold] = pd.read_csv(self._download(run.info.run_id, PREDICTIONS))
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
        self._log_summary(summary_run.info.run_id, summary, table)
        return summary

    def _log_summary(self, run_id: str, summary: Summary, table: pd.DataFrame) -> None:
        values = {key: summary.pooled[key] for key in ("uf1", "uar", "accuracy", "average_accuracy", "overall_accuracy")}
        values["n_clips"] = summary.pooled["n"]
        values["n_folds_missing_or_failed"] = len(summary.missing_folds) + len(summary.failed_folds)
        if summary.oracle:
            values["oracle_uf1"], values["oracle_uar"] = summary.oracle["uf1"], summary.oracle["uar"]
        for name, row in summary.per_class.iterrows():
            values[f"f1_{name}"], values[f"recall_{name}"] = row["f1"], row["recall"]
        if len(summary.per_dataset) > 1:
            for name, row in summary.per_dataset.iterrows():
                values[f"{name}/uf1"], values[f"{name}/uar"] = row["uf1"], row["uar"]
        self.client.log_batch(run_id, metrics=[Metric(k, float(v), 0, 0) for k, v in values.items()])
        self.client.log_text(run_id, table.to_csv(index=False), "pooled_predictions.csv")
        self.client.log_text(run_id, summary.per_subject.to_csv(), "per_subject.csv")
        self.client.log_text(run_id, summary.per_dataset.to_csv(), "per_dataset.csv")
        self.client.log_text(run_id, summary.per_class.to_csv(), "per_class.csv")
        self.client.log_dict(
            run_id, {"missing": summary.missing_folds, "failed": summary.failed_folds}, "missing_or_failed_folds.json"
        )
        self.client.set_tag(run_id, "mer.folds_missing_or_failed", str(values["n_folds_missing_or_failed"]))
        self._log_confusion(run_id, summary.confusion, summary.class_names, "pooled confusion")
        self.end_run(run_id)

    def _log_confusion(self, run_id: str, confusion: np.ndarray, class_names: Sequence[str], title: str) -> None:
        self.client.log_dict(
            run_id,
            {"classes": list(class_names), "matrix": confusion.tolist(), "row_rates": metrics.row_rates(confusion).tolist()},
            "confusion.json",
        )
        self.client.log_figure(run_id, confusion_figure(confusion, class_names, title), "confusion.png")
