"""Train-time augmentation: one transform for every frame and stream of a clip, and none outside training."""

from dataclasses import dataclass

import albumentations as A
import numpy as np
import pytest
import torch

from mer_lightning.datamodule import MERDataModule
from mer_lightning.datasets.base import ClipDataset
from mer_lightning.preprocess.pipeline import Pipeline
from mer_lightning.protocols import LeaveOneSubjectOut
from tests.preprocess.tiny_clips import write_clips


class TinyDataset(ClipDataset):
    def __init__(self, clips):
        super().__init__("tiny", "composite3")
        self._clips = clips

    def clips(self, skipped=None):
        return self._clips


@dataclass(frozen=True)
class Streams:
    """Inputs that hold the same picture several ways: two streams, a sequence of it and a half-size copy."""

    def __call__(self, sample):
        seed = int(sample["clip"].clip_id[2:])
        picture = np.random.default_rng(seed).uniform(0, 255, (3, 16, 16)).astype(np.float32)
        sample.update(flow=picture, diff=picture.copy(), seq=np.stack([picture[:1]] * 4), small=picture[:, ::2, ::2])
        return sample


def stored(module, stage, batch, key):
    """The un-augmented input of each clip of a batch, as the stage holds it."""
    tensors = module._stages[stage].tensors
    return tensors[key][[int((tensors["clip_id"] == c).nonzero()) for c in batch["clip_id"]]]


@pytest.fixture
def datamodule_factory(tmp_path):
    clips = write_clips(tmp_path, ("sub01", "sub02"), 6, size=32)
    pipeline = Pipeline({"streams": Streams()}, outputs=["flow", "diff", "seq", "small"])

    def make(augment):
        module = MERDataModule(
            TinyDataset(clips),
            pipeline,
            LeaveOneSubjectOut("sub02"),
            str(tmp_path / "cache"),
            batch_size=6,
            eval_batch_size=6,
            augment=augment,
        )
        module.setup("fit")
        return module

    return make


def test_every_frame_and_stream_of_a_clip_gets_the_same_transform(datamodule_factory):
    transform = A.Compose([A.HorizontalFlip(p=0.5), A.Affine(translate_px=(-3, 3), rotate=(-15, 15), p=1.0)])
    module = datamodule_factory(transform)
    torch.manual_seed(0)
    batch = next(iter(module.train_dataloader()))
    assert not torch.equal(batch["flow"], stored(module, "train", batch, "flow"))
    torch.testing.assert_close(batch["diff"], batch["flow"])
    for t in range(4):
        torch.testing.assert_close(batch["seq"][:, t], batch["flow"][:, :1])


def test_images_of_another_size_get_the_same_random_draws(datamodule_factory):
    module = datamodule_factory(A.Compose([A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)]))
    torch.manual_seed(1)
    batch = next(iter(module.train_dataloader()))
    flips = []
    for source, small, row in zip(
        stored(module, "train", batch, "flow"), stored(module, "train", batch, "small"), range(len(batch["clip_id"]))
    ):
        for dims in ((), (2,), (1,), (1, 2)):
            if torch.equal(batch["flow"][row], source.flip(dims) if dims else source):
                flips.append(dims)
                torch.testing.assert_close(batch["small"][row], small.flip(dims) if dims else small)
    assert len(flips) == len(batch["clip_id"]) and len(set(flips)) > 1


def test_no_augmentation_outside_training_nor_without_a_transform(datamodule_factory):
    module = datamodule_factory(A.HorizontalFlip(p=1.0))
    batch = next(iter(module.test_dataloader()))
    assert module._stages["test"].augment is None
    torch.testing.assert_close(batch["flow"], stored(module, "test", batch, "flow"))
    plain = datamodule_factory(None)
    assert plain._stages["train"].augment is None
    batch = next(iter(plain.train_dataloader()))
    torch.testing.assert_close(batch["flow"], stored(plain, "train", batch, "flow"))


def test_a_transform_that_changes_the_size_is_refused(datamodule_factory):
    module = datamodule_factory(A.CenterCrop(8, 8))
    with pytest.raises(ValueError, match="changed the size of input 'flow'"):
        next(iter(module.train_dataloader()))
