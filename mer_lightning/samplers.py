"""Training batches other than shuffled ones, for the data module's `batch_sampler` hook.

The data module calls a configured sampler with the labels of its training items (the fold's training subjects
only: never a clip of its test or validation subjects) and its batch size, and draws each training batch as one list
of item positions.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


class EpisodicBatchSampler:
    """Episodes of prototypical meta-learning: each batch draws `ways` classes (every class when null), then
    `shots` + `queries` distinct items of each, and lists them as the support set (`shots` items of each class, class
    by class) followed by the query set (`queries` items of each class, in the same class order); `PrototypeTask`
    reads that layout back from the labels. `episodes` batches make an epoch; the episode's size, not `batch_size`,
    sets how many items a batch holds. Draws come from torch's generator, which the fold's seed sets."""

    def __init__(
        self,
        labels: torch.Tensor,
        batch_size: int | None = None,
        ways: int | None = None,
        shots: int = 5,
        queries: int = 5,
        episodes: int = 100,
    ) -> None:
        if shots < 1 or queries < 1 or episodes < 1:
            raise ValueError(
                "datamodule.batch_sampler: shots, queries and episodes must be >= 1, "
                f"got {shots}, {queries}, {episodes}"
            )
        labels = torch.as_tensor(labels)
        classes, counts = torch.unique(labels, return_counts=True)
        ways = len(classes) if ways is None else ways
        if ways < 2:
            raise ValueError(
                f"datamodule.batch_sampler: an episode needs ways >= 2 classes, got {ways} (training "
                f"classes present: {classes.tolist()})"
            )
        eligible = classes[counts >= shots + queries]
        if len(eligible) < ways:
            scarce = {int(c): int(n) for c, n in zip(classes, counts) if n < shots + queries}
            raise ValueError(
                f"datamodule.batch_sampler: {ways}-way episodes of shots + queries = {shots + queries} items per "
                "class, "
                f"but only {len(eligible)} training classes have that many (items per scarce class: {scarce}); lower "
                "shots, queries or ways"
            )
        self.ways, self.shots, self.queries, self.episodes = ways, shots, queries, episodes
        self.classes = eligible
        self.positions = {int(c): torch.nonzero(labels == c).flatten() for c in eligible}

    def __len__(self) -> int:
        return self.episodes

    def __iter__(self) -> Iterator[list[int]]:
        for _ in range(self.episodes):
            chosen = self.classes[torch.randperm(len(self.classes))[: self.ways]].tolist()
            drawn = []
            for c in chosen:
                positions = self.positions[c]
                drawn.append(positions[torch.randperm(len(positions))[: self.shots + self.queries]])
            support = [p for items in drawn for p in items[: self.shots].tolist()]
            query = [p for items in drawn for p in items[self.shots :].tolist()]
            yield support + query
