"""The VGG-16-style frame encoder of Choi et al.'s models: VGG-16's layout at a fraction of its width."""

import pytest
import torch
from torch import nn

from mer_lightning.models import FrameSequenceClassifier, VGGEncoder


def test_vgg16s_thirteen_convolutions_in_five_pooled_blocks_at_an_eighth_of_the_width():
    encoder = VGGEncoder(in_chans=1, width_divisor=8, embed_dim=32)
    convolutions = [m for m in encoder.features if isinstance(m, nn.Conv2d)]
    assert len(convolutions) == 13 and sum(isinstance(m, nn.MaxPool2d) for m in encoder.features) == 5
    assert [c.out_channels for c in convolutions] == [8, 8, 16, 16, 32, 32, 32, 64, 64, 64, 64, 64, 64]
    assert all(c.kernel_size == (3, 3) for c in convolutions)
    assert encoder(torch.rand(3, 1, 68, 68)).shape == (3, 32) and encoder.out_features == 32


def test_it_encodes_the_frames_of_a_sequence_classifier_and_names_bad_settings():
    net = FrameSequenceClassifier(
        lambda in_chans: VGGEncoder(in_chans, width_divisor=16, embed_dim=8),
        in_chans=1,
        num_classes=7,
        hidden=6,
        layers=2,
    )
    assert net(torch.rand(2, 8, 1, 68, 68), torch.tensor([8, 5])).shape == (2, 7)
    with pytest.raises(ValueError, match="32x32 or more"):
        VGGEncoder()(torch.rand(1, 1, 16, 16))
    with pytest.raises(ValueError, match="width_divisor must divide 64"):
        VGGEncoder(width_divisor=3)
