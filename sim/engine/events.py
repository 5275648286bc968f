"""The event log: one flat record per thing that happened, so any figure can be traced.

Off by default (it costs memory and time); ``simulate(..., events=True)`` turns it on.
``sim.experiments.tables.events_table`` turns it into a frame.
"""

from __future__ import annotations

from typing import NamedTuple


class Event(NamedTuple):
    time_days: float
    account: int  # -1 for a lead or an opportunity
    kind: str
    segment: str
    channel: str
    amount_usd: float
    note: str


class EventLog:
    """Append-only list of ``Event`` records."""

    columns = Event._fields

    def __init__(self) -> None:
        self.records: list[Event] = []

    def add(self, t, account, kind, segment, channel, amount, note) -> None:
        self.records.append(Event(t, account, kind, segment, channel, amount, note))
