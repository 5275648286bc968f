"""The monthly ledger: accumulates what the engine's parts book into monthly arrays.

Two kinds of bookkeeping:

* **flows** happen at an instant (a booking, an invoice, a payment) and land in the month
  of their time;
* **levels** hold between events (ARR, customers, AEs busy) and are integrated over time, so
  revenue is recognised ratably: a constant ARR gives exactly ARR/12 a month.

Monthly convention: month m covers days [(m-1)*L, m*L) with L = 365.25/12 days. An event at
exactly m*L belongs to month m+1; "end of month m" values are the state just before m*L.
"""

from __future__ import annotations

import numpy as np

from sim.units import CHANNELS, MONTH_DAYS, CohortMeasure

# Flows recorded per (month, segment, channel).
FLOW_COLUMNS = (
    "new_customers", "churned_customers", "new_arr", "expansion_arr", "contraction_arr",
    "churned_arr", "annual_billings", "cash_collected", "sales_commission", "leads",
    "opportunities", "deals_won", "deals_lost", "deals_lost_price", "leads_lost_waiting",
    "list_arr_won", "discount_usd", "sales_cycle_days_sum", "ae_busy_days", "onboarding_busy_days",
    "new_unit_arr", "new_unit_deals", "programme_cost",
    # the pocket-price waterfall of won deals (discount_usd = term + rep + quarter-end, the
    # quarter-end share being min(extra, negotiated discount)), the discount given beyond the
    # buyer's need, pulled deals that slipped, and counter rounds of all closed deals
    # (sim.engine.pricing.negotiate)
    "term_discount_usd", "rep_discount_usd", "quarter_end_discount_usd", "price_leak_usd",
    "deals_slipped", "negotiation_rounds_sum",
    # opportunities the AEs sourced themselves (booked under outbound, and counted in
    # "opportunities" too; sim.engine.sales.SalesTeam.prospecting)
    "opportunities_self_sourced",
    # the part of expansion_arr that is a price step at renewal (the escalator, and an
    # installed account's step toward a new list), not more seats (sim.engine.retention)
    "repricing_arr",
)
# Levels integrated per (segment, channel).
LEVEL_COLUMNS = ("arr", "customers", "monthly_billed_arr", "partner_window_arr")


class Level:
    """A piecewise-constant quantity; integrates itself over months and keeps month-end values."""

    __slots__ = ("value", "last_t", "integral", "end", "horizon")

    def __init__(self, horizon: int, value: float = 0.0):
        self.value = value
        self.last_t = 0.0
        self.horizon = horizon
        # plain lists: item updates on a list are several times cheaper than on numpy
        self.integral = [0.0] * horizon
        self.end = [0.0] * horizon

    def advance(self, t: float) -> None:
        last = self.last_t
        if t <= last:
            return
        v = self.value
        m = int(last / MONTH_DAYS)
        if t < (m + 1) * MONTH_DAYS:  # the common case: still in the same month
            self.integral[m] += v * (t - last)
            self.last_t = t
            return
        while m < self.horizon:
            boundary = (m + 1) * MONTH_DAYS
            if t < boundary:
                self.integral[m] += v * (t - last)
                break
            self.integral[m] += v * (boundary - last)
            self.end[m] = v
            last = boundary
            m += 1
        self.last_t = t

    def add(self, t: float, delta: float) -> None:
        self.advance(t)
        self.value += delta

    def set(self, t: float, value: float) -> None:
        self.advance(t)
        self.value = value


class Ledger:
    """All accumulators of one replication."""

    def __init__(self, horizon: int, segments: list[str], teams: list[str] | None = None):
        self.horizon = horizon
        self.segments = segments
        self.teams = list(teams) if teams is not None else ["all"]
        self.t_end = horizon * MONTH_DAYS
        n_seg, n_ch = len(segments), len(CHANNELS)
        self.shape = (horizon, n_seg, n_ch)
        self._n_ch = n_ch
        self._stride_m = n_seg * n_ch
        # flat Python lists: ``+=`` on a list item is several times cheaper than on numpy
        self._flows = {c: [0.0] * (horizon * n_seg * n_ch) for c in FLOW_COLUMNS}
        self.levels = {
            c: [[Level(horizon) for _ in range(n_ch)] for _ in range(n_seg)] for c in LEVEL_COLUMNS
        }
        self.ae_busy = Level(horizon)
        self.ae_capacity = Level(horizon)
        self.onb_busy = Level(horizon)
        self.onb_capacity = Level(horizon)
        self.ae_wait = np.zeros((horizon, 3))  # sum of waits, starts, starts that waited
        # per sales team: deals in progress, deal slots, ramped AE equivalents, waits (the
        # same three columns as ae_wait)
        self.team_busy = [Level(horizon) for _ in self.teams]
        self.team_capacity = [Level(horizon) for _ in self.teams]
        self.team_productivity = [Level(horizon) for _ in self.teams]
        self.team_wait = [np.zeros((horizon, 3)) for _ in self.teams]
        # per sales team: share of its ramped AEs' time spent prospecting in each month
        self.team_prospecting = [[0.0] * horizon for _ in self.teams]
        self.onb_wait = np.zeros((horizon, 3))
        # cohort (0 = installed base, else month won) x month x CohortMeasure
        self.cohort = np.zeros((horizon + 1, horizon, len(CohortMeasure)))
        # read at the start of each month (after restaffing)
        self.cs_coverage_factor = [0.0] * horizon
        self.ae_capacity_slots = [0.0] * horizon
        self.initial_deferred = 0.0  # prepaid, unearned part of the installed base's invoices

    def record_month(self, month: int, cs_coverage_factor: float, ae_capacity_slots: int) -> None:
        """The state at the start of a 1-based month that the monthly table reports."""
        self.cs_coverage_factor[month - 1] = cs_coverage_factor
        self.ae_capacity_slots[month - 1] = ae_capacity_slots

    def defer(self, amount: float) -> None:
        """Revenue billed before the start that is still to be recognised (deferred at t=0)."""
        self.initial_deferred += amount

    # -- flows ---------------------------------------------------------------------------

    def flow(self, t: float, column: str, seg: int, ch: int, amount: float) -> None:
        if 0 <= t < self.t_end:  # before day 0 (the pipeline warm-up) nothing is booked
            idx = int(t / MONTH_DAYS) * self._stride_m + seg * self._n_ch + ch
            self._flows[column][idx] += amount

    def spread(self, t0: float, t1: float, column: str, seg: int, ch: int) -> None:
        """Add the days of [t0, t1) to ``column``, split across months (busy time)."""
        t1 = min(t1, self.t_end)
        t0 = max(t0, 0.0)
        arr = self._flows[column]
        off = seg * self._n_ch + ch
        while t0 < t1:
            m = int(t0 / MONTH_DAYS)
            boundary = min((m + 1) * MONTH_DAYS, t1)
            arr[m * self._stride_m + off] += boundary - t0
            t0 = boundary

    @property
    def flows(self) -> dict[str, np.ndarray]:
        """Flows as (month, segment, channel) arrays."""
        return {c: np.asarray(v).reshape(self.shape) for c, v in self._flows.items()}

    def cohort_flow(self, t: float, cohort: int, measure: CohortMeasure, amount: float) -> None:
        """Add to a cohort's measure in the month of t (cohort 0 = installed base)."""
        if 0 <= t < self.t_end:
            self.cohort[cohort, int(t / MONTH_DAYS), measure] += amount

    def level(self, column: str, seg: int, ch: int) -> Level:
        return self.levels[column][seg][ch]

    def wait(self, which: np.ndarray, t: float, days: float) -> None:
        """A start of service at t after waiting ``days``: total wait, starts, starts that
        waited."""
        if 0 <= t < self.t_end:
            m = int(t / MONTH_DAYS)
            which[m, 0] += days
            which[m, 1] += 1
            which[m, 2] += days > 0

    def finish(self) -> None:
        """Integrate every level to the horizon."""
        for col in LEVEL_COLUMNS:
            for row in self.levels[col]:
                for lev in row:
                    lev.advance(self.t_end)
        for lev in (self.ae_busy, self.ae_capacity, self.onb_busy, self.onb_capacity,
                    *self.team_busy, *self.team_capacity, *self.team_productivity):
            lev.advance(self.t_end)

    def integral(self, column: str) -> np.ndarray:
        """(month, segment, channel) time integrals of a level, in unit-days."""
        return np.stack(
            [np.stack([lev.integral for lev in row], axis=1) for row in self.levels[column]],
            axis=1,
        )

    def end_values(self, column: str) -> np.ndarray:
        return np.stack(
            [np.stack([lev.end for lev in row], axis=1) for row in self.levels[column]], axis=1
        )
