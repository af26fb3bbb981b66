"""Rewrites the command outputs the documentation shows (`mer-data describe` on the synthetic set and on each
release's stand-in) from what the code prints today: `.venv/bin/python -m tests.update_docs_outputs`.

Run it when a change to a reader, a class scheme, the synthetic generator or `mer-data describe` makes
`tests/test_docs_pages.py` fail on purpose; then read the diff of `docs/` before committing it.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from tests.docs_pages import DOCS, blocks, commands, run_command


def printed(lines: list[str], folder: Path) -> str:
    """What the last line prints after the others ran, and after a first run of it (which may generate data)."""
    *setup, last = lines
    for line in [*setup, last]:
        run_command(line, folder, [])
    output = run_command(last, folder, []).stdout.replace(str(folder), "MER_ROOT")
    return "\n".join(line.rstrip() for line in output.splitlines()).strip()


def update(page: str, lines: list[str]) -> bool:
    """Replaces the block titled with the page's last command by what it prints; whether the page changed."""
    path = DOCS / page
    text = path.read_text()
    (block,) = [b for b in blocks(page) if b.title == lines[-1]]
    with tempfile.TemporaryDirectory() as folder:
        new = printed(lines, Path(folder))
    fence = re.escape(f'```text title="{lines[-1]}"\n') + r".*?^```$"
    updated = re.sub(fence, lambda _: f'```text title="{lines[-1]}"\n{new}\n```', text, count=1, flags=re.S | re.M)
    if updated != text:
        path.write_text(updated)
    return block.code.strip() != new


def main() -> None:
    pages = {"datasets/index.md": ["mer-data describe dataset=synthetic"]}
    for path in sorted((DOCS / "datasets").glob("*.md")):
        page = path.relative_to(DOCS).as_posix()
        if page not in pages and commands(page):
            pages[page] = commands(page)
    for page, lines in pages.items():
        print(f"{page}: {'updated' if update(page, lines) else 'unchanged'}")


if __name__ == "__main__":
    main()
