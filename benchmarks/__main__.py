"""`make bench`: every benchmark script of this folder, one after another, each printing its own figures.

A script's arguments come from the environment variable named after it (`BENCH_LOSO_ARGS` for bench_loso.py), e.g.
`make bench BENCH_LOSO_ARGS="--epochs 5 25 --threads 1"`; without it, the script's defaults.
"""

import os
import runpy
import shlex
import sys
from pathlib import Path

SCRIPTS = ["bench_loso.py", "bench_preprocess.py", "bench_models.py"]

for name in SCRIPTS:
    path = Path(__file__).parent / name
    if path.exists():
        print(f"\n##### {name}", flush=True)
        sys.argv = [str(path), *shlex.split(os.environ.get(f"{path.stem.upper()}_ARGS", ""))]
        runpy.run_path(str(path), run_name="__main__")
