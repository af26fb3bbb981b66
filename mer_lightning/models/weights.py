"""Loading given weights into a model: released per-fold models, or a checkpoint of an earlier stage."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def load_weights(net: nn.Module, path: str | Path, prefix: str = "net.") -> nn.Module:
    """Loads a plain state dict, or a Lightning checkpoint whose `state_dict` keys start with `prefix`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} not found")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if "state_dict" in state:
        state = {k.removeprefix(prefix): v for k, v in state["state_dict"].items() if k.startswith(prefix)}
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise RuntimeError(f"weights in {path} do not fit {type(net).__name__}: {err}") from err
    return net
