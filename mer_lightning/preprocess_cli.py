"""`mer-preprocess dataset=... preprocessing=... workers=N`: compute every clip's model inputs into the cache.

Optional: training computes what is missing itself, through the same cache. Running this first spreads the work
over processes, shows progress, and lists the clips that cannot be used before any model is trained.
"""

from __future__ import annotations

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from mer_lightning.configs import CONFIG_DIR
from mer_lightning.input_errors import reports_input_errors
from mer_lightning.preprocess.cache import InputCache
from mer_lightning.preprocess.fill import fill_cache


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="preprocess")
@reports_input_errors
def main(cfg: DictConfig) -> None:
    unreadable = {} if cfg.on_error == "skip" else None
    clips = instantiate(cfg.dataset).clips(unreadable)
    pipeline = instantiate(cfg.preprocessing)
    cache = InputCache(cfg.datamodule.cache_dir, pipeline.settings)
    report = fill_cache(clips, pipeline, cache, workers=cfg.workers, on_error=cfg.on_error)
    skipped = {**(unreadable or {}), **report.skipped}
    print(
        f"{len(clips) + len(unreadable or {})} clips: {report.computed} computed, {report.cached} already cached, "
        f"{len(skipped)} skipped; cache entries in {cache.root}"
    )
    for where, reason in skipped.items():
        print(f"skipped {where}: {reason}")


if __name__ == "__main__":
    main()
