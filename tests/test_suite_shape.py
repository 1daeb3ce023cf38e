"""The suite's shape: every test module tests something, and the order of tests is random."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def collected_tests(source: str) -> list[str]:
    """The tests pytest collects from a module: ``test_*`` functions, in ``Test*`` classes too."""
    tree = ast.parse(source)
    found = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    ]
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            found += [
                f"{node.name}.{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                and item.name.startswith("test")
            ]
    return found


MODULES = sorted(
    path
    for path in TESTS.rglob("test_*.py")
    if "node_modules" not in path.parts and "fixtures" not in path.parts
)


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(TESTS)))
def test_every_test_module_defines_a_test(path: Path) -> None:
    assert collected_tests(path.read_text()), f"{path.relative_to(ROOT)} defines no test"


def test_the_check_finds_an_empty_module() -> None:
    assert collected_tests('"""Nothing yet."""\nimport pytest\n') == []
    assert collected_tests("class TestA:\n    def test_b(self): pass\n") == ["TestA.test_b"]


def test_the_suite_runs_in_random_order() -> None:
    """pytest-randomly is in the test extra, so the README's command shuffles the tests."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(
        dependency.startswith("pytest-randomly")
        for dependency in project["optional-dependencies"]["test"]
    )
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    assert "no:randomly" not in options["ini_options"]["addopts"]
