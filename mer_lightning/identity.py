"""What makes two folds the same fold, and two sweeps the same sweep.

A fold is identified by a hash of its resolved config, leaving out the settings that change where it runs and where
it is recorded, not what it computes: Hydra's own (launcher, sweeper, output folders), the store (`logger`: tracking
URI, sweep id), the project folders (`paths`) and the CPU threads. A sweep is identified by the hashes of its folds.
Re-running a sweep command therefore finds the folds it already finished, whichever launcher runs it this time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

# Top-level config entries that are not part of what a fold computes.
NOT_IDENTITY = ("hydra", "logger", "paths", "threads")


def fold_hash(config: Mapping) -> str:
    """The identity of a fold: a hash of its resolved config (plain containers) minus `NOT_IDENTITY`."""
    kept = {key: value for key, value in config.items() if key not in NOT_IDENTITY}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def sweep_hash(fold_hashes: Iterable[str]) -> str:
    """The identity of a sweep: the set of its folds' identities."""
    return hashlib.sha256(" ".join(sorted(fold_hashes)).encode()).hexdigest()[:16]
