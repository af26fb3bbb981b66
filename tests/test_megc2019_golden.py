"""The released STSTNet models on the MEGC 2019 composite flow images reproduce their published figures.

Needs the licensed data in `$MER_SHARED_DATA/megc2019-ststnet-flow` (.ci/run points it at ../shared/data). Under CI
(`CI=true`) a missing folder fails the run; elsewhere the test skips and says why.
"""

import pytest
from mlflow import MlflowClient

from tests.conftest import REPO, run_cli


@pytest.mark.slow
@pytest.mark.realdata
def test_released_weights_reproduce_the_published_pooled_and_per_dataset_figures(megc2019, tmp_path):
    run_cli(
        "mer_lightning.evaluate",
        "-m",
        "dataset=megc2019_flow",
        "preprocessing=image",
        f"dataset.root={megc2019}",
        f"checkpoint_dir={megc2019 / 'ststnet-weights'}",
        root=tmp_path,
    )
    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("mer-lightning").experiment_id
    folds = client.search_runs([experiment], filter_string="tags.`mer.run_type` = 'fold'", max_results=1000)
    (summary,) = client.search_runs([experiment], filter_string="tags.`mer.run_type` = 'summary'")
    assert len(folds) == 68 and all(f.info.status == "FINISHED" for f in folds)
    metrics = summary.data.metrics
    assert metrics["n_clips"] == 442
    assert round(metrics["uf1"], 4) == 0.7209 and round(metrics["uar"], 4) == 0.7250
    expected = {"smic": (0.6871, 0.6876), "casme2": (0.8304, 0.8304), "samm": (0.5993, 0.6145)}
    for dataset, (uf1, uar) in expected.items():
        assert (round(metrics[f"{dataset}/uf1"], 4), round(metrics[f"{dataset}/uar"], 4)) == (uf1, uar)


@pytest.mark.realdata
def test_channel_order_is_a_setting_and_the_default_is_what_the_released_models_expect(megc2019):
    import cv2
    import numpy as np
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        bgr = compose("train", overrides=["dataset=megc2019_flow", "preprocessing=image", f"dataset.root={megc2019}"])
        rgb = compose(
            "train",
            overrides=[
                "dataset=megc2019_flow",
                "preprocessing=image",
                f"dataset.root={megc2019}",
                "preprocessing.steps.read.channel_order=rgb",
            ],
        )
    clip = instantiate(bgr.dataset).clips()[0]
    as_read = cv2.imread(str(clip.frames[0])).transpose(2, 0, 1).astype(np.float32)
    np.testing.assert_array_equal(instantiate(bgr.preprocessing)(clip)["flow"], as_read)
    np.testing.assert_array_equal(instantiate(rgb.preprocessing)(clip)["flow"], as_read[::-1])
