"""Aouayeb et al.'s method as a user runs it: both experiments compose and build stage by stage, the batches carry
the regions configured (landmark groups or the six fixed regions, in the configured order), and the LSTM stage
starts from the CNN stage's encoder, frozen or not as set."""

import cv2
import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from mer_lightning.preprocess.keyframes import sample_indices
from mer_lightning.preprocess.regions import AOUAYEB_REGIONS, aouayeb_face, crop_boxes, crop_regions
from mer_lightning.train import compose_stages
from tests.conftest import TINY, run_cli
from tests.test_stages import json_artifact
from tests.test_stages_units import composed, root  # noqa: F401 (root: MER_ROOT for every test here)
from tests.test_sweep import runs, store

SIX = list(AOUAYEB_REGIONS)
TINY_SET = [o for o in TINY if o.startswith("dataset.")]


@pytest.mark.parametrize("experiment", ["aouayeb", "aouayeb_megc2019"])
def test_every_experiment_composes_and_builds_each_stage(experiment):
    cnn, lstm = compose_stages(composed(f"experiment={experiment}"))
    assert (cnn.name, lstm.name) == ("cnn", "lstm") and lstm.tested and not cnn.tested
    assert cnn.cfg.datamodule.unit == "frame" and lstm.cfg.datamodule.unit == "clip"
    assert [(h.module, h.stage, h.source) for h in lstm.init] == [("encoder", "cnn", "encoder")]
    assert lstm.freeze == ["encoder"]  # the paper's choice
    for stage in (cnn, lstm):
        dataset = instantiate(stage.cfg.dataset)  # readers read nothing until asked for clips
        pipeline = instantiate(stage.cfg.preprocessing)
        assert pipeline.outputs == ["regions"] and pipeline.sequences == ["regions"]
        channels = 1 if stage.cfg.preprocessing.steps.regions.grey else 3
        net = instantiate(stage.cfg.model.net)(in_chans=channels, num_classes=len(dataset.class_names))
        assert net.encoder.names == SIX
        task = instantiate(
            stage.cfg.task, net=net, input_keys=list(stage.cfg.model.input_keys), class_names=dataset.class_names
        )
        task.freeze(stage.freeze)
        size = list(stage.cfg.preprocessing.steps.regions.size)
        frames = torch.rand(2, 3, 6, channels, *size)
        batch = {"regions": frames.flatten(0, 1) if stage is cnn else frames, "length": torch.tensor([3, 2])}
        assert task(batch).shape == (6 if stage is cnn else 2, len(dataset.class_names))
    assert instantiate(lstm.cfg.dataset).name == ("megc2019" if experiment.endswith("megc2019") else "synthetic")


def reference_regions(clip, num_frames, kind, names, size, grey):
    """(T, R, C, h, w) crops of the clip's frames made here from its files: frames picked as LoadFrames picks them,
    boxes from the onset frame's landmarks."""
    picks = clip.onset + sample_indices(clip.offset - clip.onset + 1, num_frames)
    frames = np.stack([cv2.cvtColor(cv2.imread(str(clip.frames[i])), cv2.COLOR_BGR2RGB) for i in picks])
    if grey:
        frames = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])[..., None]
    landmarks = np.load(clip.landmarks)[clip.onset]
    if kind == "landmarks":
        crops = crop_regions(frames, landmarks, names, size)
    else:
        crops = crop_boxes(aouayeb_face(frames, landmarks), [AOUAYEB_REGIONS[n] for n in names], size)
    return torch.from_numpy(np.moveaxis(crops, -1, -3).swapaxes(0, 1).astype(np.float32))


@pytest.mark.parametrize(
    ("kind", "names"), [("landmarks", ["mouth", "right_eye", "left_brow"]), ("aouayeb", ["mouth", "nose"])]
)
def test_the_regions_a_batch_carries_are_those_configured_in_their_order(kind, names):
    overrides = [
        "experiment=aouayeb",
        *TINY_SET,
        "protocol.test_subject=sub02",
        f"preprocessing.steps.regions.kind={kind}",
        f"preprocessing.steps.regions.names=[{','.join(names)}]",
    ]
    cfg = composed(*overrides)
    cnn, lstm = compose_stages(cfg)
    steps = lstm.cfg.preprocessing.steps
    for stage in (cnn, lstm):
        assert list(stage.cfg.model.net.encoder.regions) == names  # the nets follow the preprocessing
        datamodule = instantiate(
            stage.cfg.datamodule,
            dataset=instantiate(stage.cfg.dataset),
            pipeline=instantiate(stage.cfg.preprocessing),
            protocol=instantiate(cfg.protocol),
        )
        datamodule.setup("fit")
        batch = next(iter(datamodule.train_dataloader()))
        for item in range(3):
            clip = datamodule.clips[int(batch["clip_id"][item])]
            expected = reference_regions(
                clip, steps.frames.num_frames, kind, names, list(steps.regions.size), steps.regions.grey
            )
            if steps.get("relative"):  # what moved since the onset, the first frame loaded
                assert steps.relative.frame == "onset"
                expected = expected - expected[0]
            if stage is cnn:  # frame items: one frame's regions (R, C, h, w)
                assert batch["regions"].shape[1] == len(names)
                torch.testing.assert_close(batch["regions"][item], expected[int(batch["frame"][item])])
            else:  # clip items: the clip's frames, each its regions (T, R, C, h, w)
                assert int(batch["length"][item]) == steps.frames.num_frames
                torch.testing.assert_close(batch["regions"][item], expected)


@pytest.mark.slow
@pytest.mark.parametrize("freeze", ["[encoder]", "[]"])
def test_the_lstm_stage_starts_from_the_cnn_stages_encoder_frozen_or_not(tmp_path, freeze):
    run_cli(
        "mer_lightning.train",
        "experiment=aouayeb",
        *TINY_SET,
        "protocol.test_subject=sub02",
        "stages.cnn.trainer.max_epochs=1",
        "trainer.max_epochs=1",
        f"stages.lstm.freeze={freeze}",
        root=tmp_path,
    )
    client = store(tmp_path)
    (fold,) = runs(client, "fold")
    stages = sorted(runs(client, "stage"), key=lambda r: int(r.data.tags["mer.stage_index"]))
    assert fold.info.status == "FINISHED" and [s.data.tags["mer.stage"] for s in stages] == ["cnn", "lstm"]
    cnn, lstm = (json_artifact(client, s.info.run_id, "weight_digests.json", tmp_path) for s in stages)
    assert cnn["start"]["encoder"] != cnn["end"]["encoder"]  # trained on frames
    assert lstm["start"]["encoder"] == cnn["end"]["encoder"]  # handed over whole
    assert lstm["end"]["rnn"] != lstm["start"]["rnn"]
    frozen = lstm["end"]["encoder"] == lstm["start"]["encoder"]
    assert frozen == (freeze == "[encoder]")
