"""Run the ``digest`` command: ``python -m digest``."""

from .cli import main

main()
