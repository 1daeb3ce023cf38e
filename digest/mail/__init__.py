"""Mail: the one MIME writer, the edition's message, and personalised copies for readers.

- ``mime``: every header of every message, written from validated values, and the parts;
- ``message``: the edition's single message (headers, ``List-Unsubscribe``, bytes);
- ``copies``: ``Copies``, each reader's own message, made from pre-rendered variants
  (``reader_copies``: from a variant to each reader's bytes, over worker processes);
- ``readers``: readers from any iterable (a CSV file, a cursor), validated in bulk.
"""
