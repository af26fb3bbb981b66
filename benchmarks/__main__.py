"""`make bench`: every benchmark script of this folder, one after another, each printing its own figures."""

import runpy
import sys
from pathlib import Path

SCRIPTS = ["bench_loso.py", "bench_preprocess.py", "bench_models.py"]

for name in SCRIPTS:
    path = Path(__file__).parent / name
    if path.exists():
        print(f"\n##### {name}", flush=True)
        sys.argv = [str(path)]
        runpy.run_path(str(path), run_name="__main__")
