"""Write docs/configuration.md, the reference of every config key, from the models themselves.

Each key's type and default come from the pydantic model, its sentence from the ``#:`` comment
above the field in the source, so the reference cannot drift from the code. A field without
such a comment is an error: document it where it is defined.

    python scripts/config_reference.py          # rewrite docs/configuration.md
    python scripts/config_reference.py --check  # exit 1 if it is not up to date
"""

from __future__ import annotations

import argparse
import ast
import inspect
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "configuration.md"

HEAD = """# Configuration reference

A newsletter's config is one TOML file; `digest init` writes a commented one. Relative paths
are taken from the real folder of the config file (symlinks resolved), whatever folder a command
runs from, and absolute paths are kept as written: every command of one config uses the same
history, send ledger and suppression list. This page is generated from the models
(`python scripts/config_reference.py`), so every key, type and default here is the code's own;
a test fails when it is out of date.

"""


def comments_of(model: type[BaseModel]) -> dict[str, str]:
    """The ``#:`` comments above each field of ``model``'s class body, joined into sentences."""
    found: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        try:
            source = inspect.getsource(cls)
        except (OSError, TypeError):
            continue
        lines = source.splitlines()
        tree = ast.parse(inspect.cleandoc(source) if source.startswith(" ") else source)
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node in body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                above = []
                index = node.lineno - 2
                while index >= 0 and lines[index].strip().startswith("#:"):
                    above.insert(0, lines[index].strip().removeprefix("#:").strip())
                    index -= 1
                if above:
                    found[node.target.id] = " ".join(above)
    return found


def type_name(annotation: Any) -> str:
    """A short, readable name of a field's type."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return type_name(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(annotation))
    if origin is typing.Literal:
        return " or ".join(repr(a).replace("'", '"') for a in typing.get_args(annotation))
    if origin in (list, tuple, set, frozenset):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"table of {type_name(typing.get_args(annotation)[1])}"
    if annotation is type(None):
        return "none"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return {
        "str": "text",
        "int": "integer",
        "float": "number",
        "bool": "true or false",
        "Path": "path",
        "time": "time (HH:MM)",
    }.get(getattr(annotation, "__name__", ""), str(annotation))


def default_of(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "**required**"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(a table)"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def models() -> list[tuple[str, type[BaseModel]]]:
    """Every table of the config, in the order a reader meets them, with its TOML place."""
    from digest.delivery import settings as delivery
    from digest.delivery.abtest import SubjectTestSettings
    from digest.feeds.sources import Source
    from digest.mail.tracking import TrackingSettings
    from digest.models import (
        Brand,
        Cadence,
        Contact,
        Layout,
        Link,
        Links,
        Logo,
        Newsletter,
        Schedule,
        SectionSpec,
        Sender,
        Theme,
        Tracking,
    )
    from digest.schedule.config import (
        BuildConfig,
        DeskConfig,
        NetworkConfig,
        ReadersConfig,
        SuppressionConfig,
        WebConfig,
    )
    from digest.settings import (
        BrevoSettings,
        ButtondownSettings,
        KitSettings,
        ListmonkSettings,
        MailchimpSettings,
        PublishSettings,
    )
    from digest.store import StoreSettings

    return [
        ("(the top of the file)", BuildConfig),
        ("[newsletter]", Newsletter),
        ("[newsletter.sender]", Sender),
        ("[newsletter.contact]", Contact),
        ("[newsletter.brand]", Brand),
        ("[newsletter.brand.theme]", Theme),
        ("[newsletter.brand.logo]", Logo),
        ("[[newsletter.brand.social]]", Link),
        ("[newsletter.schedule]", Schedule),
        ("[newsletter.schedule.cadence]", Cadence),
        ("[newsletter.layout]", Layout),
        ("[[newsletter.layout.sections]]", SectionSpec),
        ("[newsletter.links]", Links),
        ("[newsletter.links.tracking]", Tracking),
        ("[[sources]]", Source),
        ("[delivery]", delivery.DeliverySettings),
        ("[delivery.smtp]", delivery.SmtpSettings),
        ("[delivery.smtp.dkim]", delivery.DkimSettings),
        ("[delivery.ses]", delivery.SesSettings),
        ("[delivery.postmark]", delivery.PostmarkSettings),
        ("[delivery.resend]", delivery.ResendSettings),
        ("[delivery.warmup]", delivery.WarmupSettings),
        ("[delivery.subject_test]", SubjectTestSettings),
        ("[delivery.guard]", delivery.GuardSettings),
        ("[suppression]", SuppressionConfig),
        ("[readers]", ReadersConfig),
        ("[web]", WebConfig),
        ("[tracking]", TrackingSettings),
        ("[desk]", DeskConfig),
        ("[network]", NetworkConfig),
        ("[publish]", PublishSettings),
        ("[publish.mailchimp]", MailchimpSettings),
        ("[publish.listmonk]", ListmonkSettings),
        ("[publish.buttondown]", ButtondownSettings),
        ("[publish.brevo]", BrevoSettings),
        ("[publish.kit]", KitSettings),
        ("[store]", StoreSettings),
    ]


def _cell(text: str) -> str:
    """A sentence for a Markdown table cell: ``code`` as `code`, pipes escaped."""
    return re.sub(r"``(.+?)``", r"`\1`", text).replace("|", "\\|")


def reference() -> str:
    out = [HEAD]
    missing = []
    for place, model in models():
        notes = comments_of(model)
        doc = _cell((model.__doc__ or "").strip().splitlines()[0])
        out.append(f"## {model.__name__}\n\n`{place}`: {doc}\n\n")
        out.append("| key | type | default | what it is |\n| --- | --- | --- | --- |\n")
        for name, field in model.model_fields.items():
            sentence = field.description or notes.get(name)
            if not sentence:
                missing.append(f"{model.__name__}.{name}")
                sentence = ""
            out.append(
                f"| `{name}` | {type_name(field.annotation)} | {default_of(field)} "
                f"| {_cell(sentence)} |\n"
            )
        out.append("\n")
    if missing:
        raise SystemExit("fields without a #: comment: " + ", ".join(missing))
    return "".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args()
    text = reference()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            sys.exit(f"{TARGET} is out of date: run python scripts/config_reference.py")
        return
    TARGET.write_text(text)
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
