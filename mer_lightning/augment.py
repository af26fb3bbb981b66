"""Train-time augmentation of a clip's inputs with albumentations, identical on every frame, region and stream.

A micro-expression is a small motion: flipping or shifting the onset but not the apex, or the flow but not the
difference image, would invent one. So every image of a clip (each input's (C, H, W) image, each frame of a sequence,
each region) gets the same transform: images of one size go through one albumentations call as additional targets,
and images of other sizes get the same random draws (the transform is re-seeded with one seed per clip).

Inputs are float32 and not always 0..255 (signed differences, raw flow), so use geometric transforms (flips, affine,
crops resized back to the input size); albumentations' pixel-level transforms take float images to be 0..1 and clip
them there. A horizontal flip mirrors a flow image without negating its u channel.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import albumentations as A
import numpy as np
import torch

Image = tuple[str, tuple[int, ...]]  # (input key, index of the image within one clip's array of that input)


class ClipAugment:
    """`augment(batch, keys)`: the batch with the inputs `keys` transformed clip by clip, one random draw per clip."""

    def __init__(self, transform: Callable) -> None:
        self.transform = transform
        self._composes: dict[int, A.Compose] = {}

    def _compose(self, count: int) -> A.Compose:
        """The transform over `image` plus `count - 1` additional images, which all get the same parameters."""
        if count not in self._composes:
            targets = {f"image{i}": "image" for i in range(1, count)}
            self._composes[count] = A.Compose([self.transform], additional_targets=targets)
        return self._composes[count]

    def __call__(self, batch: dict[str, torch.Tensor], keys: Sequence[str]) -> dict[str, torch.Tensor]:
        arrays = {key: batch[key].numpy() for key in keys}
        groups: dict[tuple[int, int], list[Image]] = defaultdict(list)
        for key, array in arrays.items():  # (N, ..., C, H, W): every index over "..." is one image of a clip
            groups[array.shape[-2:]].extend((key, index) for index in np.ndindex(array.shape[1:-3]))
        augmented = {key: np.empty_like(array) for key, array in arrays.items()}
        for clip in range(len(batch[keys[0]])):
            seed = int(torch.randint(0, 2**31 - 1, ()))  # from torch's generator, so seed_everything fixes it
            for images in groups.values():
                compose = self._compose(len(images))
                compose.set_random_seed(seed)
                names = ["image", *(f"image{i}" for i in range(1, len(images)))]
                result = compose(
                    **{
                        name: np.ascontiguousarray(np.moveaxis(arrays[key][(clip, *index)], 0, -1))
                        for name, (key, index) in zip(names, images)
                    }
                )
                for name, (key, index) in zip(names, images):
                    out = np.moveaxis(result[name].reshape(result[name].shape[:2] + (-1,)), -1, 0)
                    if out.shape != arrays[key].shape[-3:]:
                        raise ValueError(
                            f"datamodule.augment changed the size of input {key!r} from {arrays[key].shape[-3:]} "
                            f"to {out.shape}; resize crops back to the input size"
                        )
                    augmented[key][(clip, *index)] = out
        return {**batch, **{key: torch.from_numpy(array) for key, array in augmented.items()}}
