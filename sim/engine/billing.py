"""Billing: annual invoices, the cash they bring after a collection lag, the installed
base's deferred revenue, and the cash of monthly-billed revenue. Lags come from the
``collections`` stream."""

from __future__ import annotations

import math

from sim.engine.context import Context
from sim.engine.entities import Account
from sim.units import MONTH_DAYS, YEAR_DAYS

YEAR_TOLERANCE = 1e-9  # an installed account exactly n years in has had n invoices


class Billing:
    """Invoices and collections of one replication."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.rng = ctx.streams.python("collections")

    def open(self, a: Account, t: float, elapsed_days: float, installed: bool) -> None:
        """A new account's billing: the first annual invoice (or, for the installed base, the
        deferred part of the last one), or monthly billing from now on."""
        ledger = self.ctx.ledger
        if a.annual_billing:
            years_elapsed = math.floor(elapsed_days / YEAR_DAYS + YEAR_TOLERANCE)
            a.next_bill = a.start_t + (years_elapsed + 1) * YEAR_DAYS
            if not installed:
                self.invoice(a, t, a.arr)
            else:
                ledger.defer(a.arr * (a.next_bill - t) / YEAR_DAYS)
        else:
            a.next_bill = math.inf
            ledger.level("monthly_billed_arr", a.seg, a.ch).add(t, a.arr)

    def invoice(self, a: Account, t: float, amount: float) -> None:
        """Bill an amount now; the cash arrives after a collection lag."""
        ledger = self.ctx.ledger
        ledger.flow(t, "annual_billings", a.seg, a.ch, amount)
        lag = self.ctx.scenario.finance.collection_lag_days.sample(self.rng)
        ledger.flow(t + lag, "cash_collected", a.seg, a.ch, amount)
        if self.ctx.log is not None:
            self.ctx.note(t, a.id, "invoice", a.seg, a.ch, amount)
            self.ctx.note(t + lag, a.id, "cash_received", a.seg, a.ch, amount,
                          f"lag {lag:.1f} d")

    def collect_monthly_billings(self) -> None:
        """After the run: cash for monthly-billed revenue, billed mid-month and collected
        after a lag (needs the integrated ``monthly_billed_arr`` level)."""
        ledger = self.ctx.ledger
        billed = ledger.integral("monthly_billed_arr") / YEAR_DAYS
        lag_dist = self.ctx.scenario.finance.collection_lag_days
        months, n_seg, n_ch = billed.shape
        for m in range(months):
            for k in range(n_seg):
                for c in range(n_ch):
                    amount = billed[m, k, c]
                    if amount > 0:
                        ledger.flow((m + 0.5) * MONTH_DAYS + lag_dist.sample(self.rng),
                                    "cash_collected", k, c, amount)
