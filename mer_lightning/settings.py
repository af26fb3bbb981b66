"""Settings checked before any work starts and before any run is created, each error naming the setting.

Hydra checks that a config composes; these are the values it cannot judge and that would otherwise fail late (a
traceback from inside torch after minutes of start-up, a FAILED run left in the store) or not at all (a negative
epoch count trains forever). Readers check the data they read themselves, naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


class SettingError(ValueError):
    """A setting's value cannot work; the message names the setting and says what it must be."""


def _refuse(setting: str, value: Any, must: str) -> SettingError:
    return SettingError(f"setting {setting}={value!r}: {must}")


def _integer(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def check(cfg: DictConfig) -> None:
    """Raises `SettingError` for the first setting of the composed config (`mer-train`, `mer-eval`, `mer-predict`)
    whose value cannot work. Only the settings checked are resolved (the others may need Hydra's runtime)."""

    def value(key: str) -> Any:
        return OmegaConf.select(cfg, key, default=None)

    threads = value("threads")
    if threads is not None and not _integer(threads, 1):
        raise _refuse(
            "threads", threads, "must be a positive integer (CPU threads for torch) or null for torch's default"
        )
    if not _integer(value("seed"), -(2**63)):
        raise _refuse("seed", value("seed"), "must be an integer")
    trainers = ["trainer", *(f"stages.{name}.trainer" for name in (value("stages") or {}))]
    for prefix in trainers:
        node = value(prefix)
        if node is not None and "max_epochs" in node and not _integer(node.max_epochs, 1):
            raise _refuse(
                f"{prefix}.max_epochs",
                node.max_epochs,
                "must be an integer >= 1 (each fold trains exactly this many epochs and tests the last one)",
            )
    for key in ("datamodule.batch_size", "datamodule.eval_batch_size"):
        if value(key) is not None and not _integer(value(key), 1):
            raise _refuse(key, value(key), "must be a positive integer")
    for key in ("protocol.val_subjects", "protocol.val_clips"):
        if value(key) is not None and not _integer(value(key), 0):
            raise _refuse(key, value(key), "must be an integer >= 0")
    if value("checkpoint_dir") is not None and not Path(str(value("checkpoint_dir"))).is_dir():
        raise _refuse(
            "checkpoint_dir", str(value("checkpoint_dir")), "is not a folder (it must hold one {subject}.pth per fold)"
        )


def check_file(setting: str, path: str | Path) -> Path:
    """A path a setting names, which must exist (a clip to predict, a checkpoint)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise _refuse(setting, str(path), "does not exist")
    return path
