"""The negative controls, as `experiment=` configs build them: labels shuffled within each subject, and flow from the
onset to itself. Each keeps everything but the signal."""

from collections import Counter

import numpy as np
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mer_lightning.datasets.controls import ShuffledLabels
from tests.conftest import REPO, TINY_SET


def config(tmp_path, *overrides: str):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("train", overrides=[f"paths.data_dir={tmp_path}", *TINY_SET, *overrides])


def test_shuffled_labels_permute_each_subjects_labels_and_keep_the_rest(tmp_path):
    cfg = config(tmp_path, "experiment=control_shuffled_labels")
    dataset = instantiate(cfg.dataset)
    control = instantiate(cfg.label_control)(dataset)
    assert isinstance(control, ShuffledLabels)
    assert (control.name, control.fps, control.class_names) == (dataset.name, dataset.fps, dataset.class_names)
    original, shuffled = dataset.clips(), control.clips()
    assert [c.uid for c in shuffled] == [c.uid for c in original]
    for subject in {c.subject for c in original}:
        before = Counter((c.label, c.emotion) for c in original if c.subject == subject)
        after = Counter((c.label, c.emotion) for c in shuffled if c.subject == subject)
        assert before == after  # class counts per subject unchanged, each label with its own emotion
    assert sum(a.label != b.label for a, b in zip(original, shuffled)) >= len(original) // 3
    assert [c.label for c in control.clips()] == [c.label for c in shuffled]  # one permutation per seed
    assert [c.label for c in ShuffledLabels(dataset, seed=1).clips()] != [c.label for c in shuffled]
    assert control.report.sources == dataset.report.sources


def test_relabelling_a_shuffled_set_relabels_the_clips_it_shuffles(tmp_path):
    control = ShuffledLabels(instantiate(config(tmp_path).dataset))
    relabelled = control.with_scheme("casme2_7")
    assert (
        relabelled.class_names
        == relabelled.dataset.class_names
        == ("happiness", "disgust", "repression", "surprise", "fear", "sadness", "others")
    )
    clips = relabelled.clips()
    assert {c.emotion for c in clips} >= {"fear", "others"}  # kept by casme2_7, dropped by composite3
    assert all(relabelled.class_names[c.label] == c.emotion for c in clips)
    assert control.class_names == ("negative", "positive", "surprise")  # the original is left as it was


def test_no_motion_feeds_flow_from_the_onset_to_itself(tmp_path):
    normal, control = config(tmp_path), config(tmp_path, "experiment=control_no_motion")  # TV-L1, the default
    assert control.preprocessing.steps.flow.target == "onset"
    clip = instantiate(normal.dataset).clips()[0]
    moving = instantiate(normal.preprocessing)(clip)["flow"]
    still = instantiate(control.preprocessing)(clip)["flow"]
    assert moving.shape == still.shape and np.ptp(moving, axis=(1, 2)).min() > 0
    assert not still.any()  # no motion at all: every channel constant, scaled to 0 (Farneback's flow of a frame to
    # itself is not quite 0: with preprocessing.steps.flow.method=farneback the control carries its noise)
