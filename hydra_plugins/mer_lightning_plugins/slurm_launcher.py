"""`hydra/launcher=slurm`: submitit's SLURM launcher, waiting for every fold job even when SLURM ends some.

hydra-submitit-launcher collects the results in submission order and raises at the first job that left none (a job
cancelled with scancel, killed at its time limit, lost with its node): the jobs after it are no longer waited for, so
the sweep could not summarize the folds that did finish. This launcher waits for all of them and returns a job that
SLURM ended as a failed job whose error names the SLURM job and its final state, as a fold that raised would be.
submitit would also wait forever for a task of a job array cancelled while still pending: SLURM keeps no record of
it (sacct never lists it), so it is given up once squeue has not listed it for a while.
Settings and submission are submitit_slurm's (conf/hydra/launcher/slurm.yaml).
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from omegaconf import OmegaConf

from hydra_plugins.hydra_submitit_launcher import submitit_launcher
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

log = logging.getLogger(__name__)
POLL_S = 5
# A job without a result that squeue has not listed for this long, and that sacct does not record as ended, left the
# queue without a record (a job that finishes writes its result first; sacct records an end within seconds).
UNLISTED_S = 30


class JobEndedBySlurm(RuntimeError):
    """SLURM ended a fold job before it returned (cancelled, timed out, node failure, out of memory)."""


class SlurmLauncher(submitit_launcher.SlurmLauncher):
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        jobs = self.submit(job_overrides, initial_job_idx)
        unrecorded = wait_for_all(jobs)
        return [job_return(job, overrides, unrecorded) for job, overrides in zip(jobs, job_overrides)]

    def submit(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list:
        """The fold jobs as one SLURM job array (hydra-submitit-launcher 1.2's `launch`, up to its waiting)."""
        import submitit

        assert self.config is not None and job_overrides
        init_keys = {"submitit_folder", "max_num_timeout"}
        executor = submitit.AutoExecutor(
            cluster=self._EXECUTOR,
            folder=self.params["submitit_folder"],
            slurm_max_num_timeout=self.params["max_num_timeout"],
        )
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{k if k in base else f"{self._EXECUTOR}_{k}": v for k, v in self.params.items() if k not in init_keys}
        )
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
        log.info("SLURM sweep output dir: %s", sweep_dir)
        job_params: list[Any] = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
            job_params.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state()))
        return executor.map_array(self, *zip(*job_params))


def queued(array_ids: set[str]) -> set[str] | None:
    """The jobs and array tasks (`ARRAY_TASK`) of these jobs that squeue lists, None when it cannot tell."""
    listed = subprocess.run(
        ["squeue", "--noheader", "--array", "--format=%i", f"--jobs={','.join(sorted(array_ids))}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if listed.returncode == 0:
        return set(listed.stdout.split())
    return set() if "Invalid job id" in listed.stderr else None  # none of them left, or no answer


def wait_for_all(jobs: Sequence) -> set[str]:
    """Waits until submitit sees every job done; returns the ids of those that left the queue unrecorded instead."""
    unlisted_since: dict[str, float] = {}
    unrecorded: set[str] = set()
    while waiting := [job for job in jobs if job.job_id not in unrecorded and not job.done()]:
        listed = queued({job.job_id.split("_")[0] for job in waiting})
        now = time.monotonic()
        for job in waiting:
            if listed is None or job.job_id in listed:
                unlisted_since.pop(job.job_id, None)
            elif now - unlisted_since.setdefault(job.job_id, now) > UNLISTED_S:
                unrecorded.add(job.job_id)
        time.sleep(POLL_S)
    return unrecorded


def job_return(job, overrides: Sequence[str], unrecorded: set[str]) -> JobReturn:
    """The job's own return or, when it left none, a failed return: SLURM ended it (naming the job and its final
    state), or its process failed outside the fold (submitit's error, with the job's traceback)."""
    from submitit.core.utils import FailedJobError, UncompletedJobError

    error: Exception
    if job.job_id in unrecorded and not job.paths.result_pickle.exists():
        error = JobEndedBySlurm(
            f"SLURM job {job.job_id} left the queue without a record of its end (cancelled before it started?)"
        )
    else:
        try:
            return job.results()[0]
        except UncompletedJobError:
            error = JobEndedBySlurm(f"SLURM job {job.job_id} ended {job.state} before the fold returned")
        except FailedJobError as failed:
            error = failed
    log.error("%s: %s", " ".join(filter_overrides(overrides)), error)
    return JobReturn(overrides=list(overrides), status=JobStatus.FAILED, _return_value=error)
