"""The generic CNNs LEARNet is compared with (its Table X), at the same dynamic-image input, trained from scratch.

VGG-16/19 and ResNet-18/34 come from timm, GoogLeNet from torchvision (timm has none). The paper's Table X lists a
"ResNet" of 34 layers with 11 M parameters, which is ResNet-18's count (ResNet-34 has 21 M), so both are offered.

At 112x112 input VGG's last feature map is 3x3x512. timm's VGG head (`pre_logits`, a `ConvMlp` whose first layer is
a 7x7 convolution standing for the 25088->4096 FC layer) upsamples a map smaller than 7x7 to 7x7 by adaptive average
pooling (each output cell averages one or two neighbouring cells) before that convolution, just as torchvision's VGG
pools to 7x7 before its classifier. It works at 112 input and is kept: the network stays the standard VGG-16/19
(138 M/144 M parameters with ImageNet's 1000 classes, 134 M/140 M with 3) and ImageNet state dicts load into it. The
cost: that layer's 102.8 M weights see only 3x3 distinct positions, work a head with a 3x3 kernel (what Keras builds
for VGG16 at 112 input) does with 18.9 M.

No weights can be downloaded here: `pretrained_path` names a local state-dict file (`.pth`/`.pt`/`.safetensors`,
possibly wrapped under `state_dict`/`model`, as `timm.models.load_state_dict` reads). A classifier of another class
count is left freshly initialised and a first convolution of another channel count is adapted (timm's
`adapt_input_conv`), so ImageNet weights serve a 3-class, 2-channel model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import timm
import torchvision
from timm.models import adapt_input_conv, load_state_dict
from torch import nn

__all__ = ["BASELINES", "create_baseline"]

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Baseline:
    """How to build one baseline, and where its first convolution and classifier live in its state dict."""

    build: Callable[[int, int], nn.Module]
    first_conv: str
    classifier: str


def _timm(name: str) -> Callable[[int, int], nn.Module]:
    def build(in_chans: int, num_classes: int) -> nn.Module:
        return timm.create_model(name, pretrained=False, in_chans=in_chans, num_classes=num_classes)

    return build


def _googlenet(in_chans: int, num_classes: int) -> nn.Module:
    model = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True, num_classes=num_classes)
    if in_chans != 3:
        conv = nn.Conv2d(in_chans, 64, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.trunc_normal_(conv.weight, mean=0.0, std=0.01, a=-2, b=2)  # torchvision's GoogLeNet init
        model.conv1.conv = conv
    return model


BASELINES: dict[str, _Baseline] = {
    "vgg16": _Baseline(_timm("vgg16"), "features.0", "head.fc"),
    "vgg19": _Baseline(_timm("vgg19"), "features.0", "head.fc"),
    "resnet18": _Baseline(_timm("resnet18"), "conv1", "fc"),
    "resnet34": _Baseline(_timm("resnet34"), "conv1", "fc"),
    "googlenet": _Baseline(_googlenet, "conv1.conv", "fc"),
}


def create_baseline(
    name: str,
    in_chans: int = 3,
    num_classes: int = 3,
    pretrained_path: str | Path | None = None,
) -> nn.Module:
    """Build baseline `name` (one of `BASELINES`) for `in_chans`-channel input and `num_classes` logits.

    Randomly initialised unless `pretrained_path` names a local state-dict file (see the module docstring).
    """
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose one of {sorted(BASELINES)}")
    spec = BASELINES[name]
    model = spec.build(in_chans, num_classes)
    if pretrained_path is not None:
        _load_local(model, Path(pretrained_path), spec)
    return model


def _load_local(model: nn.Module, path: Path, spec: _Baseline) -> None:
    """Load a local state dict, adapting the first convolution's channels and dropping a mismatched classifier."""
    if not path.is_file():
        raise FileNotFoundError(
            f"pretrained_path {str(path)!r} does not exist; weights cannot be downloaded here, so put a state-dict "
            "file there or leave pretrained_path unset to train from scratch"
        )
    state = load_state_dict(str(path))
    own = model.state_dict()

    conv_key = f"{spec.first_conv}.weight"
    if conv_key in state and state[conv_key].shape[1] != own[conv_key].shape[1]:
        state[conv_key] = adapt_input_conv(own[conv_key].shape[1], state[conv_key])

    dropped = [
        key
        for key in (f"{spec.classifier}.weight", f"{spec.classifier}.bias")
        if key in state and state[key].shape != own[key].shape
    ]
    for key in dropped:
        del state[key]
    if dropped:
        _logger.info("%s: classifier shape differs from the model's, left freshly initialised", path)

    missing, unexpected = model.load_state_dict(state, strict=False)
    if set(missing) != set(dropped) or unexpected:
        raise RuntimeError(
            f"{path} does not fit {type(model).__name__}: missing keys {sorted(set(missing) - set(dropped))}, "
            f"unexpected keys {unexpected}"
        )
