"""The pieces of training stages: composing them from config, handing weights over, padded sequences and frame
items, sequence models that ignore padding, and per-clip predictions from per-frame rows."""

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict
from torch import nn

from mer_lightning.datamodule import MERDataModule
from mer_lightning.lit.task import mean_by_clip
from mer_lightning.models import FrameEncoder, FrameSequenceClassifier
from mer_lightning.preprocess.pipeline import Pipeline
from mer_lightning.protocols import LeaveOneSubjectOut, LeaveOneVideoOut
from mer_lightning.stages import Handover, digest, hand_over, module_digests, module_state
from mer_lightning.train import compose_stages
from tests.conftest import REPO
from tests.preprocess.tiny_clips import write_clip
from tests.test_augment import TinyDataset


@pytest.fixture(autouse=True)
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("MER_ROOT", str(tmp_path))


def composed(*overrides: str):
    """The resolved config of a fold, as `run_fold` hands it to `compose_stages`."""
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))


def test_no_stages_is_one_stage_made_of_the_folds_own_settings():
    (stage,) = compose_stages(composed("trainer.max_epochs=3"))
    assert stage.name == "" and stage.tested and not stage.init and not stage.freeze
    assert stage.cfg.model.name == "ststnet" and stage.cfg.trainer.max_epochs == 3


def test_stages_replace_groups_merge_settings_and_only_the_last_is_tested():
    stages = compose_stages(composed("experiment=nistor", "trainer.max_epochs=7", "datamodule.batch_size=5"))
    assert [s.name for s in stages] == ["fir", "er", "me"]
    assert [s.tested for s in stages] == [False, False, True]
    fir, er, me = stages
    assert fir.cfg.model.name == "nistor_autoencoder" and fir.cfg.task._target_.endswith("AutoencodeTask")
    assert er.cfg.dataset.name == "synthetic_macro" and me.cfg.dataset.name == "synthetic"
    # settings: the stage's own values over the fold's
    assert fir.cfg.trainer.max_epochs == 15 and me.cfg.trainer.max_epochs == 7
    assert fir.cfg.datamodule.unit == "frame" and fir.cfg.datamodule.batch_size == 64
    assert me.cfg.datamodule.batch_size == 16 and me.cfg.datamodule.cache_dir == fir.cfg.datamodule.cache_dir
    assert er.init == [Handover("encoder", "fir", "encoder")] and me.freeze == ["encoder"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["stage_order=[a]"], "stage_order names ['a'], which have no entry under stages"),
        (["+stages.a={trainer: {max_epochs: 1}}"], "stages ['a'] are configured but stage_order is empty"),
        (["stage_order=[a]", "+stages.a={epochs: 1}"], "stages.a: ['epochs'] are not stage settings"),
        (["stage_order=[a,a]", "+stages.a={}"], "stage_order lists a stage twice"),
        (["stage_order=[a]", "+stages.a={dataset: {name: other}}"], "the last stage is tested on the fold's dataset"),
    ],
)
def test_a_bad_stage_setting_is_named(overrides, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        compose_stages(composed(*overrides))


class Net(nn.Module):
    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.encoder = nn.Linear(3, width)
        self.head = nn.Linear(width, 2)


def test_a_handed_over_module_equals_the_source_and_nothing_else_moves():
    torch.manual_seed(0)
    source, target = Net(), Net()
    head_before = digest(module_state(target.state_dict(), "head"))
    hand_over(target, [Handover("encoder", "fir", "encoder")], {"fir": source.state_dict()})
    assert module_digests(target)["encoder"] == module_digests(source)["encoder"]
    assert torch.equal(target.encoder.weight, source.encoder.weight)
    assert digest(module_state(target.state_dict(), "head")) == head_before


@pytest.mark.parametrize(
    ("handover", "states", "message"),
    [
        (Handover("encoder", "er", "encoder"), {"fir": Net().state_dict()}, "stage 'er', which has not run before"),
        (Handover("encoder", "fir", "decoder"), {"fir": Net().state_dict()}, "stage 'fir' has no module 'decoder'"),
        (Handover("encoder", "fir", "encoder"), {"fir": Net(width=5).state_dict()}, "fir.encoder does not fit"),
    ],
)
def test_a_handover_that_cannot_be_made_says_why(handover, states, message):
    with pytest.raises(ValueError, match=message):
        hand_over(Net(), [handover], states)


def test_digests_follow_the_weights_not_the_object():
    net = Net()
    copy = Net()
    copy.load_state_dict(net.state_dict())
    assert module_digests(copy) == module_digests(net)
    with torch.no_grad():
        copy.head.bias += 1
    assert module_digests(copy)["encoder"] == module_digests(net)["encoder"]
    assert module_digests(copy)["head"] != module_digests(net)["head"]


def test_per_frame_rows_become_one_row_per_clip():
    rows = {
        "clip_id": torch.tensor([4, 2, 4, 2, 4]),
        "label": torch.tensor([1, 0, 1, 0, 1]),
        "probs": torch.tensor([[0.2, 0.8], [1.0, 0.0], [0.4, 0.6], [0.6, 0.4], [0.6, 0.4]]),
    }
    merged = mean_by_clip(rows)
    assert merged["clip_id"].tolist() == [2, 4] and merged["label"].tolist() == [0, 1]
    assert torch.allclose(merged["probs"], torch.tensor([[0.8, 0.2], [0.4, 0.6]]))


@dataclass(frozen=True)
class Sequences:
    """A clip's frames as a sequence whose length is the clip's own frame count, each frame filled with its clip's
    position and frame number (so padding and frame order can be read back)."""

    def __call__(self, sample):
        clip = sample["clip"]
        number = int(clip.clip_id[2:])
        frames = np.stack([np.full((1, 2, 2), 100 * number + t, np.float32) for t in range(clip.num_frames)])
        sample.update(frames=frames, flow=np.full((3, 2, 2), number, np.float32))
        return sample


@pytest.fixture
def ragged(tmp_path):
    """Two subjects of three clips each, of 3, 4 and 5 frames."""
    return [
        write_clip(
            tmp_path / f"{s}_{i}",
            num_frames=3 + i,
            onset=0,
            apex=1,
            offset=2 + i,
            height=8,
            width=8,
            subject=s,
            clip_id=f"EP{10 * k + i:02d}",
            label=i % 3,
        )
        for k, s in enumerate(("sub01", "sub02"))
        for i in range(3)
    ]


def sequence_module(tmp_path, clips, **kwargs) -> MERDataModule:
    pipeline = Pipeline({"seq": Sequences()}, outputs=["frames", "flow"], sequences=["frames"])
    module = MERDataModule(
        TinyDataset(clips),
        pipeline,
        kwargs.pop("protocol", LeaveOneSubjectOut("sub02")),
        str(tmp_path / "cache"),
        **kwargs,
    )
    module.setup("fit")
    return module


def test_sequences_are_padded_never_cut_and_carry_their_length(tmp_path, ragged):
    module = sequence_module(tmp_path, ragged)
    batch = next(iter(module.eval_loader("train")))
    assert batch["frames"].shape == (3, 5, 1, 2, 2) and batch["length"].tolist() == [3, 4, 5]
    for row, length in zip(batch["frames"], batch["length"]):
        real = row[:length, 0, 0, 0]
        assert torch.equal(real - real[0], torch.arange(int(length), dtype=torch.float32))  # every frame, in order
        assert not row[length:].any()  # zeros after the clip's end


def test_frame_items_are_every_real_frame_with_its_clips_label_and_id(tmp_path, ragged):
    module = sequence_module(tmp_path, ragged, unit="frame")
    items = module.eval_loader("train").dataset.tensors
    assert items["frames"].shape == (3 + 4 + 5, 1, 2, 2) and "length" not in items
    assert items["frame"].tolist() == [0, 1, 2, 0, 1, 2, 3, 0, 1, 2, 3, 4]
    assert items["label"].tolist() == [0] * 3 + [1] * 4 + [2] * 5
    assert torch.equal(items["flow"][:, 0, 0, 0], items["clip_id"].float())  # the clip's other inputs, repeated
    assert module.num_channels("frames") == 1


def test_frame_items_need_a_sequence_input(tmp_path, ragged):
    pipeline = Pipeline({"seq": Sequences()}, outputs=["frames"])
    with pytest.raises(ValueError, match="unit=frame needs a sequence input"):
        MERDataModule(TinyDataset(ragged), pipeline, LeaveOneSubjectOut("sub02"), str(tmp_path), unit="frame")


def test_a_pre_training_stage_sees_no_clip_of_the_folds_test_subject(tmp_path, ragged):
    held_out = [c for c in ragged if c.source_subject == "sub02"]
    module = sequence_module(tmp_path, ragged, held_out=held_out)
    assert {c.source_subject for c in module.clips} == {"sub01"}
    assert not module.split.test and not module.split.val
    lovo = LeaveOneVideoOut(test_clip=held_out[0].uid)
    module = sequence_module(tmp_path / "lovo", ragged, protocol=lovo, held_out=held_out[:1])
    assert {c.uid for c in module.clips} == {c.uid for c in ragged} - {held_out[0].uid}


def test_a_sequence_model_reads_each_clip_to_its_own_end():
    torch.manual_seed(0)
    net = FrameSequenceClassifier(
        lambda in_chans: FrameEncoder(in_chans, img_size=16, widths=(4, 8), embed_dim=6),
        in_chans=1,
        num_classes=3,
        rnn="gru",
        hidden=5,
        layers=2,
    ).eval()
    short, long = torch.rand(3, 1, 16, 16), torch.rand(6, 1, 16, 16)
    alone = net(short[None], torch.tensor([3]))
    padded = torch.cat([short, torch.full((3, 1, 16, 16), 7.0)])  # garbage after the end must not matter
    together = net(torch.stack([padded, long]), torch.tensor([3, 6]))
    assert torch.allclose(together[0], alone[0], atol=1e-6)
    truncated = net(long[None, :3], torch.tensor([3]))
    assert not torch.allclose(together[1], truncated[0])  # the long clip is read past frame 3
    with pytest.raises(ValueError, match="lengths must be within 1..6"):
        net(torch.stack([padded, long]), torch.tensor([0, 6]))


def test_a_configured_batch_sampler_draws_the_training_batches(tmp_path, ragged):
    def two_by_two(labels, batch_size):
        assert batch_size == 2 and labels.tolist() == [0, 1, 2]
        return [[2, 0], [1]]

    module = sequence_module(tmp_path, ragged, batch_size=2, batch_sampler=two_by_two)
    batches = list(module.train_dataloader())
    assert [b["label"].tolist() for b in batches] == [[2, 0], [1]]


def test_relative_features_see_change_not_faces():
    torch.manual_seed(0)
    net = FrameSequenceClassifier(
        lambda in_chans: FrameEncoder(in_chans, img_size=16, widths=(4, 8), embed_dim=6),
        in_chans=1,
        num_classes=3,
        rnn="lstm",
        hidden=5,
        layers=1,
        relative=True,
    ).eval()
    still_a, still_b = torch.rand(1, 16, 16).expand(4, 1, 16, 16), torch.rand(1, 16, 16).expand(4, 1, 16, 16)
    moving = torch.cat([still_a[:2], torch.rand(2, 1, 16, 16)])
    out = net(torch.stack([still_a, still_b, moving]), torch.tensor([4, 4, 4]))
    assert torch.allclose(out[0], out[1])  # two motionless faces: no change, the same answer
    assert not torch.allclose(out[0], out[2])


@dataclass(frozen=True)
class FramesAndMaps:
    """A clip's frames (T) and the maps between consecutive ones (T - 1), as landmark feature maps are."""

    def __call__(self, sample):
        count = sample["clip"].num_frames
        sample.update(frames=np.zeros((count, 1, 2, 2), np.float32), maps=np.ones((count - 1, 1, 3, 3), np.float32))
        return sample


def test_several_sequence_inputs_each_carry_their_own_length(tmp_path, ragged):
    pipeline = Pipeline({"seq": FramesAndMaps()}, outputs=["frames", "maps"], sequences=["frames", "maps"])
    module = MERDataModule(TinyDataset(ragged), pipeline, LeaveOneSubjectOut("sub02"), str(tmp_path / "cache"))
    module.setup("fit")
    batch = next(iter(module.eval_loader("train")))
    assert batch["frames_length"].tolist() == [3, 4, 5] and batch["maps_length"].tolist() == [2, 3, 4]
    assert batch["frames"].shape[1] == 5 and batch["maps"].shape[1] == 4 and "length" not in batch
    frames = MERDataModule(
        TinyDataset(ragged), pipeline, LeaveOneSubjectOut("sub02"), str(tmp_path / "c2"), unit="frame"
    )
    with pytest.raises(
        ValueError,
        match=r"unit=frame needs sequence inputs of one length; clip .*EP00 has "
        r"\{'frames': 3, 'maps': 2\}",
    ):
        frames.setup("fit")
