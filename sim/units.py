"""Units, channels and the small closed vocabularies the engine and the tables share.

Imports nothing, so every module can use it without pulling in the engine or the ledger.
"""

from __future__ import annotations

from enum import IntEnum

YEAR_DAYS = 365.25
MONTH_DAYS = YEAR_DAYS / 12  # month m covers days [(m-1)*MONTH_DAYS, m*MONTH_DAYS)


class Channel(IntEnum):
    """Where a customer came from; the value is the channel's index in the ledger."""

    INBOUND = 0
    OUTBOUND = 1
    PARTNER = 2
    INSTALLED_BASE = 3


CHANNELS = tuple(c.name.lower() for c in Channel)  # ("inbound", ..., "installed_base")
LEAD_CHANNELS = (Channel.INBOUND, Channel.OUTBOUND, Channel.PARTNER)  # channels that make leads


class LifeEvent(IntEnum):
    """The next thing that happens to an account (its lifecycle loop waits for the earliest)."""

    TERM_END = 0  # renewal or churn
    EXPANSION = 1
    ANNUAL_INVOICE = 2
    PARTNER_WINDOW_END = 3  # the partner's commission window closes


class ArrChange(IntEnum):
    """Kinds of ARR movement on an existing account."""

    EXPANSION = 1
    CONTRACTION = 2
    CHURN = 3


class CohortMeasure(IntEnum):
    """The last axis of the ledger's cohort array."""

    NEW_ARR = 0
    EXPANSION_ARR = 1
    CONTRACTION_ARR = 2
    CHURNED_ARR = 3
    CHURNED_CUSTOMERS = 4
    NEW_CUSTOMERS = 5
