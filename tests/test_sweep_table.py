"""A multirun over a setting, as a user reads it: one sweep and summary per value, then one table of them all, which
`mer-table` prints again from the store."""

import pytest

from tests.conftest import run_cli
from tests.test_sweep import runs, store


def table_of(output: str, multirun: str) -> list[str]:
    lines = output.splitlines()
    start = lines.index(f"=== {multirun}: pooled over each sweep's folds ===")
    return lines[start + 1 : start + 4]  # the header and one row per sweep


@pytest.mark.slow
def test_a_multirun_over_a_setting_ends_with_a_table_of_its_sweeps(tmp_path, tiny_overrides):
    overrides = [o for o in tiny_overrides if not o.startswith("trainer.max_epochs")]
    result = run_cli("mer_lightning.train", "-m", *overrides, "trainer.max_epochs=1,2", root=tmp_path)
    client = store(tmp_path)
    summaries = sorted(runs(client, "summary"), key=lambda r: r.data.tags["mer.sweep_id"])
    (multirun,) = {s.data.tags["mer.multirun"] for s in summaries}
    assert [s.data.tags["mer.sweep_id"] for s in summaries] == [f"{multirun}-0", f"{multirun}-1"]
    header, *rows = table_of(result.stdout, multirun)
    assert header.split()[:5] == ["sweep", "setting", "uf1", "uar", "accuracy"]
    for row, summary, epochs in zip(rows, summaries, (1, 2)):
        metrics = summary.data.metrics
        assert row.split()[:4] == [
            summary.data.tags["mer.sweep_id"],
            f"trainer.max_epochs={epochs}",
            f"{metrics['uf1']:.4f}",
            f"{metrics['uar']:.4f}",
        ]
    again = run_cli(
        "mer_lightning.sweep_table", multirun, "--tracking-uri", f"sqlite:///{tmp_path}/mlruns/mlflow.db", root=tmp_path
    )
    assert table_of(again.stdout, multirun) == [header, *rows]
