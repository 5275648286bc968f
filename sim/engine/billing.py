"""Billing: annual invoices, the cash they bring after a collection lag, the installed
base's deferred revenue, the cash of monthly-billed revenue, and the receivables open at
day 0. Lags come from the ``collections`` stream; those of the invoices issued before day 0
from ``opening_receivables``."""

from __future__ import annotations

import math

from sim.engine.context import Context
from sim.engine.entities import Account
from sim.engine.retention_math import monthly_invoice_ages, outstanding_at_start
from sim.units import MONTH_DAYS, YEAR_DAYS, Channel

YEAR_TOLERANCE = 1e-9  # an installed account exactly n years in has had n invoices


class Billing:
    """Invoices and collections of one replication."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.rng = ctx.streams.python("collections")
        self.rng_opening = ctx.streams.python("opening_receivables")
        self.open_receivables: list[tuple[float, int, int, float]] = []  # (collected t, k, c, USD)
        opening = ctx.scenario.opening
        self.warm_up_days = (opening.pipeline_warm_up_months * MONTH_DAYS
                             if opening.pipeline == "steady_state" else 0.0)

    def open(self, a: Account, t: float, elapsed_days: float, installed: bool,
             first_term: bool = True) -> None:
        """A new account's billing: the first annual invoice (or, for the installed base, the
        deferred part of the last one and its receivable if still unpaid), or monthly billing
        from now on."""
        ledger = self.ctx.ledger
        if a.annual_billing:
            years_elapsed = math.floor(elapsed_days / YEAR_DAYS + YEAR_TOLERANCE)
            a.next_bill = a.start_t + (years_elapsed + 1) * YEAR_DAYS
            if not installed:
                self.invoice(a, t, a.arr)
            else:
                ledger.defer(a.arr * (a.next_bill - t) / YEAR_DAYS)
                issued = t - (a.next_bill - YEAR_DAYS)
                # a first invoice (a new booking) younger than the pipeline warm-up comes
                # from the warm-up's won deals instead, at the plan's deal flow
                if not (first_term and years_elapsed == 0 and issued < self.warm_up_days):
                    self.opening_receivable(a.seg, a.ch, issued, a.arr)
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

    # -- receivables open at day 0 -----------------------------------------------------------

    def opening_receivable(self, k: int, c: int, elapsed_days: float, amount: float) -> None:
        """An invoice issued ``elapsed_days`` before day 0: open at day 0 if its collection
        lag runs past it (booked by ``book_opening_receivables``)."""
        if self.ctx.scenario.opening.receivables == "none":
            return
        lag = self.ctx.scenario.finance.collection_lag_days.sample(self.rng_opening)
        collected = outstanding_at_start(elapsed_days, lag)
        if collected is not None:
            self.open_receivables.append((collected, k, c, amount))

    def monthly_opening_receivables(self) -> None:
        """The installed base's monthly invoices before day 0 (mid-month, today's monthly
        billed ARR / 12 each, back ``RECEIVABLES_LOOKBACK_MONTHS``) still open at day 0."""
        if self.ctx.scenario.opening.receivables == "none":
            return
        installed = Channel.INSTALLED_BASE
        for k in range(len(self.ctx.segments)):
            billed = self.ctx.ledger.level("monthly_billed_arr", k, installed).value
            if billed > 0:
                for age in monthly_invoice_ages():
                    self.opening_receivable(k, installed, age, billed / 12)

    def book_opening_receivables(self) -> float:
        """At day 0: book the collections of the open receivables (scaled to
        ``opening.receivables_usd`` when given); returns their total."""
        opening = self.ctx.scenario.opening
        items, total = self.open_receivables, sum(x[3] for x in self.open_receivables)
        if opening.receivables_usd is not None and opening.receivables != "none":
            given = opening.receivables_usd
            if total > 0:
                items = [(t, k, c, amount * given / total) for t, k, c, amount in items]
            elif given > 0:  # no schedule to follow: collected after the mean lag
                mean_lag = self.ctx.scenario.finance.collection_lag_days.mean()
                items = [(mean_lag, 0, Channel.INSTALLED_BASE, given)]
            total = given
        for t, k, c, amount in items:
            self.ctx.ledger.flow(t, "cash_collected", k, c, amount)
            self.ctx.note(t, -1, "cash_received", k, c, amount, "opening receivable")
        self.open_receivables = []
        return float(total)

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
