"""The console: progress lines with time left, and the libraries' known noise silenced at its source."""

import logging
import warnings

import pytest

from mer_lightning import console


def test_durations_read_as_a_person_writes_them():
    assert [console.duration(s) for s in (0, 42.4, 185, 7620)] == ["0s", "42s", "3m05s", "2h07m"]


def test_time_left_extrapolates_the_finished_folds():
    assert console.time_left(60, done=2, total=8) == pytest.approx(180)
    assert console.time_left(10, done=0, total=8) is None
    assert console.progress(60, 8, 60) == "1m00s elapsed"  # nothing left to say when every fold is done
    assert console.progress(2, 8, 60) == "1m00s elapsed, about 3m00s left"


def test_quiet_drops_the_known_noise_and_nothing_else(caplog):
    console.quiet()
    console.quiet()  # idempotent
    lightning = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    assert sum(isinstance(f, console.DropMessages) for f in lightning.filters) == 1
    with caplog.at_level(logging.INFO):
        lightning.info("GPU available: False, used: False")
        lightning.info("💡 Tip: For seamless cloud logging and experiment tracking, try installing [litlogger]")
        logging.getLogger("mlflow.store.db.utils").info("Creating initial MLflow database tables...")
        lightning.info("Restoring states from the checkpoint path at last.ckpt")
    assert [r.getMessage() for r in caplog.records] == ["Restoring states from the checkpoint path at last.ckpt"]
    with warnings.catch_warnings(record=True) as caught:
        console.quiet()
        warnings.warn("The `srun` command is available on your system but is not used. HINT: ...", stacklevel=1)
        warnings.warn("something else", stacklevel=1)
    assert [str(w.message) for w in caught] == ["something else"]
