"""The `folds` sweeper: a multirun over every fold of the configured protocol, then a summary run.

`mer-train -m` with no fold named expands to all folds of the protocol on the configured dataset (every subject for
LOSO), so nobody types a list of subjects; naming some (`protocol.test_subject=sub01,sub02`) runs only those. Other
sweeps (`model=a,b`) multiply as with Hydra's basic sweeper, each combination being its own sweep with its own
summary, and a table of their pooled figures closes the multirun (`mer-table MULTIRUN_ID` prints it again). Each
fold is one job given to the configured launcher, so any Hydra launcher spreads the folds.

Sweeps survive: a sweep is identified by its folds' config hashes (identity.py), and running the same sweep command
again resumes it (`hydra.sweeper.resume=false` starts a new one): the runs its dead processes left RUNNING are closed,
results its folds kept locally are uploaded, folds already FINISHED are skipped, the others run (each from where it
stopped: records.py) and the summary is rebuilt over all of them. Each sweep has its own folder,
`<hydra.sweep.dir>/<sweep id>/`, with Hydra's multirun.yaml, sweep.json and one folder per fold (named after it).
Given weights (`mer-eval -m checkpoint_dir=...`) are checked for every fold before any runs.
"""

import json
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.errors import CompactHydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.mer_lightning_plugins.preflight import check_launcher

log = logging.getLogger(__name__)


@dataclass
class FoldSweeperConf:
    _target_: str = "hydra_plugins.mer_lightning_plugins.fold_sweeper.FoldSweeper"
    # Running a sweep that already ran (the same folds, the same settings) resumes it; false starts it anew.
    resume: bool = True


ConfigStore.instance().store(group="hydra/sweeper", name="folds", node=FoldSweeperConf, provider="mer_lightning")


class FoldFailed(CompactHydraException):
    """Some folds of a sweep failed; the summary of the others was still written. Its message lists each failed job
    and its error, so Hydra prints it without a traceback."""


class GivenWeightsError(ValueError):
    """Weights given to test (mer-eval) are missing or unusable for some folds; no fold was run."""


class OpenSweep(NamedTuple):
    """A sweep ready to run: its id, its config, the jobs of its folds still to run (one per fold of `folds`) and the
    multirun it belongs to."""

    sweep_id: str
    config: DictConfig
    folder: Path
    jobs: list[list[str]]
    folds: list[str]
    multirun: str


class FoldSweeper(Sweeper):
    def __init__(self, resume: bool = True) -> None:
        self.resume = resume

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context = hydra_context
        self.config = config
        # Launchers whose settings interpolate `hydra:` values (submitit's folder: the sweep dir, under paths.root_dir)
        # resolve them when instantiated, before Hydra has set its config for the multirun.
        HydraConfig.instance().set_config(config)
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )
        check_launcher(self.launcher, config.hydra.launcher)

    def _load(self, overrides) -> DictConfig:
        """One job's config, with `hydra:` interpolations resolvable as they are inside the job."""
        config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        HydraConfig.instance().set_config(config)
        return config

    def sweep(self, arguments: list[str]) -> Any:
        # Imported here: Hydra imports every plugin at start-up, whatever the command.
        from mer_lightning import console, interrupts, settings, store
        from mer_lightning.input_errors import reporting_input_errors
        from mer_lightning.store_check import check_server
        from mer_lightning.sweep_table import print_comparison

        console.quiet()
        interrupts.watch()
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        combinations = BasicSweeper.split_arguments(parser.parse_overrides(arguments), None)[0]
        sweeps: dict[tuple[str, ...], list[str]] = defaultdict(list)
        fold_keys: dict[tuple[str, ...], str] = {}
        for overrides in combinations:
            config = self._load(overrides)
            fold_key = _fold_key(config)
            rest = tuple(o for o in overrides if not o.startswith(f"{fold_key}="))
            fold_keys[rest] = fold_key
            sweeps[rest] += [o.split("=", 1)[1] for o in overrides if o.startswith(f"{fold_key}=")]

        # The sweeps of one multirun share the front of their ids, also tagged on each summary run (`mer.multirun`).
        multirun = f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        # Every sweep's settings and folds are checked before any run is created.
        planned = []
        for rest, folds in sweeps.items():
            config = self._load(rest)
            check_server(store.tracking_uri(config.logger.tracking_uri))  # before any data is read
            with reporting_input_errors():
                settings.check(config)
                if not planned:
                    log.info("%s", store.describe(store.tracking_uri(config.logger.tracking_uri)))
                planned.append((rest, folds or _all_folds(config)))
        opened = [
            self._open(rest, fold_keys[rest], folds, multirun, number if len(sweeps) > 1 else None)
            for number, (rest, folds) in enumerate(planned)
        ]
        jobs = [job for sweep in opened for job in sweep.jobs]
        log.info("%d sweep(s), %d fold jobs to run", len(opened), len(jobs))
        try:
            results = self.launcher.launch(jobs, initial_job_idx=0) if jobs else []
        except BaseException as stopped:  # a signal, or the launcher's own failure: the summaries say so
            for sweep in opened:
                self._summarize(sweep, stopped)
            raise
        for job, fold, result in zip(jobs, [fold for sweep in opened for fold in sweep.folds], results):
            if result.status == JobStatus.FAILED:
                self._close_failed_fold(job, fold, result._return_value)
        for sweep in opened:
            self._summarize(sweep, None)
        if len(opened) > 1:  # a resumed sweep keeps the multirun it was first run in
            print_comparison(_store(opened[0].config), list(dict.fromkeys(sweep.multirun for sweep in opened)))
        failed = [
            f"{' '.join(_shown(job))}\n  {_error(r)}" for job, r in zip(jobs, results) if r.status == JobStatus.FAILED
        ]
        if failed:
            raise FoldFailed(f"{len(failed)} fold job(s) failed (their summaries list them):\n" + "\n".join(failed))
        return [results]

    def _open(
        self, rest: tuple[str, ...], fold_key: str, folds: list[str], multirun: str, number: int | None
    ) -> OpenSweep:
        """Finds or opens one sweep: its folds and their identities, its summary run (the existing one when the same
        sweep ran before and `resume` is on), its folder with Hydra's multirun.yaml, the results its folds left
        locally uploaded, and the jobs of the folds still to run."""
        from mer_lightning import store
        from mer_lightning.identity import fold_hash, sweep_hash
        from mer_lightning.processes import this_process
        from mer_lightning.records import FoldFolder
        from mer_lightning.sync import upload

        config = self._load(rest)
        database = store.sqlite_path(store.tracking_uri(config.logger.tracking_uri))
        if database is not None and not database.exists():
            log.info("creating the MLflow store (once per root)")
        tracker = _store(config)
        configs = {fold: self._load([*rest, f"{fold_key}={fold}"]) for fold in folds}
        hashes = {fold: fold_hash(_resolved(job)) for fold, job in configs.items()}
        identity = sweep_hash(hashes.values())
        _check_given_weights(configs)
        config = self._load(rest)
        found = tracker.find_sweep(identity) if self.resume else None
        if found:
            sweep_id, sweep_run_id, multirun = found
            closed = tracker.take_over(found)
            if closed:
                log.warning(
                    "sweep %s: closed %d run(s) left RUNNING by a process that is gone: %s",
                    sweep_id,
                    len(closed),
                    ", ".join(closed),
                )
        else:
            sweep_id = multirun + (f"-{number}" if number is not None else "")
            tags = {**_sweep_tags(config, rest), "mer.sweep_hash": identity, "mer.multirun": multirun}
            sweep_run_id = tracker.open_sweep(sweep_id, folds, tags=tags, config=_sweep_params(config, tracker))
            log.info("sweep %s: %d fold(s) of %s", sweep_id, len(folds), _describe(config))
        folder = Path(str(config.hydra.sweep.dir)) / sweep_id
        folder.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(config, folder / "multirun.yaml")
        sweep_info = {"sweep_id": sweep_id, "sweep_hash": identity, "folds": hashes, "process": this_process()}
        (folder / "sweep.json").write_text(json.dumps(sweep_info, indent=1))
        tracker.sweep_id, tracker.sweep_run_id = sweep_id, sweep_run_id
        for fold in folds:
            local = FoldFolder(folder / _subdir(fold))
            ours = local.info is not None and local.info.get("config_hash") == hashes[fold]
            if ours and upload(local, tracker, "results uploaded when the sweep was resumed"):
                log.info("sweep %s: fold %s's result, kept locally, is now in the store", sweep_id, fold)
        finished = tracker.finished_folds(sweep_id)
        todo = [fold for fold in folds if finished.get(fold) != hashes[fold]]
        if found:
            log.info(
                "sweep %s resumed: %d of %d folds already finished, %d to run%s",
                sweep_id,
                len(folds) - len(todo),
                len(folds),
                len(todo),
                "" if todo else " (hydra.sweeper.resume=false runs it again, as a new sweep)",
            )
        jobs = [
            [
                *rest,
                f"{fold_key}={fold}",
                f"logger.sweep_id={sweep_id}",
                f"logger.sweep_run_id={sweep_run_id}",
                f"hydra.sweep.subdir={sweep_id}/{_subdir(fold)}",
            ]
            for fold in todo
        ]
        return OpenSweep(sweep_id, config, folder, jobs, todo, multirun)

    def _close_failed_fold(self, job: list[str], fold: str, error: BaseException) -> None:
        """A failed job whose fold run (and stage run) is still open (SLURM cancelled it, or ended it at its time
        limit) gets them closed, or a fold run made if it never opened one, as FAILED with the error: the summary then
        lists the fold as failed, not missing, and the run says why (`mer.error`), as it does for a fold that raised.
        A store that fails here is reported and left (the fold's folder keeps what it did; the resume closes its
        runs)."""
        from mlflow.exceptions import MlflowException

        from mer_lightning.store_check import StoreError

        try:
            _store(self._load(job)).fail_fold(fold, error)
        except (StoreError, MlflowException) as store_failed:
            log.error("fold %s failed, and its runs cannot be closed (%s)", fold, str(store_failed).splitlines()[0])

    def _summarize(self, sweep: OpenSweep, stopped: BaseException | None) -> None:
        from mlflow.exceptions import MlflowException

        from mer_lightning.store_check import StoreError
        from mer_lightning.summarize import print_summary

        try:
            tracker = _store(sweep.config)
            print_summary(tracker, sweep.sweep_id, tracker.summarize(sweep.sweep_id, stopped=stopped))
        except LookupError as nothing_to_pool:
            log.error("%s", nothing_to_pool)
        except (StoreError, MlflowException) as store_failed:
            log.error(
                "sweep %s: its summary cannot be written (%s); what its folds finished is kept in %s: "
                "`mer-sync %s` uploads it and writes the summary once the store is back",
                sweep.sweep_id,
                str(store_failed).splitlines()[0],
                sweep.folder,
                sweep.folder,
            )


def _subdir(fold: str) -> str:
    """A fold's folder in its sweep's: the fold's name, as a path of plain characters."""
    parts = (re.sub(r"[^A-Za-z0-9._-]+", "_", part) for part in str(fold).split("/"))
    return "/".join(part if part.strip(".") else "_" for part in parts)


def _resolved(config: DictConfig) -> dict:
    """A job's config as the job resolves it (its `hydra` node left out, as a job does not see it)."""
    return OmegaConf.to_container(OmegaConf.masked_copy(config, [k for k in config if k != "hydra"]), resolve=True)


def _shown(job: list[str]) -> list[str]:
    """A job's overrides as the user gave them (without those the sweeper adds)."""
    return [o for o in job if not o.startswith(("logger.sweep_id=", "logger.sweep_run_id=", "hydra.sweep.subdir="))]


def _fold_key(config: DictConfig) -> str:
    """The setting that makes a job one fold: the protocol's fold setting, or `fold` when re-testing a sweep."""
    if config.get("from_sweep"):
        return "fold"
    return f"protocol.{instantiate(config.protocol).fold_setting}"


def _all_folds(config: DictConfig) -> list[str]:
    """Every fold of the protocol on the configured dataset, or of the sweep being re-tested."""
    if config.get("from_sweep"):
        return _store(config).expected_folds(str(config.from_sweep))
    log.info(
        "reading dataset %s (a synthetic set is generated on first use)", config.hydra.runtime.choices.get("dataset")
    )
    return instantiate(config.protocol).folds(_usable_clips(config))


def _usable_clips(config: DictConfig) -> list:
    """The configured dataset's clips; under on_error=skip, those that can be used."""
    dataset = instantiate(config.dataset)
    return dataset.clips({}) if config.datamodule.on_error == "skip" else dataset.clips()


def _store(config: DictConfig):
    """The sweep's store (its Tracker), checked."""
    from mer_lightning.train import open_store

    return open_store(config.logger)


def _check_given_weights(configs: Mapping[str, DictConfig]) -> None:
    """The weights a re-test is given (`checkpoint`, mer-eval), every fold's checked before any fold runs: each file
    there and loadable with weights_only=True. A missing or broken file is named at once, with all the others."""
    from mer_lightning.evaluate import given_weights
    from mer_lightning.models.weights import read_weights

    problems, clips = [], None
    for fold, config in configs.items():
        template = given_weights(config)
        if template is None:
            continue
        clips = clips if clips is not None else _usable_clips(config)
        test = instantiate(config.protocol).split(clips).test
        if not test:
            continue  # the fold itself says it has no test clip
        try:
            read_weights(template.format(fold=fold, subject=test[0].source_subject))
        except (OSError, ValueError) as error:
            problems.append(str(error))
    if problems:
        raise GivenWeightsError(
            f"{len(problems)} of {len(configs)} folds' weights cannot be used; no fold was run:\n  "
            + "\n  ".join(problems)
        )


def _describe(config: DictConfig) -> str:
    from mer_lightning.tracking import description_tags, method_name

    choices = config.hydra.runtime.choices
    what = method_name(description_tags(choices, config.model.name))
    return f"{what} on {choices.get('dataset')}, {choices.get('protocol')}"


def _sweep_params(config: DictConfig, tracker) -> dict:
    """The settings the summary run shows: the sweep's composed config (Hydra's own settings left out), or, for a
    re-test, those of the sweep it re-tests."""
    if config.get("from_sweep"):
        return {**tracker.sweep_params(str(config.from_sweep)), "from_sweep": str(config.from_sweep)}
    return OmegaConf.to_container(OmegaConf.masked_copy(config, [k for k in config if k != "hydra"]), resolve=True)


def _sweep_tags(config: DictConfig, overrides: tuple[str, ...]) -> dict[str, str]:
    """What the summary run says the sweep is (a re-test says what the sweep it re-tests was)."""
    if config.get("from_sweep"):
        tags = _store(config).sweep_tags(str(config.from_sweep))
        return {**tags, "mer.from_sweep": str(config.from_sweep)}
    from mer_lightning.tracking import description_tags

    return {
        **description_tags(config.hydra.runtime.choices, str(config.model.name)),
        "mer.overrides": " ".join(overrides),
    }


def _error(result) -> str:
    """The exception a failed job raised, as `type: message`."""
    try:
        result.return_value  # noqa: B018 - the property re-raises the job's exception
    except Exception as error:  # JobReturn re-raises the job's own exception
        return f"{type(error).__name__}: {error}"
    return "unknown error"
