"""`mer-server`: an MLflow tracking server that fold jobs on many nodes log to over HTTP (`logger=server`).

The local store (`mlruns/mlflow.db`, SQLite) is fine for one machine, but SQLite's file locks are not reliable on
the network file systems clusters share (NFS, Lustre, GPFS): concurrent writers from several nodes can corrupt it or
fail with "database is locked". Here one server process owns the database and the artifact store; jobs only speak
HTTP. The default database is SQLite under MER_ROOT (on the server's own disk: fine for one server, and for the
tests); a real cluster passes a PostgreSQL or MySQL URI. Every option `mlflow server` knows can follow.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def parse(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    root = Path(os.environ.get("MER_ROOT", Path.cwd())).resolve()
    parser = argparse.ArgumentParser(
        prog="mer-server",
        description="MLflow tracking server with a database backend and an artifact store under MER_ROOT; other "
        "`mlflow server` options (--workers, --allowed-hosts, ...) are passed on.",
        epilog="Cluster: mer-server --host 0.0.0.0 --allowed-hosts LOGIN_NODE "
        "--backend-store-uri postgresql://USER:PASSWORD@DBHOST:5432/mlflow, then "
        "`mer-train -m hydra/launcher=slurm logger=server logger.tracking_uri=http://LOGIN_NODE:5000 ...`",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: every node can reach it)")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument(
        "--backend-store-uri",
        default=f"sqlite:///{root}/mlruns/server/mlflow.db",
        help="runs, params, metrics: postgresql://... or mysql+pymysql://... on a cluster (default: %(default)s)",
    )
    parser.add_argument(
        "--artifacts-destination",
        default=str(root / "mlruns" / "server" / "artifacts"),
        help="where the server stores the artifacts folds upload (a local folder, s3://...; default: %(default)s)",
    )
    return parser.parse_known_args(argv)


def mlflow_command(args: argparse.Namespace, passed_on: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--backend-store-uri",
        args.backend_store_uri,
        "--artifacts-destination",
        args.artifacts_destination,
        *passed_on,
    ]


def main(argv: list[str] | None = None) -> None:
    args, passed_on = parse(argv)
    for uri in (args.backend_store_uri, args.artifacts_destination):
        if uri.startswith("sqlite:///"):
            Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        elif "://" not in uri:
            Path(uri).mkdir(parents=True, exist_ok=True)
    # MLflow 3's job runner (GenAI evaluation jobs, a dozen worker processes) is not needed to record runs.
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    command = mlflow_command(args, passed_on)
    print(" ".join(command), flush=True)
    os.execv(command[0], command)  # the server is this process: stopping mer-server stops it


if __name__ == "__main__":
    main()
