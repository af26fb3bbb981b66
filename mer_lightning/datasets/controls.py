"""Negative controls: datasets whose labels carry no signal, to show that a score is earned by the data."""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict

from mer_lightning.clip import Clip
from mer_lightning.datasets.base import ClipDataset, DatasetWrapper, Skipped


class ShuffledLabels(DatasetWrapper):
    """Another dataset with its labels permuted among each subject's clips (class counts per subject unchanged)."""

    def __init__(self, dataset: ClipDataset, seed: int = 0) -> None:
        super().__init__(dataset)
        self.seed = seed

    def clips(self, skipped: Skipped | None = None) -> list[Clip]:
        clips = self.read(skipped)
        by_subject: dict[str, list[int]] = defaultdict(list)
        for index, clip in enumerate(clips):
            by_subject[clip.subject].append(index)
        rng = random.Random(self.seed)
        shuffled = list(clips)
        for indices in by_subject.values():
            labels = [(clips[i].label, clips[i].emotion) for i in indices]
            rng.shuffle(labels)
            for i, (label, emotion) in zip(indices, labels):
                shuffled[i] = dataclasses.replace(clips[i], label=label, emotion=emotion)
        return shuffled
