"""Intermediate responses of any `nn.Module` by name, for response-map figures (LEARNet's Fig. 3-5).

Forward hooks rather than model-specific return values, so a model's `forward` stays plain and the same helper works
for LEARNet, a timm or torchvision baseline, or any model whose submodules have names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

__all__ = ["capture_responses"]


def capture_responses(
    model: nn.Module,
    x: torch.Tensor | tuple[torch.Tensor, ...],
    layer_names: Sequence[str],
) -> dict[str, torch.Tensor]:
    """Run `model` once on `x` without gradients and return the outputs of the named submodules.

    Names are those of `model.named_modules()` (e.g. LEARNet's `"stem"`, `"paths12.add1"`, timm ResNet's
    `"layer1.0.conv1"`). `x` is the input tensor, or a tuple of tensors for a multi-input `forward`. The model's
    current train/eval mode is kept (call `.eval()` first for inference-time responses). Responses are cloned, so a
    later in-place activation (timm's VGG and ResNet use them) cannot overwrite what was captured. A module that runs
    more than once per forward (a shared activation) has no single response and is refused.
    """
    modules = dict(model.named_modules())
    unknown = [name for name in layer_names if name not in modules]
    if unknown:
        raise KeyError(f"no submodule named {unknown} in {type(model).__name__}; see model.named_modules()")

    responses: dict[str, torch.Tensor] = {}

    def hook_for(name: str) -> Callable[[nn.Module, tuple, object], None]:
        def hook(module: nn.Module, args: tuple, output: object) -> None:
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"{name} returns {type(output).__name__}, not a tensor; capture its submodules")
            if name in responses:
                raise RuntimeError(f"{name} ran more than once in one forward pass; its response is ambiguous")
            responses[name] = output.detach().clone()

        return hook

    inputs = x if isinstance(x, tuple) else (x,)
    handles = [modules[name].register_forward_hook(hook_for(name)) for name in dict.fromkeys(layer_names)]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return responses
