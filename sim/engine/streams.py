"""Named random streams: one per purpose, from ``SeedSequence([seed, replication])``.

Two scenarios run with the same seed and replication get the same stream for the same
purpose (common random numbers), so their difference is the lever's effect, not noise.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np

# Stream names of AE prospecting (``sim.engine.demand.Demand``): the month's count of
# self-sourced opportunities per segment, then their arrival times and draws, each under
# this prefix (``warmup/`` before it in the pipeline warm-up). Their own names, so turning
# prospecting on or off moves no other draw.
PROSPECTING = "prospecting/"


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


class Streams:
    """Factory of independent, reproducible streams named by purpose."""

    def __init__(self, seed: int, replication: int):
        if seed < 0 or replication < 0:
            raise ValueError("seed and replication must be >= 0")
        self.seed = int(seed)
        self.replication = int(replication)

    def _seq(self, name: str) -> np.random.SeedSequence:
        return np.random.SeedSequence([self.seed, self.replication], spawn_key=(_key(name),))

    def numpy(self, name: str) -> np.random.Generator:
        """A numpy generator for bulk draws (lead counts, arrival times)."""
        return np.random.default_rng(self._seq(name))

    def python(self, name: str) -> random.Random:
        """A ``random.Random`` for cheap scalar draws inside processes."""
        state = self._seq(name).generate_state(2, dtype=np.uint64)
        return random.Random(int(state[0]) << 64 | int(state[1]))
