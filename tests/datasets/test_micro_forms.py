"""Micro forms of macro-expression sequences (Choi et al.): every CK+ sequence as recorded and as its first frames,
the same person's, in a dataset of their own."""

import pytest

from mer_lightning.datasets.base import DataError
from mer_lightning.datasets.micro_forms import MicroForms
from tests.datasets.layouts import reader, write


def test_each_sequence_comes_as_recorded_and_as_its_first_three_frames(tmp_path):
    root = write("ckplus", tmp_path / "CK+")
    general = reader("ckplus", root).clips()
    forms = reader("ckplus_micro", None, f"dataset.dataset.root={root}")
    clips = forms.clips()
    assert clips[: len(general)] == general and len(clips) == 2 * len(general)
    for recorded, micro in zip(general, clips[len(general) :]):
        assert micro.uid == f"ckplus_micro/{recorded.source_subject}/{recorded.clip_id}"
        assert micro.subject == recorded.subject  # the same person: one LOSO fold tests both forms
        assert micro.frames == recorded.frames and micro.landmarks == recorded.landmarks
        assert (micro.onset, micro.apex, micro.offset) == (recorded.onset, recorded.onset + 2, recorded.onset + 2)
        assert micro.label == recorded.label and micro.emotion == recorded.emotion
    assert forms.class_names == reader("ckplus", root).class_names
    assert forms.frame_rates() == {"ckplus": 30, "ckplus_micro": 30}


def test_a_sequence_too_short_for_its_micro_form_is_named(tmp_path):
    root = write("ckplus", tmp_path / "CK+")
    shortest = min(reader("ckplus", root).clips(), key=lambda c: c.num_frames)
    forms = MicroForms(reader("ckplus", root), frames=shortest.num_frames + 1)
    with pytest.raises(DataError, match=f"clip {shortest.uid} has {shortest.num_frames} frames from its onset"):
        forms.clips()
    skipped = {}
    clips = forms.clips(skipped)  # on_error=skip: that micro form left out, its general form kept
    assert f"{shortest.uid} has {shortest.num_frames} frames" in skipped[f"{shortest.uid} (micro form)"]
    assert shortest in clips and len(clips) == 2 * len(reader("ckplus", root).clips()) - len(skipped)
    with pytest.raises(ValueError, match="dataset.frames must be >= 2"):
        MicroForms(reader("ckplus", root), frames=1)
