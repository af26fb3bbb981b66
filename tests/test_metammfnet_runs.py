"""Meta-MMFNet and the survey's baseline end to end, as a user runs them: a sweep of the fused model (its four
stages, alpha chosen on the validation subject alone, average and overall accuracy in fold and summary runs, and
the same predictions again from the saved weights), and a leave-one-video-out sweep of the survey's baseline."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_cli
from tests.test_stages import json_artifact, pooled
from tests.test_sweep import artifact, runs, store

SMALL = ["subjects=4", "clips_per_subject=9", "min_frames=6", "max_frames=8", "height=64", "width=64"]
TINY_METAMMFNET = [
    "experiment=metammfnet",
    *(f"dataset.generator.{s}" for s in SMALL),
    *(f"stages.macro_pretrain.dataset.generator.{s}" for s in SMALL if not s.startswith("clips")),
    "stages.macro_pretrain.dataset.generator.clips_per_subject=7",
    "preprocessing.steps.flow.method=farneback",
    "trainer.max_epochs=2",
    "datamodule.batch_sampler.shots=1",
    "datamodule.batch_sampler.queries=1",
    "datamodule.batch_sampler.episodes=3",
    "threads=1",
]


@pytest.mark.slow
def test_a_metammfnet_sweep_chooses_alpha_on_validation_subjects_and_records_both_accuracies(tmp_path):
    run_cli("mer_lightning.train", "-m", "protocol.test_subject=sub02", *TINY_METAMMFNET, root=tmp_path)
    client = store(tmp_path)
    (summary,), (fold,) = runs(client, "summary"), runs(client, "fold")
    stages = {s.data.tags["mer.stage"]: s for s in runs(client, "stage")}
    # the run list names the experiment (its model, `prototypes`, is shared by the ablations)
    assert summary.info.run_name.startswith("metammfnet on synthetic, loso (1 fold) ")
    assert fold.info.run_name == "metammfnet sub02" and fold.data.tags["mer.experiment"] == "metammfnet"
    assert summary.data.tags["mer.experiment"] == "metammfnet" and summary.data.tags["mer.model"] == "prototypes"
    assert fold.data.tags["mer.stages"] == "micro,macro_pretrain,macro,fusion" and set(stages) == {
        "micro",
        "macro_pretrain",
        "macro",
        "fusion",
    }

    fusion = stages["fusion"]
    split = json_artifact(client, fusion.info.run_id, "split.json", tmp_path)
    validation = {uid.split("/")[1] for uid in split["val"]}
    assert len(validation) == 2 and "sub02" not in validation  # alpha is chosen on these subjects' clips
    choice = pd.read_csv(artifact(client, fusion.info.run_id, "choice.csv", tmp_path))
    assert choice["alpha"].tolist() == [0, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]
    assert fusion.data.metrics["final/alpha"] == choice.loc[choice["chosen"], "alpha"].item()
    assert not [
        r for r in runs(client, "stage") if r.data.tags["mer.stage"] == "fusion" and "train/loss" in r.data.metrics
    ]  # nothing trained in the fusion stage
    for name in ("micro", "macro"):  # the models fused never trained on the test or validation subjects
        trained = json_artifact(client, stages[name].info.run_id, "split.json", tmp_path)["train"]
        assert trained and not {uid.split("/")[1] for uid in trained} & {"sub02", *validation}

    table = pd.read_csv(artifact(client, summary.info.run_id, "pooled_predictions.csv", tmp_path))
    right = table["label"] == table["prediction"]
    per_class = right.groupby(table["label"]).mean()  # each class's accuracy
    assert summary.data.metrics["average_accuracy"] == pytest.approx(per_class.mean())
    assert summary.data.metrics["overall_accuracy"] == pytest.approx(right.mean())
    assert {"test/average_accuracy", "test/overall_accuracy"} <= set(fold.data.metrics)

    # alpha and the prototypes are in the saved weights: testing them again gives the same predictions
    sweep_id = summary.data.tags["mer.sweep_id"]
    run_cli("mer_lightning.evaluate", "-m", f"from_sweep={sweep_id}", root=tmp_path)
    retest = next(r for r in runs(client, "summary") if r.data.tags.get("mer.from_sweep") == sweep_id)
    pd.testing.assert_frame_equal(
        pooled(client, sweep_id, tmp_path / "a"), pooled(client, retest.data.tags["mer.sweep_id"], tmp_path / "b")
    )


@pytest.mark.slow
def test_the_survey_baseline_runs_leave_one_video_out_on_a_fused_synthetic_set(tmp_path):
    small = [f"dataset.generator.{s}" for s in ("min_frames=6", "max_frames=8", "height=64", "width=64")]
    clips = "synthetic_fused9/sub01/EP01_01,synthetic_fused9/sub02/EP02_03"
    result = run_cli(
        "mer_lightning.train",
        "-m",
        "experiment=survey_fused9_synthetic",
        f"protocol.test_clip={clips}",
        "trainer.max_epochs=2",
        *small,
        root=tmp_path,
    )
    assert "average accuracy" in result.stdout
    client = store(tmp_path)
    (summary,) = runs(client, "summary")
    folds = runs(client, "fold")
    assert sorted(f.data.tags["mer.test_clip"] for f in folds) == sorted(clips.split(","))
    for fold in folds:
        split = json_artifact(client, fold.info.run_id, "split.json", tmp_path)
        assert split["test"] == [fold.data.tags["mer.test_clip"]] and len(split["train"]) == 71
    classes = json.loads(folds[0].data.tags["mer.class_names"])
    assert len(classes) == 9 and summary.data.metrics["n_clips"] == 2
    assert {"average_accuracy", "overall_accuracy"} <= set(summary.data.metrics)
    assert np.isfinite(summary.data.metrics["overall_accuracy"])
