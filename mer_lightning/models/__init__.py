"""Plain `nn.Module`s, one file per family; `forward` takes tensors, never batches or configs."""

from mer_lightning.models.baselines import create_baseline
from mer_lightning.models.fusion import ChosenCombination, IntensityRouter
from mer_lightning.models.learnet import LEARNet
from mer_lightning.models.metammfnet import MetaMMFNet, StreamCNN, TwoStreamEmbedding
from mer_lightning.models.nistor import AutoencoderClassifier, ConvAutoencoder, FrameClassifier, FrameEncoder
from mer_lightning.models.prototypes import PrototypicalNet
from mer_lightning.models.regions import InceptionBlock, RegionCNN, RegionEncoder
from mer_lightning.models.sequence import FrameEncoderClassifier, FrameSequenceClassifier
from mer_lightning.models.ststnet import STSTNet
from mer_lightning.models.survey import SurveyCNN
from mer_lightning.models.vgg import VGGEncoder

__all__ = [
    "AutoencoderClassifier",
    "ChosenCombination",
    "ConvAutoencoder",
    "FrameClassifier",
    "FrameEncoder",
    "FrameEncoderClassifier",
    "FrameSequenceClassifier",
    "InceptionBlock",
    "IntensityRouter",
    "LEARNet",
    "MetaMMFNet",
    "PrototypicalNet",
    "RegionCNN",
    "RegionEncoder",
    "STSTNet",
    "StreamCNN",
    "SurveyCNN",
    "TwoStreamEmbedding",
    "VGGEncoder",
    "create_baseline",
]
