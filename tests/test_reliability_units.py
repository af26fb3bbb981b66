"""The pieces sweeps survive by, each on its own: signals named, processes told dead from alive, fold identities,
store checks that fail fast, local fold records, weights files refused with their name, incomplete reports."""

import os
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from mer_lightning import interrupts
from mer_lightning.identity import fold_hash, sweep_hash
from mer_lightning.lit.task import TaskResult
from mer_lightning.models.weights import WeightsError, load_weights, read_weights
from mer_lightning.processes import alive, this_process
from mer_lightning.records import FoldFolder, fold_folders
from mer_lightning.reports import summarize_predictions
from mer_lightning.store_check import SQLITE_MAX_PATH, StoreError, check_store


def test_a_run_stopped_by_a_signal_is_killed_and_names_it_an_error_fails_it():
    assert interrupts.stop_reason(interrupts.Interrupted(signal.SIGTERM)) == (
        "KILLED",
        "killed by SIGTERM (Interrupted: stopped by SIGTERM)",
        "SIGTERM",
    )
    status, reason, name = interrupts.stop_reason(KeyboardInterrupt())
    assert (status, name) == ("KILLED", "SIGINT") and reason.startswith("killed by SIGINT")
    assert interrupts.stop_reason(ValueError("bad clip")) == ("FAILED", "ValueError: bad clip", None)


def test_the_watcher_turns_a_deadly_signal_into_an_exception_and_leaves_a_launchers_handler_in_charge():
    script = """
import os, signal
from mer_lightning import interrupts
seen = []
signal.signal(signal.SIGUSR2, lambda s, f: seen.append(s))   # a launcher's (submitit's) handler
interrupts.watch()
os.kill(os.getpid(), signal.SIGUSR2)
assert seen == [signal.SIGUSR2] and interrupts.received() == "SIGUSR2"
try:
    os.kill(os.getpid(), signal.SIGTERM)
except interrupts.Interrupted as stopped:
    print("interrupted", signal.Signals(stopped.signum).name, interrupts.received())
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "interrupted SIGTERM SIGTERM", result.stderr


def test_a_launcher_that_exits_on_its_signal_is_named_not_the_signal_that_arrived_meanwhile():
    script = """
import os, signal
from mer_lightning import interrupts
signal.signal(signal.SIGTERM, lambda s, f: None)   # submitit lets SIGTERM pass
def requeue(s, f):                                  # submitit on SIGUSR2: requeues (SLURM then sends SIGTERM), exits
    os.kill(os.getpid(), signal.SIGTERM)
    raise SystemExit(-1)
signal.signal(signal.SIGUSR2, requeue)
interrupts.watch()
try:
    os.kill(os.getpid(), signal.SIGUSR2)
except SystemExit as stopped:
    print(interrupts.stop_reason(stopped))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "('KILLED', 'killed by SIGUSR2 (SystemExit: -1)', 'SIGUSR2')", result.stderr


def test_a_process_is_told_alive_dead_or_unknown():
    assert alive(this_process()) is True
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host = socket.gethostname()
    assert alive(f"{host}:{child.pid}:{time.time():.2f}") is False
    assert alive(f"another-host:{os.getpid()}:1.00") is None
    assert alive("") is None


def test_a_folds_identity_leaves_out_where_it_runs_and_is_recorded():
    config = {"seed": 1, "trainer": {"max_epochs": 3}, "protocol": {"test_subject": "sub01"}}
    elsewhere = {**config, "logger": {"sweep_id": "x"}, "paths": {"root_dir": "/a"}, "threads": 2, "hydra": {}}
    assert fold_hash(config) == fold_hash(elsewhere)
    assert fold_hash(config) != fold_hash({**config, "trainer": {"max_epochs": 4}})
    assert sweep_hash(["a", "b"]) == sweep_hash(["b", "a"]) != sweep_hash(["a"])


def test_a_sqlite_store_whose_path_sqlite_cannot_open_is_refused_at_once(tmp_path):
    deep = tmp_path
    while len(str(deep / "mlflow.db")) <= SQLITE_MAX_PATH:
        deep = deep / ("d" * 60)
    with pytest.raises(StoreError, match=r"bytes long, longer than SQLite can open .*shorter MER_ROOT"):
        check_store(f"sqlite:///{deep}/mlflow.db")
    check_store(f"sqlite:///{tmp_path}/ok/mlflow.db")
    assert (tmp_path / "ok").is_dir()
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot make the folder"):
        check_store(f"sqlite:///{tmp_path}/file/sub/mlflow.db")


def test_a_tracking_server_that_does_not_answer_is_named_within_seconds():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(StoreError, match=f"logger.tracking_uri=http://127.0.0.1:{port}: no MLflow server answers"):
        check_store(f"http://127.0.0.1:{port}")
    assert time.monotonic() - start < 30  # not MLflow's minutes of retries


def test_a_stage_record_round_trips_and_says_how_far_it_got(tmp_path):
    folder = FoldFolder(tmp_path / "fold")
    folder.save_info({"fold": "sub01", "stages": [{"name": "", "index": 0}], "runs": {}})
    stage = folder.stage("")
    stage.write(
        TaskResult(metrics={"mse": 0.5}, artifacts={"notes/a.txt": "hello", "b.json": {"x": 1}}),
        {"train": ["a"], "val": [], "test": ["b"]},
        {"start": {"": "1"}, "end": {"": "2"}},
    )
    stage.append_epochs([("train/loss", 1.0, 0, 10), ("train/loss", 0.9, 1, 20)])
    stage.append_epochs([("train/loss", 0.8, 1, 30)])  # a resumed epoch logged again: the last value counts
    stage.checkpoint.write_bytes(b"state")
    assert not stage.done and stage.metrics() == {"mse": 0.5}
    stage.finish()
    assert stage.done and not stage.stored and not stage.checkpoint.exists()
    assert list(stage.epoch_rows()[["step", "value"]].itertuples(index=False, name=None)) == [(0, 1.0), (1, 0.8)]
    files = {(path.name, where) for path, where in stage.files()}
    assert files == {("split.json", ""), ("weight_digests.json", ""), ("a.txt", "notes"), ("b.json", "")}
    assert [f.path for f in fold_folders(tmp_path)] == [folder.path]
    assert folder.update_info(runs={"": "r1"})["fold"] == "sub01" and folder.info["runs"] == {"": "r1"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty (0 bytes)"),
        (os.urandom(300), "is not a PyTorch weights file"),
        ("truncated", "is cut short or damaged"),
        ("objects", "holds objects other than tensors and plain containers (numpy"),
    ],
)
def test_a_weights_file_that_cannot_be_loaded_safely_is_refused_naming_it(tmp_path, content, message):
    path = tmp_path / "sub01.pth"
    net = torch.nn.Linear(2, 2)
    if content == "truncated":
        torch.save(net.state_dict(), path)
        path.write_bytes(path.read_bytes()[:200])
    elif content == "objects":
        import numpy as np

        torch.save({"weight": np.ones(2)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(WeightsError) as refused:
        load_weights(net, path)
    assert str(refused.value).startswith(f"weights file {path} {message}")
    assert "weights_only=False" not in str(refused.value) and "weights_only` set to `False" not in str(refused.value)
    with pytest.raises(FileNotFoundError, match=f"weights file {tmp_path / 'none.pth'} not found"):
        read_weights(tmp_path / "none.pth")


def test_an_incomplete_summary_says_so_first():
    table = pd.DataFrame(
        {"clip": ["a", "b"], "subject": ["s1", "s1"], "dataset": ["d", "d"], "label": [0, 1], "prediction": [0, 1]}
    )
    summary = summarize_predictions(table, ["x", "y"])
    summary.n_expected, summary.missing_folds, summary.failed_folds = 3, ["s2"], ["s3"]
    assert not summary.complete
    assert summary.report().startswith("INCOMPLETE: 1 of 3 folds finished (missing: ['s2'], failed: ['s3'])")
    summary.missing_folds, summary.failed_folds = [], []
    assert summary.complete and summary.report().startswith("pooled over 2 clips")
