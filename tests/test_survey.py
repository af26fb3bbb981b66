"""The deep MER survey's baseline: its small CNN, the synthetic sets labelled with the fused 4- and 9-class schemes
that its leave-one-video-out runs use, and every experiment of it composing and building."""

from collections import Counter

import pytest
import torch
from hydra.utils import instantiate

from mer_lightning.datasets.schemes import SCHEMES
from mer_lightning.datasets.synthetic.plan import emotion_plan
from mer_lightning.datasets.synthetic.settings import SyntheticSettings
from mer_lightning.models import SurveyCNN
from tests.test_stages_units import composed, root  # noqa: F401 (root: MER_ROOT for every test here)

EXPERIMENTS = {
    "survey_fused4": "fused4",
    "survey_fused9": "fused9",
    "survey_fused4_synthetic": "synthetic_fused4",
    "survey_fused9_synthetic": "synthetic_fused9",
}


def test_the_survey_cnn_is_matlabs_28x28_example_network():
    net = SurveyCNN(in_chans=3, num_classes=4)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (8, (3, 3), (1, 1)),
        (16, (3, 3), (1, 1)),
        (32, (3, 3), (1, 1)),
    ]
    assert net.fc.in_features == 7 * 7 * 32 and net(torch.rand(5, 3, 28, 28)).shape == (5, 4)
    assert sum(p.numel() for p in net.parameters()) == 12420
    with pytest.raises(ValueError, match="built for 28x28 images, got \\(32, 32\\)"):
        net(torch.rand(1, 3, 32, 32))


@pytest.mark.parametrize(
    ("experiment", "clips", "per_class"), [("survey_fused4_synthetic", 48, 12), ("survey_fused9_synthetic", 72, 8)]
)
def test_the_synthetic_lovo_sets_hold_every_fused_class_in_equal_numbers(experiment, clips, per_class):
    dataset = composed(f"experiment={experiment}").dataset
    settings = SyntheticSettings(**dataset.generator)
    scheme = SCHEMES[dataset.classes]
    plans = [e for subject in range(1, settings.subjects + 1) for e in emotion_plan(settings, subject)]
    counts = Counter(scheme.classes[scheme.label(e)] for e in plans)
    assert len(plans) == clips and counts == dict.fromkeys(scheme.classes, per_class)
    assert dataset.root.endswith(f"{dataset.name}_lovo")  # its own folder: the full-size set's stays as it is


@pytest.mark.parametrize("experiment", sorted(EXPERIMENTS))
def test_every_survey_experiment_composes_and_builds(experiment):
    cfg = composed(f"experiment={experiment}")
    assert cfg.dataset.name == EXPERIMENTS[experiment] and cfg.protocol._target_.endswith("LeaveOneVideoOut")
    assert (cfg.task.optimizer.lr, cfg.datamodule.batch_size, cfg.trainer.max_epochs) == (5e-5, 256, 150)
    assert cfg.datamodule.unit == "frame"
    dataset = instantiate(cfg.dataset)  # readers read nothing until asked for clips
    pipeline = instantiate(cfg.preprocessing)
    assert pipeline.outputs == pipeline.sequences == ["frames"]
    net = instantiate(cfg.model.net)(in_chans=3, num_classes=len(dataset.class_names))
    task = instantiate(cfg.task, net=net, input_keys=list(cfg.model.input_keys), class_names=dataset.class_names)
    assert task({"frames": torch.rand(2, 3, 28, 28)}).shape == (2, len(dataset.class_names))
