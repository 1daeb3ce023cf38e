"""Feeds: articles (and quotes) read from RSS, Atom, JSON Feed, CSV and JSON documents.

- ``source``: ``Source`` (a file or a URL, and how to read it);
- ``sources``: ``read_sources``, every format's items made into articles in one place;
- ``formats``: one module per format (``feed`` for RSS, RDF and Atom; ``jsonfeed``; ``csv``),
  chosen by the table ``formats.FORMATS``;
- ``item``: ``FeedItem``, the one typed item every format reads into;
- ``fetch``: URL sources within one deadline, http and https only, conditional GET, over
  ``network``'s one opener (public addresses only, the socket watch);
- ``data``: JSON data files of articles and quotes;
- ``cleaning``: feed HTML made into clean summaries; ``trimming``: clutter, trailers and the
  cut at a length;
- ``pictures``: the picture of each story, tracking pixels left out;
- ``dates``: feed dates in many languages and forms.

Feeds build on the core models only.
"""
