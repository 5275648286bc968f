"""The event log: one flat record per thing that happened, so any figure can be traced.

Off by default (it costs memory and time); ``simulate(..., events=True)`` turns it on.
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from sim.ledger import MONTH_DAYS


class Event(NamedTuple):
    time_days: float
    account: int
    kind: str
    segment: str
    channel: str
    amount_usd: float
    note: str


class EventLog:
    """Append-only list of ``Event`` records."""

    def __init__(self) -> None:
        self.records: list[Event] = []

    def add(self, t, account, kind, segment, channel, amount, note) -> None:
        self.records.append(Event(t, account, kind, segment, channel, amount, note))

    def frame(self, horizon_days: float) -> pd.DataFrame:
        df = pd.DataFrame(self.records, columns=Event._fields)
        df = df[df["time_days"] < horizon_days].reset_index(drop=True)
        df.insert(1, "month", (df["time_days"] // MONTH_DAYS).astype(int) + 1)
        return df
