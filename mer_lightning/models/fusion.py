"""Trained nets combined through one setting that is chosen, not trained: a fusion weight, a routing threshold.

Methods that fuse models trained in earlier stages (Meta-MMFNet's micro and macro nets weighted by alpha; Choi et
al.'s joint framework sending each clip to one of two nets by its expression intensity) hold those nets as
submodules and choose one value on validation clips, never on the test subject. A `ChosenCombination` splits its
work so that choosing is cheap: `parts(*inputs)` computes what no value changes (each net's class scores, a clip's
intensity) once per clip, `combine(parts, value)` gives the class scores under one value, and `candidates(parts)` the
values worth trying on those clips. `lit.choose.ChooseOnValidation` tries them and keeps the best; the chosen value is
a buffer, saved with the weights, so a re-test from saved weights uses it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from torch import nn


class ChosenCombination(nn.Module, ABC):
    """`forward(*inputs)` = `combine(parts(*inputs), setting)`; `setting` is NaN until chosen. Subclasses name what
    the setting is in `setting_name` (`alpha`, `threshold`), which the records use."""

    setting_name = "setting"

    def __init__(self) -> None:
        super().__init__()
        # float64: a threshold midway between two close float32 intensities must stay between them
        self.register_buffer("setting", torch.tensor(float("nan"), dtype=torch.float64))

    @abstractmethod
    def parts(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """What the setting does not change, per clip (first axis): each net's class scores and whatever else
        `combine` needs."""

    @abstractmethod
    def combine(self, parts: dict[str, torch.Tensor], value: torch.Tensor) -> torch.Tensor:
        """(clips, classes) class scores under one value of the setting."""

    @abstractmethod
    def candidates(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        """(K,) values worth trying on these clips, in an order where neighbours are similar (ties are broken by
        taking the middle one of the best)."""

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        if torch.isnan(self.setting):
            raise RuntimeError(
                f"{type(self).__name__}: its {self.setting_name} has not been chosen; it is chosen on validation "
                "clips (task=choose, protocol.val_subjects > 0) or loaded with the weights of a finished fold"
            )
        return self.combine(self.parts(*inputs), self.setting)


class IntensityRouter(ChosenCombination):
    """Each clip classified by one of two nets by how intense its expression is: by `strong` when its intensity is at
    least the threshold, else by `subtle` (Choi et al.'s joint framework: the image model for general expressions,
    the landmark-feature model for micro-expressions, routed by SFEM).

    Inputs, in order: the first `strong_inputs` go to `strong`, the rest but the last to `subtle`, and the last is
    the clip's intensity, (clips,) or (clips, 1). Both nets are built for `in_chans` channels and `num_classes`.
    Candidate thresholds: the lowest intensity seen (every clip to `strong`), the midpoints between consecutive
    distinct intensities, and +inf (every clip to `subtle`).
    """

    setting_name = "threshold"

    def __init__(
        self,
        strong: Callable[..., nn.Module],
        subtle: Callable[..., nn.Module],
        in_chans: int = 1,
        num_classes: int = 7,
        strong_inputs: int = 2,
    ) -> None:
        super().__init__()
        if strong_inputs < 1:
            raise ValueError(f"model.net.strong_inputs must be >= 1, got {strong_inputs}")
        self.strong = strong(in_chans=in_chans, num_classes=num_classes)
        self.subtle = subtle(in_chans=in_chans, num_classes=num_classes)
        self.strong_inputs = strong_inputs

    def parts(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        if len(inputs) < self.strong_inputs + 2:
            raise ValueError(
                f"IntensityRouter takes {self.strong_inputs} input(s) of the strong net, at least one of the subtle "
                f"net and the intensity (model.input_keys), got {len(inputs)}"
            )
        strong, subtle, intensity = inputs[: self.strong_inputs], inputs[self.strong_inputs : -1], inputs[-1]
        return {"strong": self.strong(*strong), "subtle": self.subtle(*subtle), "intensity": intensity.reshape(-1)}

    def combine(self, parts: dict[str, torch.Tensor], value: torch.Tensor) -> torch.Tensor:
        to_strong = (parts["intensity"] >= value)[:, None]
        return torch.where(to_strong, parts["strong"], parts["subtle"])

    def candidates(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        seen = torch.unique(parts["intensity"].double())  # sorted
        midpoints = (seen[1:] + seen[:-1]) / 2
        return torch.cat([seen[:1], midpoints, seen.new_tensor([float("inf")])])
