"""A non-editable install carries the configs: the wheel installs the repository's `conf/` as `mer_lightning/conf`,
and the entry points compose from there when the package is not a checkout."""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPO
from tests.datasets.layouts import write

SOURCES = ("mer_lightning", "hydra_plugins", "conf", "pyproject.toml", "setup.py", "README.md")


@pytest.mark.slow
def test_a_wheel_installs_the_configs_and_its_entry_points_find_them(tmp_path):
    source = tmp_path / "source"  # built from a copy: an in-tree build would leave build/ in the checkout
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", str(source), "-w", str(tmp_path / "wheel")],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "wheel").glob("mer_lightning-*.whl")
    configs = sorted(p.relative_to(REPO / "conf").as_posix() for p in (REPO / "conf").rglob("*.yaml"))
    packaged = sorted(
        n.removeprefix("mer_lightning/conf/")
        for n in zipfile.ZipFile(wheel).namelist()
        if n.startswith("mer_lightning/conf/")
    )
    assert packaged == configs

    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, capture_output=True)
    smic = write("smic", tmp_path / "SMIC")
    env = {**os.environ, "PYTHONPATH": str(site), "MER_ROOT": str(tmp_path), "PYTHONWARNINGS": "ignore"}
    env.pop("MER_CONFIG_DIR", None)
    where = subprocess.run(
        [sys.executable, "-c", "import mer_lightning.configs as c; print(c.CONFIG_DIR)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip() == str(site / "mer_lightning" / "conf")
    described = subprocess.run(
        [sys.executable, "-m", "mer_lightning.describe", "describe", "dataset=smic", f"dataset.root={smic}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert described.returncode == 0, described.stderr
    assert "dataset smic: 14 clips of 2 subjects" in described.stdout
