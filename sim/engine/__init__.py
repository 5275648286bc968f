"""The engine: one replication of a scenario as SimPy processes that book into a ledger.

Never imports pandas, experiments or reports; ``sim.experiments.tables`` turns its ledger into frames.
"""

# The engine's version: bumped whenever the same scenario, seed and replication may give other
# numbers (a result cache keys on it). 2: the account lifecycle left the SimPy event loop
# (``sim.engine.customers``): same rules and streams, tables equal to version 1's up to the
# order of floating-point sums and of events at the very same instant. 3: a deal's negotiation
# draws (signal noise, pull-forward, slip, walk, the rep's concession) are drawn in bulk with
# its opportunity, one stream per kind (``sim.engine.deals.draw_deals``), instead of on a
# ``random.Random`` seeded per deal: other numbers, the same distributions
# (tests/engine/test_deal_draws_equivalence.py).
ENGINE_VERSION = 3
