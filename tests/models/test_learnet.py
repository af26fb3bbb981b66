"""LEARNet: sizes of the paper's Table VII, its parameter count, the accretion sums and the figure responses."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mer_lightning.models.learnet import LEARNet
from mer_lightning.models.responses import capture_responses


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize(
    ("conv5_padding", "norm", "features"),
    [(0, "lrn", (256, 3, 3)), (1, "lrn", (256, 4, 4)), (0, "batch", (256, 3, 3))],
)
def test_output_shapes_at_112(conv5_padding: int, norm: str, features: tuple[int, int, int]) -> None:
    model = LEARNet(in_chans=3, num_classes=5, norm=norm, conv5_padding=conv5_padding).eval()
    x = torch.randn(2, 3, 112, 112)
    assert model.forward_features(x).shape == (2, *features)
    assert model.forward_head(model.forward_features(x), pre_logits=True).shape == (2, 256)
    assert model(x).shape == (2, 5)


def test_table_vii_response_sizes() -> None:
    model = LEARNet().eval()
    names = ["stem", "paths12.add1", "paths34.add2", "paths12.first.conv3", "paths34.second.conv3", "norm"]
    out = capture_responses(model, torch.randn(1, 3, 112, 112), names)
    assert out["stem"].shape == (1, 16, 56, 56)
    assert out["paths12.add1"].shape == (1, 16, 28, 28)  # Add-1
    assert out["paths34.add2"].shape == (1, 32, 14, 14)  # Add-2
    assert out["paths12.first.conv3"].shape == out["paths34.second.conv3"].shape == (1, 64, 7, 7)
    assert out["norm"].shape == (1, 256, 7, 7)  # the four paths concatenated


def test_parameter_count_matches_the_paper() -> None:
    # stem 3*3*3*16+16 = 448; one path: 1x1 16*16+16 = 272, 3x3 9*16*32+32 = 4,640, 5x5 25*32*64+64 = 51,264,
    # so 56,176, four paths 224,704; accretion BNs 2*(2*16) + 2*(2*32) = 192; LRN 0; Conv-5 9*256*256+256 = 590,080;
    # FC (3*3*256)*256+256 = 589,824+256 = 590,080; classifier 256*3+3 = 771.
    # 448 + 224,704 + 192 + 590,080 + 590,080 + 771 = 1,406,275 (the paper: 1.4 M).
    model = LEARNet(num_classes=3)
    assert model.fc.weight.numel() == 589_824
    assert _params(model) == 1_406_275
    # the released code's batch norm after the concatenation adds 2*256.
    assert _params(LEARNet(num_classes=3, norm="batch")) == 1_406_275 + 512 == 1_406_787


def test_parameter_count_with_padded_conv5() -> None:
    # Conv-5 'same' leaves 4x4x256: FC (4*4*256)*256+256 = 1,048,832 instead of 590,080.
    # 1,406,275 - 590,080 + 1,048,832 = 1,865,027.
    assert _params(LEARNet(num_classes=3, conv5_padding=1)) == 1_865_027
    assert _params(LEARNet(num_classes=3, conv5_padding=1, norm="batch")) == 1_865_539


@pytest.mark.parametrize("pair", ["paths12", "paths34"])
def test_accretion_adds_the_first_paths_responses(pair: str) -> None:
    model = LEARNet().eval()
    names = [f"{pair}.{p}.conv{i}" for p in ("first", "second") for i in (1, 2)] + [f"{pair}.add1", f"{pair}.add2"]
    out = capture_responses(model, torch.randn(2, 3, 112, 112), names)
    torch.testing.assert_close(out[f"{pair}.add1"], out[f"{pair}.first.conv1"] + out[f"{pair}.second.conv1"])
    torch.testing.assert_close(out[f"{pair}.add2"], out[f"{pair}.first.conv2"] + out[f"{pair}.second.conv2"])


def test_second_path_depends_on_the_first() -> None:
    model = LEARNet().eval()
    x = torch.randn(1, 3, 112, 112)
    names = ["paths12.second.conv3", "paths34.second.conv3"]
    before = capture_responses(model, x, names)
    with torch.no_grad():
        model.paths12.first.conv1.conv.weight.zero_()
    after = capture_responses(model, x, names)
    assert not torch.allclose(before["paths12.second.conv3"], after["paths12.second.conv3"])
    torch.testing.assert_close(before["paths34.second.conv3"], after["paths34.second.conv3"])


def test_forward_backward_reaches_every_parameter() -> None:
    model = LEARNet(in_chans=2, num_classes=4, norm="batch")
    logits = model(torch.randn(4, 2, 112, 112))
    nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3])).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_keras_default_initialisation() -> None:
    model = LEARNet()
    assert all(m.bias.abs().sum() == 0 for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="norm"):
        LEARNet(norm="group")
    with pytest.raises(ValueError, match="img_size"):
        LEARNet(img_size=32)


def test_capture_responses_refuses_unknown_and_shared_modules() -> None:
    with pytest.raises(KeyError, match="paths99"):
        capture_responses(LEARNet(), torch.randn(1, 3, 112, 112), ["paths99.add1"])

    class SharedAct(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 1)
            self.act = nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(self.conv(self.act(x)))

    with pytest.raises(RuntimeError, match="more than once"):
        capture_responses(SharedAct(), torch.randn(1, 1, 4, 4), ["act"])
    with pytest.raises(TypeError, match="paths12"):
        capture_responses(LEARNet(), torch.randn(1, 3, 112, 112), ["paths12"])


def test_capture_responses_two_inputs_and_hooks_removed() -> None:
    class TwoStream(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(1, 2, 1)
            self.b = nn.Conv2d(1, 2, 1)

        def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
            return self.a(x1) + self.b(x2)

    model = TwoStream()
    x1, x2 = torch.randn(1, 1, 3, 3), torch.randn(1, 1, 3, 3)
    out = capture_responses(model, (x1, x2), ["a", "b"])
    torch.testing.assert_close(out["a"] + out["b"], model(x1, x2).detach())
    assert not model.a._forward_hooks and not model.b._forward_hooks
