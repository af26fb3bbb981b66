"""Checks of the launcher run when a sweep starts, before any fold job is submitted: each names what is wrong within
seconds. Without them a partition that does not exist fails only when sbatch rejects the job array. (The tracking
store, a server's `/health` included, is checked by `mer_lightning.store_check`, which the sweep runs first too.)
Imports stay light: Hydra imports every plugin module when it starts.
"""

from __future__ import annotations

import os
import subprocess

SINFO_TIMEOUT_S = 30


class PreflightError(RuntimeError):
    """The launcher a sweep needs is not usable; nothing was submitted."""


def slurm_partitions() -> list[str]:
    """The partitions the SLURM controller lists (`sinfo`), or a PreflightError saying why it cannot be asked."""
    try:
        listed = subprocess.run(
            ["sinfo", "--noheader", "--format=%R"], capture_output=True, text=True, timeout=SINFO_TIMEOUT_S
        )
    except FileNotFoundError:
        raise PreflightError(
            "a SLURM launcher needs SLURM's commands (sinfo, sbatch) on this machine: sinfo not found"
        ) from None
    except subprocess.TimeoutExpired:
        raise PreflightError(f"the SLURM controller did not answer `sinfo` within {SINFO_TIMEOUT_S} s") from None
    if listed.returncode != 0:
        raise PreflightError(
            f"the SLURM controller does not answer: {listed.stderr.strip()} "
            f"(SLURM_CONF={os.environ.get('SLURM_CONF', 'unset: the system default')})"
        )
    return sorted(set(listed.stdout.split()))


def check_slurm_partition(partition: str | None) -> None:
    """The controller answers and knows every partition named (`hydra.launcher.partition`, may be `a,b`)."""
    partitions = slurm_partitions()
    missing = [name for name in (partition or "").split(",") if name and name not in partitions]
    if missing:
        raise PreflightError(
            f"hydra.launcher.partition={partition}: no partition {', '.join(missing)} on this SLURM cluster "
            f"(sinfo lists: {', '.join(partitions) or 'none'})"
        )


def check_launcher(launcher: object, settings) -> None:
    """A launcher that submits to SLURM (submitit_slurm, slurm) needs a controller that knows its partition.

    Told by submitit's executor name: Hydra's plugin scan loads plugin modules anew, so isinstance against the
    submitit launcher's class would compare two copies of it."""
    if getattr(launcher, "_EXECUTOR", None) == "slurm":
        check_slurm_partition(settings.get("partition"))
