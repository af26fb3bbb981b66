"""`mer-ui` (what `make ui` runs): the MLflow UI over the project's store, found as every entry point finds it.

Prints which store it serves, makes sure its experiments open in the UI's training-runs view, then hands over to
`mlflow ui` (bound to 127.0.0.1 unless told otherwise), as a one-person browser: one worker, and none of MLflow's
GenAI job runners (a pool of background processes that training runs never use), so that it starts in seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from mer_lightning import store
from mer_lightning.tracking import open_in_training_view

# MLflow 3 opens pages in its GenAI mode unless told otherwise (the experiment's kind does not change that default).
TRAINING_VIEW = "workflowType=machine_learning"


def page(experiment_id: str | None = None, run_id: str | None = None, host: str = "127.0.0.1", port: int = 5000) -> str:
    """A link into the UI that opens in its training-runs view: the experiment's runs, or one run."""
    path = "/experiments" if experiment_id is None else f"/experiments/{experiment_id}/runs"
    return f"http://{host}:{port}/#{path}{'/' + run_id if run_id else ''}?{TRAINING_VIEW}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1, help="server processes (MLflow's own default: 4)")
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="the MLflow store (default: $MER_TRACKING_URI, else $MER_ROOT/mlruns/mlflow.db)",
    )
    args = parser.parse_args()
    uri = store.tracking_uri(args.tracking_uri)
    database = store.sqlite_path(uri)
    experiment = None
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
        if database.is_file():
            experiment = open_in_training_view(uri)
    print(store.describe(uri), flush=True)
    print(
        f"MLflow UI: {page(experiment, host=args.host, port=args.port)} (once Uvicorn says it is running)", flush=True
    )
    mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or shutil.which("mlflow")
    if mlflow is None:
        sys.exit("mer-ui: the `mlflow` command is not installed beside this Python")
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    os.execv(
        mlflow,
        [
            mlflow,
            "ui",
            "--backend-store-uri",
            uri,
            "--host",
            args.host,
            "--port",
            str(args.port),
            "--workers",
            str(args.workers),
        ],
    )


if __name__ == "__main__":
    main()
