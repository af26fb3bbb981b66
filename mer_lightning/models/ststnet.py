"""STSTNet (Liong et al., 2019): a shallow triple-stream network on onset-apex optical flow (u, v, strain).

The module and parameter names follow the authors' PyTorch definition, so that their released per-fold weights
load with `load_state_dict` unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


class STSTNet(nn.Module):
    def __init__(self, in_chans: int = 3, num_classes: int = 3, drop_rate: float = 0.5) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, 3, kernel_size=3, padding=2)
        self.conv2 = nn.Conv2d(in_chans, 5, kernel_size=3, padding=2)
        self.conv3 = nn.Conv2d(in_chans, 8, kernel_size=3, padding=2)
        self.relu = nn.ReLU()
        self.bn1 = nn.BatchNorm2d(3)
        self.bn2 = nn.BatchNorm2d(5)
        self.bn3 = nn.BatchNorm2d(8)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=3, padding=1)
        self.dropout = nn.Dropout(p=drop_rate)
        self.avgpool = nn.AvgPool2d(kernel_size=2, stride=2)
        self.fc = nn.Linear(in_features=5 * 5 * 16, out_features=num_classes)

    def _branch(self, conv: nn.Conv2d, bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.maxpool(bn(self.relu(conv(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat(
            [
                self._branch(self.conv1, self.bn1, x),
                self._branch(self.conv2, self.bn2, x),
                self._branch(self.conv3, self.bn3, x),
            ],
            dim=1,
        )
        return self.fc(torch.flatten(self.avgpool(x), 1))
