"""The documentation builds (``make -C docs html``) with every Sphinx warning an error, and
every formula has its page, made from the formula's own settings files."""

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
# A formula is a folder of the state tree with a pillar.example (salt/platform is a library).
FORMULAS = sorted(path.parent.name for path in (REPO / "salt").glob("*/pillar.example"))


def test_docs_build_without_warnings(tmp_path):
    if shutil.which("dot") is None:
        pytest.fail(
            "Graphviz's `dot` is missing, and the architecture diagrams need it: "
            "scripts/bootstrap installs it (apt package graphviz)"
        )
    if not all(importlib.util.find_spec(name) for name in ("sphinx", "myst_parser")):
        pytest.fail(
            "Sphinx or myst-parser is missing from this Python: scripts/bootstrap installs "
            "requirements-dev.txt into .venv"
        )
    build = tmp_path / "build"
    result = subprocess.run(
        [
            "make", "-C", str(DOCS), "html",
            f"BUILDDIR={build}",
            "SPHINXOPTS=-W --keep-going -q",
            # The Sphinx of the Python running the tests (the project's venv).
            f"SPHINXBUILD={sys.executable} -m sphinx",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"`make -C docs html` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    assert (build / "html" / "index.html").is_file()
    # The diagrams are drawn, not left as a message that dot failed.
    assert len(list((build / "html" / "_images").glob("graphviz-*.svg"))) == len(
        list((DOCS / "diagrams").glob("*.dot"))
    )


def test_formulas_are_found():
    assert {"consul", "dns", "docker", "marathon", "mesos", "registrator", "zookeeper"} <= set(
        FORMULAS
    )


@pytest.mark.parametrize("formula", FORMULAS)
def test_each_formula_page_includes_its_settings_files(formula):
    page = DOCS / "formulas" / f"{formula}.md"
    assert page.is_file(), f"docs/formulas/{formula}.md is missing (and its toctree entry)"
    included = set(re.findall(r"```\{literalinclude\} \.\./\.\./salt/([^\s]+)", page.read_text()))
    folder = REPO / "salt" / formula
    wanted = {
        f"{formula}/{path.name}"
        for path in [folder / "pillar.example", folder / "defaults.yaml", *folder.glob("os*map.yaml")]
        if path.is_file()
    }
    assert wanted <= included, f"docs/formulas/{formula}.md does not include {wanted - included}"
    toctree = (DOCS / "formulas" / "index.md").read_text()
    assert re.search(rf"^{formula}$", toctree, re.M), f"docs/formulas/index.md lists no {formula}"
