"""Generating a set into a folder: idempotent, atomic, safe to call from several processes at once."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from mer_lightning.datasets.synthetic.layouts import WRITERS
from mer_lightning.datasets.synthetic.motion import render_dataset
from mer_lightning.datasets.synthetic.settings import MANIFEST, SyntheticSettings

log = logging.getLogger(__name__)


def is_current(root: str | Path, settings: SyntheticSettings) -> bool:
    """Whether `root` holds a complete generation with exactly these settings and this format version."""
    try:
        return json.loads((Path(root) / MANIFEST).read_text()) == settings.manifest()
    except (OSError, ValueError):
        return False


def generate(root: str | Path, settings: SyntheticSettings | None = None) -> Path:
    """Make `root` hold the dataset for `settings`; do nothing when it already does.

    The data is written to a temporary sibling and renamed into place, `generator.json` last, so `root` is always
    either absent, a complete older generation or a complete current one -- also when several processes call this
    at once (the losers see the winner's folder is current and drop their own). A `root` holding anything but an
    earlier generation is never replaced."""
    settings = settings or SyntheticSettings()
    root = Path(root).absolute()
    if is_current(root, settings):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    log.info(
        "generating the synthetic set (%d subjects x %d clips, %s layout) into %s, once",
        settings.subjects,
        settings.clips_per_subject,
        settings.layout,
        root,
    )
    start = time.perf_counter()
    partial = Path(tempfile.mkdtemp(prefix=f".{root.name}.partial-", dir=root.parent))
    try:
        os.chmod(partial, 0o755)
        WRITERS[settings.layout](partial, render_dataset(settings), settings)
        (partial / MANIFEST).write_text(json.dumps(settings.manifest(), indent=2, sort_keys=True) + "\n")
        _install(partial, root, settings)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    log.info("synthetic set ready in %.0f s", time.perf_counter() - start)
    return root


def _install(partial: Path, root: Path, settings: SyntheticSettings) -> None:
    for _ in range(100):
        if is_current(root, settings):
            return  # a concurrent call won; its files are the same as ours
        try:
            os.rename(partial, root)  # atomic; fails while `root` is a non-empty folder
            return
        except FileNotFoundError:
            continue
        except OSError:
            if not root.is_dir():
                raise
        if not (root / MANIFEST).exists() and any(root.iterdir()):
            raise FileExistsError(f"{root} exists and is not a synthetic dataset (no {MANIFEST}); not replacing it")
        stale = root.with_name(f".{root.name}.stale-{uuid.uuid4().hex}")
        try:
            os.rename(root, stale)
        except FileNotFoundError:
            continue
        if is_current(stale, settings):  # a concurrent winner installed it in the meantime: put it back
            try:
                os.rename(stale, root)
                continue
            except OSError:
                pass
        shutil.rmtree(stale, ignore_errors=True)
    raise RuntimeError(f"could not install the synthetic dataset at {root}: it keeps changing")
