"""Tests of digest.schedule: weekly builds, history, the all-or-nothing commit."""
