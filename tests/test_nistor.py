"""Nistor & Czibula's method: its nets, the neutral class of CK+-style sequences, and every experiment of it (the
full method, the ablations, the real-data set-up) composing and building stage by stage."""

import pytest
import torch
from hydra.utils import instantiate

from mer_lightning.datasets.neutral import NeutralOnsets
from mer_lightning.lit.autoencode import AutoencodeTask
from mer_lightning.lit.multitask import MultitaskTask
from mer_lightning.models import AutoencoderClassifier, ConvAutoencoder, FrameClassifier
from mer_lightning.train import compose_stages
from tests.datasets.layouts import reader, write
from tests.test_stages_units import composed, root  # noqa: F401 (root: MER_ROOT for every test here)

EXPERIMENTS = {
    "nistor": ["fir", "er", "me"],
    "nistor_fir_only": ["fir", "me"],
    "nistor_er_only": ["er", "me"],
    "nistor_mixt": ["mixt", "me"],
    "nistor_untrained": ["me"],
    "nistor_casme2_smic": ["fir", "er", "me"],
}


def test_the_nets_of_the_three_stages_share_an_encoder_of_one_shape():
    x = torch.rand(5, 1, 64, 64)
    autoencoder, classifier, mixt = ConvAutoencoder(1), FrameClassifier(1, 4), AutoencoderClassifier(1, 4)
    reconstruction = autoencoder(x).detach()
    assert reconstruction.shape == x.shape and 0 <= float(reconstruction.min()) <= float(reconstruction.max()) <= 1
    assert classifier(x).shape == (5, 4)
    logits, reconstruction = mixt(x)
    assert logits.shape == (5, 4) and reconstruction.shape == x.shape
    shapes = {name: p.shape for name, p in autoencoder.encoder.state_dict().items()}
    assert shapes == {name: p.shape for name, p in classifier.encoder.state_dict().items()}
    with pytest.raises(ValueError, match="built for 64x64 frames, got \\(32, 32\\)"):
        classifier(torch.rand(1, 1, 32, 32))


def test_neutral_onsets_give_each_sequence_a_neutral_first_frame_and_its_peak(tmp_path):
    ckplus = reader("ckplus", write("ckplus", tmp_path / "CK+"), "dataset.classes=macro4")
    sequences = ckplus.clips()
    clips = NeutralOnsets(ckplus).clips()
    assert len(clips) == 2 * len(sequences)
    for sequence, peak, neutral in zip(sequences, clips[::2], clips[1::2]):
        assert peak.uid == sequence.uid and peak.frames == sequence.frames[-1:] and peak.label == sequence.label
        assert neutral.uid == f"{sequence.uid}_neutral" and neutral.frames == sequence.frames[:1]
        assert neutral.emotion == "neutral" and ckplus.class_names[neutral.label] == "neutral"
        assert neutral.subject == sequence.subject and (neutral.onset, neutral.apex, neutral.offset) == (0, 0, 0)
    assert NeutralOnsets(reader("ckplus", tmp_path / "CK+")).clips()[1].emotion != "neutral"  # ckplus_7 drops it


@pytest.mark.parametrize("experiment", sorted(EXPERIMENTS))
def test_every_experiment_composes_and_builds_each_stage(experiment):
    stages = compose_stages(composed(f"experiment={experiment}"))
    assert [s.name for s in stages] == EXPERIMENTS[experiment]
    for stage in stages:
        dataset = instantiate(stage.cfg.dataset)  # readers read nothing until asked for clips
        pipeline = instantiate(stage.cfg.preprocessing)
        net = instantiate(stage.cfg.model.net)(in_chans=1, num_classes=len(dataset.class_names))
        task = instantiate(
            stage.cfg.task, net=net, input_keys=list(stage.cfg.model.input_keys), class_names=dataset.class_names
        )
        task.freeze(stage.freeze)
        frames = torch.rand(2, 3, 1, 64, 64)
        per_frame = stage.cfg.datamodule.unit == "frame"
        batch = {"frames": frames.flatten(0, 1) if per_frame else frames, "length": torch.tensor([3, 2])}
        output = task(batch)
        assert pipeline.outputs == ["frames"] and pipeline.sequences == ["frames"]
        if isinstance(task, AutoencodeTask):
            assert output.shape == batch["frames"].shape
        else:
            logits = output[0] if isinstance(task, MultitaskTask) else output
            assert logits.shape == (6 if per_frame else 2, len(dataset.class_names))
