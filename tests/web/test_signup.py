"""Sign-up: ``digest serve --form`` prints a form a page can embed."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from ..helpers import EXAMPLES, run_digest


class _Form(HTMLParser):
    """The tags of a printed form, with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


@pytest.mark.parametrize(
    ("example", "action"),
    [
        ("riverside", "https://riverside.example/subscribe"),
        ("tangerangnews", "https://tangerangnews.example/subscribe"),
        ("own-design", "https://riverside.example/subscribe"),
    ],
)
def test_serve_form_prints_an_embeddable_form(example: str, action: str) -> None:
    result = run_digest("serve", "--config", EXAMPLES / example / "newsletter.toml", "--form")
    assert result.returncode == 0, result.stderr
    parser = _Form()
    parser.feed(result.stdout)
    tags = parser.tags
    form = [attrs for tag, attrs in tags if tag == "form"]
    assert form == [{"class": "digest-signup", "method": "post", "action": action}]
    inputs = {attrs["name"]: attrs for tag, attrs in tags if tag == "input"}
    assert inputs["address"]["type"] == "email"
    assert inputs["address"]["autocomplete"] == "email"
    assert "required" in inputs["address"]
    assert inputs["website"]["tabindex"] == "-1"
    hidden = [attrs for tag, attrs in tags if tag == "div"]
    assert hidden and hidden[0]["aria-hidden"] == "true" and "hidden" in hidden[0]
    labels = {attrs["for"] for tag, attrs in tags if tag == "label"}
    assert labels == {f"digest-{name}" for name in inputs}
    assert result.stdout.count("<button") == 1


def test_serve_form_with_a_missing_config_fails(tmp_path: Path) -> None:
    result = run_digest("serve", "--config", tmp_path / "missing.toml", "--form")
    assert result.returncode != 0
    assert "missing.toml" in result.stderr
