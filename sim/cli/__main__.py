"""``python -m sim.cli``: the ``revsim`` command."""

from sim.cli import main

main()
