"""The documentation says what the code does: the tables and outputs a page shows are the ones the code makes today."""

from __future__ import annotations

import re

import pytest

from mer_lightning.datasets.schemes import SCHEMES
from tests.docs_pages import DOCS, REPO, blocks, commands, run_command


def test_datasets_page_lists_every_class_scheme_as_the_code_defines_it():
    section = (DOCS / "datasets" / "index.md").read_text().split("## Class schemes")[1].split("\n## ")[0]
    shown = {
        m["name"]: (m["classes"], m["dropped"])
        for m in re.finditer(r"^\| `(?P<name>\w+)` \| (?P<classes>[^|]+?) \| (?P<dropped>[^|]+?) \|$", section, re.M)
    }
    defined = {
        scheme.name: (", ".join(scheme.classes), ", ".join(k for k, v in scheme.mapping.items() if v is None) or "—")
        for scheme in SCHEMES.values()
    }
    assert shown == defined


@pytest.mark.slow
def test_datasets_page_shows_what_mer_data_describe_prints_for_the_synthetic_set(tmp_path):
    """Once the set is generated (the first run also logs that it generates it), describe prints the table shown."""
    (shown,) = [b.code for b in blocks("datasets/index.md") if b.title == "mer-data describe dataset=synthetic"]
    run_command("mer-data describe dataset=synthetic", tmp_path, [])
    output = run_command("mer-data describe dataset=synthetic", tmp_path, []).stdout.replace(str(tmp_path), "MER_ROOT")
    assert "\n".join(line.rstrip() for line in output.splitlines()).strip() == shown.strip()


RELEASE_PAGES = sorted(p.relative_to(DOCS).as_posix() for p in (DOCS / "datasets").glob("*.md") if p.name != "index.md")


@pytest.mark.slow
@pytest.mark.parametrize("page", RELEASE_PAGES)
def test_a_release_page_shows_what_mer_data_describe_prints_for_its_stand_in(tmp_path, page):
    """Each release's page: the stand-in its commands write, read by the release's reader, prints the table shown."""
    *setup, describe = commands(page)
    for line in setup:
        run_command(line, tmp_path, [])
    printed = "\n".join(line.rstrip() for line in run_command(describe, tmp_path, []).stdout.splitlines())
    (shown,) = [b.code for b in blocks(page) if b.title == describe]
    assert printed.strip() == shown.strip()


def test_every_release_page_shows_its_configs_as_they_are():
    for page in RELEASE_PAGES:
        included = re.findall(r'--8<-- "(conf/dataset/\w+\.yaml)"', (DOCS / page).read_text())
        assert included and all((REPO / path).is_file() for path in included), page
