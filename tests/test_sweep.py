"""End to end, as a user runs it: a fold, a LOSO multirun into MLflow, the summary, `mer-summarize`, the notebook."""

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch
from mlflow import MlflowClient
from nbclient import NotebookClient
from sklearn.metrics import f1_score, recall_score

from mer_lightning.models import STSTNet
from tests.conftest import REPO, run_cli


def store(root: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{root}/mlruns/mlflow.db")


def runs(client: MlflowClient, run_type: str) -> list:
    experiment = client.get_experiment_by_name("mer-lightning")
    return client.search_runs([experiment.experiment_id], filter_string=f"tags.`mer.run_type` = '{run_type}'")


def artifact(client: MlflowClient, run_id: str, path: str, tmp_path: Path) -> Path:
    return Path(client.download_artifacts(run_id, path, str(tmp_path)))


@pytest.mark.slow
def test_one_fold_writes_a_complete_fold_run(tmp_path, tiny_overrides):
    run_cli("mer_lightning.train", "protocol.test_subject=sub02", *tiny_overrides, root=tmp_path)
    client = store(tmp_path)
    (fold,) = runs(client, "fold")
    tags = fold.data.tags
    assert tags["mer.test_subject"] == "sub02" and tags["mer.dataset"] == "synthetic"
    assert tags["mer.model"] == "ststnet" and tags["mer.protocol"] == "loso" and tags["mer.git_sha"]
    assert fold.info.status == "FINISHED"
    assert {"test/uf1", "test/uar", "test/accuracy", "train/loss"} <= set(fold.data.metrics)
    assert len(client.get_metric_history(fold.info.run_id, "train/loss")) == 2  # one per epoch
    assert fold.data.params["trainer.max_epochs"] == "2"
    names = {a.path for a in client.list_artifacts(fold.info.run_id)}
    assert {"config.yaml", "predictions.csv", "confusion.json", "confusion.png"} <= names
    predictions = pd.read_csv(artifact(client, fold.info.run_id, "predictions.csv", tmp_path))
    assert set(predictions["subject"]) == {"synthetic/sub02"}
    assert {"clip", "dataset", "label", "prediction", "p_negative", "p_positive", "p_surprise"} <= set(predictions)


@pytest.mark.slow
def test_loso_sweep_pools_every_clip_once_and_summarizes_it(tmp_path, tiny_overrides):
    result = run_cli("mer_lightning.train", "-m", *tiny_overrides, root=tmp_path)
    assert "pooled over" in result.stdout and "summary run:" in result.stdout
    client = store(tmp_path)
    folds = runs(client, "fold")
    (summary,) = runs(client, "summary")
    sweep_id = summary.data.tags["mer.sweep_id"]
    assert len(folds) == 3 and {f.data.tags["mer.sweep_id"] for f in folds} == {sweep_id}
    assert {f.data.tags["mlflow.parentRunId"] for f in folds} == {summary.info.run_id}

    pooled = pd.concat(
        [pd.read_csv(artifact(client, f.info.run_id, "predictions.csv", tmp_path / f.info.run_id)) for f in folds]
    )
    clips = pd.ExcelFile(tmp_path / "data" / "synthetic" / "CASME2-coding-synthetic.xlsx").parse()
    kept = clips[clips["Estimated Emotion"] != "others"]
    assert pooled["clip"].is_unique and len(pooled) == len(kept)
    metrics = summary.data.metrics
    assert metrics["uf1"] == pytest.approx(f1_score(pooled["label"], pooled["prediction"], average="macro"))
    assert metrics["uar"] == pytest.approx(recall_score(pooled["label"], pooled["prediction"], average="macro"))
    missing = json.loads(artifact(client, summary.info.run_id, "missing_or_failed_folds.json", tmp_path).read_text())
    assert missing == {"missing": [], "failed": []}
    assert "oracle_uf1" not in metrics  # the audit is opt-in
    confusion = json.loads(artifact(client, summary.info.run_id, "confusion.json", tmp_path).read_text())
    expected = pd.crosstab(pooled["label"], pooled["prediction"]).reindex(
        index=range(3), columns=range(3), fill_value=0
    )
    assert confusion["matrix"] == expected.values.tolist()
    rates = expected.div(expected.sum(axis=1), axis=0).fillna(0)
    assert np.allclose(confusion["row_rates"], rates.values)
    assert "confusion.png" in {a.path for a in client.list_artifacts(summary.info.run_id)}
    per_subject = pd.read_csv(artifact(client, summary.info.run_id, "per_subject.csv", tmp_path))
    assert list(per_subject["subject"]) == ["synthetic/sub01", "synthetic/sub02", "synthetic/sub03"]

    rebuilt = run_cli(
        "mer_lightning.summarize", sweep_id, "--tracking-uri", f"sqlite:///{tmp_path}/mlruns/mlflow.db", root=tmp_path
    )
    assert f"UF1 {metrics['uf1']:.4f}" in rebuilt.stdout

    notebook = nbformat.read(REPO / "notebooks" / "compare_runs.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    table = next(o for o in notebook.cells[2].outputs if o.get("output_type") == "execute_result")
    assert sweep_id in table["data"]["text/plain"]


@pytest.mark.slow
def test_validation_runs_only_with_validation_subjects(tmp_path, tiny_overrides):
    without = run_cli(
        "mer_lightning.train", "protocol.test_subject=sub02", *tiny_overrides, root=tmp_path / "a", warnings="default"
    )
    with_val = run_cli(
        "mer_lightning.train",
        "protocol.test_subject=sub02",
        "protocol.val_subjects=1",
        *tiny_overrides,
        root=tmp_path / "b",
    )
    (plain,) = runs(store(tmp_path / "a"), "fold")
    (validated,) = runs(store(tmp_path / "b"), "fold")
    assert not [m for m in plain.data.metrics if m.startswith("val/")]
    assert "Total length of `list` across ranks is zero" not in without.stderr
    assert {"val/uf1", "val/uar"} <= set(validated.data.metrics), with_val.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_parallel_launchers_lose_no_fold_run(tmp_path, tiny_overrides, launcher):
    """Folds run side by side write to one SQLite store; the summary pools every fold (submitit is SLURM's launcher,
    run here with its local executor)."""
    run_cli("mer_lightning.train", "-m", f"hydra/launcher={launcher}", "threads=1", *tiny_overrides, root=tmp_path)
    client = store(tmp_path)
    folds = runs(client, "fold")
    (summary,) = runs(client, "summary")
    assert sorted(f.data.tags["mer.test_subject"] for f in folds) == [f"synthetic/sub0{i}" for i in (1, 2, 3)]
    assert {f.info.status for f in folds} == {"FINISHED"}
    assert summary.data.metrics["n_folds_missing_or_failed"] == 0


@pytest.mark.slow
def test_a_failed_fold_is_listed_and_the_others_are_kept(tmp_path, tiny_overrides):
    # Given weights for sub01 and sub03, and for sub02 weights of another net: they load (a missing or unreadable file
    # would stop the sweep before any fold, test_reliability.py), but do not fit, so that fold fails naming the file;
    # the others are pooled.
    weights = tmp_path / "weights"
    weights.mkdir()
    for subject in ("sub01", "sub03"):
        torch.save(STSTNet().state_dict(), weights / f"{subject}.pth")
    torch.save({"another_net.weight": torch.zeros(3)}, weights / "sub02.pth")
    result = run_cli(
        "mer_lightning.evaluate", "-m", f"checkpoint_dir={weights}", *tiny_overrides, root=tmp_path, check=False
    )
    output = result.stderr + result.stdout
    assert result.returncode != 0
    assert "1 fold job(s) failed" in output
    assert f"weights in {weights / 'sub02.pth'} do not fit STSTNet" in output
    client = store(tmp_path)
    (summary,) = runs(client, "summary")
    missing = json.loads(artifact(client, summary.info.run_id, "missing_or_failed_folds.json", tmp_path).read_text())
    assert missing == {"missing": [], "failed": ["synthetic/sub02"]}
    assert summary.data.metrics["n_folds_missing_or_failed"] == 1
    failed = [f for f in runs(client, "fold") if f.info.status == "FAILED"]
    assert [f.data.tags["mer.fold"] for f in failed] == ["synthetic/sub02"]
    assert "sub02.pth do not fit STSTNet" in failed[0].data.tags["mer.error"]


@pytest.mark.slow
def test_a_two_input_model_takes_two_streams_from_the_command_line(tmp_path, tiny_overrides):
    run_cli(
        "mer_lightning.train",
        "protocol.test_subject=sub01",
        *tiny_overrides,
        "+preprocessing.steps.flow_dis={_target_:mer_lightning.preprocess.steps.OpticalFlow,method:dis,output:motion}",
        "preprocessing.outputs=[flow,motion]",
        "model.input_keys=[flow,motion]",
        "model.net._target_=tests.toy_models.TwoStreamNet",
        "model.name=two_stream",
        root=tmp_path,
    )
    (fold,) = runs(store(tmp_path), "fold")
    assert fold.info.status == "FINISHED" and fold.data.tags["mer.model"] == "two_stream"


@pytest.mark.slow
def test_the_oracle_audit_is_opt_in_and_never_the_headline(tmp_path, tiny_overrides):
    overrides = [o for o in tiny_overrides if not o.startswith("trainer.max_epochs")]
    run_cli(
        "mer_lightning.train", "-m", *overrides, "trainer.max_epochs=4", "protocol.record_oracle=true", root=tmp_path
    )
    client = store(tmp_path)
    (summary,) = runs(client, "summary")
    best, last = [], []
    for fold in runs(client, "fold"):
        epochs = pd.read_csv(artifact(client, fold.info.run_id, "epoch_predictions.csv", tmp_path / fold.info.run_id))
        assert sorted(epochs["epoch"].unique()) == [0, 1, 2, 3]
        hits = (epochs["label"] == epochs["prediction"]).groupby(epochs["epoch"]).mean()
        best.append(epochs[epochs["epoch"] == hits[hits == hits.max()].index.min()])
        last.append(pd.read_csv(artifact(client, fold.info.run_id, "predictions.csv", tmp_path / fold.info.run_id)))
    best, last = pd.concat(best), pd.concat(last)
    metrics = summary.data.metrics
    assert metrics["oracle_uf1"] == pytest.approx(f1_score(best["label"], best["prediction"], average="macro"))
    assert metrics["oracle_uar"] == pytest.approx(recall_score(best["label"], best["prediction"], average="macro"))
    assert metrics["uf1"] == pytest.approx(f1_score(last["label"], last["prediction"], average="macro"))


@pytest.mark.slow
def test_ddp_records_one_fold_run_with_each_test_clip_once(tmp_path, tiny_overrides):
    # Two CPU processes (gloo), as two GPUs would be: sub01 has 5 test clips, so the sampler pads one.
    run_cli(
        "mer_lightning.train",
        "protocol.test_subject=sub01",
        *tiny_overrides,
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "trainer.strategy=ddp",
        root=tmp_path,
    )
    client = store(tmp_path)
    (fold,) = runs(client, "fold")
    predictions = pd.read_csv(artifact(client, fold.info.run_id, "predictions.csv", tmp_path))
    assert predictions["clip"].is_unique and len(predictions) == 5
