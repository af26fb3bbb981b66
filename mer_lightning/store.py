"""Where the MLflow store is: one rule for every entry point, `mer-ui` (`make ui`) and the notebook.

Everything the project writes lives under its root: `$MER_ROOT`, or the folder you run from. The store is
`<root>/mlruns/mlflow.db`, its artifacts under `<root>/mlruns/artifacts`, unless a tracking URI is set: an entry
point's own setting (`logger.tracking_uri=...`, `--tracking-uri`), else `$MER_TRACKING_URI`. `conf/logger/mlflow.yaml`
composes the same URI for training (tests/test_store.py holds them together).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

EXPERIMENT = "mer-lightning"
SQLITE = "sqlite:///"


def root_dir() -> Path:
    """The project's root: `$MER_ROOT`, or the folder you run from."""
    return Path(os.environ.get("MER_ROOT") or os.getcwd())


def tracking_uri(setting: str | None = None) -> str:
    """The store to read and write: `setting` (an entry point's own), else `$MER_TRACKING_URI`, else the root's."""
    return setting or os.environ.get("MER_TRACKING_URI") or f"{SQLITE}{root_dir() / 'mlruns' / 'mlflow.db'}"


def artifact_dir() -> Path:
    """Where a new experiment of the root's store keeps its artifacts."""
    return root_dir() / "mlruns" / "artifacts"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` store (None for a server or any other store)."""
    return Path(uri[len(SQLITE) :]) if uri.startswith(SQLITE) else None


def describe(uri: str) -> str:
    """One line saying which store this is and why (the line every entry point prints)."""
    if "MER_TRACKING_URI" in os.environ and uri == os.environ["MER_TRACKING_URI"]:
        origin = "from MER_TRACKING_URI"
    elif sqlite_path(uri) is not None and sqlite_path(uri) == root_dir() / "mlruns" / "mlflow.db":
        origin = f"under MER_ROOT={os.environ['MER_ROOT']}" if os.environ.get("MER_ROOT") else "under this folder"
    else:
        origin = "as set"
    return f"MLflow store: {_display(uri)} ({origin})"


def check_exists(uri: str) -> None:
    """Refuses to read a local store that is not there (opening one would create an empty store)."""
    path = sqlite_path(uri)
    if path is not None and not path.is_file():
        raise LookupError(
            f"no MLflow store at {path}: nothing was recorded under this root yet. Set MER_ROOT to the folder you "
            "trained from (or MER_TRACKING_URI / --tracking-uri to the store)"
        )


def _display(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.password:  # never print a password a URI carries
        return uri.replace(f":{parsed.password}@", ":***@")
    return uri
