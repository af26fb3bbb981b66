"""`mer-synth ROOT [--subjects N --layout samm --emotions anger,contempt ...]`: write a synthetic set by hand."""

from __future__ import annotations

import argparse
import dataclasses
import time

from mer_lightning.datasets.synthetic import SyntheticSettings, generate


def _words(text: str) -> tuple[str, ...]:
    """A comma-separated list (`anger,contempt`), for the settings that are lists (default null)."""
    return tuple(word.strip() for word in text.split(",") if word.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", help="folder to write (left as it is when it already holds these settings)")
    for field in dataclasses.fields(SyntheticSettings):
        kind = _words if field.default is None else type(field.default)
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=kind, default=field.default)
    args = vars(parser.parse_args())
    root = args.pop("root")
    start = time.perf_counter()
    path = generate(root, SyntheticSettings(**args))
    print(f"synthetic set in {path} ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
