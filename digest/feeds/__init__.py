"""Feeds: articles (and quotes) read from RSS, Atom, JSON Feed, CSV and JSON documents.

- ``sources``: ``Source`` (a file or a URL, and how to read it) and ``read_sources``;
- ``fetch``: URL sources within one deadline, http and https only, conditional GET;
- ``data``: JSON data files of articles and quotes;
- ``cleaning``: feed HTML made into clean summaries, clutter removed;
- ``pictures``: the picture of each story, tracking pixels left out;
- ``dates``: feed dates in many languages and forms.

Feeds build on the core models only.
"""
