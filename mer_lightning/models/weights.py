"""Loading given weights into a model: released per-fold models, or a checkpoint of an earlier stage.

Weights are read with `torch.load(weights_only=True)`: tensors and plain containers only, so that nothing in a file
runs code. A file that cannot be read that way is refused with an error naming it and what it holds; the error never
advises loading it unsafely.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn


class WeightsError(ValueError):
    """A weights file that cannot be used: empty, damaged, not a PyTorch file, or holding more than weights."""


def read_weights(path: str | Path) -> Mapping[str, torch.Tensor]:
    """The state dict in a weights file (a plain one, or a Lightning checkpoint's whole dict), or an error naming
    the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} not found")
    if path.stat().st_size == 0:
        raise WeightsError(f"weights file {path} is empty (0 bytes)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for a file it cannot read; each is named
        raise WeightsError(f"weights file {path} {_why(error)}") from None
    if not isinstance(state, Mapping):
        raise WeightsError(f"weights file {path} holds a {type(state).__name__}, not a state dict of tensors")
    return state


def _why(error: Exception) -> str:
    """What torch's error says about the file, without torch's advice to load it unsafely."""
    text = str(error)
    unsupported = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if unsupported:
        return (
            f"holds objects other than tensors and plain containers ({unsupported.group(1)}), which are not "
            "loaded: save the model's state_dict() alone"
        )
    if "central directory" in text or isinstance(error, EOFError):
        return "is cut short or damaged (not a whole PyTorch file)"
    return f"is not a PyTorch weights file ({type(error).__name__})"


def load_weights(net: nn.Module, path: str | Path, prefix: str = "net.") -> nn.Module:
    """Loads a plain state dict, or a Lightning checkpoint whose `state_dict` keys start with `prefix`."""
    state = read_weights(path)
    if "state_dict" in state:
        state = {k.removeprefix(prefix): v for k, v in state["state_dict"].items() if k.startswith(prefix)}
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise RuntimeError(f"weights in {path} do not fit {type(net).__name__}: {err}") from err
    return net
