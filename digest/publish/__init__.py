"""Publishing: an edition handed to a list manager (Mailchimp, listmonk...) as a campaign.

- ``base``: ``Publisher``, the shared base of the tools (HTTP, retries, errors), and the
  ``Content`` and ``Campaign`` it passes;
- ``merge``: each tool's merge language, and ``merge_edition``, the edition written in it;
- ``mailchimp``, ``listmonk``...: one module a tool; ``tools``: which exist (``TOOLS``);
- ``publishing``: ``publish``, once per edition, its campaign kept in the history.
"""

from __future__ import annotations

import typing as _typing

from digest.lazy import lazy_names as _lazy_names

if _typing.TYPE_CHECKING:
    from digest.publish.base import Campaign as Campaign
    from digest.publish.base import Content as Content
    from digest.publish.base import Publisher as Publisher
    from digest.publish.merge import MergeLanguage as MergeLanguage
    from digest.publish.merge import merge_edition as merge_edition
    from digest.publish.publishing import PublishResult as PublishResult
    from digest.publish.publishing import publish as publish
    from digest.publish.tools import TOOLS as TOOLS
    from digest.publish.tools import publisher_for as publisher_for

__all__ = [
    "TOOLS",
    "Campaign",
    "Content",
    "MergeLanguage",
    "PublishResult",
    "Publisher",
    "merge_edition",
    "publish",
    "publisher_for",
]

# Imported when first used (PEP 562): a tool's module imports only the base it needs.
_LAZY = {
    "Campaign": "base",
    "Content": "base",
    "Publisher": "base",
    "MergeLanguage": "merge",
    "merge_edition": "merge",
    "PublishResult": "publishing",
    "publish": "publishing",
    "TOOLS": "tools",
    "publisher_for": "tools",
}


__getattr__ = _lazy_names(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    """The public names, with the module's own."""
    return sorted({*globals(), *__all__})
