"""Training stages end to end, as a user runs them: a multi-stage experiment's fold in MLflow (stage runs nested
under the fold run, weights handed over, no stage seeing the test subject), a fold killed mid-stage, a finished sweep
tested again from its own saved weights, and a one-stage fold unchanged."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from mlflow import MlflowClient

from mer_lightning.stages import digest, module_state
from tests.conftest import REPO, run_cli
from tests.test_sweep import artifact, runs, store

# The built-in macro-expression set of the er stage, as small as the tiny micro set.
TINY_MACRO = [
    "stages.er.dataset.generator.subjects=2",
    "stages.er.dataset.generator.clips_per_subject=6",
    "stages.er.dataset.generator.min_frames=6",
    "stages.er.dataset.generator.max_frames=8",
    "stages.er.dataset.generator.height=64",
    "stages.er.dataset.generator.width=64",
]
STAGED = ["experiment=nistor", *TINY_MACRO, "stages.fir.trainer.max_epochs=2", "stages.er.trainer.max_epochs=2"]


def staged(tiny_overrides):
    return [o for o in tiny_overrides if not o.startswith("preprocessing.")] + STAGED


def json_artifact(client: MlflowClient, run_id: str, path: str, tmp_path: Path):
    return json.loads(artifact(client, run_id, path, tmp_path / run_id).read_text())


@pytest.mark.slow
def test_a_staged_fold_nests_its_stages_and_hands_each_the_weights_the_last_one_left(tmp_path, tiny_overrides):
    run_cli(
        "mer_lightning.train",
        "protocol.test_subject=sub02",
        "protocol.val_subjects=1",
        *staged(tiny_overrides),
        root=tmp_path,
    )
    client = store(tmp_path)
    (fold,) = runs(client, "fold")
    stages = sorted(runs(client, "stage"), key=lambda r: int(r.data.tags["mer.stage_index"]))
    assert fold.info.status == "FINISHED" and fold.data.tags["mer.stages"] == "fir,er,me"
    assert [s.data.tags["mer.stage"] for s in stages] == ["fir", "er", "me"]
    assert {s.data.tags["mlflow.parentRunId"] for s in stages} == {fold.info.run_id}
    assert {s.info.status for s in stages} == {"FINISHED"}
    assert fold.data.tags["mer.weights_run"] == stages[-1].info.run_id
    assert {"test/uf1", "test/uar"} <= set(fold.data.metrics)
    assert "reconstructions.png" in {a.path for a in client.list_artifacts(stages[0].info.run_id)}
    assert "final/reconstruction_mse" in stages[0].data.metrics

    fir, er, me = (json_artifact(client, s.info.run_id, "weight_digests.json", tmp_path) for s in stages)
    assert fir["start"]["encoder"] != fir["end"]["encoder"]  # changed by its training
    assert er["start"]["encoder"] == fir["end"]["encoder"]  # equal at hand-over
    assert er["end"]["encoder"] != er["start"]["encoder"]
    assert me["start"]["encoder"] == er["end"]["encoder"]
    assert me["end"]["encoder"] == me["start"]["encoder"]  # frozen in the last stage
    assert me["end"]["rnn"] != me["start"]["rnn"]
    saved = torch.load(artifact(client, stages[1].info.run_id, "weights.pt", tmp_path / "er"), weights_only=True)
    assert digest(module_state(saved, "encoder")) == er["end"]["encoder"]  # the file holds what was handed over

    test_clips = set(pd.read_csv(artifact(client, fold.info.run_id, "predictions.csv", tmp_path))["clip"])
    assert test_clips and all(c.startswith("synthetic/sub02/") for c in test_clips)
    splits = [json_artifact(client, s.info.run_id, "split.json", tmp_path) for s in stages]
    (validation_subject,) = {uid.split("/")[1] for uid in splits[2]["val"]}
    for split in splits[:2]:  # pre-training: neither the test subject nor the validation subject
        assert split["train"] and not split["test"] and not split["val"]
        seen = {uid.split("/")[1] for uid in split["train"] if uid.startswith("synthetic/")}
        assert not seen & {"sub02", validation_subject}
    assert all(uid.startswith("synthetic_macro/") for uid in splits[1]["train"])
    assert set(splits[2]["test"]) == test_clips and not test_clips & set(splits[2]["train"])


def pooled(client: MlflowClient, sweep_id: str, tmp_path: Path) -> pd.DataFrame:
    folds = [r for r in runs(client, "fold") if r.data.tags["mer.sweep_id"] == sweep_id]
    tables = [pd.read_csv(artifact(client, f.info.run_id, "predictions.csv", tmp_path / f.info.run_id)) for f in folds]
    return pd.concat(tables).sort_values("clip").reset_index(drop=True)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["one stage", "staged"])
def test_mer_eval_tests_a_finished_sweep_again_from_its_own_weights(tmp_path, tiny_overrides, kind):
    overrides = tiny_overrides if kind == "one stage" else staged(tiny_overrides)
    run_cli("mer_lightning.train", "-m", *overrides, root=tmp_path)
    client = store(tmp_path)
    (trained,) = runs(client, "summary")
    sweep_id = trained.data.tags["mer.sweep_id"]
    result = run_cli("mer_lightning.evaluate", "-m", f"from_sweep={sweep_id}", root=tmp_path)
    assert "pooled over" in result.stdout
    retest = next(r for r in runs(client, "summary") if r.data.tags.get("mer.from_sweep") == sweep_id)
    assert retest.data.tags["mer.dataset"] == trained.data.tags["mer.dataset"]
    assert retest.data.metrics["n_folds_missing_or_failed"] == 0
    before, after = (
        pooled(client, sweep_id, tmp_path / "a"),
        pooled(client, retest.data.tags["mer.sweep_id"], tmp_path / "b"),
    )
    pd.testing.assert_frame_equal(before, after)  # the same nets on the same clips: the same predictions
    assert retest.data.metrics["uf1"] == trained.data.metrics["uf1"]
    retest_folds = [r for r in runs(client, "fold") if r.data.tags["mer.sweep_id"] == retest.data.tags["mer.sweep_id"]]
    assert not [r for r in retest_folds if "train/loss" in r.data.metrics]  # nothing trained again


@pytest.mark.slow
def test_a_fold_of_one_named_stage_is_the_same_fold_as_one_without_stages(tmp_path, tiny_overrides):
    fold = ["protocol.test_subject=sub03", *tiny_overrides]
    run_cli("mer_lightning.train", *fold, root=tmp_path / "plain")
    run_cli("mer_lightning.train", *fold, "stage_order=[only]", "+stages.only={}", root=tmp_path / "named")
    plain, named = store(tmp_path / "plain"), store(tmp_path / "named")
    assert not runs(plain, "stage") and len(runs(named, "stage")) == 1
    (a,), (b,) = runs(plain, "fold"), runs(named, "fold")
    first = pd.read_csv(artifact(plain, a.info.run_id, "predictions.csv", tmp_path / "a"))
    second = pd.read_csv(artifact(named, b.info.run_id, "predictions.csv", tmp_path / "b"))
    pd.testing.assert_frame_equal(first, second)
    assert {"weights.pt", "weight_digests.json", "split.json"} <= {x.path for x in plain.list_artifacts(a.info.run_id)}


@pytest.mark.slow
@pytest.mark.parametrize("is_staged", [True, False], ids=["staged", "single-stage"])
def test_a_fold_skips_a_broken_clip_of_its_test_subject_when_asked(tmp_path, tiny_overrides, is_staged):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.data_dir={tmp_path / 'data'}", *tiny_overrides])
    clip = next(c for c in instantiate(cfg.dataset).clips() if c.source_subject == "sub02")  # writes the set
    shutil.rmtree(clip.frames[0].parent)  # the sheet lists a clip the release lacks: a reader fault
    run_cli(
        "mer_lightning.train",
        "protocol.test_subject=sub02",
        "datamodule.on_error=skip",
        *(staged(tiny_overrides) if is_staged else tiny_overrides),
        root=tmp_path,
    )
    client = store(tmp_path)
    (fold,) = runs(client, "fold")
    assert fold.info.status == "FINISHED" and fold.data.metrics["skipped_clips"] == 1
    predictions = pd.read_csv(artifact(client, fold.info.run_id, "predictions.csv", tmp_path))
    assert clip.uid not in set(predictions["clip"]) and len(predictions)
