"""Aouayeb et al.'s local-region CNN (IEEE MLSP 2019): one small CNN per facial region, built of inception blocks.

A frame is a stack of region crops (the `Regions` preprocessing step, `(R, C, h, w)`). Each region goes through its
own CNN, whose block is an inception module: 1x1, 3x3, 5x5 and 7x7 convolutions side by side, 16 filters each,
concatenated, so that motion of any of those sizes inside the region is seen at once. The regions' features are
concatenated into the frame's feature vector: `RegionEncoder` is a frame encoder, trained per frame under a linear
head (`models.sequence.FrameEncoderClassifier`) and then read frame by frame by an LSTM
(`models.sequence.FrameSequenceClassifier`).

What the paper fixes: the inception module (four kernel sizes, 16 filters each) and one CNN per region. What it
leaves open, ours: `blocks` inception blocks, each followed by 2x2 max pooling; batch normalisation after each
convolution (`norm`, so that 0..255 pixels need no rescaling); the blocks' output averaged to a `pool` x `pool`
grid (where in the region something moved stays known) and a fully connected layer to `embed_dim` features.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

INCEPTION_KERNELS = (1, 3, 5, 7)


class InceptionBlock(nn.Module):
    """Parallel k x k convolutions ('same' padding, stride 1), `filters` each, each followed by batch normalisation
    (with `norm`) and ReLU, concatenated: (N, C, H, W) -> (N, filters x len(kernels), H, W)."""

    def __init__(
        self, in_chans: int, filters: int = 16, kernels: Sequence[int] = INCEPTION_KERNELS, norm: bool = True
    ) -> None:
        super().__init__()
        if not kernels or any(k < 1 or k % 2 == 0 for k in kernels):
            raise ValueError(
                f"inception kernels must be odd sizes >= 1 (the output keeps the input's size), got {kernels}"
            )
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(in_chans, filters, k, padding=k // 2, bias=not norm),
                *([nn.BatchNorm2d(filters)] if norm else []),
                nn.ReLU(inplace=True),
            )
            for k in kernels
        )
        self.out_chans = filters * len(kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class RegionCNN(nn.Module):
    """One region's crops (N, C, h, w) -> (N, `embed_dim`): `blocks` inception blocks, each followed by 2x2 max
    pooling, averaged to a `pool` x `pool` grid, then a fully connected layer and ReLU."""

    def __init__(
        self,
        in_chans: int = 3,
        blocks: int = 1,
        filters: int = 16,
        kernels: Sequence[int] = INCEPTION_KERNELS,
        norm: bool = True,
        pool: int = 4,
        embed_dim: int = 64,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if blocks < 1:
            raise ValueError(f"a region CNN needs at least one inception block, got blocks={blocks}")
        layers: list[nn.Module] = []
        chans = in_chans
        for _ in range(blocks):
            block = InceptionBlock(chans, filters, kernels, norm)
            layers += [block, nn.MaxPool2d(2)]
            chans = block.out_chans
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(pool))
        self.fc = nn.Sequential(
            nn.Flatten(), nn.Dropout(drop_rate), nn.Linear(chans * pool * pool, embed_dim), nn.ReLU(inplace=True)
        )
        self.out_features = embed_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


class RegionEncoder(nn.Module):
    """A frame's regions (N, R, C, h, w) -> (N, R x `embed_dim`): region r through its own `RegionCNN`, the features
    concatenated in region order. `regions` names them in the order the preprocessing stacks them (its `names`), so
    that each CNN's weights (`regions.<name>.*`) always see the same part of the face."""

    def __init__(self, regions: Sequence[str], in_chans: int = 3, **cnn) -> None:
        super().__init__()
        if not regions:
            raise ValueError("model.net.encoder.regions is empty: name the regions (preprocessing.steps.regions.names)")
        if len(set(regions)) != len(regions):
            raise ValueError(f"model.net.encoder.regions names a region twice: {list(regions)}")
        self.names = list(regions)
        self.regions = nn.ModuleDict({name: RegionCNN(in_chans, **cnn) for name in self.names})
        self.out_features = sum(cnn.out_features for cnn in self.regions.values())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5 or x.shape[1] != len(self.names):
            raise ValueError(
                f"RegionEncoder built for {len(self.names)} regions {self.names} takes "
                f"(N, {len(self.names)}, C, h, w), "
                f"got {tuple(x.shape)}: do preprocessing.steps.regions.names and model.net.encoder.regions agree?"
            )
        return torch.cat([cnn(x[:, index]) for index, cnn in enumerate(self.regions.values())], dim=1)
