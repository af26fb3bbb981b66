"""Meta-MMFNet's pieces: prototype probabilities against a hand computation, episodes that only hold training
subjects' clips, the fused distance, and every experiment of it (synthetic ablations, real-data rows) composing and
building stage by stage."""

import io
import math
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from torch import nn

from mer_lightning.datamodule import MERDataModule
from mer_lightning.lit.choose import CHOICE_TABLE, ChooseOnValidation
from mer_lightning.lit.prototypes import PrototypeTask, split_episode
from mer_lightning.models import MetaMMFNet, PrototypicalNet
from mer_lightning.models.prototypes import class_prototypes
from mer_lightning.preprocess.pipeline import Pipeline
from mer_lightning.protocols import LeaveOneSubjectOut
from mer_lightning.samplers import EpisodicBatchSampler
from mer_lightning.train import compose_stages
from tests.preprocess.tiny_clips import write_clips
from tests.test_augment import TinyDataset
from tests.test_stages_units import composed, root  # noqa: F401 (root: MER_ROOT for every test here)

FUSED = ["micro", "macro_pretrain", "macro", "fusion"]
ABLATIONS = {"[micro]": ["micro"], "[macro_pretrain,macro]": ["macro_pretrain", "macro"]}


class Identity(nn.Module):
    """An 'embedding' that is its input, so that prototypes and scores can be worked by hand."""

    num_features = 2

    def __init__(self, in_chans: int = 2) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))  # something to train

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x


@dataclass(frozen=True)
class Evidence:
    """Each clip's input holds two 'models'' class scores, one-hot: on `macro_subject`'s clips the micro model is wrong
    and the macro model right (a large alpha wins), on every other subject's the other way round (alpha 0 wins)."""

    macro_subject: str

    def __call__(self, sample):
        clip = sample["clip"]
        right, wrong = np.eye(3)[clip.label], np.eye(3)[(clip.label + 1) % 3]
        micro, macro = (wrong, right) if clip.source_subject == self.macro_subject else (right, wrong)
        sample["x"] = np.concatenate([micro, macro]).astype(np.float32)
        return sample


class Half(nn.Module):
    """A 'trained prototypical net' whose class scores are one half of its input."""

    def __init__(self, half: int, in_chans: int = 6, num_classes: int = 3) -> None:
        super().__init__()
        self.half, self.unused = half, nn.Linear(1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 3 * self.half : 3 * (self.half + 1)]


@pytest.fixture
def clips(tmp_path):
    return write_clips(tmp_path, ("sub01", "sub02", "sub03", "sub04"), 6, size=8)


def test_prototype_probabilities_match_a_hand_computation():
    # class 0 support (1, 0), (3, 0) -> w0 = (2, 0); class 1 support (0, 1), (0, 3) -> w1 = (0, 2)
    net = PrototypicalNet(Identity, in_chans=2, num_classes=2)
    support = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    net.prototypes.copy_(class_prototypes(support, torch.tensor([0, 0, 1, 1]), 2))
    assert net.prototypes.tolist() == [[2.0, 0.0], [0.0, 2.0]]
    # query (1, 0): <q, w0> = 2, <q, w1> = 0 -> p0 = e^2 / (e^2 + 1); query (1, 1): 2 and 2 -> 1/2 each;
    # query (-1, 0.5): -2 and 1 -> p1 = e / (e + e^-2)
    probs = torch.softmax(net(torch.tensor([[1.0, 0.0], [1.0, 1.0], [-1.0, 0.5]])), dim=1)
    e = math.e
    expected = [[e**2 / (e**2 + 1), 1 / (e**2 + 1)], [0.5, 0.5], [e**-2 / (e + e**-2), e / (e + e**-2)]]
    assert torch.allclose(probs, torch.tensor(expected), atol=1e-6)


def test_an_episodes_loss_is_the_queries_cross_entropy_against_the_support_prototypes():
    # labels 3 and 1 (the episode's own order), 2 support and 1 query each
    task = PrototypeTask(PrototypicalNet(Identity, 2, 4), ["x"], list("abcd"), optimizer=None)
    x = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 1.0], [0.0, 3.0], [1.0, 0.0], [1.0, 1.0]])
    loss = task.training_step({"x": x, "label": torch.tensor([3, 3, 1, 1, 3, 1])}, 0)
    # query 1 (class 3, w = (2, 0)): p = e^2 / (e^2 + 1); query 2 (class 1, w = (0, 2)): p = 1/2
    e = math.e
    assert float(loss.detach()) == pytest.approx(-(math.log(e**2 / (e**2 + 1)) + math.log(0.5)) / 2, abs=1e-6)


@pytest.mark.parametrize("labels", [[0, 1, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 1, 1, 1, 0]])
def test_a_batch_that_is_not_an_episode_is_refused(labels):
    with pytest.raises(ValueError, match="not an episode .*EpisodicBatchSampler"):
        split_episode(torch.tensor(labels))


def test_an_episode_is_support_then_queries_of_distinct_items():
    labels = torch.tensor([0] * 12 + [1] * 7 + [2] * 9 + [3] * 3)  # class 3 has too few items to be drawn
    torch.manual_seed(0)
    sampler = EpisodicBatchSampler(labels, 64, ways=2, shots=3, queries=4, episodes=20)
    episodes = list(sampler)
    assert len(episodes) == len(sampler) == 20
    drawn = set()
    for episode in episodes:
        assert len(episode) == len(set(episode)) == 2 * (3 + 4)
        support, query, classes = split_episode(labels[episode])
        assert len(support) == 6 and len(query) == 8 and set(classes.tolist()) <= {0, 1, 2}
        drawn |= set(classes.tolist())
    assert drawn == {0, 1, 2}
    with pytest.raises(ValueError, match=r"only 2 training classes have that many .*\{1: 7, 3: 3\}"):
        EpisodicBatchSampler(labels, 64, ways=3, shots=4, queries=4)
    with pytest.raises(ValueError, match="ways >= 2"):
        EpisodicBatchSampler(labels, 64, ways=1)


def test_episodes_hold_only_clips_of_the_folds_training_subjects(tmp_path, clips):
    protocol = LeaveOneSubjectOut("sub01", val_subjects=1)
    sampler = partial(EpisodicBatchSampler, ways=None, shots=2, queries=2, episodes=50)
    module = MERDataModule(
        TinyDataset(clips),
        Pipeline({"x": Evidence("sub02")}, outputs=["x"]),
        protocol,
        str(tmp_path / "cache"),
        batch_sampler=sampler,
    )
    module.setup("fit")
    training = {c.uid for c in module.split.train}
    assert {c.source_subject for c in module.split.train} == {"sub02", "sub03", "sub04"} - {
        c.source_subject for c in module.split.val
    }
    seen = {module.clips[i].uid for batch in module.train_dataloader() for i in batch["clip_id"].tolist()}
    assert seen == training  # every training clip, over 50 episodes, and nothing else


def test_the_fused_scores_are_minus_the_summed_distances():
    torch.manual_seed(0)
    build = partial(PrototypicalNet, Identity)
    net = MetaMMFNet(micro=build, macro=build, in_chans=2, num_classes=3, alphas=[1.0, 0.0, 0.5])
    net.micro.prototypes.normal_()
    net.macro.prototypes.normal_()
    net.setting.fill_(0.5)
    x = torch.randn(4, 2)
    d_micro, d_macro = -x @ net.micro.prototypes.T, -x @ net.macro.prototypes.T
    assert torch.allclose(net(x), -(d_micro + 0.5 * d_macro))
    assert net.setting_name == "alpha" and net.candidates(net.parts(x)).tolist() == [0.0, 0.5, 1.0]
    assert set(dict(net.named_children())) == {"micro", "macro"}


def choose_alpha(tmp_path, clips, macro_subject):
    """Alpha chosen by task=choose in a fold testing sub01, with one validation subject."""
    protocol = LeaveOneSubjectOut("sub01", val_subjects=1)
    split = protocol.split(clips)
    macro_subject = split.val[0].source_subject if macro_subject == "validation" else macro_subject
    module = MERDataModule(
        TinyDataset(clips),
        Pipeline({"x": Evidence(macro_subject)}, outputs=["x"]),
        protocol,
        str(tmp_path / "cache"),
        eval_batch_size=4,
    )
    module.setup("fit")
    net = MetaMMFNet(micro=partial(Half, 0), macro=partial(Half, 1), in_chans=6, num_classes=3, alphas=[0, 1, 2])
    task = ChooseOnValidation(net, ["x"], ["a", "b", "c"])
    task.fit(pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False), module)
    table = pd.read_csv(io.StringIO(task.result().artifacts[CHOICE_TABLE]))
    return float(net.setting), table


@pytest.mark.parametrize(("macro_subject", "alpha"), [("validation", 2.0), ("sub01", 0.0)])
def test_alpha_is_chosen_on_the_validation_subject_never_the_test_subject(tmp_path, clips, macro_subject, alpha):
    # Where the macro model is right on the validation subject's clips, alpha 2 wins; where it is right only on the
    # test subject's (sub01), alpha 0 still wins: the test clips are never looked at.
    chosen, table = choose_alpha(tmp_path, clips, macro_subject)
    assert chosen == alpha and table.loc[table["chosen"], "alpha"].item() == alpha
    assert table["val_uf1"].max() == 1.0 and table["alpha"].tolist() == [0, 1, 2]


EXPERIMENTS = {
    "metammfnet": FUSED,
    "metammfnet_micro": ["micro"],
    "metammfnet_macro": ["macro_pretrain", "macro"],
    **{f"metammfnet_{d}": FUSED for d in ("casme", "casme2", "smic", "cde")},
    # Table 3's micro and macro columns on real data: a real experiment with the ablation's stage order
    **{f"metammfnet_casme2 stage_order={order}": stages for order, stages in ABLATIONS.items()},
}


@pytest.mark.parametrize("experiment", sorted(EXPERIMENTS))
def test_every_metammfnet_experiment_composes_and_builds_each_stage(experiment):
    name, *overrides = experiment.split()
    stages = compose_stages(composed(f"experiment={name}", *overrides))
    assert [s.name for s in stages] == EXPERIMENTS[experiment]
    flow, diff = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)  # any size: the streams pool globally
    for stage in stages:
        dataset = instantiate(stage.cfg.dataset)  # readers read nothing until asked for clips
        pipeline = instantiate(stage.cfg.preprocessing)
        assert pipeline.outputs == ["flow", "diff"] and list(stage.cfg.model.input_keys) == ["flow", "diff"]
        net = instantiate(stage.cfg.model.net)(in_chans=3, num_classes=len(dataset.class_names))
        task = instantiate(
            stage.cfg.task, net=net, input_keys=list(stage.cfg.model.input_keys), class_names=dataset.class_names
        )
        task.freeze(stage.freeze)
        if stage.name == "fusion":
            task.net.setting.fill_(1.0)  # chosen on validation clips when the stage runs
        assert task({"flow": flow, "diff": diff}).shape == (2, len(dataset.class_names))
        if stage.name == "fusion":
            assert isinstance(task, ChooseOnValidation) and task.net.setting_name == "alpha"
            assert not any(p.requires_grad for p in task.parameters())
        else:
            assert isinstance(task, PrototypeTask)
            sampler = instantiate(stage.cfg.datamodule.batch_sampler)
            assert sampler.func is EpisodicBatchSampler
