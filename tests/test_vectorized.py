"""Folds side by side (`hydra/launcher=vectorized`): the same training as alone, or a refusal that says why."""

from __future__ import annotations

import copy
import functools

import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from mlflow import MlflowClient

from mer_lightning.lit.classify import ClassificationTask
from mer_lightning.lit.vectorized import FoldStream, NotVectorizable, RandomState, VectorizedFit
from mer_lightning.models import STSTNet
from mer_lightning.side_by_side import check_config
from tests.conftest import REPO, run_cli

CLASSES = ["negative", "positive", "surprise"]
# Each model config of conf/model trained by the classify task, with the batch entries its net reads (one fold's
# items, small), whether folds of it train side by side, and the overrides it needs to compose. The others are
# refused by their task (test_tasks_that_hook_lightnings_loop_are_refused_with_the_hook) or their stages.
MODELS = {
    "ststnet": ({"flow": (3, 28, 28)}, True, []),
    "timm": ({"flow": (3, 32, 32)}, True, []),
    "learnet": ({"dynamic": (3, 112, 112)}, True, []),
    "baseline": ({"dynamic": (3, 64, 64)}, True, []),
    "nistor_classifier": ({"frames": (1, 64, 64)}, True, []),
    "survey_cnn": ({"frames": (3, 28, 28)}, True, []),
    "aouayeb_cnn": ({"regions": (2, 1, 24, 24)}, True, ["model.net.encoder.regions=[eyes,mouth]"]),
    "nistor_sequence": ({"frames": (5, 1, 64, 64), "length": ()}, False, []),
    "aouayeb_lstm": ({"regions": (5, 2, 1, 24, 24), "length": ()}, False, ["model.net.encoder.regions=[eyes,mouth]"]),
    "choi_lmf": ({"lmf": (3, 1, 68, 68), "lmf_length": ()}, False, []),
    "choi_image": ({"frames": (3, 1, 64, 64), "frames_length": ()}, False, []),
}
# Nets trained by tasks that hook Lightning's loop: test_tasks_that_hook_lightnings_loop_are_refused_with_the_hook.
HOOKED = {"nistor_autoencoder": "autoencode", "nistor_mixt": "multitask", "prototypes": "prototypes"}
# Fusion nets of earlier stages' nets (task=choose): refused by their stages and validation split
# (test_settings_folds_side_by_side_do_not_implement_are_refused).
FUSED = {"metammfnet": "experiment=metammfnet", "choi_joint": "experiment=choi_joint"}


def test_every_model_config_is_classified_here():
    """A model added to conf/model must be said to train side by side or be refused, by one of the tests below."""
    configs = {path.stem for path in (REPO / "conf" / "model").glob("*.yaml")}
    assert configs == set(MODELS) | set(HOOKED) | set(FUSED)


def _task(net: torch.nn.Module, input_keys=("flow",), lr: float = 1e-3) -> ClassificationTask:
    return ClassificationTask(net, list(input_keys), CLASSES, functools.partial(torch.optim.Adam, lr=lr))


class _Shuffled:
    """Shuffled batches of in-memory tensors, drawn from the global torch random state (as a DataLoader's are)."""

    def __init__(self, items: dict[str, torch.Tensor], batch_size: int) -> None:
        self.items, self.batch_size = items, batch_size

    def __iter__(self):
        for index in torch.randperm(len(self.items["label"])).split(self.batch_size):
            yield {key: value[index] for key, value in self.items.items()}


def _items(count: int, shapes: dict[str, tuple], seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    items = {key: torch.rand(count, *shape, generator=generator) for key, shape in shapes.items() if shape}
    for key in (key for key, shape in shapes.items() if not shape):  # a sequence's lengths
        frames = next(shape for shape in shapes.values() if shape)[0]
        items[key] = torch.randint(1, frames + 1, (count,), generator=generator)
    items["label"] = torch.randint(0, 3, (count,), generator=generator)
    items["clip_id"] = torch.arange(count)
    return items


def test_folds_side_by_side_train_as_each_fold_alone():
    """Three folds of different sizes (so last batches of different sizes), each its own random stream: the weights
    and BatchNorm statistics after three epochs side by side are those of each fold trained alone."""
    torch.manual_seed(0)
    template = _task(STSTNet(drop_rate=0.0))
    folds = [_items(count, {"flow": (3, 28, 28)}, seed) for seed, count in enumerate((40, 37, 33))]
    side_by_side = [copy.deepcopy(template) for _ in folds]
    streams = []
    for seed, items in enumerate(folds):
        torch.manual_seed(100 + seed)
        streams.append(FoldStream(_Shuffled(items, 16), RandomState.capture()))
    history = []
    VectorizedFit(side_by_side, streams, max_epochs=3).fit(lambda epoch, step, losses: history.append((step, losses)))
    assert [step for step, _ in history] == [2, 5, 8]
    for seed, (items, trained) in enumerate(zip(folds, side_by_side)):
        torch.manual_seed(100 + seed)
        alone = copy.deepcopy(template)
        alone.train()
        optimizer = alone.optimizer_factory(alone.parameters())
        total = count = 0
        for _ in range(3):
            total = count = 0
            for batch in _Shuffled(items, 16):
                optimizer.zero_grad()
                loss = alone.losses(batch)["loss"]
                loss.backward()
                optimizer.step()
                total, count = total + loss.item() * len(batch["label"]), count + len(batch["label"])
        assert history[-1][1][seed]["loss"] == pytest.approx(total / count, rel=1e-5)
        for (name, expected), actual in zip(alone.state_dict().items(), trained.state_dict().values()):
            torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4, msg=name)
        assert not torch.equal(trained.net.fc.weight, template.net.fc.weight)


@pytest.mark.parametrize(
    "model", [pytest.param(m, marks=pytest.mark.slow) if m in ("learnet", "baseline") else m for m in sorted(MODELS)]
)
def test_every_model_trains_side_by_side_or_is_refused_with_the_reason(model):
    shapes, supported, overrides = MODELS[model]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"model={model}", *overrides])
    first = next(iter(shapes.values()))
    in_chans = first[-3] if len(first) >= 3 else first[-1]
    torch.manual_seed(0)
    tasks = [_task(instantiate(cfg.model.net)(in_chans=in_chans, num_classes=3), cfg.model.input_keys) for _ in "ab"]
    before = [t.net.state_dict()[next(iter(t.net.state_dict()))].clone() for t in tasks]
    streams = [FoldStream(_Shuffled(_items(4, shapes, seed), 2), RandomState.capture()) for seed in range(2)]
    fit = VectorizedFit(tasks, streams, max_epochs=1)
    if supported:
        fit.fit()
        assert all(
            not torch.equal(t.net.state_dict()[next(iter(t.net.state_dict()))], b) for t, b in zip(tasks, before)
        )
    else:
        with pytest.raises(NotVectorizable, match=f"model {type(tasks[0].net).__name__} cannot run under"):
            fit.fit()


@pytest.mark.parametrize(
    ("model", "task", "hook"),
    [(model, task, "training_step" if task == "prototypes" else "on_fit_end") for model, task in HOOKED.items()],
)
def test_tasks_that_hook_lightnings_loop_are_refused_with_the_hook(model, task, hook):
    """The other nets of conf/model train with tasks that act inside Lightning's loop (the fusion nets of
    models.fusion with task=choose, which fits by validating, are refused by their stages and validation split)."""
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"model={model}", f"task={task}"])
    net = instantiate(cfg.model.net)(in_chans=1, num_classes=3)
    built = instantiate(cfg.task, net=net, input_keys=list(cfg.model.input_keys), class_names=CLASSES)
    with pytest.raises(NotVectorizable, match=hook):
        VectorizedFit([built], [FoldStream([], RandomState.capture())], 1)


def test_optimizers_that_are_not_element_wise_are_refused():
    lbfgs = ClassificationTask(torch.nn.Linear(2, 3), ["x"], CLASSES, functools.partial(torch.optim.LBFGS, lr=1))
    with pytest.raises(NotVectorizable, match="optimizer LBFGS"):
        VectorizedFit([lbfgs], [FoldStream([], RandomState.capture())], 1)


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ("experiment=nistor", "stage_order"),
        *((fused, "stage_order") for fused in FUSED.values()),
        ("protocol.record_oracle=true", "record_oracle"),
        ("callbacks=complexity", "callbacks"),
        ("+trainer.gradient_clip_val=1.0", "gradient_clip_val"),
    ],
)
def test_settings_folds_side_by_side_do_not_implement_are_refused(override, reason):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[override])
    with pytest.raises(NotVectorizable, match=reason):
        check_config(cfg)


def _fold_runs(root) -> dict[str, dict[str, object]]:
    """Per sweep (in order), per fold: its finished run."""
    client = MlflowClient(f"sqlite:///{root}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("mer-lightning").experiment_id
    sweeps: dict[str, dict[str, object]] = {}
    for run in client.search_runs([experiment], "tags.`mer.run_type` = 'fold'", order_by=["attributes.start_time ASC"]):
        assert run.info.status == "FINISHED"
        sweeps.setdefault(run.data.tags["mer.sweep_id"], {})[run.data.tags["mer.fold"]] = run
    return sweeps


@pytest.mark.slow
def test_a_vectorized_sweep_records_the_predictions_of_the_sequential_one(tmp_path, tiny_overrides):
    """The same folds, seeds and settings (STSTNet without dropout: dropout masks are drawn per fold from one shared
    stream side by side, so with them a fold is another draw): every fold run of the vectorised sweep holds the
    sequential sweep's predictions and per-epoch losses to float tolerance, and the same figures and files."""
    settings = [*tiny_overrides, "trainer.max_epochs=3", "datamodule.batch_size=4", "+model.net.drop_rate=0.0"]
    run_cli("mer_lightning.train", "-m", *settings, root=tmp_path)
    # The same folds again: a resume of the first sweep unless asked for as a new one.
    vectorized = run_cli(
        "mer_lightning.train",
        "-m",
        *settings,
        "hydra/launcher=vectorized",
        "hydra.launcher.group_size=2",
        "hydra.sweeper.resume=false",
        root=tmp_path,
    )
    assert "pooled over 15 clips" in vectorized.stdout
    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    sequential_runs, vectorized_runs = _fold_runs(tmp_path).values()
    assert sorted(vectorized_runs) == sorted(sequential_runs) and len(sequential_runs) == 3
    for fold, alone in sequential_runs.items():
        together = vectorized_runs[fold]
        tables = [
            pd.read_csv(client.download_artifacts(r.info.run_id, "predictions.csv", str(tmp_path / r.info.run_id)))
            for r in (alone, together)
        ]
        pd.testing.assert_frame_equal(tables[1], tables[0], rtol=1e-5, atol=1e-6)
        for name in ("train/loss", "epoch"):
            expected = [(m.step, m.value) for m in client.get_metric_history(alone.info.run_id, name)]
            actual = [(m.step, m.value) for m in client.get_metric_history(together.info.run_id, name)]
            assert [s for s, _ in actual] == [s for s, _ in expected] and len(expected) == 3
            assert [v for _, v in actual] == pytest.approx([v for _, v in expected], rel=1e-5)
        assert set(together.data.metrics) == set(alone.data.metrics)
        listed = [{f.path for f in client.list_artifacts(r.info.run_id)} for r in (alone, together)]
        assert listed[0] == listed[1] and "weights.pt" in listed[0]
