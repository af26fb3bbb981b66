"""What the DataModule tells a model about its inputs."""

from dataclasses import dataclass

import numpy as np
import pytest

from mer_lightning.datamodule import MERDataModule
from mer_lightning.preprocess.pipeline import Pipeline
from mer_lightning.protocols import LeaveOneSubjectOut
from tests.preprocess.tiny_clips import write_clips
from tests.test_augment import TinyDataset


@dataclass(frozen=True)
class Shapes:
    """Inputs of every layout a model meets: an image, frames, regions, a feature sequence and a feature vector."""

    def __call__(self, sample):
        sample.update(
            flow=np.zeros((3, 8, 8), np.float32),
            frames=np.zeros((5, 2, 8, 8), np.float32),
            regions=np.zeros((6, 4, 8, 8), np.float32),
            sequence=np.zeros((7, 10), np.float32),
            vector=np.zeros(9, np.float32),
        )
        return sample


@pytest.mark.parametrize(
    ("key", "channels"), [("flow", 3), ("frames", 2), ("regions", 4), ("sequence", 10), ("vector", 9)]
)
def test_num_channels_is_the_channel_dim_of_images_and_the_feature_dim_of_sequences(tmp_path, key, channels):
    clips = write_clips(tmp_path, ("sub01", "sub02"), 3, size=8)
    pipeline = Pipeline({"shapes": Shapes()}, outputs=["flow", "frames", "regions", "sequence", "vector"])
    module = MERDataModule(TinyDataset(clips), pipeline, LeaveOneSubjectOut("sub02"), str(tmp_path / "cache"))
    module.setup("fit")
    assert module.num_channels(key) == channels
