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
