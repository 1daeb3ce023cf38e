"""The core and the feeds import nothing of the output side (the checks of a finished email)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "digest"


def digest_imports(path: Path) -> set[str]:
    """The ``digest.*`` modules a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("digest"):
            found.add(node.module or "")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("digest"))
    return found


@pytest.mark.parametrize("module", ["select.py", "feeds/pictures.py", "models.py", "edition.py"])
def test_the_core_and_the_feeds_do_not_import_the_checks(module: str) -> None:
    assert "digest.check" not in digest_imports(PACKAGE / module)


def test_one_answer_to_whether_a_size_is_a_tracking_pixel() -> None:
    from digest.pixels import PIXEL_SIZE, is_pixel_size
    from digest.select import has_picture

    assert is_pixel_size(PIXEL_SIZE, 600) and is_pixel_size(None, 1)
    assert not is_pixel_size(PIXEL_SIZE + 1, PIXEL_SIZE + 1) and not is_pixel_size(None, None)
    from digest import Article

    article = Article(
        title="t",
        url="https://example.org/a",
        published_at="2026-11-30T08:00:00Z",
        section="News",
        image_url="https://example.org/p.png",
        image_alt="A footbridge",
        image_width=1,
        image_height=1,
    )
    assert not has_picture(article)
    assert has_picture(article.model_copy(update={"image_width": 640, "image_height": 320}))
