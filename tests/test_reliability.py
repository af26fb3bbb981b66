"""Sweeps that survive, each case a real run as a user meets it: a sweep killed with SIGKILL and run again, a fold
stopped by a signal mid-training that resumes from its last epoch, a tracking server gone mid-fold, damaged cache
entries, unusable given weights, a store that cannot be used: each gives its clear message, none loses a result."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from mlflow import MlflowClient

from mer_lightning.models import STSTNet
from tests.conftest import REPO, TINY, run_cli, write_tiny_set
from tests.test_sweep import artifact, runs, store

EPOCHS = 4
SWEEP = [o for o in TINY if not o.startswith("trainer.max_epochs")] + [f"trainer.max_epochs={EPOCHS}"]


def held(subject: str, epoch: int, markers: Path) -> str:
    """An override holding the fold of `subject` at the start of training epoch `epoch` (once: not when run again)
    after writing `markers/subject`: the test stops the process at a known point whatever the machine's load."""
    return (
        f"+callbacks.hold={{_target_:tests.toy_callbacks.HoldOnceAt,subjects:[{subject}],epoch:{epoch},"
        f"marker_dir:'{markers}'}}"
    )


def start(root: Path, *args: str, module: str = "mer_lightning.train") -> subprocess.Popen:
    env = {**os.environ, "MER_ROOT": str(root), "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def fold_folder(root: Path, fold: str) -> Path | None:
    found = sorted((root / "logs" / "multiruns").glob(f"*/{fold}"))
    return found[-1] if found else None


def epochs_logged(root: Path, fold: str) -> int:
    """How many epochs of a fold's (one-stage) training have ended, read from its local record."""
    folder = fold_folder(root, fold)
    rows = folder / "stages" / "fold" / "epochs.csv" if folder else None
    if rows is None or not rows.is_file():
        return 0
    return int((pd.read_csv(rows)["name"] == "train/loss").sum())


def finished_folds(root: Path) -> int:
    try:
        return sum(r.info.status == "FINISHED" for r in runs(store(root), "fold"))
    except Exception:  # the store is being created
        return 0


def predictions(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "result" / "predictions.csv")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The tiny LOSO sweep run once, never interrupted: what every resumed run must equal."""
    root = tmp_path_factory.mktemp("uninterrupted")
    run_cli("mer_lightning.train", "-m", *SWEEP, root=root)
    return root


@pytest.mark.slow
def test_a_sweep_killed_after_two_folds_runs_only_the_missing_ones_again_and_pools_as_if_never_killed(
    tmp_path, uninterrupted
):
    markers = tmp_path / "held"
    sweep_args = ["-m", *SWEEP, held("sub03", 1, markers)]  # the folds run in order: sub01 and sub02 have finished
    sweep = start(tmp_path, *sweep_args)
    try:
        wait_for(lambda: (markers / "sub03").is_file(), 900, "the third fold to reach its second epoch")
        sweep.send_signal(signal.SIGKILL)
        sweep.wait(timeout=60)
    finally:
        sweep.kill()
    client = store(tmp_path)
    (summary,) = runs(client, "summary")
    assert summary.info.status == "RUNNING"  # nothing could close it: that is what a resume or mer-summarize does
    sweep_id = summary.data.tags["mer.sweep_id"]
    folder = tmp_path / "logs" / "multiruns" / sweep_id  # a folder per sweep id: two sweeps never share one
    assert (folder / "multirun.yaml").is_file() and json.loads((folder / "sweep.json").read_text())[
        "sweep_id"
    ] == sweep_id
    before = {r.data.tags["mer.fold"]: r for r in runs(client, "fold") if r.info.status == "FINISHED"}
    assert len(before) == 2

    summarized = run_cli(
        "mer_lightning.summarize",
        sweep_id,
        "--tracking-uri",
        f"sqlite:///{tmp_path}/mlruns/mlflow.db",
        root=tmp_path,
        check=False,
    )
    assert summarized.returncode == 1
    report = summarized.stdout[summarized.stdout.index(f"=== sweep {sweep_id} ===") :].splitlines()
    assert report[1].startswith("INCOMPLETE: 2 of 3 folds finished")
    closed = client.get_run(summary.info.run_id)
    assert closed.info.status == "FAILED" and closed.data.tags["mer.complete"] == "false"
    assert "uf1" not in closed.data.metrics and closed.data.metrics["n_folds_finished"] == 2
    assert {r.info.status for r in runs(client, "fold")} <= {"FINISHED", "KILLED"}  # no RUNNING run left behind

    again = run_cli("mer_lightning.train", *sweep_args, root=tmp_path)
    assert f"sweep {sweep_id} resumed: 2 of 3 folds already finished, 1 to run" in again.stdout + again.stderr
    after = runs(client, "fold")
    for fold, run in before.items():  # the finished folds were not run again
        (same,) = [r for r in after if r.data.tags["mer.fold"] == fold]
        assert same.info.run_id == run.info.run_id and same.info.end_time == run.info.end_time
    assert sorted(r.data.tags["mer.fold"] for r in after) == [f"synthetic/sub0{i}" for i in (1, 2, 3)]
    assert {r.info.status for r in after} == {"FINISHED"}
    (summary,) = runs(client, "summary")
    assert summary.info.status == "FINISHED" and summary.data.tags["mer.complete"] == "true"
    (reference,) = runs(store(uninterrupted), "summary")
    resumed_table = pd.read_csv(artifact(client, summary.info.run_id, "pooled_predictions.csv", tmp_path / "a"))
    reference_table = pd.read_csv(
        artifact(store(uninterrupted), reference.info.run_id, "pooled_predictions.csv", tmp_path / "b")
    )
    pd.testing.assert_frame_equal(resumed_table, reference_table)
    assert summary.data.metrics["uf1"] == reference.data.metrics["uf1"]


def saved_epoch(root: Path, fold: str) -> int | None:
    """The epoch a fold's (one-stage) training state was last saved at: its last.ckpt, as the fold keeps it."""
    folder = fold_folder(root, fold)
    checkpoint = folder / "stages" / "fold" / "last.ckpt" if folder else None
    if checkpoint is None or not checkpoint.is_file():
        return None
    return int(torch.load(checkpoint, map_location="cpu", weights_only=True)["epoch"])  # replaced whole, never torn


@pytest.mark.slow
def test_a_fold_stopped_by_sigterm_mid_training_ends_killed_and_resumes_from_its_last_epoch(tmp_path, uninterrupted):
    markers = tmp_path / "held"
    fold = ["-m", *SWEEP, "protocol.test_subject=sub02", held("sub02", 2, markers)]
    sweep = start(tmp_path, *fold)
    try:  # stopped as the fold starts its third epoch (the event is a file the fold writes, not a time)
        wait_for(lambda: (markers / "sub02").is_file(), 900, "the fold to reach its third epoch")
        sweep.send_signal(signal.SIGTERM)
        output, _ = sweep.communicate(timeout=900)
    finally:
        sweep.kill()
    assert sweep.returncode != 0
    client = store(tmp_path)
    (killed,) = runs(client, "fold")
    (summary,) = runs(client, "summary")
    assert killed.info.status == "KILLED" and killed.data.tags["mer.signal"] == "SIGTERM"
    assert killed.data.tags["mer.error"].startswith("killed by SIGTERM")
    assert summary.info.status == "KILLED" and summary.data.tags["mer.complete"] == "false"
    assert "INCOMPLETE: 0 of 1 folds" in output
    folder = fold_folder(tmp_path, "sub02")
    saved = saved_epoch(tmp_path, "sub02")  # the last epoch whose end the stopped fold saved
    assert saved == 1

    again = run_cli("mer_lightning.train", *fold, root=tmp_path)
    (resumed,) = runs(client, "fold")
    assert resumed.info.run_id == killed.info.run_id and resumed.info.status == "FINISHED"
    epoch = int(resumed.data.tags["mer.resumed_at_epoch"])
    assert epoch == saved + 1  # the epoch after the last one saved: nothing before it is trained again
    assert f"resumed at epoch {epoch} from {folder / 'stages' / 'fold' / 'last.ckpt'}" in again.stdout + again.stderr
    assert "mer.error" not in resumed.data.tags and "mer.signal" not in resumed.data.tags
    history = client.get_metric_history(resumed.info.run_id, "train/loss")
    assert sorted({m.step for m in history}) == list(range(EPOCHS))
    assert not (folder / "stages" / "fold" / "last.ckpt").exists()  # the stage is done: its weights are saved
    pd.testing.assert_frame_equal(predictions(folder), predictions(fold_folder(uninterrupted, "synthetic/sub02")))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TrackingServer:
    """`mlflow server` on 127.0.0.1 over a SQLite file, started in its own process group (stopped by its id)."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        mlflow = Path(sys.executable).with_name("mlflow")
        self.process = subprocess.Popen(
            [
                str(mlflow),
                "server",
                "--backend-store-uri",
                f"sqlite:///{self.root}/server.db",
                "--artifacts-destination",
                str(self.root / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                return False

        wait_for(answers, 600, "the tracking server to start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.mark.slow
def test_a_tracking_server_killed_mid_fold_loses_no_result(tmp_path):
    server = TrackingServer(tmp_path, free_port())
    server.start()
    sweep = None
    try:
        markers = tmp_path / "held"
        fold = [
            "-m",
            *SWEEP,
            "protocol.test_subject=sub02",
            f"logger.tracking_uri={server.uri}",
            held("sub02", 2, markers),
        ]
        sweep = start(tmp_path, *fold)
        wait_for(lambda: (markers / "sub02").is_file(), 900, "the fold to reach its third epoch")
        server.stop()  # mid-training, as a server lost with its node
        (markers / "sub02.go").touch()
        output, _ = sweep.communicate(timeout=900)
        assert sweep.returncode != 0
        folder = fold_folder(tmp_path, "sub02")
        assert "the store failed" in output and f"`mer-sync {folder}` uploads it" in output
        assert epochs_logged(tmp_path, "sub02") == EPOCHS  # training went on to the end
        local = predictions(folder)
        assert len(local) == 5 and (folder / "stages" / "fold" / "weights.pt").is_file()

        server.start()  # back, on the same database
        synced = run_cli("mer_lightning.sync", str(tmp_path / "logs"), root=tmp_path)
        assert f"{folder}: uploaded stage fold, result" in synced.stdout
        client = MlflowClient(server.uri)
        (run,) = runs(client, "fold")
        assert run.info.status == "FINISHED"
        pd.testing.assert_frame_equal(
            pd.read_csv(artifact(client, run.info.run_id, "predictions.csv", tmp_path / "a")), local
        )
        history = client.get_metric_history(run.info.run_id, "train/loss")
        assert sorted(m.step for m in history) == list(range(EPOCHS))  # every epoch, none twice
        assert "weights.pt" in {a.path for a in client.list_artifacts(run.info.run_id)}
        (summary,) = runs(client, "summary")
        assert summary.info.status == "FINISHED" and summary.data.tags["mer.complete"] == "true"
        assert "nothing to upload" in run_cli("mer_lightning.sync", str(tmp_path / "logs"), root=tmp_path).stdout
    finally:
        if sweep is not None:
            sweep.kill()
        server.stop()


@pytest.mark.slow
def test_damaged_cache_entries_are_detected_and_computed_again(tmp_path):
    fold = ["protocol.test_subject=sub02", *TINY]
    run_cli("mer_lightning.train", *fold, root=tmp_path)
    entries = sorted((tmp_path / "cache").glob("*/*.npz"))
    assert len(entries) > 2 and all(e.stat().st_mode & 0o040 for e in entries)  # group-readable
    truncated, altered = entries[0], entries[1]
    truncated.write_bytes(truncated.read_bytes()[:100])
    with np.load(altered) as stored:
        arrays = {key: stored[key] for key in stored.files}
    arrays["flow"] = arrays["flow"] * 0 + 1  # well-formed, its record kept: the values are not what it was made with
    with open(altered, "wb") as file:
        np.savez(file, **arrays)
    first = sorted((tmp_path / "logs" / "runs").glob("*"))[0]
    again = run_cli("mer_lightning.train", *fold, root=tmp_path)
    output = again.stdout + again.stderr
    assert f"cache entry {truncated} of clip " in output and "is unreadable" in output
    assert f"cache entry {altered} of clip " in output and "holds values other than those it was written with" in output
    second = sorted((tmp_path / "logs" / "runs").glob("*"))[-1]
    pd.testing.assert_frame_equal(predictions(first), predictions(second))


@pytest.mark.slow
def test_given_weights_are_checked_for_every_fold_before_any_runs(tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    torch.save(STSTNet().state_dict(), weights / "sub01.pth")
    (weights / "sub02.pth").write_bytes(b"")
    (weights / "sub03.pth").write_bytes(os.urandom(500))
    result = run_cli("mer_lightning.evaluate", "-m", f"checkpoint_dir={weights}", *TINY, root=tmp_path, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "2 of 3 folds' weights cannot be used; no fold was run" in output
    assert f"weights file {weights / 'sub02.pth'} is empty (0 bytes)" in output
    assert f"weights file {weights / 'sub03.pth'} is not a PyTorch weights file" in output
    assert "weights_only=False" not in output and "weights_only` set to `False" not in output
    # (checkpoint_dir=/nonexistent is refused as a setting before any fold: test_settings.py)
    experiment = store(tmp_path).get_experiment_by_name("mer-lightning")
    assert experiment is None or not store(tmp_path).search_runs(
        [experiment.experiment_id]
    )  # nothing ran, nothing open


@pytest.mark.slow
def test_a_store_that_cannot_be_used_is_named_before_anything_runs(tmp_path):
    # (A tracking server that does not answer: test_slurm.py::test_an_unreachable_tracking_server_is_named_before_...)
    deep = tmp_path
    while len(str(deep / "mlruns" / "mlflow.db")) <= 520:
        deep = deep / ("d" * 60)
    long = run_cli("mer_lightning.train", "protocol.test_subject=sub01", *TINY, root=deep, check=False)
    assert long.returncode != 0 and "longer than SQLite can open" in long.stdout + long.stderr
    assert not (deep / "logs").exists() or not list((deep / "logs").rglob("epochs.csv"))  # nothing trained


@pytest.mark.slow
def test_a_staged_fold_stopped_mid_stage_resumes_in_that_stage_without_redoing_the_finished_ones(tmp_path):
    from tests.test_stages import staged

    markers = tmp_path / "held"
    fold = ["-m", *staged(TINY), "protocol.test_subject=sub02", held("sub02", 1, markers)]  # the tested stage, me
    sweep = start(tmp_path, *fold)
    try:
        wait_for(lambda: (markers / "sub02").is_file(), 900, "stage me to reach its second epoch")
        sweep.send_signal(signal.SIGTERM)
        sweep.wait(timeout=900)
    finally:
        sweep.kill()
    client = store(tmp_path)
    (stopped,) = runs(client, "fold")
    before = {s.data.tags["mer.stage"]: s for s in runs(client, "stage")}
    # No run says FINISHED that did not finish, none holds what only a finished stage leaves; the signal is named.
    assert {name: run.info.status for name, run in before.items()} == {
        "fir": "FINISHED",
        "er": "FINISHED",
        "me": "KILLED",
    }
    for run in (before["me"], stopped):
        assert run.info.status == "KILLED" and run.data.tags["mer.signal"] == "SIGTERM"
        assert run.data.tags["mer.error"].startswith("killed by SIGTERM")
    assert "predictions.csv" not in {a.path for a in client.list_artifacts(stopped.info.run_id)}
    assert "weights.pt" not in {a.path for a in client.list_artifacts(before["me"].info.run_id)}
    folder = fold_folder(tmp_path, "sub02")
    fir_weights = (folder / "stages" / "fir" / "weights.pt").stat().st_mtime_ns

    again = run_cli("mer_lightning.train", *fold, root=tmp_path)
    for stage in ("fir", "er"):
        assert f"stage {stage} already done ({folder / 'stages' / stage})" in again.stdout + again.stderr
    after = {s.data.tags["mer.stage"]: s for s in runs(client, "stage")}
    for stage in ("fir", "er"):  # not run again
        assert after[stage].info.run_id == before[stage].info.run_id
        assert after[stage].info.end_time == before[stage].info.end_time
    assert (folder / "stages" / "fir" / "weights.pt").stat().st_mtime_ns == fir_weights
    assert after["me"].info.run_id == before["me"].info.run_id and after["me"].data.tags["mer.resumed_at_epoch"] == "1"
    assert {s.info.status for s in after.values()} == {"FINISHED"}
    (fold_run,) = runs(client, "fold")
    assert fold_run.info.status == "FINISHED"

    reference = tmp_path / "reference"
    run_cli("mer_lightning.train", *fold, root=reference)
    pd.testing.assert_frame_equal(predictions(folder), predictions(fold_folder(reference, "sub02")))


@pytest.mark.slow
def test_on_error_skip_leaves_out_and_lists_every_faulty_clip(tmp_path):
    write_tiny_set(tmp_path)
    clips = tmp_path / "data" / "synthetic" / "CASME2_RAW_selected"
    # Clips the default scheme keeps (not "others"), of three subjects.
    missing, linked, damaged = clips / "sub01" / "EP01_02", clips / "sub02" / "EP01_01", clips / "sub03" / "EP01_01"
    frame = sorted(missing.glob("img*.jpg"))[2]
    frame.unlink()  # a frame missing: the reader finds it
    link = sorted(linked.glob("img*.jpg"))[2]
    link.unlink()
    link.symlink_to(tmp_path / "nowhere.jpg")  # a broken symlink
    for image in damaged.glob("img*.jpg"):  # every frame cut short: preprocessing finds it
        image.write_bytes(image.read_bytes()[: image.stat().st_size * 4 // 5])
    run_cli("mer_lightning.train", "protocol.test_subject=sub01", "datamodule.on_error=skip", *TINY, root=tmp_path)
    client = store(tmp_path)
    (fold,) = runs(client, "fold")
    assert fold.info.status == "FINISHED" and fold.data.metrics["skipped_clips"] == 3
    listed = json.loads(artifact(client, fold.info.run_id, "skipped_clips.json", tmp_path).read_text())
    # A reader-level fault is listed under the sheet row it stopped at, a preprocessing one under the clip.
    assert len(listed) == 3 and "synthetic/sub03/EP01_01" in listed
    reasons = "\n".join(listed.values())
    assert f"missing from {missing}" in reasons and f"frame {link} is not a file" in reasons
