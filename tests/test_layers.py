"""The packages stack one way: utils <- datasets <- (models | diffusion, apart) <- entry scripts.

Read from the source with ast, so a new import that breaks the layering fails here, before it
turns into a cycle.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("utils", "datasets", "models", "diffusion")
ENTRY_SCRIPTS = ("train", "sample", "eval")
# package -> the project packages its modules may import
ALLOWED = {"utils": {"utils"}, "datasets": {"utils", "datasets"}, "models": {"models"}, "diffusion": {"diffusion"}}


def project_imports(path: Path) -> set[str]:
    """Return the top-level project names (packages and entry scripts) that a file imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & set(PACKAGES + ENTRY_SCRIPTS + ("benchmarks", "tests"))


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_the_layers_below_it(package):
    offenders = {str(path.relative_to(REPO)): sorted(project_imports(path) - ALLOWED[package])
                 for path in sorted((REPO / package).rglob("*.py"))}
    assert not {k: v for k, v in offenders.items() if v}, f"{package}/ imports above its layer"


def test_the_checker_sees_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy\nfrom sample import super_resolve\nfrom utils.config import Config\n")
    assert project_imports(bad) == {"sample", "utils"}
