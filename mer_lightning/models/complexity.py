"""Model complexity as papers tabulate it (LEARNet's Table X): weight layers, trainable parameters, multiply-adds.

Multiply-adds come from `torch.utils.flop_counter.FlopCounterMode` (flops / 2), which counts matrix products and
convolutions (bias additions, normalisation, activations and pooling are not counted), on one input of the given
shape. `layers` counts every convolution and linear layer, parallel branches and projection shortcuts included, so
it is not a depth: timm's ResNet-18 has 21 and LEARNet 16 (14 convolutions, as the paper counts, and 2 FC layers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["complexity", "complexity_table", "format_complexity_table"]


def complexity(model: nn.Module, input_shape: Sequence[int]) -> dict[str, int]:
    """`layers`, `params` and `macs` of `model` for one input of `input_shape` (no batch dimension, e.g. (3, 112, 112)).

    The forward runs in eval mode without gradients; the model's mode is restored afterwards.
    """
    layers = sum(isinstance(m, (_ConvNd, nn.Linear)) for m in model.modules())
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    parameter = next(model.parameters(), None)
    x = torch.zeros(1, *input_shape, device=None if parameter is None else parameter.device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    return {"layers": layers, "params": params, "macs": counter.get_total_flops() // 2}


def complexity_table(models: Mapping[str, nn.Module], input_shape: Sequence[int]) -> list[dict[str, int | str]]:
    """One `complexity` row per model, in the mapping's order, with the model's name under `model`."""
    return [{"model": name, **complexity(model, input_shape)} for name, model in models.items()]


def format_complexity_table(rows: Sequence[Mapping[str, int | str]]) -> str:
    """Plain-text table of `complexity_table` rows: parameters and multiply-adds in millions."""
    header = ("model", "layers", "params (M)", "MACs (M)")
    cells = [
        (str(row["model"]), str(row["layers"]), f"{row['params'] / 1e6:.3f}", f"{row['macs'] / 1e6:.1f}")
        for row in rows
    ]
    widths = [max(len(values[i]) for values in [header, *cells]) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            value.ljust(width) if i == 0 else value.rjust(width) for i, (value, width) in enumerate(zip(values, widths))
        )

    return "\n".join([line(header), "  ".join("-" * width for width in widths), *(line(c) for c in cells)])
