"""Tests of digest.delivery: senders against real servers and stand-ins, the ledger, mailings."""
