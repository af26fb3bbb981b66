"""Reading a documentation page as its reader does: its files, its checks and its commands, in the page's order.

A fenced block with a `title` that is a path (```` ```python title="my_mer/tiny_cnn.py" ````) is a file the reader
writes; an untitled `python` block is a check run after the files are written; a `bash` block's `mer-*` lines are
the commands the reader types (and `python SCRIPT` lines, which run a file the page wrote).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
FENCE = re.compile(r"^```(?P<lang>\w+)(?P<attrs>[^\n]*)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
TITLE = re.compile(r'title="(?P<title>[^"]+)"')
ENTRY_POINTS = {
    "mer-train": "mer_lightning.train",
    "mer-eval": "mer_lightning.evaluate",
    "mer-data": "mer_lightning.describe",
    "mer-preprocess": "mer_lightning.preprocess_cli",
    "mer-synth": "mer_lightning.synth",
    "mer-summarize": "mer_lightning.summarize",
}


@dataclass(frozen=True)
class Block:
    lang: str
    title: str
    code: str


def blocks(page: str) -> list[Block]:
    text = (DOCS / page).read_text()
    found = []
    for match in FENCE.finditer(text):
        title = TITLE.search(match["attrs"])
        found.append(Block(match["lang"], title["title"] if title else "", match["code"]))
    return found


def write_files(page: str, folder: Path) -> list[Path]:
    """Writes every block titled with a path under `folder`; the paths written."""
    written = []
    for block in blocks(page):
        if block.title and " " not in block.title and ("/" in block.title or "." in block.title):
            path = folder / block.title
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.code)
            written.append(path)
    if not written:
        raise AssertionError(f'docs/{page} has no file blocks (```lang title="path"```)')
    return written


def run_checks(page: str, folder: Path) -> int:
    """Runs the page's untitled python blocks in order, in one namespace, from `folder` and with it importable; how
    many ran."""
    checks = [b.code for b in blocks(page) if b.lang == "python" and not b.title]
    sys.path.insert(0, str(folder))
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        namespace: dict[str, object] = {"__name__": f"docs.{page}"}
        for number, code in enumerate(checks, start=1):
            exec(compile(code, f"docs/{page} check {number}", "exec"), namespace)
    finally:
        os.chdir(cwd)
        sys.path.remove(str(folder))
        for name in [m for m, module in sys.modules.items() if str(folder) in str(getattr(module, "__file__", ""))]:
            del sys.modules[name]
    return len(checks)


def commands(page: str) -> list[str]:
    """The page's `mer-*` and `python` command lines (a line ending in a backslash continues on the next)."""
    lines = []
    for block in blocks(page):
        if block.lang == "bash":
            text = block.code.replace("\\\n", " ")
            lines += [line.strip() for line in text.splitlines() if re.search(r"(^|\s)(mer-\w+|python)\s", line)]
    return lines


def run_command(line: str, folder: Path, extra: list[str], timeout: int = 900) -> subprocess.CompletedProcess[str]:
    """Runs one of the page's command lines from `folder` (MER_ROOT too), its `VAR=value` prefixes as environment,
    `extra` overrides appended (the test's small-data settings)."""
    words = shlex.split(line)
    env = {**os.environ, "MER_ROOT": str(folder), "PYTHONWARNINGS": "ignore"}
    while "=" in words[0] and not words[0].startswith("mer-"):
        name, value = words.pop(0).split("=", 1)
        env[name] = str((folder / value).resolve()) if name == "PYTHONPATH" else value
    program, *args = words
    argv = (
        [sys.executable, *args] if program == "python" else [sys.executable, "-m", ENTRY_POINTS[program], *args, *extra]
    )
    result = subprocess.run(
        argv,
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(f"docs command `{line}` failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result
