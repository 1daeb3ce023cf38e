"""Run the ``digest`` command: ``python -m digest``."""

from digest.cli import main

main()
