"""Nistor & Czibula's frame encoder and the nets of its three training stages (SACI 2020).

One CNN encoder of face frames is trained by facial image reconstruction (a convolutional autoencoder: FIR), then by
expression recognition on macro-expressions (the encoder plus one fully connected layer: ER), or by both at once
(MIXT); a recurrent net over its per-frame features then recognises micro-expressions (`models.sequence`). The paper
does not give the layer sizes: ours are four stride-2 convolution blocks (32, 64, 128, 128 channels, BatchNorm,
ReLU) and a fully connected layer to `embed_dim` features, mirrored by the decoder. Every net here names its encoder
`encoder`, so that stages hand it over by that name.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

WIDTHS = (32, 64, 128, 128)


def _block(in_chans: int, out_chans: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_chans, out_chans, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_chans),
        nn.ReLU(inplace=True),
    )


def _reduced(img_size: int, depth: int) -> int:
    size = img_size
    for _ in range(depth):
        size = (size + 1) // 2
    return size


class FrameEncoder(nn.Module):
    """(N, C, H, W) frames, H = W = `img_size`, to (N, `embed_dim`) features."""

    def __init__(
        self, in_chans: int = 1, img_size: int = 64, widths: Sequence[int] = WIDTHS, embed_dim: int = 128
    ) -> None:
        super().__init__()
        chans = [in_chans, *widths]
        self.features = nn.Sequential(*(_block(a, b) for a, b in zip(chans, chans[1:])))
        self.grid = _reduced(img_size, len(widths))
        self.fc = nn.Linear(widths[-1] * self.grid * self.grid, embed_dim)
        self.img_size = img_size
        self.out_features = embed_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.img_size, self.img_size):
            raise ValueError(
                f"FrameEncoder built for {self.img_size}x{self.img_size} frames, got {tuple(x.shape[-2:])}"
            )
        return torch.relu(self.fc(self.features(x).flatten(1)))


class FrameDecoder(nn.Module):
    """(N, `embed_dim`) features back to (N, C, H, W) frames in 0..1, the encoder's layers mirrored."""

    def __init__(
        self, out_chans: int = 1, img_size: int = 64, widths: Sequence[int] = WIDTHS, embed_dim: int = 128
    ) -> None:
        super().__init__()
        if img_size % 2 ** len(widths):
            raise ValueError(f"the decoder needs img_size divisible by {2 ** len(widths)}, got {img_size}")
        self.widths = list(widths)
        self.grid = img_size // 2 ** len(widths)
        self.fc = nn.Linear(embed_dim, widths[-1] * self.grid * self.grid)
        chans = [*reversed(widths), out_chans]
        layers: list[nn.Module] = []
        for index, (a, b) in enumerate(zip(chans, chans[1:])):
            layers.append(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1, bias=index == len(chans) - 2))
            if index < len(chans) - 2:
                layers += [nn.BatchNorm2d(b), nn.ReLU(inplace=True)]
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc(z)).view(len(z), self.widths[-1], self.grid, self.grid)
        return torch.sigmoid(self.layers(x))


class ConvAutoencoder(nn.Module):
    """FIR: `forward(x)` reconstructs the frames. `num_classes` is accepted, as every net is built with the data's
    channels and classes, and unused."""

    def __init__(
        self,
        in_chans: int = 1,
        num_classes: int | None = None,
        img_size: int = 64,
        widths: Sequence[int] = WIDTHS,
        embed_dim: int = 128,
    ) -> None:
        super().__init__()
        self.encoder = FrameEncoder(in_chans, img_size, widths, embed_dim)
        self.decoder = FrameDecoder(in_chans, img_size, widths, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class FrameClassifier(nn.Module):
    """ER: the encoder and one fully connected layer, `forward(x)` -> class scores of each frame."""

    def __init__(
        self,
        in_chans: int = 1,
        num_classes: int = 4,
        img_size: int = 64,
        widths: Sequence[int] = WIDTHS,
        embed_dim: int = 128,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.encoder = FrameEncoder(in_chans, img_size, widths, embed_dim)
        self.head = nn.Sequential(nn.Dropout(drop_rate), nn.Linear(embed_dim, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


class AutoencoderClassifier(nn.Module):
    """MIXT: one encoder, a classifier head and a decoder head; `forward(x)` -> (class scores, reconstruction)."""

    def __init__(
        self,
        in_chans: int = 1,
        num_classes: int = 4,
        img_size: int = 64,
        widths: Sequence[int] = WIDTHS,
        embed_dim: int = 128,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.encoder = FrameEncoder(in_chans, img_size, widths, embed_dim)
        self.decoder = FrameDecoder(in_chans, img_size, widths, embed_dim)
        self.head = nn.Sequential(nn.Dropout(drop_rate), nn.Linear(embed_dim, num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.encoder(x)
        return self.head(features), self.decoder(features)
