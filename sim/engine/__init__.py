"""The engine: one replication of a scenario as SimPy processes that book into a ledger.

Never imports pandas, experiments or reports; ``sim.experiments.tables`` turns its ledger into frames.
"""
