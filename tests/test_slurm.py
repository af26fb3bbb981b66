"""Real SLURM submissions, as README's "Run on a cluster" runs them: a LOSO sweep through submitit_slurm equals the
same sweep run locally; folds on SLURM (DDP inside each) log to a tracking server over HTTP; folds that SLURM cancels,
times out or never starts are recorded as failed with the reason while the others are pooled; a missing partition
and an unreachable server are named before anything is submitted.

Needs a SLURM controller that answers `sinfo` (.ci/run starts one with ../shared/tools/slurm/start-slurm.sh and
sources its env.sh). Without one these tests skip and say why; under CI (`CI=true`) they fail.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from hydra_plugins.mer_lightning_plugins import preflight, slurm_launcher
from tests.conftest import REPO, cli_env, run_cli

SWEEP_TIMEOUT_S = 600  # every sweep here ends well within it; past it the test fails instead of hanging
# A failed check ends the command within its start-up time (seconds, more on a loaded machine); MLflow's own retries
# of an unreachable server would take about five minutes.
NAMED_WITHIN_S = 180


@pytest.fixture(scope="module")
def partition() -> str:
    try:
        return preflight.slurm_partitions()[0]
    # Looked up when raised: Hydra's plugin scan (any compose before) executes the module again, new classes and all.
    except (preflight.PreflightError, IndexError) as error:
        message = f"no SLURM cluster answers ({error}): run ../shared/tools/slurm/start-slurm.sh, source its env.sh"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def tracking_server(tmp_path):
    """`mer-server` on 127.0.0.1 with its SQLite database and artifact store under MER_ROOT=tmp_path."""
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "mer_lightning.server", "--port", str(port), "--workers", "1"],
            cwd=REPO,
            env=cli_env(tmp_path),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while not answers(f"{uri}/health"):
            assert server.poll() is None, f"mer-server exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "mer-server did not answer within 120 s"
            time.sleep(0.5)
        yield uri
    finally:
        server.terminate()
        server.wait(timeout=60)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def runs(client: MlflowClient, run_type: str, sweep_id: str | None = None) -> list:
    experiment = client.get_experiment_by_name("mer-lightning").experiment_id
    where = f"tags.`mer.run_type` = '{run_type}'" + (f" and tags.`mer.sweep_id` = '{sweep_id}'" if sweep_id else "")
    return client.search_runs([experiment], filter_string=where)


def predictions(client: MlflowClient, fold, tmp_path: Path) -> pd.DataFrame:
    path = client.download_artifacts(fold.info.run_id, "predictions.csv", str(tmp_path / fold.info.run_id))
    return pd.read_csv(path)


def submitit_jobs(root: Path) -> list[Path]:
    """The folder submitit keeps per SLURM job (its logs and result) of every sweep under root."""
    return sorted(pickle.parent for pickle in (root / "logs" / "multiruns").glob("**/.submitit/*/*_submitted.pkl"))


def sacct_states(job_ids: list[str]) -> dict[str, str]:
    listed = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j", ",".join(job_ids)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split("|", 1) for line in listed.split())


@pytest.mark.slow
@pytest.mark.slurm
def test_a_loso_sweep_on_slurm_equals_the_same_sweep_run_locally(tmp_path, tiny_overrides, partition):
    run_cli("mer_lightning.train", "-m", *tiny_overrides, "threads=1", root=tmp_path)
    run_cli(  # the same folds again: a new sweep, not a resume of the local one
        "mer_lightning.train",
        "-m",
        "hydra/launcher=submitit_slurm",
        f"hydra.launcher.partition={partition}",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.timeout_min=10",
        *tiny_overrides,
        "threads=1",
        "hydra.sweeper.resume=false",
        root=tmp_path,
        timeout=SWEEP_TIMEOUT_S,
    )
    jobs = [job.name for job in submitit_jobs(tmp_path)]
    assert len(jobs) == 3 and sacct_states(jobs) == dict.fromkeys(jobs, "COMPLETED")  # one SLURM job per fold

    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    local, on_slurm = sorted(runs(client, "summary"), key=lambda run: run.info.start_time)
    tables = {}
    for summary in (local, on_slurm):
        folds = runs(client, "fold", summary.data.tags["mer.sweep_id"])
        assert {fold.info.status for fold in folds} == {"FINISHED"}
        tables[summary.info.run_id] = {
            fold.data.tags["mer.fold"]: predictions(client, fold, tmp_path) for fold in folds
        }
    assert list(tables[local.info.run_id]) and tables[local.info.run_id].keys() == tables[on_slurm.info.run_id].keys()
    for fold, table in tables[local.info.run_id].items():  # the same predictions and probabilities, bit for bit
        pd.testing.assert_frame_equal(table, tables[on_slurm.info.run_id][fold], check_exact=True)
    assert local.data.metrics == on_slurm.data.metrics  # pooled UF1, UAR, accuracy, per class: exactly equal


@pytest.mark.slow
@pytest.mark.slurm
def test_folds_on_slurm_log_to_the_tracking_server_with_ddp_inside_each_fold(
    tmp_path, tiny_overrides, partition, tracking_server
):
    # README's cluster command in miniature: two ranks per fold job (CPU here, a GPU each on a cluster).
    cpus = subprocess.run(["sinfo", "-h", "-p", partition, "-o", "%c"], capture_output=True, text=True).stdout.split()
    assert int(cpus[0]) >= 2, (
        f"partition {partition}'s node has {cpus[0]} CPU: a fold job of two ranks cannot run there (start-slurm.sh "
        "sizes the node with nproc, which obeys OMP_NUM_THREADS: start it without)"
    )
    run_cli(
        "mer_lightning.train",
        "-m",
        "hydra/launcher=slurm",
        f"hydra.launcher.partition={partition}",
        "hydra.launcher.timeout_min=10",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.tasks_per_node=2",
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "logger=server",
        f"logger.tracking_uri={tracking_server}",
        "protocol.test_subject=sub01,sub02",
        *tiny_overrides,
        "threads=1",
        root=tmp_path,
        timeout=SWEEP_TIMEOUT_S,
    )
    client = MlflowClient(tracking_server)
    (summary,) = runs(client, "summary")
    folds = runs(client, "fold")
    assert sorted(fold.data.tags["mer.fold"] for fold in folds) == ["sub01", "sub02"]
    assert {fold.info.status for fold in folds} == {"FINISHED"}
    assert {fold.data.params["trainer.devices"] for fold in folds} == {"2"}
    for fold in folds:  # every test clip once, though two ranks tested it
        table = predictions(client, fold, tmp_path)
        assert table["clip"].is_unique and len(table) == 5
    assert summary.data.metrics["n_folds_missing_or_failed"] == 0 and summary.data.metrics["n_clips"] == 10

    for job in submitit_jobs(tmp_path):  # each fold job ran two SLURM tasks, which Lightning took as its DDP ranks
        assert "GLOBAL_RANK: 1, MEMBER: 2/2" in (job / f"{job.name}_1_log.err").read_text()
    # Runs and artifacts went over HTTP to the server's stores; nothing to a local store.
    experiment = client.get_experiment_by_name("mer-lightning")
    assert experiment.artifact_location.startswith("mlflow-artifacts:")
    assert len(list((tmp_path / "mlruns" / "server" / "artifacts").rglob("predictions.csv"))) == 2
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()


def start_slurm_sweep(root: Path, output: Path, *overrides: str) -> subprocess.Popen:
    """`mer-train -m hydra/launcher=slurm` (one CPU, one thread per fold job) started in the background, for a test
    that acts on its jobs while it runs; what it prints goes to `output`."""
    with output.open("w") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mer_lightning.train",
                "-m",
                "hydra/launcher=slurm",
                "hydra.launcher.cpus_per_task=1",
                "threads=1",
                *overrides,
            ],
            cwd=REPO,
            env=cli_env(root),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 300) -> str:
    """The SLURM job id (ARRAY_TASK) a stalled fold wrote to its marker."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, f"the sweep ended before fold {path.name} stalled"
        assert time.monotonic() < deadline, f"fold {path.name} did not start within {seconds} s"
        time.sleep(0.5)
    return path.read_text()


@pytest.mark.slow
@pytest.mark.slurm
def test_folds_slurm_cancels_or_times_out_are_recorded_failed_with_the_reason_and_the_rest_pooled(
    tmp_path, tiny_overrides, partition
):
    # Four folds: sub01 trains; sub02 and sub03 hang, and the test cancels sub02 (scancel) and cuts sub03's time
    # limit to one minute; sub04 is cancelled before it starts. The node has room for two fold jobs at once.
    markers = tmp_path / "markers"
    markers.mkdir()
    stall = f"+callbacks.stall={{_target_:tests.toy_callbacks.StallOn,subjects:[sub02,sub03],marker_dir:'{markers}'}}"
    output = tmp_path / "sweep.log"
    sweep = start_slurm_sweep(
        tmp_path,
        output,
        f"hydra.launcher.partition={partition}",
        "hydra.launcher.timeout_min=10",
        "hydra.launcher.array_parallelism=2",
        *tiny_overrides,
        "dataset.generator.subjects=4",
        stall,
    )
    try:
        cancelled = wait_for(markers / "sub02", sweep)
        array = cancelled.split("_")[0]
        subprocess.run(["scancel", cancelled, f"{array}_3"], check=True)
        timed_out = wait_for(markers / "sub03", sweep)
        subprocess.run(["scontrol", "update", f"JobId={timed_out}", "TimeLimit=1"], check=True)
        sweep.wait(timeout=SWEEP_TIMEOUT_S)  # nothing hangs
    finally:
        if sweep.poll() is None:
            sweep.kill()
            subprocess.run(["scancel", *[path.read_text() for path in markers.iterdir()]])
    printed = output.read_text()
    assert sweep.returncode != 0 and "3 fold job(s) failed" in printed, printed[-5000:]

    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    (summary,) = runs(client, "summary")
    folds = {fold.data.tags["mer.fold"]: fold for fold in runs(client, "fold")}
    assert {fold: run.info.status for fold, run in folds.items()} == {
        "synthetic/sub01": "FINISHED",
        "synthetic/sub02": "FAILED",
        "synthetic/sub03": "FAILED",
        "synthetic/sub04": "FAILED",
    }
    errors = {fold: run.data.tags.get("mer.error", "") for fold, run in folds.items()}
    assert f"SLURM job {array}_1 ended CANCELLED" in errors["synthetic/sub02"]
    assert "timed-out" in errors["synthetic/sub03"]  # submitit's answer to SLURM's time-limit signal
    # Cancelled before it started: SLURM records it CANCELLED, or (as it may for a task of an array) keeps no record.
    assert re.search(
        f"SLURM job {array}_3 (ended CANCELLED|left the queue without a record)", errors["synthetic/sub04"]
    )
    metrics = summary.data.metrics
    assert metrics["n_folds_missing_or_failed"] == 3
    # Incomplete: no headline figure; the pooled predictions are sub01's alone.
    assert metrics["n_folds_finished"] == 1 and "uf1" not in metrics and summary.data.tags["mer.complete"] == "false"
    pooled = client.download_artifacts(summary.info.run_id, "pooled_predictions.csv", str(tmp_path / "pooled"))
    assert len(pd.read_csv(pooled)) == len(predictions(client, folds["synthetic/sub01"], tmp_path))


def squeue_state(job: str) -> str:
    """`STATE REASON` of a job as squeue lists it, "" once it has left the queue."""
    listed = subprocess.run(["squeue", "--noheader", "--format=%T %r", f"--jobs={job}"], capture_output=True, text=True)
    return listed.stdout.strip()


@pytest.mark.slow
@pytest.mark.slurm
def test_a_pre_empted_fold_is_requeued_and_resumes_from_its_last_epoch(tmp_path, tiny_overrides, partition):
    """SLURM's pre-emption signal (USR2: what submitit asks SLURM to send before it pre-empts or times out a job)
    reaches a fold mid-training: submitit requeues its job, the fold's run ends KILLED naming the signal, and the
    requeued job reopens that run and continues from the fold's last.ckpt."""
    markers = tmp_path / "markers"
    hold = (
        f"+callbacks.hold={{_target_:tests.toy_callbacks.HoldOnceAt,subjects:[sub02],epoch:2,"
        f"marker_dir:'{markers}'}}"
    )  # holds the fold as its third epoch starts, once
    epochs = [o for o in tiny_overrides if not o.startswith("trainer.max_epochs")] + ["trainer.max_epochs=4"]
    output = tmp_path / "sweep.log"
    sweep = start_slurm_sweep(
        tmp_path,
        output,
        f"hydra.launcher.partition={partition}",
        "hydra.launcher.timeout_min=20",
        *epochs,
        "protocol.test_subject=sub02",
        hold,
    )  # a time limit of 20 min: submitit takes a signal after min(80 %, limit - 10 min) of it for a time-out,
    # which slurm.yaml's max_num_timeout=0 does not requeue
    job = ""
    try:
        job = wait_for(markers / "sub02", sweep)
        subprocess.run(["scancel", "--signal=USR2", job], check=True)
        # SLURM holds a requeued job for two minutes (its BeginTime): released as soon as it is queued again.
        deadline = time.monotonic() + SWEEP_TIMEOUT_S
        while squeue_state(job) != "PENDING BeginTime":
            assert sweep.poll() is None and time.monotonic() < deadline, "the fold's job was not requeued"
            time.sleep(0.5)
        subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], check=True)
        sweep.wait(timeout=SWEEP_TIMEOUT_S)
    finally:
        if sweep.poll() is None:
            sweep.kill()
            if job:
                subprocess.run(["scancel", job])
    printed = output.read_text()
    assert sweep.returncode == 0, printed[-5000:]

    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    (fold,), (summary,) = runs(client, "fold"), runs(client, "summary")
    assert fold.info.status == "FINISHED" and fold.data.tags["mer.attempts"] == "2"
    assert "killed by SIGUSR2" in fold.data.tags["mer.resumed"]  # how the first attempt ended
    assert fold.data.tags["mer.resumed_at_epoch"] == "2"  # last.ckpt held epoch 1: no finished epoch is redone
    assert sorted(m.step for m in client.get_metric_history(fold.info.run_id, "train/loss")) == [0, 1, 2, 3]
    assert summary.info.status == "FINISHED" and summary.data.tags["mer.complete"] == "true"


def test_the_slurm_profile_is_submitit_slurm_with_a_launcher_that_waits_for_every_fold(tmp_path, monkeypatch):
    from hydra import compose, initialize_config_dir

    monkeypatch.setenv("MER_ROOT", str(tmp_path))
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        launcher = compose(
            "train", overrides=["hydra/launcher=slurm", "hydra.launcher.partition=gpu"], return_hydra_config=True
        ).hydra.launcher
    assert launcher._target_ == "hydra_plugins.mer_lightning_plugins.slurm_launcher.SlurmLauncher"
    assert launcher.partition == "gpu" and launcher.max_num_timeout == 0 and launcher.signal_delay_s == 120
    assert {"account", "gpus_per_node", "tasks_per_node", "cpus_per_task", "timeout_min", "array_parallelism"} <= set(
        launcher
    )


@pytest.mark.slurm
def test_a_job_that_left_the_queue_without_a_record_is_not_waited_for(partition, monkeypatch):
    """submitit waits forever for a job sacct never records as ended (a task of an array cancelled while pending may
    leave no record at all); the launcher gives it up once squeue has not listed it for UNLISTED_S."""

    class NeverDone:  # what submitit answers for such a job
        job_id = "999999999_3"

        def done(self) -> bool:
            return False

    monkeypatch.setattr(slurm_launcher, "UNLISTED_S", 1)
    monkeypatch.setattr(slurm_launcher, "POLL_S", 0.2)
    assert slurm_launcher.wait_for_all([NeverDone()]) == {"999999999_3"}


@pytest.mark.slow
@pytest.mark.slurm
def test_a_partition_that_does_not_exist_is_named_before_anything_is_submitted(tmp_path, tiny_overrides, partition):
    result = run_cli(
        "mer_lightning.train",
        "-m",
        "hydra/launcher=slurm",
        "hydra.launcher.partition=nosuch",
        *tiny_overrides,
        root=tmp_path,
        check=False,
        timeout=NAMED_WITHIN_S,
    )
    assert result.returncode != 0
    assert "hydra.launcher.partition=nosuch: no partition nosuch on this SLURM cluster (sinfo lists: " in result.stderr
    assert partition in result.stderr.split("sinfo lists: ")[1]
    assert not submitit_jobs(tmp_path) and not (tmp_path / "mlruns").exists()


@pytest.mark.slow
def test_an_unreachable_tracking_server_is_named_before_anything_is_submitted(tmp_path, tiny_overrides):
    uri = f"http://127.0.0.1:{free_port()}"
    result = run_cli(
        "mer_lightning.train",
        "-m",
        "logger=server",
        f"logger.tracking_uri={uri}",
        *tiny_overrides,
        root=tmp_path,
        check=False,
        timeout=NAMED_WITHIN_S,
    )
    assert result.returncode != 0
    assert f"logger.tracking_uri={uri}: no MLflow server answers" in result.stderr
    assert not (tmp_path / "data").exists()  # named before the dataset was even read
