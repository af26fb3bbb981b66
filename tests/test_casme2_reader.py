"""The CASME II reader on miniature trees in the official layout, including the slips real releases have."""

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mer_lightning.datasets.base import DataError

CONF = str(Path(__file__).parents[1] / "conf")


def write_release(root: Path, rows: list[dict], frames: dict[tuple[str, str], range]) -> None:
    for (subject, clip), numbers in frames.items():
        folder = root / "CASME2_RAW_selected" / f"sub{subject}" / clip
        folder.mkdir(parents=True)
        for n in numbers:
            cv2.imwrite(str(folder / f"img{n}.jpg"), np.full((8, 8, 3), n, np.uint8))
    pd.DataFrame(rows).to_excel(root / "CASME2-coding-20140508.xlsx", index=False)


def row(subject, clip, onset, apex, offset, emotion):
    return {
        "Subject": subject,
        "Filename": clip,
        "OnsetFrame": onset,
        "ApexFrame": apex,
        "OffsetFrame": offset,
        "Action Units": "4",
        "Estimated Emotion": emotion,
    }


def reader(root: Path, *overrides: str):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("train", overrides=["dataset=casme2", f"dataset.root={root}", *overrides])
    return instantiate(cfg.dataset)


def test_reads_clips_with_key_frames_as_positions(tmp_path):
    write_release(
        tmp_path,
        [row("01", "EP02_01f", 46, 59, 86, "happiness"), row("02", "EP03_02", 10, 12, 14, "disgust")],
        {("01", "EP02_01f"): range(46, 87), ("02", "EP03_02"): range(10, 15)},
    )
    clips = reader(tmp_path).clips()
    assert [c.uid for c in clips] == ["casme2/sub01/EP02_01f", "casme2/sub02/EP03_02"]
    first = clips[0]
    assert (first.onset, first.apex, first.offset) == (0, 13, 40)
    assert first.frames[first.apex].name == "img59.jpg"
    assert first.subject == "casme2/sub01" and first.source_subject == "sub01"
    assert first.label == 0 and clips[1].label == 1  # casme2_5: happiness, disgust, ...
    assert first.repairs == ()


def test_missing_apex_takes_the_middle_frame_and_says_so(tmp_path):
    write_release(tmp_path, [row("01", "EP01", 1, "/", 9, "surprise")], {("01", "EP01"): range(1, 10)})
    clip = reader(tmp_path).clips()[0]
    assert clip.apex == 4
    assert "middle frame" in clip.repairs[0]


def test_offset_past_the_last_frame_is_clamped_and_reported(tmp_path):
    write_release(tmp_path, [row("01", "EP01", 1, 3, 12, "surprise")], {("01", "EP01"): range(1, 6)})
    clip = reader(tmp_path).clips()[0]
    assert clip.offset == 4 and "clamped" in clip.repairs[0]


def test_composite_scheme_drops_others(tmp_path):
    write_release(
        tmp_path,
        [row("01", "A", 1, 2, 3, "others"), row("01", "B", 1, 2, 3, "repression")],
        {("01", "A"): range(1, 4), ("01", "B"): range(1, 4)},
    )
    clips = reader(tmp_path, "dataset.classes=composite3").clips()
    assert [(c.clip_id, c.label) for c in clips] == [("B", 0)]


@pytest.mark.parametrize(
    ("bad_row", "frames", "message"),
    [
        (row("01", "EP01", 9, 5, 3, "surprise"), range(1, 10), r"row 2: onset frame 9 is after offset frame 3"),
        (row("01", "EP01", 1, 2, 3, "joy"), range(1, 10), r"row 2: emotion 'joy' is not in class scheme"),
        (row("01", "NOPE", 1, 2, 3, "surprise"), range(1, 10), r"row 2: clip folder .*NOPE does not exist"),
    ],
)
def test_unusable_rows_fail_naming_sheet_row_and_field(tmp_path, bad_row, frames, message):
    write_release(tmp_path, [bad_row], {("01", "EP01"): frames})
    with pytest.raises(DataError, match=message) as error:
        reader(tmp_path).clips()
    assert "CASME2-coding-20140508.xlsx" in str(error.value)


def test_a_missing_root_names_the_setting(tmp_path):
    with pytest.raises(DataError, match="does not exist \\(set dataset.root\\)"):
        reader(tmp_path / "absent").clips()
