"""A cross-dataset matrix in one command: `mer-train -m protocol=cross_dataset` on a composite set trains on each
source dataset and tests on each other one; the summary run holds the matrix of UF1."""

import pandas as pd
import pytest
from mlflow import MlflowClient

from mer_lightning import metrics
from tests.conftest import run_cli
from tests.test_sweep_protocols import TRAINING, two_synthetic_sets


@pytest.mark.slow
def test_the_cross_dataset_matrix_holds_each_pairs_uf1(tmp_path):
    result = run_cli(
        "mer_lightning.train", "-m", *two_synthetic_sets(), "protocol=cross_dataset", *TRAINING, root=tmp_path
    )
    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("mer-lightning").experiment_id
    (summary,) = client.search_runs([experiment], "tags.`mer.run_type` = 'summary'")
    folds = client.search_runs([experiment], "tags.`mer.run_type` = 'fold'")
    assert sorted(f.data.tags["mer.fold"] for f in folds) == ["synth_a_to_synth_b", "synth_b_to_synth_a"]
    assert summary.info.run_name.startswith("ststnet on composite, cross_dataset (2 folds) ")
    matrix = pd.read_csv(
        client.download_artifacts(summary.info.run_id, "transfer_matrix.csv", str(tmp_path)), index_col=0
    )
    for fold in folds:
        train, test = fold.data.tags["mer.fold"].split("_to_")
        assert fold.data.tags["mer.trained_on"] == train
        table = pd.read_csv(client.download_artifacts(fold.info.run_id, "predictions.csv", str(tmp_path / train)))
        assert set(table["dataset"]) == {test}
        assert matrix.loc[train, test] == pytest.approx(metrics.scores(table["label"], table["prediction"], 3)["uf1"])
        assert pd.isna(matrix.loc[train, train])
    assert "transfer_matrix.png" in {a.path for a in client.list_artifacts(summary.info.run_id)}
    printed = result.stdout[result.stdout.index("UF1 by training datasets (rows) and test dataset (columns)") :]
    assert "tested on" in printed and "trained on" in printed
    assert f"{matrix.loc['synth_a', 'synth_b']:.4f}" in printed and f"{matrix.loc['synth_b', 'synth_a']:.4f}" in printed
