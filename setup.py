"""The one packaging setting pyproject.toml cannot express: the repository's top-level `conf/` installed inside the
package, as `mer_lightning/conf`, so that a non-editable install finds its configs (`mer_lightning/configs.py`)."""

from setuptools import find_namespace_packages, setup

setup(
    packages=[*find_namespace_packages(include=["mer_lightning*", "hydra_plugins*"]), "mer_lightning.conf"],
    package_dir={"mer_lightning.conf": "conf"},
    package_data={"mer_lightning.conf": ["*.yaml", "**/*.yaml"]},
)
