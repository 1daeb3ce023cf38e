"""What tests share besides fixtures: the examples, an article factory type and the command.

``run_digest`` runs the ``digest`` command in this process (click's entry point, with its own
error handling and exit statuses); ``run_command`` runs the installed command in a subprocess,
for the few tests of the real entry points.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from digest import Article, Digest, Newsletter, RenderOptions, build_digest, load_config
from digest.cli import main
from digest.feeds.data import load_data
from digest.models import nested_settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TESTS = ROOT / "tests"
#: Real inputs the tests read (feeds, provider schemas), each with its licence beside it.
FIXTURES = TESTS / "fixtures"
SCRIPT = shutil.which("digest", path=str(Path(sys.executable).parent))

ArticleFactory = Callable[..., Article]

#: The headers of every message digest writes, in order.
HEADER_NAMES = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
    "Feedback-ID",
    "X-Digest-Edition",
    "MIME-Version",
    "Content-Type",
]


@contextlib.contextmanager
def _environment(cwd: Path | None, env: dict[str, str] | None) -> Iterator[None]:
    saved_cwd, saved_env = Path.cwd(), dict(os.environ)
    try:
        if cwd is not None:
            os.chdir(cwd)
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def run_digest(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``digest ARGS`` in this process, as its entry point does; capture what it prints."""
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    with _environment(cwd, env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(arg) for arg in args])
        except SystemExit as exit:
            code = exit.code
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    return subprocess.CompletedProcess(
        ["digest", *map(str, args)], returncode, out.getvalue(), err.getvalue()
    )


def digest_command() -> list[str]:
    """The installed ``digest`` command, or ``python -m digest``."""
    return [SCRIPT] if SCRIPT else [sys.executable, "-m", "digest"]


def run_command(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``digest`` command (or ``python -m digest``) in a subprocess."""
    return subprocess.run(
        [*digest_command(), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env={**(env if env is not None else os.environ), "PYTHONWARNINGS": "error"},
    )


# The examples, each with the date and number their snapshots and screenshots are built for.
EXAMPLE_EDITIONS = {
    "tangerangnews": (datetime(2025, 9, 16).date(), 12),
    "riverside": (datetime(2026, 11, 30).date(), 48),
    # The riverside stories in a design of one's own (examples/own-design, adapted from MJML's).
    "own-design": (datetime(2026, 11, 30).date(), 48),
}
#: The examples built with the default templates (tests of that design's own details).
DEFAULT_DESIGN = ["riverside", "tangerangnews"]


def build_example(
    name: str,
    asset_base_url: str | None = None,
    inliner: str = "premailer",
    locale: str | None = None,
    edit: Callable[[list[Article]], list[Article]] | None = None,
    settings: dict[str, Any] | None = None,
) -> Digest:
    """Build one of the examples exactly as ``digest build`` does (another inliner or locale).

    ``edit`` changes the articles first (an editor's change before a rebuild); ``settings``
    change the newsletter's, by name.
    """
    config = load_config(EXAMPLES / name / "newsletter.toml")
    changes: dict[str, Any] = {"inliner": inliner, **(settings or {})}
    if locale is not None:
        changes["locale"] = locale
    config = config.model_copy(update={"newsletter": changed(config.newsletter, **changes)})
    data = load_data(config.data, config.newsletter)
    on, number = EXAMPLE_EDITIONS[name]
    options = RenderOptions(template_dir=config.templates, asset_base_url=asset_base_url)
    articles = list(data.articles) if edit is None else edit(list(data.articles))
    return build_digest(
        articles,
        config.newsletter,
        on,
        quotes=data.quotes,
        number=number,
        options=options,
        # A local preview's pictures are file: URLs, which the checks rightly refuse to send.
        check=asset_base_url is None,
    )


def changed(newsletter: Newsletter, **settings: Any) -> Newsletter:
    """``newsletter`` with settings changed by name, each in its own table (as model_copy)."""
    updates: dict[str, Any] = {}
    for key, value in nested_settings(settings).items():
        part = getattr(newsletter, key)
        updates[key] = (
            part.model_copy(update=value)
            if isinstance(value, dict) and hasattr(part, "model_copy")
            else value
        )
    return newsletter.model_copy(update=updates)


def validated_with(newsletter: Newsletter, **settings: Any) -> Newsletter:
    """``newsletter`` with settings changed by name and validated again."""
    data = newsletter.model_dump()
    for key, value in nested_settings(settings).items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and key in data else value
    return Newsletter.model_validate(data)


class Serving:
    """A running ``digest serve``: its base URL, and what it printed once it stopped."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.out = ""
        self.err = ""


@contextlib.contextmanager
def digest_serve(
    config: str | Path, env: dict[str, str], cwd: Path | None = None
) -> Iterator[Serving]:
    """``digest serve`` on a free port, yielded once ``/health`` answers; Ctrl+C stops it (exit 0)."""
    import signal
    import time
    import urllib.request

    from .mailservers import free_port

    port = free_port()
    process = subprocess.Popen(
        [*digest_command(), "serve", "--config", str(config), "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    serving = Serving(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{serving.base}/health", timeout=2) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "digest serve did not answer"
                time.sleep(0.1)
        yield serving
    finally:
        process.send_signal(signal.SIGINT)
        serving.out, serving.err = process.communicate(timeout=20)
    assert process.returncode == 0, serving.err
