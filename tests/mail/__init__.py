"""Tests of digest.mail: the MIME writer, the edition's message, personalised copies."""
