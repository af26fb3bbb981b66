"""`mer-predict clip=PATH from_sweep=SWEEP_ID`: the class probabilities of one clip, from a trained sweep's nets.

The clip is a folder of frames (in natural order: img2 before img10) or a video file (its frames decoded once into
PNG, losslessly). Its onset, apex and offset are frame positions (0-based) given as settings, or the first frame,
the frame that moved most from the onset (`preprocessing.keyframes.spot_apex`, `apex_motion`) and the last frame.
Each net is rebuilt from the config its fold was trained with (`Tracker.trained_fold`, as `mer-eval from_sweep`
does): the same preprocessing, model, task and classes, so a prediction sees exactly what training saw. `fold=NAME`
asks one fold's net; by default every fold's net predicts and their probabilities are averaged. `checkpoint=PATH`
instead takes one saved net (`weights.pt`) with the model, preprocessing and dataset's classes as configured.

Writes `<output_dir>/<clip>.json` (probabilities, the prediction, key frames, each net's probabilities) and
`<clip>.png` (the key frames, the motion curve with the apex, the probabilities), and prints both.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import hydra
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mer_lightning import console, settings
from mer_lightning.clip import Clip
from mer_lightning.configs import CONFIG_DIR
from mer_lightning.datamodule import channels, clip_tensors
from mer_lightning.input_errors import reports_input_errors
from mer_lightning.lit.task import Task, mean_by_clip
from mer_lightning.models.weights import load_weights
from mer_lightning.preprocess.images import read_image
from mer_lightning.preprocess.keyframes import motion_scores
from mer_lightning.preprocess.pipeline import Pipeline
from mer_lightning.reports import prediction_figure
from mer_lightning.tracking import Tracker
from mer_lightning.train import compose_stages

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


def _natural(path: Path) -> list:
    """Sort key reading the digits in a name as numbers (`img2` before `img10`)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def frame_files(clip: Path, work_dir: Path) -> list[Path]:
    """The clip's frames as image files: a folder's images in natural order, or a video's frames written as PNG."""
    if clip.is_dir():
        frames = sorted((p for p in clip.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural)
        if not frames:
            raise settings.SettingError(f"setting clip={str(clip)!r}: the folder holds no images {IMAGE_SUFFIXES}")
        return frames
    video = cv2.VideoCapture(str(clip))
    frames = []
    while True:
        ok, image = video.read()
        if not ok:
            break
        frames.append(work_dir / f"frame{len(frames):05d}.png")
        cv2.imwrite(str(frames[-1]), image)
    video.release()
    if not frames:
        raise settings.SettingError(
            f"setting clip={str(clip)!r}: not a folder of frames, and no video frame could be read from it"
        )
    return frames


@dataclass(frozen=True)
class KeyFrames:
    onset: int
    apex: int
    offset: int
    spotted: bool  # the apex was spotted from motion, not given
    motion: np.ndarray  # each frame's motion from the onset, onset..offset


def key_frames(frames: list[Path], onset: int | None, apex: int | None, offset: int | None, motion: str) -> KeyFrames:
    """The given key frames, the missing ones filled in (first frame, most-moved frame, last frame)."""
    last = len(frames) - 1
    onset = 0 if onset is None else onset
    offset = last if offset is None else offset
    for name, value in (("onset", onset), ("offset", offset)):
        if not isinstance(value, int) or not 0 <= value <= last:
            raise settings.SettingError(f"setting {name}={value!r}: must be a frame position in 0..{last}")
    if offset < onset:
        raise settings.SettingError(f"setting offset={offset}: comes before onset={onset}")
    scores = motion_scores(np.stack([read_image(f) for f in frames[onset : offset + 1]]), 0, offset - onset, motion)
    if apex is None:
        return KeyFrames(onset, onset + int(np.argmax(scores)), offset, True, scores)
    if not isinstance(apex, int) or not onset <= apex <= offset:
        raise settings.SettingError(
            f"setting apex={apex!r}: must be a frame position in onset..offset ({onset}..{offset})"
        )
    return KeyFrames(onset, apex, offset, False, scores)


class Predictor:
    """One trained net with the preprocessing, task and classes its fold was trained with (`stage`: the tested stage
    of that fold's config)."""

    def __init__(self, stage: DictConfig, weights: Path, class_names: list[str], name: str) -> None:
        self.name = name
        self.class_names = list(class_names)
        self.pipeline: Pipeline = instantiate(stage.preprocessing)
        self.unit = stage.datamodule.get("unit", "clip")
        self.stage = stage
        self.weights = weights
        self.task: Task | None = None  # built on the first clip: the net's input channels come from its inputs

    def probabilities(self, clip: Clip, arrays: dict[str, np.ndarray]) -> np.ndarray:
        batch = clip_tensors([clip], [arrays], [0], self.pipeline, self.unit)
        if self.task is None:
            keys = list(self.stage.model.input_keys)
            net = instantiate(self.stage.model.net)(
                in_chans=channels(batch[keys[0]].shape[1:]), num_classes=len(self.class_names)
            )
            load_weights(net, self.weights)
            self.task = instantiate(self.stage.task, net=net, input_keys=keys, class_names=self.class_names)
            self.task.eval()
        with torch.no_grad():
            probs = torch.softmax(self.task.logits(batch).float(), dim=1)
        return mean_by_clip({"clip_id": batch["clip_id"], "probs": probs})["probs"][0].numpy()


def predictors(cfg: DictConfig) -> list[Predictor]:
    """The nets that predict: a sweep's folds (each rebuilt from its own config), or one checkpoint as configured."""
    if cfg.from_sweep is not None:
        tracker = Tracker(cfg.logger.tracking_uri, cfg.logger.experiment_name, create=False)
        print(tracker.describe())
        folds = [str(cfg.fold)] if cfg.fold is not None else tracker.fold_names(str(cfg.from_sweep))
        found = []
        for fold in folds:
            trained = tracker.trained_fold(str(cfg.from_sweep), fold)
            stage = compose_stages(OmegaConf.create(trained.config_yaml))[-1]
            found.append(Predictor(stage.cfg, trained.weights, trained.class_names, fold))
        return found
    if cfg.checkpoint is None:
        raise settings.SettingError(
            "mer-predict needs trained weights: from_sweep=SWEEP_ID (optionally fold=NAME) or checkpoint=PATH"
        )
    weights = settings.check_file("checkpoint", cfg.checkpoint)
    resolved = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    stage = compose_stages(resolved)[-1]
    return [Predictor(stage.cfg, weights, list(instantiate(stage.cfg.dataset).class_names), weights.name)]


def predict(cfg: DictConfig) -> dict:
    """Predicts `cfg.clip` and writes the JSON and the figure; returns what the JSON holds."""
    console.quiet()
    settings.check(cfg)
    source = settings.check_file("clip", cfg.clip)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    nets = predictors(cfg)
    classes = nets[0].class_names
    if any(net.class_names != classes for net in nets):
        raise ValueError(f"the folds of sweep {cfg.from_sweep} do not share one list of classes")
    with tempfile.TemporaryDirectory(prefix="mer-predict-") as work:
        frames = frame_files(source, Path(work))
        keys = key_frames(frames, cfg.onset, cfg.apex, cfg.offset, cfg.apex_motion)
        name = source.stem if source.is_file() else source.name
        clip = Clip(
            "mer-predict", name, name, tuple(frames), keys.onset, keys.apex, keys.offset, "", 0, source_subject=name
        )
        inputs: dict[str, dict[str, np.ndarray]] = {}  # one computation per distinct preprocessing
        each = {}
        for net in nets:
            key = json.dumps(net.pipeline.settings, sort_keys=True, default=str)
            inputs.setdefault(key, net.pipeline(clip))
            each[net.name] = net.probabilities(clip, inputs[key])
        images = {k: read_image(frames[getattr(keys, k)]) for k in ("onset", "apex", "offset")}
    probabilities = np.mean(list(each.values()), axis=0)
    predicted = classes[int(np.argmax(probabilities))]
    result = {
        "clip": str(source),
        "frames": len(frames),
        "onset": keys.onset,
        "apex": keys.apex,
        "offset": keys.offset,
        "apex_spotted": keys.spotted,
        "classes": classes,
        "probabilities": {c: float(p) for c, p in zip(classes, probabilities)},
        "predicted": predicted,
        "weights": {"from_sweep": cfg.from_sweep, "checkpoint": cfg.checkpoint, "nets": list(each)},
        "per_net": {n: {c: float(p) for c, p in zip(classes, probs)} for n, probs in each.items()},
    }
    output = Path(cfg.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    what = (
        f"sweep {cfg.from_sweep}" + (f", fold {cfg.fold}" if cfg.fold else f", {len(nets)} folds averaged")
        if cfg.from_sweep
        else Path(str(cfg.checkpoint)).name
    )
    figure = prediction_figure(
        images,
        keys.motion,
        keys.onset,
        keys.apex,
        keys.spotted,
        probabilities,
        classes,
        title=f"{name}: {predicted} ({what})",
    )
    figure.savefig(output / f"{name}.png", dpi=100)
    ranked = sorted(result["probabilities"].items(), key=lambda item: -item[1])
    print(
        f"{name}: {predicted} ({', '.join(f'{c} {p:.3f}' for c, p in ranked)}); {what}; key frames "
        f"{keys.onset}/{keys.apex}/{keys.offset}{' (apex spotted)' if keys.spotted else ''}"
    )
    print(f"wrote {output / f'{name}.json'} and {output / f'{name}.png'}")
    return result


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
@reports_input_errors
def main(cfg: DictConfig) -> None:
    predict(cfg)


if __name__ == "__main__":
    main()
