"""A recurrent classifier over per-frame encodings: clips as sequences of frames, of any length; and the frame
classifier that trains such an encoder first, on frames alone.

Each real frame of a clip goes through a frame encoder (any module mapping one frame's input to a feature vector,
e.g. a pre-trained `models.nistor.FrameEncoder` or `models.regions.RegionEncoder`); the features, in frame order, go
through a stacked LSTM or GRU, packed by each clip's length so that padding never enters it; the output after the
clip's last real frame goes through a fully connected layer to the class scores. `forward(frames, lengths)` takes
the data module's padded sequence and its `length` entry. Both nets name their encoder `encoder`, so that a stage
hands it from one to the other (`init: {encoder: frames.encoder}`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

RNNS = {"lstm": nn.LSTM, "gru": nn.GRU}


class FrameSequenceClassifier(nn.Module):
    """`encoder(in_chans=...)` builds the frame encoder (its `out_features` is the feature size); `rnn` is `lstm` or
    `gru`, `layers` deep, `hidden` wide. `relative`: the recurrent net reads each frame's features minus those of the
    clip's first frame, the change since onset, which is what a micro-expression is (the face itself cancels out)."""

    def __init__(
        self,
        encoder: Callable[..., nn.Module],
        in_chans: int = 1,
        num_classes: int = 3,
        rnn: str = "lstm",
        hidden: int = 128,
        layers: int = 2,
        dropout: float = 0.0,
        relative: bool = False,
    ) -> None:
        super().__init__()
        if rnn not in RNNS:
            raise ValueError(f"model.net.rnn must be one of {sorted(RNNS)}, got {rnn!r}")
        self.encoder = encoder(in_chans=in_chans)
        self.rnn = RNNS[rnn](
            self.encoder.out_features,
            hidden,
            num_layers=layers,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.head = nn.Linear(hidden, num_classes)
        self.relative = relative

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """`frames` (B, T, ...) zero-padded after each clip's `lengths` (B,) real frames -> (B, classes)."""
        batch, steps = frames.shape[:2]
        lengths = lengths.to(torch.long)
        if bool((lengths < 1).any()) or bool((lengths > steps).any()):
            raise ValueError(f"sequence lengths must be within 1..{steps}, got {lengths.tolist()}")
        real = torch.arange(steps, device=frames.device)[None, :] < lengths[:, None]
        encoded = self.encoder(frames[real])  # real frames only: padding costs nothing and changes nothing
        features = encoded.new_zeros(batch, steps, encoded.shape[-1])
        features[real] = encoded
        if self.relative:
            features = (features - features[:, :1]) * real[..., None]
        packed = pack_padded_sequence(features, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, state = self.rnn(packed)
        hidden = state[0] if isinstance(state, tuple) else state  # LSTM: (h, c); GRU: h
        return self.head(hidden[-1])


class FrameEncoderClassifier(nn.Module):
    """`encoder(in_chans=...)` and one fully connected layer: class scores of single frames (N, ...) -> (N, classes),
    the per-frame stage that trains an encoder before a `FrameSequenceClassifier` reads it."""

    def __init__(
        self, encoder: Callable[..., nn.Module], in_chans: int = 1, num_classes: int = 3, drop_rate: float = 0.0
    ) -> None:
        super().__init__()
        self.encoder = encoder(in_chans=in_chans)
        self.head = nn.Sequential(nn.Dropout(drop_rate), nn.Linear(self.encoder.out_features, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))
