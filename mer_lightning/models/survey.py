"""The deep MER survey's baseline CNN (Gong, An & Elfiky, Neural Computing and Applications 2022).

The survey trains "a small CNN" on the apex frame resized to 28x28x3 and ships it only as a MATLAB network file. Its
input size is that of MATLAB's documented first example network ("Create Simple Deep Learning Network for
Classification": 28x28 images), which this module reproduces layer for layer: three 3x3 'same' convolutions of 8,
16 and 32 filters, each followed by batch normalisation and ReLU, the first two by 2x2 max pooling of stride 2, then
one fully connected layer over the 7x7x32 map. That this is the survey's network is our reading, not a fact the
survey states.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class SurveyCNN(nn.Module):
    """`widths` 3x3 convolution + batch norm + ReLU blocks, all but the last followed by 2x2 max pooling, and a linear
    layer over the flattened map of an `img_size` input."""

    def __init__(
        self, in_chans: int = 3, num_classes: int = 4, widths: Sequence[int] = (8, 16, 32), img_size: int = 28
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels, size = in_chans, img_size
        for index, width in enumerate(widths):
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            if index < len(widths) - 1:
                layers.append(nn.MaxPool2d(2, stride=2))
                size //= 2
            channels = width
        self.features = nn.Sequential(*layers)
        self.img_size = img_size
        self.fc = nn.Linear(channels * size * size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != (self.img_size, self.img_size):
            raise ValueError(
                f"SurveyCNN is built for {self.img_size}x{self.img_size} images, got {tuple(x.shape[-2:])}"
            )
        return self.fc(torch.flatten(self.features(x), 1))
