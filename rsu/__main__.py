"""``python -m rsu`` is the ``rsu`` command."""

from rsu.cli import main

main()
