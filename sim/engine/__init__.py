"""The engine: one replication of a scenario as SimPy processes that book into a ledger.

Never imports pandas, experiments or reports; ``sim.experiments.tables`` turns its ledger into frames.
"""

ENGINE_VERSION = 1
"""Bumped whenever the engine's numbers change for the same scenario, seed and replication:
part of every result-cache key (``sim.experiments.cache``), so no older result is read back."""
