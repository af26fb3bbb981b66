"""What users check before and after training: `mer-data describe` and the repairs a fold run records."""

import json
from pathlib import Path

import pandas as pd
import pytest

from mer_lightning.describe import describe
from tests.conftest import run_cli
from tests.datasets.layouts import edit_sheet, reader, write


def test_describe_counts_clips_durations_repairs_and_missing_members(tmp_path):
    roots = {layout: write(layout, tmp_path / layout) for layout in ("casme2", "samm", "smic")}
    edit_sheet(roots["samm"] / "SAMM_Micro_FACS_Codes_v2.xlsx", {"Filename": "006_1_2"}, {"Offset Frame": 9999})
    members = tmp_path / "labels.csv"
    members.write_text(
        "dataset,subject,clip\ncasme2,sub01,EP01_02\nsamm,006,006_1_2\nsmic,s01,s01_ne_01\ncasme2,sub04,EP12_01f\n"
    )
    report = describe(
        reader(
            "megc2019",
            None,
            *(f"dataset.datasets.{k}.root={v}" for k, v in roots.items()),
            f"dataset.members={members}",
        )
    )
    assert report.startswith(
        "dataset megc2019: 3 clips of 3 subjects, scheme composite3 (negative, positive, surprise)"
    )
    lines = report.splitlines()
    assert lines[lines.index("clips per class:") + 1].split() == ["negative", "positive", "surprise", "total"]
    assert "casme2/sub01" in report and "samm/006" in report and "smic/s01" in report
    durations = lines[lines.index("frames and durations, onset to offset:") + 3].split()
    assert durations[:3] == ["casme2", "200", "1"]  # dataset, fps, clips
    assert "repairs: 2 clips (samm 1, smic 1):" in report
    assert "  samm/006/006_1_2: offset frame 9999 after the last frame 212: clamped" in report
    assert "  smic/s01/s01_ne_01: apex not annotated: middle frame taken" in report
    assert report.endswith(
        "1 listed clips not in this copy (or dropped by scheme composite3):\n  casme2/sub04/EP12_01f"
    )


@pytest.mark.slow
def test_mer_data_describe_from_the_command_line(tmp_path):
    root = write("smic", tmp_path / "SMIC")
    result = run_cli("mer_lightning.describe", "describe", "dataset=smic", f"dataset.root={root}", root=tmp_path)
    assert "dataset smic: 14 clips of 2 subjects, scheme smic_3" in result.stdout
    assert "repairs: 14 clips (smic 14):" in result.stdout
    assert not (tmp_path / "logs").exists() and not list(Path.cwd().glob("describe.log"))
    failed = run_cli(
        "mer_lightning.describe",
        "describe",
        "dataset=samm",
        f"dataset.root={tmp_path / 'none'}",
        root=tmp_path,
        check=False,
    )
    assert failed.returncode == 1 and "does not exist (set dataset.root)" in failed.stderr
    usage = run_cli("mer_lightning.describe", root=tmp_path, check=False)
    assert usage.returncode != 0 and "usage: mer-data describe dataset=NAME" in usage.stderr


@pytest.mark.slow
def test_a_fold_run_records_the_repairs_of_its_clips(tmp_path):
    from mer_lightning.records import FoldResult
    from mer_lightning.tracking import Tracker

    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", artifact_location=str(tmp_path / "artifacts"))
    table = pd.DataFrame(
        {"clip": ["a", "b"], "subject": ["s", "s"], "dataset": ["d", "d"], "label": [0, 1], "prediction": [0, 1]}
    )
    repairs = {"smic/s01/s01_ne_01": ["apex not annotated: middle frame taken"]}
    run_id = tracker.start_fold({"mer.fold": "s"}, {}, "", "fold s")
    result = FoldResult(tmp_path / "result")
    result.write(table, ["negative", "positive"], {"skipped_clips": {}, "repaired_clips": repairs})
    tracker.upload_fold(run_id, result, weights_run=None)
    run = tracker.client.get_run(run_id)
    assert run.data.metrics["repaired_clips"] == 1 and run.data.tags["mer.repaired_clips"] == "1"
    logged = Path(tracker.client.download_artifacts(run_id, "repaired_clips.json", str(tmp_path)))
    assert json.loads(logged.read_text()) == repairs
