"""LEARNet end to end: its model, baseline, callback and experiment configs compose and build, and a fold run with
`callbacks=...` writes the response-map figures and the complexity table to the fold's MLflow run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from mlflow import MlflowClient
from omegaconf import OmegaConf

from mer_lightning.lit.analysis import ComplexityTable, ResponseMaps, response_figure
from mer_lightning.models import LEARNet
from tests.conftest import REPO, TINY, run_cli

CONF = REPO / "conf"
# The tiny synthetic set of conftest, without its flow setting (the dynamic-image pipeline has no flow step).
TINY_DYNAMIC = [o for o in TINY if not o.startswith("preprocessing.steps.flow.")]
EXPERIMENTS = [
    "learnet_synthetic",
    "learnet_megc2019_flow",
    "learnet_casme",
    "learnet_casme2",
    "learnet_casme_sq",
    "learnet_smic",
]


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=True)


def test_learnet_config_builds_the_paper_network(tmp_path, monkeypatch):
    monkeypatch.setenv("MER_ROOT", str(tmp_path))
    cfg = _compose("model=learnet", "preprocessing=dynamic_image")
    assert list(cfg.model.input_keys) == ["dynamic"] == list(cfg.preprocessing.outputs)
    net = instantiate(cfg.model.net)(in_chans=3, num_classes=3)
    assert isinstance(net, LEARNet)
    assert sum(p.numel() for p in net.parameters()) == 1_406_275
    padded = instantiate(_compose("model=learnet", "model.net.conv5_padding=1", "model.net.norm=batch").model.net)
    assert isinstance(padded(in_chans=3, num_classes=3).norm, torch.nn.BatchNorm2d)


@pytest.mark.parametrize(("name", "first_layer"), [("resnet18", "act1"), ("resnet34", "act1"), ("googlenet", "conv1")])
def test_baseline_config_builds_each_baseline(name, first_layer, tmp_path, monkeypatch):
    monkeypatch.setenv("MER_ROOT", str(tmp_path))
    cfg = _compose("model=baseline", f"model.name={name}")
    OmegaConf.resolve(cfg.model)
    assert list(cfg.model.responses.first_layer) == [first_layer]
    net = instantiate(cfg.model.net)(in_chans=2, num_classes=4)
    assert net(torch.randn(1, 2, 112, 112)).shape == (1, 4)
    assert first_layer in dict(net.named_modules())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg16", "vgg19"])
def test_baseline_config_builds_vgg(name, tmp_path, monkeypatch):
    monkeypatch.setenv("MER_ROOT", str(tmp_path))
    cfg = _compose("model=baseline", f"model.name={name}")
    OmegaConf.resolve(cfg.model)
    net = instantiate(cfg.model.net)(in_chans=3, num_classes=3)
    assert cfg.model.responses.first_layer[0] in dict(net.named_modules())


def test_baseline_pretrained_path_reads_a_local_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MER_ROOT", str(tmp_path))
    cfg = _compose("model=baseline", "model.name=resnet18", f"model.net.pretrained_path={tmp_path}/missing.pth")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        instantiate(cfg.model.net)(in_chans=3, num_classes=3)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_learnet_experiments_compose(experiment, tmp_path, monkeypatch):
    monkeypatch.setenv("MER_ROOT", str(tmp_path))
    cfg = _compose(f"experiment={experiment}")
    assert cfg.model.name == "learnet" and cfg.hydra.runtime.choices.protocol == "loso"
    assert cfg.model.input_keys[0] in cfg.preprocessing.outputs
    OmegaConf.resolve(cfg.model)
    OmegaConf.resolve(cfg.task)
    if experiment != "learnet_megc2019_flow":  # our recipe's input: align, then magnify, then pool
        steps = list(instantiate(cfg.preprocessing).steps)
        assert steps == ["frames", "landmarks", "align", "magnify", "dynamic"]
        assert instantiate(cfg.datamodule.augment) is not None and cfg.trainer.max_epochs == 60


def test_composite_flow_variant_is_config_only(tmp_path, monkeypatch):
    monkeypatch.setenv("MER_ROOT", str(tmp_path))
    cfg = _compose("experiment=learnet_megc2019_flow")
    choices = cfg.hydra.runtime.choices
    assert (choices.dataset, choices.preprocessing) == ("megc2019_flow", "image")
    resize = cfg.preprocessing.steps.resize
    assert resize.key == cfg.model.input_keys[0] and list(resize.size) == [112, 112] == [cfg.model.net.img_size] * 2


def test_smic_experiment_uses_its_three_label_classes(tmp_path, monkeypatch):
    monkeypatch.setenv("MER_ROOT", str(tmp_path))
    assert _compose("experiment=learnet_smic").dataset.classes == "smic_3"


@pytest.mark.parametrize("callbacks", ["responses", "responses_vs_baseline", "complexity", "analysis"])
def test_callback_configs_instantiate(callbacks, tmp_path, monkeypatch):
    monkeypatch.setenv("MER_ROOT", str(tmp_path))
    cfg = _compose("model=learnet", "preprocessing=dynamic_image", f"callbacks={callbacks}")
    made = [instantiate(c) for c in cfg.callbacks.values()]
    assert all(isinstance(c, (ResponseMaps, ComplexityTable)) for c in made)
    for callback in made:
        if isinstance(callback, ResponseMaps):
            assert callback.panels["first_layer"] == ["stem"]
            assert callback.panels["accretion_1"] == ["paths12.first.conv1", "paths12.second.conv1", "paths12.add1"]


def test_response_maps_refuses_a_compare_net_without_its_layers():
    with pytest.raises(ValueError, match="compare_layers"):
        ResponseMaps({"first_layer": ["stem"]}, compare_net=LEARNet)


def test_response_figure_has_a_row_per_layer_and_a_column_per_channel():
    figure = response_figure(
        torch.rand(3, 112, 112), [("a", torch.rand(16, 56, 56)), ("b", torch.rand(4, 28, 28))], "title", max_channels=8
    )
    images = [ax for ax in figure.axes if ax.images]
    assert len(figure.axes) == 2 * 9 and len(images) == 1 + 8 + 4


@pytest.mark.slow
def test_one_learnet_fold_logs_response_maps_and_complexity(tmp_path):
    run_cli(
        "mer_lightning.train",
        "protocol.test_subject=sub02",
        "model=learnet",
        "preprocessing=dynamic_image",
        "callbacks=analysis",
        "callbacks.responses.compare_epochs=1",
        "threads=1",
        *TINY_DYNAMIC,
        root=tmp_path,
    )
    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("mer-lightning")
    (fold,) = client.search_runs([experiment.experiment_id], filter_string="tags.`mer.run_type` = 'fold'")
    assert fold.info.status == "FINISHED" and fold.data.tags["mer.model"] == "learnet"
    run_id = fold.info.run_id

    def pngs(folder: str) -> list[str]:
        return [a.path for a in client.list_artifacts(run_id, folder) if a.path.endswith(".png")]

    classes = json.loads(fold.data.tags["mer.class_names"])
    for panel in ("first_layer", "accretion_1", "accretion_2", "compare_resnet18"):
        names = pngs(f"responses/{panel}")
        assert sorted(Path(n).name.split("_")[0] for n in names) == sorted(classes), names  # one clip per class
    local = Path(client.download_artifacts(run_id, "complexity.json", str(tmp_path)))
    rows = {row["model"]: row for row in json.loads(local.read_text())["rows"]}
    assert rows["LEARNet"]["params"] == 1_406_275 and {"vgg16", "resnet18", "googlenet"} <= set(rows)


@pytest.mark.slow
def test_no_response_maps_unless_asked(tmp_path):
    run_cli(
        "mer_lightning.train",
        "protocol.test_subject=sub02",
        "model=learnet",
        "preprocessing=dynamic_image",
        "threads=1",
        *TINY_DYNAMIC,
        root=tmp_path,
    )
    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    (fold,) = client.search_runs([client.get_experiment_by_name("mer-lightning").experiment_id])
    assert not [a for a in client.list_artifacts(fold.info.run_id) if a.path == "responses"]
