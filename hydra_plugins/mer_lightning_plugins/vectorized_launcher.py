"""The `vectorized` launcher: fold jobs that differ only in their fold run in one process, side by side.

`mer-train -m hydra/launcher=vectorized hydra.launcher.group_size=8`: the sweep's jobs are grouped by the runner's
`group_key` (for mer-train, the whole config but the fold), `group_size` at a time; each group is prepared job by job
(each in its own Hydra job context: output folder, logging, config files, as the basic launcher runs it), trained at
once by the runner, then finished job by job. Every job keeps its own result, so a sweep's summary and its list of
failed folds read as with any other launcher. The runner is a module with `group_key(cfg)`, `prepare(cfg)`,
`fit(prepared)` and `finish(prepared)`: for mer-train, `mer_lightning.side_by_side`.
"""

import importlib
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)


@dataclass
class VectorizedLauncherConf:
    _target_: str = "hydra_plugins.mer_lightning_plugins.vectorized_launcher.VectorizedLauncher"
    # Folds trained at once in one vectorised model (memory grows with it: a group holds every fold's activations).
    group_size: int = 8
    runner: str = "mer_lightning.side_by_side"


ConfigStore.instance().store(
    group="hydra/launcher", name="vectorized", node=VectorizedLauncherConf, provider="mer_lightning"
)


class VectorizedLauncher(Launcher):
    def __init__(self, group_size: int = 8, runner: str = "mer_lightning.side_by_side") -> None:
        if group_size < 1:
            raise ValueError(f"hydra.launcher.group_size must be at least 1, got {group_size}")
        self.group_size = group_size
        self.runner_name = runner
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        runner = importlib.import_module(self.runner_name)
        jobs = []
        for number, overrides in enumerate(job_overrides, start=initial_job_idx):
            config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(config):
                config.hydra.job.id = number
                config.hydra.job.num = number
            jobs.append(config)
        groups: dict[str, list[int]] = defaultdict(list)
        for index, config in enumerate(jobs):
            groups[runner.group_key(config)].append(index)
        log.info("Launching %d jobs side by side, in groups of up to %d", len(jobs), self.group_size)
        results: list[JobReturn | None] = [None] * len(jobs)
        for members in groups.values():
            for start in range(0, len(members), self.group_size):
                chunk = members[start : start + self.group_size]
                for index, result in zip(chunk, self._run_group(runner, [jobs[i] for i in chunk])):
                    results[index] = result
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return results

    def _run_group(self, runner: Any, configs: list[DictConfig]) -> list[JobReturn]:
        """Prepares each job, fits those prepared together, finishes each; a job that failed at any point keeps
        that failure as its result."""
        for config in configs:
            log.info("\t#%d : %s", config.hydra.job.num, " ".join(filter_overrides(config.hydra.overrides.task)))
        prepared = [self._job(config, runner.prepare) for config in configs]
        ready = [
            (config, result.return_value)
            for config, result in zip(configs, prepared)
            if result.status == JobStatus.COMPLETED
        ]
        try:
            runner.fit([fold for _, fold in ready])
        except Exception as error:  # every fold of the group failed with it
            log.error("folds side by side failed: %s: %s", type(error).__name__, error)
            finished = {id(fold): self._job(config, _raise(error)) for config, fold in ready}
        else:
            finished = {id(fold): self._job(config, lambda _, fold=fold: runner.finish(fold)) for config, fold in ready}
        return [
            finished[id(result.return_value)] if result.status == JobStatus.COMPLETED else result for result in prepared
        ]

    def _job(self, config: DictConfig, function: Callable[[DictConfig], Any]) -> JobReturn:
        return run_job(
            hydra_context=self.hydra_context,
            task_function=function,
            config=config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )


def _raise(error: Exception) -> Callable[[DictConfig], Any]:
    def fail(_: DictConfig) -> Any:
        raise error

    return fail
