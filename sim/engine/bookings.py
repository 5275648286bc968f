"""Booking an ARR change: the account's ARR, the ARR levels, the flow and the cohort measure.

Apart from ``customers`` (the lifecycle) and ``retention`` (the renewal decision), which both
book changes, so that neither imports the other."""

from __future__ import annotations

from sim.engine.context import Context
from sim.engine.entities import Account
from sim.units import ArrChange, CohortMeasure

_ARR_FLOW = {ArrChange.EXPANSION: "expansion_arr", ArrChange.CONTRACTION: "contraction_arr",
             ArrChange.CHURN: "churned_arr"}
_ARR_COHORT = {ArrChange.EXPANSION: CohortMeasure.EXPANSION_ARR,
               ArrChange.CONTRACTION: CohortMeasure.CONTRACTION_ARR,
               ArrChange.CHURN: CohortMeasure.CHURNED_ARR}
_ARR_LOG = {change: change.name.lower() for change in ArrChange}


def book_arr_change(ctx: Context, a: Account, t: float, delta: float, change: ArrChange) -> None:
    """Change an account's ARR and book it: ARR levels, the flow and the cohort measure."""
    ledger = ctx.ledger
    a.arr += delta
    ledger.level("arr", a.seg, a.ch).add(t, delta)
    if not a.annual_billing:
        ledger.level("monthly_billed_arr", a.seg, a.ch).add(t, delta)
    if a.partner_window_end > t:
        ledger.level("partner_window_arr", a.seg, a.ch).add(t, delta)
    ledger.flow(t, _ARR_FLOW[change], a.seg, a.ch, abs(delta))
    ledger.cohort_flow(t, a.cohort, _ARR_COHORT[change], abs(delta))
    ctx.note(t, a.id, _ARR_LOG[change], a.seg, a.ch, abs(delta))
