"""Where the entry points find their Hydra configs.

`MER_CONFIG_DIR` names a config tree of your own; otherwise the repository's top-level `conf/`: installed inside the
package as `mer_lightning/conf` by a wheel (a non-editable install), found beside the package in a checkout or an
editable install.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def config_dir() -> str:
    """The config directory the entry points compose from (see the module's docstring)."""
    if os.environ.get("MER_CONFIG_DIR"):
        return os.environ["MER_CONFIG_DIR"]
    installed, checkout = PACKAGE / "conf", PACKAGE.parent / "conf"
    return str(installed if (installed / "train.yaml").is_file() or not checkout.is_dir() else checkout)


CONFIG_DIR = config_dir()
