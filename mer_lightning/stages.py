"""The stages of a fold: weights saved at the end of each, and handed to later ones by module name.

A fold runs one or more stages in order (autoencoder pre-training, then macro-expression fine-tuning, then the
sequence model that is tested, ...). Each stage ends with its net's final weights, saved to a file and kept; a later
stage starts named modules of its own net from those of an earlier one (`init: {encoder: er.encoder}`: this net's
`encoder` from stage `er`'s `encoder`), and may freeze them. Digests of every top-level module at a stage's start
and end let a reader of the records check what was handed over and what training changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn


@dataclass(frozen=True)
class Handover:
    """This stage's `module` starts from stage `stage`'s `source` module (`""` for a whole net)."""

    module: str
    stage: str
    source: str

    @classmethod
    def parse(cls, module: str, spec: str) -> Handover:
        """`init` entries read `module: stage.source` (e.g. `encoder: er.encoder`; `"": fir` for the whole net)."""
        stage, _, source = str(spec).partition(".")
        if not stage:
            raise ValueError(f"init: {module!r} must name a stage (stage.module), got {spec!r}")
        return cls(module, stage, source)


def module_state(state: Mapping[str, torch.Tensor], module: str) -> dict[str, torch.Tensor]:
    """The entries of a net's state dict that belong to `module` (all of them for `""`), relative to it."""
    if not module:
        return dict(state)
    prefix = f"{module}."
    return {key.removeprefix(prefix): value for key, value in state.items() if key.startswith(prefix)}


def digest(state: Mapping[str, torch.Tensor]) -> str:
    """A short content hash of some weights: the same weights, the same digest, whatever object holds them."""
    sha = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        sha.update(key.encode())
        sha.update(str(tensor.dtype).encode())
        sha.update(str(tuple(tensor.shape)).encode())
        sha.update(tensor.numpy().tobytes() if tensor.dtype != torch.bfloat16 else tensor.float().numpy().tobytes())
    return sha.hexdigest()[:16]


def module_digests(net: nn.Module) -> dict[str, str]:
    """The digest of the whole net (`""`) and of each of its top-level modules that holds weights."""
    state = net.state_dict()
    digests = {"": digest(state)}
    for name, _ in net.named_children():
        own = module_state(state, name)
        if own:
            digests[name] = digest(own)
    return digests


def save_weights(net: nn.Module, path: Path) -> Path:
    """The net's state dict, written whole or not at all (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save(net.state_dict(), partial)
    partial.replace(path)
    return path


def hand_over(net: nn.Module, handovers: list[Handover], states: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
    """Loads each handover's source module, from the final weights of its (earlier) stage, into this net's module."""
    for handover in handovers:
        if handover.stage not in states:
            raise ValueError(
                f"init: {handover.module or 'the net'} starts from stage {handover.stage!r}, which has not run "
                f"before this one (earlier stages: {sorted(states)})"
            )
        state = module_state(states[handover.stage], handover.source)
        if not state:
            raise ValueError(f"init: stage {handover.stage!r} has no module {handover.source!r}")
        try:
            net.get_submodule(handover.module).load_state_dict(state)
        except (AttributeError, RuntimeError) as err:
            raise ValueError(
                f"init: {handover.stage}.{handover.source} does not fit this stage's {handover.module or 'net'}: {err}"
            ) from err
