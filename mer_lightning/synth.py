"""`mer-synth ROOT [--subjects N ...]`: write the synthetic micro-expression set in the CASME II layout."""

from __future__ import annotations

import argparse
import dataclasses
import time

from mer_lightning.datasets.synthetic import SyntheticSettings, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", help="folder to write (left as it is when it already holds these settings)")
    for field in dataclasses.fields(SyntheticSettings):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default)
    args = vars(parser.parse_args())
    root = args.pop("root")
    start = time.perf_counter()
    path = generate(root, SyntheticSettings(**args))
    print(f"synthetic set in {path} ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
