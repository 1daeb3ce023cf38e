"""The package's shape: its modules import each other in one direction, with no cycle."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "digest"


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports_of(path: Path) -> set[str]:
    """The digest modules ``path`` imports when it runs (type-checking imports aside)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            return
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("digest."):
            found.add((node.module or "").split(".")[1])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found - {path.stem}


def test_the_import_graph_has_no_cycle() -> None:
    graph = {path.stem: imports_of(path) for path in PACKAGE.glob("*.py")}
    visiting: list[str] = []
    done: set[str] = set()

    def walk(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, " -> ".join([*visiting[visiting.index(module) :], module])
        visiting.append(module)
        for imported in sorted(graph.get(module, ())):
            walk(imported)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        walk(module)
    # Only the command line imports the command-line framework, and nothing imports it.
    assert not [m for m, imported in graph.items() if "cli" in imported and m != "__main__"]


def test_every_error_lives_in_errors() -> None:
    for path in PACKAGE.glob("*.py"):
        if path.stem == "errors":
            continue
        tree = ast.parse(path.read_text())
        classes = [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
        assert not [name for name in classes if name.endswith("Error")], path.name


def test_paths_may_be_strings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from digest import load_config, run_build
    from digest.config import load_data
    from digest.history import History

    from .helpers import EXAMPLES

    config = load_config(str(EXAMPLES / "riverside" / "newsletter.toml"))
    assert load_data([str(EXAMPLES / "riverside" / "articles.json")]).articles
    result = run_build(config, str(tmp_path / "out"), on=date(2026, 11, 30))
    assert all(path.exists() for path in result.files)
    with History(str(tmp_path / "h.sqlite3")) as history:
        assert history.editions() == []
