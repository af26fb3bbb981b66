"""One store everywhere: every entry point finds the MLflow store by the same rule, and says which it is."""

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig

from mer_lightning import store
from mer_lightning.tracking import Tracker
from tests.conftest import REPO


def composed_uri(*overrides: str) -> str:
    """The tracking URI training composes from conf/ (logger.tracking_uri)."""
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", list(overrides), return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        return cfg.logger.tracking_uri


def test_the_store_is_under_mer_root_as_training_composes_it(tmp_path, monkeypatch):
    monkeypatch.delenv("MER_TRACKING_URI", raising=False)
    monkeypatch.setenv("MER_ROOT", str(tmp_path))
    assert store.tracking_uri() == composed_uri() == f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    assert store.describe(store.tracking_uri()) == (
        f"MLflow store: sqlite:///{tmp_path}/mlruns/mlflow.db (under MER_ROOT={tmp_path})"
    )


def test_without_mer_root_the_store_is_under_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MER_TRACKING_URI", raising=False)
    monkeypatch.delenv("MER_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert store.tracking_uri() == f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    assert "(under this folder)" in store.describe(store.tracking_uri())


def test_a_tracking_uri_setting_wins_over_the_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MER_ROOT", str(tmp_path))
    monkeypatch.setenv("MER_TRACKING_URI", "http://127.0.0.1:5999")
    assert store.tracking_uri() == composed_uri() == "http://127.0.0.1:5999"
    assert "(from MER_TRACKING_URI)" in store.describe(store.tracking_uri())
    assert store.tracking_uri("sqlite:////elsewhere/db") == "sqlite:////elsewhere/db"  # an entry point's own option


@pytest.mark.parametrize(
    "variable, expected", [("MER_TRACKING_URI", "http://10.0.0.7:5000"), (None, "http://127.0.0.1:5000")]
)
def test_the_server_logger_reads_the_same_variable_as_every_entry_point(variable, expected, monkeypatch):
    monkeypatch.delenv("MER_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://not-this-one:5000")
    if variable:
        monkeypatch.setenv(variable, expected)
    assert composed_uri("logger=server") == expected


def test_a_reader_refuses_a_missing_store_and_creates_none(tmp_path, monkeypatch):
    monkeypatch.delenv("MER_TRACKING_URI", raising=False)
    monkeypatch.setenv("MER_ROOT", str(tmp_path))
    with pytest.raises(LookupError, match=f"no MLflow store at {tmp_path}/mlruns/mlflow.db.*MER_ROOT"):
        Tracker(create=False)
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.slow
def test_a_reader_names_the_store_and_lists_its_sweeps_when_a_sweep_is_unknown(tmp_path, monkeypatch):
    monkeypatch.delenv("MER_TRACKING_URI", raising=False)
    monkeypatch.setenv("MER_ROOT", str(tmp_path))
    writer = Tracker()
    writer.open_sweep(
        "20990101-000000-abcdef",
        ["sub01"],
        {"mer.model": "ststnet", "mer.dataset": "synthetic", "mer.protocol": "loso"},
    )
    assert (tmp_path / "mlruns" / "artifacts").is_dir()  # a new experiment keeps its artifacts beside the database
    reader = Tracker(create=False)
    with pytest.raises(LookupError) as error:
        reader.summarize("nosuch")
    message = str(error.value)
    assert "no sweep 'nosuch'" in message and f"sqlite:///{tmp_path}/mlruns/mlflow.db" in message
    assert "20990101-000000-abcdef  ststnet on synthetic, loso (1 fold) 20990101-000000-abcdef" in message
