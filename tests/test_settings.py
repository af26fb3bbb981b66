"""Settings checked before any work starts: each bad value refused with the setting named."""

import pytest
from hydra import compose, initialize_config_dir

from mer_lightning import settings
from tests.conftest import REPO


def composed(*overrides: str, config: str = "train"):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose(config, overrides=list(overrides))


@pytest.fixture(autouse=True)
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("MER_ROOT", str(tmp_path))


@pytest.mark.parametrize("overrides", [[], ["threads=2"], ["experiment=nistor"], ["trainer.max_epochs=1"]])
def test_good_settings_pass(overrides):
    settings.check(composed(*overrides))


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("trainer.max_epochs=-1", "setting trainer.max_epochs=-1: must be an integer >= 1"),
        ("trainer.max_epochs=0", "setting trainer.max_epochs=0: must be an integer >= 1"),
        ("trainer.max_epochs=null", "setting trainer.max_epochs=None: must be an integer >= 1"),
        ("threads=abc", "setting threads='abc': must be a positive integer"),
        ("threads=0", "setting threads=0: must be a positive integer"),
        ("threads=1.5", "setting threads=1.5: must be a positive integer"),
        ("seed=x", "setting seed='x': must be an integer"),
        ("datamodule.batch_size=0", "setting datamodule.batch_size=0: must be a positive integer"),
        ("protocol.val_subjects=-2", "setting protocol.val_subjects=-2: must be an integer >= 0"),
        ("+stages.pre.trainer.max_epochs=-3", "setting stages.pre.trainer.max_epochs=-3"),
    ],
)
def test_a_bad_value_is_refused_naming_its_setting(override, named):
    with pytest.raises(settings.SettingError, match=named.replace("(", r"\(").replace(".", r"\.")):
        settings.check(composed(override))


def test_a_checkpoint_folder_must_exist(tmp_path):
    with pytest.raises(settings.SettingError, match="setting checkpoint_dir='/nonexistent/weights': is not a folder"):
        settings.check(composed("checkpoint_dir=/nonexistent/weights", config="eval"))
    settings.check(composed(f"checkpoint_dir={tmp_path}", config="eval"))


def test_a_path_that_must_exist_is_named(tmp_path):
    with pytest.raises(settings.SettingError, match=f"setting clip='{tmp_path}/nope': does not exist"):
        settings.check_file("clip", tmp_path / "nope")
