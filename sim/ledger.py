"""Monthly ledger: accumulates what the model's events say into monthly tables.

Two kinds of bookkeeping:

* **flows** happen at an instant (a booking, an invoice, a payment) and land in the month
  of their time;
* **levels** hold between events (ARR, customers, AEs busy) and are integrated over time, so
  revenue is recognised ratably: a constant ARR gives exactly ARR/12 a month.

Monthly convention: month m covers days [(m-1)*L, m*L) with L = 365.25/12 days. An event at
exactly m*L belongs to month m+1; "end of month m" values are the state just before m*L.
"""

from __future__ import annotations

import math

import numpy as np

MONTH_DAYS = 365.25 / 12
YEAR_DAYS = 365.25

# Flows recorded per (month, segment, channel).
FLOW_COLUMNS = (
    "new_customers", "churned_customers", "new_arr", "expansion_arr", "contraction_arr",
    "churned_arr", "annual_billings", "cash_collected", "sales_commission", "leads",
    "opportunities", "deals_won", "deals_lost", "deals_lost_price", "leads_lost_waiting",
    "list_arr_won", "discount_usd", "sales_cycle_days_sum", "ae_busy_days", "onboarding_busy_days",
    "new_unit_arr", "new_unit_deals", "programme_cost",
)
# Levels integrated per (segment, channel).
LEVEL_COLUMNS = ("arr", "customers", "monthly_billed_arr", "partner_window_arr")

CHANNELS = ("inbound", "outbound", "partner", "installed_base")


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


def month_index(t: float) -> int:
    """0-based month of a time in days."""
    return int(t / MONTH_DAYS)


class Ledger:
    """All accumulators of one replication."""

    def __init__(self, horizon: int, segments: list[str]):
        self.horizon = horizon
        self.segments = segments
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
        self.onb_wait = np.zeros((horizon, 3))
        # cohort (0 = installed base, else month won) x month x measure
        self.cohort = np.zeros((horizon + 1, horizon, 6))
        self.monthly_costs: dict[str, np.ndarray] = {}
        self.monthly_stats: dict[str, np.ndarray] = {}
        self.by_seg_weights: dict[str, np.ndarray] = {}
        self.initial_deferred = 0.0

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

    def cohort_flow(self, t: float, cohort: int, measure: int, amount: float) -> None:
        """measure: 0 new_arr, 1 expansion, 2 contraction, 3 churned_arr, 4 churned, 5 new."""
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
        for lev in (self.ae_busy, self.ae_capacity, self.onb_busy, self.onb_capacity):
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


def allocate(total: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split a monthly total across the last axis of ``weights`` in proportion; equal split
    in a month whose weights are all zero."""
    w = np.asarray(weights, dtype=float)
    sums = w.sum(axis=-1, keepdims=True)
    n = w.shape[-1]
    shares = np.where(sums > 0, w / np.where(sums > 0, sums, 1.0), 1.0 / n)
    return total[:, None] * shares


def safe_div(a, b):
    """a / b with NaN where b is 0."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    out = np.full(np.broadcast(a, b).shape, math.nan)
    np.divide(a, b, out=out, where=b != 0)
    return out


def build_tables(ledger: Ledger, params: dict, initial: dict) -> dict:
    """Monthly, by-segment, by-channel and cohort tables from the accumulators.

    ``params``: serve_cost_per_month (per segment), hosting_frac, payment_fee_frac,
    partner_commission_frac, accounts_per_csm_target (per segment).
    """
    import pandas as pd

    L = ledger
    H = L.horizon
    seg_names = L.segments
    n_seg = len(seg_names)
    f = L.flows
    revenue = L.integral("arr") / YEAR_DAYS
    cust_months = L.integral("customers") / MONTH_DAYS
    monthly_billings = L.integral("monthly_billed_arr") / YEAR_DAYS
    billings = f["annual_billings"] + monthly_billings
    partner_cost = params["partner_commission_frac"] * L.integral("partner_window_arr") / YEAR_DAYS
    serve = np.asarray(params["serve_cost_per_month"])[None, :, None]
    cogs = (serve * cust_months + params["hosting_frac"] * revenue
            + params["payment_fee_frac"] * billings)
    arr_end = L.end_values("arr")
    cust_end = L.end_values("customers")
    costs = L.monthly_costs
    stats = L.monthly_stats
    commission = f["sales_commission"]
    programme = f["programme_cost"]

    # -- allocation of shared costs to (segment, channel) -----------------------------------
    n_ch = len(CHANNELS)
    shape = (H, n_seg, n_ch)
    marketing = np.zeros(shape)
    lead_w = L.by_seg_weights["leads"]
    marketing[:, :, 0] = allocate(costs["marketing_programs"], lead_w[:, :, 0])
    marketing[:, :, 2] = allocate(costs["partner_program"], lead_w[:, :, 2])
    sales = np.zeros(shape)
    sales[:, :, 1] += allocate(costs["sdr"], lead_w[:, :, 1])
    ae_w = f["ae_busy_days"].reshape(H, -1)
    sales += allocate(costs["ae"], ae_w).reshape(shape)
    sales += commission
    csm_w = cust_months / np.asarray(params["accounts_per_csm_target"])[None, :, None]
    cs = allocate(costs["csm"], csm_w.reshape(H, -1)).reshape(shape)
    cs += allocate(costs["onboarding"], f["onboarding_busy_days"].reshape(H, -1)).reshape(shape)
    cs += programme
    other = costs["management"] + costs["fixed_opex"]

    def tot(a):
        return a.sum(axis=(1, 2))

    months = np.arange(1, H + 1)
    m = {
        "month": months,
        "customers": tot(cust_end),
        "new_customers": tot(f["new_customers"]),
        "churned_customers": tot(f["churned_customers"]),
        "arr": tot(arr_end),
        "new_arr": tot(f["new_arr"]),
        "expansion_arr": tot(f["expansion_arr"]),
        "contraction_arr": tot(f["contraction_arr"]),
        "churned_arr": tot(f["churned_arr"]),
        "revenue": tot(revenue),
        "billings": tot(billings),
        "cash_collected": tot(f["cash_collected"]),
        "cogs": tot(cogs),
        "marketing_cost": tot(marketing),
        "sales_cost": tot(sales),
        "sales_commission": tot(commission),
        "customer_success_cost": tot(cs),
        "partner_cost": tot(partner_cost),
        "other_opex": other,
    }
    m["gross_profit"] = m["revenue"] - m["cogs"]
    m["total_cost"] = (m["cogs"] + m["marketing_cost"] + m["sales_cost"]
                       + m["customer_success_cost"] + m["partner_cost"] + m["other_opex"])
    m["operating_profit"] = m["revenue"] - m["total_cost"]
    m["cash_balance"] = initial["cash_balance"] + np.cumsum(m["cash_collected"] - m["total_cost"])
    m["deferred_revenue"] = initial["deferred_revenue"] + np.cumsum(m["billings"] - m["revenue"])
    m["accounts_receivable"] = initial.get("accounts_receivable", 0.0) + np.cumsum(
        m["billings"] - m["cash_collected"])
    for col in ("leads", "opportunities", "deals_won", "deals_lost", "deals_lost_price",
                "leads_lost_waiting", "list_arr_won", "discount_usd", "sales_cycle_days_sum",
                "new_unit_arr", "new_unit_deals"):
        m[col] = tot(f[col])
    m["account_plan_cost"] = tot(programme)
    m["ae_utilization"] = safe_div(L.ae_busy.integral, L.ae_capacity.integral)
    m["ae_wait_days"] = safe_div(L.ae_wait[:, 0], L.ae_wait[:, 1])
    m["onboarding_utilization"] = safe_div(L.onb_busy.integral, L.onb_capacity.integral)
    m["onboarding_wait_days"] = safe_div(L.onb_wait[:, 0], L.onb_wait[:, 1])
    m["onboardings_started"] = L.onb_wait[:, 1]
    # queues: starts of service, their total wait and how many waited at all, so mean waits,
    # probabilities of waiting and Little's law can be read from the table
    m["ae_starts"] = L.ae_wait[:, 1]
    m["ae_wait_days_total"] = L.ae_wait[:, 0]
    m["ae_starts_waited"] = L.ae_wait[:, 2]
    m["onboarding_wait_days_total"] = L.onb_wait[:, 0]
    m["onboardings_waited"] = L.onb_wait[:, 2]
    for role in ("ae", "sdr", "csm", "onboarding", "management"):
        m[f"headcount_{role}"] = stats[role]
    m["ae_capacity_slots"] = stats["ae_capacity"]
    m["active_partners"] = stats["partners"]
    m["cs_coverage_factor"] = stats["cs_factor"]
    monthly = pd.DataFrame(m)
    monthly.attrs["initial"] = dict(initial)

    per = {
        "customers": cust_end, "new_customers": f["new_customers"],
        "churned_customers": f["churned_customers"], "arr": arr_end, "new_arr": f["new_arr"],
        "expansion_arr": f["expansion_arr"], "contraction_arr": f["contraction_arr"],
        "churned_arr": f["churned_arr"], "revenue": revenue, "billings": billings, "cogs": cogs,
        "gross_profit": revenue - cogs, "leads": f["leads"], "opportunities": f["opportunities"],
        "deals_won": f["deals_won"], "marketing_cost": marketing, "sales_cost": sales,
        "customer_success_cost": cs, "partner_cost": partner_cost,
        "customer_months": cust_months,
    }

    def long(axis_sum: int, label: str, names) -> pd.DataFrame:
        parts = []
        for i, name in enumerate(names):
            cols = {"month": months, label: name}
            for key, arr in per.items():
                cols[key] = arr.sum(axis=axis_sum)[:, i]
            parts.append(pd.DataFrame(cols))
        return pd.concat(parts, ignore_index=True).sort_values(["month", label],
                                                               ignore_index=True)

    by_segment = long(2, "segment", seg_names)
    by_channel = long(1, "channel", CHANNELS)

    # -- cohorts ---------------------------------------------------------------------------
    rows = []
    c = L.cohort
    for k in range(H + 1):
        first = max(k, 1)
        if k > 0 and c[k, k - 1, 5] == 0:
            continue
        net = c[k, :, 0] + c[k, :, 1] - c[k, :, 2] - c[k, :, 3]
        arr = np.cumsum(net) + (initial["arr"] if k == 0 else 0.0)
        cust = np.cumsum(c[k, :, 5] - c[k, :, 4]) + (initial["customers"] if k == 0 else 0.0)
        for mm in range(first, H + 1):
            rows.append((k, mm, cust[mm - 1], arr[mm - 1], c[k, mm - 1, 0], c[k, mm - 1, 1],
                         c[k, mm - 1, 2], c[k, mm - 1, 3], c[k, mm - 1, 4]))
    cohorts = pd.DataFrame(rows, columns=[
        "cohort_month", "month", "customers", "arr", "new_arr", "expansion_arr",
        "contraction_arr", "churned_arr", "churned_customers"])
    return {"monthly": monthly, "by_segment": by_segment, "by_channel": by_channel,
            "cohorts": cohorts}
