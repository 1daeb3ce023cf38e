"""The package's shape: parts in layers that import downward only, with no cycle."""

from __future__ import annotations

import ast
import importlib
import warnings
from datetime import date
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "digest"

#: The layers, lowest first: a module imports its own part's modules and lower layers only.
LAYERS: list[set[str]] = [
    # The core: models, selection, checks and the small helpers everything uses.
    {
        "errors",
        "files",
        "text",
        "urls",
        "colour",
        "labels",
        "addresses",
        "markup",
        "fields",
        "cadence",
        "settings",
        "models",
        "edition",
        "sections",
        "select",
        "links",
        "findings",
        "html_checks",
        "check",
        "pixels",
        "plan",
        "environment",
        "lazy",
        "link_map",
        "click_through",
    },
    # The store: one connection to SQLite or PostgreSQL, its schema and its moves.
    {"store"},
    {"render", "feeds", "suppression"},
    # The reader store: who may be mailed, built on the suppression list's events.
    {"readers"},
    # The whole pipeline in one call: content, never bytes.
    {"pipeline"},
    # Messages: the one MIME writer, personalised copies.
    {"mail"},
    {"delivery"},
    {"schedule"},
    # What an edition did (from the ledger, the events, the history), and the hand-off of an
    # edition to a list manager: both read the schedule's config and history.
    {"report", "publish"},
    # The faces.
    {"cli", "preview", "web", "__main__", ""},
]


def module_name(path: Path) -> str:
    """``digest/delivery/smtp.py`` is ``delivery.smtp``; the package itself is ""."""
    name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    return "" if name == "__init__" else name.removesuffix(".__init__")


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    """The digest modules ``path`` imports, inside functions and for type checking too.

    A ``TYPE_CHECKING`` import counts: one that runs upward says the type lives on the wrong
    floor.
    """
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: a relative import ({ast.unparse(node)})"
            module = node.module or ""
            if module == "digest" or module.startswith("digest."):
                base = module.removeprefix("digest").removeprefix(".")
                for alias in node.names:
                    name = f"{base}.{alias.name}" if base else alias.name
                    found.add(name if name in MODULES else base)
        elif isinstance(node, ast.Import):
            found.update(
                alias.name.removeprefix("digest.")
                for alias in node.names
                if alias.name.startswith("digest.")
            )
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found - {module_name(path)}


def layer_of(module: str) -> int:
    part = module.split(".")[0]
    for index, layer in enumerate(LAYERS):
        if part in layer:
            return index
    raise AssertionError(f"digest.{module} belongs to no layer: add its part to LAYERS")


def test_every_module_imports_its_own_part_and_lower_layers_only() -> None:
    """The flat modules of the core (and the faces) may use each other; parts may not."""
    flat = {0, len(LAYERS) - 1}
    wrong = []
    for module, path in sorted(MODULES.items()):
        for imported in sorted(imports_of(path)):
            if imported.split(".")[0] == module.split(".")[0] or imported == "":
                continue
            if layer_of(imported) == layer_of(module) in flat:
                continue
            if layer_of(imported) >= layer_of(module):
                wrong.append(f"digest.{module or '__init__'} imports digest.{imported}")
    assert not wrong, "\n".join(wrong)


def test_the_import_graph_has_no_cycle_counting_imports_inside_functions() -> None:
    graph = {module: imports_of(path) for module, path in MODULES.items()}
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


def test_only_the_command_line_imports_click() -> None:
    users = [
        module
        for module, path in MODULES.items()
        if any(
            isinstance(node, ast.Import | ast.ImportFrom)
            and any(
                (getattr(node, "module", None) or alias.name).split(".")[0] == "click"
                for alias in node.names
            )
            for node in ast.walk(ast.parse(path.read_text()))
        )
    ]
    assert {module.split(".")[0] for module in users} == {"cli"}


def test_every_error_lives_in_errors() -> None:
    for module, path in MODULES.items():
        if module == "errors":
            continue
        tree = ast.parse(path.read_text())
        classes = [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
        assert not [name for name in classes if name.endswith("Error")], path.name


@pytest.mark.parametrize("old", ["config", "senders", "personal", "job", "providers"])
def test_the_module_paths_of_0_2_are_gone(old: str) -> None:
    """0.3 drops the old flat paths: importing one fails instead of warning."""
    with pytest.raises(ModuleNotFoundError, match=rf"digest\.{old}"):
        importlib.import_module(f"digest.{old}")


def test_the_new_paths_import_without_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for module in MODULES:
            if module != "__main__":  # it runs the command
                importlib.import_module(f"digest.{module}" if module else "digest")


def test_paths_may_be_strings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from digest import load_config, run_build
    from digest.feeds.data import load_data
    from digest.schedule.history import History

    from .helpers import EXAMPLES

    config = load_config(str(EXAMPLES / "riverside" / "newsletter.toml"))
    assert load_data([str(EXAMPLES / "riverside" / "articles.json")]).articles
    result = run_build(config, str(tmp_path / "out"), on=date(2026, 11, 30))
    assert all(path.exists() for path in result.files)
    with History(str(tmp_path / "h.sqlite3")) as history:
        assert history.editions() == []
