"""`mer-eval`: test given weights, one checkpoint per fold, recorded exactly as a training sweep records its folds."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from mer_lightning.train import CONFIG_DIR, run_fold


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> float:
    return run_fold(cfg)["uf1"]


if __name__ == "__main__":
    main()
