"""What a user sees, end to end with MER_ROOT set: one store for every entry point (the UI checked through its REST
API), summary runs that read well in the UI, and bad settings refused before any run is created."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import nbformat
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from nbclient import NotebookClient

from tests.conftest import REPO, TINY, run_cli

pytestmark = pytest.mark.slow


def store(root: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{root}/mlruns/mlflow.db")


def summaries(client: MlflowClient) -> list:
    experiment = client.get_experiment_by_name("mer-lightning")
    return client.search_runs(
        [experiment.experiment_id],
        filter_string="tags.`mer.run_type` = 'summary'",
        order_by=["attributes.start_time ASC"],
    )


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> dict:
    """Two sweeps of one command (seeds 1 and 2), run from a folder that is not the root."""
    root, elsewhere = tmp_path_factory.mktemp("root"), tmp_path_factory.mktemp("elsewhere")
    result = run_cli("mer_lightning.train", "-m", "seed=1,2", *TINY, root=root, cwd=elsewhere)
    runs = summaries(store(root))
    return {
        "root": root,
        "elsewhere": elsewhere,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "runs": runs,
        "ids": [r.data.tags["mer.sweep_id"] for r in runs],
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rest(port: int, endpoint: str, body: dict | None = None) -> dict:
    url = f"http://127.0.0.1:{port}/api/2.0/mlflow/{endpoint}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_training_says_where_its_store_is_and_how_far_it_is(sweeps):
    root, log = sweeps["root"], sweeps["stderr"] + sweeps["stdout"]
    assert f"MLflow store: sqlite:///{root}/mlruns/mlflow.db (under MER_ROOT={root})" in log
    assert "generating the synthetic set (3 subjects x 6 clips" in log and "filling the cache: 15 of 15 clips" in log
    assert re.search(r"fold 1/3: synthetic/sub01 \(ststnet on synthetic\)", log)
    assert re.search(
        r"fold 3/3 done \(synthetic/sub03\): UF1 \d\.\d{4}  UAR \d\.\d{4}  accuracy \d\.\d{4}; \d+s elapsed", log
    )
    assert re.search(r"fold 1/3 done .*elapsed, about \d+(m\d\ds|s) left", log)
    for noise in (
        "GPU available",
        "TPU available",
        "litlogger",
        "srun",
        "LeafSpec",
        "Downloading artifacts",
        "Creating initial MLflow database tables",
        "Seed set to",
    ):
        assert noise not in log


def test_every_entry_point_uses_the_same_store(sweeps, monkeypatch):
    root, elsewhere = sweeps["root"], sweeps["elsewhere"]
    first, second = sweeps["runs"]
    sweep_a = sweeps["ids"][0]

    summarized = run_cli("mer_lightning.summarize", sweep_a, root=root, cwd=elsewhere)
    assert f"MLflow store: sqlite:///{root}/mlruns/mlflow.db (under MER_ROOT={root})" in summarized.stdout
    assert f"UF1 {first.data.metrics['uf1']:.4f}" in summarized.stdout

    run_cli("mer_lightning.evaluate", "-m", f"from_sweep={sweep_a}", root=root, cwd=elsewhere)
    retest = [r for r in summaries(store(root)) if r.data.tags.get("mer.from_sweep") == sweep_a]
    assert len(retest) == 1 and retest[0].data.metrics["uf1"] == pytest.approx(first.data.metrics["uf1"])
    assert retest[0].info.run_name.startswith("ststnet on synthetic, loso (3 folds, re-test of ")
    assert retest[0].data.params["trainer.max_epochs"] == "2"  # what the re-tested sweep was trained with

    monkeypatch.setenv("MER_ROOT", str(root))
    notebook = nbformat.read(REPO / "notebooks" / "compare_runs.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(elsewhere)}}).execute()
    printed = "".join(o.get("text", "") for o in notebook.cells[1].outputs)
    assert f"MLflow store: sqlite:///{root}/mlruns/mlflow.db (under MER_ROOT={root})" in printed
    table = next(o for o in notebook.cells[2].outputs if o.get("output_type") == "execute_result")
    assert sweep_a in table["data"]["text/plain"] and "ststnet on synthetic (loso)" in table["data"]["text/plain"]

    port = free_port()
    env = {**os.environ, "MER_ROOT": str(root)}
    env.pop("MER_TRACKING_URI", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "mer_lightning.ui", "--port", str(port)],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        experiment = None
        for _ in range(240):
            try:
                experiment = rest(port, "experiments/get-by-name?experiment_name=mer-lightning")["experiment"]
                break
            except OSError:
                time.sleep(0.5)
        assert experiment is not None, "the UI server did not answer"
        tags = {t["key"]: t["value"] for t in experiment.get("tags", [])}
        assert tags["mlflow.experimentKind"] == "custom_model_development"  # opens in the training-runs view
        found = rest(
            port,
            "runs/search",
            {"experiment_ids": [experiment["experiment_id"]], "filter": "tags.`mer.run_type` = 'summary'"},
        )["runs"]
        names = {r["info"]["run_name"] for r in found}
        assert {first.info.run_name, second.info.run_name} <= names
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    assert f"MLflow store: sqlite:///{root}/mlruns/mlflow.db (under MER_ROOT={root})" in output
    # The link it prints opens the training-runs view (MLflow 3 opens its GenAI view unless the link says otherwise).
    assert (
        f"http://127.0.0.1:{port}/#/experiments/{experiment['experiment_id']}/runs?workflowType=machine_learning"
        in output
    )
    assert not any(elsewhere.iterdir())  # no entry point left a store (or anything) in the folder it ran from


def test_a_summary_run_reads_well_in_the_ui(sweeps):
    client = store(sweeps["root"])
    first, second = sweeps["runs"]
    for run, sweep_id in zip(sweeps["runs"], sweeps["ids"]):
        assert run.info.run_name == f"ststnet on synthetic, loso (3 folds) {sweep_id}"
    # The composed config as params: compare and search work on any setting, and tell the sweeps apart.
    assert first.data.params["seed"] == "1" and second.data.params["seed"] == "2"
    assert first.data.params["trainer.max_epochs"] == "2" and first.data.params["model.name"] == "ststnet"
    assert first.data.params["dataset.generator.subjects"] == "3"
    metrics = first.data.metrics
    for subject in ("sub01", "sub02", "sub03"):
        assert {f"subject_{m}/synthetic/{subject}" for m in ("uf1", "uar", "accuracy")} <= set(metrics)
    assert metrics["uf1_ci_low"] <= metrics["uf1"] <= metrics["uf1_ci_high"]
    assert metrics["uar_ci_low"] <= metrics["uar"] <= metrics["uar_ci_high"]
    artifacts = {a.path for a in client.list_artifacts(first.info.run_id)}
    assert {"confusion.png", "per_subject.png", "training_loss.png", "per_subject.csv"} <= artifacts
    # The run list's Dataset column names the dataset (MLflow's dataset input), not "-".
    assert [d.dataset.name for d in client.get_run(first.info.run_id).inputs.dataset_inputs] == ["synthetic"]
    assert re.search(r"UF1 \d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\]", sweeps["stdout"])  # printed with its interval


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ([*TINY, "trainer.max_epochs=-1"], "setting trainer.max_epochs=-1: must be an integer >= 1"),
        ([*TINY, "threads=abc"], "setting threads='abc': must be a positive integer"),
        (
            ["dataset=casme2", "dataset.root=/nonexistent/CASME2"],
            "root folder /nonexistent/CASME2 does not exist (set dataset.root)",
        ),
    ],
)
@pytest.mark.parametrize("multirun", [True, False])
def test_a_bad_value_is_refused_before_any_run_is_created(tmp_path, overrides, named, multirun):
    fold = [] if multirun else ["protocol.test_subject=sub01"]
    result = run_cli(
        "mer_lightning.train", *(["-m"] if multirun else []), *fold, *overrides, root=tmp_path, check=False
    )
    assert result.returncode != 0 and named in result.stderr
    assert "Traceback" not in result.stderr  # one message, not a traceback
    assert not (tmp_path / "mlruns").exists()  # no run, not even a store


def test_an_unknown_sweep_names_the_store_searched_and_the_sweeps_it_holds(sweeps):
    result = run_cli("mer_lightning.summarize", "nosuch", root=sweeps["root"], cwd=sweeps["elsewhere"], check=False)
    assert result.returncode != 0
    assert (
        f"no sweep 'nosuch' in experiment 'mer-lightning' of MLflow store: sqlite:///{sweeps['root']}" in result.stderr
    )
    assert all(sweep_id in result.stderr for sweep_id in sweeps["ids"])
    assert "Traceback" not in result.stderr


def fold_predictions(client: MlflowClient, sweep_id: str, fold: str, tmp_path: Path) -> tuple[pd.DataFrame, list]:
    experiment = client.get_experiment_by_name("mer-lightning").experiment_id
    (run,) = client.search_runs(
        [experiment],
        f"tags.`mer.sweep_id` = '{sweep_id}' and tags.`mer.fold` = '{fold}' and tags.`mer.run_type` = 'fold'",
    )
    path = client.download_artifacts(run.info.run_id, "predictions.csv", str(tmp_path))
    return pd.read_csv(path), json.loads(run.data.tags["mer.class_names"])


def key_positions(root: Path, subject: str, clip: str) -> tuple[Path, dict[str, int]]:
    """A synthetic clip's frame folder and its annotated key frames as positions among its frames (as readers give
    them to training)."""
    folder = root / "data" / "synthetic" / "CASME2_RAW_selected" / subject / clip
    numbers = sorted(int(re.search(r"(\d+)", p.name).group(1)) for p in folder.glob("img*.jpg"))
    sheet = pd.read_excel(root / "data" / "synthetic" / "CASME2-coding-synthetic.xlsx")
    row = sheet[(sheet["Subject"] == int(subject[3:])) & (sheet["Filename"] == clip)].iloc[0]
    keys = {"onset": row["OnsetFrame"], "apex": row["ApexFrame"], "offset": row["OffsetFrame"]}
    return folder, {k: numbers.index(int(v)) for k, v in keys.items()}


def test_mer_predict_returns_what_the_sweeps_fold_predicted(sweeps, tmp_path):
    root, sweep_a = sweeps["root"], sweeps["ids"][0]
    table, classes = fold_predictions(store(root), sweep_a, "synthetic/sub02", tmp_path)
    for _, row in table.iterrows():
        subject, clip = row["clip"].split("/")[1:]
        folder, keys = key_positions(root, subject, clip)
        out = tmp_path / clip
        run_cli(
            "mer_lightning.predict",
            f"clip={folder}",
            f"from_sweep={sweep_a}",
            "fold=synthetic/sub02",
            *(f"{k}={v}" for k, v in keys.items()),
            f"output_dir={out}",
            root=root,
            cwd=sweeps["elsewhere"],
        )
        result = json.loads((out / f"{clip}.json").read_text())
        assert result["predicted"] == classes[row["prediction"]]
        assert [result["probabilities"][c] for c in classes] == pytest.approx(
            [row[f"p_{c}"] for c in classes], abs=1e-5
        )
        assert (out / f"{clip}.png").is_file() and result["apex_spotted"] is False

    # The same clip as a (lossless) video, its apex spotted, every fold's net averaged.
    folder, keys = key_positions(root, "sub02", "EP01_02")
    video = tmp_path / "EP01_02.avi"
    images = [cv2.imread(str(p)) for p in sorted(folder.glob("img*.jpg"), key=lambda p: int(p.stem[3:]))]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), 200, images[0].shape[1::-1])
    for image in images:
        writer.write(image)
    writer.release()
    printed = run_cli(
        "mer_lightning.predict",
        f"clip={video}",
        f"from_sweep={sweep_a}",
        f"onset={keys['onset']}",
        f"offset={keys['offset']}",
        f"output_dir={tmp_path / 'video'}",
        root=root,
    ).stdout
    result = json.loads((tmp_path / "video" / "EP01_02.json").read_text())
    assert result["apex_spotted"] and keys["onset"] <= result["apex"] <= keys["offset"]
    assert result["frames"] == len(images) and sorted(result["weights"]["nets"]) == [
        "synthetic/sub01",
        "synthetic/sub02",
        "synthetic/sub03",
    ]
    averaged = np.mean([[net[c] for c in classes] for net in result["per_net"].values()], axis=0)
    assert [result["probabilities"][c] for c in classes] == pytest.approx(averaged)
    assert f"EP01_02: {result['predicted']} (" in printed and "3 folds averaged" in printed


def test_a_bad_clip_or_key_frame_is_refused_naming_the_setting(sweeps, tmp_path):
    missing = run_cli(
        "mer_lightning.predict",
        f"clip={tmp_path / 'nope'}",
        f"from_sweep={sweeps['ids'][0]}",
        root=sweeps["root"],
        check=False,
    )
    assert missing.returncode != 0 and f"setting clip='{tmp_path / 'nope'}': does not exist" in missing.stderr
    folder, _ = key_positions(sweeps["root"], "sub01", "EP01_02")
    late = run_cli(
        "mer_lightning.predict",
        f"clip={folder}",
        f"from_sweep={sweeps['ids'][0]}",
        "apex=99",
        root=sweeps["root"],
        check=False,
    )
    assert late.returncode != 0 and "setting apex=99: must be a frame position in onset..offset" in late.stderr


def test_mer_compare_tests_two_sweeps_on_the_same_clips_and_records_it(sweeps):
    (first, second), (sweep_a, sweep_b) = sweeps["runs"], sweeps["ids"]
    printed = run_cli("mer_lightning.compare", sweep_a, sweep_b, root=sweeps["root"], cwd=sweeps["elsewhere"]).stdout
    assert "on the 15 clips of 3 subjects both sweeps tested:" in printed
    assert (
        f"A  UF1 {first.data.metrics['uf1']:.4f} [" in printed
        and f"B  UF1 {second.data.metrics['uf1']:.4f} [" in printed
    )
    assert "(paired permutation over 3 subjects, exact, all 8 swaps)" in printed
    client = store(sweeps["root"])
    experiment = client.get_experiment_by_name("mer-lightning").experiment_id
    (run,) = client.search_runs([experiment], "tags.`mer.run_type` = 'comparison'")
    assert (run.data.tags["mer.sweep_a"], run.data.tags["mer.sweep_b"]) == (sweep_a, sweep_b)
    # Named after what the sweeps ran; the same command twice (two seeds) is told apart by the sweep ids.
    assert (
        run.info.run_name
        == f"compare: ststnet on synthetic, loso vs ststnet on synthetic, loso ({sweep_a} vs {sweep_b})"
    )
    figures = run.data.metrics
    assert figures["uf1_difference"] == pytest.approx(first.data.metrics["uf1"] - second.data.metrics["uf1"])
    assert 0 < figures["uf1_p_value"] <= 1 and figures["uf1_difference_ci_low"] <= figures["uf1_difference_ci_high"]


def test_help_lists_the_common_commands(tmp_path):
    shown = run_cli("mer_lightning.train", "--help", root=tmp_path).stdout
    assert "mer-train -m " in shown and "mer-train protocol.test_subject=sub01" in shown
    for command in (
        "mer-eval -m from_sweep=",
        "mer-summarize SWEEP_ID",
        "mer-compare SWEEP_A SWEEP_B",
        "mer-predict clip=",
        "mer-table MULTIRUN_ID",
        "mer-ui",
        "== Config groups (group=option) ==",
    ):
        assert command in shown
    assert re.search(r"^model: .*\bststnet\b", shown, re.MULTILINE)  # the config groups and their options
    assert "$MER_ROOT/mlruns/mlflow.db" in shown
    assert not (tmp_path / "mlruns").exists()
