"""What every engine part receives: the SimPy environment, the scenario, the ledger, the
event log and the named random streams of one replication."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import simpy

from sim.engine.events import EventLog
from sim.engine.ledger import Ledger
from sim.engine.streams import Streams
from sim.units import CHANNELS, MONTH_DAYS

if TYPE_CHECKING:  # pragma: no cover
    from sim.scenario.model import Scenario, Segment, SegmentPrice


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it schedules (the engine's work measure).
    It starts before day 0 when the pipeline is warmed up (``Scenario.opening``).

    The count is read off SimPy's own event-id counter (every scheduled event takes the
    next id) rather than by overriding ``schedule``: the override cost ~6% of a run."""

    @property
    def events_scheduled(self) -> int:
        return next(copy.copy(self._eid))


@dataclass
class Context:
    """One replication's shared handles. Segments are referred to by index everywhere."""

    scenario: Scenario
    seed: int = 0
    replication: int = 0
    record_events: bool = False
    env: CountingEnvironment = field(init=False)
    streams: Streams = field(init=False)
    ledger: Ledger = field(init=False)
    log: EventLog | None = field(init=False)
    seg_names: list[str] = field(init=False)
    segments: list[Segment] = field(init=False)
    prices: list[SegmentPrice] = field(init=False)
    warm_up_months: int = field(init=False)

    def __post_init__(self) -> None:
        s = self.scenario
        opening = s.opening
        warm_up = opening.pipeline_warm_up_months if opening.pipeline == "steady_state" else 0
        self.warm_up_months = warm_up
        self.env = CountingEnvironment(-warm_up * MONTH_DAYS)
        self.streams = Streams(self.seed, self.replication)
        self.seg_names = list(s.segments)
        self.segments = [s.segments[name] for name in self.seg_names]
        self.prices = [s.pricing.segments[name] for name in self.seg_names]
        self.ledger = Ledger(s.horizon_months, self.seg_names, list(s.sales.teams))
        self.log = EventLog() if self.record_events else None

    def note(self, t: float, account: int, kind: str, seg: int, ch: int, amount: float = 0.0,
             note: str = "") -> None:
        """Add an event to the log, if there is one (segment and channel by index); nothing
        before day 0 (the pipeline warm-up) is logged."""
        if self.log is not None and t >= 0:
            self.log.add(t, account, kind, self.seg_names[seg], CHANNELS[ch], amount, note)
