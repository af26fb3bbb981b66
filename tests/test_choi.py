"""Choi, Kim & Song's method: the three rows of their table (image model, LMF model, joint framework) and the real
CK+ set-up compose and build; end to end on a tiny synthetic CK+, general expressions train, their micro forms only
test, the SFEM threshold is chosen on the validation subjects alone, travels with the saved weights, and the summary
scores general, micro and mixed."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mer_lightning.lit.choose import ChooseOnValidation
from mer_lightning.models import IntensityRouter
from mer_lightning.reports import POOLED
from mer_lightning.train import compose_stages
from tests.conftest import REPO, run_cli
from tests.test_stages_units import composed, root  # noqa: F401 (root: MER_ROOT for every test here)
from tests.test_sweep import artifact, runs, store

EXPERIMENTS = {
    "choi_image": ([""], "choi_image"),
    "choi_lmf": ([""], "choi_lmf"),
    "choi_joint": (["image", "lmf", "joint"], "choi_joint"),
    "choi_ckplus": (["image", "lmf", "joint"], "choi_joint"),
}
# The synthetic CK+ in miniature: 3 subjects showing each of the 7 emotions once, sequences of 3 frames or more.
TINY = [
    "dataset.dataset.generator.subjects=3",
    "dataset.dataset.generator.clips_per_subject=7",
    "dataset.dataset.generator.min_frames=12",
    "dataset.dataset.generator.max_frames=14",
    "dataset.dataset.generator.height=64",
    "dataset.dataset.generator.width=64",
    "trainer.max_epochs=1",
]


def batch(classes: int) -> dict[str, torch.Tensor]:
    """Two clips of the `choi` preprocessing's inputs: 9 aligned face frames, 8 LMF maps, the SFEM intensity."""
    return {
        "frames": torch.rand(2, 9, 1, 64, 64),
        "frames_length": torch.tensor([9, 9]),
        "lmf": 255 * torch.rand(2, 8, 1, 68, 68),
        "lmf_length": torch.tensor([8, 8]),
        "sfem": torch.tensor([[3.0], [30.0]]),
        "label": torch.tensor([0, classes - 1]),
    }


@pytest.mark.parametrize("experiment", sorted(EXPERIMENTS))
def test_every_experiment_composes_and_builds_each_stage(experiment):
    stages = compose_stages(composed(f"experiment={experiment}"))
    names, tested_model = EXPERIMENTS[experiment]
    assert [s.name for s in stages] == names and stages[-1].cfg.model.name == tested_model
    dataset = instantiate(stages[-1].cfg.dataset)  # readers read nothing until asked for clips
    micro = f"{dataset.dataset.name}_micro"
    assert instantiate(composed(f"experiment={experiment}").protocol).eval_only == [micro]
    nets = {}
    for stage in stages:
        pipeline = instantiate(stage.cfg.preprocessing)
        assert pipeline.outputs == ["frames", "lmf", "sfem"] and pipeline.sequences == ["frames", "lmf"]
        net = instantiate(stage.cfg.model.net)(in_chans=1, num_classes=len(dataset.class_names))
        task = instantiate(
            stage.cfg.task, net=net, input_keys=list(stage.cfg.model.input_keys), class_names=dataset.class_names
        )
        task.freeze(stage.freeze)
        nets[stage.name] = net
        if isinstance(task, ChooseOnValidation):
            assert isinstance(net, IntensityRouter) and stage.init
            assert not any(p.requires_grad for p in net.parameters())
            # the earlier stages' nets fit into the router as they are: what `init` will load
            net.strong.load_state_dict(nets["image"].state_dict())
            net.subtle.load_state_dict(nets["lmf"].state_dict())
            net.setting.fill_(10.0)
        assert task(batch(len(dataset.class_names))).shape == (2, len(dataset.class_names))
    if experiment == "choi_ckplus":
        assert (
            dataset.dataset.name == "ckplus"
            and "NOT RUN ON REAL DATA HERE" in (REPO / "conf/experiment/choi_ckplus.yaml").read_text()
        )


def json_artifact(client, run_id: str, path: str, tmp_path: Path):
    return json.loads(artifact(client, run_id, path, tmp_path / run_id).read_text())


def intensities(uids: list[str], root_dir: Path) -> dict[str, float]:
    """SFEM of these clips, computed afresh by the experiment's own dataset and preprocessing."""
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["experiment=choi_joint", *TINY, f"paths.root_dir={root_dir}"])
    dataset, pipeline = instantiate(cfg.dataset), instantiate(cfg.preprocessing)
    clips = {c.uid: c for c in dataset.clips()}
    return {uid: float(pipeline(clips[uid])["sfem"][0]) for uid in uids}


@pytest.mark.slow
def test_the_joint_framework_chooses_its_threshold_on_validation_subjects_and_scores_three_test_sets(tmp_path):
    run_cli(
        "mer_lightning.train",
        "-m",
        "experiment=choi_joint",
        *TINY,
        "protocol.val_subjects=1",
        "protocol.test_subject=S002",
        root=tmp_path,
    )
    client = store(tmp_path)
    folds = {f.data.tags["mer.fold"]: f for f in runs(client, "fold")}
    stages = runs(client, "stage")
    assert set(folds) == {"S002"} and len(stages) == 3
    assert {r.info.status for r in [*folds.values(), *stages]} == {"FINISHED"}
    for test_subject, fold in folds.items():
        mine = {s.data.tags["mer.stage"]: s for s in stages if s.data.tags["mlflow.parentRunId"] == fold.info.run_id}
        splits = {name: json_artifact(client, run.info.run_id, "split.json", tmp_path) for name, run in mine.items()}
        for name in ("image", "lmf"):  # general expressions of the training subjects alone
            assert splits[name]["train"] and not splits[name]["val"] and not splits[name]["test"]
            assert all(uid.startswith("synthetic_ckplus/") for uid in splits[name]["train"])
        joint = splits["joint"]
        validation = joint["val"]
        assert {uid.split("/")[0] for uid in validation} == {"synthetic_ckplus", "synthetic_ckplus_micro"}
        assert {uid.split("/")[1] for uid in validation}.isdisjoint({test_subject})
        assert {uid.split("/")[1] for uid in joint["test"]} == {test_subject}
        assert {uid.split("/")[1] for uid in validation}.isdisjoint(
            {uid.split("/")[1] for name in ("image", "lmf") for uid in splits[name]["train"]}
        )
        # The candidate thresholds are made of the validation clips' intensities and of nothing else.
        choice = pd.read_csv(artifact(client, mine["joint"].info.run_id, "choice.csv", tmp_path / test_subject))
        seen = np.unique(np.float32(list(intensities(validation, tmp_path).values())).astype(np.float64))
        expected = np.concatenate([seen[:1], (seen[1:] + seen[:-1]) / 2, [np.inf]])
        np.testing.assert_allclose(choice["threshold"], expected, rtol=1e-6)
        chosen = choice.loc[choice["chosen"], "threshold"].item()
        assert mine["joint"].data.metrics["final/threshold"] == pytest.approx(chosen)
        assert choice.loc[choice["chosen"], "val_uf1"].item() == choice["val_uf1"].max()
        digests = json_artifact(client, mine["joint"].info.run_id, "weight_digests.json", tmp_path)
        image_end = json_artifact(client, mine["image"].info.run_id, "weight_digests.json", tmp_path)["end"][""]
        assert digests["start"]["strong"] == digests["end"]["strong"] == image_end  # handed over, frozen

    (summary,) = runs(client, "summary")
    per_dataset = pd.read_csv(artifact(client, summary.info.run_id, "per_dataset.csv", tmp_path), index_col=0)
    assert per_dataset.index.tolist() == ["synthetic_ckplus", "synthetic_ckplus_micro", POOLED]
    assert per_dataset["n"].tolist() == [7, 7, 14]
    metrics = summary.data.metrics
    for name in ("synthetic_ckplus", "synthetic_ckplus_micro"):
        assert metrics[f"{name}/accuracy"] == pytest.approx(per_dataset.loc[name, "accuracy"])
        assert metrics[f"{name}/uf1"] == pytest.approx(per_dataset.loc[name, "uf1"])
    assert metrics["uf1"] == pytest.approx(per_dataset.loc[POOLED, "uf1"])

    # The chosen threshold is part of the saved weights: testing the sweep again gives the same predictions.
    sweep = summary.data.tags["mer.sweep_id"]
    run_cli("mer_lightning.evaluate", "-m", f"from_sweep={sweep}", root=tmp_path)
    again = [s for s in runs(client, "summary") if s.data.tags.get("mer.from_sweep") == sweep]
    retested = pd.read_csv(artifact(client, again[0].info.run_id, "pooled_predictions.csv", tmp_path / "again"))
    original = pd.read_csv(artifact(client, summary.info.run_id, "pooled_predictions.csv", tmp_path / "first"))
    key = ["clip"]
    pd.testing.assert_frame_equal(
        retested.sort_values(key).reset_index(drop=True), original.sort_values(key).reset_index(drop=True)
    )
