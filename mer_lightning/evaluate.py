"""`mer-eval`: test given weights, recorded exactly as a training sweep records its folds.

Weights per fold come from a directory or path template (`mer-eval -m checkpoint_dir=DIR`: `DIR/{subject}.pth`), or
from a finished sweep's own runs (`mer-eval -m from_sweep=SWEEP_ID`): each fold is then rebuilt from the config it
was trained with and tests the net its last stage saved, so a sweep can be re-tested, or tested after a change to
the evaluation code, without training again.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf

from mer_lightning.identity import fold_hash
from mer_lightning.input_errors import reports_input_errors
from mer_lightning.tracking import Tracker
from mer_lightning.train import CONFIG_DIR, open_store, run_fold


def given_weights(cfg: DictConfig) -> str | None:
    """The path template of the weights a fold tests (`checkpoint`), None when it trains or re-tests a sweep's own;
    an error when it should be given weights and has none."""
    if cfg.get("fit", True) or cfg.get("from_sweep") is not None:
        return None
    if cfg.get("checkpoint_dir") is None and OmegaConf.is_interpolation(cfg, "checkpoint"):
        raise ValueError(
            "mer-eval needs weights: checkpoint_dir=DIR (one {subject}.pth per fold), "
            "checkpoint='PATH_TEMPLATE', or from_sweep=SWEEP_ID"
        )
    return str(cfg.checkpoint) if cfg.get("checkpoint") else None


def retest_config(cfg: DictConfig) -> tuple[DictConfig, dict[str, str]]:
    """The config a fold of `cfg.from_sweep` was trained with, set to test its saved weights and to record into this
    run's store and sweep; and the tags that describe that fold."""
    if cfg.fold is None:
        raise ValueError("from_sweep tests one fold of a sweep: name it (fold=...), or run every fold with -m")
    tracker: Tracker = open_store(cfg.logger)
    trained = tracker.trained_fold(str(cfg.from_sweep), str(cfg.fold))
    config = OmegaConf.create(trained.config_yaml)
    config.merge_with(
        {
            "fit": False,
            "checkpoint": str(trained.weights),
            "logger": cfg.logger,
            "threads": cfg.threads,
            "callbacks": {},
            "protocol": {"record_oracle": False},
        }
    )
    return config, {**trained.tags, "mer.from_sweep": str(cfg.from_sweep)}


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
@reports_input_errors
def main(cfg: DictConfig) -> float:
    identity = fold_hash(OmegaConf.to_container(cfg, resolve=True))
    if cfg.from_sweep is not None:
        return run_fold(*retest_config(cfg), identity=identity)["uf1"]
    given_weights(cfg)
    return run_fold(cfg, identity=identity)["uf1"]


if __name__ == "__main__":
    main()
