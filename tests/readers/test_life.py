"""The whole life of a list: sign-up, confirmation, an import, choices, a pause, leaving twice.

Through the real app under uvicorn and ``digest`` commands, with aiosmtpd as the SMTP server
and DKIM on: every confirmation mail and every copy of the edition verifies with dkimpy, and
the send reaches exactly the readers who may be mailed, each with the sections they chose and
a link to their own preferences page.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from ..helpers import run_digest
from ..web.test_signup import ENV, FORM, SignUpWorld, link_of

EXPORTS = Path(__file__).parent.parent / "fixtures" / "exports"
#: A Mailchimp audience's three export files: each row keeps the file's status.
MAILCHIMP = {
    status: EXPORTS / f"mailchimp_{status}_members_export.csv"
    for status in ("subscribed", "unsubscribed", "cleaned")
}


#: The Riverside edition's sections, by their labels.
SECTIONS = ("Around town", "Business", "What's on")


def confirm(world: SignUpWorld, path: str) -> bytes:
    status, page = world.server.request(path, b"confirm=1", FORM)
    assert status == 200, page
    return page


def wait_for(world: SignUpWorld, count: int) -> None:
    deadline = time.monotonic() + 15
    while len(world.inbox.received) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(world.inbox.received) >= count


def test_a_list_lives_and_the_send_reaches_exactly_who_may_be_mailed(tmp_path: Path) -> None:
    world = SignUpWorld(tmp_path)
    assert world.key is not None
    config = tmp_path / "newsletter.toml"
    try:
        # Three sign up through the form; Cy never confirms.
        for n, address in enumerate(["ana@example.org", "bo@example.org", "cy@example.org"]):
            fields = {"address": address, "website": "", "section": ["town", "culture"]}
            status, _ = world.sign_up(fields, ip=f"192.0.2.{n + 1}")
            assert status == 202
        wait_for(world, 3)
        links = {
            rcpts[0]: urlsplit(link_of(world.parsed(raw))).path
            for _, rcpts, raw in world.inbox.received
        }
        assert all(world.key.verify(raw) for _, _, raw in world.inbox.received)
        for address in ("ana@example.org", "bo@example.org"):
            assert b"You are subscribed" in confirm(world, links[address])

        # A Mailchimp audience of three files comes over, each keeping its statuses.
        for file in MAILCHIMP.values():
            imported = run_digest("readers", "import", "--config", config, file, env=ENV)
            assert imported.returncode == 0, imported.stderr
        with world.store() as store:
            moved = {r.address.lower(): r.status for r in store.readers()}
        came_over = {a for a, s in moved.items() if a not in links and s == "subscribed"}
        assert came_over, moved

        # Ana keeps only what's on; Bo pauses for the next edition.
        tokens = world.settings.tokens
        assert tokens is not None
        for address, fields in (
            ("ana@example.org", [("section", "culture"), ("timezone", "Europe/London")]),
            ("bo@example.org", [("section", "town"), ("section", "business"),
                                ("section", "culture"), ("pause", "1"),
                                ("timezone", "Europe/London")]),
        ):  # fmt: skip
            status, page = world.server.request(
                f"/preferences/{tokens.token(address)}", urlencode(fields).encode(), FORM
            )
            assert status == 200 and b"Your choices are saved." in page, page

        # Ana leaves, comes back through the form, and leaves again: the last word counts.
        unsubscribe = f"/unsubscribe/{tokens.token('ana@example.org')}"
        assert world.server.request(unsubscribe, b"confirm=1", FORM)[0] == 200
        world.now[0] += 3601  # a second confirmation mail to her, an hour later
        assert world.sign_up({"address": "ana@example.org", "website": ""}, ip="192.0.2.9")[0]
        wait_for(world, 4)
        again = world.parsed(world.inbox.received[-1][2])
        assert b"You are subscribed" in confirm(world, urlsplit(link_of(again)).path)
        with world.store() as store:
            assert store.status("ana@example.org") == "subscribed"
            assert store.get("ana@example.org").sections == ("culture",)  # type: ignore[union-attr]
        assert world.server.request(unsubscribe, b"confirm=1", FORM)[0] == 200

        with world.store() as store:
            statuses = {r.address.lower(): r.status for r in store.readers()}
        assert statuses["ana@example.org"] == "unsubscribed"
        assert statuses["bo@example.org"] == "paused"
        assert "cy@example.org" not in statuses  # nothing is kept before a confirmation
        expected = sorted(a for a, s in statuses.items() if s == "subscribed")
        assert expected == sorted(came_over)

        # One who came over chooses the town's news only, on the page every copy links to.
        chooser = expected[0]
        status, page = world.server.request(
            f"/preferences/{tokens.token(chooser)}", b"section=town", FORM
        )
        assert status == 200 and b"Your choices are saved." in page, page
        contact = "[newsletter.contact]\n"
        config.write_text(
            config.read_text().replace(
                contact,
                contact + 'preferences_url = "https://riverside.example/preferences/{token}"\n',
            )
        )

        # The edition goes to exactly them, each copy signed.
        out = tmp_path / "out"
        built = run_digest("build", "--config", config, "--date", "2026-11-30", "--out", out)
        assert built.returncode == 0, built.stderr
        (eml,) = out.glob("*.eml")
        before = len(world.inbox.received)
        sent = run_digest("send", "--allow-placeholder-links", "--config", config, eml, env=ENV)
        assert sent.returncode == 0, sent.stderr
        edition = world.inbox.received[before:]
        assert sorted(r[1][0].lower() for r in edition) == expected
        assert all(world.key.verify(raw) for _, _, raw in edition)
        for _, (address,), raw in edition:
            text = world.parsed(raw).get_body(("plain",))
            assert text is not None
            words = text.get_content()
            chosen = ("Around town",) if address.lower() == chooser else SECTIONS
            assert [label for label in SECTIONS if label.upper() in words] == list(chosen)
            page = f"https://riverside.example/preferences/{tokens.token(address)}"
            assert page in words, address
    finally:
        world.close()
