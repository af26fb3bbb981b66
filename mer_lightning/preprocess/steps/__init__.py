"""The configurable steps of a preprocessing pipeline.

A step is a frozen dataclass: its fields are its settings (and so part of the cache key; anything built from them,
such as a landmark detector, lives outside the step) and `__call__` takes the sample dict (`{"clip": Clip, ...}`)
and returns it with what the step adds or changes. Settings are checked when the step is made, so a bad config fails
before any clip is read and names the setting; a clip that cannot be processed raises `PreprocessError` naming it.

What the sample holds between steps: `preprocess.sample`. The steps, by kind: `loading` (frames, apex, precomputed
images), `face` (landmarks, alignment), `inputs` (flow, difference, dynamic image, regions, landmark features and SFEM,
frame stacks), `transforms` (magnify, relative to a key frame, resize); configs name them from here
(`mer_lightning.preprocess.steps.OpticalFlow`).
"""

from mer_lightning.preprocess.steps.face import Align, Landmarks
from mer_lightning.preprocess.steps.inputs import (
    DynamicImage,
    ExpressionIntensity,
    FrameDifference,
    FrameStack,
    LandmarkFeatures,
    OpticalFlow,
    Regions,
)
from mer_lightning.preprocess.steps.loading import ApexSpotting, LoadFrames, LoadKeyFrames, ReadImage
from mer_lightning.preprocess.steps.transforms import Magnify, RelativeToKeyFrame, Resize

__all__ = [
    "Align",
    "ApexSpotting",
    "DynamicImage",
    "ExpressionIntensity",
    "FrameDifference",
    "FrameStack",
    "LandmarkFeatures",
    "Landmarks",
    "LoadFrames",
    "LoadKeyFrames",
    "Magnify",
    "OpticalFlow",
    "ReadImage",
    "Regions",
    "RelativeToKeyFrame",
    "Resize",
]
