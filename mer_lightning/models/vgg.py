"""A VGG-16-style frame encoder, narrow enough to train from scratch on a CPU.

Choi, Kim & Song encode each frame's landmark feature map (and, in their image model, each face frame) with a
VGG16-based CNN. No ImageNet weights can be downloaded here and CK+-sized sets are small, so this keeps VGG-16's
layout, 13 3x3 convolutions in five blocks of 2, 2, 3, 3, 3, each block closed by 2x2 max pooling, with its widths
(64, 128, 256, 512, 512) divided by `width_divisor`, BatchNorm after every convolution, and, for VGG's three fully
connected layers, global average pooling and one fully connected layer to `embed_dim` features. Inputs need at least
32x32 pixels (five halvings).
"""

from __future__ import annotations

import torch
from torch import nn

VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (width, convolutions) per block


class VGGEncoder(nn.Module):
    """(N, C, H, W) -> (N, `embed_dim`) features (`out_features`), for `models.sequence.FrameSequenceClassifier`."""

    def __init__(self, in_chans: int = 1, width_divisor: int = 8, embed_dim: int = 128, drop_rate: float = 0.0) -> None:
        super().__init__()
        if width_divisor < 1 or 64 % width_divisor:
            raise ValueError(f"model: width_divisor must divide 64, got {width_divisor}")
        layers: list[nn.Module] = []
        chans = in_chans
        for width, convolutions in VGG16_BLOCKS:
            width //= width_divisor
            for _ in range(convolutions):
                layers += [nn.Conv2d(chans, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
                chans = width
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(drop_rate), nn.Linear(chans, embed_dim), nn.ReLU(inplace=True))
        self.out_features = embed_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < 32:
            raise ValueError(f"VGGEncoder needs inputs of 32x32 or more (five 2x2 poolings), got {tuple(x.shape[-2:])}")
        return self.head(self.features(x).mean(dim=(-2, -1)))
