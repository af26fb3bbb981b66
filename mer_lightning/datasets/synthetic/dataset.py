"""The synthetic set as a dataset: generated on first read, then read by the reader of the release it imitates."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from mer_lightning.clip import Clip
from mer_lightning.datasets.base import ClipDataset, DatasetWrapper, Skipped
from mer_lightning.datasets.schemes import ClassScheme
from mer_lightning.datasets.synthetic.install import generate
from mer_lightning.datasets.synthetic.settings import SyntheticSettings


class SyntheticDataset(DatasetWrapper):
    """A generated set, written in a release's layout and read by that release's reader.

    `reader` makes the reader, given this set's `name`, `root`, `classes` and `fps` (the rate the set imitates; null
    leaves the reader's own) (from config, a partial of the release's dataset config: `conf/dataset/synthetic.yaml`
    takes CASME II's). `generator` holds `SyntheticSettings` fields
    (`{"subjects": 4}`); its `layout` is the one the reader reads. The set is generated into `root` when first read,
    or again when its settings changed.
    """

    def __init__(
        self,
        name: str,
        root: str | Path,
        classes: str | Mapping | ClassScheme,
        reader: Callable[..., ClipDataset],
        generator: SyntheticSettings | Mapping | None = None,
        fps: float | None = None,
    ) -> None:
        rate = {} if fps is None else {"fps": fps}
        super().__init__(reader(name=name, root=root, classes=classes, **rate))
        if not isinstance(generator, SyntheticSettings):
            generator = SyntheticSettings(**(generator or {}))
        self.settings = generator
        self.root = Path(root)

    def clips(self, skipped: Skipped | None = None) -> list[Clip]:
        generate(self.root, self.settings)
        return self.read(skipped)
