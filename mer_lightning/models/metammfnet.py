"""Meta-MMFNet (Gong et al., ACM TOMM): two prototypical models on two input streams, their distances fused.

Each model embeds a clip from its onset->apex optical flow and its apex - onset frame difference (one small CNN per
stream, the features concatenated and mapped to the embedding); the micro model is meta-trained on micro-expressions,
the macro model pre-trained on macro-expressions and then meta-trained on micro-expressions. A clip's class distances
to the two models' prototypes are fused as d_sum = d_micro + alpha * d_macro.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from mer_lightning.models.fusion import ChosenCombination


class StreamCNN(nn.Module):
    """A small CNN for one input stream: 3x3 convolution, batch norm and ReLU blocks of `widths` channels (the first
    with stride `stem_stride`), each but the last followed by 2x2 max pooling, then global average pooling: a
    `num_features`-long vector for any input size."""

    def __init__(self, in_chans: int, widths: Sequence[int] = (16, 32, 64), stem_stride: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_chans
        for index, width in enumerate(widths):
            stride = stem_stride if index == 0 else 1
            layers += [
                nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            if index < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            channels = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.num_features = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class TwoStreamEmbedding(nn.Module):
    """f_theta: one network per stream (`flow_stream`, `diff_stream`, each called with its input's channels), their
    features concatenated and mapped linearly to an `embed_dim`-long embedding. `diff_chans`: the difference's
    channels when they differ from the flow's (`in_chans`)."""

    def __init__(
        self,
        in_chans: int,
        flow_stream: Callable[..., nn.Module],
        diff_stream: Callable[..., nn.Module],
        embed_dim: int = 64,
        diff_chans: int | None = None,
    ) -> None:
        super().__init__()
        self.flow = flow_stream(in_chans=in_chans)
        self.diff = diff_stream(in_chans=diff_chans or in_chans)
        self.fuse = nn.Linear(self.flow.num_features + self.diff.num_features, embed_dim)
        self.num_features = embed_dim

    def forward(self, flow: torch.Tensor, diff: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([self.flow(flow), self.diff(diff)], dim=1))


class MetaMMFNet(ChosenCombination):
    """The fused model: `micro` and `macro` prototypical nets (built alike, each giving class scores <f(x), w_c>,
    i.e. minus its class distances) combined as -(d_micro + alpha * d_macro), so that the class of smallest fused
    distance scores highest. The fusion stage loads both nets from the stages that trained them and chooses alpha
    among `alphas` on validation clips (task=choose); one value in `alphas` fixes it."""

    setting_name = "alpha"

    def __init__(
        self,
        micro: Callable[..., nn.Module],
        macro: Callable[..., nn.Module],
        in_chans: int,
        num_classes: int,
        alphas: Sequence[float] = (0.0, 0.5, 1.0, 2.0),
    ) -> None:
        super().__init__()
        if not alphas or min(alphas) < 0:
            raise ValueError(f"model.net.alphas must be one or more values >= 0, got {list(alphas)}")
        self.micro = micro(in_chans=in_chans, num_classes=num_classes)
        self.macro = macro(in_chans=in_chans, num_classes=num_classes)
        self.alphas = sorted(float(a) for a in alphas)

    def parts(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"micro": self.micro(*inputs), "macro": self.macro(*inputs)}

    def combine(self, parts: dict[str, torch.Tensor], value: torch.Tensor) -> torch.Tensor:
        d_micro, d_macro = -parts["micro"], -parts["macro"]
        return -(d_micro + value * d_macro)

    def candidates(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.tensor(self.alphas, dtype=torch.float64)
