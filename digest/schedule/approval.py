"""The editor's approval of an edition, as a send to readers asks for it.

With ``[desk] approval = true``, an edition goes to readers only when someone approved it (at
the desk, or with ``digest approve``) and it has not changed since: its subject, HTML and text
hash to what was approved (``digest.schedule.history.content_hashes``).
"""

from __future__ import annotations

from digest.errors import ConfigError
from digest.mail.message import edition_key_date
from digest.mail.mime import read_message
from digest.schedule.config import BuildConfig, history_kept, history_store
from digest.schedule.history import History, content_hashes

__all__ = ["check_approval"]


def check_approval(config: BuildConfig, raw: bytes, name: str) -> None:
    """Refuse the message ``raw`` (the file ``name``) if nobody approved it, or it changed since."""
    message = read_message(raw)
    on = edition_key_date(message.headers.get("X-Digest-Edition", ""))
    where = history_store(config)
    if on is None or where is None or not history_kept(where):
        raise ConfigError(f"{name}: approval = true, and nothing says it was approved")
    with History(where) as history:
        approval = history.approval(on)
    if approval is None:
        raise ConfigError(
            f"{name}: the edition of {on} is not approved (approval = true): approve it in "
            f"digest desk, or with digest approve --config ... --date {on}"
        )
    changed = approval.changed(
        content_hashes(message.headers.get("Subject", ""), message.html, message.text)
    )
    if changed:
        raise ConfigError(
            f"{name}: the edition of {on} changed after {approval.approver} approved it "
            f"at {approval.approved_at}: {', '.join(changed)}; look at it again and approve it"
        )
