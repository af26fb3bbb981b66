"""The DataModule: a dataset's clips, through a preprocessing pipeline and a protocol, into batches.

Inputs are computed once per clip into the disk cache (`prepare_data`), then held in memory as stacked tensors, so
that a batch is one indexing operation. A batch is a dict of plain tensors: one entry per pipeline output, plus
`label` and `clip_id` (the clip's position in `self.clips`, so predictions can be keyed by clip).

Sequence outputs (the pipeline's `sequences`, first axis time) are zero-padded to the longest clip, and `length`
holds each clip's real frame count, so that a sequence model can pack or mask them: no frame is ever cut. Each
sequence output also has its own `<output>_length`, which differ where they count different things (face frames and
the maps between them: T and T-1; `length` is then left out). With `unit: frame` the items are the frames themselves
(each labelled with its clip's class and keyed by its clip), as per-frame training stages need.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler
from tqdm import tqdm

from mer_lightning import console
from mer_lightning.augment import ClipAugment
from mer_lightning.clip import Clip
from mer_lightning.datasets.base import ClipDataset
from mer_lightning.preprocess.cache import InputCache
from mer_lightning.preprocess.pipeline import Pipeline
from mer_lightning.preprocess.sample import PreprocessError
from mer_lightning.protocols import Protocol, Split

log = logging.getLogger(__name__)
ON_ERROR = ("raise", "skip")
UNITS = ("clip", "frame")


class ClipTensors(Dataset):
    """Stacked per-clip tensors; indexed by a list of positions it returns a whole batch at once, with the `inputs`
    augmented clip by clip when an `augment` is given (training only)."""

    def __init__(
        self, tensors: dict[str, torch.Tensor], augment: ClipAugment | None = None, inputs: Sequence[str] = ()
    ) -> None:
        self.tensors = tensors
        self.augment = augment
        self.inputs = list(inputs)

    def __len__(self) -> int:
        return len(self.tensors["label"])

    def __getitem__(self, index: Sequence[int]) -> dict[str, torch.Tensor]:
        index = torch.as_tensor(index)
        batch = {key: value[index] for key, value in self.tensors.items()}
        return batch if self.augment is None else self.augment(batch, self.inputs)


class MERDataModule(pl.LightningDataModule):
    def __init__(
        self,
        dataset: ClipDataset,
        pipeline: Pipeline,
        protocol: Protocol,
        cache_dir: str,
        batch_size: int = 64,
        eval_batch_size: int = 512,
        on_error: str = "raise",
        augment: Callable | None = None,
        unit: str = "clip",
        held_out: Sequence[Clip] | None = None,
        batch_sampler: Callable[[torch.Tensor, int], Iterable[list[int]]] | None = None,
    ) -> None:
        """`held_out`: the clips a fold tests on, given to a stage that only trains (pre-training, perhaps on
        another dataset): it then trains on every clip the protocol does not hold out for them and tests none.
        `batch_sampler(labels, batch_size)`: the training batches as lists of item positions (an episodic sampler,
        say); by default, shuffled batches of `batch_size`."""
        super().__init__()
        if on_error not in ON_ERROR:
            raise ValueError(f"datamodule.on_error must be one of {ON_ERROR}, got {on_error!r}")
        if unit not in UNITS:
            raise ValueError(f"datamodule.unit must be one of {UNITS}, got {unit!r}")
        if unit == "frame" and not pipeline.sequences:
            raise ValueError("datamodule.unit=frame needs a sequence input: list it in preprocessing.sequences")
        self.dataset = dataset
        self.pipeline = pipeline
        self.protocol = protocol
        self.cache = InputCache(cache_dir, pipeline.settings)
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.on_error = on_error
        self.unit = unit
        self.held_out = held_out
        self.batch_sampler = batch_sampler
        # An albumentations transform (from config), applied alike to every image of a training clip.
        self.augment = ClipAugment(augment) if augment is not None else None
        self.clips: list[Clip] = []
        self.skipped: dict[str, str] = {}
        self._arrays: dict[str, dict[str, np.ndarray]] = {}
        self.split: Split | None = None
        self._stages: dict[str, ClipTensors] = {}

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.dataset.class_names

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def num_channels(self, key: str) -> int:
        """Channels of one input, for building a model to fit the data: the dim before height and width of image
        inputs (`(C, H, W)`, `(T, C, H, W)` frames, `(R, C, H, W)` regions), the last dim of feature vectors and
        sequences (`(F,)`, `(T, F)`)."""
        return channels(self._stages["train"].tensors[key].shape[1:])

    def prepare_data(self) -> None:
        self._load()

    def setup(self, stage: str | None = None) -> None:
        if self._stages:
            return
        self._load()
        for name, clips in (("train", self.split.train), ("val", self.split.val), ("test", self.split.test)):
            self._stages[name] = self._tensors(clips, self.augment if name == "train" else None)
        log.info(
            "fold %s: %d train, %d val, %d test clips; %d skipped",
            self.protocol.fold,
            len(self.split.train),
            len(self.split.val),
            len(self.split.test),
            len(self.skipped),
        )

    def _load(self) -> None:
        """Reads the clips, splits them, and fills the cache for every clip of the split."""
        if self.split is not None:
            return
        clips = self.dataset.clips(self.skipped) if self.on_error == "skip" else self.dataset.clips()
        if self.held_out is None:
            split = self.protocol.fold_clips(clips)
        else:
            split = self.protocol.training_split(clips, self.held_out)
        self._compute([*split.train, *split.val, *split.test])
        self.split = Split(
            *([c for c in part if c.uid in self._arrays] for part in (split.train, split.val, split.test))
        )
        self.clips = [*self.split.train, *self.split.val, *self.split.test]
        if not self.split.train:
            raise ValueError(f"fold {self.protocol.fold}: no training clips left after preprocessing")
        if not self.split.test and self.held_out is None:
            raise ValueError(f"fold {self.protocol.fold}: no test clips left after preprocessing")

    def _compute(self, clips: list[Clip]) -> None:
        """Each clip's inputs, from the cache or computed into it (a progress bar on a terminal, a line either way
        when there is anything to compute)."""
        missing = sum(not _cached(self.cache, clip) for clip in clips)
        if missing:
            log.info("filling the cache: %d of %d clips to compute, under %s", missing, len(clips), self.cache.root)
        start = time.perf_counter()
        bar = tqdm(
            clips, desc="filling the cache", unit="clip", leave=False, disable=not (missing and console.interactive())
        )
        for clip in bar:
            try:
                self._arrays[clip.uid] = self.cache.get_or_compute(clip, self.pipeline)
            except PreprocessError as err:
                if self.on_error == "raise":
                    raise
                self.skipped[clip.uid] = str(err)
                log.warning("skipped %s", err)
        if missing:
            log.info("cache filled in %.0f s", time.perf_counter() - start)

    def _tensors(self, clips: list[Clip], augment: ClipAugment | None = None) -> ClipTensors:
        position = {c.uid: i for i, c in enumerate(self.clips)}
        tensors = clip_tensors(
            clips, [self._arrays[c.uid] for c in clips], [position[c.uid] for c in clips], self.pipeline, self.unit
        )
        return ClipTensors(tensors, augment, self.pipeline.outputs)

    def _loader(self, stage: str, shuffle: bool) -> DataLoader:
        return _batches(self._stages[stage], self.batch_size if shuffle else self.eval_batch_size, shuffle)

    def train_dataloader(self) -> DataLoader:
        if self.batch_sampler is None:
            return self._loader("train", shuffle=True)
        data = self._stages["train"]
        return DataLoader(data, sampler=self.batch_sampler(data.tensors["label"], self.batch_size), batch_size=None)

    def val_dataloader(self) -> DataLoader | list:
        return self._loader("val", shuffle=False) if self.split.val else []

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def eval_loader(self, part: str) -> DataLoader:
        """The items of one part of the split (`train`, `val`, `test`) in order and never augmented: for what a
        task reports about its own training data."""
        data = self._stages[part]
        return _batches(ClipTensors(data.tensors, inputs=data.inputs), self.eval_batch_size, shuffle=False)


def _cached(cache: InputCache, clip: Clip) -> bool:
    """Whether the clip has a cache entry (for the progress line; a clip whose files cannot be read has none)."""
    try:
        return cache.path(clip).exists()
    except OSError:
        return False


def clip_tensors(
    clips: Sequence[Clip],
    arrays: Sequence[dict[str, np.ndarray]],
    clip_ids: Sequence[int],
    pipeline: Pipeline,
    unit: str = "clip",
) -> dict[str, torch.Tensor]:
    """The items of these clips as a batch holds them: each pipeline output stacked (sequences padded, with their
    `length`), `label` and `clip_id`; with `unit="frame"`, one item per real frame. `mer-predict` builds its one clip's
    batch with it, so that a prediction is fed exactly as training and testing are."""
    tensors = {
        "label": torch.tensor([c.label for c in clips], dtype=torch.long),
        "clip_id": torch.tensor(list(clip_ids), dtype=torch.long),
    }
    for key in pipeline.outputs:
        tensors[key] = _stack([a[key] for a in arrays], padded=key in pipeline.sequences)
    if pipeline.sequences:
        tensors.update(_lengths(clips, arrays, pipeline.sequences, unit))
        if unit == "frame" and clips:
            tensors = _frames(tensors, pipeline.sequences)
    return tensors


def _lengths(
    clips: Sequence[Clip], arrays: Sequence[dict[str, np.ndarray]], sequences: Sequence[str], unit: str
) -> dict[str, torch.Tensor]:
    """Each clip's frame count in each sequence input (`<output>_length`), and `length` when they agree (they
    must, for frame items)."""
    counts = {key: torch.tensor([len(a[key]) for a in arrays], dtype=torch.long) for key in sequences}
    lengths = {f"{key}_length": value for key, value in counts.items()}
    stacked = torch.stack(list(counts.values()))
    agree = (stacked == stacked[0]).all(0)
    if bool(agree.all()):
        lengths["length"] = stacked[0]
    elif unit == "frame":
        bad = int((~agree).nonzero()[0])
        raise ValueError(
            f"datamodule.unit=frame needs sequence inputs of one length; clip {clips[bad].uid} has "
            f"{ {key: int(value[bad]) for key, value in counts.items()} }"
        )
    return lengths


def channels(shape: Sequence[int]) -> int:
    """Channels of one input item's shape: the dim before height and width of images (`(C, H, W)`, `(T, C, H, W)`,
    `(R, C, H, W)`), the last dim of feature vectors and sequences (`(F,)`, `(T, F)`)."""
    return int(shape[-3] if len(shape) >= 3 else shape[-1])


def _batches(data: ClipTensors, batch_size: int, shuffle: bool) -> DataLoader:
    """Whole batches drawn by one indexing of the stacked tensors (no per-item collation)."""
    order = RandomSampler(data) if shuffle else SequentialSampler(data)
    return DataLoader(data, sampler=BatchSampler(order, batch_size, drop_last=False), batch_size=None)


def _stack(arrays: list[np.ndarray], padded: bool) -> torch.Tensor:
    """One tensor of every clip's array; sequences zero-padded on their first axis to the longest."""
    if not arrays:
        return torch.empty(0)
    if not padded:
        return torch.from_numpy(np.stack(arrays))
    longest = max(len(a) for a in arrays)
    stacked = np.zeros((len(arrays), longest, *arrays[0].shape[1:]), dtype=arrays[0].dtype)
    for row, array in zip(stacked, arrays):
        row[: len(array)] = array
    return torch.from_numpy(stacked)


def _frames(tensors: dict[str, torch.Tensor], sequences: Sequence[str]) -> dict[str, torch.Tensor]:
    """Clip items -> frame items: every real frame of the sequence inputs, with its clip's other entries."""
    lengths = tensors["length"]
    clip_index = torch.repeat_interleave(torch.arange(len(lengths)), lengths)
    frame_index = torch.cat([torch.arange(int(n)) for n in lengths])
    frames = {
        key: value[clip_index, frame_index] if key in sequences else value[clip_index]
        for key, value in tensors.items()
        if key not in {"length", *(f"{k}_length" for k in sequences)}
    }
    frames["frame"] = frame_index
    return frames
