"""Delivery: prepared messages to a mail server or a provider, each recipient in a ledger.

- ``senders``: the ``Sender`` interface (batches in, a ``Receipt`` per message out) and what
  every sender shares (threads, pace, retries);
- ``smtp``, ``ses``, ``postmark``, ``resend``: one module per provider, the HTTP APIs on the
  shared base in ``http``; ``providers.make_sender`` picks one from ``DeliverySettings``
  (``settings``); ``dkim`` signs what the SMTP sender sends;
- ``ledger``: every recipient's state per edition, in SQLite;
- ``loop``: ``run_delivery``, the one loop around a sender (suppressed readers left out);
- ``eml``: ``send_eml``, a built ``.eml`` to a list (each reader's signed link filled in);
- ``mailing``: ``Mailing``, personalised copies made and delivered (worker processes too).

Nothing here is imported by a build: ``import digest`` and ``digest build`` load no sender.
"""
