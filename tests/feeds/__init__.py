"""Tests of digest.feeds: fetching, each source format, real feeds."""
