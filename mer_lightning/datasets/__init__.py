"""Readers of the MER releases, one module per layout; each is a `ClipDataset` (`base.py`) turning a release's
folders and coding sheet into `Clip` records through a class scheme (`schemes.py`)."""
