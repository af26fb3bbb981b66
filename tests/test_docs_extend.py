"""The "Extend it" pages work as written: each page's files are written into an empty folder, its checks run, and
its commands run there on a tiny synthetic set; what the page says the run records is read back from MLflow."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import TINY
from tests.docs_pages import commands, run_checks, run_command, write_files


def fold_runs(root: Path) -> list:
    client = MlflowClient(f"sqlite:///{root}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("mer-lightning")
    return client.search_runs([experiment.experiment_id], filter_string="tags.`mer.run_type` = 'fold'")


def test_model_page_checks_pass(tmp_path):
    write_files("extend/model.md", tmp_path)
    assert run_checks("extend/model.md", tmp_path) >= 1


@pytest.mark.slow
def test_model_page_trains_a_fold_of_its_model(tmp_path):
    write_files("extend/model.md", tmp_path)
    (command,) = commands("extend/model.md")
    run_command(command, tmp_path, TINY)
    (fold,) = fold_runs(tmp_path)
    assert fold.info.status == "FINISHED" and fold.data.tags["mer.model"] == "tiny_cnn"
    assert fold.data.params["model.net._target_"] == "my_mer.tiny_cnn.TinyCNN"
    assert {"test/uf1", "test/uar"} <= set(fold.data.metrics)


SMALL_RUN = ["preprocessing.steps.flow.method=farneback", "trainer.max_epochs=2"]


@pytest.mark.slow
def test_dataset_page_reads_its_layout_and_trains_a_fold_on_it(tmp_path):
    write_files("extend/dataset.md", tmp_path)
    make_stand_in, describe, train = commands("extend/dataset.md")
    run_command(make_stand_in, tmp_path, [])
    assert run_checks("extend/dataset.md", tmp_path) == 1
    described = run_command(describe, tmp_path, []).stdout
    assert "dataset emotion_folders: " in described and " of 3 subjects" in described
    assert "apex not annotated: middle frame taken" in described
    run_command(train, tmp_path, SMALL_RUN)
    (fold,) = fold_runs(tmp_path)
    assert fold.info.status == "FINISHED" and fold.data.tags["mer.dataset"] == "emotion_folders"
    assert fold.data.tags["mer.test_subject"] == "sub01" and {"test/uf1", "test/uar"} <= set(fold.data.metrics)


@pytest.mark.filterwarnings("ignore:You are trying to `self.log")  # the task page's step runs without a Trainer
@pytest.mark.parametrize("page", ["extend/preprocessing.md", "extend/task.md", "extend/protocol.md"])
def test_page_checks_pass(tmp_path, page):
    write_files(page, tmp_path)
    assert run_checks(page, tmp_path) >= 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("page", "param", "target"),
    [
        ("extend/preprocessing.md", "preprocessing.steps.standardize._target_", "my_mer.standardize.Standardize"),
        ("extend/task.md", "task._target_", "my_mer.mixup.MixupTask"),
    ],
)
def test_page_trains_a_fold_with_its_piece(tmp_path, page, param, target):
    write_files(page, tmp_path)
    (command,) = commands(page)
    run_command(command, tmp_path, TINY)
    (fold,) = fold_runs(tmp_path)
    assert fold.info.status == "FINISHED" and fold.data.params[param] == target
    assert {"test/uf1", "test/uar"} <= set(fold.data.metrics)


@pytest.mark.slow
def test_protocol_page_sweeps_every_fold_and_pools_them(tmp_path):
    write_files("extend/protocol.md", tmp_path)
    (command,) = commands("extend/protocol.md")
    result = run_command(command, tmp_path, TINY)
    assert "summary run:" in result.stdout
    folds = fold_runs(tmp_path)
    assert sorted(f.data.tags["mer.test_fold"] for f in folds) == ["1", "2", "3"]
    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("mer-lightning")
    (summary,) = client.search_runs([experiment.experiment_id], filter_string="tags.`mer.run_type` = 'summary'")
    assert {"uf1", "uar"} <= set(summary.data.metrics)
