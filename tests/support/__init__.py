"""Helpers shared by the test modules: the ``revsim`` command in-process (:mod:`support.cli`)
or as the installed console script, and folder snapshots."""
