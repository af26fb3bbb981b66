"""Aouayeb et al.'s region nets: the inception block's shapes and parameter count, one CNN per region, and the two
stages' nets sharing one encoder."""

from __future__ import annotations

import pytest
import torch

from mer_lightning.models import FrameEncoderClassifier, FrameSequenceClassifier, InceptionBlock, RegionEncoder
from mer_lightning.models.regions import RegionCNN

REGIONS = ["right_brow_eye", "nose", "mouth"]


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(("in_chans", "size"), [(1, (32, 32)), (3, (24, 40)), (64, (7, 9))])
def test_the_inception_block_keeps_the_size_and_concatenates_four_branches_of_16(in_chans, size):
    block = InceptionBlock(in_chans)
    x = torch.randn(2, in_chans, *size)
    assert block(x).shape == (2, 64, *size) and block.out_chans == 64
    # each branch alone: 16 maps of the input's size, one per kernel 1, 3, 5, 7
    assert [branch(x).shape for branch in block.branches] == [(2, 16, *size)] * 4


@pytest.mark.parametrize("in_chans", [1, 3])
def test_the_inception_block_has_the_parameters_of_its_four_convolutions(in_chans):
    # 16 filters of k x k x C each for k = 1, 3, 5, 7: 16 C (1 + 9 + 25 + 49) = 1344 C weights; with biases (the
    # paper's Keras layers) 64 more, with batch normalisation instead 2 x 64 (scale and shift)
    assert _params(InceptionBlock(in_chans, norm=False)) == 1344 * in_chans + 64
    assert _params(InceptionBlock(in_chans, norm=True)) == 1344 * in_chans + 128
    assert _params(InceptionBlock(in_chans, filters=8, kernels=(3, 5), norm=False)) == 8 * in_chans * 34 + 16


def test_even_kernels_are_refused():
    with pytest.raises(ValueError, match="odd sizes"):
        InceptionBlock(3, kernels=(1, 4))


def test_a_region_cnn_pools_each_block_and_ends_in_its_features():
    cnn = RegionCNN(3, blocks=2, pool=4, embed_dim=20)
    assert cnn.features(torch.randn(5, 3, 32, 32)).shape == (5, 64, 4, 4)
    assert cnn(torch.randn(5, 3, 32, 32)).shape == (5, 20) and cnn.out_features == 20


def test_each_region_has_its_own_cnn_and_features_follow_the_region_order():
    encoder = RegionEncoder(REGIONS, in_chans=3, embed_dim=8).eval()
    assert list(encoder.regions) == REGIONS and encoder.out_features == 24
    cnns = list(encoder.regions.values())
    assert all(a.fc[2].weight.data_ptr() != b.fc[2].weight.data_ptr() for a, b in zip(cnns, cnns[1:]))
    x = torch.randn(4, 3, 3, 32, 32)
    features = encoder(x)
    assert features.shape == (4, 24)
    torch.testing.assert_close(features[:, 8:16], encoder.regions["nose"](x[:, 1]))  # region 1 -> its CNN -> slot 1
    with pytest.raises(ValueError, match="built for 3 regions .* got \\(4, 2, 3, 32, 32\\)"):
        encoder(x[:, :2])
    with pytest.raises(ValueError, match="regions is empty"):
        RegionEncoder([])


def test_the_frame_classifier_and_the_sequence_classifier_share_one_encoder_layout():
    def encoder(in_chans):
        return RegionEncoder(REGIONS, in_chans=in_chans, embed_dim=8)

    frames = FrameEncoderClassifier(encoder, in_chans=3, num_classes=3)
    sequence = FrameSequenceClassifier(encoder, in_chans=3, num_classes=3, hidden=50, layers=1)
    assert frames(torch.randn(6, 3, 3, 24, 24)).shape == (6, 3)
    clips, lengths = torch.randn(2, 4, 3, 3, 24, 24), torch.tensor([4, 2])
    assert sequence(clips, lengths).shape == (2, 3)
    sequence.encoder.load_state_dict(frames.encoder.state_dict())  # what stage 2's `init` does
    assert sequence.rnn.hidden_size == 50 and sequence.rnn.input_size == 24
