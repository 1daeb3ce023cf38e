import types

import pytest

import digest


def test_the_public_api_fits_on_a_card() -> None:
    # The pipeline, its inputs and outputs, the scheduled build, and every error; the rest
    # lives in the module named for what it does.
    assert digest.__all__ == [
        "Article", "CheckError", "ConfigError", "Digest", "DigestError", "Edition",
        "EmptyEditionError", "InputError", "Mailing", "Newsletter", "NothingNewError", "Quote",
        "Reader", "RenderError", "RenderOptions", "Renderer", "SendError", "SourceError",
        "TemplateError", "build_digest", "check_html", "email_bytes", "email_message",
        "esp_fields", "load_config", "reader_messages", "run_build", "select_edition",
    ]  # fmt: skip


def test_all_is_exactly_the_public_surface() -> None:
    """Counted in a fresh interpreter: what earlier tests imported cannot add or hide a name."""
    import subprocess
    import sys

    code = (
        "import types, digest; public = {n for n in dir(digest) if not n.startswith('_')};"
        " print(sorted(n for n in public"
        " if not isinstance(getattr(digest, n), types.ModuleType)))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert shown == repr(digest.__all__)
    assert digest.__all__ == sorted(digest.__all__)
    # In this process too, whatever ran before: submodules are the only names beyond __all__.
    extra = {n for n in dir(digest) if not n.startswith("_")} - set(digest.__all__)
    assert all(isinstance(getattr(digest, n), types.ModuleType) for n in extra), extra


def test_every_public_name_has_a_docstring() -> None:
    for name in digest.__all__:
        assert getattr(digest, name).__doc__, name


def test_every_error_derives_from_digest_error() -> None:
    errors = [getattr(digest, n) for n in digest.__all__ if n.endswith("Error")]
    assert len(errors) == 10
    for error in errors:
        assert issubclass(error, digest.DigestError)


def test_importing_digest_loads_no_stage_until_a_name_is_used() -> None:
    """The names load on first use: ``import digest`` (and a build) stays light."""
    import subprocess
    import sys

    code = (
        "import sys, digest; heavy = {'digest.mail.copies', 'digest.delivery.providers',"
        " 'digest.delivery.senders', 'digest.delivery.smtp',"
        " 'feedparser', 'premailer', 'boto3', 'http.server'};"
        " print(sorted(heavy & set(sys.modules)))"
    )
    assert (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "[]"
    )
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        digest.nothing  # noqa: B018
