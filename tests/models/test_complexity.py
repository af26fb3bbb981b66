"""Complexity: weight layers, trainable parameters and multiply-adds, checked against counts done by hand."""

from __future__ import annotations

from torch import nn

from mer_lightning.models.complexity import complexity, complexity_table, format_complexity_table
from mer_lightning.models.learnet import LEARNet


def test_single_conv() -> None:
    # LEARNet's stem at 112x112: 56x56x16 outputs, each 3*3*3 = 27 multiply-adds; 27*16 weights + 16 biases.
    conv = nn.Conv2d(3, 16, 3, stride=2, padding=1)
    assert complexity(conv, (3, 112, 112)) == {"layers": 1, "params": 448, "macs": 56 * 56 * 16 * 27}


def test_single_linear() -> None:
    assert complexity(nn.Linear(10, 4), (10,)) == {"layers": 1, "params": 44, "macs": 40}


def test_small_network_frozen_parameters_and_mode() -> None:
    # Conv 2->4, 3x3, no padding, on 8x8: 6*6*4 outputs * 18 = 2,592; Linear 144->5: 720. ReLU and BN add none.
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(144, 5), nn.Dropout(0.5)
    )
    model[1].requires_grad_(False)
    model.train()
    stats = complexity(model, (2, 8, 8))
    assert stats == {"layers": 2, "params": (72 + 4) + (720 + 5), "macs": 2_592 + 720}
    assert model.training
    assert model[1].running_mean.abs().sum() == 0  # counted in eval mode: BN statistics untouched


def test_learnet_multiply_adds() -> None:
    # stem 56*56*16*27 = 1,354,752; per path 28*28*16*16 + 14*14*32*144 + 7*7*64*800 = 200,704 + 903,168 + 2,508,800
    # = 3,612,672, four paths 14,450,688; Conv-5 3*3*256*2304 = 5,308,416; FC 2304*256 = 589,824; head 256*3 = 768.
    assert complexity(LEARNet(), (3, 112, 112)) == {"layers": 16, "params": 1_406_275, "macs": 21_704_448}
    # padded Conv-5: 4*4*256*2304 = 9,437,184 and FC 4096*256 = 1,048,576.
    assert complexity(LEARNet(conv5_padding=1), (3, 112, 112))["macs"] == 26_291_968


def test_table_and_format() -> None:
    rows = complexity_table({"linear": nn.Linear(10, 4), "bias-free": nn.Linear(10, 2, bias=False)}, (10,))
    assert rows == [
        {"model": "linear", "layers": 1, "params": 44, "macs": 40},
        {"model": "bias-free", "layers": 1, "params": 20, "macs": 20},
    ]
    text = format_complexity_table(rows + [{"model": "LEARNet", "layers": 16, "params": 1_406_275, "macs": 21_704_448}])
    lines = text.splitlines()
    assert lines[0].split() == ["model", "layers", "params", "(M)", "MACs", "(M)"]
    assert lines[1].startswith("-----")
    assert lines[4].split() == ["LEARNet", "16", "1.406", "21.7"]
    assert len({len(line) for line in lines}) == 1
