"""Each new protocol sweeps in one command (`mer-train -m protocol=...`): its folds expand from `folds()`, each
fold is a run, and the summary run pools them all."""

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import run_cli

GENERATOR = {"subjects": 2, "clips_per_subject": 4, "min_frames": 6, "max_frames": 8, "height": 64, "width": 64}
TRAINING = ["preprocessing.steps.flow.method=farneback", "trainer.max_epochs=1", "dataset.classes=composite3"]


def two_synthetic_sets() -> list[str]:
    """A composite of two independently generated synthetic sets, `synth_a` and `synth_b`."""
    overrides = [
        "dataset=composite",
        "+dataset@dataset.datasets.a=synthetic",
        "+dataset@dataset.datasets.b=synthetic",
        "dataset.datasets.a.name=synth_a",
        "dataset.datasets.b.name=synth_b",
        "dataset.datasets.b.root=${paths.data_dir}/synthetic_b",
        "dataset.datasets.b.generator.seed=1",
    ]
    for member in "ab":
        overrides += [f"dataset.datasets.{member}.generator.{k}={v}" for k, v in GENERATOR.items()]
    return overrides


def one_small_set() -> list[str]:
    return [
        "dataset.generator.subjects=2",
        "dataset.generator.clips_per_subject=3",
        *(f"dataset.generator.{k}={v}" for k, v in GENERATOR.items() if k not in ("subjects", "clips_per_subject")),
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("protocol", "dataset", "expected_folds"),
    [
        (["protocol=lodo"], two_synthetic_sets(), ["synth_a", "synth_b"]),
        (
            ["protocol=holdout", "protocol.train_datasets=[synth_a]", "protocol.test_datasets=[synth_b]"],
            two_synthetic_sets(),
            ["synth_a_to_synth_b"],
        ),
        (["protocol=lovo"], one_small_set(), None),  # one fold per clip
    ],
    ids=["lodo", "holdout", "lovo"],
)
def test_a_protocol_sweep_runs_every_fold_and_summarizes_it(tmp_path, protocol, dataset, expected_folds):
    result = run_cli("mer_lightning.train", "-m", *dataset, *protocol, *TRAINING, root=tmp_path)
    assert "pooled over" in result.stdout
    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("mer-lightning").experiment_id
    (summary,) = client.search_runs([experiment], "tags.`mer.run_type` = 'summary'")
    folds = client.search_runs([experiment], "tags.`mer.run_type` = 'fold'")
    expected = json.loads(
        Path(client.download_artifacts(summary.info.run_id, "expected_folds.json", str(tmp_path))).read_text()
    )
    assert sorted(f.data.tags["mer.fold"] for f in folds) == sorted(expected)
    if expected_folds is not None:
        assert expected == expected_folds
    else:
        assert len(expected) >= 4 and all(f.startswith("synthetic/sub0") for f in expected)
    assert all(f.info.status == "FINISHED" for f in folds)
    assert summary.data.metrics["n_folds_missing_or_failed"] == 0
