"""The `folds` sweeper: a multirun over every fold of the configured protocol, then a summary run.

`mer-train -m` with no fold named expands to all folds of the protocol on the configured dataset (every subject for
LOSO), so nobody types a list of subjects; naming some (`protocol.test_subject=sub01,sub02`) runs only those. Other
sweeps (`model=a,b`) multiply as with Hydra's basic sweeper, each combination being its own sweep with its own
summary, and a table of their pooled figures closes the multirun (`mer-table MULTIRUN_ID` prints it again). Each
fold is one job given to the configured launcher, so any Hydra launcher spreads the folds.
"""

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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

from hydra_plugins.mer_lightning_plugins.preflight import check_launcher, check_tracking_server

log = logging.getLogger(__name__)


@dataclass
class FoldSweeperConf:
    _target_: str = "hydra_plugins.mer_lightning_plugins.fold_sweeper.FoldSweeper"


ConfigStore.instance().store(group="hydra/sweeper", name="folds", node=FoldSweeperConf, provider="mer_lightning")


class FoldFailed(CompactHydraException):
    """Some folds of a sweep failed; the summary of the others was still written. Its message lists each failed job
    and its error, so Hydra prints it without a traceback."""


class FoldSweeper(Sweeper):
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
        from mer_lightning import console, settings, store
        from mer_lightning.input_errors import reporting_input_errors
        from mer_lightning.summarize import print_summary
        from mer_lightning.sweep_table import print_comparison

        console.quiet()

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
        jobs: list[list[str]] = []
        job_folds: list[str] = []
        opened: list[tuple[str, DictConfig]] = []
        # Every sweep's settings and folds are checked before any run is created.
        planned = []
        for rest, folds in sweeps.items():
            config = self._load(rest)
            check_tracking_server(config.logger.tracking_uri)
            with reporting_input_errors():
                settings.check(config)
                if not planned:
                    log.info("%s", store.describe(store.tracking_uri(config.logger.tracking_uri)))
                planned.append((rest, folds or _all_folds(config), config))
        for number, (rest, folds, config) in enumerate(planned):
            self._load(rest)
            sweep_id = multirun + (f"-{number}" if len(sweeps) > 1 else "")
            database = store.sqlite_path(store.tracking_uri(config.logger.tracking_uri))
            if database is not None and not database.exists():
                log.info("creating the MLflow store (once per root)")
            tracker = instantiate(config.logger)
            tags = {**_sweep_tags(config, rest), "mer.multirun": multirun}
            sweep_run_id = tracker.open_sweep(sweep_id, folds, tags=tags, config=_sweep_params(config, tracker))
            log.info("sweep %s: %d fold(s) of %s", sweep_id, len(folds), _describe(config))
            opened.append((sweep_id, config))
            for fold in folds:
                jobs.append(
                    [*rest, f"{fold_keys[rest]}={fold}", f"logger.sweep_id={sweep_id}", f"logger.sweep_run_id={sweep_run_id}"]
                )
                job_folds.append(fold)
        log.info("%d sweep(s), %d fold jobs", len(opened), len(jobs))
        results = self.launcher.launch(jobs, initial_job_idx=0)
        for job, fold, result in zip(jobs, job_folds, results):
            if result.status == JobStatus.FAILED:
                instantiate(self._load(job).logger).fail_fold(fold, result._return_value)

        for sweep_id, config in opened:
            tracker = instantiate(config.logger)
            try:
                print_summary(tracker, sweep_id, tracker.summarize(sweep_id))
            except LookupError as nothing_to_pool:
                log.error("%s", nothing_to_pool)
        if len(opened) > 1:
            print_comparison(instantiate(opened[0][1].logger), [multirun])
        failed = [f"{' '.join(job)}\n  {_error(r)}" for job, r in zip(jobs, results) if r.status == JobStatus.FAILED]
        if failed:
            raise FoldFailed(f"{len(failed)} fold job(s) failed (their summaries list them):\n" + "\n".join(failed))
        return [results]


def _fold_key(config: DictConfig) -> str:
    """The setting that makes a job one fold: the protocol's fold setting, or `fold` when re-testing a sweep."""
    if config.get("from_sweep"):
        return "fold"
    return f"protocol.{instantiate(config.protocol).fold_setting}"


def _all_folds(config: DictConfig) -> list[str]:
    """Every fold of the protocol on the configured dataset, or of the sweep being re-tested."""
    if config.get("from_sweep"):
        return instantiate(config.logger).expected_folds(str(config.from_sweep))
    log.info("reading dataset %s (a synthetic set is generated on first use)", config.hydra.runtime.choices.get("dataset"))
    dataset = instantiate(config.dataset)  # under on_error=skip, the folds of the clips that can be used
    clips = dataset.clips({}) if config.datamodule.on_error == "skip" else dataset.clips()
    return instantiate(config.protocol).folds(clips)


def _describe(config: DictConfig) -> str:
    choices = config.hydra.runtime.choices
    return f"{config.model.name} on {choices.get('dataset')}, {choices.get('protocol')}"


def _sweep_params(config: DictConfig, tracker) -> dict:
    """The settings the summary run shows: the sweep's composed config (Hydra's own settings left out), or, for a
    re-test, those of the sweep it re-tests."""
    if config.get("from_sweep"):
        return {**tracker.sweep_params(str(config.from_sweep)), "from_sweep": str(config.from_sweep)}
    return OmegaConf.to_container(OmegaConf.masked_copy(config, [k for k in config if k != "hydra"]), resolve=True)


def _sweep_tags(config: DictConfig, overrides: tuple[str, ...]) -> dict[str, str]:
    """What the summary run says the sweep is (a re-test says what the sweep it re-tests was)."""
    if config.get("from_sweep"):
        tags = instantiate(config.logger).sweep_tags(str(config.from_sweep))
        return {**tags, "mer.from_sweep": str(config.from_sweep)}
    choices = config.hydra.runtime.choices
    return {"mer.dataset": str(choices.get("dataset")), "mer.model": str(config.model.name),
            "mer.protocol": str(choices.get("protocol")), "mer.overrides": " ".join(overrides)}


def _error(result) -> str:
    """The exception a failed job raised, as `type: message`."""
    try:
        result.return_value  # noqa: B018 - the property re-raises the job's exception
    except Exception as error:  # JobReturn re-raises the job's own exception
        return f"{type(error).__name__}: {error}"
    return "unknown error"
