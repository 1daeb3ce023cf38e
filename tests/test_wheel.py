"""The built wheel carries the templates and builds the example from another folder."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .helpers import EXAMPLES, ROOT, run_command, run_digest


def digest_version() -> str:
    from digest import __version__

    return __version__


pytestmark = pytest.mark.slow


def test_installed_wheel_builds_the_example_elsewhere(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("newsletter_digest-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "digest/templates/edition.mjml.j2",
        "digest/templates/edition.txt.j2",
        "digest/py.typed",
        "digest/data/caniemail.json",
        "digest/data/caniemail-LICENSE",
    } <= names
    # Every language's compiled catalog ships; the .po sources stay in the sdist.
    catalogs = {name for name in names if name.endswith("/LC_MESSAGES/digest.mo")}
    assert len(catalogs) == 13 and "digest/locales/zh_Hant/LC_MESSAGES/digest.mo" in catalogs, (
        sorted(catalogs)
    )

    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import digest.render as r; print(r.__file__); print(r.default_template_dir())",
        ],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
        check=True,
    ).stdout.split()
    assert where[0].startswith(str(target))
    assert where[1] == str(target / "digest" / "templates")
    version = subprocess.run(
        [sys.executable, "-m", "digest", "--version"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
        timeout=60,
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"digest, version {digest_version()}"

    seed = EXAMPLES / "tangerangnews" / "newsletter.toml"
    result = run_digest(
        "build", "--config", seed, "--date", "2025-09-16", "--out", "out", cwd=elsewhere, env=env
    )
    assert result.returncode == 0, result.stderr
    html = (elsewhere / "out" / "edition-2025-09-16.html").read_text()
    assert 'lang="id"' in html and "Baca selengkapnya" in html and "PROPERTI" in html
    checked = run_digest("check", "out/edition-2025-09-16.html", cwd=elsewhere, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 errors, 0 warnings" in checked.stdout


def test_the_version_of_the_installed_command() -> None:
    """``digest --version`` through the entry point this checkout installs (editable)."""
    result = run_command("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"digest, version {digest_version()}"
