"""The tracking store, checked before anything trains: each failure named within seconds, not after minutes of retries.

Unchecked, an unreachable tracking server was reported after about five minutes of MLflow's HTTP retries, and a
SQLite file whose path is too long (under a deep MER_ROOT) after 100 s, as "unable to open database file". Here: a
SQLite store's path length and folder, opened at once; a server's `/health`, asked once with a short timeout; a local
artifact folder, writable. MLflow's HTTP retries are also shortened for the whole process (unless set in the
environment): a store that goes away mid-fold costs seconds, and the fold's result is kept locally anyway.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import urlparse

# SQLite opens files by paths of at most 512 bytes, and its journal is the database's path plus "-journal".
SQLITE_MAX_PATH = 512 - len("-journal")
SERVER_TIMEOUT_S = 5
# MLflow's HTTP client defaults (7 retries, backoff factor 2, 120 s timeout) wait minutes on a dead server.
HTTP_RETRIES = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


class StoreError(RuntimeError):
    """The tracking store cannot be used (raised before any training, naming the setting and the cause)."""


def short_http_retries() -> None:
    for name, value in HTTP_RETRIES.items():
        os.environ.setdefault(name, value)


def check_store(tracking_uri: str, artifact_location: str | None = None) -> None:
    """Raises StoreError when the store at `tracking_uri` (and a local `artifact_location`) cannot be used."""
    scheme = urlparse(tracking_uri).scheme
    if scheme == "sqlite":
        check_sqlite(tracking_uri)
    elif scheme in ("http", "https"):
        check_server(tracking_uri)
    elif scheme in ("", "file"):
        writable_folder(Path(urlparse(tracking_uri).path), f"logger.tracking_uri={tracking_uri}")
    if artifact_location and urlparse(str(artifact_location)).scheme in ("", "file"):
        writable_folder(Path(urlparse(str(artifact_location)).path), f"logger.artifact_location={artifact_location}")


def check_sqlite(tracking_uri: str) -> None:
    """A SQLite store: a path SQLite can open, in a folder that exists or can be made, writable, and a database
    that opens."""
    setting = f"logger.tracking_uri={tracking_uri}"
    path = Path(tracking_uri.removeprefix("sqlite:///")).absolute()
    length = len(str(path).encode())
    if length > SQLITE_MAX_PATH:
        raise StoreError(
            f"{setting}: the database's path is {length} bytes long, longer than SQLite can open ({SQLITE_MAX_PATH}, "
            f"its journal's name included): run from a shorter MER_ROOT, or give logger.tracking_uri a shorter path"
        )
    writable_folder(path.parent, setting)
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(f"{setting}: the database {path} cannot be written to by this user")
    try:
        connection = sqlite3.connect(path, timeout=SERVER_TIMEOUT_S)
        try:
            connection.execute("PRAGMA schema_version").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise StoreError(f"{setting}: SQLite cannot open {path}: {error}") from None


def writable_folder(folder: Path, setting: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"{setting}: cannot make the folder {folder}: {error.strerror or error}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(f"{setting}: the folder {folder} cannot be written to by this user")


def check_server(tracking_uri: str) -> None:
    """A tracking server (an http(s) URI) answers MLflow's `/health` at once, asked once with a short timeout; other
    stores are local (nothing to ask). The one check of a server: a sweep runs it before it reads any data or submits
    any job, and every Tracker before it records."""
    if urlparse(tracking_uri).scheme not in ("http", "https"):
        return
    from mlflow.exceptions import MlflowException
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    try:
        response = http_request(
            get_default_host_creds(tracking_uri), "/health", "GET", max_retries=0, timeout=SERVER_TIMEOUT_S
        )
    except MlflowException as error:
        raise StoreError(
            f"logger.tracking_uri={tracking_uri}: no MLflow server answers ({error.message.splitlines()[0]}); start "
            "one with `make server` (mer-server), or correct the URI"
        ) from None
    if response.status_code != 200:
        raise StoreError(
            f"logger.tracking_uri={tracking_uri}: /health answered HTTP {response.status_code}: not an MLflow server?"
        )
