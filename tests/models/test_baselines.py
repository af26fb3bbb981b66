"""The paper's baselines: each builds at 112x112 for 3- and 2-channel input, trains, and loads only local weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from mer_lightning.models.baselines import BASELINES, create_baseline
from mer_lightning.models.responses import capture_responses

_SLOW = {"vgg16", "vgg19"}  # 134-140 M parameters: several seconds each to build and run on CPU


def _cases() -> list:
    return [
        pytest.param(name, in_chans, marks=[pytest.mark.slow] if name in _SLOW else [])
        for name in BASELINES
        for in_chans in (3, 2)
    ]


@pytest.mark.parametrize(("name", "in_chans"), _cases())
def test_builds_and_trains_at_112(name: str, in_chans: int) -> None:
    torch.manual_seed(0)
    model = create_baseline(name, in_chans=in_chans, num_classes=3)
    logits = model(torch.randn(2, in_chans, 112, 112))
    assert logits.shape == (2, 3)
    nn.functional.cross_entropy(logits, torch.tensor([0, 2])).backward()
    first_conv = model.get_submodule(BASELINES[name].first_conv)
    assert first_conv.in_channels == in_chans
    assert first_conv.weight.grad is not None


def test_baseline_names() -> None:
    assert set(BASELINES) == {"vgg16", "vgg19", "resnet18", "resnet34", "googlenet"}
    with pytest.raises(ValueError, match="resnet50"):
        create_baseline("resnet50")


@pytest.mark.slow
def test_vgg_head_at_112_pools_the_3x3_map_up_to_its_7x7_kernel() -> None:
    model = create_baseline("vgg16", num_classes=3).eval()
    out = capture_responses(model, torch.randn(1, 3, 112, 112), ["features", "pre_logits.fc1"])
    assert out["features"].shape == (1, 512, 3, 3)
    assert out["pre_logits.fc1"].shape == (1, 4096, 1, 1)
    assert model.pre_logits.fc1.weight.shape == (4096, 512, 7, 7)


def test_missing_pretrained_path_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "resnet18_imagenet.pth"
    with pytest.raises(FileNotFoundError, match="resnet18_imagenet.pth"):
        create_baseline("resnet18", pretrained_path=path)


def test_pretrained_path_round_trip(tmp_path: Path) -> None:
    source = create_baseline("resnet18", in_chans=3, num_classes=3).eval()
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    loaded = create_baseline("resnet18", in_chans=3, num_classes=3, pretrained_path=path).eval()
    x = torch.randn(1, 3, 112, 112)
    torch.testing.assert_close(loaded(x), source(x))


def test_pretrained_path_adapts_channels_and_leaves_other_classifier(tmp_path: Path) -> None:
    # as ImageNet weights would be used: another class count, 3 input channels for a 2-channel model.
    source = create_baseline("googlenet", in_chans=3, num_classes=10)
    path = tmp_path / "googlenet.pth"
    torch.save({"state_dict": source.state_dict()}, path)
    model = create_baseline("googlenet", in_chans=2, num_classes=3, pretrained_path=path)
    torch.testing.assert_close(model.inception3a.branch1.conv.weight, source.inception3a.branch1.conv.weight)
    assert model.conv1.conv.weight.shape == (64, 2, 7, 7)
    assert model.fc.weight.shape == (3, 1024)


def test_pretrained_path_of_another_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "resnet18.pth"
    torch.save(create_baseline("resnet18").state_dict(), path)
    with pytest.raises(RuntimeError, match="resnet18.pth does not fit"):
        create_baseline("resnet34", pretrained_path=path)


def test_responses_of_a_baseline_survive_in_place_activations() -> None:
    # timm's ResNet applies an in-place ReLU to bn1's output; the captured response must keep its negatives.
    model = create_baseline("resnet18").eval()
    out = capture_responses(model, torch.randn(1, 3, 112, 112), ["bn1", "act1", "layer1"])
    assert (out["bn1"] < 0).any()
    torch.testing.assert_close(out["act1"], out["bn1"].clamp(min=0))
    assert out["layer1"].shape == (1, 64, 28, 28)
