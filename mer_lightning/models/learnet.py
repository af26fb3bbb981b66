"""LEARNet: Lateral Accretive Hybrid Network for micro-expression recognition.

Verma, Vipparthi, Singh and Murala, "LEARNet: Dynamic Imaging Network for Micro Expression Recognition", IEEE TIP 29
(2020), Table VII, with what the authors' released Keras code (`LEARNet_Model.py`) adds: batch normalisation after
each accretion sum, 'same' padding, ReLU after every convolution and the FC layer, dropout 0.5.

One dynamic image per clip goes in (B, in_chans, 112, 112). A stem convolution feeds four parallel paths of three
strided convolutions (1x1/16, 3x3/32, 5x5/64). Paths come in pairs: the second path of a pair adds the first path's
response to its own before its next convolution (the accretion layers Add-1 at 28x28x16 and Add-2 at 14x14x32). The
four 7x7x64 path outputs are concatenated, normalised, convolved once more (Conv-5), flattened and classified.

Submodules are named so forward hooks (`mer_lightning.models.responses.capture_responses`) reach the responses the
paper's Fig. 3/4 show: `stem` (first-layer response maps), `paths12.first.conv1` and `paths12.second.conv1` (the two
accreted convolutions) and `paths12.add1` (their sum, before its batch normalisation); `paths12.add2`, `paths34.*`
likewise. A `ConvAct` module's output is the post-ReLU response, as a Keras `Conv2D(activation='relu')` layer's is;
`<name>.conv` is the pre-activation one.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

import torch
from torch import nn

__all__ = ["LEARNet", "AccretionPair", "Add", "ConvAct"]


class ConvAct(nn.Sequential):
    """Convolution then activation, one layer of the paper's table (a Keras `Conv2D` with `activation='relu'`).

    Padding defaults to `kernel_size // 2`, which gives the sizes of Keras' 'same' padding at stride 2 for the odd
    kernels used here (Keras pads only bottom/right when the total pad is odd; PyTorch pads symmetrically, so the
    sampling grid is shifted by one pixel, which matters only for porting Keras weights, and none were released).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | None = None,
        act_layer: type[nn.Module] = nn.ReLU,
    ) -> None:
        padding = kernel_size // 2 if padding is None else padding
        super().__init__(
            OrderedDict(
                conv=nn.Conv2d(in_chs, out_chs, kernel_size, stride=stride, padding=padding),
                act=act_layer(),
            )
        )


class Add(nn.Module):
    """Element-wise sum as a module, so a forward hook can capture an accretion layer's response."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b


def _path(in_chs: int, widths: tuple[int, int, int], act_layer: type[nn.Module]) -> nn.Sequential:
    """One LEARNet path: 1x1, 3x3, 5x5 convolutions, each stride 2."""
    return nn.Sequential(
        OrderedDict(
            conv1=ConvAct(in_chs, widths[0], 1, stride=2, act_layer=act_layer),
            conv2=ConvAct(widths[0], widths[1], 3, stride=2, act_layer=act_layer),
            conv3=ConvAct(widths[1], widths[2], 5, stride=2, act_layer=act_layer),
        )
    )


class AccretionPair(nn.Module):
    """Two parallel paths where the second accretes the first's responses (paths 1+2, or 3+4).

    The first path runs unchanged. The second adds the first path's response to its own after its first and second
    convolutions (`add1`, `add2`) and feeds the batch-normalised sum (`norm1`, `norm2`, from the released code) to its
    next convolution, so it sees both paths' features at each scale. Returns both paths' last responses.
    """

    def __init__(self, in_chs: int, widths: tuple[int, int, int], act_layer: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.first = _path(in_chs, widths, act_layer)
        self.second = _path(in_chs, widths, act_layer)
        self.add1 = Add()
        self.norm1 = nn.BatchNorm2d(widths[0])
        self.add2 = Add()
        self.norm2 = nn.BatchNorm2d(widths[1])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a1 = self.first.conv1(x)
        b1 = self.norm1(self.add1(a1, self.second.conv1(x)))
        a2 = self.first.conv2(a1)
        b2 = self.norm2(self.add2(a2, self.second.conv2(b1)))
        return self.first.conv3(a2), self.second.conv3(b2)


def _conv_out(size: int, kernel_size: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel_size) // stride + 1


class LEARNet(nn.Module):
    """LEARNet on one dynamic image per clip.

    Activations are ReLU after every convolution and after the FC layer, as in the released Keras code (the paper's
    table names none). Weights start as Keras' defaults (Glorot-uniform, zero bias) so training from scratch matches
    the released code's starting point; batch norms keep PyTorch's defaults (Keras: momentum 0.99, eps 1e-3).

    Args:
        in_chans: channels of the dynamic image.
        num_classes: classifier outputs.
        img_size: input height and width; sets the FC layer's input size.
        norm: normalisation of the concatenated paths: `"lrn"` (the paper; AlexNet's constants size 5, alpha 1e-4,
            beta 0.75, k 2, since the paper gives none) or `"batch"` (the released code).
        conv5_padding: padding of Conv-5 (3x3, stride 2). 0 (default) leaves a 3x3x256 map and reproduces the paper's
            FC weight count (589,824) and its 1.4 M total; 1 (Keras 'same', as the released code) leaves the 4x4x256
            map the paper's table prints, and the FC layer alone then has 1.05 M parameters (1.87 M in all).
        stem_chs: filters of the stem convolution.
        widths: filters of each path's three convolutions.
        conv5_chs: filters of Conv-5.
        fc_dim: width of the fully connected layer before the classifier.
        drop_rate: dropout before the classifier (0.5 in the released code).
        act_layer: activation after each convolution and the FC layer.
    """

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 3,
        img_size: int = 112,
        norm: Literal["lrn", "batch"] = "lrn",
        conv5_padding: int = 0,
        stem_chs: int = 16,
        widths: tuple[int, int, int] = (16, 32, 64),
        conv5_chs: int = 256,
        fc_dim: int = 256,
        drop_rate: float = 0.5,
        act_layer: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        if norm not in ("lrn", "batch"):
            raise ValueError(f"norm must be 'lrn' or 'batch', got {norm!r}")
        self.num_classes = num_classes
        self.in_chans = in_chans
        widths = tuple(widths)
        concat_chs = 4 * widths[-1]

        self.stem = ConvAct(in_chans, stem_chs, 3, stride=2, act_layer=act_layer)
        self.paths12 = AccretionPair(stem_chs, widths, act_layer)
        self.paths34 = AccretionPair(stem_chs, widths, act_layer)
        self.norm = (
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0) if norm == "lrn" else nn.BatchNorm2d(concat_chs)
        )
        self.conv5 = ConvAct(concat_chs, conv5_chs, 3, stride=2, padding=conv5_padding, act_layer=act_layer)

        size = _conv_out(img_size, 3, 2, 1)
        for kernel_size in (1, 3, 5):
            size = _conv_out(size, kernel_size, 2, kernel_size // 2)
        size = _conv_out(size, 3, 2, conv5_padding)
        if size < 1:
            raise ValueError(f"img_size {img_size} is too small for LEARNet's six stride-2 convolutions")
        self.num_features = conv5_chs * size * size
        self.head_hidden_size = fc_dim

        self.fc = nn.Linear(self.num_features, fc_dim)
        self.fc_act = act_layer()
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(fc_dim, num_classes)
        self.apply(_init_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Conv-5's response map, (B, conv5_chs, 3, 3) at 112x112 input with the default padding."""
        x = self.stem(x)
        p1, p2 = self.paths12(x)
        p3, p4 = self.paths34(x)
        x = self.norm(torch.cat([p1, p2, p3, p4], dim=1))
        return self.conv5(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.fc_act(self.fc(torch.flatten(x, 1)))
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes); the softmax of the released code belongs to the loss."""
        return self.forward_head(self.forward_features(x))


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)
