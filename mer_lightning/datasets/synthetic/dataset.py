"""The synthetic set as a dataset: generated on first read, then read as the release it imitates."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mer_lightning.clip import Clip
from mer_lightning.datasets.sheet_frames import SheetFramesDataset
from mer_lightning.datasets.synthetic.install import generate
from mer_lightning.datasets.synthetic.layouts import CASME2_READER
from mer_lightning.datasets.synthetic.settings import SyntheticSettings


class SyntheticDataset(SheetFramesDataset):
    """The synthetic set as a dataset: generated into `root` when first read (or when its settings changed), then
    read by the CASME II reader exactly as a CASME II release would be.

    `generator` holds `SyntheticSettings` fields (`{"subjects": 4}`); reader arguments default to `CASME2_READER`."""

    def __init__(
        self,
        name: str = "synthetic",
        root: str | Path = "data/synthetic",
        classes: str | Mapping = "composite3",
        generator: SyntheticSettings | Mapping | None = None,
        **reader,
    ) -> None:
        if not isinstance(generator, SyntheticSettings):
            generator = SyntheticSettings(**(generator or {}))
        self.settings = generator
        if self.settings.layout != "casme2":
            raise ValueError(f"SyntheticDataset reads the casme2 layout; generator.layout is {self.settings.layout!r}")
        super().__init__(name, root, classes, **{**CASME2_READER, **reader})

    def clips(self) -> list[Clip]:
        generate(self.root, self.settings)
        return super().clips()
