"""MLflow records: one run per fold (and per stage of a multi-stage fold), one summary run per sweep.

A sweep opens its summary run first (tagged `mer.run_type=summary`, holding the list of expected folds), each fold
run is its child (`mer.run_type=fold`, same `mer.sweep_id`), each stage of a multi-stage fold a child of the fold
run (`mer.run_type=stage`, `mer.stage`), and `summarize` rebuilds the summary from whatever fold runs finished,
naming the folds that are missing or failed. A fold writes its results to its own folder first (records.py); what
this module stores is uploaded from there, so a store that fails mid-fold loses nothing (`mer-sync` uploads it later).
Runs tell the truth: a run ends FINISHED only when its record is whole, KILLED (naming the signal) when a signal
stopped it, FAILED with the error otherwise; a summary is FINISHED only when every expected fold finished, and
carries no headline figure when one did not. What is recorded is computed by `reports.py`; this module only writes
and reads the store. Entry points talk to MLflow through the `Tracker`'s methods alone.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import re
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
from matplotlib.figure import Figure
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException
from pytorch_lightning.loggers import Logger
from pytorch_lightning.utilities.rank_zero import rank_zero_only

from mer_lightning import metrics, store
from mer_lightning.interrupts import stop_reason
from mer_lightning.lit.task import Artifact
from mer_lightning.processes import alive, this_process
from mer_lightning.records import FoldResult, StageRecord
from mer_lightning.reports import (
    POOLED,
    Summary,
    best_test_epoch,
    confusion_figure,
    confusion_record,
    dataset_figure,
    loss_figure,
    subject_figure,
    summarize_predictions,
    transfer_figure,
)
from mer_lightning.store_check import StoreError, check_store, short_http_retries

log = logging.getLogger(__name__)
PREDICTIONS = "predictions.csv"
POOLED_PREDICTIONS = "pooled_predictions.csv"
EPOCH_PREDICTIONS = "epoch_predictions.csv"
EXPECTED_FOLDS = "expected_folds.json"
CONFIG = "config.yaml"
# Opens the experiment in the MLflow UI's training-runs view (MLflow 3 guesses, and may show the GenAI one).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
# The tags that say what a run is, beside its sweep and fold.
DESCRIPTION_TAGS = ("mer.experiment", "mer.dataset", "mer.model", "mer.protocol", "mer.overrides")
WEIGHTS = "weights.pt"
WEIGHT_DIGESTS = "weight_digests.json"
SPLIT = "split.json"
# Texts this process wrote as artifacts, by (tracking URI, run id, path): a sweep's summary reads its folds'
# predictions from here rather than download what the process itself recorded.
_WRITTEN: dict[tuple[str, str, str], str] = {}
# Tags of a run's last stop, cleared when it is resumed.
STOP_TAGS = ("mer.error", "mer.signal")


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


def description_tags(choices: Mapping[str, Any], model: str) -> dict[str, str]:
    """What a fold or sweep ran, from its Hydra job's config-group choices: `mer.dataset`, `mer.model` (the model
    config's name), `mer.protocol`, and `mer.experiment` when an experiment was chosen."""
    tags = {
        "mer.dataset": str(choices.get("dataset")),
        "mer.model": model,
        "mer.protocol": str(choices.get("protocol")),
    }
    return {**({"mer.experiment": str(choices["experiment"])} if choices.get("experiment") else {}), **tags}


def method_name(tags: Mapping[str, str]) -> str:
    """What a run list should show first: the experiment when one was chosen (`metammfnet_micro`; its model,
    `prototypes`, is shared by three), else the model."""
    return tags.get("mer.experiment") or tags.get("mer.model", "?")


def sweep_title(tags: Mapping[str, str], folds: int, sweep_id: str) -> str:
    """A summary run's name, what a person scans the run list for: `resnet18 on casme2, loso (26 folds) SWEEP_ID`,
    `metammfnet_micro on synthetic, loso (8 folds) SWEEP_ID` (a re-test says which sweep it re-tests)."""
    what = f"{method_name(tags)} on {tags.get('mer.dataset', '?')}, {tags.get('mer.protocol', '?')}"
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


class SweepRun(NamedTuple):
    """A sweep found in the store: its id, its summary run and the multirun it was first run in."""

    sweep_id: str
    run_id: str
    multirun: str


class StageLogger(Logger):
    """Lightning's logger of a stage: every figure goes to the stage's `epochs.csv` first, then to its run (in
    batches, at most once a second). A store that fails is reported once and not written to again by this logger;
    the stage's upload at its end sends whatever the run missed."""

    def __init__(self, client: MlflowClient, run_id: str | None, record: StageRecord, every_s: float = 1.0) -> None:
        super().__init__()
        self.client = client
        self.run_id = run_id
        self.record = record
        self.every_s = every_s
        self.pending: list[Metric] = []
        self.flushed = time.monotonic()
        self.failure: str | None = None

    @property
    def name(self) -> str:
        return "mer"

    @property
    def version(self) -> str:
        return self.run_id or "local"

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """The fold's whole config is its run's params already (logged when the run starts)."""

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        now, step = int(time.time() * 1000), step or 0
        rows = [(re.sub("[^a-zA-Z0-9_/. -]+", "", key), float(value), step, now) for key, value in metrics.items()]
        self.record.append_epochs(rows)
        self.pending += [Metric(key, value, now, step) for key, value, step, now in rows]
        if time.monotonic() - self.flushed >= self.every_s:
            self.flush()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        self.flush()

    def flush(self) -> None:
        self.flushed = time.monotonic()
        if not self.pending or self.run_id is None or self.failure is not None:
            return
        try:
            for start in range(0, len(self.pending), 1000):
                self.client.log_batch(self.run_id, metrics=self.pending[start : start + 1000])
        except Exception as error:  # noqa: BLE001 - whatever the store raised, training goes on, logged locally
            self.failure = f"{type(error).__name__}: {error}"
            log.warning(
                "the store failed while logging training figures (%s); training goes on, and %s keeps "
                "them for the stage's upload",
                self.failure.splitlines()[0],
                self.record.epochs,
            )
        self.pending = []


class Tracker:
    """Writes fold and summary runs to one MLflow experiment (created on first use, unless `create=False`: readers
    such as `mer-summarize` refuse a store or experiment that is not there rather than leave an empty one). The store
    is checked first (`store_check`): a store that cannot be used fails here, within seconds, naming the setting and
    the cause."""

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment_name: str = store.EXPERIMENT,
        artifact_location: str | None = None,
        sweep_id: str | None = None,
        sweep_run_id: str | None = None,
        create: bool = True,
    ) -> None:
        short_http_retries()
        self.tracking_uri = store.tracking_uri(tracking_uri)
        if not create:
            store.check_exists(self.tracking_uri)
        check_store(self.tracking_uri, artifact_location)
        self.client = MlflowClient(self.tracking_uri)
        self.sweep_id = sweep_id
        self.sweep_run_id = sweep_run_id
        self.experiment_name = experiment_name
        self.artifact_location = artifact_location
        try:
            experiment = self.client.get_experiment_by_name(experiment_name)
            if experiment is None:
                if not create:
                    known = [e.name for e in self.client.search_experiments()]
                    raise LookupError(
                        f"no experiment {experiment_name!r} in {store.describe(self.tracking_uri)}; "
                        f"experiments there: {known}"
                    )
                self.experiment_id = self._create_experiment(experiment_name, artifact_location)
            else:
                self.experiment_id = experiment.experiment_id
        except MlflowException as error:
            raise StoreError(
                f"logger.tracking_uri={self.tracking_uri}: experiment {experiment_name!r} cannot be read "
                f"or made: {error.message.splitlines()[0]}"
            ) from None

    @property
    def store(self) -> dict[str, str | None]:
        """The settings that reach this store again (kept in a fold's folder, for `mer-sync`)."""
        return {
            "tracking_uri": self.tracking_uri,
            "experiment_name": self.experiment_name,
            "artifact_location": self.artifact_location,
        }

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
        tags = {
            "mer.run_type": "fold",
            "mer.sweep_id": self.sweep_id or "",
            "mer.git_sha": git_sha(),
            "mer.process": this_process(),
            **tags,
        }
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
        tags = {
            "mer.run_type": "stage",
            "mer.sweep_id": self.sweep_id or "",
            "mer.stage": stage,
            "mer.stage_index": str(index),
            "mlflow.parentRunId": fold_run_id,
            "mer.process": this_process(),
            **tags,
        }
        return self.client.create_run(self.experiment_id, tags=tags, run_name=run_name).info.run_id

    def reopen(self, run_id: str, note: str) -> bool:
        """Resumes a run that an earlier attempt left (KILLED, FAILED, or RUNNING when its process died): RUNNING
        again, in this process, its last stop's tags cleared and the attempt (`note`, and how the last one stopped)
        added to `mer.resumed`; False when the store has no such run."""
        run = self.find_run(run_id)
        if run is None:
            return False
        self.client.update_run(run_id, status="RUNNING")
        for key in STOP_TAGS:
            if key in run.data.tags:
                self.client.delete_tag(run_id, key)
        attempts = int(run.data.tags.get("mer.attempts", "1")) + 1
        stop = run.data.tags.get("mer.error") or f"left {run.info.status}"
        resumed = "; ".join(
            filter(None, [run.data.tags.get("mer.resumed"), f"attempt {attempts} {note}, after: {stop}"])
        )
        self.set_tags(
            run_id, {"mer.attempts": str(attempts), "mer.resumed": resumed[-5000:], "mer.process": this_process()}
        )
        return True

    def find_run(self, run_id: str):
        """The run, or None when the store has no such run (a store that fails raises)."""
        try:
            return self.client.get_run(run_id)
        except MlflowException as error:
            if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    def lightning_logger(self, run_id: str | None, record: StageRecord) -> StageLogger:
        return StageLogger(self.client, run_id, record)

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        if tags:
            self.client.log_batch(run_id, tags=[RunTag(key, str(value)) for key, value in tags.items()])

    def upload_stage(self, run_id: str, stage: StageRecord, weights: bool) -> None:
        """What a stage left in its folder, whatever its task: the figures it measured at its end (`final/<name>`),
        those logged while training that the run lacks, its artifacts, the clips it trained, validated and tested
        on (`split.json`), its modules' digests at start and end and, if `weights`, its net's final weights."""
        finals = [Metric(f"final/{k}", float(v), 0, 0) for k, v in stage.metrics().items()]
        history = stage.epoch_rows()
        for name, rows in history.groupby("name"):
            logged = {m.step for m in self.client.get_metric_history(run_id, str(name))}
            finals += [
                Metric(str(name), float(r.value), int(r.time), int(r.step))
                for r in rows.itertuples()
                if int(r.step) not in logged
            ]
        for start in range(0, len(finals), 1000):
            self.client.log_batch(run_id, metrics=finals[start : start + 1000])
        for file, folder in stage.files():
            self.client.log_artifact(run_id, str(file), folder or None)
        if weights:
            self.client.log_artifact(run_id, str(stage.weights))

    def upload_fold(self, run_id: str, result: FoldResult, weights_run: str | None) -> None:
        """The fold's test record: predictions, test figures (`test/uf1`, ...), confusion matrix, skip and repair
        counts and lists (by clip uid), the oracle audit's per-epoch predictions when asked for, and which run holds
        the tested net's weights (`mer.weights_run`)."""
        self._log_text(run_id, result.file(PREDICTIONS).read_text(), PREDICTIONS)
        figures = [Metric(f"test/{k}", float(v), 0, 0) for k, v in result.scores().items()]
        tags = [RunTag("mer.class_names", json.dumps(result.class_names()))]
        # Logged even when zero, so runs can be filtered and compared on them.
        for name, listed in result.lists().items():
            figures.append(Metric(name, len(listed), int(time.time() * 1000), 0))
            tags.append(RunTag(f"mer.{name}", str(len(listed))))
            if listed:
                self.client.log_dict(run_id, dict(listed), f"{name}.json")
        if result.file(EPOCH_PREDICTIONS):
            self.client.log_artifact(run_id, str(result.file(EPOCH_PREDICTIONS)))
            tags.append(RunTag("mer.record_oracle", "true"))
        if weights_run:
            tags.append(RunTag("mer.weights_run", weights_run))
        self.client.log_batch(run_id, metrics=figures, tags=tags)
        for name in ("confusion.json", "confusion.png"):
            self.client.log_artifact(run_id, str(result.file(name)))

    def log_artifacts(self, run_id: str, artifacts: Mapping[str, Artifact]) -> None:
        """Artifacts rendered for a run (path -> figure, text, or JSON-able data), logged under their paths."""
        for path, artifact in artifacts.items():
            if isinstance(artifact, Figure):
                self.client.log_figure(run_id, artifact, path)
            elif isinstance(artifact, str):
                self.client.log_text(run_id, artifact, path)
            else:
                self.client.log_dict(run_id, artifact, path)

    def end_run(self, run_id: str) -> None:
        self.client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))

    def fail(self, run_id: str, error: BaseException) -> None:
        """Ends a run that did not complete: KILLED naming the signal that stopped it, or FAILED with the error
        (`mer.error`; `mer.signal`)."""
        status, reason, signal_name = stop_reason(error)
        self.client.set_tag(run_id, "mer.error", reason[:5000])
        if signal_name:
            self.client.set_tag(run_id, "mer.signal", signal_name)
        self.client.set_terminated(run_id, status)

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
            tags={
                "mer.run_type": "summary",
                "mer.sweep_id": sweep_id,
                "mer.git_sha": git_sha(),
                "mer.n_folds": str(len(expected_folds)),
                "mer.process": this_process(),
                **tags,
            },
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

    def find_sweep(self, sweep_hash: str) -> SweepRun | None:
        """The latest sweep of this identity (`mer.sweep_hash`, identity.py), if the store holds one."""
        found = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`mer.sweep_hash` = '{sweep_hash}' and tags.`mer.run_type` = 'summary'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if not found:
            return None
        tags = found[0].data.tags
        return SweepRun(tags["mer.sweep_id"], found[0].info.run_id, tags.get("mer.multirun", tags["mer.sweep_id"]))

    def take_over(self, sweep: SweepRun) -> list[str]:
        """Resumes a sweep in this process: refused while the process that ran it still runs here; its runs left
        RUNNING by processes that are gone (killed, lost with their node) are closed KILLED, its summary run is
        RUNNING again. Returns what was closed, as `run type fold/stage`."""
        summary = self.client.get_run(sweep.run_id)
        owner = summary.data.tags.get("mer.process", "")
        if summary.info.status == "RUNNING" and alive(owner):
            raise RuntimeError(
                f"sweep {sweep.sweep_id} is still being run by process {owner} (host:pid:start): "
                "wait for it, or stop it, before running the same sweep again"
            )
        closed = self.close_stale(sweep.sweep_id, certain=False)
        self.reopen(sweep.run_id, f"resumed by {this_process()}")
        return closed

    def close_stale(self, sweep_id: str, certain: bool = True) -> list[str]:
        """Closes, KILLED, the fold and stage runs of a sweep left RUNNING by a process that is gone: for sure
        (`certain`: the process ran on this host and is dead), or, when this process takes the sweep over, also
        those it cannot check (another host's)."""
        closed = []
        for run_type in ("fold", "stage"):
            for run in self._runs(sweep_id, run_type):
                owner = run.data.tags.get("mer.process", "")
                state = alive(owner)
                if run.info.status != "RUNNING" or state or (certain and state is None):
                    continue
                self.set_tags(
                    run.info.run_id,
                    {
                        "mer.error": f"left RUNNING by process {owner or 'unknown'}, which is gone (killed by SIGKILL, "
                        "or lost with its node): closed when the sweep was next summarized or resumed",
                    },
                )
                self.client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED))
                closed.append(f"{run_type} {run.data.tags.get('mer.fold', '')} {run.data.tags.get('mer.stage', '')}")
        return [c.strip() for c in closed]

    def sweep_state(self, sweep_id: str) -> tuple[str, bool | None]:
        """The summary run's status and whether the process that runs the sweep is alive (None: cannot tell)."""
        run = self._summary_run(sweep_id)
        return run.info.status, alive(run.data.tags.get("mer.process", ""))

    def finished_folds(self, sweep_id: str) -> dict[str, str]:
        """The folds of a sweep with a FINISHED run: fold -> the config hash it finished with."""
        return {
            run.data.tags.get("mer.fold", ""): run.data.tags.get("mer.config_hash", "")
            for run in self._runs(sweep_id, "fold")
            if run.info.status == "FINISHED"
        }

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
            raise LookupError(
                f"no sweep {sweep_id!r} in experiment {self.experiment_name!r} of "
                f"{self.describe()}; its latest sweeps:\n{known}"
            )
        return summaries[-1]

    def sweeps(self) -> list[tuple[str, str]]:
        """(sweep id, run name) of every sweep in the experiment, newest first."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string="tags.`mer.run_type` = 'summary'",
            order_by=["attributes.start_time DESC"],
            max_results=50000,
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
            raise LookupError(
                f"sweep {sweep_id!r} has no pooled predictions yet (status {run.info.status}): "
                f"run mer-summarize {sweep_id}"
            ) from error
        return table, run.info.run_name

    def record_comparison(
        self, sweep_a: str, sweep_b: str, name: str, figures: Mapping[str, float], report: Mapping
    ) -> str:
        """A comparison of two sweeps, as its own run (`mer.run_type=comparison`): its figures and
        `comparison.json`."""
        run = self.client.create_run(
            self.experiment_id,
            run_name=name,
            tags={
                "mer.run_type": "comparison",
                "mer.sweep_a": sweep_a,
                "mer.sweep_b": sweep_b,
                "mer.git_sha": git_sha(),
            },
        )
        self.client.log_batch(run.info.run_id, metrics=[Metric(k, float(v), 0, 0) for k, v in figures.items()])
        self.client.log_dict(run.info.run_id, dict(report), "comparison.json")
        self.end_run(run.info.run_id)
        return run.info.run_id

    def fold_names(self, sweep_id: str) -> list[str]:
        """The folds of a sweep that finished, in order."""
        return sorted(
            {r.data.tags.get("mer.fold", "") for r in self._runs(sweep_id, "fold") if r.info.status == "FINISHED"}
        )

    def summarize(self, sweep_id: str, close: bool = True, stopped: BaseException | None = None) -> Summary:
        """Rebuilds the sweep's summary run from its fold runs (at the end of a sweep, or any time later). With
        `close`, the summary run ends: FINISHED when every expected fold finished, else KILLED (the sweep `stopped`
        by a signal) or FAILED, tagged incomplete. An incomplete summary logs no headline figure (`uf1`, `uar`, ...):
        only how many folds finished, its tables, and the predictions pooled so far."""
        summary_run = self._summary_run(sweep_id)
        run_id = summary_run.info.run_id
        expected = json.loads(self._read_text(run_id, EXPECTED_FOLDS))
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
            elif fold not in finished and run.info.status != "RUNNING":
                failed.add(fold)
        missing = sorted(set(expected) - set(finished) - failed)
        counts = {
            "n_folds_expected": len(expected),
            "n_folds_finished": len(set(expected) & set(finished)),
            "n_folds_missing_or_failed": len(missing) + len(failed),
        }
        if not finished:
            self._close_summary(run_id, counts, close, stopped)
            raise LookupError(
                f"INCOMPLETE: 0 of {len(expected)} folds of sweep {sweep_id!r} finished "
                f"(failed: {sorted(failed)}, missing: {missing})"
            )
        table = pd.concat([finished[f] for f in sorted(finished)], ignore_index=True)
        summary = summarize_predictions(table, class_names)
        summary.failed_folds = sorted(failed)
        summary.missing_folds = missing
        summary.n_expected = len(expected)
        summary.run_id = run_id
        if oracle and set(oracle) == set(finished):
            best = pd.concat(oracle.values(), ignore_index=True)
            summary.oracle = metrics.scores(best["label"], best["prediction"], len(class_names))
        self._log_summary(run_id, summary, table, losses, counts)
        self._close_summary(run_id, counts, close, stopped)
        return summary

    def _losses(self, fold_run) -> list[float]:
        """The training loss by epoch of the stage a fold tested (the fold run itself when it has one stage)."""
        run_id = fold_run.data.tags.get("mer.tested_run", fold_run.info.run_id)
        history = sorted(self.client.get_metric_history(run_id, "train/loss"), key=lambda m: (m.step, m.timestamp))
        return [m.value for m in history]

    def _log_summary(
        self,
        run_id: str,
        summary: Summary,
        table: pd.DataFrame,
        losses: dict[str, list[float]],
        counts: Mapping[str, int],
    ) -> None:
        values: dict[str, float] = dict(counts)
        if summary.complete:  # headline figures only for the whole sweep
            headline = ("uf1", "uar", "accuracy", "average_accuracy", "overall_accuracy")
            values.update({key: summary.pooled[key] for key in headline})
            for name, (low, high) in summary.intervals.items():
                values[f"{name}_ci_low"], values[f"{name}_ci_high"] = low, high
            values["n_clips"] = summary.pooled["n"]
            if summary.oracle:
                values["oracle_uf1"], values["oracle_uar"] = summary.oracle["uf1"], summary.oracle["uar"]
            for name, row in summary.per_class.iterrows():
                values[f"f1_{name}"], values[f"recall_{name}"] = row["f1"], row["recall"]
            if len(summary.per_dataset) > 1:
                for name, row in summary.per_dataset.drop(index=POOLED).iterrows():
                    values.update({f"{name}/{key}": row[key] for key in ("uf1", "uar", "accuracy")})
        for subject, row in summary.per_subject.iterrows():  # each a finished fold's own figure
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

    def _close_summary(
        self, run_id: str, counts: Mapping[str, int], close: bool, stopped: BaseException | None
    ) -> None:
        complete = counts["n_folds_missing_or_failed"] == 0
        self.set_tags(
            run_id,
            {
                "mer.complete": str(complete).lower(),
                "mer.folds_finished": f"{counts['n_folds_finished']} of {counts['n_folds_expected']}",
                "mer.folds_missing_or_failed": str(counts["n_folds_missing_or_failed"]),
            },
        )
        if complete:
            for key in STOP_TAGS:
                if key in self.client.get_run(run_id).data.tags:
                    self.client.delete_tag(run_id, key)
            self.end_run(run_id)
        elif stopped is not None:
            self.fail(run_id, stopped)
        elif close:
            self.client.set_tag(
                run_id,
                "mer.error",
                f"incomplete: {counts['n_folds_finished']} of {counts['n_folds_expected']} folds finished",
            )
            self.client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))

    def _log_confusion(self, run_id: str, confusion, class_names: Sequence[str], title: str) -> None:
        self.client.log_dict(run_id, confusion_record(confusion, class_names), "confusion.json")
        self.client.log_figure(run_id, confusion_figure(confusion, class_names, title), "confusion.png")
