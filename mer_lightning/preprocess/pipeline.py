"""A preprocessing pipeline: steps applied in order to each clip, keeping only the named outputs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mer_lightning.clip import Clip
from mer_lightning.preprocess.sample import PreprocessError, Sample

Step = Callable[[Sample], Sample]


class Pipeline:
    """`pipeline(clip)` -> `{output: float32 array}`; `settings` describes every step, for the cache key.

    Steps come named (a mapping, as configs give them, so `preprocessing.steps.flow.method=dis` reaches one) and
    run in order. `sequences` names the outputs whose first axis is time (frames of different counts per clip): the
    data module pads them and reports each clip's length. It changes how inputs are batched, not what they are, so
    it is not part of the cache key.
    """

    def __init__(self, steps: Mapping[str, Step], outputs: Sequence[str], sequences: Sequence[str] = ()) -> None:
        if not outputs:
            raise ValueError("preprocessing.outputs is empty: name the inputs the model takes (e.g. [flow])")
        unknown = sorted(set(sequences) - set(outputs))
        if unknown:
            raise ValueError(f"preprocessing.sequences {unknown} are not among preprocessing.outputs {list(outputs)}")
        self.steps = {name: step for name, step in steps.items() if step is not None}
        self.outputs = list(outputs)
        self.sequences = list(sequences)

    @property
    def settings(self) -> dict[str, Any]:
        return {
            "steps": [{"name": n, "step": type(s).__qualname__, **_fields(s)} for n, s in self.steps.items()],
            "outputs": self.outputs,
        }

    def __call__(self, clip: Clip) -> dict[str, np.ndarray]:
        sample: Sample = {"clip": clip}
        for step in self.steps.values():
            try:
                sample = step(sample)
            except PreprocessError as err:
                raise PreprocessError(f"clip {clip.uid}: {err}") from err
            except OSError as err:
                raise PreprocessError(f"clip {clip.uid}: step {type(step).__name__} failed: {err}") from err
        missing = [key for key in self.outputs if key not in sample]
        if missing:
            raise ValueError(f"preprocessing.outputs {missing} are not produced by any step (have {sorted(sample)})")
        return {key: np.ascontiguousarray(sample[key], dtype=np.float32) for key in self.outputs}


def _fields(step: Step) -> dict[str, Any]:
    if dataclasses.is_dataclass(step):
        return {f.name: getattr(step, f.name) for f in dataclasses.fields(step)}
    return dict(vars(step))
