"""Every config composes, and bad settings fail with messages that name them."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from tests.conftest import REPO, run_cli

CONF = REPO / "conf"
GROUPS = [
    "dataset",
    "preprocessing",
    "datamodule",
    "model",
    "protocol",
    "task",
    "trainer",
    "logger",
    "callbacks",
    "experiment",
]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize(("group", "option"), [(g, o) for g in GROUPS for o in options(g)])
def test_every_config_group_option_composes(group, option, tmp_path, monkeypatch):
    monkeypatch.setenv("MER_ROOT", str(tmp_path))
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[f"{group}={option}"], return_hydra_config=True)
    OmegaConf.resolve(cfg.model)
    assert group == "experiment" or cfg[group] is not None


def test_eval_config_needs_a_checkpoint_dir():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("eval", overrides=["checkpoint_dir=/weights"])
    assert cfg.fit is False and cfg.checkpoint == "/weights/{subject}.pth"


@pytest.mark.slow
def test_an_unknown_option_lists_the_available_ones(tmp_path):
    result = run_cli("mer_lightning.train", "model=nope", root=tmp_path, check=False)
    assert result.returncode != 0
    assert "Could not find 'model/nope'" in result.stderr
    assert "ststnet" in result.stderr and "timm" in result.stderr


@pytest.mark.slow
def test_a_bad_setting_names_the_setting(tmp_path):
    result = run_cli(
        "mer_lightning.train",
        "protocol.test_subject=sub01",
        "preprocessing.steps.flow.method=lucas",
        root=tmp_path,
        check=False,
    )
    assert result.returncode != 0
    assert "method ['lucas'] not understood" in result.stderr


def test_readme_commands_exist():
    readme = (REPO / "README.md").read_text()
    makefile = (REPO / "Makefile").read_text()
    for target in ("train", "test", "ui", "server", "bench", "install", "clean", "help"):
        assert f"\n{target}:" in makefile
    assert "make train" in readme and "make test" in readme
    assert Path(REPO / ".ci" / "run").read_text().count("make test") == 1
