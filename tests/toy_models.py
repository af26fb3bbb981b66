"""Models that exist only to prove the framework's contracts."""

import torch
from torch import nn


class TwoStreamNet(nn.Module):
    """Two inputs, two streams (as Meta-MMFNet's flow + difference): `forward(x1, x2)`, inputs of any size."""

    def __init__(self, in_chans: int = 3, num_classes: int = 3) -> None:
        super().__init__()
        self.first = nn.Sequential(nn.Conv2d(in_chans, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.second = nn.Sequential(nn.Conv2d(in_chans, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(8, num_classes)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.first(x1), self.second(x2)], dim=1))
