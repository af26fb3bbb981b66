"""Prototypical classification (Snell et al. 2017) with the inner product, as Meta-MMFNet scores a clip.

An embedding network f maps a clip to a vector; the prototype w_c of class c is the mean embedding of its support
items; p(y = c | x) = softmax over classes of <f(x), w_c>. The class distance is d_c = -<f(x), w_c>.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def class_prototypes(embeddings: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(num_classes, D): the mean embedding of each class's items (zeros for a class with none)."""
    sums = embeddings.new_zeros(num_classes, embeddings.shape[1]).index_add_(0, labels, embeddings)
    counts = torch.bincount(labels, minlength=num_classes).clamp(min=1).to(embeddings.dtype)
    return sums / counts[:, None]


def prototype_scores(embeddings: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """(items, classes): the inner product of each embedding with each prototype (minus the class distance)."""
    return embeddings @ prototypes.T


class PrototypicalNet(nn.Module):
    """An embedding network and one prototype per class, kept as a buffer (so that saved weights carry them): the
    task sets them from the training clips. `forward` gives the class scores <f(x), w_c>; `embed` the embeddings.
    `embedding` is called with `in_chans` and must tell its output size as `num_features` (as timm models do)."""

    def __init__(self, embedding: Callable[..., nn.Module], in_chans: int, num_classes: int) -> None:
        super().__init__()
        self.embedding = embedding(in_chans=in_chans)
        self.register_buffer("prototypes", torch.zeros(num_classes, self.embedding.num_features))

    @property
    def num_classes(self) -> int:
        return len(self.prototypes)

    def embed(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.embedding(*inputs)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return prototype_scores(self.embed(*inputs), self.prototypes)
